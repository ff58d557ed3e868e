/**
 * Read-only git facts for evidence: branch (or null when detached), commit and dirty flag of a
 * folder. Never fails: a folder that is not a repo, or a missing git, gives nulls. Never writes:
 * `GIT_OPTIONAL_LOCKS=0` (host-git.ts) keeps `git status` from refreshing the repo's index.
 *
 * Several repos are read in a few git processes, not one each (gitFactsOf): `git for-each-repo`
 * runs the same hardened `git -C <repo> status …` for each repo of a group, one after the other,
 * in one child of this process. Starting a process from Node costs more than the status of a
 * small repo (a fork of the whole CLI process), and a launch reads every repo twice.
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
  const status = await hostGit(runner, dir, GIT_FACT_ARGS.status, {timeoutMs})
  return succeeded(status) ? factsFromStatus(runner, dir, status.stdout, timeoutMs) : factsWithoutStatus(runner, dir, timeoutMs)
}

/** The facts from one repo's status output; the old commands when it cannot answer. */
async function factsFromStatus(runner: Runner, dir: string, stdout: string, timeoutMs: number): Promise<GitFacts> {
  const parsed = parseStatusV2(stdout)
  if (parsed === 'no-commit') return NONE
  if (parsed === null) return factsWithoutStatus(runner, dir, timeoutMs)
  const ref = parsed.head === '(detached)' ? await hostGit(runner, dir, GIT_FACT_ARGS.branch, {timeoutMs}).then((r) => (succeeded(r) ? r.stdout.trim() || null : null)) : parsed.head
  return {commit: parsed.oid, ref, dirty: parsed.dirty}
}

/** rev-parse and symbolic-ref, as before status answered all three (dirty unknown). */
async function factsWithoutStatus(runner: Runner, dir: string, timeoutMs: number): Promise<GitFacts> {
  const git = (args: readonly string[]) => hostGit(runner, dir, args, {timeoutMs})
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

/** The most repos one `git for-each-repo` reads (the groups run side by side). */
export const GIT_FACT_GROUP = 8

/** The config key, set only on the batch's own command line, that lists a group's repos. */
const GROUP_KEY = 'sourceosctl.evidencerepo'

/** Where the batch's outer git runs: no repo of its own to read (each child runs `-C <repo>`). */
export const GIT_FACT_BATCH_DIR = '/'

/**
 * The dirs, in order, as the groups gitFactsOf reads together: at most GIT_FACT_GROUP each, sizes
 * balanced (20 → 7, 7, 6). A group of one is read with a plain status. A dir that for-each-repo
 * would not take literally (relative, `~` or `%(prefix)` interpolation, a newline) is a group of
 * its own.
 */
export function gitFactGroups(dirs: readonly string[]): string[][] {
  const batchable = dirs.filter((d) => isBatchable(d))
  const groups: string[][] = []
  const count = Math.ceil(batchable.length / GIT_FACT_GROUP)
  for (let i = 0, start = 0; i < count; i++) {
    const size = Math.ceil((batchable.length - start) / (count - i))
    groups.push(batchable.slice(start, start + size))
    start += size
  }
  for (const d of dirs) if (!isBatchable(d)) groups.push([d])
  return groups
}

function isBatchable(dir: string): boolean {
  return dir.startsWith('/') && !/[\n\r\0]/.test(dir)
}

/** The arguments (after host-git.ts's hardening and `-C /`) of one group's `git for-each-repo`. */
export function gitFactBatchArgs(group: readonly string[]): string[] {
  return [...group.flatMap((d) => ['-c', `${GROUP_KEY}=${d}`]), 'for-each-repo', `--config=${GROUP_KEY}`, ...GIT_FACT_ARGS.status]
}

/**
 * The facts of each dir (in the same order), the same as gitFacts of each: a group's repos in one
 * `git for-each-repo` (the hardening reaches its children: `-c` travels in GIT_CONFIG_PARAMETERS,
 * the environment is inherited). Its output is one status after another, each starting with its
 * `# branch.oid` header (entry lines never start with `#`: paths are quoted). The output is taken
 * only when git exited 0 with exactly one section per repo: then every repo's status ran and
 * printed its own (a value of the key from the user's own config files would come first and add a
 * section). Otherwise — git stops at the first status that fails, an old git has no for-each-repo —
 * each repo of the group is read on its own with gitFacts, exactly as before.
 */
export async function gitFactsOf(runner: Runner, dirs: readonly string[], timeoutMs = 10_000): Promise<GitFacts[]> {
  const facts = new Map<string, Promise<GitFacts>>()
  await Promise.all(
    gitFactGroups(dirs).map(async (group) => {
      if (group.length === 1) {
        facts.set(group[0]!, gitFacts(runner, group[0]!, timeoutMs))
        return
      }
      const result = await hostGit(runner, GIT_FACT_BATCH_DIR, gitFactBatchArgs(group), {timeoutMs: timeoutMs * group.length})
      const sections = succeeded(result) ? statusSections(result.stdout) : null
      const whole = sections !== null && sections.length === group.length
      group.forEach((dir, i) => facts.set(dir, whole ? factsFromStatus(runner, dir, sections[i]!, timeoutMs) : gitFacts(runner, dir, timeoutMs)))
    }),
  )
  return Promise.all(dirs.map((d) => facts.get(d)!))
}

/** for-each-repo's output cut into one text per status, at each `# branch.oid` line; null when anything comes before the first. */
export function statusSections(text: string): string[] | null {
  const sections: string[] = []
  for (const line of text.split('\n')) {
    if (line.startsWith('# branch.oid ')) sections.push('')
    else if (sections.length === 0) {
      if (line === '') continue
      return null
    }
    sections[sections.length - 1] += `${line}\n`
  }
  return sections
}
