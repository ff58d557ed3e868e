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

/**
 * The read-only git commands behind the facts (also listed as plan steps: evidence-steps.ts). One
 * `status --porcelain=v2 --branch` gives all three (its `# branch.oid` and `# branch.head` headers,
 * and an entry line for anything uncommitted; `--no-ahead-behind`: no walk of the history against an
 * upstream, which the three commands never did); the others run only when it cannot answer: a failed
 * status (the commit and branch as before), or a HEAD it reports detached (a branch may be named
 * so).
 */
export const GIT_FACT_ARGS = {
  status: ['status', '--porcelain=v2', '--branch', '--no-ahead-behind', '--untracked-files=normal', '--ignore-submodules=all'],
  commit: ['rev-parse', '--verify', '--quiet', 'HEAD'],
  branch: ['symbolic-ref', '--quiet', '--short', 'HEAD'],
} as const

const OBJECT_ID = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/

export async function gitFacts(runner: Runner, dir: string, timeoutMs = 10_000): Promise<GitFacts> {
  // Never safe.directory: a repo owned by someone else is their config, which git must not trust.
  const git = (args: readonly string[]) => hostGit(runner, dir, args, {timeoutMs})
  const status = await git(GIT_FACT_ARGS.status)
  if (succeeded(status)) {
    const parsed = parseStatusV2(status.stdout)
    if (parsed === 'no-commit') return NONE
    if (parsed !== null) {
      const ref = parsed.head === '(detached)' ? await git(GIT_FACT_ARGS.branch).then((r) => (succeeded(r) ? r.stdout.trim() || null : null)) : parsed.head
      return {commit: parsed.oid, ref, dirty: parsed.dirty}
    }
  }
  const head = await git(GIT_FACT_ARGS.commit)
  if (!succeeded(head)) return NONE
  const ref = await git(GIT_FACT_ARGS.branch)
  return {
    commit: head.stdout.trim() || null,
    ref: succeeded(ref) ? ref.stdout.trim() || null : null,
    dirty: null,
  }
}

/**
 * `git status --porcelain=v2 --branch` output, read as hostile text: exactly one `# branch.oid`
 * (an object id, or `(initial)`: no commit yet) and one `# branch.head` line; any line not
 * starting with `#` is an entry (the tree is dirty). Anything else: null (ask git again the old way).
 */
export function parseStatusV2(text: string): {oid: string; head: string; dirty: boolean} | 'no-commit' | null {
  let oid: string | undefined
  let head: string | undefined
  let dirty = false
  for (const line of text.split('\n')) {
    if (line === '') continue
    if (!line.startsWith('# ')) {
      dirty = true
      continue
    }
    const m = /^# (branch\.oid|branch\.head) (.+)$/.exec(line)
    if (!m) continue
    if (m[1] === 'branch.oid') {
      if (oid !== undefined) return null
      oid = m[2]
    } else {
      if (head !== undefined) return null
      head = m[2]
    }
  }
  if (oid === '(initial)') return 'no-commit'
  if (oid === undefined || head === undefined || !OBJECT_ID.test(oid)) return null
  return {oid, head, dirty}
}
