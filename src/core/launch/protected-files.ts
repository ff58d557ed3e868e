/**
 * Write-protected files (issue 10, Deliver 5): files in a read-write mount that the user's own
 * tools run or trust WITHOUT asking — `.envrc` (direnv, on `cd`), `.vscode/tasks.json` (VS Code
 * tasks that run on folder open), `.claude/settings*.json` and `.mcp.json` (hooks and MCP servers
 * the host's agent CLI starts), `.husky/` and `.pre-commit-config.yaml` (run by the next host
 * commit), `.gitmodules`, … (the catalogue's workspace.writeProtectByDefault list). Each one that
 * exists at launch is bind-mounted read-only on top of the read-write checkout, like the git
 * internals (git-mounts.ts): the agent can read it, but cannot write, replace, rename or delete it
 * (a mount point is EBUSY to unlink/rename, EROFS to write).
 *
 * Each source is judged like a git mount: it must be the path itself (realpath equals the path,
 * no symlink on the way), a regular file or a directory; a protected symlink is refused (its target
 * is what the tool runs, and the link itself could be replaced); a protected file with another hard
 * link is refused (a write through the other name changes it); so is a symlink inside a protected
 * directory that leads out of it. A profile may relax this per mount: `writeProtect: false`, or
 * `writeProtect: {relax: [<patterns>]}` to leave some of them writable.
 *
 * New files of these kinds that appear during a session are not mounted (they did not exist):
 * the end-of-session check names them, with writeProtectedMatcher() from here.
 */
import {lstatSync, type Stats} from 'node:fs'
import {readdir, realpath} from 'node:fs/promises'
import path from 'node:path'

import {policyRefusal} from '../errors.js'
import type {HostFacts} from '../host/facts.js'
import {workspacePatterns} from '../policy/catalogue.js'
import {findUnsafeChar} from '../policy/mount-policy.js'
import {showPath} from '../policy/path-key.js'
import {globSource} from '../policy/tree-scan.js'
import type {LaunchMount} from './container-spec.js'

/** The profile's per-mount setting (spec.mounts[].writeProtect); absent means on. */
export type WriteProtectSetting = boolean | {relax: string[]}

// ---------------------------------------------------------------------------------------------
// Matching (pure)

export interface ProtectMatcher {
  /** The relative path ('/'-separated) is a protected file or directory itself. */
  matches(relPath: string): boolean
  /** The relative path is protected or inside a protected directory (`dir/**` patterns). */
  covers(relPath: string): boolean
}

/**
 * A matcher for write-protect patterns (default: the catalogue's list). A pattern matches at any
 * depth (`.envrc` also protects `sub/.envrc`); `dir/**` protects the directory and everything in
 * it. Case-insensitive when `caseInsensitive` (macOS, Windows: `.VSCode` is VS Code's `.vscode`
 * there). Exported for the end-of-session check, which names new such files.
 */
export function writeProtectedMatcher(opts: {caseInsensitive?: boolean; patterns?: readonly string[]} = {}): ProtectMatcher {
  const patterns = opts.patterns ?? workspacePatterns().writeProtectByDefault
  const flags = opts.caseInsensitive ? 'i' : ''
  const exact = patterns.map((p) => globSource(p.replace(/\/\*\*$/, '')))
  const trees = patterns.filter((p) => p.endsWith('/**')).map((p) => globSource(p.slice(0, -3)))
  const build = (parts: string[], suffix: string): RegExp | null => (parts.length ? new RegExp(`(?:^|/)(?:${parts.join('|')})${suffix}`, flags) : null)
  const exactRe = build(exact, '$')
  const treeRe = build(trees, '(?:/|$)')
  return {
    matches: (rel) => exactRe?.test(rel) ?? false,
    covers: (rel) => (exactRe?.test(rel) ?? false) || (treeRe?.test(rel) ?? false),
  }
}

/** The relax patterns of a setting: `true`/absent → none; `false` → everything. */
function relaxOf(setting: WriteProtectSetting | undefined, caseInsensitive: boolean): ProtectMatcher | 'all' | null {
  if (setting === false) return 'all'
  if (setting === undefined || setting === true || setting.relax.length === 0) return null
  return writeProtectedMatcher({caseInsensitive, patterns: setting.relax})
}

/** Literal (glob-free) patterns, as relative paths: looked up directly so a symlink under that name is seen. */
function literalNames(patterns: readonly string[]): string[] {
  return [...new Set(patterns.map((p) => p.replace(/\/\*\*$/, '')).filter((p) => !/[*?]/.test(p)))]
}

/** The literal leading folders of multi-segment patterns (`.claude` of `.claude/settings*.json`): a symlink there is refused. */
function literalParents(patterns: readonly string[]): string[] {
  const out = new Set<string>()
  for (const p of patterns) {
    const segs = p.replace(/\/\*\*$/, '').split('/')
    for (let i = 1; i < segs.length && !/[*?]/.test(segs[i - 1]!); i++) out.add(segs.slice(0, i).join('/'))
  }
  return [...out].filter((p) => p !== '.git')
}

/** A container target for a protected path: under the mount's target, plain, carried by --mount. */
export function protectedTarget(mountTarget: string, relPath: string): {target: string} | {problem: string} {
  const target = path.posix.join(mountTarget, ...relPath.split('/'))
  const unsafe = findUnsafeChar(target, {platform: 'linux'})
  if (unsafe) return {problem: `${showPath(target)} contains ${unsafe}`}
  if (!target.startsWith(`${mountTarget}/`) || relPath.split('/').some((s) => s === '' || s === '.' || s === '..')) return {problem: `${showPath(relPath)} is not a plain relative path`}
  return {target}
}

// ---------------------------------------------------------------------------------------------
// Sources (file system)

export interface ProtectFs {
  /** null where nothing is there or it cannot be looked at (gone since the scan, unreadable). */
  lstat: (p: string) => Promise<{isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean; nlink: number} | null>
  realpath: (p: string) => Promise<string>
  readdir: (p: string) => Promise<string[]>
}

/** lstat(2) called synchronously: ~60 names are looked up in each folder, most of them missing (no error made for those). */
function lstatOrNull(p: string): Stats | null {
  try {
    return lstatSync(p, {throwIfNoEntry: false}) ?? null
  } catch {
    return null
  }
}

export const realProtectFs: ProtectFs = {lstat: (p) => Promise.resolve(lstatOrNull(p)), realpath, readdir: (p) => readdir(p)}

export interface ProtectedMountsInput {
  /** The read-write checkout mount (realpath'd host source, container target). */
  mount: Pick<LaunchMount, 'hostSource' | 'target'>
  /** Existing protected files and folders in its tree (TreeScan.writeProtected): absolute host paths. */
  found: readonly string[]
  /** Other folders to look in for protected names directly (repo roots found by the scan). */
  roots?: readonly string[]
  setting: WriteProtectSetting | undefined
  host: Pick<HostFacts, 'platform' | 'caseInsensitivePaths'>
  /** The path podman sees for a host path (toPodmanPath). */
  podmanPath: (hostPath: string) => string
  /** Mounts already planned (checkouts, git internals): a protected path they already cover read-only is skipped. */
  existing: ReadonlyArray<Pick<LaunchMount, 'target' | 'mode'>>
  fs?: ProtectFs
}

const FIX_RELAX = 'or leave it writable on purpose: `writeProtect: {relax: [<pattern>]}` (or `writeProtect: false`) on this mount in the profile'

/**
 * The read-only mounts that protect the existing write-protected files of one read-write mount.
 * Refuses (policy, exit 3) what cannot be protected: a protected name that is a symlink or leads
 * through one, a protected file with another hard link, a symlink leaving a protected folder, a
 * path podman's --mount cannot carry.
 */
export async function protectedMountsFor(input: ProtectedMountsInput): Promise<LaunchMount[]> {
  const fs = input.fs ?? realProtectFs
  const ci = input.host.caseInsensitivePaths
  const relax = relaxOf(input.setting, ci)
  if (relax === 'all') return []
  const api = input.host.platform === 'windows' ? path.win32 : path.posix
  const root = input.mount.hostSource
  const fold = (s: string): string => (ci ? s.normalize('NFC').toLowerCase() : s)
  const relOf = (abs: string): string | null => {
    const rel = api.relative(root, abs)
    if (rel === '' || rel.startsWith('..') || api.isAbsolute(rel)) return null
    return rel.split(api.sep).join('/')
  }
  const relaxed = (rel: string): boolean => relax !== null && relax.covers(rel)

  // Candidates: what the scan found, and the literal names looked up (lstat) at the mount root and
  // at each repo root, so a protected name that is a symlink (never listed by the scan) is seen.
  const candidates = new Map<string, string>()
  const addCandidate = (abs: string): void => {
    const rel = relOf(abs)
    if (rel !== null && !candidates.has(fold(rel))) candidates.set(fold(rel), abs)
  }
  for (const abs of input.found) addCandidate(abs)
  const patterns = workspacePatterns().writeProtectByDefault
  const literals = literalNames(patterns)
  const parents = literalParents(patterns)
  for (const dir of [root, ...(input.roots ?? [])]) {
    await Promise.all([
      ...literals.map(async (name) => {
        const abs = api.join(dir, ...name.split('/'))
        if (await fs.lstat(abs)) addCandidate(abs)
      }),
      // A symlinked `.claude` would make `.claude/settings.json` lead wherever it points.
      ...parents.map(async (name) => {
        const abs = api.join(dir, ...name.split('/'))
        if ((await fs.lstat(abs))?.isSymbolicLink()) addCandidate(abs)
      }),
    ])
  }

  const out: LaunchMount[] = []
  const covered: string[] = [] // folded rel paths protected as a whole
  const ordered = [...candidates.values()].sort((a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0))
  for (const abs of ordered) {
    const rel = relOf(abs)!
    // Git's own files (.git/hooks, .git/config of every repo) are the git mounts' and the
    // end-of-session integrity check's: not judged twice here.
    if (rel.split('/').some((seg) => fold(seg) === '.git')) continue
    if (covered.some((c) => fold(rel).startsWith(`${c}/`))) continue
    if (relaxed(rel)) continue
    const mounts = await protect(abs, rel)
    out.push(...mounts)
    for (const m of mounts) covered.push(fold(relOf(m.hostSource)!))
  }
  return withoutCovered(out, input.existing)

  async function protect(abs: string, rel: string): Promise<LaunchMount[]> {
    const st = await fs.lstat(abs)
    if (!st) return [] // gone since the scan: nothing to protect (the end-of-session check sees what comes back)
    if (st.isSymbolicLink()) {
      const to = await fs.realpath(abs).catch(() => 'nowhere (dangling)')
      throw policyRefusal(
        'WRITE_PROTECT_SYMLINK',
        `${showPath(abs)} is a symlink (to ${showPath(to)}): your tools would run its target, and the agent could write that or replace the link.`,
        `replace the symlink with a copy of the file, ${FIX_RELAX}`,
        {path: abs},
      )
    }
    const real = await fs.realpath(abs)
    if (fold(real) !== fold(abs)) {
      throw policyRefusal('WRITE_PROTECT_SYMLINK', `${showPath(abs)} leads through a symlink (to ${showPath(real)}), so it cannot be protected where your tools look for it.`, `replace the symlinked folder with the real one, ${FIX_RELAX}`, {path: abs})
    }
    if (st.isFile()) {
      if (st.nlink > 1) {
        throw policyRefusal(
          'WRITE_PROTECT_HARDLINK',
          `${showPath(abs)} has ${st.nlink - 1} other hard link(s): a write through another name would change it.`,
          `break the link (cp -p ${shellWord(abs)} x && mv x ${shellWord(abs)}), ${FIX_RELAX}`,
          {path: abs},
        )
      }
      return [mountOf(abs, rel)]
    }
    if (!st.isDirectory()) return [] // sockets, FIFOs and devices are refused by the tree scan
    return protectDir(abs, rel)
  }

  /** A protected folder: checked inside; mounted whole, or entry by entry when the profile relaxes something in it. */
  async function protectDir(dir: string, rel: string): Promise<LaunchMount[]> {
    const split = relax !== null && (await containsRelaxed(dir, rel))
    const entries = await fs.readdir(dir)
    const out: LaunchMount[] = []
    for (const name of entries.sort()) {
      const abs = api.join(dir, name)
      const childRel = `${rel}/${name}`
      if (split && relaxed(childRel)) continue
      const st = await fs.lstat(abs)
      if (!st) continue
      if (st.isSymbolicLink()) {
        const to = await fs.realpath(abs).catch(() => null)
        const inside = to !== null && !split && (fold(to) === fold(dir) || fold(to).startsWith(fold(dir.endsWith(api.sep) ? dir : dir + api.sep)))
        if (!inside) {
          throw policyRefusal(
            'WRITE_PROTECT_SYMLINK',
            `${showPath(abs)} in the protected folder ${showPath(rel)} is a symlink ${to === null ? 'that leads nowhere' : `to ${showPath(to)}`}: what it leads to would stay writable.`,
            `replace the symlink with a copy of the file, ${FIX_RELAX}`,
            {path: abs},
          )
        }
        continue
      }
      if (st.isFile()) {
        if (st.nlink > 1) {
          throw policyRefusal('WRITE_PROTECT_HARDLINK', `${showPath(abs)} in the protected folder ${showPath(rel)} has ${st.nlink - 1} other hard link(s): a write through another name would change it.`, `break the link, ${FIX_RELAX}`, {path: abs})
        }
        if (split) out.push(mountOf(abs, childRel))
      } else if (st.isDirectory()) {
        if (split) out.push(...(await protectDir(abs, childRel)))
        else await protectDir(abs, childRel) // checks only: the whole folder is one mount
      }
    }
    if (!split) return [mountOf(dir, rel)]
    return out
  }

  async function containsRelaxed(dir: string, rel: string): Promise<boolean> {
    for (const name of await fs.readdir(dir)) {
      const childRel = `${rel}/${name}`
      if (relaxed(childRel)) return true
      const st = await fs.lstat(api.join(dir, name))
      if (st?.isDirectory() && (await containsRelaxed(api.join(dir, name), childRel))) return true
    }
    return false
  }

  function mountOf(abs: string, rel: string): LaunchMount {
    const t = protectedTarget(input.mount.target, rel)
    if ('problem' in t) {
      throw policyRefusal('WRITE_PROTECT_TARGET', `cannot protect ${showPath(abs)}: ${t.problem}, which podman's --mount cannot carry.`, `rename it, ${FIX_RELAX}`, {path: abs})
    }
    return {hostSource: abs, podmanSource: input.podmanPath(abs), target: t.target, mode: 'ro', role: 'protect'}
  }
}

/** Drops protected mounts that an existing mount already makes read-only at the same place (or above it). */
export function withoutCovered(protectedMounts: readonly LaunchMount[], existing: ReadonlyArray<Pick<LaunchMount, 'target' | 'mode'>>): LaunchMount[] {
  return protectedMounts.filter((p) => {
    if (existing.some((e) => e.target === p.target)) return false
    let deepest: Pick<LaunchMount, 'target' | 'mode'> | undefined
    for (const e of existing) {
      if (p.target.startsWith(`${e.target}/`) && (!deepest || e.target.length > deepest.target.length)) deepest = e
    }
    return deepest?.mode !== 'ro'
  })
}

function shellWord(p: string): string {
  return /^[\w@%+=:,./-]+$/.test(p) ? p : `'${p.replace(/'/g, `'\\''`)}'`
}

export interface LaunchProtectInput {
  /** The checkout mounts of the launch (the profile's, a worktree in place of the repo). */
  checkouts: readonly LaunchMount[]
  /** spec.mounts[].writeProtect by resolved host source. */
  settings: ReadonlyMap<string, WriteProtectSetting | undefined>
  /** The tree scans of the profile mounts, by host source (a worktree made later has none: its files are a fresh clone). */
  scans: ReadonlyMap<string, {writeProtected: readonly string[]; gitEntries: ReadonlyArray<{path: string}>}>
  host: Pick<HostFacts, 'platform' | 'caseInsensitivePaths'>
  podmanPath: (hostPath: string) => string
  existing: ReadonlyArray<Pick<LaunchMount, 'target' | 'mode'>>
  fs?: ProtectFs
}

/** The protected-file mounts of every read-write checkout of a launch, parents first. */
export async function protectedFileMounts(input: LaunchProtectInput): Promise<LaunchMount[]> {
  const api = input.host.platform === 'windows' ? path.win32 : path.posix
  const out: LaunchMount[] = []
  for (const mount of input.checkouts) {
    const scan = input.scans.get(mount.hostSource)
    if (mount.mode !== 'rw' || mount.role !== undefined || !scan) continue
    const roots = [...new Set(scan.gitEntries.map((g) => api.dirname(g.path)).filter((d) => d !== mount.hostSource))]
    out.push(
      ...(await protectedMountsFor({
        mount,
        found: scan.writeProtected,
        roots,
        setting: input.settings.get(mount.hostSource),
        host: input.host,
        podmanPath: input.podmanPath,
        existing: [...input.existing, ...out],
        ...(input.fs ? {fs: input.fs} : {}),
      })),
    )
  }
  return out.sort((a, b) => a.target.split('/').length - b.target.split('/').length || (a.target < b.target ? -1 : a.target > b.target ? 1 : 0))
}
