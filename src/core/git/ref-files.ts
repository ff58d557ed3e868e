/**
 * A repository's HEAD, refs and layout read from its files, without running git (docs/worktrees.md,
 * "Dry runs"). Git reads config, and config can name programs (fsmonitor, filters, hooks): anything
 * the agent may have written in a repo is hostile input for git on the host. Files are data, so
 * `--worktree` plans (a dry run and a real run alike) read what they need here:
 *
 *   - every file is opened without following a symlink at its last component and without blocking
 *     on a FIFO, must be a regular file, and is size-capped;
 *   - every directory on the way from a git dir to a ref file must be a real directory (no symlink);
 *   - what cannot be read with certainty (a reftable repo, a `commondir` redirect in a normal `.git`,
 *     a linked worktree whose common dir does not point back) is refused, never guessed.
 */
import {constants} from 'node:fs'
import {lstat, open, readdir, realpath} from 'node:fs/promises'
import path from 'node:path'

/** A ref name or pointer that cannot be read with certainty. `kind` decides the exit code. */
export class RefFileError extends Error {
  constructor(
    message: string,
    readonly kind: 'unreadable' | 'redirect' = 'unreadable',
  ) {
    super(message)
    this.name = 'RefFileError'
  }
}

const SMALL_FILE_MAX = 64 * 1024
const PACKED_REFS_MAX = 256 * 1024 * 1024
/** Loose branch refs read for the clash check before the walk gives up (a clear refusal). */
const BRANCH_WALK_MAX = 200_000

const OID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/

/**
 * The content of a regular file, or null when it does not exist. A symlink, a FIFO, a device or a
 * file larger than `max` is an error: nothing here follows a link or waits on a pipe.
 */
export async function readRegularFile(p: string, max = SMALL_FILE_MAX): Promise<string | null> {
  let fh
  try {
    fh = await open(p, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return null
    if (code === 'ELOOP') throw new RefFileError(`${p} is a symlink`)
    throw new RefFileError(`cannot read ${p}: ${(error as Error).message}`)
  }
  try {
    const s = await fh.stat()
    if (!s.isFile()) throw new RefFileError(`${p} is not a regular file`)
    if (s.size > max) throw new RefFileError(`${p} is larger than ${max} bytes`)
    return await fh.readFile('utf8')
  } finally {
    await fh.close()
  }
}

/** What `p` is, by lstat (never followed); undefined when missing. */
export async function kindOf(p: string): Promise<'dir' | 'file' | 'symlink' | 'other' | undefined> {
  try {
    const s = await lstat(p)
    return s.isSymbolicLink() ? 'symlink' : s.isDirectory() ? 'dir' : s.isFile() ? 'file' : 'other'
  } catch {
    return undefined
  }
}

/** A loose ref's content: an object id, or `ref: <name>` (a symbolic ref). */
export function parseRefContent(content: string, where: string): {oid: string} | {symref: string} {
  const line = content.replace(/\r?\n$/, '')
  if (OID.test(line)) return {oid: line}
  const m = /^ref: (refs\/[^\s]+|HEAD)$/.exec(line)
  if (m) return {symref: m[1]!}
  throw new RefFileError(`${where} holds neither an object id nor "ref: refs/…"`)
}

/** The `<oid> <refname>` lines of a packed-refs file (peeled `^` lines and the header skipped). */
export function parsePackedRefs(content: string, where: string): Map<string, string> {
  const refs = new Map<string, string>()
  for (const raw of content.split('\n')) {
    const line = raw.replace(/\r$/, '')
    if (line === '' || line.startsWith('#') || line.startsWith('^')) continue
    const m = /^([0-9a-f]{40}|[0-9a-f]{64}) (refs\/\S+)$/.exec(line)
    if (!m) throw new RefFileError(`${where} has a line that is not "<object id> refs/…"`)
    refs.set(m[2]!, m[1]!)
  }
  return refs
}

/**
 * The loose ref file `<gitDir>/<refname>`: null when missing. Every directory between `gitDir` and
 * the file must be a real directory, and the file a regular file (a symlinked `refs/heads/agent`
 * would make git read a ref from anywhere).
 */
export async function readLooseRef(gitDir: string, refname: string): Promise<{oid: string} | {symref: string} | null> {
  const parts = refname.split('/')
  if (parts.some((s) => s === '' || s === '.' || s === '..')) throw new RefFileError(`${refname} is not a ref name`)
  let dir = gitDir
  for (const part of parts.slice(0, -1)) {
    dir = path.join(dir, part)
    const kind = await kindOf(dir)
    if (kind === undefined) return null
    if (kind !== 'dir') throw new RefFileError(`${dir} is ${kind === 'symlink' ? 'a symlink' : 'not a directory'}`)
  }
  const file = path.join(gitDir, refname)
  const kind = await kindOf(file)
  if (kind === undefined) return null
  if (kind === 'dir') return null // a folder of refs (`refs/heads/a` when `a/b` exists): no ref here
  const content = await readRegularFile(file)
  return content === null ? null : parseRefContent(content, file)
}

/** The packed refs of a git dir (empty when it has no packed-refs file). */
export async function readPackedRefs(gitDir: string): Promise<Map<string, string>> {
  const file = path.join(gitDir, 'packed-refs')
  const content = await readRegularFile(file, PACKED_REFS_MAX)
  return content === null ? new Map() : parsePackedRefs(content, file)
}

/** A ref's object id, loose before packed, following symbolic refs a few levels; null when unborn. */
export async function resolveRef(refsDir: string, refname: string, packed?: Map<string, string>): Promise<string | null> {
  let name = refname
  for (let depth = 0; depth < 5; depth++) {
    const loose = await readLooseRef(refsDir, name)
    if (loose && 'oid' in loose) return loose.oid
    if (loose && 'symref' in loose) {
      name = loose.symref
      continue
    }
    packed ??= await readPackedRefs(refsDir)
    return packed.get(name) ?? null
  }
  throw new RefFileError(`${refname} is a chain of more than 5 symbolic refs`)
}

/** Every local branch (short names): loose refs under refs/heads, and packed ones. */
export async function listBranches(commonDir: string, packed?: Map<string, string>): Promise<string[]> {
  const names = new Set<string>()
  const heads = path.join(commonDir, 'refs', 'heads')
  let seen = 0
  const walk = async (dir: string, prefix: string): Promise<void> => {
    let entries
    try {
      entries = await readdir(dir, {withFileTypes: true})
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
      throw new RefFileError(`cannot list ${dir}: ${(error as Error).message}`)
    }
    for (const e of entries) {
      if (++seen > BRANCH_WALK_MAX) throw new RefFileError(`${heads} holds more than ${BRANCH_WALK_MAX} entries`)
      const name = `${prefix}${e.name}`
      // A folder is walked; anything else (a file, a symlink) counts as a name that is taken.
      if (e.isDirectory()) await walk(path.join(dir, e.name), `${name}/`)
      else names.add(name)
    }
  }
  if ((await kindOf(heads)) === 'symlink') throw new RefFileError(`${heads} is a symlink`)
  await walk(heads, '')
  for (const ref of (packed ?? (await readPackedRefs(commonDir))).keys()) {
    if (ref.startsWith('refs/heads/')) names.add(ref.slice('refs/heads/'.length))
  }
  return [...names].sort()
}

/** The `gitdir: <path>` of a `.git` file (first line), or null. */
function parseGitPointer(content: string): string | null {
  const first = content.split('\n', 1)[0]!.replace(/\r$/, '')
  const m = /^gitdir: ?(.+)$/.exec(first)
  return m && m[1]!.trim() !== '' ? m[1]! : null
}

export interface RepoFiles {
  /** The checkout's top level (the folder holding `.git`), realpath-resolved. */
  toplevel: string
  /** Its own git dir (HEAD, index). */
  gitDir: string
  /** Where refs and objects live (the git dir itself, or a linked worktree's common dir). */
  commonDir: string
  kind: 'repo' | 'linked' | 'gitfile'
}

/**
 * The repository around `dir` (realpath-resolved): the nearest folder at or above it that has a
 * `.git`, the way git would find it, or null when there is none. Refuses (`redirect`) a `.git`
 * directory that holds a `commondir` file (git would take its refs, objects and config from
 * there) and a linked worktree whose common dir does not name this checkout back.
 */
export async function locateRepo(dir: string): Promise<RepoFiles | null> {
  for (let cur = dir; ; cur = path.dirname(cur)) {
    const dotGit = path.join(cur, '.git')
    const kind = await kindOf(dotGit)
    if (kind !== undefined) return repoAt(cur, dotGit, kind)
    if (path.dirname(cur) === cur) return null
  }
}

async function repoAt(toplevel: string, dotGit: string, kind: 'dir' | 'file' | 'symlink' | 'other'): Promise<RepoFiles> {
  if (kind === 'other') throw new RefFileError(`${dotGit} is neither a folder nor a file`)
  // A symlinked .git: git names its objects by the link, the container could only see the target.
  if (kind === 'symlink') throw new RefFileError(`${dotGit} is a symlink (replace it with the folder, or a "gitdir:" file)`)
  if (kind === 'dir') {
    const gitDir = dotGit
    if ((await kindOf(path.join(gitDir, 'commondir'))) !== undefined) {
      throw new RefFileError(`${gitDir} holds a commondir file: git would read this repo's refs, objects and config from another folder`, 'redirect')
    }
    return {toplevel, gitDir, commonDir: gitDir, kind: 'repo'}
  }
  const written = parseGitPointer((await readRegularFile(dotGit)) ?? '')
  if (written === null) throw new RefFileError(`${dotGit} is a file but not a git pointer ("gitdir: <path>")`)
  const gitDirLexical = path.resolve(toplevel, written)
  const gitDir = await realpath(gitDirLexical).catch(() => null)
  if (gitDir === null || (await kindOf(gitDir)) !== 'dir') throw new RefFileError(`${dotGit} points at ${gitDirLexical}, which is not a folder`)
  const commonWritten = await readRegularFile(path.join(gitDir, 'commondir'))
  if (commonWritten === null) return {toplevel, gitDir, commonDir: gitDir, kind: 'gitfile'}
  const commonLine = commonWritten.split('\n', 1)[0]!.replace(/\r$/, '')
  const commonDir = commonLine === '' ? null : await realpath(path.resolve(gitDirLexical, commonLine)).catch(() => null)
  if (commonDir === null || (await kindOf(commonDir)) !== 'dir') throw new RefFileError(`${gitDir}/commondir names ${commonLine}, which is not a folder`)
  // Both directions: the pointer leads to <common>/worktrees/<name>, and that names this checkout back.
  const back = ((await readRegularFile(path.join(gitDir, 'gitdir'))) ?? '').split('\n', 1)[0]!.replace(/\r$/, '')
  const backReal = back === '' ? null : await realpath(path.resolve(gitDir, back)).catch(() => null)
  const name = path.relative(path.join(commonDir, 'worktrees'), gitDir)
  if (backReal === null || backReal !== (await realpath(dotGit)) || name === '' || name.startsWith('..') || name.includes('/')) {
    throw new RefFileError(`${dotGit} points at ${gitDir}, but that is not a worktree of ${commonDir} that names ${dotGit} back`, 'redirect')
  }
  return {toplevel, gitDir, commonDir, kind: 'linked'}
}

export interface RepoHead {
  /** HEAD's commit, or null when the branch has no commits yet. */
  commit: string | null
  /** The branch HEAD is on (short name), or null when detached. */
  branch: string | null
}

/** HEAD of a located repo: `<gitDir>/HEAD`, resolved in the common dir. */
export async function readHead(repo: RepoFiles, packed?: Map<string, string>): Promise<RepoHead> {
  const file = path.join(repo.gitDir, 'HEAD')
  const content = await readRegularFile(file)
  if (content === null) throw new RefFileError(`${file} is missing`)
  const head = parseRefContent(content, file)
  if ('oid' in head) return {commit: head.oid, branch: null}
  if (!head.symref.startsWith('refs/heads/')) throw new RefFileError(`${file} points at ${head.symref}, not at a branch`)
  // A reftable repo keeps a placeholder HEAD; its refs are not files.
  if (head.symref === 'refs/heads/.invalid' || (await kindOf(path.join(repo.commonDir, 'reftable'))) !== undefined) {
    throw new RefFileError(`${repo.commonDir} keeps its refs in a reftable, which this CLI does not read`)
  }
  return {commit: await resolveRef(repo.commonDir, head.symref, packed), branch: head.symref.slice('refs/heads/'.length)}
}
