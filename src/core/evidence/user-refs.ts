/**
 * `--worktree` runs: the refs of the USER's repo (its branches, tags, remotes — everything under
 * refs/ in the common git dir the agent's clone borrows objects from), read before the launch and
 * after the session and the bring-back, so the record shows what changed there (issue 14, item 4).
 *
 * Read only through the hardened host git (host-git.ts), and read as hostile text: the files behind
 * the refs are in a repo the agent's objects dir belongs to, and ref names are chosen by whoever
 * made the refs. Every output line must be exactly `<40|64 hex> refs/<name without control
 * characters>`; anything else makes the whole side unknown (an error in the record), never a
 * guess. Pure apart from `readUserRefs`.
 */
import {succeeded, type Runner} from '../exec.js'
import {hostGit} from '../git/host-git.js'
import {sha256Prefixed} from '../util/digest.js'
import type {RefList, UserRefs} from './record.js'

/** The read-only git command (also a plan step: evidence-steps.ts). A space cannot be part of a ref name. */
export const USER_REFS_ARGS = ['for-each-ref', '--format=%(objectname) %(refname)'] as const

/** More refs than this are kept as count and digest only. */
export const MAX_KEPT_REFS = 5000
/** Changes listed per kind; the rest are counted in `omitted`. */
export const MAX_LISTED_REF_CHANGES = 500

// eslint-disable-next-line no-control-regex
const LINE = /^([0-9a-f]{40}(?:[0-9a-f]{24})?) (refs\/[^\u0000-\u001f\u007f]{1,1024})$/

export type RefReading = {ok: true; list: RefList} | {ok: false; error: string}

/** Parses `for-each-ref` output strictly. */
export function parseRefList(stdout: string): RefReading {
  const text = stdout.endsWith('\n') ? stdout.slice(0, -1) : stdout
  const lines = text === '' ? [] : text.split('\n')
  const refs: Array<{name: string; commit: string}> = []
  const seen = new Set<string>()
  for (const [i, line] of lines.entries()) {
    const m = LINE.exec(line)
    if (!m) return {ok: false, error: `git for-each-ref line ${i + 1} is not "<object id> refs/<name>": ${JSON.stringify(line.slice(0, 80))}`}
    const name = m[2]!
    if (seen.has(name)) return {ok: false, error: `git for-each-ref lists ${JSON.stringify(name)} twice`}
    seen.add(name)
    refs.push({name, commit: m[1]!})
  }
  return {ok: true, list: refListOf(refs)}
}

/** count, digest and (when few enough) the refs, sorted by name. */
export function refListOf(refs: ReadonlyArray<{name: string; commit: string}>): RefList {
  const sorted = [...refs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  return {
    count: sorted.length,
    digest: refsDigest(sorted),
    refs: sorted.length > MAX_KEPT_REFS ? null : sorted.map((r) => ({name: r.name, commit: r.commit})),
  }
}

/** sha256 over the sorted lines `<commit> <name>\n`. */
export function refsDigest(sorted: ReadonlyArray<{name: string; commit: string}>): string {
  return sha256Prefixed(sorted.map((r) => `${r.commit} ${r.name}\n`).join(''))
}

/** What differs, by name; null when a side is unknown or not kept in full. */
export function diffRefs(before: RefList | null, after: RefList | null): NonNullable<UserRefs['changes']> | null {
  if (!before?.refs || !after?.refs) return null
  const old = new Map(before.refs.map((r) => [r.name, r.commit]))
  const now = new Map(after.refs.map((r) => [r.name, r.commit]))
  const added = after.refs.filter((r) => !old.has(r.name))
  const removed = before.refs.filter((r) => !now.has(r.name))
  const changed = after.refs.filter((r) => old.has(r.name) && old.get(r.name) !== r.commit).map((r) => ({name: r.name, before: old.get(r.name)!, after: r.commit}))
  const cut = <T>(list: T[]) => list.slice(0, MAX_LISTED_REF_CHANGES)
  const omitted = [added, changed, removed].reduce((n, list) => n + Math.max(0, list.length - MAX_LISTED_REF_CHANGES), 0)
  return {added: cut(added), changed: cut(changed), removed: cut(removed), omitted}
}

/** Reads the refs of `repo` with the hardened host git. Never throws. */
export async function readUserRefs(runner: Runner, repo: string): Promise<RefReading> {
  const result = await hostGit(runner, repo, USER_REFS_ARGS, {timeoutMs: 30_000})
  if (!succeeded(result)) return {ok: false, error: `git for-each-ref failed in ${repo} (exit ${result.exitCode ?? result.signal ?? 'none'})`}
  return parseRefList(result.stdout)
}

/** The started form: before only. */
export function userRefsBefore(repo: string, before: RefReading): UserRefs {
  return {repo, before: before.ok ? before.list : null, after: null, changes: null, error: before.ok ? null : `before: ${before.error}`}
}

/** The final form: before, after and the changes. */
export function userRefsAfter(started: UserRefs, after: RefReading): UserRefs {
  const errors = [started.error, after.ok ? null : `after: ${after.error}`].filter((e): e is string => e !== null)
  const list = after.ok ? after.list : null
  return {repo: started.repo, before: started.before, after: list, changes: diffRefs(started.before, list), error: errors.length > 0 ? errors.join('; ') : null}
}
