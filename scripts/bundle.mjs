#!/usr/bin/env node
// Start-up: each command file in dist/commands becomes one self-contained ESM file (its share of
// src/core plus zod, yaml, execa, chalk…), so a verb loads a handful of files instead of hundreds.
// @oclif/core stays external: bin/run.js loads it first anyway. Run after tsc, before the manifest.
import {readdirSync, readFileSync, statSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {build} from 'esbuild'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const commandsDir = join(root, 'dist', 'commands')

function commandFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? commandFiles(path) : name.endsWith('.js') ? [path] : []
  })
}

const BANNER = "import {createRequire as __createRequire} from 'node:module'; const require = __createRequire(import.meta.url);"
// Idempotent: a file that already carries the banner was bundled (a second run, or two builds at
// once) and is left alone; bundling it again would declare __createRequire twice.
const files = commandFiles(commandsDir).filter((file) => !readFileSync(file, 'utf8').startsWith(BANNER))
await Promise.all(
  files.map((file) =>
    build({
      entryPoints: [file],
      outfile: file,
      allowOverwrite: true,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node22',
      external: ['@oclif/core'],
      // CommonJS dependencies bundled into ESM still call require() for Node built-ins.
      banner: {js: BANNER},
      logLevel: 'warning',
      legalComments: 'none',
    }),
  ),
)
console.error(`bundle: ${files.length} command files bundled`)
