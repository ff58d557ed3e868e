/**
 * From a mount source as written (`~/dev/repo`, `$HOME/x`, `%USERPROFILE%\dev\x`, `../x`) to the
 * realpath-resolved directory the container will get (ARCHITECTURE §4: resolve before any check).
 * File-system access comes in through FsDeps so tests can fake it; realFsDeps() is the live one.
 */
import {promises as fsp, lstatSync, realpathSync} from 'node:fs'
import {posix} from 'node:path'
import {policyRefusal, prerequisiteMissing, usageError} from '../errors.js'
import type {HostFacts} from '../host/facts.js'
import {broadRootsFor, compileDenyMatcher, denyPatternsFor, type ExpandedDeny, type ExpandedRoot} from './catalogue.js'
import {judgeMountSource, mountRefusalFix, refusalMessage, type PolicyAliases} from './mount-policy.js'
import {compilePattern, expandVars, fold, isWin32NonLocal, pathApi, showPath, splitAtFirstGlob, stripWin32LongPrefix} from './path-key.js'

export interface FsDeps {
  /** Base for relative sources (the invocation's working directory). */
  cwd: string
  realpath: (p: string) => Promise<string>
  stat: (p: string) => Promise<{isDirectory(): boolean}>
}

export interface ResolvedMountSource {
  raw: string
  /** After `~` / variable expansion. */
  expanded: string
  /** Absolute, symlink-free: what is judged and what the container gets. */
  resolved: string
}

/** Live file system deps. */
export function realFsDeps(cwd: string = process.cwd()): FsDeps {
  return {cwd, realpath: realpathFs, stat: statFs}
}
// The same realpath(3) as fsp.realpath, called synchronously: the alias pass asks it ~130 times,
// mostly for paths that do not exist, and the async form costs ~10× more per call (thread pool
// and a rejected promise each); the answers and errors (code, path) are the same.
const realpathFs = (p: string): Promise<string> => {
  try {
    return Promise.resolve(realpathSync.native(p))
  } catch (error) {
    return Promise.reject(error)
  }
}
const statFs = (p: string): Promise<{isDirectory(): boolean}> => fsp.stat(p)

/**
 * Expands `~`, `~/x` (and `~\x` on Windows), `$VAR`, `${VAR}` and, on Windows, `%VAR%`. Unset
 * variables fall back to their documented defaults (XDG base dirs, %APPDATA%, …); anything else
 * unset → usageError PATH_UNEXPANDABLE.
 */
export function expandPath(raw: string, host: HostFacts): string {
  const r = expandVars(raw, host)
  if (r.ok) return r.value
  if (r.failure.kind === 'tilde-user') {
    throw usageError('PATH_UNEXPANDABLE', `cannot expand ${showPath(r.failure.text)} in ${showPath(raw)}: only ~ (your own home) is supported`, 'write the absolute path instead')
  }
  throw usageError('PATH_UNEXPANDABLE', `cannot expand ${showPath(raw)}: variable ${r.failure.name} is not set`, `set ${r.failure.name}, or write the path without it`)
}

function errnoOf(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String((error as {code: unknown}).code) : undefined
}

function refuseUnc(raw: string, p: string): never {
  throw policyRefusal('PATH_UNC', `${showPath(raw)} is a network (UNC) or device path (${showPath(p)}); only folders on a local drive can be mounted.`, 'clone the repository onto a local drive and mount that folder')
}

/**
 * Expands, makes absolute (relative to deps.cwd), realpath-resolves (symlinks, `..`) and checks
 * that the result is a directory. Also applies the deny rules in their symlink-resolved form (a
 * `~/.ssh` that is a symlink into ~/dotfiles protects ~/dotfiles/ssh too): such a hit throws the
 * policy refusal here, since only this step has file-system access.
 *
 * Errors: PATH_UNEXPANDABLE (usage), PATH_UNC (policy), PATH_MISSING / PATH_UNREADABLE
 * (prerequisite), PATH_NOT_DIRECTORY / PATH_SYMLINK_LOOP (usage), POLICY_* (policy).
 */
export async function resolveMountSource(raw: string, host: HostFacts, deps: FsDeps): Promise<ResolvedMountSource> {
  if (raw.trim() === '') throw usageError('PATH_EMPTY', 'a mount source is empty', 'give the project folder, e.g. ~/dev/<repo>')
  const api = pathApi(host)
  const windows = host.platform === 'windows'
  let expanded = expandPath(raw, host)
  if (windows) {
    if (isWin32NonLocal(expanded)) refuseUnc(raw, expanded)
    expanded = stripWin32LongPrefix(expanded)
  }
  const absolute = api.resolve(deps.cwd, expanded)

  let resolved: string
  try {
    resolved = await deps.realpath(absolute)
  } catch (error) {
    const code = errnoOf(error)
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw prerequisiteMissing('PATH_MISSING', `${showPath(raw)} does not exist (resolved to ${showPath(absolute)}).`, 'create the folder or clone the repository there, or fix the path', {path: absolute})
    }
    if (code === 'EACCES' || code === 'EPERM') {
      throw prerequisiteMissing('PATH_UNREADABLE', `${showPath(raw)} cannot be resolved: permission denied on ${showPath(absolute)}.`, 'fix the permissions so your user can enter every folder on the path', {path: absolute})
    }
    if (code === 'ELOOP') {
      throw usageError('PATH_SYMLINK_LOOP', `${showPath(raw)} is a symlink loop (${showPath(absolute)}).`, 'point the mount at the real folder')
    }
    throw error
  }
  if (windows) {
    if (isWin32NonLocal(resolved)) refuseUnc(raw, resolved)
    resolved = stripWin32LongPrefix(resolved)
  }

  let isDir: boolean
  try {
    isDir = (await deps.stat(resolved)).isDirectory()
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') {
      throw prerequisiteMissing('PATH_MISSING', `${showPath(raw)} does not exist (resolved to ${showPath(resolved)}).`, 'create the folder or clone the repository there, or fix the path', {path: resolved})
    }
    throw error
  }
  if (!isDir) {
    throw usageError('PATH_NOT_DIRECTORY', `${showPath(raw)} is not a directory (resolved to ${showPath(resolved)}).`, 'mount the project folder, not a file')
  }

  // Rules that only match in their symlink-resolved form.
  const aliases = await resolvePolicyAliases(host, deps)
  // Stryker disable next-line ConditionalExpression,EqualityOperator,ArithmeticOperator: equivalent: only saves work (with no alias, the judgement with aliases is the plain one)
  if (aliases.deny.length + aliases.broadRoots.length + aliases.homes.length > 0) {
    const withAliases = judgeMountSource(resolved, host, {aliases})
    if (!withAliases.allowed && judgeMountSource(resolved, host).allowed) {
      throw policyRefusal(withAliases.code, refusalMessage(resolved, withAliases.reason, host), mountRefusalFix(withAliases.code, host), {path: resolved, rule: withAliases.rule})
    }
  }
  return {raw, expanded, resolved}
}

// ---------------------------------------------------------------------------------------------
// Symlink-resolved forms of the rules

const aliasCache = new WeakMap<HostFacts, WeakMap<FsDeps['realpath'], Promise<PolicyAliases>>>()

/**
 * realpath() of every deny rule's literal prefix, every broad root and the home directory, keeping
 * those whose resolved form differs (e.g. `~/.ssh -> ~/dotfiles/ssh`, a symlinked home). Missing
 * paths are skipped: nothing there to leak. Cached per (host, realpath function).
 */
export function resolvePolicyAliases(host: HostFacts, deps: Pick<FsDeps, 'realpath'>): Promise<PolicyAliases> {
  let byFn = aliasCache.get(host)
  if (!byFn) aliasCache.set(host, (byFn = new WeakMap()))
  let p = byFn.get(deps.realpath)
  if (!p) {
    p = computeAliases(host, deps.realpath)
    byFn.set(deps.realpath, p)
  }
  return p
}

/**
 * realpath(3) of many paths at once, for the alias pass on the real file system: the same answers
 * as realpathSync.native, path by path (null where it fails), with one lstat per distinct folder
 * instead of one readlink per component of every path. realpath(parent/name) is
 * realpath(realpath(parent)/name); when realpath(parent) fails, so does every path below it (its
 * resolution walks the parent first: ENOENT, ENOTDIR, EACCES, ELOOP alike), and when
 * realpath(parent)/name is no symlink it is the answer as it stands. A symlink, and any path that
 * is not plain (relative, `.`, `..`, `//`, a trailing `/`), goes to realpath(3) itself (`realpath3`,
 * injected by tests to see which paths reach it). POSIX only.
 */
export function realpathAll(paths: readonly string[], realpath3: (p: string) => string = realpathSync.native): Map<string, string | null> {
  const memo = new Map<string, string | null>()
  const native = (p: string): string | null => {
    try {
      return realpath3(p)
    } catch {
      return null
    }
  }
  /** The answer for `candidate` (a real folder / a name in it): itself, unless it is a link or missing. Memoised: two paths can lead to one candidate. */
  const children = new Map<string, string | null>()
  const child = (candidate: string): string | null => {
    let r = children.get(candidate)
    if (r !== undefined) return r
    let st
    // Stryker disable BlockStatement: equivalent for the catch block: it only restates undefined
    try {
      // Stryker disable next-line ObjectLiteral,BooleanLiteral: equivalent: only saves work (an ENOENT thrown instead is caught below, as undefined)
      st = lstatSync(candidate, {throwIfNoEntry: false})
    } catch {
      st = undefined
    }
    // Stryker restore BlockStatement
    r = st === undefined ? null : st.isSymbolicLink() ? native(candidate) : candidate
    children.set(candidate, r)
    return r
  }
  const resolve = (p: string): string | null => {
    let r = memo.get(p)
    if (r !== undefined) return r
    if (!p.startsWith('/') || p.endsWith('/') || p !== posix.normalize(p)) {
      r = native(p)
    } else {
      const realParent = resolve(posix.dirname(p))
      r = realParent === null ? null : child(posix.join(realParent, posix.basename(p)))
    }
    memo.set(p, r)
    return r
  }
  const out = new Map<string, string | null>()
  for (const p of paths) out.set(p, resolve(p))
  return out
}

async function computeAliases(host: HostFacts, realpath: FsDeps['realpath']): Promise<PolicyAliases> {
  const api = pathApi(host)
  const differs = (a: string, b: string): boolean => fold(api.normalize(a), host) !== fold(api.normalize(b), host)

  // What to resolve: each deny rule's literal prefix, each broad root, the home directory.
  const denyJobs: Array<{d: ExpandedDeny; literal: string; rest: string}> = []
  for (const d of denyPatternsFor(host)) {
    // Stryker disable next-line ConditionalExpression: equivalent: only saves work (a relative glob's literal part is '', whose realpath fails)
    if (d.matcher.root === null) continue
    const {literal, rest} = splitAtFirstGlob(d.path, host)
    // Stryker disable next-line ConditionalExpression,LogicalOperator,StringLiteral: equivalent: only saves work (realpath of '' fails, of a root is itself)
    if (literal === '' || api.parse(literal).root === literal) continue
    denyJobs.push({d, literal, rest})
  }
  // Stryker disable next-line ConditionalExpression,LogicalOperator,MethodExpression: equivalent: only saves work (realpath of a glob text fails, of a root is itself)
  const rootJobs = broadRootsFor(host).filter((b) => !(b.matcher.hasGlob || api.parse(b.path).root === b.path))
  const wanted = [...new Set([...denyJobs.map((j) => j.literal), ...rootJobs.map((b) => b.path), host.homeDir])]

  // The live file system's realpath on a POSIX host answers all at once (realpathAll); any other
  // (a test's fake, Windows) is asked path by path, each distinct path once.
  const resolved = new Map<string, string | null>()
  // Stryker disable next-line ConditionalExpression,EqualityOperator,StringLiteral: equivalent: both ways give realpath(3)'s answers (test/unit/policy/perf-index-fs-shortcuts.test.ts); a Windows host's paths (C:\\…) are not absolute to realpathAll, which hands them to realpath(3)
  if (realpath === realpathFs && host.platform !== 'windows') {
    for (const [p, r] of realpathAll(wanted)) resolved.set(p, r)
  } else {
    const answers = await Promise.all(
      wanted.map((p) =>
        realpath(p).then(
          (v) => (host.platform === 'windows' ? stripWin32LongPrefix(v) : v),
          () => null,
        ),
      ),
    )
    wanted.forEach((p, i) => resolved.set(p, answers[i] as string | null))
  }
  const real = (p: string): string | null => resolved.get(p) as string | null

  const deny: ExpandedDeny[] = []
  for (const {d, literal, rest} of denyJobs) {
    const r = real(literal)
    if (r === null || !differs(r, literal)) continue
    const path = rest ? api.join(r, rest) : r
    // Exceptions (the state dir's worktrees) move with the rule: same place below the new prefix.
    const except = d.except?.filter((x) => x.startsWith(literal)).map((x) => r + x.slice(literal.length))
    const matcher = compileDenyMatcher(path, except, host)
    if (matcher) deny.push({...d, path, display: `${d.display} (-> ${showPath(path)})`, origin: 'symlink', ...(except ? {except} : {}), matcher})
  }
  const broadRoots: ExpandedRoot[] = []
  for (const b of rootJobs) {
    const r = real(b.path)
    if (r === null || !differs(r, b.path)) continue
    const matcher = compilePattern(r, host)
    if (matcher) broadRoots.push({pattern: `realpath(${b.pattern})`, path: r, display: `${b.display} (-> ${showPath(r)})`, matcher})
  }
  const home = real(host.homeDir)
  return {deny, broadRoots, homes: home !== null && differs(home, host.homeDir) ? [home] : []}
}
