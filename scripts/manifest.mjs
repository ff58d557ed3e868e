#!/usr/bin/env node
// Writes oclif.manifest.json so the CLI starts without importing every command module.
// Uses @oclif/core's own Plugin loader (the same code `oclif manifest` runs).
import {writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {Plugin} from '@oclif/core'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const plugin = new Plugin({root, type: 'core', ignoreManifest: true, errorOnManifestCreate: true, isRoot: true})
await plugin.load()
const manifest = plugin.manifest
const count = Object.keys(manifest.commands).length
if (count === 0) {
  console.error('manifest: no commands found under dist/commands — did the build run?')
  process.exit(1)
}
writeFileSync(join(root, 'oclif.manifest.json'), JSON.stringify(manifest, null, 2) + '\n')
console.error(`manifest: wrote oclif.manifest.json (${count} commands)`)
