/**
 * The session's integrity check (docs/threat-model.md, "Plants"): a baseline of every read-write
 * mount's trust surface is taken before the container starts and saved under the state dir; after
 * the session (or, when the CLI was killed, at the next launch) the mounts are scanned again,
 * every plant is moved to `<state>/quarantine/<run id>/`, and the report goes to stderr, the
 * evidence and the exit code (6). Host git runs on these repos only after this check.
 */
import {promises as fsp} from 'node:fs'
import path from 'node:path'

import {policyRefusal} from '../errors.js'
import {writeFileAtomic} from '../fs-atomic.js'
import type {HostFacts} from '../host/facts.js'
import {readMountinfo, type MountInfoEntry} from '../policy/mountinfo.js'
import {scanTree, type Hazard} from '../policy/tree-scan.js'
import {compareSurfaces, type Finding} from './compare.js'
import {neutralise, type Neutralised} from './quarantine.js'
import {collectSurface, type Surface} from './surface.js'

export interface BaselineRoot {
  surface: Surface
  standalone: boolean
  /** The mounted folder's device and inode: the check compares the folder that was mounted, not whatever is at its path now. */
  id: string | null
  /** Write-protected files (.envrc, .vscode/tasks.json, …) that existed before the session. */
  writeProtected: string[]
}

export interface IntegrityBaseline {
  version: 1
  runId: string
  /** The CLI process that owns the session: a baseline whose process is gone is checked at the next launch. */
  pid: number
  takenAt: string
  roots: BaselineRoot[]
}

export interface IntegrityReport {
  /** Every finding, with what was done about it. */
  findings: Neutralised[]
  /** Write-protected kinds of file that appeared during the session (named, not moved). */
  newWriteProtected: string[]
  /** `<state>/quarantine/<run id>` when anything was moved there. */
  quarantineDir: string | null
}

export interface RootScan {
  root: string
  gitEntries: ReadonlyArray<{path: string}>
  writeProtected: readonly string[]
}

/**
 * A read-write folder the agent gets: a checkout mount (with its launch scan when there is one),
 * or a git dir mounted read-write outside every checkout (`standalone`: a linked worktree's gitdir).
 */
export interface IntegrityRoot {
  root: string
  scan?: RootScan
  standalone?: boolean
}

async function rescan(root: string, standalone: boolean, host?: HostFacts, mounts?: readonly MountInfoEntry[] | null): Promise<RootScan & {hazards: Hazard[]}> {
  if (standalone) return {root, gitEntries: [{path: root}], writeProtected: [], hazards: []}
  const scan = await scanTree(root, {...(host ? {host, symlinksOnly: true} : {}), ...(mounts === undefined ? {} : {mounts})})
  // scan.root is the realpath: another folder than `root` when the path was swapped for a symlink.
  return {root: scan.root, gitEntries: scan.gitEntries, writeProtected: scan.writeProtected, hazards: scan.hazards}
}

/** What the agent left that a host tool would connect to, follow, or that hides what is under it. */
const MOVED_HAZARDS = new Set<Hazard['kind']>(['socket', 'fifo', 'device', 'symlink-sensitive', 'unreadable'])

/**
 * Refuse-level hazards found after the session are the agent's (any one present at launch would
 * have refused it): sockets and FIFOs a host tool could talk to, symlinks into secrets a host tool
 * could follow, folders made unreadable so their content cannot be checked — all moved away.
 * Credential-store look-alikes are named (the next launch refuses them).
 */
function hazardFindings(hazards: readonly Hazard[], root: string): Finding[] {
  const out: Finding[] = []
  for (const h of hazards) {
    if (h.severity !== 'refuse' || h.path === root) continue
    if (MOVED_HAZARDS.has(h.kind)) out.push({path: h.path, change: 'new', reason: `${h.kind}: ${h.detail}`, action: 'quarantine'})
    else if (h.kind === 'credential-store') out.push({path: h.path, change: 'new', reason: `${h.detail} (the next launch refuses it)`, action: 'report'})
  }
  return out
}

export async function takeBaseline(runId: string, roots: readonly IntegrityRoot[], now: Date): Promise<IntegrityBaseline> {
  return {
    version: 1,
    runId,
    pid: process.pid,
    takenAt: now.toISOString(),
    roots: await Promise.all(
      roots.map(async (r) => {
        // The folder must stay the same real directory while its surface is read, and every git
        // entry the launch's scan found must be there: otherwise something swapped it, and a
        // baseline read through the swap would later make the user's own files look planted.
        const id = await identity(r.root)
        const scan = r.scan ?? (await rescan(r.root, r.standalone ?? false))
        const surface = await collectSurface(r.root, scan.gitEntries.map((e) => e.path))
        const missing = scan.gitEntries.find((e) => !surface.items[e.path])
        if (id === null || (await identity(r.root)) !== id || missing) {
          throw policyRefusal('MOUNT_SWAPPED', `${r.root} changed while its git hooks, config and pointers were recorded${missing ? ` (${missing.path} is gone)` : ''}: something swapped or moved it, so nothing was started.`, 'find what moves the folder (another session, a sync tool), stop it, and try again')
        }
        return {surface, writeProtected: [...scan.writeProtected].sort(), standalone: r.standalone ?? false, id}
      }),
    ),
  }
}

/** Plants counted against the exit code (removals and new write-protected files are only named). */
export function plantsOf(report: IntegrityReport): Neutralised[] {
  return report.findings.filter((f) => f.action !== 'report')
}

export async function checkAgainstBaseline(baseline: IntegrityBaseline, stateDir: string, host?: HostFacts): Promise<IntegrityReport> {
  const quarantineDir = path.join(stateDir, 'quarantine', baseline.runId)
  const findings: Neutralised[] = []
  const newWriteProtected: string[] = []
  // One read of the mount table for the whole check (each scan would read and parse it again).
  const mountTable = readMountinfo()
  for (const [index, r] of baseline.roots.entries()) {
    const root = r.surface.root
    const exists = await fsp.lstat(root).then((s) => s.isDirectory(), () => false)
    if (!exists) continue
    if (typeof r.id === 'string' && (await identity(root)) !== r.id) {
      // Something swapped the folder during the session: comparing by path would judge (and move)
      // another folder's files, and the mounted one is somewhere else. Refuse rather than guess.
      findings.push(swappedFinding(root))
      continue
    }
    const scan = await rescan(root, r.standalone, host, mountTable)
    const after = await collectSurface(root, scan.gitEntries.map((e) => e.path))
    if ((typeof r.id === 'string' && (await identity(root)) !== r.id) || (!r.standalone && scan.root !== root)) {
      findings.push(swappedFinding(root))
      continue
    }
    const planted = compareSurfaces(r.surface, after)
    const found = [...planted, ...hazardFindings(scan.hazards, root).filter((h) => !planted.some((f) => f.path === h.path || h.path.startsWith(`${f.path}/`)))]
    findings.push(...(await neutralise(found, {quarantineDir, rootIndex: index, root, before: r.surface.items})))
    const before = new Set(r.writeProtected)
    newWriteProtected.push(...scan.writeProtected.filter((p) => !before.has(p)))
  }
  const moved = findings.some((f) => f.quarantinedAt !== null)
  if (moved) {
    const manifest = {runId: baseline.runId, checkedAt: new Date().toISOString(), findings}
    await writeFileAtomic(path.join(quarantineDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`, {overwrite: true, mode: 0o600})
  }
  return {findings, newWriteProtected: newWriteProtected.sort(), quarantineDir: moved ? quarantineDir : null}
}

// ---- pending baselines: a session whose CLI was killed is checked at the next launch ----------

function pendingDir(stateDir: string): string {
  return path.join(stateDir, 'integrity')
}

function pendingPath(stateDir: string, runId: string): string {
  return path.join(pendingDir(stateDir), `${runId}.json`)
}

export async function savePending(stateDir: string, baseline: IntegrityBaseline): Promise<string> {
  const file = pendingPath(stateDir, baseline.runId)
  await fsp.mkdir(path.dirname(file), {recursive: true, mode: 0o700})
  await writeFileAtomic(file, JSON.stringify(baseline), {overwrite: true, mode: 0o600})
  return file
}

export async function dropPending(stateDir: string, runId: string): Promise<void> {
  await fsp.rm(pendingPath(stateDir, runId), {force: true})
}

const RUN_ID = /^[a-z0-9][a-z0-9-]{7,62}$/

/** A mounted folder that is no longer at its path: nothing is judged or moved by path. */
function swappedFinding(root: string): Neutralised {
  return {
    path: root,
    change: 'changed',
    reason: 'the folder at this path is not the one that was mounted (it was swapped or moved during the session), so what the agent wrote there cannot be checked',
    action: 'quarantine',
    quarantinedAt: null,
    error: 'nothing was moved: find where the mounted folder went and check its .git before running git in it',
  }
}

async function identity(p: string): Promise<string | null> {
  const st = await fsp.lstat(p, {bigint: true}).catch(() => null)
  return st ? `${st.dev}:${st.ino}` : null
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Checks the baselines left by sessions whose CLI is gone (killed before its own check). Returns
 * their reports; each checked baseline is removed.
 */
export async function recoverPending(stateDir: string, host?: HostFacts): Promise<Array<{runId: string; report: IntegrityReport}>> {
  const dir = pendingDir(stateDir)
  const names = await fsp.readdir(dir).catch(() => [] as string[])
  const out: Array<{runId: string; report: IntegrityReport}> = []
  for (const name of names) {
    if (!name.endsWith('.json')) continue
    const file = path.join(dir, name)
    let baseline: IntegrityBaseline
    try {
      const st = await fsp.lstat(file)
      if (!st.isFile() || st.size > 64 * 1024 * 1024) continue
      baseline = JSON.parse(await fsp.readFile(file, 'utf8')) as IntegrityBaseline
    } catch {
      continue
    }
    if (baseline.version !== 1 || !RUN_ID.test(baseline.runId) || !Array.isArray(baseline.roots) || alive(baseline.pid)) continue
    const report = await checkAgainstBaseline(baseline, stateDir, host)
    await fsp.rm(file, {force: true})
    out.push({runId: baseline.runId, report})
  }
  return out
}
