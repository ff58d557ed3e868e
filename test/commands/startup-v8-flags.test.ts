// bin/run.js keeps V8's young generation at its first size (`--semi-space-growth-factor=1`, set
// before the compile cache is enabled), and the build fills dist/compile-cache with the same flags
// (scripts/manifest.mjs): V8 and Node key the cache by the flags, so with different ones every
// entry the build wrote would be rejected at a run. A user's own semi-space flag wins.
import {spawnSync} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

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

  it('the build sets the flag bin/run.js sets', () => {
    expect(flags).toEqual(['--semi-space-growth-factor=1'])
    expect(readFileSync(join(ROOT, 'bin', 'run.js'), 'utf8')).toContain(`setFlagsFromString('${flags[0]}')`)
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
    const plain = node(['--max-semi-space-size=4', '-e', `require('node:module').enableCompileCache(${JSON.stringify(tempDir('v8-flags-'))})`])
    expect(cacheFolder(run.stderr)).toBe(cacheFolder(plain.stderr))
  })
})
