/**
 * The tree cache answers a folder's listing only when the file is exactly what this CLI wrote for
 * this root: any foreign, loose or malformed entry discards the whole cache (the folders are read
 * afresh), so a forged cache cannot hide a socket or a .ssh from the scan.
 */
import {chmodSync, chownSync, mkdirSync, readdirSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {TREE_CACHE_SCHEMA, cacheableFileSystem, folderId, readTreeCache, treeCacheFile, writeTreeCache} from '../../../src/core/policy/tree-cache.js'
import {tempDir} from '../../helpers/temp-dirs.js'

const root = '/srv/repo'
const good = {id: '2049:12:1700000000000.5:1700000000001', n: 'a/b/.git', t: 'fdd'}

function cacheWith(doc: unknown, mode = 0o600): string {
  const dir = tempDir('tree-cache-')
  const file = join(dir, 'tree.json')
  writeFileSync(file, typeof doc === 'string' ? doc : JSON.stringify(doc), {mode})
  chmodSync(file, mode)
  return file
}
const read = (doc: unknown, mode?: number) => readTreeCache(cacheWith(doc, mode), root)

describe('a tree cache is used only when it is exactly what was written for this root', () => {
  it('a well-formed cache gives each folder its names and types', () => {
    const m = read({schema: TREE_CACHE_SCHEMA, root, dirs: {[root]: good, [`${root}/b`]: {id: '1:2:3:4', n: '', t: ''}}})
    expect([...m.entries()]).toEqual([
      [root, {id: good.id, names: ['a', 'b', '.git'], types: 'fdd'}],
      [`${root}/b`, {id: '1:2:3:4', names: [], types: ''}],
    ])
    expect(readTreeCache(cacheWith({schema: TREE_CACHE_SCHEMA, root: '/', dirs: {'/x': good}}), '/').size).toBe(1)
  })

  it.each([
    ['another schema', {schema: `${TREE_CACHE_SCHEMA}x`, root, dirs: {[root]: good}}],
    ['another root', {schema: TREE_CACHE_SCHEMA, root: '/srv/other', dirs: {[root]: good}}],
    ['dirs a list', {schema: TREE_CACHE_SCHEMA, root, dirs: [good]}],
    ['dirs null', {schema: TREE_CACHE_SCHEMA, root, dirs: null}],
    ['dirs a string', {schema: TREE_CACHE_SCHEMA, root, dirs: 'x'}],
    ['a folder outside the root', {schema: TREE_CACHE_SCHEMA, root, dirs: {[root]: good, '/srv/repo2': good}}],
    ['a relative folder', {schema: TREE_CACHE_SCHEMA, root, dirs: {'srv/repo': good}}],
    ['an entry that is no object', {schema: TREE_CACHE_SCHEMA, root, dirs: {[root]: 'x'}}],
    ['a null entry', {schema: TREE_CACHE_SCHEMA, root, dirs: {[root]: null}}],
    ['an id that is no identity', {schema: TREE_CACHE_SCHEMA, root, dirs: {[root]: {...good, id: '1:2:3'}}}],
    ['an id with text around it', {schema: TREE_CACHE_SCHEMA, root, dirs: {[root]: {...good, id: 'x1:2:3:4'}}}],
    ['an id with a trailing part', {schema: TREE_CACHE_SCHEMA, root, dirs: {[root]: {...good, id: '1:2:3:4x'}}}],
    ['a numeric id', {schema: TREE_CACHE_SCHEMA, root, dirs: {[root]: {...good, id: 1}}}],
    ['names that are no string', {schema: TREE_CACHE_SCHEMA, root, dirs: {[root]: {...good, n: ['a']}}}],
    ['types that are no string', {schema: TREE_CACHE_SCHEMA, root, dirs: {[root]: {...good, t: 1}}}],
    ['an unknown type letter', {schema: TREE_CACHE_SCHEMA, root, dirs: {[root]: {...good, t: 'fdx'}}}],
    ['a type letter after valid ones', {schema: TREE_CACHE_SCHEMA, root, dirs: {[root]: {...good, n: 'a/b/c/d', t: 'fddX'}}}],
    ['fewer types than names', {schema: TREE_CACHE_SCHEMA, root, dirs: {[root]: {...good, t: 'fd'}}}],
    ['an empty name', {schema: TREE_CACHE_SCHEMA, root, dirs: {[root]: {...good, n: 'a//b', t: 'fdd'}}}],
    ['a . name', {schema: TREE_CACHE_SCHEMA, root, dirs: {[root]: {...good, n: 'a/./b', t: 'fdd'}}}],
    ['a .. name', {schema: TREE_CACHE_SCHEMA, root, dirs: {[root]: {...good, n: 'a/../b', t: 'fdd'}}}],
    ['a NUL in a name', {schema: TREE_CACHE_SCHEMA, root, dirs: {[root]: {...good, n: 'a/b\0/c', t: 'fdd'}}}],
    ['a replacement character in a name', {schema: TREE_CACHE_SCHEMA, root, dirs: {[root]: {...good, n: 'a/b\uFFFD/c', t: 'fdd'}}}],
    ['not JSON', '{"schema":'],
    ['JSON null', 'null'],
  ])('%s: the whole cache is discarded', (_what, doc) => {
    expect(read(doc).size).toBe(0)
  })

  it('a cache others can read or write, or one owned by another user, is not trusted', () => {
    const doc = {schema: TREE_CACHE_SCHEMA, root, dirs: {[root]: good}}
    expect(read(doc, 0o640).size).toBe(0)
    expect(read(doc, 0o602).size).toBe(0)
    expect(read(doc, 0o400).size).toBe(1)
    if (process.getuid?.() === 0) {
      const file = cacheWith(doc)
      chownSync(file, 4242, 4242)
      expect(readTreeCache(file, root).size).toBe(0)
    }
  })

  it('a symlink, a folder or a missing file is no cache', () => {
    const file = cacheWith({schema: TREE_CACHE_SCHEMA, root, dirs: {[root]: good}})
    const link = `${file}.link`
    symlinkSync(file, link)
    expect(readTreeCache(link, root).size).toBe(0)
    const dir = tempDir('tree-cache-dir-')
    expect(readTreeCache(dir, root).size).toBe(0)
    expect(readTreeCache(join(dir, 'missing.json'), root).size).toBe(0)
  })
})

describe('writing the cache', () => {
  it('round-trips, private to the user, with no temp file left', () => {
    const dir = join(tempDir('tree-cache-w-'), 'state', 'scan-cache')
    const file = treeCacheFile(dir, root)
    expect(file).toMatch(/\/tree-[0-9a-f]{32}\.json$/)
    expect(treeCacheFile(dir, '/srv/other')).not.toBe(file)
    const folders = new Map([[root, {id: '1:2:3:4', names: ['a', '.git'], types: 'fd'}]])
    expect(writeTreeCache(file, root, folders)).toBe(true)
    expect(readTreeCache(file, root)).toEqual(folders)
    expect(readdirSync(dir)).toEqual([file.slice(dir.length + 1)])
  })

  it('a cache that cannot be written is reported, and leaves nothing behind', () => {
    const base = tempDir('tree-cache-f-')
    writeFileSync(join(base, 'file'), '')
    expect(writeTreeCache(join(base, 'file', 'tree.json'), root, new Map())).toBe(false)
    expect(readdirSync(base)).toEqual(['file'])
  })

  it("a folder's identity is its device, inode, mtime and ctime", () => {
    expect(folderId({dev: 1, ino: 2, mtimeMs: 3.5, ctimeMs: 4})).toBe('1:2:3.5:4')
  })
})

describe('where a cache may be kept', () => {
  it.runIf(process.platform === 'linux')('a file system that keeps ctime (tmpfs) yes; /proc, or a path that does not exist, no', () => {
    expect(cacheableFileSystem('/dev/shm')).toBe(true)
    expect(cacheableFileSystem('/proc')).toBe(false)
    expect(cacheableFileSystem('/nonexistent-sourceosctl-dir')).toBe(false)
  })

  it('a cache that cannot be moved into place is reported, and its temp file removed', () => {
    const dir = tempDir('tree-cache-r-')
    const file = join(dir, 'tree.json')
    mkdirSync(join(file, 'occupied'), {recursive: true})
    expect(writeTreeCache(file, root, new Map())).toBe(false)
    expect(readdirSync(dir)).toEqual(['tree.json'])
  })
})
