/**
 * The shared egress proxy's pool of networks, leased one run at a time (network mode allowlist).
 *
 * A proxy that outlives its runs saves each run the proxy's start and the networks' setup and
 * teardown (docs/network.md, "Cost"). The runs must still not see each other, so they do not share
 * a network: the proxy is on every network of its pool, and each network is leased to one run at
 * a time. Concurrent runs get different networks (no route between them: internal networks, and
 * the proxy refuses private addresses); a later run reuses a network whose run has ended.
 *
 * The lease is a file in the state dir, created exclusively (`wx`): `egress/pool/<target>-<key>-<slot>.json`
 * with the run id and the CLI's pid and start time. It is taken when the launch is planned (the
 * plan names the network), released after the session; a killed CLI's lease is released by the
 * next launch once that run's agent container is gone (lifecycle.ts). A `.ready` file beside it
 * says the network exists with the proxy on it (written after the set-up; then a run skips it;
 * removed whenever a run found otherwise). Synchronous: planning is.
 */
import {createHash} from 'node:crypto'
import {mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync, closeSync, existsSync} from 'node:fs'
import path from 'node:path'

import {unexpectedFailure} from '../errors.js'
import {planEgress, sharedKey, type EgressSetup} from './sidecar.js'
import {renderDeniedPage, renderSquidConfig} from './squid-config.js'

/** More concurrent runs of one configuration than this are refused (each is a bridge on the podman host). */
export const POOL_SLOTS = 32

export interface Lease {
  runId: string
  pid: number
  pidStart: string | null
  /** The podman connection (null: the local podman). */
  connection: string | null
  key: string
  slot: number
  /** The agent container's creation time as podman saw it (set by the check before start): where its log lines begin. */
  agentCreated?: number
}

export const poolDir = (state: string): string => path.join(state, 'egress', 'pool')
/** The connection's part of a lease's name: the pool of one podman host is not another's. */
export const targetTag = (connection: string | null): string => createHash('sha256').update(connection ?? '(local)').digest('hex').slice(0, 8)
const base = (connection: string | null, key: string, slot: number): string => `${targetTag(connection)}-${key}-${slot}`
export const leaseFile = (state: string, connection: string | null, key: string, slot: number): string => path.join(poolDir(state), `${base(connection, key, slot)}.json`)
export const readyFile = (state: string, connection: string | null, key: string, slot: number): string => path.join(poolDir(state), `${base(connection, key, slot)}.ready`)
export const LEASE_NAME = /^([0-9a-f]{8})-([0-9a-f]{16})-([0-9]{1,3})\.json$/

/** Field 22 of /proc/<pid>/stat (start time in clock ticks): tells a reused pid from the original. */
export function processStartSync(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null
  } catch {
    return null
  }
}

/** Whether the CLI that holds a lease is still running. */
export function holderAlive(lease: Pick<Lease, 'pid' | 'pidStart'>): boolean {
  if (typeof lease.pid !== 'number' || lease.pid <= 0) return false
  try {
    process.kill(lease.pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false
  }
  if (!lease.pidStart) return true
  return processStartSync(lease.pid) === lease.pidStart
}

export function readLease(file: string): Lease | null {
  try {
    const l = JSON.parse(readFileSync(file, 'utf8')) as Lease
    return typeof l.runId === 'string' && typeof l.pid === 'number' ? l : null
  } catch {
    return null
  }
}

/**
 * Takes the first free slot of the pool for `runId`, or (a dry run) says which it would take
 * without writing anything. A slot whose lease is held — also by a killed CLI, until its agent is
 * known to be gone — is never taken. Refuses past POOL_SLOTS.
 */
export function leaseSlot(state: string, opts: {connection: string | null; key: string; runId: string; dryRun: boolean}): number {
  if (!opts.dryRun) mkdirSync(poolDir(state), {recursive: true, mode: 0o700})
  for (let slot = 0; slot < POOL_SLOTS; slot++) {
    const file = leaseFile(state, opts.connection, opts.key, slot)
    if (opts.dryRun) {
      if (!existsSync(file)) return slot
      continue
    }
    let fd: number
    try {
      fd = openSync(file, 'wx', 0o600)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue
      throw error
    }
    const lease: Lease = {runId: opts.runId, pid: process.pid, pidStart: processStartSync(process.pid), connection: opts.connection, key: opts.key, slot}
    try {
      writeFileSync(fd, `${JSON.stringify(lease)}\n`)
    } finally {
      closeSync(fd)
    }
    return slot
  }
  return -1
}

/** Gives the slot back — only if it is still this run's lease. */
export function releaseSlot(state: string, connection: string | null, key: string, slot: number, runId: string): void {
  const file = leaseFile(state, connection, key, slot)
  if (readLease(file)?.runId === runId) rmSync(file, {force: true})
}

/** Notes in the lease when the run's agent container was created (for a later reader of its log: a recovery after a killed CLI). */
export function noteAgentCreated(state: string, connection: string | null, key: string, slot: number, runId: string, created: number): void {
  const file = leaseFile(state, connection, key, slot)
  const lease = readLease(file)
  if (lease?.runId === runId) writeFileSync(file, `${JSON.stringify({...lease, agentCreated: created})}\n`, {mode: 0o600})
}

/** The lease's agent creation time, if this run's lease holds one. */
export function leasedAgentCreated(state: string, connection: string | null, key: string, slot: number, runId: string): number | undefined {
  const lease = readLease(leaseFile(state, connection, key, slot))
  return lease?.runId === runId && typeof lease.agentCreated === 'number' ? lease.agentCreated : undefined
}

/** What a ready mark may also hold: the slot's holder's ID (the agent must join exactly it); podman on this host only: the proxy's ID and its log file, read directly after a session. */
export interface ReadyInfo {
  proxyId?: string
  logPath?: string
  holderId?: string
}

export const isReady = (state: string, connection: string | null, key: string, slot: number): boolean => existsSync(readyFile(state, connection, key, slot))
export function markReady(state: string, connection: string | null, key: string, slot: number, ready: boolean, info: ReadyInfo = {}): void {
  const file = readyFile(state, connection, key, slot)
  if (ready) writeFileSync(file, `${JSON.stringify(info)}\n`, {mode: 0o600})
  else rmSync(file, {force: true})
}
export function readyInfo(state: string, connection: string | null, key: string, slot: number): ReadyInfo {
  try {
    const v = JSON.parse(readFileSync(readyFile(state, connection, key, slot), 'utf8')) as ReadyInfo
    return {
      ...(typeof v.proxyId === 'string' && /^[0-9a-f]{64}$/.test(v.proxyId) ? {proxyId: v.proxyId} : {}),
      ...(typeof v.logPath === 'string' && path.isAbsolute(v.logPath) ? {logPath: v.logPath} : {}),
      ...(typeof v.holderId === 'string' && /^[0-9a-f]{64}$/.test(v.holderId) ? {holderId: v.holderId} : {}),
    }
  } catch {
    return {}
  }
}

/** Every lease in the state dir (for the leftovers' clean-up), with its file. */
export function listLeases(state: string): Array<{file: string; lease: Lease | null; name: string}> {
  let names: string[]
  try {
    names = readdirSync(poolDir(state))
  } catch {
    return []
  }
  return names.filter((n) => LEASE_NAME.test(n)).map((name) => ({name, file: path.join(poolDir(state), name), lease: readLease(path.join(poolDir(state), name))}))
}

/** Forgets the ready marks of a key's pool on this target (its proxy was found gone or replaced: the networks are checked again). */
export function forgetReady(state: string, connection: string | null, key: string): void {
  let names: string[]
  try {
    names = readdirSync(poolDir(state))
  } catch {
    return
  }
  const prefix = `${targetTag(connection)}-${key}-`
  for (const n of names) if (n.startsWith(prefix) && n.endsWith('.ready')) rmSync(path.join(poolDir(state), n), {force: true})
}

/**
 * The launch's egress plan: the shared proxy with a leased network of its pool (a dry run only
 * says which it would lease); a run's own proxy when the Secrets Door is in it (its secrets live
 * and die with the run). `pool.holder`: the agent joins the slot's network holder (sidecar.ts).
 */
export function planLaunchEgress(opts: Omit<Parameters<typeof planEgress>[0], 'shared'> & {shareProxy: boolean; pool: {state: string; connection: string | null; dryRun: boolean; now?: Date; holder?: {rootless: boolean} | null}}): EgressSetup {
  // per-run (the profile's default): the proxy lives and dies with the run; the Secrets Door's runs always
  if (!opts.shareProxy || (opts.door && opts.door.injections.length > 0)) return planEgress(opts)
  const key = sharedKey(renderSquidConfig(opts.allowlist), renderDeniedPage(opts.profileName), opts.image)
  const slot = leaseSlot(opts.pool.state, {connection: opts.pool.connection, key, runId: opts.runId, dryRun: opts.pool.dryRun})
  if (slot < 0) {
    throw unexpectedFailure(
      'EGRESS_POOL_FULL',
      `${POOL_SLOTS} runs with this allowlist already hold the networks of its shared egress proxy (${poolDir(opts.pool.state)}).`,
      'wait for one to end; a killed run’s network is given back by the next launch once its container is gone (`sourceosctl agent-machine ps`)',
    )
  }
  return planEgress({...opts, shared: {slot, leasedAt: opts.pool.now ?? new Date(), holder: opts.pool.holder ?? null}})
}
