/**
 * The digest cache is written only when what it holds changed (content-hash.ts saveDigestCache):
 * a launch over unchanged repos rewrites nothing, a changed file is written with its new digest,
 * and a process that has not read or written the file writes it.
 */
import {mkdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {clearContentHashCache, contentTree, diffTrees, loadDigestCache, saveDigestCache} from '../../../src/core/evidence/content-hash.js'
import {tempDir} from '../../helpers/temp-dirs.js'

function folder(): string {
  const dir = tempDir('content-writes-')
  mkdirSync(join(dir, 'src'))
  writeFileSync(join(dir, 'a.txt'), 'a\n')
  writeFileSync(join(dir, 'src', 'b.txt'), 'b\n')
  return dir
}

/** The cache file's identity: an atomic write replaces it (a new inode), so an unchanged one was not written. */
const identity = (file: string) => {
  const st = statSync(file, {bigint: true})
  return `${st.ino}:${st.mtimeNs}`
}

describe('saveDigestCache writes only what changed', () => {
  it('an unchanged folder is not rewritten, before or after a new process loads the cache', async () => {
    const dir = folder()
    const file = join(tempDir('content-writes-state-'), 'content-hash', 'x.json')
    clearContentHashCache()
    await contentTree(dir)
    await saveDigestCache(file, dir)
    const written = identity(file)
    const bytes = readFileSync(file, 'utf8')
    await contentTree(dir)
    await saveDigestCache(file, dir)
    expect(identity(file)).toBe(written)
    // the next launch: loads it, walks the same folder, saves
    clearContentHashCache()
    await loadDigestCache(file, dir)
    const tree = await contentTree(dir)
    expect(tree.read).toBe(0)
    await saveDigestCache(file, dir)
    expect(identity(file)).toBe(written)
    expect(readFileSync(file, 'utf8')).toBe(bytes)
  })

  it('a changed file is written with its new digest, and the next launch sees the change', async () => {
    const dir = folder()
    const file = join(tempDir('content-writes-state-'), 'content-hash', 'x.json')
    clearContentHashCache()
    const before = await contentTree(dir)
    await saveDigestCache(file, dir)
    const written = identity(file)
    writeFileSync(join(dir, 'src', 'b.txt'), 'changed by the session\n')
    const after = await contentTree(dir)
    expect(diffTrees(before, after).modified).toEqual(['src/b.txt'])
    await saveDigestCache(file, dir)
    expect(identity(file)).not.toBe(written)
    // a new process: only what changed since is read, and the tree is the after-tree
    clearContentHashCache()
    await loadDigestCache(file, dir)
    const next = await contentTree(dir)
    expect(next).toMatchObject({read: 0, tree: after.tree})
  })

  it('a cache file this process never read or wrote is written; one another launch rewrote meanwhile is left to it (a cache: the next launch reads what it cannot use)', async () => {
    const dir = folder()
    const file = join(tempDir('content-writes-state-'), 'content-hash', 'x.json')
    clearContentHashCache()
    await contentTree(dir)
    await saveDigestCache(file, dir)
    const bytes = readFileSync(file, 'utf8')
    rmSync(file)
    clearContentHashCache()
    await contentTree(dir)
    await saveDigestCache(file, dir)
    expect(readFileSync(file, 'utf8')).toBe(bytes)
    // rewritten by another launch after this process read it: this process's own load is what counts
    clearContentHashCache()
    await loadDigestCache(file, dir)
    writeFileSync(file, '{"v":1,"root":"/elsewhere","entries":[]}')
    await contentTree(dir)
    await saveDigestCache(file, dir)
    expect(readFileSync(file, 'utf8')).toBe('{"v":1,"root":"/elsewhere","entries":[]}')
  })
})
