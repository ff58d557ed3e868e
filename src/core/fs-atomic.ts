/**
 * Atomic file writes: readers see the old file or the new one, never half of either; and without
 * `overwrite` an existing file is never clobbered, even if it appears while we write.
 */
import {randomBytes} from 'node:crypto'
import {link, lstat, mkdir, open, rename, rm, stat, unlink, type FileHandle} from 'node:fs/promises'
import {basename, dirname, join, resolve} from 'node:path'

import {AgentMachineError, prerequisiteMissing, unexpectedFailure, usageError} from './errors.js'

export interface WriteAtomicOptions {
  /** File mode of a newly written file (umask applies); default 0o666 like fs.writeFile. */
  mode?: number
  /** Replace an existing file. Without it an existing destination is DESTINATION_EXISTS. */
  overwrite: boolean
  /** Code and fix for an unwritable directory; default CONFIG_DIR_UNWRITABLE with a config-dir fix. */
  unwritable?: {code: string; fix: string}
}

const DEFAULT_UNWRITABLE = {
  code: 'CONFIG_DIR_UNWRITABLE',
  fix: 'choose a writable location with --output <path> or SOURCEOSCTL_CONFIG_DIR, or fix the permissions',
}

// ENOENT after the directory exists: it cannot hold files (procfs, a dangling link, removed meanwhile).
const UNWRITABLE_CODES = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'ENOENT', 'ENOSPC', 'EDQUOT'])
// Hard links unsupported here (FAT, some network/FUSE file systems): Linux says EPERM.
const NO_LINK_CODES = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV'])

/** Writes `content` to `path` atomically (temp file in the same dir, fsync, then link or rename). */
export async function writeFileAtomic(path: string, content: string | Uint8Array, opts: WriteAtomicOptions = {overwrite: false}): Promise<void> {
  const dest = resolve(path)
  const dir = dirname(dest)
  const unwritable = opts.unwritable ?? DEFAULT_UNWRITABLE
  try {
    await mkdirp(dir)
  } catch (error) {
    throw unwritableError(dir, error as NodeJS.ErrnoException, unwritable)
  }
  const tmp = join(dir, `.${basename(dest)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`)
  let handle: FileHandle | undefined
  try {
    // Cheap early answer; the link below is what actually guarantees no clobbering.
    if (!opts.overwrite && (await pathExists(dest))) throw existsError(dest)
    handle = await open(tmp, 'wx', opts.mode ?? 0o666)
    await handle.writeFile(content)
    await handle.sync()
    await handle.close()
    handle = undefined
    if (opts.overwrite) await rename(tmp, dest)
    else await linkNoClobber(tmp, dest)
  } catch (error) {
    throw mapWriteError(dest, dir, error as NodeJS.ErrnoException, unwritable)
  } finally {
    await handle?.close().catch(() => undefined)
    // Gone already after a successful rename; after link, or on any failure, it must go now.
    await rm(tmp, {force: true}).catch(() => undefined)
  }
}

/**
 * mkdir -p, creating missing directories with mode 0o700. Not `mkdir({recursive: true})`: Node's
 * recursive mkdir spins forever when a parent exists but cannot hold children (procfs, a dangling
 * symlink), because it reads every ENOENT as "create the parent first". This walks up once to the
 * first existing ancestor, then down once, so every failure is final.
 */
/** mkdir -p with mode 0700 for what it creates; walks up once, then down (fs.mkdir recursive can spin forever under /proc). */
export async function mkdirp(dir: string): Promise<void> {
  const missing: string[] = []
  for (let cur = dir; ; cur = dirname(cur)) {
    try {
      if (!(await stat(cur)).isDirectory()) throw Object.assign(new Error(`${cur} is not a directory`), {code: 'ENOTDIR'})
      break
    } catch (error) {
      const err = error as NodeJS.ErrnoException
      if (err.code !== 'ENOENT' || dirname(cur) === cur) throw err
      missing.push(cur)
    }
  }
  for (const d of missing.reverse()) {
    try {
      await mkdir(d, {mode: 0o700})
    } catch (error) {
      // Created meanwhile by someone else: fine; anything else (or a non-dir) fails on the next step.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
  }
}

/** link() fails with EEXIST if the destination exists: an exclusive, atomic publish. */
async function linkNoClobber(tmp: string, dest: string): Promise<void> {
  try {
    await link(tmp, dest)
  } catch (error) {
    const err = error as NodeJS.ErrnoException
    if (!NO_LINK_CODES.has(err.code ?? '')) throw err
    // No hard links on this file system: check, then rename (a narrow race, but never a torn file).
    if (await pathExists(dest)) throw Object.assign(new Error('destination exists'), {code: 'EEXIST'})
    await rename(tmp, dest)
    return
  }
  await unlink(tmp)
}

/** True when something (file, dir, even a dangling symlink) is at `path`. */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await lstat(path)
    return true
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return false
    throw error
  }
}

function mapWriteError(dest: string, dir: string, error: NodeJS.ErrnoException, unwritable: {code: string; fix: string}): AgentMachineError {
  if (error instanceof AgentMachineError) return error
  if (error.code === 'EEXIST') return existsError(dest)
  if (error.code === 'EISDIR') {
    return usageError('DESTINATION_IS_DIRECTORY', `${dest} is a directory`, 'pass a file path with --output <path>', {path: dest})
  }
  if (UNWRITABLE_CODES.has(error.code ?? '')) return unwritableError(dir, error, unwritable)
  return unexpectedFailure('WRITE_FAILED', `cannot write ${dest}: ${error.message}`, 'check the destination and try again', {path: dest, errno: error.code ?? null})
}

function existsError(dest: string): AgentMachineError {
  return usageError('DESTINATION_EXISTS', `${dest} already exists`, 'pass --force to overwrite, or --output <path>', {path: dest})
}

function unwritableError(dir: string, error: NodeJS.ErrnoException, unwritable: {code: string; fix: string}): AgentMachineError {
  return prerequisiteMissing(unwritable.code, `cannot write ${dir}: ${reason(error)}`, unwritable.fix, {path: dir, errno: error.code ?? null})
}

function reason(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied'
    case 'EROFS':
      return 'read-only file system'
    case 'ENOTDIR':
      return 'a component of the path is not a directory'
    case 'ENOENT':
      return 'files cannot be created there'
    case 'ENOSPC':
    case 'EDQUOT':
      return 'no space left'
    default:
      return error.message
  }
}
