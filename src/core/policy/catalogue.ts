/**
 * The deny catalogue: which host paths must never reach the agent container.
 *
 * Source of truth: policy/sensitive-paths.yaml (with sources and notes). At run time the CLI reads
 * the compact policy/deny-catalogue.json generated from it by scripts/build-catalogue.mjs: parsing
 * the full YAML costs ~100 ms (+~40 ms to import `yaml`), the JSON ~0.3 ms. It is read lazily, on the
 * first policy evaluation, and cached for the process.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {unexpectedFailure} from '../errors.js'
import type {HostFacts, HostPlatform} from '../host/facts.js'
import {activeProfilePath, configDir, stateDir} from '../profile/location.js'
import {packageRoot} from '../util/package-root.js'
import {compilePattern, envValue, expandVars, fold, keyEquals, keyIsAncestor, pathApi, toKey, type PathKey, type PathMatcher} from './path-key.js'


export type Severity = 'critical' | 'high' | 'medium' | 'low'
/**
 * secret: reading it leaks something. host-exec: the host later runs (or trusts) what is written
 * there (PATH dirs, autostart, shell rc files, this CLI's own dirs). Both are refused as mounts;
 * only the tree scan treats them differently (a symlink into a host-exec place is harmless).
 */
export type Risk = 'secret' | 'host-exec'

export interface CatalogueEntry {
  /** Stable id, `<category>/<slug of title>`. */
  id: string
  category: string
  title: string
  severity: Severity
  risk: Risk
  kind: string
  /** Env vars that relocate this store; their values are denied too when set. */
  envOverrides: string[]
  paths: Partial<Record<HostPlatform, string[]>>
}

export interface DenyCatalogue {
  schema: string
  sourceSha256: string
  entries: CatalogueEntry[]
  broadRoots: {all: string[]} & Record<HostPlatform, string[]>
  workspace: {maskByDefault: string[]; writeProtectByDefault: string[]}
  envDenylist: {exact: string[]; patterns: string[]}
}

/** One catalogue pattern for one platform, as written. */
export interface DenyRule {
  /** `<entry id>:<platform>:<index>`, or `<entry id>:env:<VAR>` for env overrides. */
  id: string
  category: string
  title: string
  severity: Severity
  risk: Risk
  /** The pattern as written in the catalogue (`~/.ssh`, `${XDG_CONFIG_HOME}/gh`, `$CODEX_HOME`). */
  pattern: string
  platform: HostPlatform
}

/** A deny rule expanded for one host. */
export interface ExpandedDeny {
  rule: DenyRule
  /** The expanded absolute pattern (may still contain globs). */
  path: string
  /** How to name it in a message: `~/.ssh`, `${XDG_CONFIG_HOME}/gh (= /home/u/.config/gh)`, … */
  display: string
  /**
   * 'catalogue' | 'env' (an env_overrides var) | 'extra' (caller-supplied) | 'symlink' (realpath of
   * a rule) | 'host' (built from HostFacts: $PATH, this CLI's dirs, other users' homes).
   */
  origin: 'catalogue' | 'env' | 'extra' | 'symlink' | 'host'
  /** Absolute patterns below `path` that this rule does not cover (the state dir's worktrees). */
  except?: readonly string[]
  matcher: PathMatcher
}

export interface ExpandedRoot {
  /** As written (`~/.config`, `$TMPDIR`, `%APPDATA%`), or `realpath(<pattern>)` for symlink aliases. */
  pattern: string
  path: string
  display: string
  matcher: PathMatcher
}

export const CATALOGUE_SCHEMA = 'sourceos.dev/agent-machine/deny-catalogue/v1'
const catalogueFile = (): string => join(packageRoot(), 'policy', 'deny-catalogue.json')

let cached: DenyCatalogue | undefined

/** Reads policy/deny-catalogue.json once per process. */
export function loadCatalogue(): DenyCatalogue {
  if (cached) return cached
  let parsed: unknown
  try {
    // Stryker disable next-line StringLiteral: equivalent: JSON.parse reads a Buffer as UTF-8 too
    parsed = JSON.parse(readFileSync(catalogueFile(), 'utf8'))
  } catch (error) {
    throw unexpectedFailure('CATALOGUE_UNREADABLE', `cannot read the deny catalogue ${catalogueFile()}: ${(error as Error).message}`, 'reinstall sourceosctl (policy/deny-catalogue.json is part of the package)')
  }
  const c = parsed as Partial<DenyCatalogue> | null
  if (!c || c.schema !== CATALOGUE_SCHEMA || !Array.isArray(c.entries) || !c.broadRoots || !c.workspace || !c.envDenylist) {
    throw unexpectedFailure('CATALOGUE_INVALID', `the deny catalogue ${catalogueFile()} is not a ${CATALOGUE_SCHEMA} document`, 'regenerate it with `node scripts/build-catalogue.mjs`')
  }
  cached = c as DenyCatalogue
  return cached
}

/** Every catalogue pattern as a DenyRule (all platforms). */
export function denyRules(catalogue: DenyCatalogue = loadCatalogue()): DenyRule[] {
  const rules: DenyRule[] = []
  for (const e of catalogue.entries) {
    for (const platform of ['linux', 'macos', 'windows'] as const) {
      ;(e.paths[platform] ?? []).forEach((pattern, i) => {
        rules.push({id: `${e.id}:${platform}:${i}`, category: e.category, title: e.title, severity: e.severity, risk: e.risk ?? 'secret', pattern, platform})
      })
    }
  }
  return rules
}

// ---------------------------------------------------------------------------------------------
// Expansion per host

const XDG_ALIASES: ReadonlyArray<readonly [string, string]> = [
  ['~/.config', 'XDG_CONFIG_HOME'],
  ['~/.local/share', 'XDG_DATA_HOME'],
  ['~/.local/state', 'XDG_STATE_HOME'],
  ['~/.cache', 'XDG_CACHE_HOME'],
]

/**
 * Written forms to expand for one written pattern. On POSIX hosts a `~/.config/…` rule also covers
 * `${XDG_CONFIG_HOME}/…` and vice versa (tools differ in whether they honour XDG), so a relocated
 * XDG dir does not open a hole; same for data/state/cache.
 */
function writtenVariants(pattern: string, host: HostFacts): string[] {
  const out = [pattern]
  // Stryker disable next-line ConditionalExpression,LogicalOperator,Regex,StringLiteral: equivalent: a fast path; the loop below adds no variant to any other pattern, and on Windows the XDG variables expand to nothing
  if (host.platform === 'windows' || !/^(~\/\.(config|local|cache)|\$\{?XDG_)/.test(pattern)) return out
  for (const [tilde, xdg] of XDG_ALIASES) {
    const braced = '${' + xdg + '}'
    for (const [from, to] of [[tilde, braced], [braced, tilde], ['$' + xdg, tilde]] as const) {
      if (pattern === from || pattern.startsWith(from + '/')) out.push(to + pattern.slice(from.length))
    }
  }
  return out
}

/** macOS: /tmp, /var and /etc are symlinks into /private; deny both spellings. */
function firmlinkVariants(expanded: string, host: HostFacts): string[] {
  if (host.platform !== 'macos') return [expanded]
  const m = /^\/(private\/)?(tmp|var|etc)(\/.*)?$/.exec(expanded)
  if (!m) return [expanded]
  const rest = `${m[2]}${m[3] ?? ''}`
  return [expanded, m[1] ? `/${rest}` : `/private/${rest}`]
}

function displayOf(written: string, expanded: string): string {
  if (written === expanded || (/^~([\\/]|$)/.test(written) && !/[$%]/.test(written))) return written
  return `${written} (= ${expanded})`
}

/** Expands one written pattern for the host; [] when a variable is unset with no default. */
export function expandPattern(written: string, host: HostFacts): string[] {
  const out: string[] = []
  for (const variant of writtenVariants(written, host)) {
    const r = expandVars(variant, host)
    if (!r.ok) continue
    for (const p of firmlinkVariants(r.value, host)) if (!out.includes(p)) out.push(p)
  }
  return out
}

/** `FILE:/tmp/krb5cc_1000` → `/tmp/krb5cc_1000`; other credential-cache types name no file. */
function stripCcacheType(value: string): string | null {
  // Stryker disable next-line Regex: equivalent: only a value with a line break differs, and it names no credential cache either way
  const m = /^([A-Z]{2,}):(.*)$/.exec(value)
  if (!m) return value
  return m[1] === 'FILE' || m[1] === 'DIR' ? (m[2] as string) : null
}

function envOverrideValues(name: string, host: HostFacts): string[] {
  const raw = envValue(name, host)
  // Stryker disable next-line ArrayDeclaration: equivalent: text that is no path is dropped by the caller (isOverlyBroad)
  if (raw === undefined) return []
  const list = name === 'KUBECONFIG' ? raw.split(host.platform === 'windows' ? ';' : ':') : [raw]
  // Stryker disable next-line ArrayDeclaration: equivalent: as above
  const out: string[] = []
  for (const item of list) {
    // Stryker disable next-line ConditionalExpression,StringLiteral: equivalent: only saves work ('' is no path and is dropped by the caller)
    const value = item === '' ? null : stripCcacheType(item)
    if (value === null) continue
    const r = expandVars(value, host)
    if (r.ok) out.push(r.value)
  }
  return out
}

/**
 * An env-override location that is the root, the home dir or one of its ancestors would refuse
 * every mount ("inside" it); those places are refused as broad roots anyway, so skip them.
 */
function isOverlyBroad(p: string, host: HostFacts): boolean {
  const key = toKey(p, host)
  const home = toKey(host.homeDir, host)
  // Stryker disable next-line BooleanLiteral: equivalent: every caller drops a path toKey refuses (toKey first, or compileDenyMatcher)
  if (!key) return true
  if (key.segs.length === 0) return true
  return home !== null && (keyEquals(key, home) || keyIsAncestor(key, home))
}

interface HostExpansion {
  deny: ExpandedDeny[]
  broadRoots: ExpandedRoot[]
}

const expansions = new WeakMap<HostFacts, HostExpansion>()

function expandForHost(host: HostFacts, catalogue: DenyCatalogue): HostExpansion {
  const deny: ExpandedDeny[] = []
  const seen = new Set<string>()
  const push = (rule: DenyRule, path: string, display: string, origin: ExpandedDeny['origin'], except?: readonly string[]): void => {
    const dedupe = `${rule.id}\0${fold(path, host)}`
    if (seen.has(dedupe)) return
    const matcher = compileDenyMatcher(path, except, host)
    if (!matcher) return // not absolute for this host (e.g. a WSL-side /mnt/c path on Windows)
    seen.add(dedupe)
    deny.push({rule, path, display, origin, ...(except?.length ? {except} : {}), matcher})
  }

  // `/root` (Linux) and `/var/root` (macOS) are denied as *another* user's home; when they are the
  // user's own home, the home rules (POLICY_HOME and every `~/…` entry) take over instead.
  const home = toKey(host.homeDir, host)
  const isOwnHome = (p: string): boolean => {
    const key = toKey(p, host)
    return key !== null && home !== null && keyEquals(key, home)
  }
  const others = otherHomes(host)
  // Stryker disable next-line MethodExpression,ConditionalExpression: equivalent: otherHomes keeps only homes toKey accepts, and compilePattern accepts those
  const homeMatchers = others.map((o) => compilePattern(o.home, host)).filter((m): m is PathMatcher => m !== null)
  const homes = homeIndex(homeMatchers)
  // Stryker disable next-line BooleanLiteral,ObjectLiteral: equivalent: expandPattern reads neither isRoot nor $HOME (home-relative patterns use homeDir)
  const placeholder: HostFacts = {...host, homeDir: OTHER_HOME, uid: null, isRoot: false, env: {HOME: OTHER_HOME}}
  for (const e of catalogue.entries) {
    // Stryker disable next-line StringLiteral: equivalent: every catalogue entry has a risk (scripts/build-catalogue.mjs writes it)
    const base = {category: e.category, title: e.title, severity: e.severity, risk: e.risk ?? 'secret', platform: host.platform}
    // Stryker disable next-line ArrayDeclaration: equivalent: for an entry with no pattern on this platform the mutant's text is no path and is dropped
    const patterns = e.paths[host.platform] ?? []
    patterns.forEach((pattern, i) => {
      const rule: DenyRule = {...base, id: `${e.id}:${host.platform}:${i}`, pattern}
      // A variable that expands to /, the home dir or an ancestor (PNPM_HOME=$HOME) would refuse
      // every mount: skipped, like env_overrides below (the broad-root rules cover those places).
      const viaVariable = /[$%]/.test(pattern)
      for (const p of expandPattern(pattern, host)) if (!isOwnHome(p) && !(viaVariable && isOverlyBroad(p, host))) push(rule, p, displayOf(pattern, p), 'catalogue')
      // Run as root: every other user's home gets the same `~/…` rules (one matcher for all homes).
      if (homeMatchers.length > 0 && HOME_RELATIVE.test(pattern)) {
        for (const p of expandPattern(pattern, placeholder)) {
          const rel = compilePattern(p, host)
          // Stryker disable next-line ConditionalExpression: equivalent: p is OTHER_HOME/…, always absolute on the POSIX hosts that have other homes
          if (!rel) continue
          deny.push({rule, path: p, display: `${pattern} in another user's home`, origin: 'host', matcher: underHomes(rel, homes)})
        }
      }
    })
    for (const name of e.envOverrides) {
      const rule: DenyRule = {...base, id: `${e.id}:env:${name}`, pattern: `$${name}`}
      for (const value of envOverrideValues(name, host)) {
        if (isOverlyBroad(value, host)) continue
        for (const p of firmlinkVariants(value, host)) push(rule, p, `$${name} (= ${value})`, 'env')
      }
    }
  }
  for (const r of hostDerivedRules(host)) {
    for (const p of firmlinkVariants(r.path, host)) push(r.rule, p, r.display, 'host', r.except?.map((x) => p + x.slice(r.path.length)))
  }

  const broadRoots: ExpandedRoot[] = []
  const seenRoots = new Set<string>()
  const pushRoot = (pattern: string, p: string, display: string): void => {
    const matcher = compilePattern(p, host)
    const dedupe = fold(pathApi(host).normalize(p), host)
    if (!matcher || seenRoots.has(dedupe)) return
    seenRoots.add(dedupe)
    broadRoots.push({pattern, path: p, display, matcher})
  }
  // Stryker disable next-line ArrayDeclaration: equivalent: every platform has a broad-root list (the mutant's text would be no path anyway)
  const rootPatterns = [...catalogue.broadRoots.all, ...(catalogue.broadRoots[host.platform] ?? [])]
  for (const pattern of rootPatterns) {
    for (const p of expandPattern(pattern, host)) pushRoot(pattern, p, displayOf(pattern, p))
  }
  // Run as root: every other user's home is refused like one's own (it and its ancestors), and so
  // are its broad roots (~/.config, ~/.local, ~/Library, …).
  for (const other of others) {
    pushRoot(other.pattern, other.home, `${other.home} (another user's home)`)
    for (const pattern of rootPatterns) {
      // Stryker disable next-line ConditionalExpression,LogicalOperator,StringLiteral: equivalent: only saves work (another pattern expands as it did for the own host, ~ to the home just pushed: pushRoot keeps the first of equal paths)
      if (!HOME_RELATIVE.test(pattern) || pattern === '~') continue
      for (const p of expandPattern(pattern, other.facts)) pushRoot(pattern, p, `${pattern} in the home ${other.home} (= ${p})`)
    }
  }
  return {deny, broadRoots}
}

/**
 * Stands for "any other user's home" in home-relative patterns (see underHomes): the path of such a
 * rule starts with it. deny-inodes.ts puts each other home in its place to find the files on disk.
 */
export const OTHER_HOME = '/@other-home'

/**
 * One matcher for a home-relative rule (written against OTHER_HOME) in every home of `homes`: a
 * candidate inside a home is matched by its remainder below it; a home, or any folder containing
 * one, contains a match.
 */
function underHomes(rel: PathMatcher, homes: HomeIndex): PathMatcher {
  return {
    root: rel.root,
    segments: rel.segments,
    // Stryker disable next-line BooleanLiteral: equivalent: hasGlob is read only of broad roots (paths.ts); this is a deny matcher
    hasGlob: true,
    equals: (key) => homes.below(key).some((k) => rel.equals(k)),
    covers: (key) => homes.below(key).some((k) => rel.covers(k)),
    isAncestorOfMatch: (key) => homes.containsHome(key) || homes.below(key).some((k) => rel.isAncestorOfMatch(k)),
  }
}

interface HomeIndex {
  /** The candidate's remainder below each home it is inside, rooted at OTHER_HOME. */
  below(key: PathKey): readonly PathKey[]
  /** The candidate is a home or contains one. */
  containsHome(key: PathKey): boolean
}

/** The homes as matchers, with the per-candidate answers cached (the judge asks every rule about one key). */
function homeIndex(homes: readonly PathMatcher[]): HomeIndex {
  const placeholder = OTHER_HOME.slice(1)
  const belowCache = new WeakMap<PathKey, PathKey[]>()
  const containsCache = new WeakMap<PathKey, boolean>()
  return {
    below(key) {
      let out = belowCache.get(key)
      // Stryker disable next-line ConditionalExpression: equivalent: the memo; computed again, the answer is the same
      if (out) return out
      // Stryker disable next-line ArrayDeclaration: equivalent: the mutant's text has no segments, so no rule matches, covers or is contained by it
      out = []
      for (const h of homes) {
        const n = h.segments.length
        // Stryker disable next-line ConditionalExpression,LogicalOperator,EqualityOperator: equivalent: only saves work (h.equals on the first n segments decides: another root or fewer segments is not equal)
        if (key.root === h.root && key.segs.length >= n && h.equals({root: key.root, segs: key.segs.slice(0, n)})) out.push({root: '/', segs: [placeholder, ...key.segs.slice(n)]})
      }
      belowCache.set(key, out)
      return out
    },
    containsHome(key) {
      let out = containsCache.get(key)
      // Stryker disable next-line ConditionalExpression: equivalent (→ true only): the memo; computed again, the answer is the same
      if (out === undefined) {
        out = homes.some((h) => h.equals(key) || h.isAncestorOfMatch(key))
        containsCache.set(key, out)
      }
      return out
    },
  }
}

/** Patterns relative to a home directory: `~/…` and the XDG base dirs (which default below it). */
// Stryker disable next-line Regex: equivalent for this catalogue: no pattern has ~ or an XDG variable after its start, an XDG variable without braces, or is ~ alone but the broad root skipped by name
const HOME_RELATIVE = /^(~([\\/]|$)|\$\{?XDG_(CONFIG|DATA|STATE|CACHE)_HOME\b)/

interface OtherHome {
  /** Where the home came from: `/etc/passwd`, `/home/*`, `/Users/*`. */
  pattern: string
  home: string
  /** The host as that user would see it: their home, no env overrides (their XDG dirs default below it). */
  facts: HostFacts
}

/**
 * Run as root (uid 0, Linux or macOS): the homes of the other accounts (HostFacts.userHomes, read
 * from /etc/passwd by the host probe) plus the conventional `/home/*` (Linux) and `/Users/*`
 * (macOS). Empty for everyone else: a normal user cannot read other homes anyway, and /root is
 * denied by the catalogue as another user's home.
 */
export function otherHomes(host: HostFacts): OtherHome[] {
  if (!host.isRoot || host.platform === 'windows') return []
  const out: OtherHome[] = []
  const seen = new Set<string>()
  const own = toKey(host.homeDir, host)
  const add = (pattern: string, dir: string): void => {
    const key = toKey(dir, host)
    if (!key || key.segs.length === 0 || (own && keyEquals(key, own))) return
    const norm = pathApi(host).normalize(dir)
    const dedupe = fold(norm, host)
    if (seen.has(dedupe)) return
    seen.add(dedupe)
    // Stryker disable next-line BooleanLiteral,ObjectLiteral: equivalent: expandPattern reads neither isRoot nor $HOME (home-relative patterns use homeDir)
    out.push({pattern, home: norm, facts: {...host, homeDir: norm, uid: null, isRoot: false, env: {HOME: norm}}})
  }
  // Stryker disable next-line ArrayDeclaration: equivalent: the mutant's text is no path and add() drops it
  for (const dir of host.userHomes ?? []) add('/etc/passwd', dir)
  add(host.platform === 'macos' ? '/Users/*' : '/home/*', host.platform === 'macos' ? '/Users/*' : '/home/*')
  return out
}

interface HostDerivedRule {
  rule: DenyRule
  path: string
  display: string
  except?: string[]
}

/** A directory or file this CLI keeps that the agent must never reach (config, profile, state, evidence). */
function cliOwnRule(id: string, title: string, path: string | undefined, source: string, host: HostFacts, holes: readonly string[]): HostDerivedRule | null {
  const value = cliPath(path, host)
  if (value === null) return null
  // Holes (the state dir's worktrees) inside this rule's path: on macOS the state dir sits inside the config dir.
  const api = pathApi(host)
  const except = holes.filter((h) => h.startsWith(value.endsWith(api.sep) ? value : value + api.sep))
  return {
    rule: {id: `host:cli:${id}`, category: 'cli_own_dirs', title, severity: 'critical', risk: 'host-exec', pattern: source, platform: host.platform},
    path: value,
    display: `${title} ${value}`,
    ...(except.length ? {except} : {}),
  }
}

/** An absolute form of a CLI location, or null (relative: resolved against a cwd the policy does not know; or overly broad). */
function cliPath(path: string | undefined, host: HostFacts): string | null {
  if (path === undefined) return null
  // Stryker disable next-line ObjectLiteral: equivalent: a failed expansion falls back to the same path
  const r = path.startsWith('~') ? expandVars(path, host) : {ok: true as const, value: path}
  const value = r.ok ? r.value : path
  // Stryker disable next-line ConditionalExpression: equivalent: isOverlyBroad is true for text toKey refuses
  if (toKey(value, host) === null || isOverlyBroad(value, host)) return null
  return pathApi(host).normalize(value)
}

/** Subfolders of the state dir that may be mounted: a --worktree checkout made for one run. */
export const STATE_DIR_MOUNTABLE = ['worktrees/*'] as const

/**
 * Deny rules that depend on the launching host, not on the catalogue's patterns
 * (sensitive-paths.yaml, `built_at_run_time`):
 *  - every directory on $PATH (see pathEntries for how entries are expanded);
 *  - this CLI's config dir, active profile, state dir (except STATE_DIR_MOUNTABLE) and evidence dir.
 */
export function hostDerivedRules(host: HostFacts): HostDerivedRule[] {
  const out: HostDerivedRule[] = []
  pathEntries(host).forEach((dir, i) => {
    out.push({
      rule: {id: `host:path:${i}`, category: 'path_env', title: 'a directory on your $PATH', severity: 'critical', risk: 'host-exec', pattern: '$PATH', platform: host.platform},
      path: dir,
      display: `${dir} (on your $PATH)`,
    })
  })
  const evidence = envValue('SOURCEOSCTL_EVIDENCE_DIR', host)
  const state = cliPath(stateDir(host), host)
  // Stryker disable next-line ArrayDeclaration: equivalent: cliOwnRule keeps only holes below the rule's path, and the mutant's text is below none
  const holes = state === null ? [] : STATE_DIR_MOUNTABLE.map((x) => pathApi(host).join(state, ...x.split('/')))
  const rules = [
    cliOwnRule('config', "sourceosctl's config dir", configDir(host), envValue('SOURCEOSCTL_CONFIG_DIR', host) ? '$SOURCEOSCTL_CONFIG_DIR' : 'the default config dir', host, holes),
    cliOwnRule('profile', 'the active profile', activeProfilePath(host), envValue('SOURCEOSCTL_PROFILE', host) ? '$SOURCEOSCTL_PROFILE' : '<config>/agent-machine/profile.yaml', host, holes),
    cliOwnRule('state', "sourceosctl's state dir", stateDir(host), envValue('SOURCEOSCTL_STATE_DIR', host) ? '$SOURCEOSCTL_STATE_DIR' : 'the default state dir', host, holes),
    cliOwnRule('evidence', 'the evidence dir', evidence, '$SOURCEOSCTL_EVIDENCE_DIR', host, holes),
  ]
  for (const r of rules) if (r) out.push(r)
  return out
}

/**
 * The directories on the host's PATH, as deny paths. Split on ':' (';' and surrounding quotes on
 * Windows). Kept: absolute entries, after expanding a leading `~` (bash does when it searches PATH;
 * on Windows %VAR% too). Skipped: empty and relative entries (they name the current directory);
 * `/`, the home dir and its ancestors (refused as broad roots anyway); and `…/node_modules/.bin`,
 * which npm, npx and pnpm put on PATH for the command they run (the repo's own dependencies,
 * which the agent can rewrite in any case — not the user's shell PATH).
 */
export function pathEntries(host: HostFacts): string[] {
  const raw = envValue('PATH', host)
  if (raw === undefined) return []
  const windows = host.platform === 'windows'
  const out: string[] = []
  const seen = new Set<string>()
  for (let item of raw.split(windows ? ';' : ':')) {
    if (windows) item = item.replace(/^"(.*)"$/, '$1')
    // Stryker disable next-line ConditionalExpression,StringLiteral: equivalent: only saves work ('' is no path: toKey drops it)
    if (item === '') continue
    let value = item
    // Stryker disable next-line ConditionalExpression,StringLiteral: equivalent for `item === '~'`: unexpanded, ~ is no path (dropped); expanded, it is the home (dropped as overly broad)
    if (windows || item === '~' || item.startsWith('~/')) {
      const r = expandVars(item, host)
      if (!r.ok) continue
      value = r.value
    }
    const key = toKey(value, host)
    if (!key || isOverlyBroad(value, host) || isNpmBin(key)) continue
    const dedupe = `${key.root}${key.segs.join('/')}`
    if (seen.has(dedupe)) continue
    seen.add(dedupe)
    out.push(value)
  }
  return out
}

function isNpmBin(key: PathKey): boolean {
  const n = key.segs.length
  // Stryker disable next-line ConditionalExpression: equivalent: with fewer than 2 segments segs[n - 2] is undefined, never 'node_modules'
  return n >= 2 && key.segs[n - 1] === '.bin' && key.segs[n - 2] === 'node_modules'
}

/**
 * A deny matcher for `path` that leaves out the `except` subtrees: inside an exception is allowed,
 * everything else inside `path` is denied, and so is every folder that contains `path`.
 */
export function compileDenyMatcher(path: string, except: readonly string[] | undefined, host: Pick<HostFacts, 'platform' | 'caseInsensitivePaths'>): PathMatcher | null {
  const base = compilePattern(path, host)
  if (!base || !except?.length) return base
  const holes = except.map((x) => compilePattern(x, host)).filter((m): m is PathMatcher => m !== null)
  const inHole = (key: PathKey): boolean => holes.some((h) => h.covers(key))
  return {
    root: base.root,
    segments: base.segments,
    hasGlob: base.hasGlob,
    equals: (key) => base.equals(key) && !inHole(key),
    covers: (key) => base.covers(key) && !inHole(key),
    isAncestorOfMatch: (key) => base.isAncestorOfMatch(key),
  }
}

function expansionFor(host: HostFacts): HostExpansion {
  let e = expansions.get(host)
  if (!e) {
    e = expandForHost(host, loadCatalogue())
    expansions.set(host, e)
  }
  return e
}

/**
 * The catalogue's deny patterns for this host: the host platform's patterns with `~`, $VAR, %VAR%
 * and XDG/Windows defaults expanded (a pattern whose variable is unset and has no default is
 * dropped, never widened), plus the locations named by env_overrides vars that are set
 * (CODEX_HOME, each KUBECONFIG element, GNUPGHOME, AWS_SHARED_CREDENTIALS_FILE, …). Cached per
 * HostFacts object.
 */
export function denyPatternsFor(host: HostFacts): readonly ExpandedDeny[] {
  return expansionFor(host).deny
}

/** The broad roots (refused outright, and so are their ancestors) expanded for this host. */
export function broadRootsFor(host: HostFacts): readonly ExpandedRoot[] {
  return expansionFor(host).broadRoots
}

/** Caller-supplied extra deny patterns (`~`/$VAR expanded; unexpandable ones dropped). */
export function expandExtraDeny(patterns: readonly string[], host: HostFacts): ExpandedDeny[] {
  const out: ExpandedDeny[] = []
  patterns.forEach((pattern, i) => {
    const rule: DenyRule = {id: `extra:${i}`, category: 'extra', title: 'caller deny list', severity: 'critical', risk: 'secret', pattern, platform: host.platform}
    for (const p of expandPattern(pattern, host)) {
      const matcher = compilePattern(p, host)
      if (matcher) out.push({rule, path: p, display: displayOf(pattern, p), origin: 'extra', matcher})
    }
  })
  return out
}

/** Workspace-level secret patterns (warn/mask inside an allowlisted tree). */
export function workspacePatterns(): DenyCatalogue['workspace'] {
  return loadCatalogue().workspace
}

/**
 * The mount (if any) whose source holds `file`, compared as policy keys (case-folded where the
 * host's file system folds). For files this CLI trusts that the catalogue cannot name in advance:
 * a profile given by `--profile-file`.
 */
export function mountHolding<M extends {hostSource: string}>(file: string, mounts: readonly M[], host: Pick<HostFacts, 'platform' | 'caseInsensitivePaths'>): M | undefined {
  const key = toKey(file, host)
  if (!key) return undefined
  return mounts.find((m) => {
    const root = toKey(m.hostSource, host)
    return root !== null && (keyEquals(root, key) || keyIsAncestor(root, key))
  })
}
