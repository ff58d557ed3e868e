/**
 * A bounded walk of a mount candidate (matching rule "scan-the-tree"): what inside an allowed
 * folder would still leak or be dangerous once it is bind-mounted. Never follows symlinks.
 *
 * refuse: unix sockets, FIFOs, device nodes; credential stores found inside (.ssh, .aws, .gnupg,
 *         .kube, .azure, .oci, .password-store dirs; .docker/config.json, .git-credentials,
 *         .netrc/_netrc, .vault-token, .pgpass files); symlinks that resolve into a denied path
 *         (only when `host` is given).
 * warn:   symlinks leaving the tree, workspace secret files (.env, *.pem, *.key, …, from the
 *         catalogue's workspace patterns; .env.example & co. excepted), credentials embedded in a
 *         remote URL of the top-level .git/config, unreadable directories, a truncated walk.
 * Skipped for speed: node_modules and .git/objects (not descended into).
 */
import {promises as fsp, type Dirent} from 'node:fs'
import path from 'node:path'
import type {HostFacts} from '../host/facts.js'
import {workspacePatterns} from './catalogue.js'

export type HazardKind =
  | 'socket'
  | 'fifo'
  | 'device'
  | 'credential-store'
  | 'symlink-sensitive'
  | 'symlink-outside'
  | 'secret-file'
  | 'unreadable'
  | 'truncated'

export interface Hazard {
  /** Absolute path of the entry. */
  path: string
  /** Relative to the scanned root, '/'-separated. */
  relPath: string
  kind: HazardKind
  severity: 'refuse' | 'warn'
  detail: string
}

export interface GitEntry {
  path: string
  kind: 'dir' | 'file' | 'symlink' | 'other'
}

export interface TreeScan {
  /** realpath of the scanned root. */
  root: string
  rootDev: number
  rootIno: number
  /** As scanTreeForHazards returns them: sorted refuse-first, then by relPath. */
  hazards: Hazard[]
  /** Every `.git` entry anywhere in the tree (dir, file, symlink or other): absolute paths, sorted. */
  gitEntries: GitEntry[]
  /**
   * Existing files/dirs matching the catalogue's workspace.writeProtectByDefault patterns, at any
   * depth, absolute, sorted. A `dir/**` pattern yields the directory itself. Symlinks are never
   * listed (a bind of one would follow it).
   */
  writeProtected: string[]
  /** Directory entries visited. */
  entries: number
}

export interface ScanOptions {
  /** Directory levels below the root to enter (default 6). */
  maxDepth?: number
  /** Directory entries to look at before giving up with a 'truncated' warning (default 20 000). */
  maxEntries?: number
  /** When given, symlink targets are judged against the deny catalogue for this host. */
  host?: HostFacts
}

const REFUSE_DIRS = new Set(['.ssh', '.aws', '.gnupg', '.kube', '.azure', '.oci', '.password-store'])
const REFUSE_FILES = new Set(['.git-credentials', '.netrc', '_netrc', '.vault-token', '.pgpass'])
const SKIP_DIRS = new Set(['node_modules'])

function globSource(glob: string): string {
  let src = ''
  for (const ch of glob) {
    if (ch === '*') src += '[^/]*'
    else if (ch === '?') src += '[^/]'
    else src += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&')
  }
  return src
}

interface SecretMatchers {
  match: RegExp | null
  except: RegExp | null
}

let secretMatchers: SecretMatchers | undefined

/** One alternation for all workspace patterns: matched against the relative path's tail. */
function workspaceSecretMatchers(): SecretMatchers {
  if (secretMatchers) return secretMatchers
  const positive: string[] = []
  const negative: string[] = []
  for (const p of workspacePatterns().maskByDefault) {
    if (p.startsWith('!')) negative.push(globSource(p.slice(1)))
    else positive.push(globSource(p))
  }
  const build = (parts: string[]): RegExp | null => (parts.length ? new RegExp(`(?:^|/)(?:${parts.join('|')})$`, 'i') : null)
  secretMatchers = {match: build(positive), except: build(negative)}
  return secretMatchers
}

function isInside(root: string, p: string): boolean {
  const rel = path.relative(root, p)
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel))
}

/** Walks `root` (bounded) and returns what would be dangerous to mount, sorted refuse-first. */
export async function scanTreeForHazards(root: string, opts: ScanOptions = {}): Promise<Hazard[]> {
  return (await scanTree(root, opts)).hazards
}

let protectMatcher: RegExp | null | undefined

/** One alternation for the write-protect patterns, matched against the relative path's tail. */
function writeProtectMatcher(): RegExp | null {
  if (protectMatcher !== undefined) return protectMatcher
  const parts = workspacePatterns().writeProtectByDefault.map((p) => globSource(p.replace(/\/\*\*$/, '')))
  protectMatcher = parts.length ? new RegExp(`(?:^|/)(?:${parts.join('|')})$`) : null
  return protectMatcher
}

/** Walks `root` and returns its hazards, its `.git` entries and its write-protected files. */
export async function scanTree(root: string, opts: ScanOptions = {}): Promise<TreeScan> {
  const maxDepth = opts.maxDepth ?? 6
  const maxEntries = opts.maxEntries ?? 20_000
  const realRoot = await fsp.realpath(root)
  const rootStat = await fsp.stat(realRoot)
  const hazards: Hazard[] = []
  const gitEntries: GitEntry[] = []
  const writeProtected: string[] = []
  const protect = writeProtectMatcher()
  const secrets = workspaceSecretMatchers()
  let judge: ((p: string) => {allowed: boolean; reason?: string}) | null = null
  if (opts.host) {
    const host = opts.host
    const {judgeMountSource} = await import('./mount-policy.js')
    judge = (p) => {
      const d = judgeMountSource(p, host)
      // Only a link into secrets (or onto ~ or /, which contain them) is refused; links to other
      // places outside the tree (a venv's python, a sibling checkout) are warnings.
      const severe = !d.allowed && ['POLICY_SENSITIVE', 'POLICY_CONTAINS_SENSITIVE', 'POLICY_HOME', 'POLICY_ROOT'].includes(d.code)
      return d.allowed || !severe ? {allowed: true} : {allowed: false, reason: d.reason}
    }
  }

  const add = (abs: string, kind: HazardKind, severity: Hazard['severity'], detail: string): void => {
    hazards.push({path: abs, relPath: path.relative(realRoot, abs).split(path.sep).join('/'), kind, severity, detail})
  }

  let seen = 0
  let truncated = false
  let depthLimited = false
  let level: string[] = [realRoot]

  for (let depth = 0; level.length > 0 && !truncated; depth++) {
    const next: string[] = []
    // Read one level concurrently, a bounded number of directories at a time.
    for (let i = 0; i < level.length && !truncated; i += 32) {
      const batch = level.slice(i, i + 32)
      const listings = await Promise.all(
        batch.map(async (dir) => {
          try {
            return {dir, entries: await fsp.readdir(dir, {withFileTypes: true})}
          } catch (error) {
            add(dir, 'unreadable', 'warn', `cannot read directory (${(error as NodeJS.ErrnoException).code ?? 'error'}): its contents were not checked`)
            return {dir, entries: [] as Dirent[]}
          }
        }),
      )
      const links: Array<Promise<void>> = []
      for (const {dir, entries} of listings) {
        entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        for (const entry of entries) {
          if (++seen > maxEntries) {
            truncated = true
            break
          }
          const abs = path.join(dir, entry.name)
          const rel = path.relative(realRoot, abs).split(path.sep).join('/')
          const lower = entry.name.toLowerCase()
          if (entry.name === '.git') {
            gitEntries.push({path: abs, kind: entry.isDirectory() ? 'dir' : entry.isFile() ? 'file' : entry.isSymbolicLink() ? 'symlink' : 'other'})
          }
          if ((entry.isFile() || entry.isDirectory()) && protect?.test(rel)) writeProtected.push(abs)
          if (entry.isSocket()) add(abs, 'socket', 'refuse', 'a unix socket: the container could talk to the process listening on it')
          else if (entry.isFIFO()) add(abs, 'fifo', 'refuse', 'a named pipe (FIFO) shared with host processes')
          else if (entry.isBlockDevice() || entry.isCharacterDevice()) add(abs, 'device', 'refuse', 'a device node')
          else if (entry.isSymbolicLink()) links.push(checkLink(abs, realRoot, judge, add))
          else if (entry.isDirectory()) {
            if (REFUSE_DIRS.has(lower)) {
              add(abs, 'credential-store', 'refuse', `a ${entry.name} directory (credential store) inside the tree`)
              continue
            }
            if (SKIP_DIRS.has(lower) || (lower === 'objects' && path.basename(dir) === '.git')) continue
            if (depth + 1 > maxDepth) depthLimited = true
            else next.push(abs)
          } else if (entry.isFile()) {
            if (REFUSE_FILES.has(lower) || (lower === 'config.json' && path.basename(dir).toLowerCase() === '.docker')) {
              add(abs, 'credential-store', 'refuse', `${entry.name}: a credential file`)
            } else if (secrets.match?.test(rel) && !secrets.except?.test(rel)) {
              add(abs, 'secret-file', 'warn', `${entry.name} often holds secrets; it will be visible to the agent`)
            }
          }
        }
        if (truncated) break
      }
      await Promise.all(links)
    }
    level = next
  }

  await checkGitConfig(realRoot, add)
  if (truncated) add(realRoot, 'truncated', 'warn', `scan stopped after ${maxEntries} entries; the rest of the tree was not checked`)
  else if (depthLimited) add(realRoot, 'truncated', 'warn', `scan stopped at depth ${maxDepth}; deeper folders were not checked`)

  const order = (h: Hazard): number => (h.severity === 'refuse' ? 0 : 1)
  hazards.sort((a, b) => order(a) - order(b) || (a.relPath < b.relPath ? -1 : a.relPath > b.relPath ? 1 : 0))
  const byPath = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)
  gitEntries.sort((a, b) => byPath(a.path, b.path))
  writeProtected.sort(byPath)
  return {root: realRoot, rootDev: rootStat.dev, rootIno: rootStat.ino, hazards, gitEntries, writeProtected, entries: Math.min(seen, maxEntries)}
}

async function checkLink(
  abs: string,
  realRoot: string,
  judge: ((p: string) => {allowed: boolean; reason?: string}) | null,
  add: (abs: string, kind: HazardKind, severity: Hazard['severity'], detail: string) => void,
): Promise<void> {
  let target: string
  try {
    target = await fsp.realpath(abs)
  } catch {
    // Dangling (or a loop): judge where it points lexically.
    try {
      target = path.resolve(path.dirname(abs), await fsp.readlink(abs))
    } catch {
      return
    }
  }
  if (isInside(realRoot, target)) return
  const verdict = judge?.(target)
  if (verdict && !verdict.allowed) {
    add(abs, 'symlink-sensitive', 'refuse', `symlink to ${target}: ${verdict.reason ?? 'a denied path'}`)
  } else {
    add(abs, 'symlink-outside', 'warn', `symlink to ${target}, outside the mounted folder (it will dangle in the container)`)
  }
}

const URL_WITH_CREDENTIALS = /^\s*(?:url|pushurl)\s*=\s*[a-z][a-z0-9+.-]*:\/\/[^/\s@]*:[^/\s@]+@/im

async function checkGitConfig(realRoot: string, add: (abs: string, kind: HazardKind, severity: Hazard['severity'], detail: string) => void): Promise<void> {
  const config = path.join(realRoot, '.git', 'config')
  let text: string
  try {
    const st = await fsp.lstat(config)
    if (!st.isFile() || st.size > 1_000_000) return
    text = await fsp.readFile(config, 'utf8')
  } catch {
    return
  }
  if (URL_WITH_CREDENTIALS.test(text)) add(config, 'secret-file', 'warn', 'a remote URL in .git/config embeds credentials (user:token@host)')
}
