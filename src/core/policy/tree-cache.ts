/**
 * The tree scan's per-folder cache (optional; scanTree's `treeCacheDir`, a folder under the CLI's
 * state dir, which is never mounted into a container and is itself in the deny catalogue). It keeps,
 * per folder of one scanned root, the folder's identity and times (dev, ino, mtime, ctime) and its
 * entries' names and types: what readdir returned. A folder whose identity and times are unchanged
 * has the same names, each naming the same inode (every create, link, unlink or rename in a folder
 * updates its mtime and ctime; ctime cannot be set back by anyone but the clock), and an inode's
 * type never changes. So a warm scan skips the folder's readdir and still judges every name and type
 * exactly as a cold one.
 *
 * Nothing else is cached; the scan looks at it afresh every time: each folder's own lstat (identity,
 * times, st_dev, owner), every regular file's lstat (its link count changes when a link is made
 * anywhere else, with no trace in the tree's folders), the mount table, symlink targets
 * (readlink/realpath), and the top `.git/config`.
 *
 * Only folders whose ctime is at least 2 s older than the scan's start are written (time-stamp
 * granularity: a change right after the read could keep the same times), and only on Linux file
 * systems known to keep ctime (ext4, xfs, btrfs, tmpfs, f2fs, zfs): a FUSE, network or overlay file
 * system reports whatever times it likes.
 *
 * The file is read only if it is a regular file (opened O_NOFOLLOW), owned by the current user, not
 * readable or writable by anyone else, and fully well-formed for this root; anything else is ignored
 * (the scan reads every folder) and replaced. It is written 0600 through a temporary file and a
 * rename.
 */
import {createHash, randomBytes} from 'node:crypto'
import {closeSync, constants as fsConstants, fstatSync, mkdirSync, openSync, readFileSync, renameSync, statfsSync, unlinkSync, writeFileSync} from 'node:fs'
import path from 'node:path'

export const TREE_CACHE_SCHEMA = 'sourceosctl/tree-scan-cache/v1'

/**
 * Entry types, one character per entry: f file, d directory, l symlink, s socket, p FIFO,
 * b block device, c character device, o anything else.
 */
export type EntryType = 'f' | 'd' | 'l' | 's' | 'p' | 'b' | 'c' | 'o'

export interface CachedFolder {
  /** `${dev}:${ino}:${mtimeMs}:${ctimeMs}` of the folder, from its lstat before the readdir. */
  id: string
  /** Entry names as readdir gave them, joined by '/' (which no name holds); '' when the folder is empty. */
  n: string
  /** One EntryType per name. */
  t: string
}

/** A cached folder's names and types, as the scan walks them. */
export interface FolderEntries {
  names: string[]
  types: string
}

interface CacheDoc {
  schema: typeof TREE_CACHE_SCHEMA
  root: string
  dirs: Record<string, CachedFolder>
}

/** The time-stamp granularity margin: a folder changed less than this before the scan started is not cached. */
export const RACY_MS = 2000

/** Linux file systems whose directories' ctime is kept by the kernel on every change (statfs f_type). */
const TRUSTED_FS = new Set([
  0xef53, // ext2/3/4
  0x58465342, // xfs
  0x9123683e, // btrfs
  0x01021994, // tmpfs
  0xf2f52010, // f2fs
  0x2fc12fc1, // zfs
])

/** Whether folders under `dir` may be cached: Linux, and a file system that keeps ctime. */
export function cacheableFileSystem(dir: string): boolean {
  // Stryker disable next-line ConditionalExpression,BooleanLiteral: the tests run on Linux, where this is always false
  if (process.platform !== 'linux') return false
  try {
    return TRUSTED_FS.has(Number(statfsSync(dir).type))
  } catch {
    return false
  }
}

export const folderId = (st: {dev: number; ino: number; mtimeMs: number; ctimeMs: number}): string => `${st.dev}:${st.ino}:${st.mtimeMs}:${st.ctimeMs}`

/** The cache file for one scanned root (its realpath) inside `cacheDir`. */
export function treeCacheFile(cacheDir: string, realRoot: string): string {
  return path.join(cacheDir, `tree-${createHash('sha256').update(realRoot).digest('hex').slice(0, 32)}.json`)
}

const TYPES = /^[fdlspbco]*$/
const ID = /^\d+:\d+:-?[\d.e+]+:-?[\d.e+]+$/
const MAX_BYTES = 1 << 30

/** The folder's entries, or null when the cached record is malformed in any way. */
function validFolder(dir: string, e: unknown): (FolderEntries & {id: string}) | null {
  // Stryker disable next-line ConditionalExpression,LogicalOperator: equivalent: a relative folder fails the root check below, and a non-object or null entry fails the id check or throws inside readTreeCache's try: the cache is discarded either way
  if (!path.isAbsolute(dir) || typeof e !== 'object' || e === null) return null
  const {id, n, t} = e as Partial<CachedFolder>
  // Stryker disable next-line ConditionalExpression: equivalent for the typeof checks: a non-string id or types fails its pattern, and non-string names throw at split inside readTreeCache's try
  if (typeof id !== 'string' || !ID.test(id) || typeof n !== 'string' || typeof t !== 'string' || !TYPES.test(t)) return null
  const names = n === '' ? [] : n.split('/')
  if (names.length !== t.length) return null
  for (const name of names) if (name === '' || name === '.' || name === '..' || name.includes('\0') || name.includes('\uFFFD')) return null
  return {id, names, types: t}
}

/**
 * The cached folders of `realRoot`, or an empty map when the file is missing, not a regular file,
 * not the user's own, open to others, malformed anywhere, or for another root.
 */
export function readTreeCache(file: string, realRoot: string): Map<string, FolderEntries & {id: string}> {
  let fd: number
  try {
    fd = openSync(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK)
  } catch {
    return new Map()
  }
  try {
    const st = fstatSync(fd)
    // Stryker disable next-line OptionalChaining: the tests run on Linux, where getuid exists
    const uid = process.getuid?.()
    // Stryker disable next-line ConditionalExpression,LogicalOperator,EqualityOperator: equivalent here: a folder throws at the read (inside the try), uid is undefined only on Windows, and a 1 GiB cache file is not made in a test
    if (!st.isFile() || uid === undefined || st.uid !== uid || (st.mode & 0o077) !== 0 || st.size > MAX_BYTES) return new Map()
    const doc = JSON.parse(readFileSync(fd, 'utf8')) as Partial<CacheDoc>
    // Stryker disable next-line ConditionalExpression,LogicalOperator: equivalent: JSON null or a number fails the schema check or throws inside the try
    if (typeof doc !== 'object' || doc === null || doc.schema !== TREE_CACHE_SCHEMA || doc.root !== realRoot) return new Map()
    if (typeof doc.dirs !== 'object' || doc.dirs === null || Array.isArray(doc.dirs)) return new Map()
    const out = new Map<string, FolderEntries & {id: string}>()
    // Stryker disable next-line StringLiteral: equivalent: with the root '/', every folder that passed the absolute check starts with '/' and with ''
    const under = realRoot === '/' ? '/' : `${realRoot}/`
    for (const [dir, e] of Object.entries(doc.dirs)) {
      const folder = validFolder(dir, e)
      if (!folder || (dir !== realRoot && !dir.startsWith(under))) return new Map()
      out.set(dir, folder)
    }
    return out
  } catch {
    return new Map()
  } finally {
    closeSync(fd)
  }
}

/** Writes the cache 0600 through a temporary file and a rename; a failure only costs time next scan (false). */
export function writeTreeCache(file: string, realRoot: string, folders: ReadonlyMap<string, FolderEntries & {id: string}>): boolean {
  const dirs: Record<string, CachedFolder> = {}
  for (const [dir, f] of folders) dirs[dir] = {id: f.id, n: f.names.join('/'), t: f.types}
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
  try {
    mkdirSync(path.dirname(file), {recursive: true, mode: 0o700})
    writeFileSync(tmp, JSON.stringify({schema: TREE_CACHE_SCHEMA, root: realRoot, dirs} satisfies CacheDoc), {mode: 0o600, flag: 'wx'})
    renameSync(tmp, file)
    return true
  } catch {
    try {
      unlinkSync(tmp)
    } catch {
      // never written
    }
    return false
  }
}
