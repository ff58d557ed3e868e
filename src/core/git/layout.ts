/**
 * Where a checkout keeps its git internals, read from the file system (no git needed, so every
 * launch can afford it). Four shapes:
 *
 *   repo      `<root>/.git` is a directory (a normal clone)
 *   linked    `<root>/.git` is a FILE `gitdir: <common>/worktrees/<name>`, and that gitdir has a
 *             `commondir` file (a linked worktree: `git worktree add`)
 *   gitfile   `<root>/.git` is a file pointing at a full git dir elsewhere (`--separate-git-dir`,
 *             a submodule checkout)
 *   none      no `.git` at the root
 *
 * The paths git wrote are kept as written (absolute or relative): inside the container they must
 * resolve to the same places, so they become the mount targets (see mount-plan.ts).
 */
import {lstat, realpath} from 'node:fs/promises'
import path from 'node:path'

import type {HostPlatform} from '../host/facts.js'
import {readRegularFile} from './ref-files.js'

/** What one entry of a git dir is, by lstat (a symlink is never followed). */
export type EntryKind = 'dir' | 'file' | 'symlink' | 'other'
export type Entries = Partial<Record<string, EntryKind>>

/** Entries of a full git dir that decide what the host runs or trusts. */
export const GIT_DIR_ENTRIES = ['hooks', 'config', 'config.worktree', 'worktrees', 'modules'] as const
/** Entries of a linked worktree's own gitdir (`<common>/worktrees/<name>`). */
export const WORKTREE_GITDIR_ENTRIES = ['commondir', 'gitdir', 'config.worktree', 'modules'] as const
/** Entries of the common dir a commit in a linked worktree writes to. */
export const COMMON_DIR_ENTRIES = ['objects', 'refs', 'logs'] as const

export type GitLayout =
  | {kind: 'none'; root: string}
  | {
      kind: 'repo'
      root: string
      /** `<root>/.git` (root is realpath-resolved). */
      gitDir: string
      /** `.git` itself is a symlink to a directory elsewhere. */
      dotGitIsSymlink: boolean
      entries: Entries
    }
  | {
      kind: 'linked'
      root: string
      /** `<root>/.git`, the pointer file. */
      dotGit: string
      /** The `gitdir:` value exactly as written (absolute, or relative to root). */
      gitDirWritten: string
      /** The `commondir` value exactly as written (usually `../..`: relative to the gitdir). */
      commonDirWritten: string
      /** Host paths, realpath-resolved. */
      gitDir: string
      commonDir: string
      gitDirEntries: Entries
      commonDirEntries: Entries
    }
  | {
      kind: 'gitfile'
      root: string
      dotGit: string
      gitDirWritten: string
      gitDir: string
      entries: Entries
    }

/** The path in a `.git` file (`gitdir: <path>`), or null when the content is not a gitfile. */
export function parseGitFile(content: string): string | null {
  const first = content.split('\n', 1)[0]!.replace(/\r$/, '')
  const m = /^gitdir: ?(.+)$/.exec(first)
  return m && m[1]!.trim() !== '' ? m[1]! : null
}

/** A `commondir` file: one path, relative to the gitdir or absolute. */
export function parseCommonDir(content: string): string | null {
  const first = content.split('\n', 1)[0]!.replace(/\r$/, '')
  return first.trim() === '' ? null : first
}

/** Is `p` absolute on the host that wrote it? (`C:/x` and `C:\x` on Windows, `/x` elsewhere.) */
export function isAbsoluteFor(p: string, platform: HostPlatform): boolean {
  return platform === 'windows' ? path.win32.isAbsolute(p) : path.posix.isAbsolute(p)
}

function api(platform: HostPlatform): path.PlatformPath {
  return platform === 'windows' ? path.win32 : path.posix
}

async function kindOf(p: string): Promise<EntryKind | undefined> {
  try {
    const s = await lstat(p)
    return s.isSymbolicLink() ? 'symlink' : s.isDirectory() ? 'dir' : s.isFile() ? 'file' : 'other'
  } catch {
    return undefined
  }
}

/** Which of `names` exist in `dir`, and as what (lstat). */
export async function entriesOf(dir: string, names: readonly string[], platform: HostPlatform): Promise<Entries> {
  const out: Entries = {}
  await Promise.all(
    names.map(async (name) => {
      const kind = await kindOf(api(platform).join(dir, name))
      if (kind) out[name] = kind
    }),
  )
  return out
}

export class GitLayoutError extends Error {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message)
    this.name = 'GitLayoutError'
  }
}

/**
 * Reads the layout of the checkout at `root` (an absolute, realpath-resolved directory). Throws
 * GitLayoutError when a `.git` file is unreadable or points nowhere (a broken worktree).
 */
export async function readGitLayout(root: string, platform: HostPlatform): Promise<GitLayout> {
  const p = api(platform)
  const dotGit = p.join(root, '.git')
  const kind = await kindOf(dotGit)
  if (kind === undefined || kind === 'other') return {kind: 'none', root}
  if (kind === 'dir' || kind === 'symlink') {
    if (kind === 'symlink') {
      // A symlinked .git counts as a repo only when it leads to a directory.
      const target = await realpath(dotGit).catch(() => null)
      if (target === null || (await kindOf(target)) !== 'dir') return {kind: 'none', root}
    }
    return {kind: 'repo', root, gitDir: dotGit, dotGitIsSymlink: kind === 'symlink', entries: await entriesOf(dotGit, GIT_DIR_ENTRIES, platform)}
  }

  let written: string | null
  try {
    // Never follows a link or waits on a FIFO the agent put in its place.
    const text = await readRegularFile(dotGit)
    written = text === null ? null : parseGitFile(text)
  } catch (error) {
    throw new GitLayoutError(`cannot read ${dotGit}: ${(error as Error).message}`, dotGit)
  }
  if (written === null) throw new GitLayoutError(`${dotGit} is a file but not a git pointer ("gitdir: <path>")`, dotGit)
  const gitDirLexical = p.resolve(root, written)
  const gitDir = await realpath(gitDirLexical).catch(() => null)
  if (gitDir === null || (await kindOf(gitDir)) !== 'dir') {
    throw new GitLayoutError(`${dotGit} points at ${gitDirLexical}, which does not exist (a worktree whose repository moved or was pruned?)`, dotGit)
  }

  let commonWritten: string | null = null
  try {
    const text = await readRegularFile(p.join(gitDir, 'commondir'))
    commonWritten = text === null ? null : parseCommonDir(text)
  } catch {
    commonWritten = null
  }
  if (commonWritten === null) {
    return {kind: 'gitfile', root, dotGit, gitDirWritten: written, gitDir, entries: await entriesOf(gitDir, GIT_DIR_ENTRIES, platform)}
  }
  // git resolves commondir against the gitdir as named (not its realpath).
  const commonLexical = p.resolve(gitDirLexical, commonWritten)
  const commonDir = await realpath(commonLexical).catch(() => null)
  if (commonDir === null || (await kindOf(commonDir)) !== 'dir') {
    throw new GitLayoutError(`${p.join(gitDir, 'commondir')} points at ${commonLexical}, which does not exist`, p.join(gitDir, 'commondir'))
  }
  const [gitDirEntries, commonDirEntries] = await Promise.all([
    entriesOf(gitDir, WORKTREE_GITDIR_ENTRIES, platform),
    entriesOf(commonDir, COMMON_DIR_ENTRIES, platform),
  ])
  return {kind: 'linked', root, dotGit, gitDirWritten: written, commonDirWritten: commonWritten, gitDir, commonDir, gitDirEntries, commonDirEntries}
}

/**
 * The checkout root at or above `dir` and at or below `limit` (both realpath-resolved): the first
 * folder on the way up that has a `.git`. Null when there is none inside the limit.
 */
export async function findCheckoutRoot(dir: string, limit: string, platform: HostPlatform): Promise<string | null> {
  const p = api(platform)
  const rel = p.relative(limit, dir)
  if (rel.startsWith('..') || p.isAbsolute(rel)) return null
  for (let cur = dir; ; cur = p.dirname(cur)) {
    if ((await kindOf(p.join(cur, '.git'))) !== undefined) return cur
    if (cur === limit || p.dirname(cur) === cur) return null
  }
}
