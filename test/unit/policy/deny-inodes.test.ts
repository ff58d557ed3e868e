import {link, mkdir, mkdtemp, readFile, realpath, rm, writeFile} from 'node:fs/promises'
import {lstatSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {denyDirInodes, expandGlobs, findDenyAliases, inodeKey} from '../../../src/core/policy/deny-inodes.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'

describe('deny inodes', () => {
  let base: string
  let home: string
  let repo: string
  const key = (p: string): string => inodeKey(lstatSync(p))

  beforeAll(async () => {
    base = await realpath(await mkdtemp(join(tmpdir(), 'deny-inodes-')))
    home = join(base, 'home')
    repo = join(home, 'dev', 'repo')
    await mkdir(join(home, '.ssh', 'sub'), {recursive: true})
    await mkdir(repo, {recursive: true})
    await writeFile(join(home, '.ssh', 'id_ed25519'), 'KEY')
    await writeFile(join(home, '.ssh', 'sub', 'deep'), 'DEEP')
  })
  afterAll(() => rm(base, {recursive: true, force: true}))

  it('expands globs in rule paths to the existing names', async () => {
    await mkdir(join(base, 'ssh-abc'), {recursive: true})
    await writeFile(join(base, 'ssh-abc', 'agent.123'), '')
    const host = fakeHostFacts('linux', {homeDir: home, env: {HOME: home}})
    expect(expandGlobs(join(base, 'ssh-*', 'agent.*'), host)).toEqual([join(base, 'ssh-abc', 'agent.123')])
    expect(expandGlobs(join(base, 'none-*'), host)).toEqual([])
    expect(expandGlobs(join(base, 'ssh-abc', '**'), host)).toEqual([join(base, 'ssh-abc')])
  })

  it('knows the denied folders, their ancestors and the home directory by inode', () => {
    const host = fakeHostFacts('linux', {homeDir: home, env: {HOME: home}})
    const dirs = denyDirInodes(host)
    expect(dirs.get(key(join(home, '.ssh')))).toMatchObject({relation: 'denied', display: '~/.ssh'})
    expect(dirs.get(key(home))).toMatchObject({relation: 'contains'})
    expect(dirs.get(key(repo))).toBeUndefined()
  })

  it('finds the denied file behind a wanted inode, walking below the rule folder', () => {
    const host = fakeHostFacts('linux', {homeDir: home, env: {HOME: home}})
    const roots = [{path: join(home, '.ssh'), display: '~/.ssh'}]
    const devices = new Set([lstatSync(repo).dev])
    const r = findDenyAliases(host, new Set([key(join(home, '.ssh', 'sub', 'deep'))]), {devices, roots})
    expect([...r.hits.values()]).toEqual([{path: join(home, '.ssh', 'sub', 'deep'), display: '~/.ssh'}])
    // Another device: nothing is read.
    const other = findDenyAliases(host, new Set([key(join(home, '.ssh', 'id_ed25519'))]), {devices: new Set([-1]), roots, mounts: []})
    expect(other.hits.size).toBe(0)
    expect(other.entriesRead).toBe(0)
  })

  it('a cached folder answers by inode, so a hard link made later elsewhere is still found; a change in the folder re-reads it', async () => {
    const host = fakeHostFacts('linux', {homeDir: home, env: {HOME: home}})
    const roots = [{path: join(home, '.ssh'), display: '~/.ssh'}]
    const devices = new Set([lstatSync(repo).dev])
    const cacheFile = join(base, 'state', 'deny.json')
    const opts = {devices, roots, cacheFile, racyMs: 0}
    // 1. Fill the cache (nothing wanted matches).
    await writeFile(join(repo, 'unrelated'), '')
    expect(findDenyAliases(host, new Set([key(join(repo, 'unrelated'))]), opts).hits.size).toBe(0)
    expect(JSON.parse(await readFile(cacheFile, 'utf8')).dirs[join(home, '.ssh')]).toBeDefined()
    // 2. A new hard link in the repo changes id_ed25519's nlink and ctime, not ~/.ssh: the cached inode matches.
    await link(join(home, '.ssh', 'id_ed25519'), join(repo, 'copy'))
    const cached = findDenyAliases(host, new Set([key(join(repo, 'copy'))]), opts)
    expect(cached.cachedDirs).toBeGreaterThan(0)
    expect(cached.entriesRead).toBe(0)
    expect([...cached.hits.values()][0]?.path).toBe(join(home, '.ssh', 'id_ed25519'))
    // 3. A repo file linked INTO ~/.ssh changes ~/.ssh: it is read again and the new name found.
    await writeFile(join(repo, 'mine'), '')
    await link(join(repo, 'mine'), join(home, '.ssh', 'authorized_keys'))
    const changed = findDenyAliases(host, new Set([key(join(repo, 'mine'))]), opts)
    expect(changed.entriesRead).toBeGreaterThan(0)
    expect([...changed.hits.values()][0]?.path).toBe(join(home, '.ssh', 'authorized_keys'))
  })

  it('a folder changed within the racy window is not cached', async () => {
    const host = fakeHostFacts('linux', {homeDir: home, env: {HOME: home}})
    const fresh = join(base, 'fresh-secrets')
    await mkdir(fresh)
    const cacheFile = join(base, 'state', 'racy.json')
    findDenyAliases(host, new Set(['0:0']), {devices: new Set([lstatSync(repo).dev]), roots: [{path: fresh, display: 'x'}], cacheFile})
    expect(JSON.parse(await readFile(cacheFile, 'utf8')).dirs[fresh]).toBeUndefined()
  })

  it('skips pnpm and bun link stores', async () => {
    const host = fakeHostFacts('linux', {homeDir: home, env: {HOME: home}})
    const store = join(home, '.local', 'share', 'pnpm', 'store', 'v3')
    await mkdir(store, {recursive: true})
    await writeFile(join(store, 'f'), '')
    await link(join(store, 'f'), join(repo, 'linked-from-store'))
    const r = findDenyAliases(host, new Set([key(join(repo, 'linked-from-store'))]), {devices: new Set([lstatSync(repo).dev]), roots: [{path: join(home, '.local', 'share', 'pnpm'), display: '~/.local/share/pnpm'}]})
    expect(r.hits.size).toBe(0)
  })
})
