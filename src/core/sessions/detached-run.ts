/**
 * The start of a detached session, run by its keeper (keeper.ts) in place of the attached start:
 * `podman start` (not attached), the keeper tells its launcher that the session runs, then
 * `podman wait` until it ends. The container was created without --rm, so its exit code is there
 * however fast it ended; execute.ts removes it afterwards, as after any launch that did not end cleanly.
 */
import {unexpectedFailure} from '../errors.js'
import {describeOutcome, succeeded, type Runner} from '../exec.js'
import type {Step} from '../plan/plan.js'
import {keepSessionOutput} from './output.js'

/** setTimeout's maximum (about 24.8 days): a session has no deadline of its own. */
const NO_DEADLINE_MS = 2_147_483_647

export interface DetachedHooks {
  kill: (signal: NodeJS.Signals) => void
  /** Removes the launch's early-signal handlers (the signals below take over). */
  stopEarly: () => void
  early: () => NodeJS.Signals | undefined
  /** The state dir: the session's output is kept in sessions/<run id>.output.log. */
  state: string
  onStarted?: () => Promise<void>
}

/** Runs start and wait; returns the session's exit code (128+N when it died of signal N). */
export async function runDetached(steps: {start: Step; wait: Step; saveLog?: Step | undefined}, runner: Runner, h: DetachedHooks): Promise<number> {
  const started = await runner(steps.start.argv[0]!, steps.start.argv.slice(1), {timeoutMs: 60_000})
  if (!succeeded(started)) throw unexpectedFailure('PODMAN_START_FAILED', `podman start failed: ${describeOutcome(started)}`, 'run the create, init and start commands from `--dry-run` by hand to see podman’s full error')
  // The keeper has no terminal: SIGHUP is ignored; SIGTERM and SIGINT (a shutdown, a kill) reach the tool.
  const forward = (signal: NodeJS.Signals): void => h.kill(signal)
  const ignore = (): void => {}
  process.on('SIGTERM', forward)
  process.on('SIGINT', forward)
  process.on('SIGHUP', ignore)
  h.stopEarly()
  try {
    const early = h.early()
    if (early && early !== 'SIGHUP') h.kill(early)
    await h.onStarted?.()
    const waited = await runner(steps.wait.argv[0]!, steps.wait.argv.slice(1), {timeoutMs: NO_DEADLINE_MS})
    if (steps.saveLog && h.state) await keepOutput(steps.saveLog, runner, h.state)
    const code = Number.parseInt(waited.stdout.trim().split('\n').pop() ?? '', 10)
    if (!succeeded(waited) || !Number.isInteger(code)) throw unexpectedFailure('SESSION_WAIT_FAILED', `cannot tell how the session ended: ${describeOutcome(waited)}`, 'the after-session work still ran; see `sourceosctl agent-machine evidence inspect`')
    return code
  } finally {
    process.off('SIGTERM', forward)
    process.off('SIGINT', forward)
    process.off('SIGHUP', ignore)
  }
}

/** The ended session's output (podman's bounded log), kept for `logs` after the container is gone. */
async function keepOutput(saveLog: Step, runner: Runner, state: string): Promise<void> {
  const name = saveLog.argv.at(-1) ?? ''
  const runId = name.replace(/^sourceos-agent-/, '')
  const r = await runner(saveLog.argv[0]!, saveLog.argv.slice(1), {timeoutMs: 60_000})
  if (succeeded(r)) await keepSessionOutput(state, runId, r.stdout + r.stderr).catch(() => undefined)
}
