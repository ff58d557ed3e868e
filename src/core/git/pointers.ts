/**
 * `.git` entries are never trusted one way (docs/threat-model.md, "Git pointers"). The agent can
 * write a `.git` file (`gitdir: <anywhere>`) into any folder of a read-write mount, or a
 * `commondir` file into a `.git` directory, and both send git — the container's on the next
 * launch, the host's at once — to a directory the user never allowlisted. At launch:
 *   - a `.git` directory that holds `commondir` or `gitdir` is refused: git porcelain never makes
 *     one, and git would read another directory's config and hooks through it;
 *   - a `.git` file (or symlink) that leads inside the allowlisted mounts (and, for a linked
 *     worktree's gitdir, whose common dir is inside them too) exposes nothing new;
 *   - one that leads outside is accepted only for a linked worktree confirmed both ways: it
 *     names `<common>/worktrees/<name>`, whose `commondir` leads to `<common>` and whose `gitdir`
 *     names this very `.git` file. Anything else is refused.
 */
import {lstat, realpath} from 'node:fs/promises'
import path from 'node:path'

import {policyRefusal} from '../errors.js'
import {parseCommonDir, parseGitFile} from './layout.js'
import {readRegularFile} from './ref-files.js'

const REDIRECTS = ['commondir', 'gitdir'] as const
const MAX_POINTER_BYTES = 4096

async function kind(p: string): Promise<'dir' | 'file' | 'symlink' | 'other' | undefined> {
  try {
    const s = await lstat(p)
    return s.isSymbolicLink() ? 'symlink' : s.isDirectory() ? 'dir' : s.isFile() ? 'file' : 'other'
  } catch {
    return undefined
  }
}

/** A small regular file's text; null for anything else (a link, a FIFO, too big, missing). */
async function readSmall(p: string): Promise<string | null> {
  return readRegularFile(p, MAX_POINTER_BYTES).catch(() => null)
}

function isInsideOrSame(parent: string, child: string): boolean {
  const rel = path.relative(parent, child)
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel))
}

function refuse(entry: string, why: string): never {
  throw policyRefusal(
    'GIT_POINTER_UNCONFIRMED',
    `${entry} ${why}: git would read config and hooks from there, so it is not mounted.`,
    `look at it, then remove it if you did not make it (mv ${JSON.stringify(entry)} ${JSON.stringify(`${entry}.suspect`)}), or allowlist the folder it points to`,
  )
}

/** Is the linked worktree at `gitDir` (`<common>/worktrees/<name>`) confirmed to belong to `entry`? */
async function confirmedBothWays(entry: string, gitDir: string): Promise<string | null> {
  const commonText = await readSmall(path.join(gitDir, 'commondir'))
  const common = commonText === null ? null : parseCommonDir(commonText)
  if (common === null) return 'points at a directory that is not a linked worktree’s gitdir (no commondir)'
  const commonDir = await realpath(path.resolve(gitDir, common)).catch(() => null)
  if (commonDir === null) return `points at a gitdir whose commondir (${common}) does not exist`
  const expected = await realpath(path.join(commonDir, 'worktrees', path.basename(gitDir))).catch(() => null)
  if (expected !== gitDir) return `points at ${gitDir}, which is not listed under ${path.join(commonDir, 'worktrees')}`
  const backText = await readSmall(path.join(gitDir, 'gitdir'))
  const back = backText === null ? null : backText.split('\n', 1)[0]!.replace(/\r$/, '')
  if (!back) return `points at ${gitDir}, whose gitdir file does not point back`
  const backPath = path.resolve(gitDir, back)
  const [backReal, entryReal] = await Promise.all([realpath(backPath).catch(() => backPath), realpath(entry).catch(() => entry)])
  if (backReal !== entryReal) return `points at ${gitDir}, which belongs to ${backPath}, not to this checkout`
  return null
}

/**
 * Judges every `.git` entry found in the mounts (absolute host paths) against the mounts' roots
 * (realpath-resolved). Throws a policy refusal (exit 3) for the first that cannot be trusted.
 */
export async function judgeGitEntries(entries: ReadonlyArray<{path: string}>, mountRoots: readonly string[]): Promise<void> {
  const insideMounts = (p: string): boolean => mountRoots.some((r) => isInsideOrSame(r, p))
  for (const {path: entry} of entries) {
    const k = await kind(entry)
    if (k === 'dir') {
      for (const name of REDIRECTS) {
        if ((await kind(path.join(entry, name))) !== undefined) refuse(entry, `is a git dir with a ${name} file (git porcelain never writes one there)`)
      }
      continue
    }
    if (k === 'symlink') {
      const target = await realpath(entry).catch(() => null)
      if (target === null) continue // dangling: git finds no repo there
      if (!insideMounts(target)) refuse(entry, `is a symlink to ${target}, outside the allowlisted mounts`)
      continue
    }
    if (k !== 'file') continue
    const text = await readSmall(entry)
    const written = text === null ? null : parseGitFile(text)
    if (written === null) continue // not a pointer: git ignores it (the layout reader warns)
    const lexical = path.resolve(path.dirname(entry), written)
    const gitDir = await realpath(lexical).catch(() => null)
    if (gitDir === null) continue // leads nowhere: nothing is mounted for it
    // A gitdir with a commondir is a linked worktree's: its common dir is mounted too, so it is
    // the common dir that must be inside the mounts, or the link confirmed both ways.
    const commonFile = path.join(gitDir, 'commondir')
    const commonText = await readSmall(commonFile)
    // git reads a commondir through a symlink too: one that is not a plain small file is refused.
    if (commonText === null && (await kind(commonFile)) !== undefined) refuse(entry, `points at ${gitDir}, whose commondir is not a plain file`)
    const common = commonText === null ? null : parseCommonDir(commonText)
    const commonDir = common === null ? null : await realpath(path.resolve(lexical, common)).catch(() => null)
    if (insideMounts(gitDir) && (common === null || (commonDir !== null && insideMounts(commonDir)))) continue
    const why = await confirmedBothWays(entry, gitDir)
    if (why) refuse(entry, why)
  }
}
