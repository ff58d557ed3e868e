/**
 * The trust surface of a read-write mount: every file in it that makes the host's git run a
 * program or read config (docs/threat-model.md, "Plants"). For each `.git` entry in the tree:
 * the entry itself (a pointer file's bytes), and in a git dir its config, config.worktree,
 * commondir, gitdir, hooks/**, an interrupted rebase's todo, worktrees/<name>/{commondir,gitdir,config.worktree}, modules/**
 * (the same for each submodule's git dir), plus what its config points into the mount
 * (core.hooksPath, include.path). Taken before the session and again after it; the difference is
 * what the agent planted (compare.ts).
 *
 * Reads only: lstat, and open(O_NOFOLLOW|O_NONBLOCK) of regular files, so a symlink is recorded as
 * a symlink, never followed, and a FIFO named `config` cannot hang the CLI.
 */
import {createHash} from 'node:crypto'
import {closeSync, constants, fstatSync, lstatSync, openSync, promises as fsp, readdirSync, readFileSync, readlinkSync, type Dirent} from 'node:fs'
import path from 'node:path'

import {parseGitConfig} from '../git/config-file.js'
import {parseGitFile} from '../git/layout.js'

export type ItemKind = 'file' | 'dir' | 'symlink' | 'other'

export interface SurfaceItem {
  kind: ItemKind
  /** sha256 of a regular file's bytes; a symlink's target text. */
  digest?: string
  /** The bytes of a small regular file (base64), so a changed one can be put back. */
  content?: string
  mode?: number
}

export interface Surface {
  /** The mount root (realpath), the key of every item is an absolute path under it. */
  root: string
  items: Record<string, SurfaceItem>
  /** The `.git` entries of the tree (absolute paths): which repos existed. */
  gitEntries: string[]
}

/** Files larger than this are recorded by digest only (no content to restore). */
const KEEP_CONTENT_BYTES = 256 * 1024
/** Larger than this is not a config or a hook: recorded as `other`. */
const READ_LIMIT_BYTES = 16 * 1024 * 1024

const GIT_DIR_FILES = ['config', 'config.worktree', 'commondir', 'gitdir'] as const
/** An interrupted rebase or cherry-pick: `git rebase --continue` runs the todo's `exec` lines. */
const SEQUENCER_DIRS = ['rebase-merge', 'rebase-apply', 'sequencer'] as const
const WORKTREE_FILES = ['commondir', 'gitdir', 'config.worktree'] as const
/** Inside modules/**, these hold data, not instructions: not walked. */
const DATA_DIRS = new Set(['objects', 'refs', 'logs', 'lfs'])

/**
 * Synchronous system calls (the same calls, flags and checks): a surface is a few dozen small
 * files per repo, read before and after every session, and each fs/promises call costs a
 * thread-pool round trip several times the call itself (docs/performance.md).
 */
async function readItem(p: string): Promise<SurfaceItem | undefined> {
  let st
  try {
    st = lstatSync(p)
  } catch {
    return undefined
  }
  if (st.isSymbolicLink()) {
    let target = ''
    try {
      target = readlinkSync(p)
    } catch {
      // unreadable: recorded as an empty target
    }
    return {kind: 'symlink', digest: target}
  }
  if (st.isDirectory()) return {kind: 'dir', mode: st.mode & 0o7777}
  if (!st.isFile() || st.size > READ_LIMIT_BYTES) return {kind: 'other', mode: st.mode & 0o7777}
  let fd
  try {
    fd = openSync(p, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch {
    return {kind: 'other', mode: st.mode & 0o7777}
  }
  try {
    const fst = fstatSync(fd)
    if (!fst.isFile() || fst.ino !== st.ino || fst.size > READ_LIMIT_BYTES) return {kind: 'other', mode: fst.mode & 0o7777}
    const bytes = readFileSync(fd)
    const item: SurfaceItem = {kind: 'file', digest: createHash('sha256').update(bytes).digest('hex'), mode: fst.mode & 0o7777}
    if (bytes.length <= KEEP_CONTENT_BYTES) item.content = bytes.toString('base64')
    return item
  } finally {
    closeSync(fd)
  }
}

async function listDir(dir: string): Promise<Dirent[]> {
  try {
    return readdirSync(dir, {withFileTypes: true})
  } catch {
    return []
  }
}

/** Everything under `dir` (recursively, not following symlinks), skipping data dirs when asked. */
async function walkInto(dir: string, items: Record<string, SurfaceItem>, skipData: boolean): Promise<void> {
  const item = await readItem(dir)
  if (!item) return
  items[dir] = item
  if (item.kind !== 'dir') return
  await Promise.all(
    (await listDir(dir)).map(async (e) => {
      if (skipData && e.isDirectory() && DATA_DIRS.has(e.name)) return
      await walkInto(path.join(dir, e.name), items, skipData)
    }),
  )
}

function inside(root: string, p: string): boolean {
  const rel = path.relative(root, p)
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel)
}

/** What a git dir's config points at inside the mount (hooks run from there; includes are config). */
function referencedPaths(configText: string, gitDir: string, root: string): string[] {
  const parsed = parseGitConfig(configText)
  if (!parsed.ok) return []
  const workTree = path.dirname(gitDir)
  const out: string[] = []
  for (const e of parsed.entries) {
    if (e.value === null || e.value.startsWith('~')) continue
    let target: string | null = null
    if (e.name === 'core.hookspath') target = path.resolve(workTree, e.value)
    else if ((e.section === 'include' || e.section === 'includeif') && e.key === 'path') target = path.resolve(gitDir, e.value)
    if (target && (target === root || inside(root, target))) out.push(target)
  }
  return out
}

async function collectGitDir(gitDir: string, root: string, items: Record<string, SurfaceItem>): Promise<void> {
  await Promise.all(GIT_DIR_FILES.map(async (name) => addItem(path.join(gitDir, name), items)))
  await walkInto(path.join(gitDir, 'hooks'), items, false)
  await Promise.all(SEQUENCER_DIRS.map(async (name) => walkInto(path.join(gitDir, name), items, false)))
  const worktrees = path.join(gitDir, 'worktrees')
  const wt = await readItem(worktrees)
  if (wt) {
    items[worktrees] = wt
    if (wt.kind === 'dir') {
      for (const e of await listDir(worktrees)) {
        const w = path.join(worktrees, e.name)
        const wi = await readItem(w)
        if (wi) items[w] = wi
        if (wi?.kind === 'dir') await Promise.all(WORKTREE_FILES.map(async (name) => addItem(path.join(w, name), items)))
      }
    }
  }
  await walkInto(path.join(gitDir, 'modules'), items, true)
  const config = items[path.join(gitDir, 'config')]
  if (config?.kind === 'file' && config.content !== undefined) {
    for (const ref of referencedPaths(Buffer.from(config.content, 'base64').toString('utf8'), gitDir, root)) await walkInto(ref, items, false)
  }
}

function pointerTarget(entry: string, item: SurfaceItem): string | null {
  if (item.content === undefined) return null
  const written = parseGitFile(Buffer.from(item.content, 'base64').toString('utf8'))
  return written === null ? null : path.resolve(path.dirname(entry), written)
}

async function addItem(p: string, items: Record<string, SurfaceItem>): Promise<void> {
  const item = await readItem(p)
  if (item) items[p] = item
}

/**
 * The surface of one mount root, given the `.git` entries its scan found. A `.git` directory is
 * collected as a git dir; a `.git` file is recorded by its bytes (its target is judged at launch).
 */
export async function collectSurface(root: string, gitEntries: readonly string[]): Promise<Surface> {
  const items: Record<string, SurfaceItem> = {}
  for (const entry of gitEntries) {
    const item = await readItem(entry)
    if (!item) continue
    items[entry] = item
    if (item.kind === 'dir') await collectGitDir(entry, root, items)
    else if (item.kind === 'file') {
      // A pointer to a git dir inside the mount (a submodule's, a separate git dir): that git
      // dir's config and hooks are part of the surface too.
      const written = pointerTarget(entry, item)
      const target = written === null ? null : await fsp.realpath(written).catch(() => null)
      if (target && inside(root, target) && (await readItem(target))?.kind === 'dir') {
        items[target] = {kind: 'dir'}
        await collectGitDir(target, root, items)
      }
    }
  }
  return {root, items, gitEntries: [...gitEntries].sort()}
}
