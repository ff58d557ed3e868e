/**
 * A session's state file: `<state dir>/sessions/<run id>.json`, written by the process that owns the
 * session (the foreground CLI, or a detached session's keeper) just before the container starts,
 * and removed when that process has done the after-session work. What is there when its owner is
 * gone is what recovery (recover.ts) needs to finish the session in its place: where the evidence
 * record is, the egress proxy's steps, the --worktree clone.
 *
 * Beside it: `<run id>.lock` (held by whoever finishes the session, so it is finished once),
 * `<run id>.keeper.log` (a keeper's own output: warnings, and the after-session messages),
 * `<run id>.done.json` (how it ended, read by `stop` and `attach`), and `<run id>.exec.jsonl`
 * (exec-evidence.ts). The state dir is never mounted into a container (evidence/store.ts refuses
 * it), so nothing here is agent-written; it is read defensively all the same.
 */
import {readFile, rm, stat} from 'node:fs/promises'
import path from 'node:path'

import {mkdirp, writeFileAtomic} from '../fs-atomic.js'

const RUN_ID = /^[a-z0-9][a-z0-9-]{7,62}$/
const MAX_STATE_BYTES = 4 * 1024 * 1024

export interface SessionState {
  v: 1
  runId: string
  /** The process that owns the session, and its start time (/proc/<pid>/stat field 22) against pid reuse. */
  pid: number
  pidStart: string | null
  detached: boolean
  verb: 'run' | 'shell'
  tool: string | null
  podman: {binary: string; connection: string | null}
  evidenceDir: string
  recordFile: string
  /** For the record's home-relative paths. */
  homeDir: string
  startedAt: string
  workdir: string
  network: string
  /** The egress proxy's setup and steps (network allowlist), the link-local guard's (open): plain data. */
  egressSetup: unknown
  egress: unknown
  guard: unknown
  worktree: {repo: string; path: string; branch: string; baseCommit: string} | null
}

export interface SessionDone {
  v: 1
  runId: string
  /** The CLI's exit code for the session (the tool's, or 6 for a quarantined plant, …); null: unknown. */
  exitCode: number | null
  /** Who finished it: its keeper (or foreground CLI), or recovery when that was gone. */
  by: 'keeper' | 'recovery'
  finishedAt: string
  /** The after-session messages, as the foreground run prints them. */
  messages: string[]
  evidence: string | null
}

export const sessionsDir = (state: string): string => path.join(state, 'sessions')
export const stateFile = (state: string, runId: string): string => path.join(sessionsDir(state), `${runId}.json`)
export const lockFile = (state: string, runId: string): string => path.join(sessionsDir(state), `${runId}.lock`)
export const keeperLog = (state: string, runId: string): string => path.join(sessionsDir(state), `${runId}.keeper.log`)
export const doneFile = (state: string, runId: string): string => path.join(sessionsDir(state), `${runId}.done.json`)
export const execLog = (state: string, runId: string): string => path.join(sessionsDir(state), `${runId}.exec.jsonl`)
/** Where recovery keeps the integrity baseline of a session that outlived its owner (see recover.ts). */
export const adoptedBaseline = (state: string, runId: string): string => path.join(sessionsDir(state), `${runId}.baseline.json`)

/** Field 22 of /proc/<pid>/stat (start time in clock ticks): tells a reused pid from the original. */
export async function processStart(pid: number): Promise<string | null> {
  try {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8')
    return text.slice(text.lastIndexOf(')') + 2).split(' ')[19] ?? null
  } catch {
    return null
  }
}

/** Whether the session's owner still runs (then it finishes the session itself). */
export async function ownerAlive(s: Pick<SessionState, 'pid' | 'pidStart'>): Promise<boolean> {
  if (!Number.isInteger(s.pid) || s.pid <= 0) return false
  try {
    process.kill(s.pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false
  }
  // a zombie (killed, not yet reaped: its parent, the launcher, may be gone too) has ended
  const stat = await readFile(`/proc/${s.pid}/stat`, 'utf8').catch(() => null)
  if (stat !== null && /^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2))) return false
  if (!s.pidStart) return true
  return (await processStart(s.pid)) === s.pidStart
}

export async function saveSessionState(state: string, s: Omit<SessionState, 'v' | 'pid' | 'pidStart'>): Promise<void> {
  if (!RUN_ID.test(s.runId)) return
  await mkdirp(sessionsDir(state))
  const full: SessionState = {v: 1, pid: process.pid, pidStart: await processStart(process.pid), ...s}
  await writeFileAtomic(stateFile(state, s.runId), `${JSON.stringify(full)}\n`, {overwrite: true, mode: 0o600})
}

export async function dropSessionState(state: string, runId: string): Promise<void> {
  if (!RUN_ID.test(runId)) return
  await rm(stateFile(state, runId), {force: true})
  await rm(adoptedBaseline(state, runId), {force: true})
}

/** A state file, or null when it is missing or not one this CLI wrote. */
export async function readSessionState(state: string, runId: string): Promise<SessionState | null> {
  if (!RUN_ID.test(runId)) return null
  const parsed = await readJson(stateFile(state, runId))
  if (!parsed || typeof parsed !== 'object') return null
  const s = parsed as Partial<SessionState>
  const str = (v: unknown): v is string => typeof v === 'string'
  if (s.v !== 1 || s.runId !== runId || !Number.isInteger(s.pid) || !str(s.evidenceDir) || !str(s.recordFile) || !str(s.homeDir) || (s.verb !== 'run' && s.verb !== 'shell')) return null
  if (!s.podman || !str(s.podman.binary) || !(s.podman.connection === null || str(s.podman.connection))) return null
  return s as SessionState
}

/** The run ids that have a state file. */
export async function sessionStateIds(state: string): Promise<string[]> {
  const {readdir} = await import('node:fs/promises')
  const names = await readdir(sessionsDir(state)).catch(() => [] as string[])
  return names.filter((n) => n.endsWith('.json') && !n.endsWith('.done.json') && !n.endsWith('.baseline.json')).map((n) => n.slice(0, -'.json'.length)).filter((id) => RUN_ID.test(id))
}

export async function writeDone(state: string, done: Omit<SessionDone, 'v'>): Promise<void> {
  if (!RUN_ID.test(done.runId)) return
  await mkdirp(sessionsDir(state))
  await writeFileAtomic(doneFile(state, done.runId), `${JSON.stringify({v: 1, ...done})}\n`, {overwrite: true, mode: 0o600})
}

export async function readDone(state: string, runId: string): Promise<SessionDone | null> {
  if (!RUN_ID.test(runId)) return null
  const d = (await readJson(doneFile(state, runId))) as Partial<SessionDone> | null
  if (!d || d.v !== 1 || d.runId !== runId || !Array.isArray(d.messages)) return null
  return {v: 1, runId, exitCode: Number.isInteger(d.exitCode) ? d.exitCode! : null, by: d.by === 'recovery' ? 'recovery' : 'keeper', finishedAt: String(d.finishedAt ?? ''), messages: d.messages.filter((m): m is string => typeof m === 'string'), evidence: typeof d.evidence === 'string' ? d.evidence : null}
}

async function readJson(file: string): Promise<unknown> {
  try {
    const st = await stat(file)
    if (!st.isFile() || st.size > MAX_STATE_BYTES) return null
    return JSON.parse(await readFile(file, 'utf8')) as unknown
  } catch {
    return null
  }
}
