import {execFileSync, spawnSync} from 'node:child_process'
import {chmodSync, lstatSync, readFileSync, writeFileSync} from 'node:fs'
import {link, mkdir, mkdtemp, realpath, rename, rm, symlink, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {HostFacts} from '../../../src/core/host/facts.js'
import {cacheableFileSystem, treeCacheFile} from '../../../src/core/policy/tree-cache.js'
import {scanTree, type TreeScan} from '../../../src/core/policy/tree-scan.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'

const isRoot = process.getuid?.() === 0

/** Whether this process may bind-mount (root in a container that allows it). */
function canBindMount(): boolean {
  if (!isRoot) return false
  const r = spawnSync('sh', ['-c', 'd=$(mktemp -d) && mkdir "$d/a" "$d/b" && mount --bind "$d/a" "$d/b" && umount "$d/b"; s=$?; rm -rf "$d"; exit $s'])
  return r.status === 0
}

/**
 * The tree cache against every kind of plant the agent (or anything else) can make between two
 * launches, each made after a warm scan answered every folder from the cache. The other cache tests
 * (tree-cache.test.ts) cover sockets, FIFOs, symlinks into ~/.ssh, .git files, credential files,
 * bare-looking folders, secret files, hard links both ways and folders swapped with their times put
 * back; these add the kinds left: device nodes, mount points (a bind mount of ~/.ssh), a folder made
 * unreadable, write-protected files and folders, a nested repository, a link onto / and a file
 * swapped for a symlink — and a cache from another device or for a folder put in the root's place.
 * Each plant is judged exactly as a scan without the cache judges it.
 */
describe('tree cache: every kind of plant made after a warm scan is found', () => {
  let base: string
  let home: string
  let host: HostFacts
  const mounted: string[] = []
  const roots = ['device', 'mount', 'unreadable', 'protect', 'nested', 'root-link', 'swap-file', 'other-dev', 'replaced']

  const repoOf = (name: string): string => join(home, 'dev', name)
  const cacheDirOf = (name: string): string => join(base, 'state', name, 'scan-cache')
  const scan = (name: string): Promise<TreeScan> => scanTree(repoOf(name), {host, treeCacheDir: cacheDirOf(name)})
  /** The same scan without a cache: the reference every cached answer must equal. */
  const cold = (name: string): Promise<TreeScan> => scanTree(repoOf(name), {host})
  const refused = (s: TreeScan): string[] => s.hazards.filter((h) => h.severity === 'refuse').map((h) => `${h.kind} ${h.relPath}`)
  const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
  const warm = async (name: string): Promise<TreeScan> => {
    await scan(name)
    const s = await scan(name)
    expect(s.cache).toMatchObject({readDirs: 0, written: false})
    expect(s.cache!.cachedDirs).toBeGreaterThan(3)
    return s
  }
  /** After a plant: the cached scan equals the uncached one in everything it reports. */
  const sameAsCold = async (name: string): Promise<TreeScan> => {
    const [c, w] = [await cold(name), await scan(name)]
    expect(w.hazards).toEqual(c.hazards)
    expect(w.gitEntries).toEqual(c.gitEntries)
    expect(w.writeProtected).toEqual(c.writeProtected)
    expect(w.entries).toBe(c.entries)
    return w
  }

  beforeAll(async () => {
    base = await realpath(await mkdtemp(join(tmpdir(), 'scan-cache-plants-')))
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
      await writeFile(join(repo, 'src', 'index.ts'), '')
      await writeFile(join(repo, 'src', 'deep', 'er', 'leaf.ts'), '')
      await writeFile(join(repo, 'node_modules', 'pkg', 'lib', 'index.js'), '')
    }
    // Older than the racy window, so the folders are cached.
    await sleep(2100)
  }, 15_000)

  afterAll(async () => {
    for (const m of mounted.reverse()) spawnSync('umount', [m])
    if (!isRoot) for (const name of roots) chmodSync(join(repoOf(name), 'src', 'deep'), 0o755)
    await rm(base, {recursive: true, force: true})
  })

  it('runs on this file system (the other tests would prove nothing otherwise)', () => {
    expect(cacheableFileSystem(base)).toBe(true)
  })

  it.runIf(isRoot)('a device node in a cached folder, and one in node_modules', async () => {
    const repo = repoOf('device')
    await warm('device')
    execFileSync('mknod', [join(repo, 'src', 'deep', 'er', 'null'), 'c', '1', '3'])
    execFileSync('mknod', [join(repo, 'node_modules', 'pkg', 'lib', 'loop'), 'b', '7', '200'])
    expect(refused(await sameAsCold('device'))).toEqual(['device node_modules/pkg/lib/loop', 'device src/deep/er/null'])
  })

  it.runIf(canBindMount())('~/.ssh bind-mounted onto a cached folder (no folder of the tree changes): a mount point', async () => {
    const repo = repoOf('mount')
    await warm('mount')
    const target = join(repo, 'src', 'deep', 'er')
    const before = lstatSync(join(repo, 'src', 'deep'))
    execFileSync('mount', ['--bind', join(home, '.ssh'), target])
    mounted.push(target)
    // The parent's identity and times are unchanged: only the mount table and the folder's own
    // identity tell, and neither is cached.
    expect(lstatSync(join(repo, 'src', 'deep')).ctimeMs).toBe(before.ctimeMs)
    const s = await sameAsCold('mount')
    expect(refused(s)).toEqual(['mount-point src/deep/er'])
    expect(s.cache!.readDirs).toBe(0)
    expect(JSON.stringify(s)).not.toContain('PRIVATE-KEY-DO-NOT-PRINT')
    // …and without the mount table, by the folder's own identity: the same directory as ~/.ssh.
    const noTable = await scanTree(repo, {host, treeCacheDir: cacheDirOf('mount'), mounts: null})
    expect(refused(noTable)).toEqual(['alias-sensitive src/deep/er'])
  })

  it.skipIf(isRoot)('a cached folder made unreadable (its own ctime moves): refused, as its owner could open it', async () => {
    const repo = repoOf('unreadable')
    await warm('unreadable')
    chmodSync(join(repo, 'src', 'deep'), 0o000)
    try {
      expect(refused(await sameAsCold('unreadable'))).toEqual(['unreadable src/deep'])
    } finally {
      chmodSync(join(repo, 'src', 'deep'), 0o755)
    }
    expect(refused(await scan('unreadable'))).toEqual([])
  })

  it('write-protected files and folders made in cached folders are listed', async () => {
    const repo = repoOf('protect')
    await warm('protect')
    await mkdir(join(repo, 'src', 'deep', '.vscode'))
    await writeFile(join(repo, 'src', 'deep', 'er', '.envrc'), '')
    await mkdir(join(repo, 'node_modules', 'pkg', '.claude'))
    await writeFile(join(repo, '.git', 'hooks', 'pre-commit'), '')
    await writeFile(join(repo, '.gitmodules'), '')
    const s = await sameAsCold('protect')
    expect(s.writeProtected).toEqual(
      expect.arrayContaining([join(repo, '.git', 'hooks'), join(repo, '.gitmodules'), join(repo, 'src', 'deep', '.vscode'), join(repo, 'src', 'deep', 'er', '.envrc')]),
    )
    // Names are not judged inside node_modules, cached or not.
    expect(s.writeProtected.some((p) => p.includes('node_modules'))).toBe(false)
  })

  it('a nested repository (.git folder) and a bare-looking folder made in cached folders are git entries', async () => {
    const repo = repoOf('nested')
    await warm('nested')
    await mkdir(join(repo, 'src', 'deep', 'er', 'vendored', '.git', 'hooks'), {recursive: true})
    await mkdir(join(repo, 'src', 'bare', 'objects'), {recursive: true})
    await mkdir(join(repo, 'src', 'bare', 'refs'))
    await writeFile(join(repo, 'src', 'bare', 'HEAD'), 'ref: refs/heads/main\n')
    const s = await sameAsCold('nested')
    expect(s.gitEntries).toEqual(
      expect.arrayContaining([
        {path: join(repo, 'src', 'deep', 'er', 'vendored', '.git'), kind: 'dir'},
        {path: join(repo, 'src', 'bare'), kind: 'dir'},
      ]),
    )
  })

  it('a symlink onto / and one onto ~ made in cached folders are refused', async () => {
    const repo = repoOf('root-link')
    await warm('root-link')
    await symlink('/', join(repo, 'node_modules', 'pkg', 'lib', 'sysroot'))
    await symlink(home, join(repo, 'src', 'deep', 'er', 'me'))
    expect(refused(await sameAsCold('root-link'))).toEqual(['symlink-sensitive node_modules/pkg/lib/sysroot', 'symlink-sensitive src/deep/er/me'])
  })

  it('a cached file swapped for a symlink, or for a hard link to ~/.ssh/id_ed25519, under the same name', async () => {
    const repo = repoOf('swap-file')
    await warm('swap-file')
    const leaf = join(repo, 'src', 'deep', 'er', 'leaf.ts')
    await symlink(join(home, '.ssh', 'id_ed25519'), `${leaf}.new`)
    await rename(`${leaf}.new`, leaf)
    expect(refused(await sameAsCold('swap-file'))).toEqual(['symlink-sensitive src/deep/er/leaf.ts'])
    await rm(leaf)
    await link(join(home, '.ssh', 'id_ed25519'), leaf)
    expect(refused(await sameAsCold('swap-file'))).toEqual(['hardlink-sensitive src/deep/er/leaf.ts'])
  })

  it('a cache whose folders are on another device (the same inodes and times) is not used', async () => {
    const repo = repoOf('other-dev')
    await warm('other-dev')
    const file = treeCacheFile(cacheDirOf('other-dev'), repo)
    const doc = JSON.parse(readFileSync(file, 'utf8')) as {dirs: Record<string, {id: string; n: string; t: string}>}
    const plant = join(repo, 'src', 'deep', 'er')
    // The cache as another device would have it: every record's device changed, and the folder
    // holding the plant listed without it.
    for (const rec of Object.values(doc.dirs)) {
      const [dev, ...rest] = rec.id.split(':')
      rec.id = [String(Number(dev) + 1), ...rest].join(':')
    }
    execFileSync('mkfifo', [join(plant, 'pipe')])
    const st = lstatSync(plant)
    doc.dirs[plant] = {id: `${st.dev + 1}:${st.ino}:${st.mtimeMs}:${st.ctimeMs}`, n: 'leaf.ts', t: 'f'}
    writeFileSync(file, JSON.stringify(doc), {mode: 0o600})
    const s = await sameAsCold('other-dev')
    expect(refused(s)).toEqual(['fifo src/deep/er/pipe'])
    expect(s.cache!.cachedDirs).toBe(0)
  })

  it('another folder put in the root’s place (a copy, or another disk mounted there) is read in full', async () => {
    const repo = repoOf('replaced')
    await warm('replaced')
    // The same paths and names, other inodes: a copy of the tree with a socket-free FIFO inside.
    const copy = join(base, 'replaced-copy')
    execFileSync('cp', ['-a', repo, copy])
    execFileSync('mkfifo', [join(copy, 'src', 'deep', 'er', 'pipe')])
    await rename(repo, join(base, 'replaced-old'))
    await rename(copy, repo)
    const s = await sameAsCold('replaced')
    expect(refused(s)).toEqual(['fifo src/deep/er/pipe'])
    expect(s.cache!.cachedDirs).toBe(0)
  })
})
