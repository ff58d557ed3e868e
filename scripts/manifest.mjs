#!/usr/bin/env node
// Writes oclif.manifest.json so the CLI starts without importing every command module.
// Uses @oclif/core's own Plugin loader (the same code `oclif manifest` runs).
// Then renders the top-level help with oclif itself into dist/root-help.json, for bin/run.js to
// print without loading oclif: keyed by the sha256 of every file the help is made from.
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {chmodSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {enableCompileCache} from 'node:module'
import {dirname, join, relative} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
// Node's compile cache for bin/run.js (dist/compile-cache): filled here, where every command module
// is loaded anyway (the manifest imports them all) and oclif renders help, so the CLI's first run
// is as fast as later ones and writes nothing. No group/other write: bin/run.js checks that.
const compileCache = join(root, 'dist', 'compile-cache')
mkdirSync(compileCache, {recursive: true})
chmodSync(compileCache, 0o755)
// V8 keys each entry by its flags too: the same flags bin/run.js sets at start (keepYoungGenerationSmall,
// deferTurbofan), so the entries written here are the ones a run reads.
const RUN_V8_FLAGS = ['--semi-space-growth-factor=1', '--no-turbofan']
for (const flag of RUN_V8_FLAGS) process.getBuiltinModule('node:v8').setFlagsFromString(flag)
enableCompileCache?.(compileCache)
const {Plugin} = await import('@oclif/core')
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

// --- The pre-rendered top-level help (bin/run.js). oclif renders it in a child process, exactly as
// `sourceosctl --help` would at 80 columns without a theme; the version line is cut out (it names
// this machine's platform and Node) and put back by bin/run.js.
const RENDER = `
import {enableCompileCache} from 'node:module'
const root = process.argv[1]
enableCompileCache?.(process.argv[2])
const {Config, run} = await import('@oclif/core')
const config = await Config.load(root)
// bin/run.js answers --version and --help before oclif loads: a plugin's init or finally hook
// would silently not run for those, so the build refuses to make that shortcut then.
const hooked = config.getPluginsList().flatMap((p) => ['init', 'finally'].filter((h) => p.hooks?.[h]?.length).map((h) => p.name + ' (' + h + ')'))
const chunks = []
const write = process.stdout.write.bind(process.stdout)
process.stdout.write = (chunk) => (chunks.push(String(chunk)), true)
await run(['--help'], root)
process.stdout.write = write
console.log(JSON.stringify({help: chunks.join(''), userAgent: config.userAgent, hooked, plugins: config.getPluginsList().map((p) => p.root)}))
`
const rendered = spawnSync(process.execPath, [...RUN_V8_FLAGS, '--input-type=module', '-e', RENDER, root, compileCache], {
  cwd: root,
  encoding: 'utf8',
  env: {...process.env, OCLIF_COLUMNS: '80', SOURCEOSCTL_DISABLE_THEME: '1', DEBUG: ''},
})
if (rendered.status !== 0) {
  console.error(`manifest: rendering the top-level help failed: ${rendered.stderr}`)
  process.exit(1)
}
const out = JSON.parse(rendered.stdout.trim().split('\n').pop())
if (out.hooked.length > 0) {
  console.error(`manifest: ${out.hooked.join(', ')}: bin/run.js answers --version and --help before oclif, so these hooks would not run for them; drop the shortcut in bin/run.js first`)
  process.exit(1)
}
// Every file the help is rendered from: package.json (topics, bin, flags), the manifest (commands),
// and each plugin's package.json (its version names its commands).
const inputs = {}
for (const file of [join(root, 'package.json'), join(root, 'oclif.manifest.json'), ...out.plugins.filter((p) => p !== root).map((p) => join(p, 'package.json'))]) {
  inputs[relative(root, file)] = createHash('sha256').update(readFileSync(file)).digest('hex')
}
// The compile cache is for this checkout (Node keys it by absolute path): not in the npm package.
writeFileSync(join(root, 'dist', '.npmignore'), 'compile-cache/\n')
writeFileSync(join(root, 'dist', 'root-help.json'), JSON.stringify({width: 80, inputs, parts: out.help.split(out.userAgent)}) + '\n')
console.error(`manifest: wrote dist/root-help.json (top-level help, ${Object.keys(inputs).length} input files)`)

// One real command through bin/run.js (the `version` verb: config, parser, a command class) puts
// the modules of oclif's run path into the compile cache too.
const warm = spawnSync(process.execPath, [join(root, 'bin', 'run.js'), 'version'], {cwd: root, encoding: 'utf8'})
if (warm.status !== 0) {
  console.error(`manifest: \`sourceosctl version\` failed after the build: ${warm.stderr}`)
  process.exit(1)
}
