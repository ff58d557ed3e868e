/**
 * `run|shell --worktree`: the agent works in its OWN clone of --repo, on a new branch, under the
 * state dir (docs/worktrees.md). The clone borrows the user's objects read-only (git alternates), so
 * no ref of the user's repo is reachable from the container; after the session the CLI brings the
 * one branch back with a fetch that runs no git in the clone (src/core/launch/bring-back.ts).
 *
 * Planning reads the user's repo from its files (ref-files.ts), never with git: the same plan in a
 * dry run and a real run, and a dry run runs no git at all. Every git command a real run executes is
 * built here, as a plan step, and runs through the hardened host git (host-git.ts).
 */
import path from 'node:path'

import {policyRefusal, usageError} from '../errors.js'
import {shellQuote} from '../plan/plan.js'
import {hostGitArgv} from './host-git.js'
import {kindOf, listBranches, locateRepo, readHead, readPackedRefs, RefFileError} from './ref-files.js'

export interface BaseRepo {
  /** The checkout's top level (realpath-resolved): the folder holding `.git`. */
  toplevel: string
  /** The common git dir, absolute (where refs and objects live). */
  commonDir: string
  /** `<commonDir>/objects`: the clone borrows it read-only. */
  objectsDir: string
  /** HEAD's commit: the new branch's base. */
  head: string
  /** The branch HEAD is on (short name), or null when detached. */
  branch: string | null
  /** Uncommitted changes in the checkout; null = not known (planning reads no git; the real run's first step checks). */
  dirty: boolean | null
  /** Every local branch (short names), to refuse an existing one. */
  branches: string[]
}

export interface WorktreeFacts {
  /** The user's checkout the branch starts from (its top level, realpath-resolved). Never mounted. */
  repo: string
  /** The agent's clone (under the state dir), mounted in place of the checkout and left for review. */
  path: string
  branch: string
  baseCommit: string
  /** The user's common git dir; only its `objects` is mounted (read-only, at the same path). */
  commonDir: string
  /** Where the clone is mounted in the container (the target the user's checkout had). */
  target: string
}

/** One hardened host git call: `git <hardening> -C <dir> <args>` (host-git.ts). */
export interface GitCall {
  dir: string
  args: string[]
}

export function gitCallArgv(call: GitCall): string[] {
  return hostGitArgv(call.dir, call.args)
}

/**
 * Reads the repo around `dir` from its files. Refuses (exit 2) a folder that is not inside a git
 * work tree, a repo without commits and a layout that cannot be read with certainty; (exit 3) a
 * `.git` that redirects git elsewhere (a `commondir` in a normal `.git`, a worktree pointer that is
 * not confirmed both ways). `dirty` is null: only git can tell, and planning runs none.
 */
export async function readBaseRepo(dir: string, opts: {within?: string} = {}): Promise<BaseRepo> {
  try {
    const repo = await locateRepo(dir)
    if (!repo) {
      throw usageError('WORKTREE_NOT_A_REPO', `--worktree needs a git repository, and ${dir} is not inside one.`, 'pass the folder of a git checkout as --repo, or drop --worktree')
    }
    // Refused before anything of a repo outside the mount is read.
    const rel = opts.within === undefined ? '' : path.relative(opts.within, repo.toplevel)
    if (rel.startsWith('..') || path.isAbsolute(rel)) {
      throw usageError(
        'WORKTREE_REPO_OUTSIDE_MOUNT',
        `the repo ${repo.toplevel} is larger than the allowlisted mount ${opts.within}: the clone is a copy of the whole repo.`,
        `allow the repo itself: sourceosctl agent-machine init --repo ${shellQuote(repo.toplevel)}`,
      )
    }
    const packed = await readPackedRefs(repo.commonDir)
    const [head, branches] = await Promise.all([readHead(repo, packed), listBranches(repo.commonDir, packed)])
    if (!head.commit) {
      throw usageError('WORKTREE_NO_COMMITS', `${repo.toplevel} has no commits yet: a worktree needs a base commit.`, `commit first: git -C ${shellQuote(repo.toplevel)} commit`)
    }
    const objectsDir = path.join(repo.commonDir, 'objects')
    const objects = await kindOf(objectsDir)
    if (objects !== 'dir') {
      throw usageError('WORKTREE_LAYOUT_UNREADABLE', `${objectsDir} is ${objects === undefined ? 'missing' : objects === 'symlink' ? 'a symlink' : 'not a folder'}: the clone cannot borrow it.`, 'run without --worktree')
    }
    if ((await kindOf(path.join(objectsDir, 'info', 'alternates'))) !== undefined) {
      throw usageError(
        'WORKTREE_LAYOUT_UNREADABLE',
        `${repo.toplevel} borrows objects from other repos (${objectsDir}/info/alternates): the agent's clone could not reach them.`,
        `make the repo self-contained first (git -C ${shellQuote(repo.toplevel)} repack -a -d, then remove objects/info/alternates), or run without --worktree`,
      )
    }
    return {toplevel: repo.toplevel, commonDir: repo.commonDir, objectsDir, head: head.commit, branch: head.branch, dirty: null, branches}
  } catch (error) {
    if (!(error instanceof RefFileError)) throw error
    if (error.kind === 'redirect') {
      throw policyRefusal('WORKTREE_GIT_REDIRECT', `--worktree cannot trust ${dir}'s git files: ${error.message}.`, 'inspect the .git folder (something may have planted it), or run without --worktree')
    }
    throw usageError('WORKTREE_LAYOUT_UNREADABLE', `--worktree cannot read ${dir}'s git files: ${error.message}.`, 'run without --worktree (or check the repository with git status)')
  }
}

/** `agent/<tool|shell>-<UTC YYYYMMDD-HHMMSS>`. */
export function defaultBranchName(label: string, now: Date): string {
  const iso = now.toISOString() // 2025-01-31T12:34:56.789Z
  const stamp = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}-${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}`
  return `agent/${label}-${stamp}`
}

/**
 * Why git would reject `name` as a new branch (`git check-ref-format --branch`), or null. Pure:
 * the rules of git's check_refname_format for `refs/heads/<name>`, plus a leading `-`, `HEAD`
 * and `@{` (git would expand `@{-1}` to another branch).
 */
export function branchNameProblem(name: string): string | null {
  if (name === '') return 'it is empty'
  if (name.startsWith('-')) return 'it starts with -'
  if (name === 'HEAD' || name === '@') return `${name} is reserved`
  // eslint-disable-next-line no-control-regex
  const bad = /[\u0000-\u001f\u007f ~^:?*[\\]/.exec(name)
  if (bad) return `it contains ${JSON.stringify(bad[0])}`
  if (name.includes('..')) return 'it contains ..'
  if (name.includes('@{')) return 'it contains @{'
  if (name.startsWith('/') || name.endsWith('/') || name.includes('//')) return 'it has an empty part between slashes'
  if (name.endsWith('.')) return 'it ends with .'
  for (const part of name.split('/')) {
    if (part.startsWith('.')) return `the part ${JSON.stringify(part)} starts with .`
    if (part.endsWith('.lock')) return `the part ${JSON.stringify(part)} ends with .lock`
  }
  return null
}

/**
 * Refuses (exit 2) a branch name git rejects, an existing branch, and one that clashes with an
 * existing branch as a directory (`a` exists, `a/b` asked, or the reverse). Pure.
 */
export function checkNewBranch(repo: Pick<BaseRepo, 'toplevel' | 'branches'>, name: string, opts: {caseInsensitive?: boolean} = {}): void {
  const problem = branchNameProblem(name)
  if (problem) {
    throw usageError('WORKTREE_BRANCH_INVALID', `--branch ${shellQuote(name)} is not a valid branch name (${problem}).`, 'choose another name, e.g. agent/my-task (see `git check-ref-format --help`)')
  }
  // On a case-insensitive file system `Main` is the loose ref file of `main`: they clash.
  const fold = (b: string) => (opts.caseInsensitive ? b.normalize('NFC').toLowerCase() : b)
  const wanted = fold(name)
  const clash = repo.branches.find((b) => fold(b) === wanted || fold(b).startsWith(`${wanted}/`) || wanted.startsWith(`${fold(b)}/`))
  if (clash === name || (clash !== undefined && fold(clash) === wanted)) {
    throw usageError('WORKTREE_BRANCH_EXISTS', `branch ${name} already exists in ${repo.toplevel}; --worktree always starts a new branch.`, 'pick a new name with --branch (or delete the old branch)')
  }
  if (clash) {
    throw usageError('WORKTREE_BRANCH_EXISTS', `branch ${name} clashes with the existing branch ${clash} in ${repo.toplevel} (one would be a folder of the other).`, 'pick another name with --branch')
  }
}

/** Refuses a dirty base when --clean-base asked for a clean one (exit 3). */
export function checkCleanBase(repo: Pick<BaseRepo, 'toplevel' | 'dirty'>, cleanBase: boolean): void {
  if (cleanBase && repo.dirty) {
    throw policyRefusal(
      'WORKTREE_DIRTY_BASE',
      `${repo.toplevel} has uncommitted changes, and --clean-base asked for a clean base.`,
      `commit or stash them first (git -C ${shellQuote(repo.toplevel)} status), or drop --clean-base: the clone starts from the last commit either way`,
    )
  }
}

/** The clone's folder name: `<repo-name>-<run id>`, in characters git and podman both take. */
export function worktreeDirName(toplevel: string, runId: string): string {
  const base = toplevel.split(/[\\/]/).filter(Boolean).pop() ?? ''
  const name = base.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 48) || 'repo'
  return `${name}-${runId}`
}

/** The bare repo the CLI writes after the session to fetch the branch from (next to the clone, removed after). */
export function bringBackStagePath(clonePath: string): string {
  return `${clonePath}.bring-back.git`
}

/** Reads whether the checkout has uncommitted changes (read-only: no optional locks, so the index is not refreshed). */
export function statusCall(toplevel: string): GitCall {
  return {dir: toplevel, args: ['--no-optional-locks', 'status', '--porcelain', '--untracked-files=normal']}
}

/**
 * The agent's clone: shares the user's objects through `objects/info/alternates` (`--shared`),
 * copies no hooks or templates (`--template=`), checks nothing out yet.
 */
export function cloneCall(toplevel: string, clonePath: string): GitCall {
  return {dir: toplevel, args: ['clone', '--quiet', '--shared', '--no-checkout', '--template=', '--', toplevel, clonePath]}
}

/** The new branch at the base commit, checked out in the clone (the CLI made the clone: nothing of the agent's yet). */
export function checkoutCall(clonePath: string, branch: string, base: string): GitCall {
  return {dir: clonePath, args: ['checkout', '--quiet', '--no-track', '-b', branch, base]}
}

/**
 * After the session: the branch's objects into the user's repo, from the CLI's own bare repo (the
 * stage), which borrows the clone's objects. No ref of the user's repo is written by this fetch
 * (no destination, no FETCH_HEAD, no tags, no prune); fsck checks every object it receives;
 * commit-graph and multi-pack-index files (the agent could have written them) are not read.
 */
export function fetchCall(toplevel: string, stage: string, branch: string): GitCall {
  return {
    dir: toplevel,
    args: [
      '-c', 'fetch.fsckObjects=true',
      '-c', 'core.commitGraph=false',
      '-c', 'core.multiPackIndex=false',
      'fetch', '--quiet', '--no-tags', '--no-write-fetch-head', '--no-recurse-submodules', '--no-prune',
      stage, `refs/heads/${branch}`,
    ],
  }
}

/** Whether the branch exists in the user's repo now (read-only; exact ref name, compared by the caller). */
export function branchLookupCall(toplevel: string, branch: string): GitCall {
  return {dir: toplevel, args: ['for-each-ref', '--format=%(objectname) %(refname)', `refs/heads/${branch}`]}
}

/**
 * Writes the one ref, compare-and-swap: `create` (it must not exist) or `update … <base>` (it must
 * still be at the base), fed on stdin. refs/heads only takes a commit.
 */
export function updateRefCall(toplevel: string, runId: string): GitCall {
  return {dir: toplevel, args: ['update-ref', '-m', `sourceosctl: --worktree run ${runId}`, '--stdin']}
}

/** How to look at, take, or throw away the agent's work afterwards. */
export function reviewCommands(wt: Pick<WorktreeFacts, 'repo' | 'path' | 'branch' | 'baseCommit'>): {diff: string; merge: string; remove: string} {
  const repo = shellQuote(wt.repo)
  const branch = shellQuote(wt.branch)
  return {
    diff: `git -C ${repo} diff ${wt.baseCommit}...${branch}`,
    merge: `git -C ${repo} merge ${branch}`,
    remove: `rm -rf ${shellQuote(wt.path)} && git -C ${repo} branch -D ${branch}`,
  }
}
