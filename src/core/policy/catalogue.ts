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
import {packageRoot} from '../util/package-root.js'
import {compilePattern, envValue, expandVars, fold, keyEquals, keyIsAncestor, pathApi, toKey, type PathMatcher} from './path-key.js'


export type Severity = 'critical' | 'high' | 'medium' | 'low'

export interface CatalogueEntry {
  /** Stable id, `<category>/<slug of title>`. */
  id: string
  category: string
  title: string
  severity: Severity
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
  /** 'catalogue' | 'env' (an env_overrides var) | 'extra' (caller-supplied) | 'symlink' (realpath of a rule). */
  origin: 'catalogue' | 'env' | 'extra' | 'symlink'
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
        rules.push({id: `${e.id}:${platform}:${i}`, category: e.category, title: e.title, severity: e.severity, pattern, platform})
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
  const m = /^([A-Z]{2,}):(.*)$/.exec(value)
  if (!m) return value
  return m[1] === 'FILE' || m[1] === 'DIR' ? (m[2] as string) : null
}

function envOverrideValues(name: string, host: HostFacts): string[] {
  const raw = envValue(name, host)
  if (raw === undefined) return []
  const list = name === 'KUBECONFIG' ? raw.split(host.platform === 'windows' ? ';' : ':') : [raw]
  const out: string[] = []
  for (const item of list) {
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
  const push = (rule: DenyRule, path: string, display: string, origin: ExpandedDeny['origin']): void => {
    const dedupe = `${rule.id}\0${fold(path, host)}`
    if (seen.has(dedupe)) return
    const matcher = compilePattern(path, host)
    if (!matcher) return // not absolute for this host (e.g. a WSL-side /mnt/c path on Windows)
    seen.add(dedupe)
    deny.push({rule, path, display, origin, matcher})
  }

  // `/root` (Linux) and `/var/root` (macOS) are denied as *another* user's home; when they are the
  // user's own home, the home rules (POLICY_HOME and every `~/…` entry) take over instead.
  const home = toKey(host.homeDir, host)
  const isOwnHome = (p: string): boolean => {
    const key = toKey(p, host)
    return key !== null && home !== null && keyEquals(key, home)
  }
  for (const e of catalogue.entries) {
    const base = {category: e.category, title: e.title, severity: e.severity, platform: host.platform}
    ;(e.paths[host.platform] ?? []).forEach((pattern, i) => {
      const rule: DenyRule = {...base, id: `${e.id}:${host.platform}:${i}`, pattern}
      for (const p of expandPattern(pattern, host)) if (!isOwnHome(p)) push(rule, p, displayOf(pattern, p), 'catalogue')
    })
    for (const name of e.envOverrides) {
      const rule: DenyRule = {...base, id: `${e.id}:env:${name}`, pattern: `$${name}`}
      for (const value of envOverrideValues(name, host)) {
        if (isOverlyBroad(value, host)) continue
        for (const p of firmlinkVariants(value, host)) push(rule, p, `$${name} (= ${value})`, 'env')
      }
    }
  }

  const broadRoots: ExpandedRoot[] = []
  const seenRoots = new Set<string>()
  for (const pattern of [...catalogue.broadRoots.all, ...(catalogue.broadRoots[host.platform] ?? [])]) {
    for (const p of expandPattern(pattern, host)) {
      const matcher = compilePattern(p, host)
      const dedupe = fold(pathApi(host).normalize(p), host)
      if (!matcher || seenRoots.has(dedupe)) continue
      seenRoots.add(dedupe)
      broadRoots.push({pattern, path: p, display: displayOf(pattern, p), matcher})
    }
  }
  return {deny, broadRoots}
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
    const rule: DenyRule = {id: `extra:${i}`, category: 'extra', title: 'caller deny list', severity: 'critical', pattern, platform: host.platform}
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
