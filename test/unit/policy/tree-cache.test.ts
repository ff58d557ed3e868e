import {execFileSync} from 'node:child_process'
import {chmodSync, chownSync, lstatSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {link, mkdir, mkdtemp, realpath, rename, rm, symlink, writeFile} from 'node:fs/promises'
import {createServer, type Server} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {HostFacts} from '../../../src/core/host/facts.js'
import {cacheableFileSystem, treeCacheFile} from '../../../src/core/policy/tree-cache.js'
import {scanTree, type TreeScan} from '../../../src/core/policy/tree-scan.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'

/**
 * The tree scan's per-folder cache (src/core/policy/tree-cache.ts): a warm scan skips the readdir of
 * folders unchanged since the last scan, and must still see everything a cold scan sees. The trees
 * are made in beforeAll and left alone for more than the 2-second racy window, so that their folders
 * are cached; each plant below is made right after a scan wrote or confirmed the cache (the same
 * second), unless said otherwise.
 */
describe('tree scan cache: a warm scan sees what a cold one sees', () => {
  let base: string
  let home: string
  let host: HostFacts
  const servers: Server[] = []
  const roots = ['same', 'plants', 'later', 'links', 'swap', 'utimes', 'swap-late', 'utimes-late', 'poison', 'modes', 'symlinked', 'owner', 'only']

  const listen = async (p: string): Promise<void> => {
    const server = createServer()
    servers.push(server)
    await new Promise<void>((resolve) => server.listen(p, resolve))
  }
  const repoOf = (name: string): string => join(home, 'dev', name)
  const cacheDirOf = (name: string): string => join(base, 'state', name, 'scan-cache')
  const scan = (name: string, extra: Record<string, unknown> = {}): Promise<TreeScan> => scanTree(repoOf(name), {host, treeCacheDir: cacheDirOf(name), ...extra})
  const refused = (s: TreeScan): string[] => s.hazards.filter((h) => h.severity === 'refuse').map((h) => `${h.kind} ${h.relPath}`)
  /** utimes to the nanosecond (Node's utimes takes seconds as a double): `touch -m -d @s.ns`. */
  const putBackMtime = (p: string, ns: bigint): void => {
    execFileSync('touch', ['-m', '-h', '-d', `@${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')}`, p])
  }
  const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
  /** Scans twice: the first fills the cache, the second must answer every folder from it. */
  const warm = async (name: string): Promise<TreeScan> => {
    await scan(name)
    const s = await scan(name)
    expect(s.cache).toMatchObject({readDirs: 0, written: false})
    expect(s.cache!.cachedDirs).toBeGreaterThan(3)
    return s
  }

  beforeAll(async () => {
    base = await realpath(await mkdtemp(join(tmpdir(), 'scan-cache-')))
    home = join(base, 'home')
    await mkdir(join(home, '.ssh'), {recursive: true})
    await writeFile(join(home, '.ssh', 'id_ed25519'), 'PRIVATE-KEY-DO-NOT-PRINT')
    host = fakeHostFacts('linux', {homeDir: home, env: {HOME: home}})
    for (const name of roots) {
      const repo = repoOf(name)
      await mkdir(join(repo, 'src', 'deep', 'er'), {recursive: true})
      await mkdir(join(repo, 'node_modules', 'pkg', 'lib'), {recursive: true})
      await mkdir(join(repo, '.git', 'hooks'), {recursive: true})
      await writeFile(join(repo, '.git', 'HEAD'), 'ref: refs/heads/main\n')
      await writeFile(join(repo, '.git', 'config'), '[core]\n')
      await writeFile(join(repo, 'src', 'index.ts'), '')
      await writeFile(join(repo, 'src', 'deep', 'er', 'leaf.ts'), '')
      await writeFile(join(repo, 'node_modules', 'pkg', 'lib', 'index.js'), '')
      await writeFile(join(repo, '.env'), 'X=1')
      await writeFile(join(repo, '.envrc'), '')
      await symlink('../index.ts', join(repo, 'src', 'deep', 'up.ts'))
    }
    // Older than the racy window, so the folders are cached.
    await sleep(2100)
  }, 15_000)

  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))))
    await rm(base, {recursive: true, force: true})
  })

  it('runs on this file system (the other tests would prove nothing otherwise)', () => {
    expect(cacheableFileSystem(base)).toBe(true)
  })

  it('a warm scan reads no unchanged folder and returns exactly what a scan without the cache returns', async () => {
    const cold = await scanTree(repoOf('same'), {host})
    const first = await scan('same')
    expect(first.cache).toMatchObject({cachedDirs: 0, written: true})
    const second = await warm('same')
    for (const s of [first, second]) {
      expect(s.hazards).toEqual(cold.hazards)
      expect(s.gitEntries).toEqual(cold.gitEntries)
      expect(s.writeProtected).toEqual(cold.writeProtected)
      expect(s.entries).toBe(cold.entries)
    }
    expect(cold.hazards.map((h) => `${h.kind} ${h.relPath}`)).toContain('secret-file .env')
    // Written 0600, through a temporary file that does not stay behind.
    const file = treeCacheFile(cacheDirOf('same'), repoOf('same'))
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(readdirSync(cacheDirOf('same'))).toEqual([file.split('/').pop()])
    expect(readFileSync(file, 'utf8')).not.toContain('X=1')
  })

  it('a socket, a FIFO, a symlink into ~/.ssh, a .git entry, a credential store and a bare-looking folder made in cached folders right after the cache was written are all found', async () => {
    const repo = repoOf('plants')
    await warm('plants')
    await listen(join(repo, 'src', 'deep', 'er', 'agent.sock'))
    expect(refused(await scan('plants'))).toEqual(['socket src/deep/er/agent.sock'])
    execFileSync('mkfifo', [join(repo, 'node_modules', 'pkg', 'lib', 'pipe')])
    expect(refused(await scan('plants'))).toContain('fifo node_modules/pkg/lib/pipe')
    await symlink(join(home, '.ssh'), join(repo, 'src', 'deep', 'keys'))
    expect(refused(await scan('plants'))).toContain('symlink-sensitive src/deep/keys')
    await writeFile(join(repo, 'src', '.git'), 'gitdir: /elsewhere\n')
    expect((await scan('plants')).gitEntries).toContainEqual({path: join(repo, 'src', '.git'), kind: 'file'})
    await writeFile(join(repo, '.git-credentials'), '')
    expect(refused(await scan('plants'))).toContain('credential-store .git-credentials')
    await writeFile(join(repo, 'node_modules', 'pkg', 'HEAD'), 'x')
    await writeFile(join(repo, 'node_modules', 'pkg', 'commondir'), '/x')
    expect((await scan('plants')).gitEntries).toContainEqual({path: join(repo, 'node_modules', 'pkg'), kind: 'dir'})
    await writeFile(join(repo, '.git', 'hooks', 'server.pem'), '')
    expect((await scan('plants')).hazards.map((h) => `${h.kind} ${h.relPath}`)).toContain('secret-file .git/hooks/server.pem')
  })

  it('a plant made a while after the cache was written is found too', async () => {
    const repo = repoOf('later')
    await warm('later')
    await sleep(1100)
    await listen(join(repo, 'src', 'late.sock'))
    expect(refused(await scan('later'))).toEqual(['socket src/late.sock'])
  })

  it('hard links made after caching: ~/.ssh/id_ed25519 linked into a cached folder, and a cached repo file linked into ~/.ssh', async () => {
    const repo = repoOf('links')
    await warm('links')
    // A repo file linked from ~/.ssh: no folder of the tree changes, only the file's link count.
    await link(join(repo, 'src', 'deep', 'er', 'leaf.ts'), join(home, '.ssh', 'authorized_keys2'))
    try {
      const s = await scan('links')
      expect(s.cache!.readDirs).toBe(0) // every folder came from the cache, and the link was still seen
      expect(refused(s)).toEqual(['hardlink-sensitive src/deep/er/leaf.ts'])
    } finally {
      await rm(join(home, '.ssh', 'authorized_keys2'))
    }
    expect(refused(await scan('links'))).toEqual([])
    await link(join(home, '.ssh', 'id_ed25519'), join(repo, 'node_modules', 'pkg', 'lib', 'data.bin'))
    const s = await scan('links')
    expect(refused(s)).toEqual(['hardlink-sensitive node_modules/pkg/lib/data.bin'])
    expect(JSON.stringify(s)).not.toContain('PRIVATE-KEY-DO-NOT-PRINT')
  })

  /** Swaps src/deep/er for a folder holding a socket, then puts src/deep's mtime back to the nanosecond. */
  const swapIn = async (name: string): Promise<void> => {
    const parent = join(repoOf(name), 'src', 'deep')
    const before = lstatSync(parent)
    const mtimeNs = lstatSync(parent, {bigint: true}).mtimeNs
    const other = join(base, `other-${name}`, 'er')
    await mkdir(other, {recursive: true})
    await writeFile(join(other, 'leaf.ts'), '')
    await listen(join(other, 'hidden.sock'))
    await rename(join(parent, 'er'), join(base, `er.old-${name}`))
    await rename(other, join(parent, 'er'))
    putBackMtime(parent, mtimeNs)
    expect(lstatSync(parent).mtimeMs).toBe(before.mtimeMs)
  }
  /** Makes a FIFO in src/deep/er, then puts the folder's mtime back to the nanosecond (utimes). */
  const fifoQuietly = (name: string): void => {
    const dir = join(repoOf(name), 'src', 'deep', 'er')
    const before = lstatSync(dir)
    const mtimeNs = lstatSync(dir, {bigint: true}).mtimeNs
    execFileSync('mkfifo', [join(dir, 'quiet')])
    putBackMtime(dir, mtimeNs)
    expect(lstatSync(dir).mtimeMs).toBe(before.mtimeMs)
  }

  it('a cached folder swapped for another of the same name, its parent’s mtime put back, is read again', async () => {
    await warm('swap')
    await swapIn('swap')
    const s = await scan('swap')
    expect(refused(s)).toEqual(['socket src/deep/er/hidden.sock'])
    expect(s.cache!.readDirs).toBeGreaterThan(0)
  })

  it('a folder changed and its mtime put back with utimes is read again (its ctime moved)', async () => {
    await warm('utimes')
    fifoQuietly('utimes')
    expect(refused(await scan('utimes'))).toEqual(['fifo src/deep/er/quiet'])
  })

  it('…and the same two, first scanned after they left the racy window: the ctime in the cached identity sees them, not only the window', async () => {
    await warm('swap-late')
    await warm('utimes-late')
    await swapIn('swap-late')
    fifoQuietly('utimes-late')
    await sleep(2100)
    expect(refused(await scan('swap-late'))).toEqual(['socket src/deep/er/hidden.sock'])
    expect(refused(await scan('utimes-late'))).toEqual(['fifo src/deep/er/quiet'])
  })

  it('a folder changed within the 2-second window is not written to the cache', async () => {
    const repo = repoOf('only')
    await warm('only')
    await mkdir(join(repo, 'src', 'fresh'))
    const first = await scan('only')
    expect(first.cache!.readDirs).toBe(2) // src (changed) and src/fresh (new)
    const doc = JSON.parse(readFileSync(treeCacheFile(cacheDirOf('only'), repo), 'utf8')) as {dirs: Record<string, unknown>}
    expect(doc.dirs[join(repo, 'src')]).toBeUndefined()
    expect(doc.dirs[join(repo, 'src', 'fresh')]).toBeUndefined()
    await listen(join(repo, 'src', 'fresh', 'x.sock'))
    expect(refused(await scan('only'))).toEqual(['socket src/fresh/x.sock'])
  })

  it('the after-session rescan (symlinksOnly) and a scan without host facts never use the cache', async () => {
    const repo = repoOf('only')
    expect((await scanTree(repo, {host, symlinksOnly: true, treeCacheDir: cacheDirOf('only')})).cache).toBeUndefined()
    expect((await scanTree(repo, {treeCacheDir: cacheDirOf('only')})).cache).toBeUndefined()
  })

  describe('a cache file that is not exactly ours is refused and the tree read again', () => {
    /**
     * The trust root is the cache file: one that is well-formed, ours and 0600 is believed (first
     * assertion: a poisoned one that leaves the socket out hides it). So every check on the file
     * matters: each case below writes that same poisoned content in a way that must be refused.
     */
    const poisoned = async (name: string): Promise<{file: string; text: string}> => {
      const repo = repoOf(name)
      await warm(name)
      const file = treeCacheFile(cacheDirOf(name), repo)
      const doc = JSON.parse(readFileSync(file, 'utf8')) as {dirs: Record<string, {id: string; n: string; t: string}>}
      // The socket is made in a cached folder; the poisoned record gives that folder's new
      // identity with the socket left out.
      await listen(join(repo, 'src', 'deep', 'er', 'p.sock'))
      const er = join(repo, 'src', 'deep', 'er')
      const st = lstatSync(er)
      doc.dirs[er] = {id: `${st.dev}:${st.ino}:${st.mtimeMs}:${st.ctimeMs}`, n: 'leaf.ts', t: 'f'}
      return {file, text: JSON.stringify(doc)}
    }
    const put = (file: string, text: string, mode = 0o600): void => {
      writeFileSync(file, text, {mode})
      chmodSync(file, mode)
    }
    const made = new Map<string, {file: string; text: string}>()
    beforeAll(async () => {
      for (const name of ['poison', 'symlinked', 'owner']) made.set(name, await poisoned(name))
      // Let the socket's folder leave the racy window, as it would have before a real cache was written.
      await sleep(2100)
    }, 15_000)

    it('control: the poisoned content, as our own 0600 file, is believed (the state dir is the trust root)', async () => {
      const {file, text} = made.get('poison')!
      put(file, text)
      expect(refused(await scan('poison'))).toEqual([])
      // …and the same content in each refused form:
      const forms: Array<[string, () => void]> = [
        ['not JSON', () => put(file, text.slice(0, -3))],
        ['another schema', () => put(file, text.replace('tree-scan-cache/v1', 'tree-scan-cache/v0'))],
        ['another root', () => put(file, text.replace(`"root":"${repoOf('poison')}"`, `"root":"${repoOf('poison')}x"`))],
        ['one malformed record (names and types disagree)', () => put(file, text.replace(/"t":"([a-z]*)"/, '"t":"$1f"'))],
        ['one record with a name holding ..', () => put(file, text.replace('"n":"leaf.ts","t":"f"', '"n":"leaf.ts/..","t":"ff"'))],
        ['a folder outside the root', () => put(file, text.replace(`"${repoOf('poison')}/src"`, '"/etc"'))],
        ['readable by others (0644)', () => put(file, text, 0o644)],
        ['writable by others (0666)', () => put(file, text, 0o666)],
      ]
      for (const [what, write] of forms) {
        write()
        expect(refused(await scan('poison')), what).toEqual(['socket src/deep/er/p.sock'])
        put(file, text) // the scan rewrote it: put the poisoned one back for the next form
        expect(refused(await scan('poison')), `${what} (control)`).toEqual([])
      }
    })

    it('a cache file that is a symlink (to a poisoned file elsewhere) is refused', async () => {
      const {file, text} = made.get('symlinked')!
      const elsewhere = join(base, 'elsewhere.json')
      put(elsewhere, text)
      await rm(file)
      await symlink(elsewhere, file)
      expect(refused(await scan('symlinked'))).toEqual(['socket src/deep/er/p.sock'])
    })

    it.skipIf(process.getuid?.() !== 0)('a cache file owned by another user is refused', async () => {
      const {file, text} = made.get('owner')!
      put(file, text)
      chownSync(file, 65534, 65534)
      expect(refused(await scan('owner'))).toEqual(['socket src/deep/er/p.sock'])
    })

    it('a cache that cannot be written costs only time: the scan still judges everything', async () => {
      const repo = repoOf('modes')
      await writeFile(join(base, 'not-a-dir'), '')
      const s = await scanTree(repo, {host, treeCacheDir: join(base, 'not-a-dir', 'scan-cache')})
      expect(s.cache).toMatchObject({written: false, cachedDirs: 0})
      expect(refused(s)).toEqual([])
      expect(refused(await scanTree(repo, {host, treeCacheDir: join(base, 'not-a-dir', 'scan-cache')}))).toEqual([])
    })
  })
})
