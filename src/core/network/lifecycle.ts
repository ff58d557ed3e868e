/**
 * The egress proxy's life, bound to its run: set up before the agent's container, torn down on
 * every way out (tool exit, Ctrl-C, SIGTERM, a failure), and — when the CLI itself was killed —
 * removed by the next launch. A marker under the state dir (`egress/<run-id>.json`, written before
 * anything is created, removed after the teardown) says which runs may have left something; the
 * leftovers are then found by their labels, never by name alone.
 */
import {mkdir, open, readdir, readFile, rm, stat, writeFile} from 'node:fs/promises'
import path from 'node:path'

import {policyRefusal, unexpectedFailure} from '../errors.js'
import {describeOutcome, succeeded, type Runner} from '../exec.js'
import {podmanArgs, type PodmanContext} from '../podman/context.js'
import {HOLDER_LABEL, HOLDER_ROLE, holderPrefix, IMAGE_LABEL, KEY_LABEL, networkConnectArgv, poolSubnet, PROXY_READY_LINE, ROLE_LABEL, RUN_ID_LABEL, SHARED_ROLE, SLOT_LABEL} from './sidecar.js'
import {forgetReady, holderAlive, isReady, leasedAgentCreated, listLeases, markReady, noteAgentCreated, readyInfo, releaseSlot, type ReadyInfo} from './pool.js'
import {sliceProxyLog} from './proxy-log.js'
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
  if (steps.shared) return ensureSharedEgress(steps, runner, state, ctx)
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
  if (steps.shared) {
    if (!(await agentInitialized)) return
    return checkSharedEgress(steps, runner)
  }
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
 * Network mode open, in three parts that execute.ts runs so that the guard starts while the agent's
 * container is created: createLinkLocalGuard (the marker, then the guard's container, not started;
 * returns its ID — the agent's container must join exactly that one), startCreatedGuard and
 * waitForGuardRoutes. Each refuses when the image cannot do it (no `ip`): nothing of the agent was
 * started.
 */
export async function createLinkLocalGuard(g: GuardSteps, runner: Runner, state: string, ctx: Target, runId: string): Promise<string> {
  await writeMarker(state, runId, ctx)
  const created = await run(runner, g.create, 60_000)
  const id = created.stdout.trim().split('\n').pop()?.trim() ?? ''
  if (!succeeded(created) || !/^[a-f0-9]{64}$/.test(id)) throw guardFailure(`cannot create the link-local guard: ${describeOutcome(created)} (${lastLines(created.stderr)})`)
  return id
}

/** Starts the created guard: its network namespace exists once this resolves (the agent's init joins it). */
export async function startCreatedGuard(g: GuardSteps, runner: Runner): Promise<void> {
  const started = await run(runner, g.start, 30_000)
  if (!succeeded(started)) throw guardFailure(`cannot start the link-local guard: ${describeOutcome(started)} (${lastLines(started.stderr)})`)
}

/** Polls the started guard's log until it says its routes are in place; refuses when it cannot set them. */
export async function waitForGuardRoutes(g: GuardSteps, runner: Runner): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS
  for (let delay = 25; ; delay = Math.min(delay * 2, 250)) {
    const log = await run(runner, g.ready, 15_000)
    const text = `${log.stdout}\n${log.stderr}`
    if (text.includes(GUARD_READY_LINE)) return
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
  // the shared proxy: its check after the agent's init (startEgressProxy) already waited when it had to
  if (steps.shared) return
  return pollReady(steps, steps.ready, runner, sleep)
}

async function pollReady(steps: EgressSteps, ready: Step, runner: Runner, sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS
  let delay = 25
  for (;;) {
    const result = await run(runner, ready, 15_000)
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
  if (steps.shared) return leaveSharedEgress(steps, runner, state, opts)
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
  const removed: string[] = await releaseDeadLeases(state, runner, ctx)
  let names: string[]
  try {
    names = await readdir(markerDir(state))
  } catch {
    return removed
  }
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

// ---------------------------------------------------------------------------------------------
// The shared proxy (pool.ts): one per configuration and image on the podman host, outliving its
// runs; each run leases one network of its pool.

/** One container of `podman ps --format=json` (Podman 4 and 5 alike), the fields read here. */
interface PsEntry {
  Id?: string
  Names?: string[]
  State?: string
  Labels?: Record<string, string> | null
  Networks?: string[] | null
  Created?: number
  StartedAt?: number
}

function parsePs(stdout: string): PsEntry[] | null {
  try {
    const v = JSON.parse(stdout.trim() || '[]') as unknown
    return Array.isArray(v) ? (v as PsEntry[]) : null
  } catch {
    return null
  }
}

const sharedOf = (steps: EgressSteps) => steps.shared!
const targetOf = (steps: EgressSteps): Target => {
  const argv = steps.shared!.connect.argv
  return {binary: argv[0]!, connection: argv[1] === '--connection' ? argv[2]! : null}
}

/** The proxy is what this run planned: there, running, of this key and image. */
function proxyFits(p: PsEntry | undefined, steps: EgressSteps): boolean {
  const e = steps.setup
  return !!p && p.State === 'running' && p.Labels?.[KEY_LABEL] === e.shared!.key && p.Labels?.[IMAGE_LABEL] === e.image && p.Labels?.[ROLE_LABEL] === SHARED_ROLE
}

function setupFailure(message: string) {
  return unexpectedFailure('EGRESS_SETUP_FAILED', message, 'check `podman ps -a` and `podman network ls` (the shared egress proxy and its networks, docs/network.md); or run with spec.network.mode none; nothing of the agent was started')
}

const ALREADY = /already (exists|in use|connected)|is already/i

/**
 * Before the agent's container: nothing when this host has seen the leased network ready with
 * the proxy on it (the fast path: the check after the agent's init confirms it); otherwise the
 * network is created if missing, the proxy created (or replaced) if it is missing, stopped or
 * not of this configuration, and attached to the network, then the network is marked ready.
 */
export async function ensureSharedEgress(steps: EgressSteps, runner: Runner, state: string, ctx: Target): Promise<void> {
  const sh = sharedOf(steps)
  const {key, slot} = steps.setup.shared!
  sh.observed.state = state
  const holder = steps.setup.shared!.holder
  if (isReady(state, ctx.connection, key, slot)) {
    if (!holder) return
    // the holder the agent's create joins: its ID, checked by the verification (a ready mark without one is set up again)
    const {holderId} = readyInfo(state, ctx.connection, key, slot)
    if (holderId) {
      sh.observed.holderId = holderId
      return
    }
  }
  const found = await run(runner, sh.proxyState, 30_000)
  const entries = succeeded(found) ? parsePs(found.stdout) : null
  if (!entries) throw setupFailure(`cannot read the shared egress proxy's state: ${describeOutcome(found)} (${lastLines(found.stderr)})`)
  const created = await run(runner, steps.networkCreate, 30_000)
  if (!succeeded(created) && !ALREADY.test(created.stderr)) {
    throw unexpectedFailure(
      'EGRESS_SETUP_FAILED',
      `cannot create the egress network ${steps.setup.network}: ${describeOutcome(created)} (${lastLines(created.stderr)})`,
      /subnet|overlap/i.test(created.stderr) ? `its subnet ${steps.setup.subnet} is taken by another network (podman network ls): remove that network, or change the allowlist (another proxy, other subnets)` : 'check `podman network ls` and `podman info`; or run with spec.network.mode none; nothing was started',
    )
  }
  const proxy = entries.find((c) => c.Names?.includes(steps.setup.sidecar))
  if (!proxyFits(proxy, steps)) await replaceSharedProxy(steps, runner, proxy !== undefined)
  else if (!(proxy!.Networks ?? []).includes(steps.setup.network)) {
    const connected = await run(runner, sh.connect, 30_000)
    if (!succeeded(connected) && !ALREADY.test(connected.stderr)) throw setupFailure(`cannot attach the shared egress proxy to ${steps.setup.network}: ${describeOutcome(connected)} (${lastLines(connected.stderr)})`)
  }
  if (holder) sh.observed.holderId = await ensureHolder(steps, runner, entries.find((c) => c.Names?.includes(holder.name)))
  markReady(state, ctx.connection, key, slot, true, await readyNote(steps, runner, ctx))
}

/** What the ready mark keeps: the proxy's log file (podman on this host) and the slot's holder's ID. */
async function readyNote(steps: EgressSteps, runner: Runner, ctx: Target): Promise<ReadyInfo> {
  const holderId = sharedOf(steps).observed.holderId
  return {...(await proxyLogFile(steps, runner, ctx)), ...(holderId ? {holderId} : {})}
}

/** The slot's holder is what this run planned: its role, pool key, slot and image, on the leased network. */
function holderFits(c: PsEntry, steps: EgressSteps): boolean {
  const e = steps.setup
  const l = c.Labels ?? {}
  return l[ROLE_LABEL] === HOLDER_ROLE && l[KEY_LABEL] === e.shared!.key && l[SLOT_LABEL] === String(e.shared!.slot) && l[IMAGE_LABEL] === e.image && (c.Networks ?? []).includes(e.network) && /^[0-9a-f]{64}$/.test(c.Id ?? '')
}

/**
 * The slot's network holder, running: kept when it fits (started again when stopped: same
 * container, same address), otherwise removed (a stale agent still in its namespace makes podman
 * refuse that: then the launch is refused) and created. Returns its container ID.
 */
async function ensureHolder(steps: EgressSteps, runner: Runner, found: PsEntry | undefined): Promise<string> {
  const h = sharedOf(steps).holder!
  const name = steps.setup.shared!.holder!.name
  if (found && holderFits(found, steps)) {
    if (found.State === 'running') return found.Id!
    const started = await run(runner, h.start, 30_000)
    if (succeeded(started) || /already running|is running/i.test(started.stderr)) return found.Id!
  }
  if (found) {
    const removed = await run(runner, h.remove, 30_000)
    if (!succeeded(removed) && !/no such container/i.test(removed.stderr)) throw setupFailure(`cannot replace the network holder ${name}: ${describeOutcome(removed)} (${lastLines(removed.stderr)})`)
  }
  const created = await run(runner, h.run, 60_000)
  const id = created.stdout.trim().split('\n').pop()?.trim() ?? ''
  if (!succeeded(created) || !/^[0-9a-f]{64}$/.test(id)) throw setupFailure(`cannot create the network holder ${name}: ${describeOutcome(created)} (${lastLines(created.stderr)})`)
  return id
}

/**
 * The container whose network namespace the agent must be in (its verification compares by ID):
 * the slot's holder, as set up or as the ready mark names it; undefined without a holder.
 */
export function egressNamespaceProvider(steps: EgressSteps | null): string | undefined {
  if (!steps?.shared?.holder) return undefined
  const id = steps.shared.observed.holderId
  if (!id) throw setupFailure(`the network holder ${steps.setup.shared!.holder!.name} was not set up before the agent's container`)
  return id
}

/** Podman on this host: the proxy's ID and k8s-file log (read directly after a session: no podman call on the way out). */
async function proxyLogFile(steps: EgressSteps, runner: Runner, ctx: Target): Promise<ReadyInfo> {
  if (ctx.connection !== null) return {}
  const r = await run(runner, sharedOf(steps).inspect, 30_000)
  const [id, type, file] = r.stdout.trim().split(' ')
  return succeeded(r) && id && /^[0-9a-f]{64}$/.test(id) && type === 'k8s-file' && file && path.isAbsolute(file) ? {proxyId: id, logPath: file} : {}
}

/** The stdout lines a k8s-file log holds from byte `offset` on (partial lines joined); null when it shrank or cannot be read. */
async function readLogFile(file: string, offset: number): Promise<string | null> {
  try {
    const size = (await stat(file)).size
    if (size < offset) return null
    const fh = await open(file, 'r')
    try {
      const buf = Buffer.alloc(size - offset)
      await fh.read(buf, 0, buf.length, offset)
      const out: string[] = []
      let partial = ''
      for (const line of buf.toString('utf8').split('\n')) {
        const m = /^\S+ stdout ([PF]) (.*)$/.exec(line)
        if (!m) continue
        partial += m[2]
        if (m[1] === 'F') {
          out.push(partial)
          partial = ''
        }
      }
      return out.join('\n')
    } finally {
      await fh.close()
    }
  } catch {
    return null
  }
}

/**
 * (Re)creates the shared proxy: the old one (stopped, crashed, or of another image under this
 * name) removed, a new one on this network, started, the pool's other networks reattached at
 * their .254, then its readiness awaited. Another CLI creating it at the same moment: its proxy
 * is used (and this network attached to it).
 */
async function replaceSharedProxy(steps: EgressSteps, runner: Runner, exists: boolean): Promise<void> {
  const sh = sharedOf(steps)
  const e = steps.setup
  if (sh.observed.state) forgetReady(sh.observed.state, targetOf(steps).connection, e.shared!.key)
  if (exists) await run(runner, steps.sidecarRemove, 30_000)
  const created = await run(runner, steps.sidecarCreate, 60_000)
  if (!succeeded(created)) {
    if (!ALREADY.test(created.stderr)) throw setupFailure(`cannot create the shared egress proxy: ${describeOutcome(created)} (${lastLines(created.stderr)})`)
    // another launch created it meanwhile: attach to it once it runs
    const connected = await run(runner, sh.connect, 30_000)
    if (!succeeded(connected) && !ALREADY.test(connected.stderr)) throw setupFailure(`cannot attach the shared egress proxy to ${e.network}: ${describeOutcome(connected)} (${lastLines(connected.stderr)})`)
    await pollReady(steps, sh.readyLog, runner)
    return
  }
  const started = await run(runner, steps.sidecarStart, 30_000)
  if (!succeeded(started) && !/already running|is running/i.test(started.stderr)) {
    throw setupFailure(`cannot start the shared egress proxy: ${describeOutcome(started)} (${lastLines(started.stderr)}); the proxy said: ${await proxyLogTail(steps, runner)}`)
  }
  // a new proxy (a first run, or another allowlist or image): the oldest idle ones past the few kept go
  if (!exists) await removeIdleSharedProxies(steps, runner)
  const nets = await run(runner, sh.networks, 30_000)
  const prefix = `sourceos-egress.${e.shared!.key}.`
  for (const name of nets.stdout.split('\n').map((l) => l.trim())) {
    const slot = name.startsWith(prefix) ? Number(name.slice(prefix.length)) : NaN
    if (name === e.network || !Number.isInteger(slot) || slot < 0) continue
    await run(runner, {argv: networkConnectArgv(e, targetOf(steps), name, poolSubnet(e.shared!.key, slot).proxy), why: '', mutates: true}, 30_000)
  }
  await pollReady(steps, sh.readyLog, runner)
}

/**
 * After the agent's container is initialised (alongside its inspection and checks; awaited
 * before it starts): the leased network holds only the shared proxy and this run's agent, and the
 * proxy runs with this configuration — one that crashed or was stopped is replaced now. Anything
 * else on the network (a lease that did not hold) refuses the launch: runs must not see each other.
 */
async function checkSharedEgress(steps: EgressSteps, runner: Runner): Promise<void> {
  const sh = sharedOf(steps)
  const e = steps.setup
  const result = await run(runner, steps.ready, 30_000)
  const entries = succeeded(result) ? parsePs(result.stdout) : null
  if (!entries) throw setupFailure(`cannot list the containers on ${e.network}: ${describeOutcome(result)} (${lastLines(result.stderr)})`)
  const agentName = `sourceos-agent-${e.runId}`
  const h = e.shared!.holder
  // with a holder: what is on the network (the proxy and the holder) and what is in the holder's namespace (by its label: only this run's agent)
  const onNetwork = h ? entries.filter((c) => (c.Networks ?? []).includes(e.network)) : entries
  const joined = h ? entries.filter((c) => c.Labels?.[HOLDER_LABEL] === h.name) : []
  const agent = (h ? joined : entries).find((c) => c.Names?.includes(agentName))
  const proxy = onNetwork.find((c) => c.Names?.includes(e.sidecar))
  const holder = h ? onNetwork.find((c) => c.Names?.includes(h.name)) : undefined
  const others = [...onNetwork, ...joined].filter((c) => c !== agent && c !== proxy && c !== holder)
  if (others.length > 0) {
    throw policyRefusal(
      'EGRESS_NETWORK_SHARED',
      `the egress network ${e.network} leased to this run also holds ${others.map((c) => c.Names?.[0] ?? c.Id?.slice(0, 12) ?? '?').join(', ')}: runs must not reach each other, so the agent is not started.`,
      'start again (another network of the pool is leased); if it repeats, look for containers on that network (`podman ps -a --filter network=' + e.network + '`) and remove them',
    )
  }
  if (!agent || typeof agent.Created !== 'number') throw setupFailure(h ? `the agent's container is not in the network holder ${h.name}'s namespace (${describeOutcome(result)})` : `the agent's container is not on ${e.network} (${describeOutcome(result)})`)
  if (h && (!holder || holder.State !== 'running' || holder.Id !== sh.observed.holderId)) {
    // stopped, removed or replaced between the agent's create and now: set up again by the next launch
    if (sh.observed.state) markReady(sh.observed.state, targetOf(steps).connection, e.shared!.key, e.shared!.slot, false)
    throw setupFailure(`the network holder ${h.name} ${holder ? (holder.Id !== sh.observed.holderId ? 'was replaced' : `is ${holder.State ?? 'not running'}`) : 'is gone'} since the agent's container joined it; nothing of the agent was started. Start again: the holder is set up again`)
  }
  sh.observed.agentCreated = agent.Created
  if (sh.observed.state) noteAgentCreated(sh.observed.state, targetOf(steps).connection, e.shared!.key, e.shared!.slot, e.runId, agent.Created)
  if (!proxyFits(proxy, steps)) {
    // crashed, stopped or removed since this host last used it: replaced before the agent starts
    await replaceSharedProxy(steps, runner, proxy !== undefined)
    if (sh.observed.state) markReady(sh.observed.state, targetOf(steps).connection, e.shared!.key, e.shared!.slot, true, await readyNote(steps, runner, targetOf(steps)))
    return
  }
  // its log file as it stands now (the agent has not started): read from here after the session
  const info = sh.observed.state ? readyInfo(sh.observed.state, targetOf(steps).connection, e.shared!.key, e.shared!.slot) : {}
  if (info.logPath && info.proxyId && proxy!.Id === info.proxyId) {
    const size = await stat(info.logPath).then((st) => st.size).catch(() => null)
    if (size !== null) Object.assign(sh.observed, {logPath: info.logPath, logOffset: size})
  }
  if (typeof proxy!.StartedAt === 'number' && proxy!.StartedAt >= agent.Created - READY_TIMEOUT_MS / 1000) {
    // started moments ago (by this launch or another): it may not listen yet
    await pollReady(steps, sh.readyLog, runner)
  }
}

/** Shared proxies kept per podman host: past this, creating one removes the oldest idle ones (and their networks). */
export const KEEP_SHARED_PROXIES = 4

/**
 * Another allowlist or image leaves its proxy behind. When a new one is made, the oldest others
 * beyond KEEP_SHARED_PROXIES are removed with their networks — only idle ones: nothing but the
 * proxy on any of its networks, and no live lease of it in this state dir. A run of a removed one
 * that was about to start sets it up again (its check before start, or its create's repair).
 */
async function removeIdleSharedProxies(steps: EgressSteps, runner: Runner): Promise<void> {
  const target = targetOf(steps)
  const p = (args: string[]) => runner(target.binary, podmanArgs(target, args), {timeoutMs: 30_000})
  const listed = await p(['ps', '--all', '--format=json', `--filter=label=${ROLE_LABEL}=${SHARED_ROLE}`])
  const others = (succeeded(listed) ? (parsePs(listed.stdout) ?? []) : []).filter((c) => c.Labels?.[KEY_LABEL] && c.Labels[KEY_LABEL] !== steps.setup.shared!.key && /^[0-9a-f]{16}$/.test(c.Labels[KEY_LABEL]!))
  const excess = others.length + 1 - KEEP_SHARED_PROXIES
  if (excess <= 0) return
  const state = sharedOf(steps).observed.state
  const live = new Set(state ? listLeases(state).filter((l) => l.lease && holderAlive(l.lease)).map((l) => l.lease!.key) : [])
  let removed = 0
  for (const c of others.sort((a, b) => (a.Created ?? 0) - (b.Created ?? 0))) {
    if (removed >= excess) break
    if (live.has(c.Labels![KEY_LABEL]!)) continue
    if (await removeIfIdle(p, c.Labels![KEY_LABEL]!, c.Id ?? null, state, target)) removed++
  }
}

type Podman = (args: string[]) => ReturnType<Runner>

/**
 * Removes a shared proxy (`proxyId`; null: it is gone already), its pool's network holders and its
 * networks if nothing but they are on them and no agent is in a holder's namespace; true when
 * they went.
 */
async function removeIfIdle(p: Podman, key: string, proxyId: string | null, state: string | undefined, target: Target, plan?: {dryRun: boolean; steps: string[][]}): Promise<boolean> {
  const nets = await p(['network', 'ls', '--quiet', `--filter=label=${KEY_LABEL}=${key}`])
  if (!succeeded(nets)) return false
  const ids = nets.stdout.split('\n').map((l) => l.trim()).filter(Boolean)
  const holders = new Set<string>()
  for (const net of ids) {
    const on = await p(['ps', '--all', '--format=json', `--filter=network=${net}`])
    const entries = succeeded(on) ? parsePs(on.stdout) : null
    if (!entries || entries.some((e) => e.Labels?.[ROLE_LABEL] !== SHARED_ROLE && e.Labels?.[ROLE_LABEL] !== HOLDER_ROLE)) return false
    for (const e of entries) if (e.Labels?.[ROLE_LABEL] === HOLDER_ROLE && e.Id) holders.add(e.Id)
  }
  if (holders.size > 0) {
    // an agent in a holder's namespace is on no network in podman's terms: found by its label
    const joined = await p(['ps', '--all', '--format=json', `--filter=label=${HOLDER_LABEL}`])
    const agents = succeeded(joined) ? parsePs(joined.stdout) : null
    if (!agents || agents.some((a) => a.Labels?.[HOLDER_LABEL]?.startsWith(holderPrefix(key)))) return false
  }
  const containers = [...(proxyId ? [proxyId] : []), ...holders]
  const rm = ['rm', '--force', '--time=0', ...containers]
  const netRm = ['network', 'rm', ...ids]
  plan?.steps.push(...(containers.length > 0 ? [[target.binary, ...podmanArgs(target, rm)]] : []), ...(ids.length > 0 ? [[target.binary, ...podmanArgs(target, netRm)]] : []))
  if (plan?.dryRun) return true
  if (containers.length > 0 && !succeeded(await p(rm))) return false
  if (ids.length > 0) await p(netRm)
  if (state) forgetReady(state, target.connection, key)
  return true
}

/**
 * Removes every shared egress proxy of the podman host (`target`) with its pool's networks, except
 * one with a session on its networks or a live lease in this state dir: for a verb that clears up
 * (`stop --all --egress`). Returns the proxies removed and those kept (in use), and the podman
 * commands that removed them; a dry run removes nothing and returns what it would run.
 */
export async function removeSharedEgress(runner: Runner, target: Target, state: string, opts: {dryRun?: boolean} = {}): Promise<{removed: string[]; kept: string[]; steps: string[][]}> {
  const p: Podman = (args) => runner(target.binary, podmanArgs(target, args), {timeoutMs: 30_000})
  const listed = await p(['ps', '--all', '--format=json', `--filter=label=${ROLE_LABEL}=${SHARED_ROLE}`])
  if (!succeeded(listed)) throw setupFailure(`cannot list the shared egress proxies: ${describeOutcome(listed)} (${lastLines(listed.stderr)})`)
  const proxies = (parsePs(listed.stdout) ?? []).filter((c) => /^[0-9a-f]{16}$/.test(c.Labels?.[KEY_LABEL] ?? ''))
  // network holders whose proxy is gone (removed by hand): their pools go too
  const holders = await p(['ps', '--all', '--format=json', `--filter=label=${ROLE_LABEL}=${HOLDER_ROLE}`])
  const orphanKeys = new Set((succeeded(holders) ? (parsePs(holders.stdout) ?? []) : []).map((c) => c.Labels?.[KEY_LABEL] ?? '').filter((k) => /^[0-9a-f]{16}$/.test(k) && !proxies.some((c) => c.Labels![KEY_LABEL] === k)))
  const live = new Set(listLeases(state).filter((l) => l.lease && holderAlive(l.lease)).map((l) => l.lease!.key))
  const removed: string[] = []
  const kept: string[] = []
  const plan = {dryRun: opts.dryRun === true, steps: [] as string[][]}
  for (const [key, proxyId, name] of [...proxies.map((c) => [c.Labels![KEY_LABEL]!, c.Id ?? `sourceos-proxy.${c.Labels![KEY_LABEL]}`, c.Names?.[0] ?? `sourceos-proxy.${c.Labels![KEY_LABEL]}`] as const), ...[...orphanKeys].map((k) => [k, null, `the network holders of pool ${k}`] as const)]) {
    if (!live.has(key) && (await removeIfIdle(p, key, proxyId, state, target, plan))) removed.push(name)
    else kept.push(name)
  }
  // the podman commands (whole argv) that removed them, or would (a dry run)
  return {removed, kept, steps: plan.steps}
}

/**
 * After the session: this run's lines of the shared proxy's log (its agent's address, since its
 * container was created), then the lease given back. Nothing is removed: the next run reuses them.
 */
async function leaveSharedEgress(steps: EgressSteps, runner: Runner, state: string, opts: {readLog: boolean}): Promise<{log: string | null; problems: string[]}> {
  const sh = sharedOf(steps)
  const e = steps.setup
  const problems: string[] = []
  let log: string | null = null
  // a recovery (the CLI was killed) has only the lease's note of it
  const created = sh.observed.agentCreated ?? leasedAgentCreated(state, targetOf(steps).connection, e.shared!.key, e.shared!.slot, e.runId)
  if (opts.readLog && created !== undefined) {
    // --since is this host's time; the podman host's clock behind it would hide lines: then the whole log
    const direct = sh.observed.logPath !== undefined && sh.observed.logOffset !== undefined ? await readLogFile(sh.observed.logPath, sh.observed.logOffset) : null
    if (direct !== null) log = sliceProxyLog(direct, {client: e.shared!.agentAddress, since: created})
    else {
      const s = created * 1000 >= Date.parse(e.shared!.since) ? steps.log : sh.logAll
      const result = await run(runner, s, 60_000)
      if (succeeded(result)) log = sliceProxyLog(result.stdout, {client: e.shared!.agentAddress, since: created})
      else problems.push(`the proxy's log could not be read: ${describeOutcome(result)}`)
    }
  }
  releaseSlot(state, targetOf(steps).connection, e.shared!.key, e.shared!.slot, e.runId)
  return {log, problems}
}

/**
 * After a failed create of the agent's container: when the leased network is gone (removed by
 * hand since this host marked it ready), it is set up again and true returned (create once more).
 */
export async function repairSharedNetwork(steps: EgressSteps, runner: Runner, state: string, ctx: Target, createStderr: string): Promise<boolean> {
  const networkGone = /network.*(not found|unable to find)|unable to find network|no such network/i.test(createStderr)
  // the holder removed by hand: its name no longer resolves for --network=container: (or the keep-id --userns=container:)
  const holderGone = steps.setup.shared?.holder !== undefined && /share (net|user) namespace with|no container with name or ID/i.test(createStderr)
  if (!steps.shared || !(networkGone || holderGone)) return false
  const {key, slot} = steps.setup.shared!
  forgetReady(state, ctx.connection, key)
  markReady(state, ctx.connection, key, slot, false)
  await ensureSharedEgress(steps, runner, state, ctx)
  return true
}

/**
 * After a failed init of the agent's container: when the slot's holder it joined is stopped
 * (podman: "some dependencies … are not started"), it is started again (the same container: the
 * agent's create still names it) and true returned (init once more).
 */
export async function repairSharedHolder(steps: EgressSteps, runner: Runner, state: string, ctx: Target, initStderr: string): Promise<boolean> {
  if (!steps.setup.shared?.holder || !/dependencies .* not started|container state improper/i.test(initStderr)) return false
  const {key, slot} = steps.setup.shared
  markReady(state, ctx.connection, key, slot, false)
  const before = steps.shared!.observed.holderId
  await ensureSharedEgress(steps, runner, state, ctx)
  return steps.shared!.observed.holderId === before
}

/** Leases of killed CLIs whose agent container is gone: given back (the pool's network and proxy stay). */
async function releaseDeadLeases(state: string, runner: Runner, ctx: Target): Promise<string[]> {
  const released: string[] = []
  for (const {file, lease, name} of listLeases(state)) {
    if (lease && holderAlive(lease)) continue
    if (!lease) {
      await rm(file, {force: true})
      continue
    }
    const target: Target = {binary: ctx.binary, connection: typeof lease.connection === 'string' ? lease.connection : null}
    const agents = await runner(target.binary, podmanArgs(target, ['ps', '--all', '--quiet', `--filter=name=^sourceos-agent-${lease.runId}$`]), {timeoutMs: 30_000})
    if (!succeeded(agents) || agents.stdout.trim() !== '') continue
    await rm(file, {force: true})
    released.push(`egress network lease ${name.replace(/\.json$/, '')} (run ${lease.runId})`)
  }
  return released
}
