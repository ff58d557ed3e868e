/**
 * Read-only git facts for evidence: branch (or null when detached), commit and dirty flag of a
 * folder. Never fails: a folder that is not a repo, or a missing git, gives nulls. Never writes:
 * `--no-optional-locks` keeps `git status` from refreshing the repo's index.
 */
import {succeeded, type Runner} from '../exec.js'
import {hostGit} from './host-git.js'

export interface GitFacts {
  ref: string | null
  commit: string | null
  dirty: boolean | null
}

const NONE: GitFacts = {ref: null, commit: null, dirty: null}

/** The read-only git commands behind each fact (also listed as plan steps: evidence-steps.ts). */
export const GIT_FACT_ARGS = {
  commit: ['rev-parse', '--verify', '--quiet', 'HEAD'],
  branch: ['symbolic-ref', '--quiet', '--short', 'HEAD'],
  dirty: ['status', '--porcelain', '--untracked-files=normal', '--ignore-submodules=all'],
} as const

export async function gitFacts(runner: Runner, dir: string, timeoutMs = 10_000): Promise<GitFacts> {
  // Never safe.directory: a repo owned by someone else is their config, which git must not trust.
  const git = (args: readonly string[]) => hostGit(runner, dir, args, {timeoutMs})
  const head = await git(GIT_FACT_ARGS.commit)
  if (!succeeded(head)) return NONE
  const [ref, status] = await Promise.all([git(GIT_FACT_ARGS.branch), git(GIT_FACT_ARGS.dirty)])
  return {
    commit: head.stdout.trim() || null,
    ref: succeeded(ref) ? ref.stdout.trim() || null : null,
    dirty: succeeded(status) ? status.stdout.trim().length > 0 : null,
  }
}
