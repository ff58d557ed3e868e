/**
 * Mount policy (ARCHITECTURE §4, contract): may this resolved host directory be bind-mounted into
 * the agent container? Pure: decisions depend only on the path, HostFacts and the deny catalogue.
 *
 * Refused, in this order:
 *  - POLICY_UNSAFE_CHARS  characters podman's `-v a:b:c` / `--mount k=v,…` syntax cannot carry
 *  - POLICY_NOT_LOCAL     Windows UNC / device-namespace paths (\\server\share, \\.\pipe\…)
 *  - POLICY_ROOT          `/`, a Windows drive root
 *  - POLICY_HOME          the home directory itself
 *  - POLICY_BROAD_ROOT    a broad root (~/.config, ~/Library, %APPDATA%, /tmp, $TMPDIR, /etc, …)
 *  - POLICY_SENSITIVE     a denied path or anything inside one (glob-aware)
 *  - POLICY_BROAD_ROOT    an ancestor of the home directory or of a broad root
 *  - POLICY_CONTAINS_SENSITIVE  an ancestor of a denied path (mounting it would expose it)
 *  - POLICY_HOST_EXEC     inside or an ancestor of a place the host runs code from (risk: host-exec
 *                         rules: PATH dirs, autostart, shell rc files, this CLI's own dirs)
 * Comparison is case- and Unicode-(NFC-)folded when host.caseInsensitivePaths (macOS, Windows),
 * exact on Linux.
 */
import {policyRefusal, unexpectedFailure} from '../errors.js'
import type {HostFacts} from '../host/facts.js'
import {broadRootsFor, denyPatternsFor, expandExtraDeny, type ExpandedDeny, type ExpandedRoot} from './catalogue.js'
import {envValue, isWin32NonLocal, keyEquals, keyIsAncestor, showPath, stripWin32LongPrefix, toKey, type PathKey, type PathMatcher} from './path-key.js'

export {scanTreeForHazards, type Hazard, type HazardKind, type ScanOptions} from './tree-scan.js'

export type MountRefusalCode =
  | 'POLICY_ROOT'
  | 'POLICY_HOME'
  | 'POLICY_BROAD_ROOT'
  | 'POLICY_SENSITIVE'
  | 'POLICY_CONTAINS_SENSITIVE'
  | 'POLICY_HOST_EXEC'
  | 'POLICY_UNSAFE_CHARS'
  | 'POLICY_NOT_LOCAL'

export type MountDecision =
  | {allowed: true}
  | {
      allowed: false
      code: MountRefusalCode
      /** One line naming the rule and the matched path. */
      reason: string
      rule: {category: string; title: string} | null
    }

/**
 * Symlink-resolved forms of deny rules, broad roots and the home directory, for hosts where e.g.
 * `~/.ssh -> ~/dotfiles/ssh` (produced by resolvePolicyAliases in paths.ts, which has fs access).
 */
export interface PolicyAliases {
  deny: readonly ExpandedDeny[]
  broadRoots: readonly ExpandedRoot[]
  homes: readonly string[]
}

export interface JudgeOptions {
  /** Extra deny patterns (`~`/$VAR expanded like catalogue entries). */
  extraDeny?: readonly string[]
  /** Realpath'd aliases of the rules (see PolicyAliases). */
  aliases?: PolicyAliases
}

// ---------------------------------------------------------------------------------------------
// Unsafe characters

const BIDI = /[\u200e\u200f\u202a-\u202e\u2066-\u2069]/

/** The first character that podman's mount syntax cannot carry, described for a message. */
export function findUnsafeChar(p: string, host: Pick<HostFacts, 'platform'>): string | null {
  for (let i = 0; i < p.length; i++) {
    const ch = p[i] as string
    const code = ch.charCodeAt(0)
    if (code === 0) return 'a NUL byte (U+0000)'
    if (ch === '\n') return 'a newline (U+000A)'
    if (ch === '\r') return 'a carriage return (U+000D)'
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return `a control character (U+${code.toString(16).toUpperCase().padStart(4, '0')})`
    if (code === 0x2028 || code === 0x2029) return `a line/paragraph separator (U+${code.toString(16).toUpperCase()})`
    if (BIDI.test(ch)) return `an invisible bidirectional-text control (U+${code.toString(16).toUpperCase().padStart(4, '0')})`
    if (ch === ':' && !(host.platform === 'windows' && i === 1 && /^[A-Za-z]$/.test(p[0] as string))) return "a ':' (podman's -v separator)"
    if (ch === ',') return "a ',' (podman's --mount option separator)"
    if (ch === '"') return "a '\"' (podman reads --mount as CSV)"
  }
  return null
}

// ---------------------------------------------------------------------------------------------
// Judge

function refuse(code: MountRefusalCode, reason: string, rule: ExpandedDeny['rule'] | null = null): MountDecision {
  return {allowed: false, code, reason, rule: rule ? {category: rule.category, title: rule.title} : null}
}

/**
 * A deny-rule hit: POLICY_SENSITIVE / POLICY_CONTAINS_SENSITIVE for a secret store, POLICY_HOST_EXEC
 * for a place the host later runs code from (PATH dirs, autostart, shell rc files, this CLI's dirs).
 */
function refuseDeny(d: ExpandedDeny, reason: string, contains = false): MountDecision {
  if (d.rule.risk === 'host-exec') return refuse('POLICY_HOST_EXEC', `${reason}: the host runs what is written there`, d.rule)
  return refuse(contains ? 'POLICY_CONTAINS_SENSITIVE' : 'POLICY_SENSITIVE', reason, d.rule)
}

function ruleLabel(d: ExpandedDeny): string {
  return `${d.rule.category}: ${d.rule.title}`
}

function homeKeys(host: HostFacts, aliases?: PolicyAliases): Array<{key: PathKey; path: string}> {
  const out: Array<{key: PathKey; path: string}> = []
  const candidates = [host.homeDir, envValue(host.platform === 'windows' ? 'USERPROFILE' : 'HOME', host), ...(aliases?.homes ?? [])]
  for (const p of candidates) {
    if (p === undefined) continue
    const key = toKey(p, host)
    if (key && key.segs.length > 0 && !out.some((h) => keyEquals(h.key, key))) out.push({key, path: p})
  }
  return out
}

const byPrefix = new WeakMap<readonly Judged[], Map<string, readonly Judged[]>>()
type Judged = {matcher: PathMatcher}
/** Prefixes kept per list: each folder judged under adds one (a scan judges many symlink targets); past this, the deeper ones are not kept. */
const MAX_KEPT_PREFIXES = 4096

/**
 * The rules of a host's list (the catalogue's ~750 deny rules as root, its broad roots) that can
 * decide anything about a path with `key`'s parent folder, in list order, so a judgement asks only
 * those (the first hit in the list is the same). A rule that matches, covers or contains a match
 * at some path below a folder covers that folder or is a strict ancestor-of-match at it (that is
 * what covers and isAncestorOfMatch mean), so the rules for a folder are those of its parent that
 * answer yes there: the list is narrowed one segment at a time, from the first segment down to
 * the parent (or the path itself when it has one segment), and each step is kept per list, so
 * twenty repos in ~/dev share the narrowing of /home, /home/u and /home/u/dev. The other homes'
 * rules answer through their homes. A relative glob (`**` first) can match below any folder, so it
 * is always kept. `key` has a segment (the root is refused first).
 */
export function candidatesFor<T extends Judged>(list: readonly T[], key: PathKey): readonly T[] {
  let kept = byPrefix.get(list)
  // Stryker disable next-line ConditionalExpression: equivalent: the memo (a new one each time answers the same)
  if (!kept) byPrefix.set(list, (kept = new Map()))
  let out: readonly T[] = list
  let id = key.root
  const depth = Math.max(1, key.segs.length - 1)
  for (let d = 1; d <= depth; d++) {
    id += `\0${key.segs[d - 1] as string}`
    let next = kept.get(id) as readonly T[] | undefined
    // Stryker disable next-line ConditionalExpression: equivalent: the memo, as above
    if (!next) {
      const prefix: PathKey = {root: key.root, segs: key.segs.slice(0, d)}
      next = out.filter((x) => x.matcher.root === null || x.matcher.covers(prefix) || x.matcher.isAncestorOfMatch(prefix))
      // Stryker disable next-line ConditionalExpression,EqualityOperator,LogicalOperator,CallExpression: equivalent: the memo, as above
      if (d === 1 || kept.size < MAX_KEPT_PREFIXES) kept.set(id, next)
    }
    out = next
  }
  return out
}

/**
 * Judges a realpath-resolved mount source. Returns a decision (never throws for a refusal); throws
 * only when `resolved` is not an absolute path (a caller bug: resolve first).
 */
export function judgeMountSource(source: string, host: HostFacts, opts: JudgeOptions = {}): MountDecision {
  // Win32 long-path prefixes (\\?\C:\…) name the same file; judge the plain form.
  const resolved = host.platform === 'windows' ? stripWin32LongPrefix(source) : source
  const shown = showPath(resolved)
  const unsafe = findUnsafeChar(resolved, host)
  if (unsafe) {
    return refuse('POLICY_UNSAFE_CHARS', `${shown} contains ${unsafe}, which cannot be passed safely to podman as a mount source`)
  }
  if (host.platform === 'windows' && isWin32NonLocal(resolved)) {
    return refuse('POLICY_NOT_LOCAL', `${shown} is a network (UNC) or device path; only folders on a local drive can be mounted`)
  }
  const key = toKey(resolved, host)
  if (!key) {
    throw unexpectedFailure('POLICY_PATH_NOT_RESOLVED', `mount source ${shown} is not an absolute path; resolve it (resolveMountSource) before judging it`)
  }
  if (key.segs.length === 0) {
    return refuse('POLICY_ROOT', host.platform === 'windows' ? `${shown} is a drive root` : `${shown} is the filesystem root`)
  }

  const homes = homeKeys(host, opts.aliases)
  if (homes.some((h) => keyEquals(h.key, key))) return refuse('POLICY_HOME', `${shown} is your home directory`)

  const broad = [...candidatesFor(broadRootsFor(host), key), ...(opts.aliases?.broadRoots ?? [])]
  const broadHit = broad.find((b) => b.matcher.equals(key))
  if (broadHit) return refuse('POLICY_BROAD_ROOT', `${shown} is the broad root ${broadHit.display}, which holds other programs' files and secrets`)

  const deny = [...candidatesFor(denyPatternsFor(host), key), ...(opts.extraDeny?.length ? expandExtraDeny(opts.extraDeny, host) : []), ...(opts.aliases?.deny ?? [])]
  // A secret rule is named before a host-exec one (/etc/ssh is a secret store, /etc is host-exec).
  const first = (test: (d: ExpandedDeny) => boolean): ExpandedDeny | undefined => deny.find((d) => d.rule.risk !== 'host-exec' && test(d)) ?? deny.find(test)
  const inside = first((d) => d.matcher.covers(key))
  if (inside) return refuseDeny(inside, `${shown} is inside ${inside.display} (${ruleLabel(inside)})`)

  const homeBelow = homes.find((h) => keyIsAncestor(key, h.key))
  if (homeBelow) return refuse('POLICY_BROAD_ROOT', `${shown} contains your home directory ${showPath(homeBelow.path)}`)
  const broadBelow = broad.find((b) => b.matcher.isAncestorOfMatch(key))
  if (broadBelow) return refuse('POLICY_BROAD_ROOT', `${shown} contains the broad root ${broadBelow.display}`)

  const contains = first((d) => d.matcher.isAncestorOfMatch(key))
  if (contains) return refuseDeny(contains, `${shown} contains ${contains.display} (${ruleLabel(contains)})`, true)

  return {allowed: true}
}

/** The fix sentence for a refusal code. */
export function mountRefusalFix(code: MountRefusalCode, host: Pick<HostFacts, 'platform'>): string {
  if (code === 'POLICY_UNSAFE_CHARS') {
    return 'move or rename the folder so its real path has no such character (a symlink does not help: the resolved path is what gets mounted)'
  }
  if (code === 'POLICY_NOT_LOCAL') return 'clone the repository onto a local drive and mount that folder'
  const example = host.platform === 'windows' ? '%USERPROFILE%\\dev\\<repo>' : '~/dev/<repo>'
  return `mount only the project folder itself, e.g. ${example}`
}

/**
 * The refusal as a sentence: "refusing to mount /home/u: it is your home directory." (a reason
 * names the path first: "<path> is …"; `where` adds e.g. " on the remote Podman host").
 */
export function refusalMessage(source: string, reason: string, host: Pick<HostFacts, 'platform'>, where = ''): string {
  const shown = showPath(host.platform === 'windows' ? stripWin32LongPrefix(source) : source)
  const rest = reason.startsWith(`${shown} `) ? `it ${reason.slice(shown.length + 1)}` : reason
  return `refusing to mount ${shown}${where}: ${rest}.`
}

/** Throws policyRefusal(code, reason, fix) unless the resolved source may be mounted. */
export function assertMountAllowed(resolved: string, host: HostFacts, opts: JudgeOptions = {}): void {
  const d = judgeMountSource(resolved, host, opts)
  if (d.allowed) return
  throw policyRefusal(d.code, refusalMessage(resolved, d.reason, host), mountRefusalFix(d.code, host), {path: resolved, rule: d.rule})
}

// ---------------------------------------------------------------------------------------------
// Targets

export type TargetDecision = {allowed: true} | {allowed: false; code: 'POLICY_TARGET' | 'POLICY_UNSAFE_CHARS'; reason: string}

/** A container-side mount target: an absolute POSIX path strictly under /workspace, no `.`/`..`. */
export function judgeMountTarget(target: string): TargetDecision {
  const shown = showPath(target)
  const unsafe = findUnsafeChar(target, {platform: 'linux'})
  if (unsafe) return {allowed: false, code: 'POLICY_UNSAFE_CHARS', reason: `mount target ${shown} contains ${unsafe}`}
  if (!target.startsWith('/workspace/')) return {allowed: false, code: 'POLICY_TARGET', reason: `mount target ${shown} is not under /workspace/`}
  const segs = target.slice('/workspace/'.length).split('/')
  if (segs.some((s) => s === '' || s === '.' || s === '..')) {
    return {allowed: false, code: 'POLICY_TARGET', reason: `mount target ${shown} has an empty, '.' or '..' segment`}
  }
  if (target.includes('\\')) return {allowed: false, code: 'POLICY_TARGET', reason: `mount target ${shown} contains a backslash`}
  return {allowed: true}
}

