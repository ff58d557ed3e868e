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

export async function gitFacts(runner: Runner, dir: string, timeoutMs = 10_000): Promise<GitFacts> {
  // Never safe.directory: a repo owned by someone else is their config, which git must not trust.
  const git = (args: string[]) => hostGit(runner, dir, args, {timeoutMs})
  const head = await git(['rev-parse', '--verify', '--quiet', 'HEAD'])
  if (!succeeded(head)) return NONE
  const [ref, status] = await Promise.all([git(['symbolic-ref', '--quiet', '--short', 'HEAD']), git(['status', '--porcelain', '--untracked-files=normal', '--ignore-submodules=all'])])
  return {
    commit: head.stdout.trim() || null,
    ref: succeeded(ref) ? ref.stdout.trim() || null : null,
    dirty: succeeded(status) ? status.stdout.trim().length > 0 : null,
  }
}
