/**
 * Resolving a mount source: each file-system failure becomes its own error with a fix (or is
 * passed on when it is none of the known ones), and a rule that only matches through a symlink
 * (a symlinked ~/.ssh, home or broad root) refuses the source here, where the links are resolved.
 */
import {describe, expect, it} from 'vitest'
import {AgentMachineError} from '../../../src/core/errors.js'
import {expandPath, resolveMountSource, resolvePolicyAliases, type FsDeps} from '../../../src/core/policy/paths.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'

const linux = fakeHostFacts('linux', {homeDir: '/home/u', uid: 1000, env: {HOME: '/home/u'}})
const windows = fakeHostFacts('windows', {homeDir: 'C:\\Users\\Me', env: {USERPROFILE: 'C:\\Users\\Me'}})

const errno = (code: string | undefined): Error => Object.assign(new Error(`fs error ${code}`), code === undefined ? {} : {code})

/** A fake fs: `links` maps a path to its realpath; `dirs` are directories, `files` plain files. */
function fakeFs(opts: {links?: Record<string, string>; dirs?: string[]; files?: string[]; realpathError?: string | undefined; statError?: string | undefined; cwd?: string}): FsDeps {
  const {links = {}, dirs = [], files = []} = opts
  return {
    cwd: opts.cwd ?? '/home/u/dev',
    realpath: async (p) => {
      if ('realpathError' in opts && (p === '/home/u/dev/repo' || p === 'C:\\Users\\Me\\dev\\repo')) throw errno(opts.realpathError)
      if (p in links) return links[p] as string
      if (dirs.includes(p) || files.includes(p)) return p
      throw errno('ENOENT')
    },
    stat: async (p) => {
      if ('statError' in opts) throw errno(opts.statError)
      if (dirs.includes(p)) return {isDirectory: () => true}
      if (files.includes(p)) return {isDirectory: () => false}
      throw errno('ENOENT')
    },
  }
}

async function refusal(p: Promise<unknown>): Promise<AgentMachineError> {
  try {
    await p
  } catch (error) {
    if (error instanceof AgentMachineError) return error
    throw error
  }
  throw new Error('expected a refusal')
}

describe('a mount source the file system cannot resolve is refused with what to do', () => {
  it.each([
    ['ENOENT', 'PATH_MISSING', 4, '~/dev/repo does not exist (resolved to /home/u/dev/repo).'],
    ['ENOTDIR', 'PATH_MISSING', 4, '~/dev/repo does not exist (resolved to /home/u/dev/repo).'],
    ['EACCES', 'PATH_UNREADABLE', 4, '~/dev/repo cannot be resolved: permission denied on /home/u/dev/repo.'],
    ['EPERM', 'PATH_UNREADABLE', 4, '~/dev/repo cannot be resolved: permission denied on /home/u/dev/repo.'],
    ['ELOOP', 'PATH_SYMLINK_LOOP', 2, '~/dev/repo is a symlink loop (/home/u/dev/repo).'],
  ])('realpath fails with %s: %s (exit %i)', async (code, expected, exitCode, message) => {
    const e = await refusal(resolveMountSource('~/dev/repo', linux, fakeFs({realpathError: code})))
    expect([e.code, e.exitCode, e.message]).toEqual([expected, exitCode, message])
    if (expected !== 'PATH_SYMLINK_LOOP') expect(e.details).toEqual({path: '/home/u/dev/repo'})
  })

  it('another realpath failure is passed on as it is', async () => {
    await expect(resolveMountSource('~/dev/repo', linux, fakeFs({realpathError: 'EIO'}))).rejects.toThrow('fs error EIO')
    await expect(resolveMountSource('~/dev/repo', linux, fakeFs({realpathError: undefined}))).rejects.toThrow('fs error undefined')
    // not even an Error: passed on unchanged too
    for (const thrown of [null, 'boom', 42]) {
      await expect(resolveMountSource('~/dev/repo', linux, {...fakeFs({}), realpath: async () => Promise.reject(thrown)})).rejects.toBe(thrown)
    }
  })

  it('a folder that vanishes between realpath and stat is missing; another stat failure is passed on', async () => {
    const e = await refusal(resolveMountSource('/home/u/dev/x', linux, fakeFs({dirs: ['/home/u/dev/x'], statError: 'ENOENT'})))
    expect([e.code, e.details]).toEqual(['PATH_MISSING', {path: '/home/u/dev/x'}])
    await expect(resolveMountSource('/home/u/dev/x', linux, fakeFs({dirs: ['/home/u/dev/x'], statError: 'EACCES'}))).rejects.toThrow('fs error EACCES')
  })

  it('a file is not a folder', async () => {
    const e = await refusal(resolveMountSource('notes.txt', linux, fakeFs({files: ['/home/u/dev/notes.txt']})))
    expect([e.code, e.exitCode]).toEqual(['PATH_NOT_DIRECTORY', 2])
  })

  it('an empty or blank source is a usage error', async () => {
    for (const raw of ['', '  ', '\t']) expect((await refusal(resolveMountSource(raw, linux, fakeFs({})))).code, JSON.stringify(raw)).toBe('PATH_EMPTY')
  })

  it("an unset variable or another user's ~ cannot be expanded", () => {
    expect(() => expandPath('$NOPE/x', {...linux, env: {}})).toThrow(expect.objectContaining({code: 'PATH_UNEXPANDABLE', fix: 'set NOPE, or write the path without it'}))
    expect(() => expandPath('~bob/x', linux)).toThrow(expect.objectContaining({code: 'PATH_UNEXPANDABLE', fix: 'write the absolute path instead'}))
  })

  it('on Windows a path realpath turns into a share is refused, and a long-path result is judged plain', async () => {
    const e = await refusal(resolveMountSource('C:\\Users\\Me\\dev\\repo', windows, {...fakeFs({}), realpath: async () => '\\\\?\\UNC\\nas\\x'}))
    expect(e.code).toBe('PATH_UNC')
    const r = await resolveMountSource('C:\\dev\\r', windows, {cwd: 'C:\\', realpath: async (p) => (p === 'C:\\dev\\r' ? '\\\\?\\C:\\dev\\r' : p), stat: async () => ({isDirectory: () => true})})
    expect(r).toEqual({raw: 'C:\\dev\\r', expanded: 'C:\\dev\\r', resolved: 'C:\\dev\\r'})
  })

  it('POSIX paths are resolved with POSIX rules and the expanded form is kept', async () => {
    const r = await resolveMountSource('../x\\y', linux, fakeFs({dirs: ['/home/u/x\\y']}))
    expect(r).toEqual({raw: '../x\\y', expanded: '../x\\y', resolved: '/home/u/x\\y'})
  })
})

describe('rules that match only through a symlink refuse the source at resolution', () => {
  it('a symlinked ~/.ssh: its real folder is refused as ~/.ssh', async () => {
    const deps = fakeFs({links: {'/home/u/.ssh': '/home/u/dotfiles/ssh'}, dirs: ['/home/u/dotfiles/ssh', '/home/u/dotfiles/ssh/keys', '/home/u/dotfiles']})
    const e = await refusal(resolveMountSource('~/dotfiles/ssh/keys', linux, deps))
    expect(e.code).toBe('POLICY_SENSITIVE')
    expect(e.details).toMatchObject({path: '/home/u/dotfiles/ssh/keys'})
    expect((await refusal(resolveMountSource('~/dotfiles', linux, deps))).code).toBe('POLICY_CONTAINS_SENSITIVE')
  })

  it('a symlinked home: its real folder is the home directory', async () => {
    const deps = fakeFs({links: {'/home/u': '/data/u'}, dirs: ['/data/u', '/data/u/dev']})
    expect((await refusal(resolveMountSource('/data/u', linux, deps))).code).toBe('POLICY_HOME')
    expect((await resolveMountSource('/data/u/dev', linux, deps)).resolved).toBe('/data/u/dev')
    const aliases = await resolvePolicyAliases(linux, deps)
    expect(aliases.homes).toEqual(['/data/u'])
  })

  it('a symlinked broad root (~/.config): its real folder is a broad root', async () => {
    const deps = fakeFs({links: {'/home/u/.config': '/data/config'}, dirs: ['/data/config']})
    const e = await refusal(resolveMountSource('/data/config', linux, deps))
    expect(e.code).toBe('POLICY_BROAD_ROOT')
    const aliases = await resolvePolicyAliases(linux, deps)
    expect(aliases.broadRoots).toEqual([expect.objectContaining({pattern: expect.stringMatching(/^realpath\(/), path: '/data/config', display: expect.stringMatching(/ \(-> \/data\/config\)$/)})])
  })

  it('a source refused without the links is left to the judgement that follows (not refused twice here)', async () => {
    const deps = fakeFs({links: {'/home/u/.ssh': '/home/u/dotfiles/ssh'}, dirs: ['/home/u/.aws']})
    expect((await resolveMountSource('~/.aws', linux, deps)).resolved).toBe('/home/u/.aws')
  })

  it('links that resolve to themselves, or nowhere, add no alias', async () => {
    const deps = fakeFs({dirs: ['/home/u', '/home/u/.ssh', '/home/u/.config']})
    expect(await resolvePolicyAliases(linux, deps)).toEqual({deny: [], broadRoots: [], homes: []})
  })

  it('a deny rule with a glob moves with its literal prefix; aliases are computed once per host and realpath', async () => {
    let calls = 0
    const deps: FsDeps = {cwd: '/', stat: async () => ({isDirectory: () => true}), realpath: async (p) => {
      calls++
      if (p === '/home/u/.gnupg') return '/data/gnupg'
      throw errno('ENOENT')
    }}
    const aliases = await resolvePolicyAliases(linux, deps)
    expect(aliases.deny.map((d) => [d.path, d.origin, d.display]).sort()).toEqual([['/data/gnupg', 'symlink', '~/.gnupg (-> /data/gnupg)'], ['/data/gnupg/S.*', 'symlink', '~/.gnupg/S.* (-> /data/gnupg/S.*)']])
    const sock = aliases.deny.find((d) => d.path.endsWith('*'))!.matcher
    expect(sock.equals({root: '/', segs: ['data', 'gnupg', 'S.gpg-agent']})).toBe(true)
    const before = calls
    expect(await resolvePolicyAliases(linux, deps)).toBe(aliases)
    expect(calls).toBe(before)
  })
})

describe('a symlinked state dir keeps its worktree hole at its real place', () => {
  it('the real folder is denied, a --worktree checkout inside it is not', async () => {
    const host = fakeHostFacts('linux', {homeDir: '/home/u', uid: 1000, env: {HOME: '/home/u', SOURCEOSCTL_STATE_DIR: '/srv/state'}})
    const deps = fakeFs({links: {'/srv/state': '/data/state'}, dirs: ['/data/state/runs', '/data/state/worktrees/run-1', '/data/statex']})
    expect((await refusal(resolveMountSource('/data/state/runs', host, deps))).code).toBe('POLICY_HOST_EXEC')
    expect((await resolveMountSource('/data/state/worktrees/run-1', host, deps)).resolved).toBe('/data/state/worktrees/run-1')
    expect((await resolveMountSource('/data/statex', host, deps)).resolved).toBe('/data/statex')
    const alias = (await resolvePolicyAliases(host, deps)).deny.find((d) => d.rule.id === 'host:cli:state')
    expect(alias).toMatchObject({path: '/data/state', except: ['/data/state/worktrees/*'], display: "sourceosctl's state dir /srv/state (-> /data/state)"})
  })
})

describe('Windows: a symlinked home resolved to a long path is compared plain', () => {
  it('the alias is the folder without its \\\\?\\ prefix', async () => {
    const deps: FsDeps = {cwd: 'C:\\', stat: async () => ({isDirectory: () => true}), realpath: async (p) => {
      if (p === 'C:\\Users\\Me') return '\\\\?\\D:\\Me'
      throw errno('ENOENT')
    }}
    expect((await resolvePolicyAliases(windows, deps)).homes).toEqual(['D:\\Me'])
  })
})
