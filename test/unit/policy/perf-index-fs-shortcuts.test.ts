/**
 * The file-system shortcuts of the deny catalogue's host passes give the answers of the calls they
 * replace, path by path: realpathAll (the alias pass: one lstat per distinct folder) against
 * realpath(3) itself, and statWalker (denyDirInodes: a path below a non-folder is not asked)
 * against stat(2) itself, over every path of up to three names in a tree of symlinks (absolute,
 * relative, chained, dangling, looping, to files, to `..`), files used as folders, missing names,
 * a locked folder, and `.`, `..`, doubled and trailing slashes.
 */
import {chmodSync, lstatSync, mkdirSync, realpathSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {dirname, join, posix} from 'node:path'
import {describe, expect, it} from 'vitest'
import {statWalker} from '../../../src/core/policy/deny-inodes.js'
import {realpathAll, resolvePolicyAliases} from '../../../src/core/policy/paths.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'
import {tempDir} from '../../helpers/temp-dirs.js'

function tree(): string {
  const base = realpathSync(tempDir('perf-index-fs-'))
  mkdirSync(join(base, 'a', 'b', 'c'), {recursive: true})
  mkdirSync(join(base, 'locked', 'inner'), {recursive: true})
  writeFileSync(join(base, 'f'), 'x')
  writeFileSync(join(base, 'a', 'b', 'g'), 'x')
  symlinkSync(join(base, 'a'), join(base, 'abs'))
  symlinkSync('a/b', join(base, 'rel'))
  symlinkSync('abs', join(base, 'chain'))
  symlinkSync('nowhere', join(base, 'dangling'))
  symlinkSync('loop2', join(base, 'loop1'))
  symlinkSync('loop1', join(base, 'loop2'))
  symlinkSync('f', join(base, 'tofile'))
  symlinkSync('..', join(base, 'a', 'up'))
  symlinkSync('../../rel', join(base, 'a', 'b', 'back'))
  symlinkSync('/', join(base, 'a', 'slash'))
  chmodSync(join(base, 'locked'), 0o000) // refused to a non-root user (root passes): both sides see the same
  return base
}

const NAMES = ['a', 'b', 'c', 'g', 'f', 'abs', 'rel', 'chain', 'dangling', 'loop1', 'tofile', 'up', 'back', 'slash', 'locked', 'inner', 'missing', '.', '..']

/** Every path of one to three names below `base`, plus forms that are not plain. */
function paths(base: string): string[] {
  const out: string[] = ['/', base]
  for (const x of NAMES) {
    out.push(`${base}/${x}`)
    for (const y of NAMES) {
      out.push(`${base}/${x}/${y}`)
      for (const z of NAMES) out.push(`${base}/${x}/${y}/${z}`)
    }
  }
  out.push(`${base}//a`, `${base}/a/`, `${base}/a/b/`, `${base}/f/`, `${base}/abs/`, 'a/b', '')
  return out
}

const realpathOrNull = (p: string): string | null => {
  try {
    return realpathSync.native(p)
  } catch {
    return null
  }
}
const statOrNull = (p: string) => {
  try {
    return statSync(p)
  } catch {
    return null
  }
}

describe('the alias pass resolves many paths as realpath(3) does, one by one', () => {
  it('every generated path: the same real path, or null where realpath fails', () => {
    const base = tree()
    const all = paths(base)
    const got = realpathAll(all)
    const differ = all.filter((p) => got.get(p) !== realpathOrNull(p))
    expect(differ).toEqual([])
    // the tree exercises both outcomes and the links
    expect(all.filter((p) => got.get(p) === null).length).toBeGreaterThan(1000)
    expect(got.get(`${base}/chain/b/back`)).toBe(join(base, 'a', 'b'))
    expect(got.get(`${base}/a/up/rel`)).toBe(join(base, 'a', 'b'))
  })

  it('realpath(3) itself is asked only for links and for paths that are not plain, each once', () => {
    const base = tree()
    const all = paths(base)
    const asked: string[] = []
    const got = realpathAll(all, (p) => {
      asked.push(p)
      return realpathSync.native(p)
    })
    expect(all.filter((p) => got.get(p) !== realpathOrNull(p))).toEqual([])
    const plain = (p: string) => p.startsWith('/') && !p.endsWith('/') && p === posix.normalize(p)
    const isLink = (p: string) => {
      try {
        return lstatSync(p).isSymbolicLink()
      } catch {
        return false
      }
    }
    expect(asked.filter((p) => plain(p) && !isLink(p))).toEqual([])
    expect(asked.length).toBe(new Set(asked).size)
    expect(asked).toContain(`${base}/abs`)
    expect(asked).toContain(`${base}/a/`)
  })

  it('a realpath answer that is not absolute adds no alias (a fake file system)', async () => {
    const host = fakeHostFacts('linux', {homeDir: '/home/u', env: {HOME: '/home/u'}})
    const links: Record<string, string> = {'/home/u/.ssh': 'dotfiles/ssh', '/home/u/.config': 'cfg', '/home/u/.gnupg': '/data/gnupg'}
    const aliases = await resolvePolicyAliases(host, {
      realpath: async (p) => {
        if (p in links) return links[p] as string
        throw Object.assign(new Error('missing'), {code: 'ENOENT'})
      },
    })
    expect(aliases.deny.map((d) => d.path).sort()).toEqual(['/data/gnupg', '/data/gnupg/S.*'])
    expect(aliases.broadRoots).toEqual([])
    expect(aliases.homes).toEqual([])
  })

  it('the order of the paths asked changes no answer (the memo fills either way)', () => {
    const base = tree()
    const all = paths(base)
    const forward = realpathAll(all)
    const backward = realpathAll([...all].reverse())
    expect(all.filter((p) => forward.get(p) !== backward.get(p))).toEqual([])
  })
})

describe('the deny folders pass stats a path only when its parent is a folder, with the same answers', () => {
  it('every generated path: the same file (device and inode) or null, as stat(2) says', () => {
    const base = tree()
    const all = paths(base).filter((p) => p.startsWith('/'))
    const stat = statWalker()
    const id = (s: {dev: number; ino: number} | null) => (s ? `${s.dev}:${s.ino}` : null)
    const differ = all.filter((p) => id(stat(p)) !== id(statOrNull(p)))
    expect(differ).toEqual([])
    expect(all.filter((p) => stat(p) === null).length).toBeGreaterThan(1000)
    expect(stat(`${base}/tofile`)?.isFile()).toBe(true)
    expect(stat(`${base}/rel/c`)?.isDirectory()).toBe(true)
  })

  it('stat(2) itself is asked once a path, and never for a path whose parent is no folder', () => {
    const base = tree()
    const all = paths(base).filter((p) => p.startsWith('/'))
    const asked: string[] = []
    const stat = statWalker((p) => {
      asked.push(p)
      return statOrNull(p)
    })
    for (const p of [...all, ...all]) stat(p)
    expect(asked.length).toBe(new Set(asked).size)
    expect(asked.filter((p) => dirname(p) !== p && !statOrNull(dirname(p))?.isDirectory())).toEqual([])
    expect(asked).toContain(`${base}/missing`)
    expect(asked).not.toContain(`${base}/missing/a`)
  })
})
