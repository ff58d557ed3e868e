/**
 * Internal helpers shared by the policy modules: host-aware variable lookup (with the XDG and
 * Windows defaults), `~`/$VAR/%VAR% expansion, comparison keys (case- and Unicode-folded where the
 * host's file system is), and glob matchers over path segments.
 *
 * Everything here is pure: it reads HostFacts, never `process` or the file system.
 */
import path from 'node:path'
import type {HostFacts} from '../host/facts.js'

export type PathApi = typeof path.posix

export function pathApi(host: Pick<HostFacts, 'platform'>): PathApi {
  return host.platform === 'windows' ? path.win32 : path.posix
}

// ---------------------------------------------------------------------------------------------
// Variables

/** The host's value of `name`; case-insensitive on Windows; empty counts as unset. */
export function envValue(name: string, host: Pick<HostFacts, 'platform' | 'env'>): string | undefined {
  let value = host.env[name]
  if (value === undefined && host.platform === 'windows') {
    const upper = name.toUpperCase()
    for (const [key, v] of Object.entries(host.env)) {
      if (key.toUpperCase() === upper) {
        value = v
        break
      }
    }
  }
  return value === undefined || value === '' ? undefined : value
}

const XDG_DEFAULTS: Record<string, string[]> = {
  XDG_CONFIG_HOME: ['.config'],
  XDG_DATA_HOME: ['.local', 'share'],
  XDG_STATE_HOME: ['.local', 'state'],
  XDG_CACHE_HOME: ['.cache'],
}

/**
 * A variable's value for expansion: the environment first, then the documented default
 * (XDG base dirs, /run/user/<uid>, /tmp, the Windows profile folders). undefined = unset with no
 * default; callers decide whether that is an error (user paths) or a dropped rule (catalogue).
 */
export function varValue(name: string, host: HostFacts): string | undefined {
  const api = pathApi(host)
  const fromEnv = envValue(name, host)
  if (host.platform === 'windows') {
    const upper = name.toUpperCase()
    if (fromEnv !== undefined) return fromEnv
    switch (upper) {
      case 'USERPROFILE':
        return host.homeDir
      case 'APPDATA':
        return api.join(host.homeDir, 'AppData', 'Roaming')
      case 'LOCALAPPDATA':
        return api.join(host.homeDir, 'AppData', 'Local')
      case 'PROGRAMDATA':
      case 'ALLUSERSPROFILE':
        return 'C:\\ProgramData'
      case 'TEMP':
      case 'TMP':
        return api.join(varValue('LOCALAPPDATA', host) as string, 'Temp')
      default:
        return undefined
    }
  }
  const defaults = XDG_DEFAULTS[name]
  if (defaults) {
    // XDG: a relative value is invalid and must be ignored.
    return fromEnv !== undefined && fromEnv.startsWith('/') ? fromEnv : api.join(host.homeDir, ...defaults)
  }
  if (name === 'XDG_RUNTIME_DIR') {
    if (fromEnv !== undefined && fromEnv.startsWith('/')) return fromEnv
    return host.platform === 'linux' && host.uid !== null ? `/run/user/${host.uid}` : undefined
  }
  if (fromEnv !== undefined) return fromEnv
  if (name === 'HOME') return host.homeDir
  if (name === 'TMPDIR') return '/tmp'
  return undefined
}

const VAR_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g
const WIN_VAR_REF = /%([A-Za-z_][A-Za-z0-9_()]*)%/g

export type ExpandFailure = {kind: 'unset'; name: string} | {kind: 'tilde-user'; text: string}

/**
 * Expands a leading `~` (`~`, `~/x`, `~\x` on Windows), `$VAR`, `${VAR}` and, on Windows, `%VAR%`.
 * One pass: a value that itself contains `$` is not expanded again.
 */
export function expandVars(raw: string, host: HostFacts): {ok: true; value: string} | {ok: false; failure: ExpandFailure} {
  let out = raw
  if (out === '~' || out.startsWith('~/') || (host.platform === 'windows' && out.startsWith('~\\'))) {
    out = host.homeDir + out.slice(1)
  } else if (out.startsWith('~')) {
    return {ok: false, failure: {kind: 'tilde-user', text: out.split(/[\\/]/)[0] as string}}
  }
  let missing: string | null = null
  const replace = (whole: string, a?: string, b?: string): string => {
    const name = (a ?? b) as string
    const value = varValue(name, host)
    if (value === undefined) {
      missing ??= name
      return whole
    }
    return value
  }
  // Replace in one pass over the original text so substituted values are never re-scanned.
  if (host.platform === 'windows') {
    const re = new RegExp(`${VAR_REF.source}|${WIN_VAR_REF.source}`, 'g')
    out = out.replace(re, (whole: string, a?: string, b?: string, c?: string) => replace(whole, a ?? c, b))
  } else {
    out = out.replace(VAR_REF, (whole: string, a?: string, b?: string) => replace(whole, a, b))
  }
  if (missing !== null) return {ok: false, failure: {kind: 'unset', name: missing}}
  return {ok: true, value: out}
}

// ---------------------------------------------------------------------------------------------
// Comparison keys

/** A normalised, folded absolute path: its root and its segments. */
export interface PathKey {
  /** '/' on POSIX; 'c:\' (folded) for a drive; '\\server\share' for UNC / device paths. */
  root: string
  segs: string[]
}

/**
 * Case + Unicode folding for hosts whose file systems compare that way (macOS, Windows): NFC, then
 * upper → lower case, which also folds ß→ss and ſ→s like full case folding. Linux: unchanged.
 */
export function fold(text: string, host: Pick<HostFacts, 'caseInsensitivePaths'>): string {
  if (!host.caseInsensitivePaths) return text
  return text.normalize('NFC').toUpperCase().toLowerCase().normalize('NFC')
}

/** Strips Win32 `\\?\` (and `\\?\UNC\` → `\\`) long-path prefixes. */
export function stripWin32LongPrefix(p: string): string {
  const s = p.replace(/\//g, '\\')
  if (/^\\\\\?\\UNC\\/i.test(s)) return '\\\\' + s.slice(8)
  if (s.startsWith('\\\\?\\')) return s.slice(4)
  return s
}

/** True for `\\server\share…`, `//server/share`, `\\.\device`, `\\?\UNC\…` (after prefix stripping). */
export function isWin32NonLocal(p: string): boolean {
  return /^[\\/]{2}/.test(stripWin32LongPrefix(p))
}

function lexicalSegments(parts: string[], windows: boolean): string[] {
  const out: string[] = []
  for (let part of parts) {
    if (part === '' || part === '.') continue
    if (part === '..') {
      out.pop()
      continue
    }
    // Win32 drops trailing dots and spaces from every component: "C:\Users\Me\.ssh." is ".ssh".
    if (windows) {
      part = part.replace(/[. ]+$/, '')
      if (part === '') continue
    }
    out.push(part)
  }
  return out
}

/** The comparison key of an absolute path; null when the path is not absolute for the host. */
export function toKey(p: string, host: Pick<HostFacts, 'platform' | 'caseInsensitivePaths'>): PathKey | null {
  if (host.platform !== 'windows') {
    if (!p.startsWith('/')) return null
    return {root: '/', segs: lexicalSegments(p.split('/'), false).map((s) => fold(s, host))}
  }
  const s = stripWin32LongPrefix(p)
  const drive = /^([A-Za-z]):\\/.exec(s)
  if (drive) {
    return {root: fold(`${drive[1]}:\\`, host), segs: lexicalSegments(s.slice(3).split('\\'), true).map((x) => fold(x, host))}
  }
  const unc = /^\\\\([^\\]+)\\([^\\]+)(?:\\|$)/.exec(s)
  if (unc) {
    const root = fold(`\\\\${unc[1]}\\${unc[2]}`, host)
    return {root, segs: lexicalSegments(s.slice(unc[0].length).split('\\'), true).map((x) => fold(x, host))}
  }
  return null
}

export function keyEquals(a: PathKey, b: PathKey): boolean {
  return a.root === b.root && a.segs.length === b.segs.length && a.segs.every((s, i) => s === b.segs[i])
}

/** a is a strict ancestor of b. */
export function keyIsAncestor(a: PathKey, b: PathKey): boolean {
  return a.root === b.root && a.segs.length < b.segs.length && a.segs.every((s, i) => s === b.segs[i])
}

// ---------------------------------------------------------------------------------------------
// Glob matchers over segments

type Segment = {kind: 'literal'; value: string} | {kind: 'glob'; re: RegExp} | {kind: 'globstar'}

/**
 * A compiled path pattern: `*` and `?` match within one segment (dot files included), `**` matches
 * any number of segments, a trailing `/**` means "the directory and its subtree". A pattern that
 * starts with `**` (e.g. `**\/*.kdbx`) is relative: it matches at any depth.
 */
export interface PathMatcher {
  readonly root: string | null
  readonly segments: readonly Segment[]
  readonly hasGlob: boolean
  /** The candidate equals a path this pattern matches. */
  equals(key: PathKey): boolean
  /** The candidate is a path this pattern matches, or inside one. */
  covers(key: PathKey): boolean
  /** The candidate is a strict ancestor of a path this pattern could match. */
  isAncestorOfMatch(key: PathKey): boolean
}

function globToRegExp(segment: string): RegExp {
  let src = ''
  for (const ch of segment) {
    if (ch === '*') src += '.*'
    else if (ch === '?') src += '.'
    else src += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&')
  }
  return new RegExp(`^${src}$`, 'su')
}

function compileSegment(raw: string): Segment {
  if (raw === '**') return {kind: 'globstar'}
  if (raw.includes('*') || raw.includes('?')) return {kind: 'glob', re: globToRegExp(raw)}
  return {kind: 'literal', value: raw}
}

function segMatches(seg: Segment, value: string): boolean {
  if (seg.kind === 'literal') return seg.value === value
  if (seg.kind === 'glob') return seg.re.test(value)
  return true
}

/** Compiles an expanded (variable-free) pattern; null when it is not absolute for the host. */
export function compilePattern(expanded: string, host: Pick<HostFacts, 'platform' | 'caseInsensitivePaths'>): PathMatcher | null {
  const windows = host.platform === 'windows'
  const sep = windows ? /[\\/]/ : /\//
  let root: string | null
  let rawSegs: string[]
  if (expanded.startsWith('**')) {
    root = null
    rawSegs = expanded.split(sep).filter((s) => s !== '' && s !== '.')
  } else {
    // Globs never sit in the root part, so a key of the pattern text gives root + folded segments.
    const key = toKey(expanded, host)
    if (!key) return null
    root = key.root
    rawSegs = key.segs
  }
  const segments = rawSegs.map((s) => compileSegment(root === null ? fold(s, host) : s))
  // Collapse runs of ** (a/**/**/b ≡ a/**/b).
  const segs = segments.filter((s, i) => !(s.kind === 'globstar' && segments[i - 1]?.kind === 'globstar'))
  return makeMatcher(root, segs)
}

function makeMatcher(root: string | null, segs: readonly Segment[]): PathMatcher {
  const n = segs.length
  const hasGlob = segs.some((s) => s.kind !== 'literal')

  // pattern[pi..] matches cand[ci..k] for some k (leftover candidate segments allowed when `prefix`)
  const matchFrom = (pi: number, cand: readonly string[], ci: number, prefix: boolean): boolean => {
    if (pi === n) return prefix || ci === cand.length
    const seg = segs[pi] as Segment
    if (seg.kind === 'globstar') {
      if (matchFrom(pi + 1, cand, ci, prefix)) return true
      return ci < cand.length && matchFrom(pi, cand, ci + 1, prefix)
    }
    if (ci === cand.length) return false
    return segMatches(seg, cand[ci] as string) && matchFrom(pi + 1, cand, ci + 1, prefix)
  }

  // cand[ci..] is fully consumed while pattern[pi..] still requires at least one more segment
  const ancestorFrom = (pi: number, cand: readonly string[], ci: number): boolean => {
    if (ci === cand.length) return segs.slice(pi).some((s) => s.kind !== 'globstar')
    if (pi === n) return false
    const seg = segs[pi] as Segment
    if (seg.kind === 'globstar') return ancestorFrom(pi + 1, cand, ci) || ancestorFrom(pi, cand, ci + 1)
    return segMatches(seg, cand[ci] as string) && ancestorFrom(pi + 1, cand, ci + 1)
  }

  return {
    root,
    segments: segs,
    hasGlob,
    equals(key) {
      if (root === null) return false
      return key.root === root && matchFrom(0, key.segs, 0, false)
    },
    covers(key) {
      if (root === null) {
        // relative glob: any suffix of the candidate may start the match
        for (let i = 0; i < key.segs.length; i++) if (matchFrom(0, key.segs, i, true)) return true
        return false
      }
      return key.root === root && matchFrom(0, key.segs, 0, true)
    },
    isAncestorOfMatch(key) {
      // A relative glob could match below any directory: the tree scan handles that direction.
      if (root === null) return false
      return key.root === root && ancestorFrom(0, key.segs, 0)
    },
  }
}

/** The literal (glob-free) leading part of an expanded pattern, and the rest. */
export function splitAtFirstGlob(expanded: string, host: Pick<HostFacts, 'platform'>): {literal: string; rest: string} {
  const sepChar = host.platform === 'windows' ? '\\' : '/'
  const parts = expanded.split(host.platform === 'windows' ? /[\\/]/ : /\//)
  const i = parts.findIndex((p) => p.includes('*') || p.includes('?'))
  if (i === -1) return {literal: expanded, rest: ''}
  return {literal: parts.slice(0, i).join(sepChar), rest: parts.slice(i).join(sepChar)}
}

// ---------------------------------------------------------------------------------------------
// Display

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const DISPLAY_ESCAPE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

/** A path made safe for a one-line message: control and bidi characters as \uXXXX. */
export function showPath(p: string): string {
  return p.replace(DISPLAY_ESCAPE, (ch) => `\\u${(ch.codePointAt(0) as number).toString(16).padStart(4, '0')}`)
}
