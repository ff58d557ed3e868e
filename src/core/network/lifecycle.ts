/**
 * The egress proxy's life, bound to its run: set up before the agent's container, torn down on
 * every way out (tool exit, Ctrl-C, SIGTERM, a failure), and — when the CLI itself was killed —
 * removed by the next launch. A marker under the state dir (`egress/<run-id>.json`, written before
 * anything is created, removed after the teardown) says which runs may have left something; the
 * leftovers are then found by their labels, never by name alone.
 */
import {mkdir, readdir, readFile, rm, writeFile} from 'node:fs/promises'
import path from 'node:path'

import {unexpectedFailure} from '../errors.js'
import {describeOutcome, succeeded, type Runner} from '../exec.js'
import {podmanArgs, type PodmanContext} from '../podman/context.js'
import {PROXY_READY_LINE, ROLE_LABEL, RUN_ID_LABEL} from './sidecar.js'
import {READY_TIMEOUT_MS, type EgressSteps} from './steps.js'
import {GUARD_READY_LINE, type GuardSteps} from './link-local-guard.js'
import type {Step} from '../plan/plan.js'

type Target = Pick<PodmanContext, 'binary' | 'connection'>

const markerDir = (state: string): string => path.join(state, 'egress')
const markerFile = (state: string, runId: string): string => path.join(markerDir(state), `${runId}.json`)
const MARKER_NAME = /^([a-z0-9][a-z0-9-]{7,62})\.json$/

interface Marker {
  runId: string
  connection: string | null
  /** The CLI that wrote it, and when that process started (Linux: /proc/<pid>/stat), so a live launch is never cleaned up. */
  pid?: number
  pidStart?: string | null
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks): tells a reused pid from the original. */
async function processStart(pid: number): Promise<string | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null
  } catch {
    return null
  }
}

/** Whether the CLI that wrote the marker is still running (then its run is live, not a leftover). */
async function writerAlive(marker: Marker): Promise<boolean> {
  if (typeof marker.pid !== 'number' || marker.pid <= 0) return false
  try {
    process.kill(marker.pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false
  }
  if (!marker.pidStart) return true
  return (await processStart(marker.pid)) === marker.pidStart
}

async function run(runner: Runner, s: Step, timeoutMs: number) {
  return runner(s.argv[0]!, s.argv.slice(1), {timeoutMs})
}

/**
 * Writes the marker (so even a SIGKILL from here on is recovered), then creates the run's network:
 * the agent's container needs it to exist. The proxy itself is startEgressProxy's.
 */
export async function createEgressNetwork(steps: EgressSteps, runner: Runner, state: string, ctx: Target): Promise<void> {
  await writeMarker(state, steps.setup.runId, ctx)
  const result = await run(runner, steps.networkCreate, 30_000)
  if (!succeeded(result)) {
    throw unexpectedFailure(
      'EGRESS_SETUP_FAILED',
      `cannot create the egress network: ${describeOutcome(result)}`,
      /subnet|already used|overlap/i.test(result.stderr)
        ? `the run's subnet ${steps.setup.subnet} is taken (podman network ls): start again, a new run id picks another`
        : 'check `podman network ls` and `podman info`; or run with spec.network.mode none; nothing was started',
    )
  }
}

/**
 * Creates the proxy alongside the agent container's create, and starts it once the agent's
 * container is initialised: the two network setups (CNI/netavark on the same network) never run
 * at once. `agentInitialized` resolving false means the launch stopped: the proxy is not started.
 * Failures name podman's message and the proxy's.
 */
export async function startEgressProxy(steps: EgressSteps, runner: Runner, agentInitialized: Promise<boolean>): Promise<void> {
  for (const [s, what, timeoutMs] of [
    [steps.sidecarCreate, 'create the egress proxy', 60_000],
    [steps.sidecarStart, 'start the egress proxy', 30_000],
  ] as const) {
    if (s === steps.sidecarStart && !(await agentInitialized)) return
    const result = await run(runner, s, timeoutMs)
    if (!succeeded(result)) {
      const log = s === steps.sidecarStart ? await proxyLogTail(steps, runner) : ''
      throw unexpectedFailure(
        'EGRESS_SETUP_FAILED',
        `cannot ${what}: ${describeOutcome(result)} (${lastLines(result.stderr)})${log ? `; the proxy said: ${log}` : ''}`,
        'check that the image carries squid (`sourceosctl agent-machine doctor`), or run with spec.network.mode none; nothing of the agent was started',
      )
    }
  }
}

/** Notes that `runId` may leave containers (or a network) behind if this CLI is killed (cleanEgressLeftovers). */
async function writeMarker(state: string, runId: string, ctx: Target): Promise<void> {
  await mkdir(markerDir(state), {recursive: true, mode: 0o700})
  const marker: Marker = {runId, connection: ctx.connection, pid: process.pid, pidStart: await processStart(process.pid)}
  await writeFile(markerFile(state, runId), `${JSON.stringify(marker)}\n`, {mode: 0o600})
}

/**
 * Network mode open: creates and starts the link-local guard, waits for its routes, and returns its
 * container ID (the agent's container must join exactly that one). Refuses when the image cannot
 * do it (no `ip`): nothing of the agent was started.
 */
export async function startLinkLocalGuard(g: GuardSteps, runner: Runner, state: string, ctx: Target, runId: string): Promise<string> {
  await writeMarker(state, runId, ctx)
  const created = await run(runner, g.create, 60_000)
  const id = created.stdout.trim().split('\n').pop()?.trim() ?? ''
  if (!succeeded(created) || !/^[a-f0-9]{64}$/.test(id)) throw guardFailure(`cannot create the link-local guard: ${describeOutcome(created)} (${lastLines(created.stderr)})`)
  const started = await run(runner, g.start, 30_000)
  if (!succeeded(started)) throw guardFailure(`cannot start the link-local guard: ${describeOutcome(started)} (${lastLines(started.stderr)})`)
  const deadline = Date.now() + READY_TIMEOUT_MS
  for (let delay = 25; ; delay = Math.min(delay * 2, 250)) {
    const log = await run(runner, g.ready, 15_000)
    const text = `${log.stdout}\n${log.stderr}`
    if (text.includes(GUARD_READY_LINE)) return id
    const exited = /not found|RTNETLINK|Operation not permitted|can't|No such file/i.test(text)
    if (exited || Date.now() > deadline) throw guardFailure(`the link-local guard did not set its routes: ${lastLines(text)}`)
    await new Promise((r) => setTimeout(r, delay))
  }
}

function guardFailure(message: string) {
  return unexpectedFailure('LINK_LOCAL_GUARD_FAILED', `${message}; network mode open refuses the cloud metadata range through it.`, 'rebuild the image from images/agent (it installs iproute2): `sourceosctl agent-machine image build` (or `make image`); or use spec.network.mode allowlist (or none); nothing of the agent was started')
}

/** Removes the guard (the agent's container is gone by then); the marker goes when nothing is left. */
export async function removeLinkLocalGuard(g: GuardSteps, runner: Runner, state: string, runId: string): Promise<string[]> {
  const removed = await run(runner, g.remove, 30_000)
  if (!succeeded(removed) && !/no such container/i.test(removed.stderr)) return [`the link-local guard ${g.name} could not be removed: ${describeOutcome(removed)}`]
  await rm(markerFile(state, runId), {force: true})
  return []
}

/** Polls the proxy's log until Squid listens; refuses (nothing started) when it exits or times out. */
export async function waitForProxy(steps: EgressSteps, runner: Runner, sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS
  let delay = 25
  for (;;) {
    const result = await run(runner, steps.ready, 15_000)
    const text = `${result.stdout}\n${result.stderr}`
    if (text.includes(PROXY_READY_LINE)) return
    if (/FATAL|Terminated abnormally/.test(text) || Date.now() > deadline) {
      throw unexpectedFailure(
        'EGRESS_PROXY_NOT_READY',
        `the egress proxy ${steps.setup.sidecar} did not start listening${Date.now() > deadline ? ` within ${READY_TIMEOUT_MS / 1000} s` : ''}: ${lastLines(text)}`,
        'check that the image carries squid (`sourceosctl agent-machine doctor`); nothing of the agent was started',
      )
    }
    await sleep(delay)
    delay = Math.min(delay * 2, 250)
  }
}

/** After the session: the proxy's stdout (its access log), then the proxy and the network removed. */
export async function tearDownEgress(steps: EgressSteps, runner: Runner, state: string, opts: {readLog: boolean}): Promise<{log: string | null; problems: string[]}> {
  let log: string | null = null
  const problems: string[] = []
  if (opts.readLog) {
    const result = await run(runner, steps.log, 30_000)
    if (succeeded(result)) log = result.stdout
    else problems.push(`the proxy's log could not be read: ${describeOutcome(result)}`)
  }
  const netRemoved = await run(runner, steps.networkRemove, 30_000)
  if (!succeeded(netRemoved) && !/not found|no such network|unable to find network/i.test(netRemoved.stderr)) {
    // the proxy by name, then the network once more
    await run(runner, steps.sidecarRemove, 30_000)
    const again = await run(runner, steps.networkRemove, 30_000)
    if (!succeeded(again) && !/not found|no such network|unable to find network/i.test(again.stderr)) problems.push(`the network ${steps.setup.network} (and its proxy) could not be removed: ${describeOutcome(again)}`)
  }
  // the marker stays when something could not be removed: the next launch tries again
  if (problems.filter((p) => !p.startsWith("the proxy's log")).length === 0) await rm(markerFile(state, steps.setup.runId), {force: true})
  return {log, problems}
}

async function proxyLogTail(steps: EgressSteps, runner: Runner): Promise<string> {
  const result = await run(runner, steps.log, 15_000)
  return lastLines(`${result.stdout}\n${result.stderr}`)
}

function lastLines(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean)
  const fatal = lines.filter((l) => /FATAL|ERROR/.test(l))
  return (fatal.length > 0 ? fatal : lines).slice(-3).join(' | ').slice(0, 600) || '(no output)'
}

/**
 * Removes what killed CLIs left: for each marker whose writer (a CLI) is no longer running and whose
 * run's agent container is gone, its proxy or guard container(s) and network(s), found by the
 * run-id label. A run whose CLI still runs, or whose agent still exists (a live session), is left
 * alone. Returns what was removed.
 */
export async function cleanEgressLeftovers(state: string, runner: Runner, ctx: Target): Promise<string[]> {
  let names: string[]
  try {
    names = await readdir(markerDir(state))
  } catch {
    return []
  }
  const removed: string[] = []
  for (const name of names) {
    const m = MARKER_NAME.exec(name)
    if (!m) continue
    const runId = m[1]!
    let marker: Marker
    try {
      marker = JSON.parse(await readFile(markerFile(state, runId), 'utf8')) as Marker
    } catch {
      marker = {runId, connection: ctx.connection}
    }
    // another CLI's launch in progress (its proxy or guard may exist before its agent does): not a leftover
    if (await writerAlive(marker)) continue
    const target: Target = {binary: ctx.binary, connection: typeof marker.connection === 'string' ? marker.connection : null}
    const p = (args: string[]) => runner(target.binary, podmanArgs(target, args), {timeoutMs: 30_000})
    const agents = await p(['ps', '--all', '--quiet', `--filter=label=${RUN_ID_LABEL}=${runId}`, `--filter=name=^sourceos-agent-${runId}$`])
    if (!succeeded(agents)) continue // podman unreachable (a stopped machine): try again next time
    if (agents.stdout.trim() !== '') continue // the session is still there
    // what is left of the run: its egress proxy or link-local guard (the agent's container is gone)
    const helpers = await p(['ps', '--all', `--filter=label=${RUN_ID_LABEL}=${runId}`, '--format={{.ID}} {{index .Labels "' + ROLE_LABEL + '"}}'])
    const found = helpers.stdout.split('\n').map((l) => l.trim().split(' ')).filter(([id]) => id)
    if (found.length > 0 && succeeded(await p(['rm', '--force', '--time=0', ...found.map(([id]) => id!)]))) removed.push(...found.map(([id, role]) => `container ${id!.slice(0, 12)} (${role || 'helper'} of run ${runId})`))
    const nets = await p(['network', 'ls', '--quiet', `--filter=label=${RUN_ID_LABEL}=${runId}`])
    const netIds = nets.stdout.split('\n').map((l) => l.trim()).filter(Boolean)
    if (netIds.length > 0 && succeeded(await p(['network', 'rm', ...netIds]))) removed.push(...netIds.map((id) => `network ${id.slice(0, 12)} (run ${runId})`))
    const left = await p(['network', 'ls', '--quiet', `--filter=label=${RUN_ID_LABEL}=${runId}`])
    if (succeeded(left) && left.stdout.trim() === '') await rm(markerFile(state, runId), {force: true})
  }
  return removed
}
