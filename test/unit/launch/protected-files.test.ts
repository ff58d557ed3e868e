// Issue 10, Deliver 5: existing files the user's tools run or trust without asking are mounted
// read-only on top of the read-write checkout; sources are judged like the git mounts.
import {link, mkdir, mkdtemp, realpath, rm, symlink, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {protectedFileMounts, protectedMountsFor, protectedTarget, withoutCovered, writeProtectedMatcher, type WriteProtectSetting} from '../../../src/core/launch/protected-files.js'
import {scanTree} from '../../../src/core/policy/tree-scan.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'

const host = fakeHostFacts('linux', {homeDir: '/home/u', env: {HOME: '/home/u'}})

describe('writeProtectedMatcher', () => {
  const m = writeProtectedMatcher()
  it.each(['.envrc', 'sub/.envrc', '.vscode', 'a/b/.vscode', '.mcp.json', '.claude/settings.json', '.claude/settings.local.json', '.husky', '.gitmodules',
    '.devcontainer', '.pre-commit-config.yaml', '.idea', '.cursor', 'mise.toml', '.yarnrc.yml', 'flake.nix'])('%s is protected', (rel) => {
    expect(m.matches(rel)).toBe(true)
  })
  it.each(['envrc', 'x.envrc', '.envrc.bak', 'src/main.ts', 'Makefile', 'package.json', '.claude/CLAUDE.md', '.vscodex', '.env'])('%s is not', (rel) => {
    expect(m.matches(rel)).toBe(false)
  })
  it('covers what is inside a protected folder; folds case where the file system does', () => {
    expect(m.covers('.vscode/tasks.json')).toBe(true)
    expect(m.covers('.husky/pre-commit')).toBe(true)
    expect(m.covers('.envrc/x')).toBe(false)
    expect(m.matches('.VSCode')).toBe(false)
    expect(writeProtectedMatcher({caseInsensitive: true}).matches('.VSCode')).toBe(true)
    expect(writeProtectedMatcher({caseInsensitive: true}).covers('.VSCODE/Tasks.json')).toBe(true)
  })
})

describe('protectedTarget', () => {
  it('joins under the mount target and refuses what --mount cannot carry', () => {
    expect(protectedTarget('/workspace/repo', 'sub/.envrc')).toEqual({target: '/workspace/repo/sub/.envrc'})
    expect(protectedTarget('/workspace/repo', 'a,b/.envrc')).toEqual({problem: expect.stringContaining("a ','")})
    expect(protectedTarget('/workspace/repo', '../x/.envrc')).toEqual({problem: expect.stringContaining('not a plain relative path')})
  })
})

describe('protectedMountsFor (real file system)', () => {
  let base: string
  let repo: string
  const mount = () => ({hostSource: repo, target: '/workspace/repo'})
  const run = async (setting?: WriteProtectSetting, existing: Array<{target: string; mode: 'rw' | 'ro'}> = []) => {
    const scan = await scanTree(repo, {host})
    return protectedMountsFor({mount: mount(), found: scan.writeProtected, setting, host, podmanPath: (p) => `vm:${p}`, existing})
  }
  const targets = (ms: Array<{target: string}>) => ms.map((m) => m.target)

  beforeEach(async () => {
    base = await realpath(await mkdtemp(join(tmpdir(), 'protect-')))
    repo = join(base, 'repo')
    await mkdir(join(repo, '.vscode'), {recursive: true})
    await mkdir(join(repo, '.git', 'hooks'), {recursive: true})
    await mkdir(join(repo, 'sub'), {recursive: true})
    await writeFile(join(repo, '.envrc'), 'export A=1\n')
    await writeFile(join(repo, '.vscode', 'tasks.json'), '{}\n')
    await writeFile(join(repo, '.vscode', 'settings.json'), '{}\n')
    await writeFile(join(repo, '.git', 'config'), '[core]\n')
    await writeFile(join(repo, 'sub', '.envrc'), 'x\n')
    await writeFile(join(repo, 'notes.txt'), 'n\n')
  })
  afterEach(async () => {
    await rm(base, {recursive: true, force: true})
  })

  it('mounts each existing protected file or folder read-only at its place; git internals are left to the git mounts', async () => {
    const ms = await run()
    expect(ms.map((m) => [m.target, m.mode, m.role, m.hostSource, m.podmanSource])).toEqual([
      ['/workspace/repo/.envrc', 'ro', 'protect', join(repo, '.envrc'), `vm:${join(repo, '.envrc')}`],
      ['/workspace/repo/.vscode', 'ro', 'protect', join(repo, '.vscode'), `vm:${join(repo, '.vscode')}`],
      ['/workspace/repo/sub/.envrc', 'ro', 'protect', join(repo, 'sub', '.envrc'), `vm:${join(repo, 'sub', '.envrc')}`],
    ])
  })

  it('writeProtect: false turns it off; relax leaves the matching ones writable (a relaxed file splits its folder)', async () => {
    expect(await run(false)).toEqual([])
    expect(targets(await run({relax: ['.envrc']}))).toEqual(['/workspace/repo/.vscode'])
    expect(targets(await run({relax: ['.vscode/settings.json']}))).toEqual(['/workspace/repo/.envrc', '/workspace/repo/.vscode/tasks.json', '/workspace/repo/sub/.envrc'])
    expect(targets(await run({relax: ['.vscode/**']}))).toEqual(['/workspace/repo/.envrc', '/workspace/repo/sub/.envrc'])
  })

  it('skips what an existing mount already makes read-only', async () => {
    expect(targets(await run(undefined, [{target: '/workspace/repo', mode: 'rw'}, {target: '/workspace/repo/sub', mode: 'ro'}, {target: '/workspace/repo/.envrc', mode: 'ro'}]))).toEqual(['/workspace/repo/.vscode'])
  })

  it('refuses a protected name that is a symlink (the scan never lists one), unless relaxed', async () => {
    await rm(join(repo, '.envrc'))
    await symlink('notes.txt', join(repo, '.envrc'))
    await expect(run()).rejects.toMatchObject({code: 'WRITE_PROTECT_SYMLINK', exitCode: 3, message: expect.stringContaining(`${join(repo, '.envrc')} is a symlink (to ${join(repo, 'notes.txt')})`)})
    expect(targets(await run({relax: ['.envrc']}))).toEqual(['/workspace/repo/.vscode']) // a relax pattern matches at any depth, like the list
  })

  it('refuses a symlinked parent folder of protected files (.claude -> elsewhere)', async () => {
    await mkdir(join(base, 'elsewhere', 'commands'), {recursive: true})
    await symlink(join(base, 'elsewhere'), join(repo, '.claude'))
    await expect(run()).rejects.toMatchObject({code: 'WRITE_PROTECT_SYMLINK'})
  })

  it('refuses a protected file with another hard link, and one inside a protected folder', async () => {
    await link(join(repo, 'notes.txt'), join(repo, '.mcp.json'))
    await expect(run()).rejects.toMatchObject({code: 'WRITE_PROTECT_HARDLINK', message: expect.stringContaining('.mcp.json has 1 other hard link(s)')})
    await rm(join(repo, '.mcp.json'))
    await link(join(repo, 'notes.txt'), join(repo, '.vscode', 'launch.json'))
    await expect(run()).rejects.toMatchObject({code: 'WRITE_PROTECT_HARDLINK'})
  })

  it('refuses a symlink inside a protected folder that leads out of it; one that stays inside is fine', async () => {
    await symlink('tasks.json', join(repo, '.vscode', 'alias.json'))
    expect(targets(await run())).toContain('/workspace/repo/.vscode')
    await symlink('../notes.txt', join(repo, '.vscode', 'extensions.json'))
    await expect(run()).rejects.toMatchObject({code: 'WRITE_PROTECT_SYMLINK', message: expect.stringContaining('what it leads to would stay writable')})
  })

  it('refuses a protected path podman cannot carry', async () => {
    await mkdir(join(repo, 'a,b'))
    await writeFile(join(repo, 'a,b', '.envrc'), 'x\n')
    await expect(protectedMountsFor({mount: mount(), found: [join(repo, 'a,b', '.envrc')], setting: undefined, host, podmanPath: (p) => p, existing: []})).rejects.toMatchObject({code: 'WRITE_PROTECT_TARGET'})
  })

  it('finds protected names at repo roots the scan reports, and for every read-write checkout of a launch', async () => {
    const scan = await scanTree(repo, {host})
    const ms = await protectedFileMounts({
      checkouts: [{hostSource: repo, podmanSource: repo, target: '/workspace/repo', mode: 'rw'}, {hostSource: base, podmanSource: base, target: '/workspace/ro', mode: 'ro'}],
      settings: new Map([[repo, undefined]]),
      scans: new Map([[repo, scan]]),
      host,
      podmanPath: (p) => p,
      existing: [],
    })
    expect(targets(ms)).toEqual(['/workspace/repo/.envrc', '/workspace/repo/.vscode', '/workspace/repo/sub/.envrc'])
  })
})

describe('withoutCovered', () => {
  const p = (target: string) => ({hostSource: '/h' + target, podmanSource: '/h' + target, target, mode: 'ro' as const, role: 'protect' as const})
  it('keeps a protected mount under a rw mount, drops one under or at a ro one', () => {
    const existing = [{target: '/w', mode: 'rw' as const}, {target: '/w/ro', mode: 'ro' as const}, {target: '/w/ro/rw', mode: 'rw' as const}, {target: '/w/.git/config', mode: 'ro' as const}]
    expect(withoutCovered([p('/w/.envrc'), p('/w/ro/.envrc'), p('/w/ro/rw/.envrc'), p('/w/.git/config')], existing).map((m) => m.target)).toEqual(['/w/.envrc', '/w/ro/rw/.envrc'])
  })
})
