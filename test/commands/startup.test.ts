// What bin/run.js does before oclif loads (docs/performance.md), through the BUILT CLI: `--version`
// and the top-level help answered without oclif print exactly what oclif prints, the pre-rendered
// help is never used once a file it was rendered from changed, and Node's compile cache
// (dist/compile-cache) never changes a result: corrupt, unwritable or untrusted, the CLI runs the same.
import {spawnSync} from 'node:child_process'
import {chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {packageRoot} from '../../src/core/util/package-root.js'
import {tempDir} from '../helpers/temp-dirs.js'

const ROOT = packageRoot()
const CACHE = join(ROOT, 'dist', 'compile-cache')
const baseEnv = {PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent', LANG: 'C.UTF-8'}

function sh(argv: string[], opts: {env?: Record<string, string>; cwd?: string} = {}) {
  const r = spawnSync(process.execPath, argv, {cwd: opts.cwd ?? ROOT, env: {...baseEnv, ...opts.env}, encoding: 'utf8', timeout: 60_000})
  return {exitCode: r.status, stdout: r.stdout, stderr: r.stderr}
}

/** The CLI as users start it: bin/run.js of `root`. */
function cli(args: string[], opts: {root?: string; env?: Record<string, string>} = {}) {
  return sh([join(opts.root ?? ROOT, 'bin', 'run.js'), ...args], {env: opts.env})
}

/** oclif itself, without bin/run.js: `run(args)` for the package at `root`. */
function oclif(args: string[], opts: {root?: string; env?: Record<string, string>} = {}) {
  const code = `import {run, flush} from '@oclif/core'; await run(${JSON.stringify(args)}, ${JSON.stringify(opts.root ?? ROOT)}); await flush()`
  return sh(['--input-type=module', '-e', code], {env: opts.env})
}

/**
 * A package root of its own: bin/ (run.js and its package.json) and package.json copied, node_modules and every dist entry
 * linked to the build, except what `cache` puts in dist/compile-cache (a copy of the built one by
 * default). `pjson` edits package.json.
 */
function sandbox(opts: {pjson?: (p: Record<string, unknown>) => void; cache?: 'copy' | 'none'} = {}): string {
  const root = tempDir('startup-')
  mkdirSync(join(root, 'bin'))
  for (const file of ['run.js', 'package.json']) cpSync(join(ROOT, 'bin', file), join(root, 'bin', file))
  const pjson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>
  opts.pjson?.(pjson)
  writeFileSync(join(root, 'package.json'), JSON.stringify(pjson, null, 2) + '\n')
  cpSync(join(ROOT, 'oclif.manifest.json'), join(root, 'oclif.manifest.json'))
  symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'))
  mkdirSync(join(root, 'dist'))
  for (const name of readdirSync(join(ROOT, 'dist'))) {
    if (name !== 'compile-cache') symlinkSync(join(ROOT, 'dist', name), join(root, 'dist', name))
  }
  if ((opts.cache ?? 'copy') === 'copy') cpSync(CACHE, join(root, 'dist', 'compile-cache'), {recursive: true})
  return root
}

function cacheFiles(dir: string): string[] {
  return readdirSync(dir, {recursive: true, encoding: 'utf8'}).filter((f) => statSync(join(dir, f)).isFile()).sort()
}

describe('--version and the top-level help, answered before oclif loads', () => {
  it('the build renders the help and fills the compile cache', () => {
    expect(existsSync(join(ROOT, 'dist', 'root-help.json'))).toBe(true)
    expect(cacheFiles(CACHE).length).toBeGreaterThan(10)
    expect(statSync(CACHE).mode & 0o022, 'not writable by group or others').toBe(0)
  })

  it('--version and -v print what oclif prints (name/version platform-arch node-version)', () => {
    const expected = oclif(['--version'])
    expect(expected.exitCode).toBe(0)
    expect(expected.stdout).toMatch(/^sourceosctl\/\d+\.\d+\.\d+\S* \S+-\S+ node-v\d+/)
    for (const flag of ['--version', '-v']) {
      const r = cli([flag])
      expect({code: r.exitCode, out: r.stdout, err: r.stderr}, flag).toEqual({code: 0, out: expected.stdout, err: ''})
    }
  })

  it('--help, -h and no arguments print what oclif prints, byte for byte', () => {
    const expected = oclif(['--help'])
    expect(expected.exitCode).toBe(0)
    expect(expected.stdout).toContain('agent-machine')
    for (const args of [['--help'], ['-h'], []]) {
      const r = cli(args)
      expect({code: r.exitCode, out: r.stdout}, args.join(' ') || '(none)').toEqual({code: 0, out: expected.stdout})
    }
  })

  it('another width (OCLIF_COLUMNS) or a user theme: oclif renders the help, as it would', () => {
    const wide = {OCLIF_COLUMNS: '40'}
    expect(cli(['--help'], {env: wide}).stdout).toBe(oclif(['--help'], {env: wide}).stdout)
    expect(cli(['--help'], {env: wide}).stdout).not.toBe(cli(['--help']).stdout)

    const configDir = tempDir('startup-theme-')
    writeFileSync(join(configDir, 'theme.json'), JSON.stringify({sectionHeader: 'red', topic: 'blue', command: 'green'}))
    const themed = {SOURCEOSCTL_CONFIG_DIR: configDir, FORCE_COLOR: '3'}
    const expected = oclif(['--help'], {env: themed}).stdout
    expect(expected).toContain('\u001B[') // the theme's colours
    expect(cli(['--help'], {env: themed}).stdout).toBe(expected)
  })

  it('is never stale: a package.json or manifest that changed since the build is rendered by oclif', () => {
    const changed = sandbox({pjson: (p) => (p.description = 'A description the build never saw')})
    const r = cli(['--help'], {root: changed})
    expect(r.stdout).toContain('A description the build never saw')
    expect(r.stdout).toBe(oclif(['--help'], {root: changed}).stdout)
    const bumped = sandbox({pjson: (p) => (p.version = '9.9.9')})
    expect(cli(['--version'], {root: bumped}).stdout).toMatch(/^sourceosctl\/9\.9\.9 /)
    expect(cli(['--help'], {root: bumped}).stdout).toBe(oclif(['--help'], {root: bumped}).stdout)

    const manifest = sandbox()
    const m = JSON.parse(readFileSync(join(manifest, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, {summary?: string}>}
    const id = Object.keys(m.commands).find((k) => !k.includes(':'))!
    m.commands[id]!.summary = 'A summary the build never saw'
    writeFileSync(join(manifest, 'oclif.manifest.json'), JSON.stringify(m))
    expect(cli(['--help'], {root: manifest}).stdout).toContain('A summary the build never saw')
  })
})

describe('the compile cache never changes a result', () => {
  // One command through oclif and a bundled command class: no profile there, so exit 4 with an error document.
  const args = ['agent-machine', 'repo', 'ls', '--json']
  const env = {SOURCEOSCTL_PROFILE: '/nonexistent/profile.yaml'}
  const expected = () => {
    const r = cli(args, {env: {...env, NODE_DISABLE_COMPILE_CACHE: '1'}})
    expect(r.exitCode).toBe(4)
    expect(JSON.parse(r.stdout)).toMatchObject({error: {code: 'PROFILE_MISSING'}})
    return r
  }
  const used = (root: string) => cli(['version'], {root, env: {NODE_DEBUG_NATIVE: 'COMPILE_CACHE'}}).stderr.includes('[compile cache]')

  it('every entry corrupt: the same output and exit code; Node rejects and rewrites them', () => {
    const want = expected()
    const root = sandbox()
    const cache = join(root, 'dist', 'compile-cache')
    const files = cacheFiles(cache)
    for (const f of files) writeFileSync(join(cache, f), Buffer.alloc(statSync(join(cache, f)).size, 0x5a))
    const r = cli(args, {root, env})
    expect({code: r.exitCode, out: r.stdout, err: r.stderr}).toEqual({code: want.exitCode, out: want.stdout, err: want.stderr})
    expect(cli(['version'], {root}).stdout).toBe(cli(['version']).stdout)
  })

  it('unwritable (a file where its folder should be, or a read-only folder): the same output, nothing written', () => {
    const want = expected()
    const root = sandbox()
    const cache = join(root, 'dist', 'compile-cache')
    const [version] = readdirSync(cache)
    rmSync(join(cache, version!), {recursive: true})
    writeFileSync(join(cache, version!), 'not a folder')
    const r = cli(args, {root, env})
    expect({code: r.exitCode, out: r.stdout, err: r.stderr}).toEqual({code: want.exitCode, out: want.stdout, err: want.stderr})
    expect(readFileSync(join(cache, version!), 'utf8')).toBe('not a folder')

    const readOnly = sandbox({cache: 'none'})
    const ro = join(readOnly, 'dist', 'compile-cache')
    mkdirSync(ro, {mode: 0o555})
    chmodSync(ro, 0o555)
    const r2 = cli(args, {root: readOnly, env})
    expect({code: r2.exitCode, out: r2.stdout, err: r2.stderr}).toEqual({code: want.exitCode, out: want.stdout, err: want.stderr})
    if (process.getuid?.() !== 0) expect(readdirSync(ro)).toEqual([])
    chmodSync(ro, 0o755)
  })

  it('is used only when it is as trusted as the code: not a symlink, not writable by group or others', () => {
    const ok = sandbox()
    expect(used(ok), 'a copy owned like dist/ is used').toBe(true)

    const shared = sandbox()
    chmodSync(join(shared, 'dist', 'compile-cache'), 0o777)
    expect(used(shared), 'group/other-writable').toBe(false)
    const r = cli(args, {root: shared, env})
    expect(r.stdout).toBe(expected().stdout)

    const linked = sandbox({cache: 'none'})
    symlinkSync(CACHE, join(linked, 'dist', 'compile-cache'))
    expect(used(linked), 'a symlink').toBe(false)

    const none = sandbox({cache: 'none'})
    expect(used(none), 'none built').toBe(false)
    expect(cli(args, {root: none, env}).stdout).toBe(expected().stdout)
  })
})
