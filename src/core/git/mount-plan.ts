/**
 * Which extra bind mounts make git work in the container while its internals stay read-only
 * (issue 6; docs/worktrees.md). Pure: from a GitLayout (layout.ts) and where its checkout is
 * mounted, to a list of mounts. Later mounts sit on top of earlier ones (podman orders them by
 * depth), so a read-only file inside a read-write dir is read-only.
 *
 * A normal repo mounted rw:
 *   <repo>/.git                 rw   its own mount point: .git can't be renamed away and replaced
 *   <repo>/.git/hooks           ro   (created empty first when missing: else the agent could create it)
 *   <repo>/.git/config          ro
 *   <repo>/.git/config.worktree ro   (when present)
 *   <repo>/.git/worktrees       ro   other worktrees' commondir/gitdir pointers (when present)
 *   <repo>/.git/modules         ro   submodules' own hooks and config (when present)
 * A linked worktree mounted rw (its gitdir is `<common>/worktrees/<name>`):
 *   <worktree>/.git             ro   the pointer file
 *   <common>                    ro   at the path git expects: hooks, config, other worktrees, packed-refs
 *   <common>/worktrees/<name>   rw   this worktree's HEAD, index, logs
 *     …/commondir, …/gitdir     ro   the pointers (commondir decides which config the host reads)
 *     …/config.worktree, …/modules  ro (when present)
 *   <common>/objects, /refs, /logs  rw   what a commit writes (logs created first when missing)
 * Read-only checkouts get only what git needs to read: the common dir (linked) or the gitdir.
 */
import path from 'node:path'

import type {HostPlatform} from '../host/facts.js'
import {isAbsoluteFor, type EntryKind, type Entries, type GitLayout} from './layout.js'

export interface GitMount {
  /** Host path (built from realpath-resolved roots). */
  source: string
  /** Container path. */
  target: string
  mode: 'rw' | 'ro'
  type: 'dir' | 'file'
  /** Missing on the host: an empty directory is created before the launch. */
  create: boolean
}

export interface GitMountPlan {
  mounts: GitMount[]
  warnings: string[]
}

export class GitMountRefusal extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly fix: string,
    readonly kind: 'policy' | 'prerequisite' = 'policy',
  ) {
    super(message)
    this.name = 'GitMountRefusal'
  }
}

export interface GitMountInput {
  layout: GitLayout
  /** Where the checkout root is mounted in the container. */
  rootTarget: string
  mode: 'rw' | 'ro'
  platform: HostPlatform
}

export function planGitMounts(input: GitMountInput): GitMountPlan {
  const {layout, rootTarget, mode, platform} = input
  const host = platform === 'windows' ? path.win32 : path.posix
  const mounts: GitMount[] = []
  const warnings: string[] = []
  const add = (source: string, target: string, m: 'rw' | 'ro', type: 'dir' | 'file', create = false): void => {
    mounts.push({source, target, mode: m, type, create})
  }

  if (layout.kind === 'none') return {mounts, warnings}

  if (layout.kind === 'repo') {
    if (mode === 'ro') return {mounts, warnings}
    if (layout.dotGitIsSymlink) {
      throw new GitMountRefusal(
        'GIT_DIR_SYMLINK',
        `${layout.gitDir} is a symlink, so its hooks and config cannot be made read-only in the container.`,
        'replace the symlink with the git dir itself (or mount the checkout read-only)',
      )
    }
    add(layout.gitDir, posixJoin(rootTarget, '.git'), 'rw', 'dir')
    protectGitDir(layout.gitDir, posixJoin(rootTarget, '.git'), layout.entries, host, add)
    return {mounts, warnings}
  }

  const gitDirTarget = containerPath(layout.gitDirWritten, rootTarget, platform)
  if (gitDirTarget === null) {
    // A Windows host writes `gitdir: C:/…`: no Linux path inside the container can match it.
    warnings.push(`${layout.dotGit} points at ${layout.gitDirWritten}, a Windows path git inside the container cannot follow: git will not work there for ${layout.root}`)
    if (mode === 'rw') add(layout.dotGit, posixJoin(rootTarget, '.git'), 'ro', 'file')
    return {mounts, warnings}
  }

  if (layout.kind === 'gitfile') {
    if (mode === 'ro') {
      add(layout.gitDir, gitDirTarget, 'ro', 'dir')
      return {mounts, warnings}
    }
    add(layout.dotGit, posixJoin(rootTarget, '.git'), 'ro', 'file')
    add(layout.gitDir, gitDirTarget, 'rw', 'dir')
    protectGitDir(layout.gitDir, gitDirTarget, layout.entries, host, add)
    return {mounts, warnings}
  }

  // linked worktree
  const commonTarget = isAbsoluteFor(layout.commonDirWritten, platform)
    ? containerPath(layout.commonDirWritten, rootTarget, platform)
    : path.posix.resolve(gitDirTarget, toPosix(layout.commonDirWritten))
  if (commonTarget === null) {
    warnings.push(`${layout.gitDir}/commondir names ${layout.commonDirWritten}, a Windows path git inside the container cannot follow: git will not work there for ${layout.root}`)
    if (mode === 'rw') add(layout.dotGit, posixJoin(rootTarget, '.git'), 'ro', 'file')
    return {mounts, warnings}
  }
  const gitDirInsideCommon = isInside(layout.commonDir, layout.gitDir, host) && isInside(commonTarget, gitDirTarget, path.posix)
  if (mode === 'ro') {
    add(layout.commonDir, commonTarget, 'ro', 'dir')
    if (!gitDirInsideCommon) add(layout.gitDir, gitDirTarget, 'ro', 'dir')
    return {mounts, warnings}
  }

  add(layout.dotGit, posixJoin(rootTarget, '.git'), 'ro', 'file')
  add(layout.commonDir, commonTarget, 'ro', 'dir')
  add(layout.gitDir, gitDirTarget, 'rw', 'dir')
  const g = layout.gitDirEntries
  const gitDirPart = (name: string) => ({source: host.join(layout.gitDir, name), target: posixJoin(gitDirTarget, name)})
  const commondir = gitDirPart('commondir')
  requireKind(g.commondir, 'file', commondir.source)
  add(commondir.source, commondir.target, 'ro', 'file')
  for (const [name, type] of [['gitdir', 'file'], ['config.worktree', 'file'], ['modules', 'dir']] as const) {
    if (g[name] === undefined) continue
    const part = gitDirPart(name)
    requireKind(g[name], type, part.source)
    add(part.source, part.target, 'ro', type)
  }
  for (const name of ['objects', 'refs', 'logs'] as const) {
    const source = host.join(layout.commonDir, name)
    const kind = layout.commonDirEntries[name]
    // logs appears with the first reflog; git cannot create it under the read-only common dir.
    if (kind === undefined && name === 'logs') {
      add(source, posixJoin(commonTarget, name), 'rw', 'dir', true)
      continue
    }
    if (kind === undefined) throw new GitMountRefusal('GIT_DIR_INCOMPLETE', `${source} is missing: ${layout.commonDir} is not a usable git dir.`, `check the repository with \`git -C ${layout.root} status\``, 'prerequisite')
    requireKind(kind, 'dir', source)
    add(source, posixJoin(commonTarget, name), 'rw', 'dir')
  }
  return {mounts, warnings}
}

/** hooks, config and the pointers to other checkouts of a full git dir, read-only. */
function protectGitDir(
  gitDir: string,
  gitDirTarget: string,
  entries: Entries,
  host: path.PlatformPath,
  add: (source: string, target: string, m: 'rw' | 'ro', type: 'dir' | 'file', create?: boolean) => void,
): void {
  const part = (name: string) => ({source: host.join(gitDir, name), target: posixJoin(gitDirTarget, name)})
  const hooks = part('hooks')
  if (entries.hooks === undefined) add(hooks.source, hooks.target, 'ro', 'dir', true)
  else {
    requireKind(entries.hooks, 'dir', hooks.source)
    add(hooks.source, hooks.target, 'ro', 'dir')
  }
  const config = part('config')
  if (entries.config === undefined) {
    throw new GitMountRefusal('GIT_CONFIG_MISSING', `${config.source} is missing, so it cannot be made read-only in the container.`, `recreate it: git -C ${host.dirname(gitDir)} config core.repositoryformatversion 0`, 'prerequisite')
  }
  requireKind(entries.config, 'file', config.source)
  add(config.source, config.target, 'ro', 'file')
  for (const [name, type] of [['config.worktree', 'file'], ['worktrees', 'dir'], ['modules', 'dir']] as const) {
    if (entries[name] === undefined) continue
    const p = part(name)
    requireKind(entries[name], type, p.source)
    add(p.source, p.target, 'ro', type)
  }
}

function requireKind(kind: EntryKind | undefined, want: 'dir' | 'file', at: string): void {
  if (kind === want) return
  if (kind === 'symlink') {
    throw new GitMountRefusal('GIT_DIR_SYMLINK', `${at} is a symlink, so it cannot be made read-only in the container.`, 'replace the symlink with the real file or folder (or mount the checkout read-only)')
  }
  throw new GitMountRefusal('GIT_DIR_INCOMPLETE', `${at} is ${kind === undefined ? 'missing' : `not a ${want === 'dir' ? 'directory' : 'regular file'}`}.`, 'check the repository with `git status` (a damaged git dir?)', 'prerequisite')
}

/**
 * The container path of a path git wrote: absolute POSIX paths stay as they are (the container
 * gets the same path), relative ones resolve against where the checkout is mounted. An absolute
 * Windows path has no container equivalent: null.
 */
export function containerPath(written: string, rootTarget: string, platform: HostPlatform): string | null {
  if (isAbsoluteFor(written, platform)) {
    if (platform === 'windows') return null
    return path.posix.normalize(written)
  }
  return path.posix.resolve(rootTarget, toPosix(written))
}

function toPosix(p: string): string {
  return p.replace(/\\/g, '/')
}

function posixJoin(a: string, b: string): string {
  return path.posix.join(a, b)
}

function isInside(parent: string, child: string, api: path.PlatformPath): boolean {
  const rel = api.relative(parent, child)
  return rel !== '' && !rel.startsWith('..') && !api.isAbsolute(rel)
}
