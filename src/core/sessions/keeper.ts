/**
 * `run --detach` / `shell --detach`. The CLI the user runs (the launcher) starts a copy of itself in
 * the background — the session's keeper: its own process session (setsid), no terminal, stdin
 * /dev/null, stdout and stderr to `<state dir>/sessions/<run id>.keeper.log`, and an IPC channel to
 * the launcher. The keeper runs the very same launch as a foreground `run` (every check, the plan,
 * the hardening, the evidence record begun before the first podman command that creates anything),
 * except that it starts the container unattached and waits for it (detach-steps.ts). Once the
 * container runs it tells the launcher, which prints the run id and how to attach and returns; the
 * keeper stays until the session ends, then does the after-session work exactly once (launch.ts)
 * and writes `<run id>.done.json` for `stop` and `attach` to report.
 *
 * A keeper that dies (killed, the machine restarts) leaves its state file; recovery finishes the
 * session in its place (recover.ts).
 */
import {closeSync, fstatSync, openSync, readFileSync} from 'node:fs'

import {AgentMachineError, unexpectedFailure, type ExitCodeValue} from '../errors.js'
import {spawnDetached} from '../exec.js'
import {mkdirp} from '../fs-atomic.js'
import {keeperLog, readDone, sessionsDir, writeDone} from './state.js'
import type {KeeperHooks} from './launch-hooks.js'

/** The hidden flag that makes run/shell the keeper; its value says whether the session gets a TTY. */
export const KEEPER_FLAG = '--session-keeper'

type KeeperMessage = {type: 'started'} | {type: 'error'; error: {code: string; message: string; fix: string | null; exitCode: number; details?: Record<string, unknown>}}

export interface Detached {
  runId: string
  keeperPid: number
  /** The keeper's output (warnings; the after-session messages). */
  log: string
  /** What the keeper printed before the session started (warnings, the header): the launcher shows it. */
  preamble: string
}

/** The launcher's argv for the keeper: the same verb and flags, without --detach, with the run id fixed. */
export function keeperArgv(verb: 'run' | 'shell', argv: readonly string[], runId: string, hasRunId: boolean, tty: boolean): string[] {
  const dashes = argv.indexOf('--')
  const own = (dashes < 0 ? argv : argv.slice(0, dashes)).filter((a) => a !== '--detach' && a !== '-d')
  const rest = dashes < 0 ? [] : argv.slice(dashes)
  return ['agent-machine', verb, `${KEEPER_FLAG}=${tty ? 'tty' : 'notty'}`, ...(hasRunId ? [] : ['--run-id', runId]), ...own, ...rest]
}

/** Starts the keeper and waits until the session runs (or the launch failed: its error is thrown here). */
export async function startDetached(opts: {state: string; verb: 'run' | 'shell'; argv: readonly string[]; runId: string; hasRunId: boolean; tty: boolean}): Promise<Detached> {
  await mkdirp(sessionsDir(opts.state))
  const log = keeperLog(opts.state, opts.runId)
  const fd = openSync(log, 'a', 0o600)
  const entry = process.argv[1]
  if (!entry) throw unexpectedFailure('SESSION_KEEPER_FAILED', 'cannot tell how this CLI was started, so its keeper cannot be', 'run it in the foreground (without --detach)')
  let child
  try {
    child = await spawnDetached(process.execPath, [...process.execArgv, entry, ...keeperArgv(opts.verb, opts.argv, opts.runId, opts.hasRunId, opts.tty)], {logFd: fd, env: {...process.env, NO_COLOR: '1'}})
  } finally {
    closeSync(fd)
  }
  const message = await new Promise<KeeperMessage | {type: 'exit'; code: number | null}>((resolve) => {
    child.once('message', (m) => resolve(m as KeeperMessage))
    child.once('exit', (code) => resolve({type: 'exit', code}))
    child.once('error', () => resolve({type: 'exit', code: null}))
  })
  const preamble = readText(log)
  if (message.type === 'started') {
    child.disconnect()
    child.unref()
    return {runId: opts.runId, keeperPid: child.pid ?? 0, log, preamble}
  }
  if (message.type === 'error') {
    const e = message.error
    throw Object.assign(new AgentMachineError(e.message, {code: e.code, exitCode: e.exitCode as ExitCodeValue, ...(e.fix ? {fix: e.fix} : {}), ...(e.details ? {details: e.details} : {})}), {preamble})
  }
  throw Object.assign(unexpectedFailure('SESSION_KEEPER_FAILED', `the session's keeper ended (exit ${message.code ?? 'by a signal'}) before the session started: ${lastLines(preamble)}`, `see ${log}; or run it in the foreground (without --detach)`), {preamble})
}

function readBytes(file: string): Buffer {
  try {
    return readFileSync(file)
  } catch {
    return Buffer.alloc(0)
  }
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return ''
  }
}

function lastLines(text: string): string {
  return text.trim().split('\n').slice(-3).join(' | ').slice(0, 600) || '(no output)'
}

/** In the keeper: the hooks launch.ts calls, and what to do when the launch ends. */
export function keeperSide(runId: string, state: string, tty: boolean): {hooks: KeeperHooks; failed: (error: unknown) => void; ended: (exitCode: number | null, evidence: string | null) => Promise<void>} {
  let startedAt = -1
  const send = (m: KeeperMessage): void => {
    if (process.connected) process.send?.(m)
  }
  return {
    hooks: {
      tty,
      onStarted: async () => {
        startedAt = logSize()
        send({type: 'started'})
        if (process.connected) process.disconnect()
      },
    },
    failed: (error) => {
      const e = error instanceof AgentMachineError ? error : unexpectedFailure('UNEXPECTED', (error as Error)?.message ?? String(error), 'report this')
      send({type: 'error', error: {code: e.code, message: e.message, fix: e.fix ?? null, exitCode: e.exitCode, ...(e.details ? {details: e.details} : {})}})
    },
    ended: async (exitCode, evidence) => {
      if (startedAt < 0) return // never started: the launcher reported it
      // the after-session messages: what this keeper printed since the start
      const text = readBytes(keeperLog(state, runId)).subarray(startedAt).toString('utf8')
      const messages = text.split('\n').map((l) => l.trimEnd()).filter(Boolean)
      if (await readDone(state, runId)) return
      await writeDone(state, {runId, exitCode, by: 'keeper', finishedAt: new Date().toISOString(), messages, evidence})
    },
  }
}

/** The keeper's stderr is its log file: its size now. */
function logSize(): number {
  try {
    return fstatSync(2).size
  } catch {
    return 0
  }
}
