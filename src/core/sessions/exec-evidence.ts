/**
 * `exec` in the session's evidence, as a linked record: `<evidence dir>/exec/<run id>.jsonl`, one
 * line per event — `exec-start` (its argv, redacted like the record's: the program's name stays,
 * each argument is redacted by shape, evidence/redact.ts) and `exec-end` (its exit code) — each
 * naming the run and its record file, and hash-chained: a line's `prevLine` is the sha256 of the
 * line before (null on the first), as in index.jsonl, so a removed or edited line breaks the chain
 * (`verifyExecLog`). Appends hold a lock on the file, so concurrent execs keep the chain whole.
 *
 * Why a linked file and not events in the record: the record is rewritten once, when the session
 * ends, by its owner; execs happen meanwhile from other processes, and must not wait for (or
 * race) that rewrite. The evidence dir is outside every mount (store.ts refuses it), so the agent
 * cannot write there. docs: README "Working with sessions".
 */
import {createHash, randomBytes} from 'node:crypto'
import {constants} from 'node:fs'
import {mkdir, open, readFile} from 'node:fs/promises'
import path from 'node:path'

import {redactArg} from '../evidence/redact.js'

export const EXEC_DIR = 'exec'
const RUN_ID = /^[a-z0-9][a-z0-9-]{7,62}$/
const MAX_LOG_BYTES = 64 * 1024 * 1024

export interface ExecEvent {
  v: 1
  event: 'exec-start' | 'exec-end'
  runId: string
  /** Ties an end to its start. */
  execId: string
  /** The run's evidence record (file name under records/). */
  record: string
  at: string
  /** exec-start: the command (empty: the default shell), redacted. */
  argv?: string[]
  tty?: boolean
  /** exec-end: the command's exit code (null: killed, or podman could not run it). */
  exitCode?: number | null
  prevLine: string | null
}

export const execLogPath = (evidenceDir: string, runId: string): string => path.join(evidenceDir, EXEC_DIR, `${runId}.jsonl`)

/** The program's name stays (a path is cut to its base name); its arguments are redacted by shape. */
export function redactExecArgv(argv: readonly string[]): string[] {
  if (argv.length === 0) return []
  const [program, ...args] = argv as [string, ...string[]]
  const name = /^[A-Za-z0-9._+-]{1,64}$/.test(path.posix.basename(program)) ? path.posix.basename(program) : redactArg(program)
  return [name, ...args.map(redactArg)]
}

export function newExecId(): string {
  return randomBytes(6).toString('hex')
}

const sha256 = (text: string): string => `sha256:${createHash('sha256').update(text, 'utf8').digest('hex')}`

/** Appends one event, chained to the last line, under the file's lock. */
export async function appendExecEvent(evidenceDir: string, event: Omit<ExecEvent, 'v' | 'prevLine'>): Promise<void> {
  if (!RUN_ID.test(event.runId)) return
  const file = execLogPath(evidenceDir, event.runId)
  await mkdir(path.dirname(file), {recursive: true, mode: 0o700})
  const lockfile = (await import('proper-lockfile')).default
  const release = await lockfile.lock(file, {lockfilePath: `${file}.lock`, realpath: false, stale: 5000, retries: {retries: 50, minTimeout: 5, maxTimeout: 100}})
  try {
    let last: string | null = null
    try {
      const text = await readFile(file, 'utf8')
      const lines = text.split('\n').filter(Boolean)
      last = lines.at(-1) ?? null
    } catch {
      // the first event
    }
    const line = JSON.stringify({v: 1, ...event, prevLine: last === null ? null : sha256(last)})
    const handle = await open(file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600)
    try {
      if (!(await handle.stat()).isFile()) throw new Error(`${file} is not a regular file`)
      await handle.writeFile(`${line}\n`)
    } finally {
      await handle.close()
    }
  } finally {
    await release().catch(() => undefined)
  }
}

/** The events of a run's exec log, and whether its chain is whole (every prevLine matches). */
export async function readExecLog(evidenceDir: string, runId: string): Promise<{events: ExecEvent[]; chainValid: boolean; problems: string[]}> {
  const file = execLogPath(evidenceDir, runId)
  let text: string
  try {
    const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
    try {
      const st = await handle.stat()
      if (!st.isFile() || st.size > MAX_LOG_BYTES) return {events: [], chainValid: false, problems: [`${file} is not a regular file of at most ${MAX_LOG_BYTES} bytes`]}
      text = await handle.readFile('utf8')
    } finally {
      await handle.close()
    }
  } catch {
    return {events: [], chainValid: true, problems: []}
  }
  const events: ExecEvent[] = []
  const problems: string[] = []
  let prev: string | null = null
  for (const [i, line] of text.split('\n').filter(Boolean).entries()) {
    try {
      const e = JSON.parse(line) as ExecEvent
      if (e.v !== 1 || e.runId !== runId || (e.event !== 'exec-start' && e.event !== 'exec-end')) problems.push(`line ${i + 1}: not an exec event of run ${runId}`)
      if (e.prevLine !== (prev === null ? null : sha256(prev))) problems.push(`line ${i + 1}: prevLine does not match the line before (a line was removed, changed or inserted)`)
      events.push(e)
    } catch {
      problems.push(`line ${i + 1}: not JSON`)
    }
    prev = line
  }
  return {events, chainValid: problems.length === 0, problems}
}

/**
 * The exec log as a byproduct of the record (its sha256 and event count), added when the session's
 * record is completed, so the signed record commits to the exec log as it was when the session
 * ended: `sha256sum <evidence dir>/exec/<run id>.jsonl` must give the digest. Empty when no exec ran.
 */
export async function execLogByproduct(evidenceDir: string, runId: string): Promise<{byproducts?: Array<{name: string; digest: Record<string, string>; annotations: Record<string, string>}>}> {
  if (!RUN_ID.test(runId)) return {}
  const file = execLogPath(evidenceDir, runId)
  let bytes: Buffer
  try {
    const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
    try {
      const st = await handle.stat()
      if (!st.isFile() || st.size > MAX_LOG_BYTES) return {}
      bytes = await handle.readFile()
    } finally {
      await handle.close()
    }
  } catch {
    return {}
  }
  const events = bytes.toString('utf8').split('\n').filter(Boolean).length
  return {byproducts: [{name: 'exec-log', digest: {sha256: createHash('sha256').update(bytes).digest('hex')}, annotations: {role: 'byproduct', path: `${EXEC_DIR}/${runId}.jsonl`, events: String(events)}}]}
}
