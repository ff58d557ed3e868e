/**
 * An entry listed as a folder that is something else when the scan looks at it (swapped between
 * the listing and the lstat, or listed so by a stale tree cache) is judged as what it is now: a
 * socket, a FIFO or a device is refused, a symlink is judged as a link, a file goes to the hard-link
 * check. The folder listing it is not kept in the cache. The stale listing is made here by editing
 * the cache file (our own 0600 file, which the scan trusts by design).
 */
import {execFileSync} from 'node:child_process'
import {linkSync, mkdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {treeCacheFile} from '../../../src/core/policy/tree-cache.js'
import {scanTree, type TreeScan} from '../../../src/core/policy/tree-scan.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'
import {tempDir} from '../../helpers/temp-dirs.js'

const isRoot = process.getuid?.() === 0
const listed = (s: TreeScan) => s.hazards.map((h) => `${h.severity} ${h.kind} ${h.relPath}`)

interface CacheDoc {
  dirs: Record<string, {id: string; n: string; t: string}>
}

/** A repo whose folder `stale` lists `names`, scanned once so its cache is written. */
async function cachedRepo(make: (dir: string, home: string) => Promise<void> | void) {
  const base = realpathSync(tempDir('scan-swapped-'))
  const home = join(base, 'home')
  mkdirSync(join(home, '.ssh'), {recursive: true})
  writeFileSync(join(home, '.ssh', 'id_ed25519'), 'KEY')
  const repo = join(home, 'dev', 'repo')
  const dir = join(repo, 'stale')
  mkdirSync(dir, {recursive: true})
  await make(dir, home)
  const host = fakeHostFacts('linux', {homeDir: home, uid: process.getuid?.() ?? 1000, env: {HOME: home}})
  const cacheDir = join(base, 'state', 'scan-cache')
  const opts = {host, mounts: null, treeCacheDir: cacheDir, treeCacheRacyMs: 0}
  const first = await scanTree(repo, opts)
  const file = treeCacheFile(cacheDir, repo)
  const doc = JSON.parse(readFileSync(file, 'utf8')) as CacheDoc
  /** Lists `name` in `stale` as a folder, as a stale cache would. */
  const listAsFolder = (name: string): void => {
    const entry = doc.dirs[dir]!
    const names = entry.n.split('/')
    const i = names.indexOf(name)
    expect(i).toBeGreaterThanOrEqual(0)
    entry.t = entry.t.slice(0, i) + 'd' + entry.t.slice(i + 1)
    writeFileSync(file, JSON.stringify(doc))
  }
  return {repo, dir, home, opts, first, file, listAsFolder}
}

describe('an entry listed as a folder that is something else', () => {
  it('a socket or a FIFO is refused as one', async () => {
    const servers: Array<ReturnType<typeof createServer>> = []
    const r = await cachedRepo(async (dir) => {
      execFileSync('mkfifo', [join(dir, 'pipe')])
      const server = createServer()
      servers.push(server)
      await new Promise<void>((resolve) => server.listen(join(dir, 'sock'), resolve))
    })
    try {
      expect(listed(r.first)).toEqual(['refuse fifo stale/pipe', 'refuse socket stale/sock'])
      r.listAsFolder('pipe')
      r.listAsFolder('sock')
      const s = await scanTree(r.repo, r.opts)
      expect(s.cache?.cachedDirs).toBeGreaterThan(0)
      expect(s.hazards.map((h) => [h.kind, h.relPath, h.severity, h.detail])).toEqual([
        ['fifo', 'stale/pipe', 'refuse', 'a named pipe (swapped in while the tree was scanned)'],
        ['socket', 'stale/sock', 'refuse', 'a unix socket (swapped in while the tree was scanned)'],
      ])
    } finally {
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))))
    }
  })

  it.runIf(isRoot)('a device node is refused as one', async () => {
    const r = await cachedRepo((dir) => {
      execFileSync('mknod', [join(dir, 'null'), 'c', '1', '3'])
    })
    r.listAsFolder('null')
    const s = await scanTree(r.repo, r.opts)
    expect(s.hazards.map((h) => [h.kind, h.relPath, h.severity, h.detail])).toEqual([['device', 'stale/null', 'refuse', 'a device node (swapped in while the tree was scanned)']])
  })

  it('a symlink is judged as a link (one into ~/.ssh is refused)', async () => {
    const r = await cachedRepo((dir, home) => {
      symlinkSync(join(home, '.ssh'), join(dir, 'keys'))
    })
    expect(listed(r.first)).toEqual(['refuse symlink-sensitive stale/keys'])
    r.listAsFolder('keys')
    expect(listed(await scanTree(r.repo, r.opts))).toEqual(['refuse symlink-sensitive stale/keys'])
  })

  it('a file goes to the hard-link check (a second name of ~/.ssh/id_ed25519 is refused)', async () => {
    const r = await cachedRepo((dir, home) => {
      linkSync(join(home, '.ssh', 'id_ed25519'), join(dir, 'innocent'))
    })
    expect(listed(r.first)).toEqual(['refuse hardlink-sensitive stale/innocent'])
    r.listAsFolder('innocent')
    expect(listed(await scanTree(r.repo, r.opts))).toEqual(['refuse hardlink-sensitive stale/innocent'])
  })

  it('the folder that listed it is not kept in the cache', async () => {
    const r = await cachedRepo((dir) => {
      writeFileSync(join(dir, 'plain'), '')
    })
    r.listAsFolder('plain')
    // Something new elsewhere makes the scan rewrite the cache.
    mkdirSync(join(r.repo, 'new'))
    const s = await scanTree(r.repo, r.opts)
    expect(s.cache?.written).toBe(true)
    const doc = JSON.parse(readFileSync(r.file, 'utf8')) as CacheDoc
    expect(Object.keys(doc.dirs)).not.toContain(r.dir)
    expect(Object.keys(doc.dirs)).toContain(join(r.repo, 'new'))
  })
})
