/**
 * `exec <run-id> [-- command…]`, the verb people run most against a live session, without loading
 * oclif: bin/run.js hands the plain form here first (docs/performance.md). It handles only a
 * session whose state file is there and whose owner (its keeper, or the foreground CLI) still
 * runs — the owner removes the container only when it finishes, so the container named after the
 * run is that session's — and only the plain form: the run id, then nothing or `--` and the
 * command. Anything else (a flag, no state file, another platform) returns null before anything
 * ran, and oclif runs commands/agent-machine/exec.ts as always: the same podman argv, the same
 * evidence, the same exit code. One podman call: `podman exec` by the container's name, on the
 * connection the state file names; no lookup round trip.
 */
import {createLightAttachedRunner, type AttachedRunner} from '../exec.js'
import {podmanArgv} from '../podman/context.js'
import {ownerAlive, readSessionState, type SessionState} from './state.js'

const RUN_ID = /^[a-z0-9][a-z0-9-]{7,62}$/

/** The session's own container: no --user, --env or --privileged (its user, environment and capabilities). */
export function execArgvFor(ctx: {binary: string; connection: string | null}, container: string, tty: boolean, command: readonly string[]): string[] {
  return podmanArgv(ctx, ['exec', '--interactive', ...(tty ? ['--tty'] : []), container, ...(command.length > 0 ? command : ['/bin/sh'])])
}

/** Runs the exec with its evidence events (exec-evidence.ts) around it; returns podman's exit code (null: killed). */
export async function execWithEvidence(argv: readonly string[], state: SessionState | null, opts: {command: readonly string[]; tty: boolean; runner: AttachedRunner; stdoutToStderr: boolean}): Promise<number | null> {
  const ev = state ? await import('./exec-evidence.js') : null
  const execId = ev?.newExecId() ?? ''
  const record = state ? (state.recordFile.split(/[\\/]/).pop() ?? '') : ''
  if (ev && state) await ev.appendExecEvent(state.evidenceDir, {event: 'exec-start', runId: state.runId, execId, record, at: new Date().toISOString(), argv: ev.redactExecArgv(opts.command), tty: opts.tty})
  const r = await opts.runner(argv[0]!, argv.slice(1), {stdoutToStderr: opts.stdoutToStderr})
  if (ev && state) await ev.appendExecEvent(state.evidenceDir, {event: 'exec-end', runId: state.runId, execId, record, at: new Date().toISOString(), exitCode: r.exitCode})
  return r.exitCode
}

/** The plain form of a live session's exec, run here; null (nothing ran) for oclif to handle. */
export async function tryFastExec(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number | null> {
  if (process.platform !== 'linux') return null
  const [runId, sep, ...command] = args
  if (!runId || !RUN_ID.test(runId) || (sep !== undefined && sep !== '--')) return null
  const home = env.HOME
  if (!home || !home.startsWith('/')) return null
  const {stateDir} = await import('../profile/location.js')
  const state = await readSessionState(stateDir({platform: 'linux', homeDir: home, env}), runId)
  if (!state || !(await ownerAlive(state))) return null
  // committed from here: whatever happens is this exec's outcome (never run twice)
  const tty = Boolean(process.stdin.isTTY && process.stdout.isTTY)
  try {
    const code = await execWithEvidence(execArgvFor(state.podman, `sourceos-agent-${state.runId}`, tty, command), state, {command, tty, runner: createLightAttachedRunner(), stdoutToStderr: false})
    return code ?? 1
  } catch (error) {
    process.stderr.write(`Error: exec in session ${runId}: ${(error as Error).message}\n`)
    return 1
  }
}
