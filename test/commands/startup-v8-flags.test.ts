// bin/run.js keeps V8's young generation at its first size (`--semi-space-growth-factor=1`) and
// starts without TurboFan (`--no-turbofan`), both set before the compile cache is enabled, and the
// build fills dist/compile-cache with the same flags (scripts/manifest.mjs): V8 and Node key the
// cache by the flags, so with different ones every entry the build wrote would be rejected at a
// run. A walk past LONG_WORK entries turns TurboFan back on (src/core/util/optimise.ts). A user's
// own semi-space or tiering flag wins.
import {spawnSync} from 'node:child_process'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {LONG_WORK} from '../../src/core/util/optimise.js'
import {packageRoot} from '../../src/core/util/package-root.js'
import {tempDir} from '../helpers/temp-dirs.js'

const ROOT = packageRoot()
const baseEnv = {PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent', LANG: 'C.UTF-8', NODE_DEBUG_NATIVE: 'COMPILE_CACHE'}

/** The cache folder a process uses (Node names it by its version and V8's flags hash), from Node's debug output. */
function cacheFolder(stderr: string): string | undefined {
  return /\[compile cache\] resolved path \S+ \+ (v\S+)/.exec(stderr)?.[1]
}

function node(argv: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, argv, {cwd: ROOT, env: {...baseEnv, ...env}, encoding: 'utf8', timeout: 60_000})
  return {status: r.status, stdout: r.stdout, stderr: r.stderr}
}

describe('the V8 flags of a run and of the build’s compile cache', () => {
  const manifest = readFileSync(join(ROOT, 'scripts', 'manifest.mjs'), 'utf8')
  const flags = JSON.parse((/const RUN_V8_FLAGS = (\[[^\]]*\])/.exec(manifest)?.[1] ?? '[]').replaceAll("'", '"')) as string[]

  it('the build sets the flags bin/run.js sets', () => {
    expect(flags).toEqual(['--semi-space-growth-factor=1', '--no-turbofan'])
    const entry = readFileSync(join(ROOT, 'bin', 'run.js'), 'utf8')
    for (const flag of flags) expect(entry).toContain(`setFlagsFromString('${flag}')`)
  })

  it('a run reads the cache folder the build’s flags write, and V8 accepts the build’s entries', () => {
    const dir = tempDir('v8-flags-')
    const set = flags.map((f) => `process.getBuiltinModule('node:v8').setFlagsFromString(${JSON.stringify(f)});`).join('')
    const build = node(['-e', `${set} require('node:module').enableCompileCache(${JSON.stringify(dir)})`])
    const plain = node(['-e', `require('node:module').enableCompileCache(${JSON.stringify(dir)})`])
    const run = node([join(ROOT, 'bin', 'run.js'), 'version'])
    expect(run.status, run.stderr).toBe(0)
    expect(cacheFolder(build.stderr)).toBeDefined()
    // the flag changes the folder: the comparison below would catch a run without it
    expect(cacheFolder(plain.stderr)).not.toBe(cacheFolder(build.stderr))
    expect(cacheFolder(run.stderr)).toBe(cacheFolder(build.stderr))
    expect(run.stderr).not.toMatch(/was rejected/)
  })

  it('a semi-space flag of the user’s wins (the run does not set its own)', () => {
    const run = node([join(ROOT, 'bin', 'run.js'), 'version'], {NODE_OPTIONS: '--max-semi-space-size=4'})
    expect(run.status, run.stderr).toBe(0)
    // the run still starts without TurboFan: only the semi-space flag is the user's
    const plain = node(['--max-semi-space-size=4', '-e', `process.getBuiltinModule('node:v8').setFlagsFromString('--no-turbofan'); require('node:module').enableCompileCache(${JSON.stringify(tempDir('v8-flags-'))})`])
    expect(cacheFolder(run.stderr)).toBe(cacheFolder(plain.stderr))
  })

  /** TurboFan compiles (V8's --trace-opt lines on stdout) of `init --dry-run` on a folder: it walks the folder (the hazard scan). */
  function turbofanCompiles(folder: string, nodeFlags: string[] = []): number {
    const r = node([...nodeFlags, '--trace-opt', join(ROOT, 'bin', 'run.js'), 'agent-machine', 'init', '--profile', 'linux-podman-native', '--repo', folder, '--dry-run'], {SOURCEOSCTL_CONFIG_DIR: tempDir('v8-flags-config-')})
    expect(r.status, r.stderr).toBe(0)
    return r.stdout.split('\n').filter((line) => line.includes('target TURBOFAN')).length
  }

  function tree(files: number): string {
    const root = tempDir('v8-flags-tree-')
    for (let d = 0; d * 100 < files; d++) {
      mkdirSync(join(root, `d${d}`))
      for (let f = 0; f < 100 && d * 100 + f < files; f++) writeFileSync(join(root, `d${d}`, `f${f}`), '')
    }
    return root
  }

  it('a short run compiles nothing with TurboFan; a walk past LONG_WORK entries turns it back on', () => {
    expect(turbofanCompiles(tree(10))).toBe(0)
    expect(turbofanCompiles(tree(LONG_WORK + 1000))).toBeGreaterThan(0)
  })

  it('a tiering flag of the user’s wins: TurboFan is left on', () => {
    expect(turbofanCompiles(tree(10), ['--turbofan'])).toBeGreaterThan(0)
  })
})
