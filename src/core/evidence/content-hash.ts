/**
 * What the agent changed (issue 14, item 4): a content tree hash of a mounted folder, taken
 * before the session and after it, and the paths that differ.
 *
 * The hash is git-independent on purpose: it reads the folder itself, not git's index, so
 * `git update-index --skip-worktree` / `--assume-unchanged`, `.git/info/exclude` and `.gitignore`
 * cannot hide a change. Everything under the folder counts, ignored build output included —
 * except the `.git` dir at its top (git's own state: the commit and ref are recorded, and the
 * integrity check covers hooks, config and pointers).
 *
 * Nothing is followed: symlinks are hashed as their target text, FIFOs, sockets and devices by
 * kind only, regular files opened O_NOFOLLOW | O_NONBLOCK. Incremental: a file whose (dev, ino,
 * size, mtime, ctime) did not change since it was last hashed in this process keeps its digest
 * (ctime cannot be set back from user space), so the after-hash reads only what changed.
 *
 * Tree hash = sha256 over the sorted lines `<kind> <mode> <digest> <JSON path>\n`.
 */
import {createHash} from 'node:crypto'
import {closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readlinkSync, readSync} from 'node:fs'
import {mkdir} from 'node:fs/promises'
import path from 'node:path'

import {writeFileAtomic} from '../fs-atomic.js'
import {readRegularFile} from './safe-read.js'
import {countWork} from '../util/optimise.js'

export interface ContentEntry {
  kind: 'file' | 'symlink' | 'other'
  /** 'x' for an executable file, '-' otherwise. */
  mode: 'x' | '-'
  digest: string
}

export interface ContentTree {
  /** sha256:… over the listing; null when the walk stopped at a limit. */
  tree: string | null
  files: number
  /** Relative path → entry (posix separators). */
  entries: Map<string, ContentEntry>
  /** Why the tree is null (a limit was reached), else null. */
  truncated: string | null
  /** Files whose content was read (the rest reused a digest). */
  read: number
}

export interface ContentHashOptions {
  /** Stop (tree null) past this many entries. */
  maxFiles?: number
  /** Files larger than this are hashed by size and times only (marked `size:` in the digest). */
  maxFileBytes?: number
}

const DEFAULT_MAX_FILES = 250_000
const DEFAULT_MAX_FILE_BYTES = 512 * 1024 * 1024

interface Cached {
  key: string
  digest: string
}

/** The in-process cache: absolute path → stat key and digest. */
const cache = new Map<string, Cached>()

export async function contentTree(root: string, opts: ContentHashOptions = {}): Promise<ContentTree> {
  const maxFiles = opts.maxFiles ?? DEFAULT_MAX_FILES
  const maxFileBytes = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES
  const entries = new Map<string, ContentEntry>()
  let truncated: string | null = null
  let read = 0
  const stack: string[] = ['']
  while (stack.length > 0 && truncated === null) {
    const rel = stack.pop() ?? ''
    const dir = path.join(root, rel)
    let names: string[]
    try {
      names = readdirSync(dir)
    } catch {
      entries.set(rel === '' ? '.' : rel, {kind: 'other', mode: '-', digest: 'unreadable-dir'})
      continue
    }
    countWork(names.length)
    for (const name of names) {
      if (rel === '' && name === '.git') continue
      const relPath = rel === '' ? name : `${rel}/${name}`
      const abs = path.join(root, relPath)
      let info
      try {
        info = lstatSync(abs, {bigint: true})
      } catch {
        continue // gone meanwhile
      }
      if (info.isDirectory()) {
        stack.push(relPath)
        continue
      }
      if (entries.size >= maxFiles) {
        truncated = `more than ${maxFiles} files`
        break
      }
      if (info.isSymbolicLink()) {
        let target = ''
        try {
          target = readlinkSync(abs)
        } catch {
          // unreadable: hashed as empty
        }
        entries.set(relPath, {kind: 'symlink', mode: '-', digest: sha256(Buffer.from(target, 'utf8'))})
        continue
      }
      if (!info.isFile()) {
        entries.set(relPath, {kind: 'other', mode: '-', digest: info.isFIFO() ? 'fifo' : info.isSocket() ? 'socket' : 'device'})
        continue
      }
      const mode = (info.mode & 0o111n) !== 0n ? 'x' : '-'
      const key = `${info.dev}:${info.ino}:${info.size}:${info.mtimeNs}:${info.ctimeNs}`
      const hit = cache.get(abs)
      if (hit && hit.key === key) {
        entries.set(relPath, {kind: 'file', mode, digest: hit.digest})
        continue
      }
      const digest = info.size === 0n ? EMPTY : info.size > BigInt(maxFileBytes) ? `size:${info.size}:${info.mtimeNs}:${info.ctimeNs}` : hashFile(abs)
      read++
      if (digest === null) {
        entries.set(relPath, {kind: 'other', mode: '-', digest: 'unreadable'})
        continue
      }
      cache.set(abs, {key, digest})
      entries.set(relPath, {kind: 'file', mode, digest})
    }
  }
  if (truncated !== null) return {tree: null, files: entries.size, entries, truncated, read}
  const hash = createHash('sha256')
  for (const p of [...entries.keys()].sort()) {
    const e = entries.get(p)!
    hash.update(`${e.kind} ${e.mode} ${e.digest} ${JSON.stringify(p)}\n`)
  }
  return {tree: `sha256:${hash.digest('hex')}`, files: entries.size, entries, truncated: null, read}
}

const EMPTY = createHash('sha256').digest('hex')
const buffer = Buffer.allocUnsafe(256 * 1024)

/** Synchronous system calls: per file they are several times cheaper than fs/promises, which matters at 100k files. */
function hashFile(file: string): string | null {
  let fd: number
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch {
    return null
  }
  try {
    if (!fstatSync(fd).isFile()) return null
    const hash = createHash('sha256')
    for (;;) {
      const bytesRead = readSync(fd, buffer, 0, buffer.length, null)
      if (bytesRead === 0) break
      hash.update(buffer.subarray(0, bytesRead))
    }
    return hash.digest('hex')
  } catch {
    return null
  } finally {
    closeSync(fd)
  }
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex')
}

export interface ContentChanges {
  added: string[]
  modified: string[]
  removed: string[]
  /** How many paths were left out of the lists (each list holds at most `limit`). */
  omitted: number
}

/** The paths that differ between two trees (sorted; at most `limit` per list). */
export function diffTrees(before: ContentTree, after: ContentTree, limit = 500): ContentChanges {
  const added: string[] = []
  const modified: string[] = []
  const removed: string[] = []
  for (const [p, e] of after.entries) {
    const b = before.entries.get(p)
    if (!b) added.push(p)
    else if (b.kind !== e.kind || b.mode !== e.mode || b.digest !== e.digest) modified.push(p)
  }
  for (const p of before.entries.keys()) if (!after.entries.has(p)) removed.push(p)
  const cut = (list: string[]) => list.sort().slice(0, limit)
  const omitted = Math.max(0, added.length - limit) + Math.max(0, modified.length - limit) + Math.max(0, removed.length - limit)
  return {added: cut(added), modified: cut(modified), removed: cut(removed), omitted}
}

/**
 * The digests of one folder, kept between launches in the state dir (outside every mount), so the
 * first walk of the next launch reads only what changed since. Entries are (relative path, stat
 * key, digest); a stale or damaged file only costs reads.
 */
export async function loadDigestCache(file: string, root: string): Promise<void> {
  let raw: unknown
  let text: string
  try {
    text = (await readRegularFile(file, MAX_CACHE_BYTES)).toString('utf8')
    raw = JSON.parse(text)
  } catch {
    return
  }
  stored.set(file, text)
  if (typeof raw !== 'object' || raw === null || (raw as {v?: unknown}).v !== 1 || (raw as {root?: unknown}).root !== root) return
  const entries = (raw as {entries?: unknown}).entries
  if (!Array.isArray(entries)) return
  for (const e of entries) {
    if (!Array.isArray(e) || e.length !== 3 || !e.every((x) => typeof x === 'string')) continue
    const [rel, key, digest] = e as [string, string, string]
    if (rel.split('/').includes('..')) continue
    cache.set(path.join(root, rel), {key, digest})
  }
}

/**
 * Writes the digests of the files under `root` (atomically, 0600) — unless the file already holds
 * exactly these bytes (as this process read or wrote it): a launch whose repos did not change
 * rewrites (and fsyncs) nothing, which at 20 repos was 20 writes per launch.
 */
export async function saveDigestCache(file: string, root: string): Promise<void> {
  const prefix = root.endsWith(path.sep) ? root : `${root}${path.sep}`
  const entries: Array<[string, string, string]> = []
  for (const [abs, c] of cache) if (abs.startsWith(prefix)) entries.push([abs.slice(prefix.length).split(path.sep).join('/'), c.key, c.digest])
  const text = JSON.stringify({v: 1, root, entries})
  if (stored.get(file) === text) return
  await mkdir(path.dirname(file), {recursive: true, mode: 0o700})
  await writeFileAtomic(file, text, {overwrite: true, mode: 0o600, unwritable: {code: 'STATE_DIR_UNWRITABLE', fix: 'check the state dir’s permissions'}})
  stored.set(file, text)
}

/** What each digest cache file held when this process last read or wrote it. */
const stored = new Map<string, string>()

const MAX_CACHE_BYTES = 128 * 1024 * 1024

/** Test seam: forget the in-process digests. */
export function clearContentHashCache(): void {
  cache.clear()
  stored.clear()
}
