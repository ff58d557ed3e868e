/**
 * The agent sessions running through this CLI, found by the labels on their containers (never by
 * name alone), across the profile's podman context (machine, connection). Pure parsing plus the
 * argv of the verbs that act on one: stop, exec and logs go to the session's own container.
 */
import {z} from 'zod'

import {unexpectedFailure, usageError} from '../errors.js'
import {describeOutcome, succeeded, type Runner} from '../exec.js'
import {podmanArgv, type PodmanContext} from '../podman/context.js'
import {EndedSessionSchema} from './ended.js'

const LABEL = 'dev.sourceos.agent-machine'
const AGENT_PREFIX = 'sourceos-agent-'
const RUN_ID = /^[a-z0-9][a-z0-9-]{7,62}$/

type Target = Pick<PodmanContext, 'binary' | 'connection'>

export const SessionSchema = z
  .object({
    runId: z.string().describe('The run id (label dev.sourceos.agent-machine.run-id; also the evidence record id).'),
    container: z.string().describe('The agent container.'),
    verb: z.string().nullable().describe('run or shell.'),
    tool: z.string().nullable().describe('The tool (codex, claude-code), or "shell".'),
    profile: z.string().nullable(),
    network: z.string().nullable().describe('The network mode (none, allowlist, open); null for containers of older CLIs.'),
    workdir: z.string().nullable().describe('The mounted repo the session works in (its target under /workspace).'),
    state: z.string().describe('podman\'s state: created, running, exited, …'),
    startedAt: z.string().nullable().describe('RFC 3339 UTC; null when it never started.'),
    image: z.string().describe('The image\'s short ID.'),
  })
  .strict()

export const SessionsResultSchema = z
  .object({
    connection: z.string().nullable().describe('The podman connection asked (null: podman\'s own default, native Linux).'),
    sessions: z.array(SessionSchema),
    ended: z.array(EndedSessionSchema).optional().describe('With --all: the sessions that ended, newest first, from the evidence index (at most --limit).'),
    recovered: z.array(z.string()).optional().describe('Run ids of sessions whose owner was gone that this call finished (sessions/recover.ts).'),
  })
  .strict()
  .describe('Result of `sourceosctl agent-machine ps --json`.')

export type Session = z.infer<typeof SessionSchema>

export const listSessionsArgv = (ctx: Target): string[] => podmanArgv(ctx, ['ps', '--all', `--filter=label=${LABEL}.run-id`, '--format=json'])

interface PsEntry {
  Names?: string[]
  Labels?: Record<string, string> | null
  State?: string
  StartedAt?: number
  ImageID?: string
}

/** Agent containers only (the egress proxy and link-local guard carry a role label), newest first. */
export function parseSessions(stdout: string): Session[] {
  let entries: PsEntry[]
  try {
    entries = JSON.parse(stdout.trim() || '[]') as PsEntry[]
  } catch {
    throw unexpectedFailure('PODMAN_OUTPUT_INVALID', 'podman ps --format=json printed something that is not JSON', 'run the command with --dry-run to see it, and check `podman ps`')
  }
  const sessions: Session[] = []
  for (const e of Array.isArray(entries) ? entries : []) {
    const labels = e.Labels ?? {}
    const name = e.Names?.[0] ?? ''
    const runId = labels[`${LABEL}.run-id`] ?? ''
    // ours: the name and the label agree (a container that only borrows the label is not a session)
    if (labels[`${LABEL}.role`] || name !== `${AGENT_PREFIX}${runId}` || !RUN_ID.test(runId)) continue
    sessions.push({
      runId,
      container: name,
      verb: labels[`${LABEL}.verb`] ?? null,
      tool: labels[`${LABEL}.tool`] ?? null,
      profile: labels[`${LABEL}.profile`] ?? null,
      network: labels[`${LABEL}.network`] ?? null,
      workdir: labels[`${LABEL}.workdir`] ?? null,
      state: e.State ?? 'unknown',
      startedAt: e.StartedAt && e.StartedAt > 0 ? new Date(e.StartedAt * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z') : null,
      image: (e.ImageID ?? '').replace(/^sha256:/, '').slice(0, 12),
    })
  }
  return sessions.sort((a, b) => (b.startedAt ?? '').localeCompare(a.startedAt ?? ''))
}

export async function listSessions(runner: Runner, ctx: Target): Promise<Session[]> {
  const [cmd, ...args] = listSessionsArgv(ctx) as [string, ...string[]]
  const result = await runner(cmd, args, {timeoutMs: 30_000})
  if (!succeeded(result)) throw unexpectedFailure('PODMAN_PS_FAILED', `cannot list the sessions: ${describeOutcome(result)}`, 'check `podman info` (and that the profile\'s machine runs: sourceosctl agent-machine start)')
  return parseSessions(result.stdout)
}

/** The one session with this run id, or a usage error that lists what there is. */
export async function findSession(runner: Runner, ctx: Target, runId: string): Promise<Session> {
  if (!RUN_ID.test(runId)) throw usageError('RUN_ID_INVALID', `'${runId.replace(/[^\x20-\x7e]/g, '?').slice(0, 80)}' is not a run id.`, 'run ids are 8-63 lower-case letters, digits and -: see `sourceosctl agent-machine ps`')
  const all = await listSessions(runner, ctx)
  const found = all.find((s) => s.runId === runId)
  if (!found) {
    const known = all.map((s) => s.runId).slice(0, 5)
    throw usageError('SESSION_NOT_FOUND', `no session with run id ${runId}${ctx.connection ? ` on connection ${ctx.connection}` : ''}.`, known.length > 0 ? `running now: ${known.join(', ')} (sourceosctl agent-machine ps)` : 'list them: sourceosctl agent-machine ps')
  }
  return found
}

/** SIGTERM to the tool (the container's init forwards it), SIGKILL after `graceSeconds`. */
export const stopArgv = (ctx: Target, s: Session, graceSeconds: number): string[] => podmanArgv(ctx, ['stop', `--time=${graceSeconds}`, s.container])

/**
 * A second shell or a command in the SAME container: podman exec runs it as the container's user,
 * in its working directory, with its environment, and with no capability the container lacks
 * (no --privileged, no --user, no --env here).
 */
export function execArgv(ctx: Target, s: Session, opts: {tty: boolean}, command: readonly string[]): string[] {
  return podmanArgv(ctx, ['exec', '--interactive', ...(opts.tty ? ['--tty'] : []), s.container, ...(command.length > 0 ? command : ['/bin/sh'])])
}

export const logsArgv = (ctx: Target, s: Session, follow: boolean): string[] => podmanArgv(ctx, ['logs', ...(follow ? ['--follow'] : []), s.container])

