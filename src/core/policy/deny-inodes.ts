/**
 * The deny catalogue as (device, inode) pairs on this host, so that the tree scan can see an alias
 * that a path comparison cannot: a hard link to ~/.ssh/id_ed25519 placed in the repo (or a repo
 * file hard-linked into ~/.ssh), or a mount source that is (a bind mount of) a denied folder.
 *
 * Two questions, two costs:
 *
 * - denyDirInodes(host): the (dev, ino) of every existing folder a deny rule names, of each of
 *   their ancestors, and of the home directory. A few hundred stats. A mount source with one of
 *   these identities is that folder under another name.
 *
 * - findDenyAliases(host, wanted): which of the `wanted` inodes (the tree's files that have links
 *   outside the tree) are files covered by a deny rule. This walks the denied folders and lstats
 *   their files: on a developer machine that is hundreds of thousands of files (/usr, ~/.rustup,
 *   ~/.nvm…), so the tree scan only asks when the tree holds a file with an outside link (rare,
 *   except for pnpm's node_modules), it stops at the first folder with a hit, skips folders on
 *   other file systems (a hard link never crosses one), and it can keep a cache.
 *
 * The cache (optional; a file under the CLI's state dir, which is never mounted into a container)
 * keeps, per denied folder, its (dev, ino, mtime, ctime) and the inode numbers of its entries. A
 * folder whose identity and times are unchanged has the same names, and each name the same inode:
 * every create, link, unlink or rename in a folder updates its mtime and ctime, and ctime cannot be
 * set back by anyone but the clock. So the cached inodes of an unchanged folder are exact, whatever
 * happened elsewhere (a new hard link in the repo changes the linked file's nlink and ctime, not
 * the denied folder; the match is by inode, not by nlink). A folder changed within 2 s of being
 * read is not trusted next time (time-stamp granularity). Symlinked entries (dotfiles) and mount
 * points are looked at afresh every time. The tree itself is never cached.
 *
 * Link stores are not indexed: pnpm's store and bun's install cache are hard-linked into every
 * project by design (the issue: do not refuse pnpm's node_modules).
 */
import {lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, statSync, writeFileSync, type Stats} from 'node:fs'
import path from 'node:path'
import type {HostFacts} from '../host/facts.js'
import {denyPatternsFor, OTHER_HOME, otherHomes} from './catalogue.js'
import type {MountInfoEntry} from './mountinfo.js'
import {fold, splitAtFirstGlob} from './path-key.js'
import {countWork} from '../util/optimise.js'

export interface DenyHit {
  /** The denied file or folder (absolute). */
  path: string
  /** The rule, as the catalogue writes it (`~/.ssh`, `/etc/ssh`, …). */
  display: string
}

export interface DenyDirHit extends DenyHit {
  /** 'denied': the folder a rule names; 'contains': an ancestor of one (or the home directory). */
  relation: 'denied' | 'contains'
}

export const inodeKey = (st: {dev: number; ino: number}): string => `${st.dev}:${st.ino}`

// Stryker disable next-line StringLiteral,ConditionalExpression: the tests run on Linux, where process.platform is never 'win32'
const isPosixHost = (host: HostFacts): boolean => host.platform !== 'windows' && process.platform !== 'win32'

function globRe(segment: string, host: HostFacts): RegExp {
  let src = ''
  for (const ch of segment) {
    if (ch === '*') src += '.*'
    else if (ch === '?') src += '.'
    else src += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&')
  }
  return new RegExp(`^${src}$`, host.caseInsensitivePaths ? 'isu' : 'su')
}

/** Existing paths an expanded (absolute) pattern names; a `**` segment stops there (its folder is walked whole). */
export function expandGlobs(pattern: string, host: HostFacts, statOf: (p: string) => Stats | null = statOrNull): string[] {
  const {literal, rest} = splitAtFirstGlob(pattern, host)
  // Stryker disable next-line ConditionalExpression,StringLiteral: equivalent: only saves work (with no glob, step() returns the literal itself)
  if (rest === '') return [literal]
  const out: string[] = []
  const step = (dir: string, segs: string[]): void => {
    if (segs.length === 0 || segs[0] === '**') {
      out.push(dir)
      return
    }
    const [seg, ...more] = segs as [string, ...string[]]
    if (!seg.includes('*') && !seg.includes('?')) return step(path.join(dir, seg), more)
    // A folder that is none (stat, through links, as readdir goes) has no names: not read at all.
    // Stryker disable next-line ConditionalExpression,BooleanLiteral: equivalent: only saves work (readdir of what is no folder fails below, with the same result)
    if (!statOf(dir)?.isDirectory()) return
    const re = globRe(seg, host)
    let names: string[]
    // Stryker disable BlockStatement: for the catch block, reached only for a folder the user may not read (a non-root user; the mutation run is root's)
    try {
      names = readdirSync(dir)
    } catch {
      return
    }
    // Stryker restore BlockStatement
    for (const name of names) if (re.test(host.caseInsensitivePaths ? fold(name, host) : name)) step(path.join(dir, name), more)
  }
  // Stryker disable next-line StringLiteral,MethodExpression: equivalent: the literal part of an absolute pattern is never '', and path.join drops an empty segment
  step(literal || '/', rest.split('/').filter(Boolean))
  return out
}

// Stryker disable BlockStatement: equivalent for the catch block: undefined and null are both tested falsy by every caller
function statOrNull(p: string): Stats | null {
  try {
    // Stryker disable next-line ObjectLiteral,BooleanLiteral: equivalent: only saves work (a missing path throws, and is caught as null, instead)
    return statSync(p, {throwIfNoEntry: false}) ?? null
  } catch {
    return null
  }
}
// Stryker restore BlockStatement

/**
 * statOrNull, memoised for one pass, that skips a path whose parent is no folder: its stat fails
 * too (the kernel resolves the parent first, through the same links), so the ~700 rule paths of a
 * root launch, most of them below folders that do not exist, cost one stat per existing folder.
 * `statOne` (statOrNull) is injected by tests to see which paths reach it.
 */
export function statWalker(statOne: (p: string) => Stats | null = statOrNull): (p: string) => Stats | null {
  const memo = new Map<string, Stats | null>()
  const stat = (p: string): Stats | null => {
    let r = memo.get(p)
    if (r !== undefined) return r
    const parent = path.dirname(p)
    r = parent !== p && !stat(parent)?.isDirectory() ? null : statOne(p)
    memo.set(p, r)
    return r
  }
  return stat
}

/**
 * Each absolute deny rule's existing paths, in catalogue order. Run as root, a rule for other users'
 * homes (its path below OTHER_HOME) is looked up below each of those homes (`/home/*` included).
 */
function denyPaths(host: HostFacts, statOf: (p: string) => Stats | null = statOrNull): Array<{path: string; display: string}> {
  // Stryker disable next-line ArrayDeclaration: equivalent: the mutant's text names no path (its stat fails) and is skipped
  const out: Array<{path: string; display: string}> = []
  // The other homes on disk with their entries, read once: a rule is looked up only in the homes
  // that hold its first name (system accounts' homes such as /bin hold none), so the cost stays small.
  const homes: Array<{home: string; names: Set<string>}> = []
  for (const o of otherHomes(host)) {
    for (const home of expandGlobs(o.home, host, statOf)) {
      try {
        homes.push({home, names: new Set(readdirSync(home).map((n) => fold(n, host)))})
      } catch {
        // not a folder, or gone
      }
    }
  }
  for (const d of denyPatternsFor(host)) {
    if (d.matcher.root === null) continue // relative globs (**/*.kdbx) name no place to look
    let written = [d.path]
    if (d.path.startsWith(`${OTHER_HOME}/`)) {
      const rest = d.path.slice(OTHER_HOME.length)
      // Stryker disable next-line StringLiteral: equivalent: the rest starts with '/', so its second part exists
      const first = rest.split('/')[1] ?? ''
      const globbed = first.includes('*') || first.includes('?')
      // Stryker disable next-line ConditionalExpression,MethodExpression: equivalent: only saves work (a home without the first name holds no match)
      written = homes.filter((h) => globbed || h.names.has(fold(first, host))).map((h) => h.home + rest)
    }
    for (const w of written) for (const p of expandGlobs(w, host, statOf)) out.push({path: p, display: d.display})
  }
  return out
}

const dirCache = new WeakMap<HostFacts, Map<string, DenyDirHit>>()

/**
 * `${dev}:${ino}` of every existing denied folder, every ancestor of an existing denied path, and
 * the home directory. Cached per HostFacts object (a launch).
 */
export function denyDirInodes(host: HostFacts): Map<string, DenyDirHit> {
  const cached = dirCache.get(host)
  if (cached) return cached
  const out = new Map<string, DenyDirHit>()
  dirCache.set(host, out)
  // Stryker disable next-line ConditionalExpression: the tests run on Linux, where no Windows path exists
  if (!isPosixHost(host)) return out
  const statOf = statWalker()
  const home = statOf(host.homeDir)
  if (home?.isDirectory()) out.set(inodeKey(home), {path: host.homeDir, display: `your home directory ${host.homeDir}`, relation: 'contains'})
  const ancestorsDone = new Set<string>()
  const ancestors = (p: string, display: string): void => {
    for (let dir = path.dirname(p); !ancestorsDone.has(dir); dir = path.dirname(dir)) {
      // Stryker disable next-line CallExpression: equivalent: only saves work (the walk up ends at / anyway, and a folder already listed is not listed again)
      ancestorsDone.add(dir)
      const st = statOf(dir)
      // Stryker disable next-line OptionalChaining: equivalent: the folders above an existing path exist
      if (st?.isDirectory() && !out.has(inodeKey(st))) out.set(inodeKey(st), {path: dir, display: `${dir}, which holds ${display}`, relation: 'contains'})
      // Stryker disable next-line ConditionalExpression: equivalent: at /, the next turn finds / done and the loop ends
      if (dir === path.dirname(dir)) break
    }
  }
  for (const {path: p, display} of denyPaths(host, statOf)) {
    const st = statOf(p) // follows a symlinked rule path: ~/.ssh -> ~/dotfiles/ssh
    if (!st) continue
    ancestors(p, display)
    if (!st.isDirectory()) continue
    if (!out.has(inodeKey(st)) || out.get(inodeKey(st))!.relation === 'contains') out.set(inodeKey(st), {path: p, display, relation: 'denied'})
    try {
      const real = realpathSync.native(p)
      // Stryker disable next-line ConditionalExpression: equivalent: only saves work (the same path's folders are already done)
      if (real !== p) ancestors(real, display)
    } catch {
      // gone meanwhile
    }
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// Files

export interface DenyAliasOptions {
  /** Devices to look on: the scanned root's and those of the wanted files (hard links never cross them). */
  devices: ReadonlySet<number>
  /** Linux mount table (readMountinfo()); null elsewhere. */
  mounts?: readonly MountInfoEntry[] | null
  /** Cache file (under the state dir); none: nothing is kept. */
  cacheFile?: string | null
  /** Entries per denied folder before it is reported incomplete (default 300 000). */
  perRootBudget?: number
  /** Entries in all (default 1 500 000). */
  budget?: number
  /** A folder changed less than this long ago is not cached (default 2 000 ms: time-stamp granularity). */
  racyMs?: number
  /** Rules to walk instead of the catalogue's (tests). */
  roots?: Array<{path: string; display: string}>
}

export interface DenyAliases {
  /** wanted key → the denied file with that inode. */
  hits: Map<string, DenyHit>
  /** Denied folders not walked to the end (budget). */
  incomplete: string[]
  /** Entries read from disk (not from the cache). */
  entriesRead: number
  /** Folders answered from the cache. */
  cachedDirs: number
}

interface CachedDir {
  /** dev, ino, mtimeMs, ctimeMs of the folder (sub-microsecond fractions kept). */
  id: string
  /** Regular files: inode numbers, with the device when it differs from the folder's (overlayfs). */
  files: Array<number | [number, number]>
  subdirs: string[]
  /** Names of symlinks, stat'ed afresh each time. */
  links: string[]
}

interface CacheDoc {
  schema: 'sourceosctl/deny-inodes/v1'
  dirs: Record<string, CachedDir>
}

const CACHE_SCHEMA = 'sourceosctl/deny-inodes/v1'
/** Folders never indexed: link stores that package managers hard-link into every project. */
// Stryker disable next-line Regex: equivalent for the `^|` part: the folders walked are absolute, so a store name always follows a '/'
const LINK_STORE = /(?:^|\/)(?:pnpm\/store|\.pnpm-store|\.bun\/install\/cache)$/

function readCache(file: string | null | undefined): Map<string, CachedDir> {
  // Stryker disable next-line ConditionalExpression: equivalent: reading no file throws inside the try below, with the same result
  if (!file) return new Map()
  try {
    const doc = JSON.parse(readFileSync(file, 'utf8')) as CacheDoc
    if (doc.schema !== CACHE_SCHEMA) return new Map()
    // Stryker disable next-line ConditionalExpression,LogicalOperator: equivalent: Object.entries throws on null or undefined (inside the try), and a string or number yields no absolute folder
    if (typeof doc.dirs !== 'object' || doc.dirs === null) return new Map()
    return new Map(Object.entries(doc.dirs))
  } catch {
    return new Map()
  }
}

function writeCache(file: string, dirs: Map<string, CachedDir>): void {
  try {
    mkdirSync(path.dirname(file), {recursive: true, mode: 0o700})
    const tmp = `${file}.${process.pid}.tmp`
    writeFileSync(tmp, JSON.stringify({schema: CACHE_SCHEMA, dirs: Object.fromEntries(dirs)} satisfies CacheDoc), {mode: 0o600})
    renameSync(tmp, file)
  } catch {
    // A cache that cannot be written only costs time next launch.
  }
}

const idOf = (st: Stats): string => `${st.dev}:${st.ino}:${st.mtimeMs}:${st.ctimeMs}`

/**
 * Which `wanted` inodes (keys `${dev}:${ino}`) are files covered by a deny rule. Walks the denied
 * folders in catalogue order and stops after the first folder (or file rule) with a hit.
 */
export function findDenyAliases(host: HostFacts, wanted: ReadonlySet<string>, opts: DenyAliasOptions): DenyAliases {
  const result: DenyAliases = {hits: new Map(), incomplete: [], entriesRead: 0, cachedDirs: 0}
  if (!isPosixHost(host) || wanted.size === 0) return result
  const perRoot = opts.perRootBudget ?? 300_000
  const budget = opts.budget ?? 1_500_000
  const mounts = opts.mounts ?? null
  const cache = readCache(opts.cacheFile)
  const fresh = new Map<string, CachedDir>()
  const walked = new Set<string>()
  const visited = new Set<string>()
  const now = Date.now()
  const racyMs = opts.racyMs ?? 2000
  let changed = false
  let total = 0

  const hit = (key: string, p: string, display: string): void => {
    if (wanted.has(key) && !result.hits.has(key)) result.hits.set(key, {path: p, display})
  }

  const walkDir = (start: string, display: string): void => {
    let seen = 0
    const stack = [start]
    while (stack.length > 0) {
      const dir = stack.pop()!
      if (LINK_STORE.test(dir)) continue
      let st: Stats
      try {
        st = lstatSync(dir)
      } catch {
        continue
      }
      // Stryker disable next-line ConditionalExpression: equivalent: anything else fails the readdir below and is skipped the same way
      if (!st.isDirectory()) continue
      const dev = st.dev
      const walkKey = `${st.dev}:${st.ino}`
      if (walked.has(walkKey)) continue
      walked.add(walkKey)
      visited.add(dir)
      if (!opts.devices.has(dev)) {
        // Another file system (proc, sysfs, a tmpfs, another disk): only a mount below it can bring
        // one of ours back. Without a mount table, look inside anyway.
        if (mounts) {
          for (const m of mounts) if (m.mountPoint !== dir && m.mountPoint.startsWith(dir === '/' ? '/' : `${dir}/`)) stack.push(m.mountPoint)
          continue
        }
      }
      const id = idOf(st)
      let entry = cache.get(dir)
      if (entry && entry.id === id) {
        result.cachedDirs++
      } else {
        let dirents
        try {
          dirents = readdirSync(dir, {withFileTypes: true})
        } catch {
          continue
        }
        seen += dirents.length
        total += dirents.length
        countWork(dirents.length)
        result.entriesRead += dirents.length
        if (seen > perRoot || total > budget) {
          result.incomplete.push(start === display ? start : `${display} (${start})`)
          return
        }
        entry = {id, files: [], subdirs: [], links: []}
        for (const e of dirents) {
          if (e.isDirectory()) entry.subdirs.push(e.name)
          else if (e.isSymbolicLink()) entry.links.push(e.name)
          else if (e.isFile()) {
            try {
              // Stryker disable next-line ConditionalExpression,StringLiteral: equivalent: no rule walks / (it is a broad root), and //x names the same file as /x
              const fst = lstatSync(`${dir === '/' ? '' : dir}/${e.name}`)
              if (fst.isFile()) entry.files.push(fst.dev === dev ? fst.ino : [fst.dev, fst.ino])
            } catch {
              // raced away
            }
          }
        }
      }
      // Racy: changed so recently that a later change could keep the same time stamps.
      if (now - st.ctimeMs >= racyMs && now - st.mtimeMs >= racyMs) fresh.set(dir, entry)
      if (entry !== cache.get(dir)) changed = true
      for (const f of entry.files) {
        const key = typeof f === 'number' ? `${dev}:${f}` : `${f[0]}:${f[1]}`
        if (wanted.has(key) && !result.hits.has(key)) result.hits.set(key, {path: nameOf(dir, typeof f === 'number' ? [dev, f] : f), display})
      }
      for (const name of entry.links) {
        // ~/.ssh/config -> ~/dotfiles/ssh/config: the file it names is the secret.
        // Stryker disable next-line ConditionalExpression,StringLiteral: equivalent: no rule walks / (a broad root)
        const p = `${dir === '/' ? '' : dir}/${name}`
        const ts = statOrNull(p)
        if (ts?.isFile()) hit(inodeKey(ts), p, display)
      }
      // Stryker disable next-line ConditionalExpression,StringLiteral: equivalent: no rule walks / (a broad root)
      for (const name of entry.subdirs) stack.push(`${dir === '/' ? '' : dir}/${name}`)
    }
  }

  for (const {path: p, display} of opts.roots ?? denyPaths(host)) {
    const st = statOrNull(p) // follows a symlinked rule path
    if (!st) continue
    if (st.isDirectory()) {
      let real = p
      try {
        real = realpathSync.native(p)
      } catch {
        continue
      }
      walkDir(real, display)
    } else if (st.isFile()) {
      hit(inodeKey(st), p, display)
    }
    if (result.hits.size > 0) break
  }
  // Stryker disable next-line ConditionalExpression: equivalent for → true: without a cache file, the write fails inside writeCache's try (→ false is killed)
  if (opts.cacheFile && changed) {
    // Keep the folders not visited this time (the walk stops at the first hit); they are checked
    // against their identity and times before any use anyway.
    for (const [dir, entry] of cache) if (!visited.has(dir)) fresh.set(dir, entry)
    writeCache(opts.cacheFile, fresh)
  }
  return result
}

/** The name of the file with this inode in `dir` (for the message; the cache keeps only inodes). */
function nameOf(dir: string, [dev, ino]: [number, number]): string {
  try {
    for (const name of readdirSync(dir)) {
      // Stryker disable next-line ConditionalExpression,StringLiteral: equivalent: no rule walks / (a broad root)
      const p = `${dir === '/' ? '' : dir}/${name}`
      const st = lstatSync(p)
      if (st.ino === ino && st.dev === dev) return p
    }
  } catch {
    // fall through
  }
  return `${dir}/(inode ${ino})`
}
