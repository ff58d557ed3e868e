/**
 * `run|shell --worktree`: a fresh worktree of the --repo on a new branch, under the state dir,
 * mounted in place of the user's checkout and left for review (docs/worktrees.md). This module
 * reads the base repo (read-only git commands through the Runner) and builds the one mutating
 * command, `git worktree add -b <branch> <path> <base>`, that the launch plan runs.
 */
import path from 'node:path'

import {describeOutcome, succeeded, type Runner} from '../exec.js'
import {policyRefusal, prerequisiteMissing, usageError, type AgentMachineError} from '../errors.js'
import {shellQuote} from '../plan/plan.js'
import {hostGit, hostGitArgv} from './host-git.js'

const GIT_TIMEOUT_MS = 15_000

export interface BaseRepo {
  /** The checkout's top level (`git rev-parse --show-toplevel`), as git prints it. */
  toplevel: string
  /** The common git dir, absolute (where refs, objects and worktrees/ live). */
  commonDir: string
  /** HEAD's commit: the worktree's base. */
  head: string
  /** The branch HEAD is on (short name), or null when detached. */
  branch: string | null
  /** Uncommitted changes (or untracked files) in the checkout. */
  dirty: boolean
  /** Every local branch (short names), to refuse an existing one. */
  branches: string[]
}

export interface WorktreeFacts {
  /** The user's checkout the worktree branches off (its top level, realpath-resolved). */
  repo: string
  /** The new worktree's folder (under the state dir). */
  path: string
  branch: string
  baseCommit: string
  /** The common git dir the worktree shares with the user's checkout. */
  commonDir: string
  /** Where the worktree is mounted in the container (the target the user's checkout had). */
  target: string
}

function gitRunner(runner: Runner, dir: string) {
  return (args: string[]) => hostGit(runner, dir, args, {timeoutMs: GIT_TIMEOUT_MS})
}

/** The first line git printed on stderr (its own explanation), for error messages. */
function gitSays(result: Awaited<ReturnType<Runner>>): string {
  const line = result.stderr.split('\n').map((l) => l.trim()).find(Boolean)
  return line ? ` (git: ${line})` : ''
}

/**
 * Reads the repo at `dir`; refuses (exit 2) a folder that is not inside a git work tree, and a
 * repo without commits. Missing git is exit 4.
 */
export async function inspectBaseRepo(runner: Runner, dir: string): Promise<BaseRepo> {
  const git = gitRunner(runner, dir)
  const top = await git(['rev-parse', '--show-toplevel', '--git-common-dir'])
  if (top.notFound) {
    throw prerequisiteMissing('GIT_NOT_INSTALLED', '--worktree needs git, which is not installed or not on PATH.', 'install git')
  }
  if (!succeeded(top)) {
    throw usageError('WORKTREE_NOT_A_REPO', `--worktree needs a git repository, and ${dir} is not inside one${gitSays(top)}.`, 'pass the folder of a git checkout as --repo, or drop --worktree')
  }
  const [toplevel, common] = top.stdout.split('\n').map((l) => l.trim())
  if (!toplevel || !common) throw usageError('WORKTREE_NOT_A_REPO', `--worktree needs a git work tree; git gave no top level for ${dir}.`, 'pass the folder of a git checkout as --repo')
  const commonDir = path.resolve(dir, common)
  const head = await git(['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'])
  if (!succeeded(head) || !head.stdout.trim()) {
    throw usageError('WORKTREE_NO_COMMITS', `${toplevel} has no commits yet: a worktree needs a base commit.`, `commit first: git -C ${shellQuote(toplevel)} commit`)
  }
  const topGit = gitRunner(runner, toplevel)
  const [branch, status, branches] = await Promise.all([
    topGit(['symbolic-ref', '--quiet', '--short', 'HEAD']),
    // --no-optional-locks: reading the status must not refresh (rewrite) the user's index
    topGit(['--no-optional-locks', 'status', '--porcelain', '--untracked-files=normal']),
    topGit(['for-each-ref', '--format=%(refname)', 'refs/heads/']),
  ])
  if (!succeeded(status)) throw usageError('WORKTREE_NOT_A_REPO', `cannot read the state of ${toplevel}: ${describeOutcome(status)}`, 'check the repository with git status')
  return {
    toplevel,
    commonDir,
    head: head.stdout.trim(),
    branch: succeeded(branch) ? branch.stdout.trim() || null : null,
    dirty: status.stdout.trim().length > 0,
    branches: branches.stdout
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.startsWith('refs/heads/'))
      .map((l) => l.slice('refs/heads/'.length)),
  }
}

/** `agent/<tool|shell>-<UTC YYYYMMDD-HHMMSS>`. */
export function defaultBranchName(label: string, now: Date): string {
  const iso = now.toISOString() // 2025-01-31T12:34:56.789Z
  const stamp = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}-${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}`
  return `agent/${label}-${stamp}`
}

/**
 * Refuses (exit 2) a branch name git rejects (`git check-ref-format --branch`), one it would
 * expand (`@{-1}`), one that starts with `-`, an existing branch, and one that clashes with an
 * existing branch as a directory (`a` exists, `a/b` asked, or the reverse).
 */
export async function checkNewBranch(runner: Runner, repo: BaseRepo, name: string): Promise<void> {
  const bad = (why: string): AgentMachineError =>
    usageError('WORKTREE_BRANCH_INVALID', `--branch ${shellQuote(name)} is not a valid branch name${why}.`, 'choose another name, e.g. agent/my-task (see `git check-ref-format --help`)')
  if (name === '' || name.startsWith('-')) throw bad('')
  const checked = await gitRunner(runner, repo.toplevel)(['check-ref-format', '--branch', name])
  if (!succeeded(checked)) throw bad(gitSays(checked))
  if (checked.stdout.trim() !== name) throw bad(` (git reads it as ${checked.stdout.trim()})`)
  const clash = repo.branches.find((b) => b === name || b.startsWith(`${name}/`) || name.startsWith(`${b}/`))
  if (clash === name) {
    throw usageError('WORKTREE_BRANCH_EXISTS', `branch ${name} already exists in ${repo.toplevel}; --worktree always starts a new branch.`, 'pick a new name with --branch (or delete the old branch)')
  }
  if (clash) {
    throw usageError('WORKTREE_BRANCH_EXISTS', `branch ${name} clashes with the existing branch ${clash} in ${repo.toplevel} (one would be a folder of the other).`, 'pick another name with --branch')
  }
}

/** Refuses a dirty base when --clean-base asked for a clean one (exit 3). */
export function checkCleanBase(repo: BaseRepo, cleanBase: boolean): void {
  if (cleanBase && repo.dirty) {
    throw policyRefusal(
      'WORKTREE_DIRTY_BASE',
      `${repo.toplevel} has uncommitted changes, and --clean-base asked for a clean base.`,
      `commit or stash them first (git -C ${shellQuote(repo.toplevel)} status), or drop --clean-base: the worktree starts from the last commit either way`,
    )
  }
}

/** The worktree's folder name: `<repo-name>-<run id>`, in characters git and podman both take. */
export function worktreeDirName(toplevel: string, runId: string): string {
  const base = toplevel.split(/[\\/]/).filter(Boolean).pop() ?? ''
  const name = base.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 48) || 'repo'
  return `${name}-${runId}`
}

/** The one mutating git command: a new branch at the base commit, checked out in a new folder. */
export function worktreeAddArgv(repo: string, branch: string, worktreePath: string, base: string): string[] {
  return hostGitArgv(repo, ['worktree', 'add', '-b', branch, worktreePath, base])
}

/** How to look at, take, or throw away the agent's work afterwards. */
export function reviewCommands(wt: Pick<WorktreeFacts, 'repo' | 'path' | 'branch' | 'baseCommit'>): {diff: string; merge: string; remove: string} {
  const repo = shellQuote(wt.repo)
  const branch = shellQuote(wt.branch)
  return {
    diff: `git -C ${repo} diff ${wt.baseCommit}...${branch}`,
    merge: `git -C ${repo} merge ${branch}`,
    remove: `git -C ${repo} worktree remove ${shellQuote(wt.path)} && git -C ${repo} branch -D ${branch}`,
  }
}
