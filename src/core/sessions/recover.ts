/**
 * Finishing a session whose owner is gone. A session is finished — the after-session work done and
 * its evidence completed — exactly once, by one of:
 *
 *   1. its owner: the foreground CLI, or a detached session's keeper (launch.ts, after `podman wait`
 *      returns: however it ended, by itself or by `stop`), which removes its state file when done;
 *   2. recovery, here: on the next `ps`, `stop`, `attach` or launch, for a state file whose owner no
 *      longer runs (killed, or the machine restarted) and whose container has ended or is gone.
 *
 * Recovery never touches a session whose owner runs (the owner finishes it), and takes the
 * session's lock (`<run id>.lock`, proper-lockfile) and re-reads the state file under it, so two
 * recoveries at once finish it once. What it does is the foreground's after-session work as far as
 * it can be done without the owner's memory: the integrity check against the saved baseline (a
 * plant is quarantined), the egress proxy's log read and its teardown, the evidence record
 * completed (status completed with the exit code when the ended container was still there, else
 * incomplete), and the --worktree clone left for review (its branch is not brought back: that
 * needs the owner's plan; the message says so and how to throw it away).
 *
 * A session whose owner is gone but whose container still runs is left running; its integrity
 * baseline is moved beside the state file so that the launch's own recovery of killed CLIs
 * (integrity/session.ts recoverPending) does not check it while the agent still writes.
 */
import {readFile, rename, rm} from 'node:fs/promises'
import path from 'node:path'

import lockfile from 'proper-lockfile'

import {describeOutcome, succeeded, type Runner} from '../exec.js'
import type {HostFacts} from '../host/facts.js'
import type {IntegrityBaseline, IntegrityReport} from '../integrity/session.js'
import {podmanArgs} from '../podman/context.js'
import {adoptedBaseline, lockFile, ownerAlive, readSessionState, sessionStateIds, stateFile, writeDone, dropSessionState, type SessionState} from './state.js'

const LABEL = 'dev.sourceos.agent-machine'

export interface Recovered {
  runId: string
  exitCode: number | null
  evidence: string | null
  messages: string[]
}

/** Where a container of the session stands: running (or about to), ended with an exit code, or gone. */
type ContainerState = {kind: 'live'} | {kind: 'ended'; exitCode: number | null} | {kind: 'gone'} | {kind: 'unknown'}

async function containerState(runner: Runner, s: SessionState): Promise<ContainerState> {
  const name = `sourceos-agent-${s.runId}`
  const r = await runner(s.podman.binary, podmanArgs(s.podman, ['ps', '--all', `--filter=label=${LABEL}.run-id=${s.runId}`, `--filter=name=^${name}$`, '--format=json']), {timeoutMs: 30_000})
  if (!succeeded(r)) return {kind: 'unknown'}
  let found: Array<{State?: unknown; ExitCode?: unknown}>
  try {
    found = JSON.parse(r.stdout.trim() || '[]') as Array<{State?: unknown; ExitCode?: unknown}>
  } catch {
    return {kind: 'unknown'}
  }
  const entry = Array.isArray(found) ? found[0] : undefined
  if (!entry) return {kind: 'gone'}
  const state = String(entry.State ?? '').toLowerCase()
  const code = String(entry.ExitCode ?? '')
  if (state === 'running' || state === 'paused' || state === 'stopping') return {kind: 'live'}
  // exited; or created/initialized and never started (its owner died during the launch): ended, without an exit code then
  const n = Number.parseInt(code ?? '', 10)
  return {kind: 'ended', exitCode: state === 'exited' || state === 'stopped' ? (Number.isInteger(n) ? n : null) : null}
}

/** Recovers every session whose owner is gone; returns what it finished (for the caller to print). */
export async function recoverSessions(state: string, runner: Runner, host: HostFacts, only?: string): Promise<Recovered[]> {
  const ids = only ? [only] : await sessionStateIds(state)
  const out: Recovered[] = []
  for (const runId of ids) {
    const s = await readSessionState(state, runId)
    if (!s || (await ownerAlive(s))) continue
    const where = await containerState(runner, s)
    if (where.kind === 'unknown') continue // podman unreachable (a stopped machine): next time
    if (where.kind === 'live') {
      await adoptBaseline(state, runId)
      continue
    }
    const done = await withSessionLock(state, runId, async () => {
      const again = await readSessionState(state, runId)
      if (!again || (await ownerAlive(again))) return null
      return finish(state, again, runner, host, where.kind === 'ended' ? where.exitCode : null)
    })
    if (done) out.push(done)
  }
  return out
}

async function adoptBaseline(state: string, runId: string): Promise<void> {
  await rename(path.join(state, 'integrity', `${runId}.json`), adoptedBaseline(state, runId)).catch(() => undefined)
}

async function loadBaseline(state: string, runId: string): Promise<IntegrityBaseline | null> {
  for (const file of [adoptedBaseline(state, runId), path.join(state, 'integrity', `${runId}.json`)]) {
    try {
      const b = JSON.parse(await readFile(file, 'utf8')) as IntegrityBaseline
      if (b.version === 1 && b.runId === runId && Array.isArray(b.roots)) return b
    } catch {
      // next
    }
  }
  return null
}

async function finish(state: string, s: SessionState, runner: Runner, host: HostFacts, exitCode: number | null): Promise<Recovered> {
  const messages: string[] = []
  const name = `sourceos-agent-${s.runId}`
  // the ended container (a detached session keeps it until its exit code is read): removed now
  const removed = await runner(s.podman.binary, podmanArgs(s.podman, ['rm', '--force', '--time=2', name]), {timeoutMs: 30_000})
  if (!succeeded(removed) && !/no such container/i.test(removed.stderr)) messages.push(`its container ${name} could not be removed: ${describeOutcome(removed)}`)

  // 1. the integrity check, before anything reads the repos
  let integrity: IntegrityReport | undefined
  const baseline = await loadBaseline(state, s.runId)
  if (baseline) {
    const {checkAgainstBaseline, dropPending} = await import('../integrity/session.js')
    const {describeIntegrity} = await import('../integrity/describe.js')
    integrity = await checkAgainstBaseline(baseline, state, host)
    await dropPending(state, s.runId)
    messages.push(...describeIntegrity(integrity))
  }

  // 2. the egress proxy's log, then the proxy and network (or the link-local guard) removed
  let network: import('../network/evidence.js').NetworkEvidence | undefined
  if (s.egress) {
    const {tearDownEgress} = await import('../network/lifecycle.js')
    const {networkEvidence} = await import('../network/report.js')
    const down = await tearDownEgress(s.egress as Parameters<typeof tearDownEgress>[0], runner, state, {readLog: true}).catch((error: Error) => ({log: null, problems: [`teardown failed: ${error.message}`]}))
    for (const p of down.problems) messages.push(`egress proxy: ${p}`)
    network = networkEvidence(s.network as Parameters<typeof networkEvidence>[0], s.egressSetup as Parameters<typeof networkEvidence>[1], down.log)
  } else if (s.network === 'none' || s.network === 'open') {
    const {networkEvidence} = await import('../network/report.js')
    network = networkEvidence(s.network, undefined, null)
  }
  if (s.guard) {
    const {removeLinkLocalGuard} = await import('../network/lifecycle.js')
    for (const p of await removeLinkLocalGuard(s.guard as Parameters<typeof removeLinkLocalGuard>[0], runner, state, s.runId)) messages.push(p)
  }

  // 3. the evidence record, completed in the owner's place
  let evidence: string | null = null
  try {
    const {reopenStartedRecord} = await import('../evidence/store.js')
    const {loadOrCreateSigningKey, signingKeyDir} = await import('../evidence/signing.js')
    const signing = await loadOrCreateSigningKey(signingKeyDir(state))
    const handle = await reopenStartedRecord(s.evidenceDir, s.recordFile, {signing, homeDir: s.homeDir})
    if (handle) {
      const {execLogByproduct} = await import('./exec-evidence.js')
      await handle.complete({exitCode, status: exitCode === null ? 'incomplete' : 'completed', ...(integrity ? {integrity} : {}), ...(network ? {network} : {}), ...(await execLogByproduct(s.evidenceDir, s.runId))})
      evidence = handle.file
    }
  } catch (error) {
    messages.push(`its evidence record ${s.recordFile} could not be completed: ${(error as Error).message}`)
  }

  // 4. --worktree: the clone is left for review (its branch is not brought back here)
  if (s.worktree) {
    const {reviewCommands} = await import('../git/worktree.js')
    messages.push(`the agent's clone ${s.worktree.path} (branch ${s.worktree.branch}, from ${s.worktree.baseCommit.slice(0, 12)}) is left; its branch was not brought back into ${s.worktree.repo} (its session's CLI was gone).`)
    messages.push(`throw it away:  ${reviewCommands(s.worktree).remove}`)
  }
  await writeDone(state, {runId: s.runId, exitCode, by: 'recovery', finishedAt: new Date().toISOString(), messages, evidence})
  await dropSessionState(state, s.runId)
  return {runId: s.runId, exitCode, evidence, messages}
}

/** Runs fn holding the session's lock; null when another process holds it (it finishes the session). */
export async function withSessionLock<T>(state: string, runId: string, fn: () => Promise<T>): Promise<T | null> {
  let release: () => Promise<void>
  try {
    release = await lockfile.lock(stateFile(state, runId), {lockfilePath: lockFile(state, runId), realpath: false, stale: 10_000, retries: {retries: 40, minTimeout: 50, maxTimeout: 250}})
  } catch {
    return null
  }
  try {
    return await fn()
  } finally {
    await release().catch(() => undefined)
    await rm(lockFile(state, runId), {recursive: true, force: true}).catch(() => undefined)
  }
}
