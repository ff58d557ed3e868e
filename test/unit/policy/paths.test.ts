import {mkdir, mkdtemp, realpath, rm, symlink, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {AgentMachineError} from '../../../src/core/errors.js'
import type {HostFacts} from '../../../src/core/host/facts.js'
import {judgeMountSource} from '../../../src/core/policy/mount-policy.js'
import {expandPath, realFsDeps, resolveMountSource, resolvePolicyAliases, type FsDeps} from '../../../src/core/policy/paths.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'

const linux = fakeHostFacts('linux', {homeDir: '/home/u', env: {HOME: '/home/u', PROJECTS: '/srv/projects', XDG_CONFIG_HOME: ''}})
const macos = fakeHostFacts('macos', {homeDir: '/Users/u', env: {HOME: '/Users/u'}})
const windows = fakeHostFacts('windows', {
  homeDir: 'C:\\Users\\Me',
  env: {USERPROFILE: 'C:\\Users\\Me', AppData: 'C:\\Users\\Me\\AppData\\Roaming', DEV: 'D:\\dev'},
})

async function caught(p: Promise<unknown>): Promise<AgentMachineError> {
  try {
    await p
  } catch (error) {
    if (error instanceof AgentMachineError) return error
    throw error
  }
  throw new Error('expected a rejection')
}

describe('expandPath', () => {
  it.each<[HostFacts, string, string]>([
    [linux, '~', '/home/u'],
    [linux, '~/dev/repo', '/home/u/dev/repo'],
    [linux, '$HOME/dev', '/home/u/dev'],
    [linux, '${HOME}/dev', '/home/u/dev'],
    [linux, '$PROJECTS/x', '/srv/projects/x'],
    [linux, '${XDG_CONFIG_HOME}/x', '/home/u/.config/x'],
    [linux, '${XDG_DATA_HOME}/x', '/home/u/.local/share/x'],
    [linux, '${XDG_STATE_HOME}/x', '/home/u/.local/state/x'],
    [linux, '${XDG_CACHE_HOME}/x', '/home/u/.cache/x'],
    [linux, '$XDG_RUNTIME_DIR/x', '/run/user/1000/x'],
    [linux, 'rel/dir', 'rel/dir'],
    [linux, '/a/~/b', '/a/~/b'],
    [linux, '/price$', '/price$'],
    [linux, '/a/%HOME%', '/a/%HOME%'],
    [macos, '~/dev', '/Users/u/dev'],
    [windows, '~', 'C:\\Users\\Me'],
    [windows, '~\\dev\\repo', 'C:\\Users\\Me\\dev\\repo'],
    [windows, '%USERPROFILE%\\dev', 'C:\\Users\\Me\\dev'],
    [windows, '%userprofile%\\dev', 'C:\\Users\\Me\\dev'],
    [windows, '%APPDATA%\\x', 'C:\\Users\\Me\\AppData\\Roaming\\x'],
    [windows, '%LOCALAPPDATA%\\x', 'C:\\Users\\Me\\AppData\\Local\\x'],
    [windows, '$DEV\\repo', 'D:\\dev\\repo'],
  ])('%#: %s', (host, raw, expected) => {
    expect(expandPath(raw, host)).toBe(expected)
  })

  it('does not re-expand a substituted value', () => {
    const host = fakeHostFacts('linux', {homeDir: '/home/u', env: {A: '$B', B: '/secret'}})
    expect(expandPath('$A/x', host)).toBe('$B/x')
  })

  it.each<[HostFacts, string]>([
    [linux, '$NOPE/x'],
    [linux, '${NOPE}/x'],
    [linux, '~root/x'],
    [windows, '%NOPE%\\x'],
    [macos, '$XDG_RUNTIME_DIR/x'],
  ])('refuses to guess: %s %s', (host, raw) => {
    expect(() => expandPath(raw, host)).toThrow(expect.objectContaining({code: 'PATH_UNEXPANDABLE', exitCode: 2}))
  })
})

describe('resolveMountSource (real file system)', () => {
  let base: string
  let home: string
  let host: HostFacts

  beforeAll(async () => {
    base = await realpath(await mkdtemp(join(tmpdir(), 'mount-policy-')))
    home = join(base, 'home')
    await mkdir(join(home, '.ssh'), {recursive: true})
    await writeFile(join(home, '.ssh', 'id_ed25519'), 'PRIVATE')
    await mkdir(join(home, 'dev', 'repo'), {recursive: true})
    await writeFile(join(home, 'dev', 'file.txt'), 'x')
    await mkdir(join(base, 'elsewhere'))
    await symlink(join(home, '.ssh'), join(base, 'elsewhere', 'innocent'))
    await symlink(join(home, 'dev', 'repo'), join(base, 'elsewhere', 'repo-link'))
    // dotfiles style: ~/.aws is a symlink into ~/dotfiles/aws
    await mkdir(join(home, 'dotfiles', 'aws'), {recursive: true})
    await symlink(join(home, 'dotfiles', 'aws'), join(home, '.aws'))
    host = fakeHostFacts('linux', {homeDir: home, env: {HOME: home}})
  })

  afterAll(async () => {
    await rm(base, {recursive: true, force: true})
  })

  it('expands ~, makes absolute and resolves', async () => {
    const r = await resolveMountSource('~/dev/repo', host, realFsDeps(base))
    expect(r).toEqual({raw: '~/dev/repo', expanded: join(home, 'dev', 'repo'), resolved: join(home, 'dev', 'repo')})
    expect(judgeMountSource(r.resolved, host)).toEqual({allowed: true})
  })

  it('resolves relative sources against deps.cwd', async () => {
    const r = await resolveMountSource('repo', host, realFsDeps(join(home, 'dev')))
    expect(r.resolved).toBe(join(home, 'dev', 'repo'))
  })

  it('follows symlinks, so a link into ~/.ssh is judged as ~/.ssh', async () => {
    const r = await resolveMountSource(join(base, 'elsewhere', 'innocent'), host, realFsDeps(base))
    expect(r.resolved).toBe(join(home, '.ssh'))
    const d = judgeMountSource(r.resolved, host)
    expect(d).toMatchObject({allowed: false, code: 'POLICY_SENSITIVE', rule: {category: 'ssh'}})
  })

  it('collapses .. tricks before judging', async () => {
    const r = await resolveMountSource('~/dev/../.ssh', host, realFsDeps(base))
    expect(r.resolved).toBe(join(home, '.ssh'))
    expect(judgeMountSource(r.resolved, host)).toMatchObject({code: 'POLICY_SENSITIVE'})
  })

  it('allows a symlink to a real project folder (the resolved path is mounted)', async () => {
    const r = await resolveMountSource(join(base, 'elsewhere', 'repo-link'), host, realFsDeps(base))
    expect(r.resolved).toBe(join(home, 'dev', 'repo'))
  })

  it('refuses a symlinked credential store by its real location (dotfiles)', async () => {
    const direct = await caught(resolveMountSource('~/dotfiles/aws', host, realFsDeps(base)))
    expect(direct.code).toBe('POLICY_SENSITIVE')
    expect(direct.exitCode).toBe(3)
    expect(direct.message).toContain('~/.aws (->')
    const parent = await caught(resolveMountSource('~/dotfiles', host, realFsDeps(base)))
    expect(parent.code).toBe('POLICY_CONTAINS_SENSITIVE')
    // the pure judge alone cannot know; with the aliases it does
    const aliases = await resolvePolicyAliases(host, realFsDeps(base))
    expect(judgeMountSource(join(home, 'dotfiles'), host)).toEqual({allowed: true})
    expect(judgeMountSource(join(home, 'dotfiles'), host, {aliases})).toMatchObject({code: 'POLICY_CONTAINS_SENSITIVE'})
  })

  it('reports a missing path with what it resolved to', async () => {
    const e = await caught(resolveMountSource('~/dev/nope', host, realFsDeps(base)))
    expect(e.code).toBe('PATH_MISSING')
    expect(e.exitCode).toBe(4)
    expect(e.message).toBe(`~/dev/nope does not exist (resolved to ${join(home, 'dev', 'nope')}).`)
    expect(e.fix).toBe('create the folder or clone the repository there, or fix the path')
  })

  it('refuses a file', async () => {
    const e = await caught(resolveMountSource('~/dev/file.txt', host, realFsDeps(base)))
    expect(e.code).toBe('PATH_NOT_DIRECTORY')
    expect(e.exitCode).toBe(2)
  })

  it('refuses an empty source and an unexpandable one', async () => {
    expect((await caught(resolveMountSource(' ', host, realFsDeps(base)))).code).toBe('PATH_EMPTY')
    expect((await caught(resolveMountSource('$NOPE/x', host, realFsDeps(base)))).code).toBe('PATH_UNEXPANDABLE')
  })
})

describe('resolveMountSource (Windows, faked fs)', () => {
  const enoent = (p: string): Error => Object.assign(new Error(`ENOENT: ${p}`), {code: 'ENOENT'})
  const fakeFs = (links: Record<string, string>, dirs: string[]): FsDeps => ({
    cwd: 'C:\\Users\\Me\\dev',
    realpath: async (p) => {
      if (p in links) return links[p] as string
      if (dirs.includes(p)) return p
      throw enoent(p)
    },
    stat: async (p) => {
      if (!dirs.includes(p)) throw enoent(p)
      return {isDirectory: () => true}
    },
  })

  it('resolves %USERPROFILE% and relative paths with win32 semantics', async () => {
    const deps = fakeFs({}, ['C:\\Users\\Me\\dev\\repo'])
    expect((await resolveMountSource('%USERPROFILE%\\dev\\repo', windows, deps)).resolved).toBe('C:\\Users\\Me\\dev\\repo')
    expect((await resolveMountSource('repo', windows, deps)).resolved).toBe('C:\\Users\\Me\\dev\\repo')
    expect((await resolveMountSource('.\\x\\..\\repo', windows, deps)).resolved).toBe('C:\\Users\\Me\\dev\\repo')
  })

  it('strips \\\\?\\ from what realpath returns', async () => {
    const deps = fakeFs({'C:\\Users\\Me\\dev\\repo': '\\\\?\\C:\\Users\\Me\\dev\\repo'}, ['C:\\Users\\Me\\dev\\repo'])
    expect((await resolveMountSource('~\\dev\\repo', windows, deps)).resolved).toBe('C:\\Users\\Me\\dev\\repo')
    expect((await resolveMountSource('\\\\?\\C:\\Users\\Me\\dev\\repo', windows, deps)).resolved).toBe('C:\\Users\\Me\\dev\\repo')
  })

  it.each(['\\\\server\\share\\repo', '//server/share/repo', '\\\\?\\UNC\\server\\share\\repo', '\\\\.\\pipe\\docker_engine'])('refuses UNC / device path %s', async (raw) => {
    const e = await caught(resolveMountSource(raw, windows, fakeFs({}, [])))
    expect(e.code).toBe('PATH_UNC')
    expect(e.exitCode).toBe(3)
  })

  it('refuses a mapped drive that realpath resolves to a UNC share', async () => {
    const deps = fakeFs({'Z:\\repo': '\\\\nas\\projects\\repo'}, ['\\\\nas\\projects\\repo'])
    expect((await caught(resolveMountSource('Z:\\repo', windows, deps))).code).toBe('PATH_UNC')
  })

  it('judges the case-variant .AWS as .aws', async () => {
    const deps = fakeFs({}, ['C:\\Users\\Me\\.AWS'])
    const r = await resolveMountSource('C:\\Users\\Me\\.AWS', windows, deps)
    expect(judgeMountSource(r.resolved, windows)).toMatchObject({code: 'POLICY_SENSITIVE', rule: {category: 'cloud'}})
  })
})
