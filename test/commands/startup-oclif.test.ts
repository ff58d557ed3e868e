// How bin/run.js loads oclif (docs/performance.md): the build's one-file @oclif/core
// (dist/oclif-core.js) when there is one, the package otherwise; and oclif's own engines check
// (semver) skipped only when bin/run.js made the same comparison and it held, with nothing left in
// the environment. bin/run.js runs here in a package root of its own, with a stand-in @oclif/core
// that reports what it saw, so any engines range and either layout can be tried.
import {spawnSync} from 'node:child_process'
import {cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import {describe, expect, it} from 'vitest'

import {packageRoot} from '../../src/core/util/package-root.js'
import {tempDir} from '../helpers/temp-dirs.js'

const ROOT = packageRoot()

// The stand-in: records the variable as oclif's import would see it, and again when execute runs.
const STAND_IN = (from: string) => `
const atImport = process.env.OCLIF_DISABLE_ENGINE_WARNING ?? null
module.exports.execute = async () => {
  process.stdout.write(JSON.stringify({from: ${JSON.stringify(from)}, atImport, atExecute: process.env.OCLIF_DISABLE_ENGINE_WARNING ?? null}))
}
`

function sandbox(opts: {engines?: unknown; bundled?: boolean; bundleEngines?: unknown}): string {
  const root = tempDir('startup-oclif-')
  mkdirSync(join(root, 'bin'))
  for (const file of ['run.js', 'package.json']) cpSync(join(ROOT, 'bin', file), join(root, 'bin', file))
  writeFileSync(join(root, 'package.json'), JSON.stringify({name: 'sandbox', version: '0.0.0', type: 'module', oclif: {bin: 'sandbox', dirname: 'sandbox'}}))
  const core = join(root, 'node_modules', '@oclif', 'core')
  mkdirSync(join(core, 'lib'), {recursive: true})
  writeFileSync(join(core, 'package.json'), JSON.stringify({name: '@oclif/core', version: '0.0.0', main: 'lib/index.js', ...(opts.engines === undefined ? {} : {engines: {node: opts.engines}})}))
  writeFileSync(join(core, 'lib', 'index.js'), STAND_IN('package'))
  mkdirSync(join(root, 'dist'))
  if (opts.bundled) {
    // An ES module like the build's; the stand-in's code through a CommonJS shim.
    writeFileSync(join(root, 'dist', 'oclif-shim.cjs'), STAND_IN('bundle'))
    writeFileSync(join(root, 'dist', 'oclif-core.js'), "import shim from './oclif-shim.cjs'\nexport const execute = shim.execute\n")
    // The package.json of the code bundled, which the build puts beside it.
    mkdirSync(join(root, 'dist', 'oclif-core'))
    const engines = opts.bundleEngines ?? opts.engines
    writeFileSync(join(root, 'dist', 'oclif-core', 'package.json'), JSON.stringify({name: '@oclif/core', version: '0.0.0', ...(engines === undefined ? {} : {engines: {node: engines}})}))
  }
  return root
}

function run(root: string, env: Record<string, string> = {}): {from: string; atImport: string | null; atExecute: string | null; stderr: string} {
  // Two arguments: no fast path (--version, --help) answers before oclif loads.
  const r = spawnSync(process.execPath, [join(root, 'bin', 'run.js'), 'some', 'command'], {env: {PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: root, ...env}, encoding: 'utf8', timeout: 30_000})
  expect(r.status, r.stderr).toBe(0)
  return {...JSON.parse(r.stdout), stderr: r.stderr}
}

const [major, minor, patch] = process.versions.node.split('.').map(Number) as [number, number, number]

describe("oclif's engines check", () => {
  it('is skipped for the import only when this Node satisfies a plain >=X.Y.Z range', () => {
    for (const range of ['>=18.0.0', `>=${major}.${minor}.${patch}`, `>= ${major}.0.0`]) {
      const seen = run(sandbox({engines: range}))
      expect(seen.atImport, range).toBe('1')
      expect(seen.atExecute, `${range}: left set after the import`).toBeNull()
    }
  })

  it('is left to oclif for a newer minimum, another form of range, or none', () => {
    for (const range of [`>=${major + 1}.0.0`, `>=${major}.${minor}.${patch + 1}`, `>=${major}.${minor + 1}.0`, '^18 || ^20 || >=22', `>=${major}`, '*', 42]) {
      const seen = run(sandbox({engines: range}))
      expect(seen.atImport, String(range)).toBeNull()
      expect(seen.atExecute, String(range)).toBeNull()
    }
    expect(run(sandbox({})).atImport).toBeNull()
  })

  it("keeps the user's own setting, whatever it is", () => {
    for (const value of ['0', '', 'true']) {
      const seen = run(sandbox({engines: '>=18.0.0'}), {OCLIF_DISABLE_ENGINE_WARNING: value})
      expect(seen.atImport).toBe(value)
      expect(seen.atExecute).toBe(value)
    }
  })
})

describe('which oclif bin/run.js loads', () => {
  it("the build's dist/oclif-core.js when it exists, else the package", () => {
    expect(run(sandbox({engines: '>=18.0.0', bundled: true})).from).toBe('bundle')
    expect(run(sandbox({engines: '>=18.0.0'})).from).toBe('package')
  })

  it("with the build's file, the engines of the code bundled decide, not the installed package's", () => {
    const newer = `>=${major + 1}.0.0`
    expect(run(sandbox({engines: '>=18.0.0', bundleEngines: newer, bundled: true})).atImport).toBeNull()
    expect(run(sandbox({engines: newer, bundleEngines: '>=18.0.0', bundled: true})).atImport).toBe('1')
  })

  it('the build: dist/oclif-core.js exports every name the package does, and no command bundle loads the package itself', async () => {
    const bundled = join(ROOT, 'dist', 'oclif-core.js')
    const pkg = createRequire(import.meta.url)('@oclif/core') as Record<string, unknown>
    const mod = (await import(pathToFileURL(bundled).href)) as Record<string, unknown>
    for (const name of Object.keys(pkg).filter((n) => n !== 'default' && n !== '__esModule')) {
      expect(typeof mod[name], name).toBe(typeof pkg[name])
    }
    const commands = (dir: string): string[] =>
      readdirSync(dir, {withFileTypes: true}).flatMap((e) => (e.isDirectory() ? commands(join(dir, e.name)) : e.name.endsWith('.js') ? [join(dir, e.name)] : []))
    // oclif's engines check in the bundle reads <__dirname>/../package.json: the bundled code's own.
    const copy = JSON.parse(readFileSync(join(ROOT, 'dist', 'oclif-core', 'package.json'), 'utf8')) as {name: string; version: string}
    expect(copy).toStrictEqual(JSON.parse(readFileSync(createRequire(import.meta.url).resolve('@oclif/core/package.json'), 'utf8')))
    expect(readFileSync(bundled, 'utf8')).toContain("new URL('./oclif-core/lib', import.meta.url)")
    const files = commands(join(ROOT, 'dist', 'commands'))
    expect(files.length).toBeGreaterThan(10)
    for (const file of files) {
      const text = readFileSync(file, 'utf8')
      expect(text, file).not.toMatch(/from\s*["']@oclif\/core["']/)
      expect(text, file).toMatch(/from\s*["'](\.\.\/)+oclif-core\.js["']/)
    }
  })
})
