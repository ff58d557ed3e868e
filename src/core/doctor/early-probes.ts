/**
 * doctor's time is `podman info`'s: podman asks the package manager for the version of each of its
 * helpers, by far the slowest probe (docs/performance.md). So on native podman (Linux, no
 * CONTAINER_HOST or CONTAINER_CONNECTION) doctor starts it before reading the profile, and uses it
 * when the profile's context turns out to be that same native one (no machine, no connection, the
 * same program); otherwise it is not used and the probes run as before.
 *
 * Natively the client is the service, so `podman info` already names the CLI's version: a second
 * `podman --version` would only compete with it for the CPU. It runs only when info did not answer,
 * to tell "not installed" from "not answering".
 */
import {mayBeRemote} from '../environment.js'
import type {Runner} from '../exec.js'
import type {HostFacts} from '../host/facts.js'
import {probeTool, type ToolProbe} from '../host/tools.js'
import {PodmanAdapter, type PodmanInfo, type PodmanResult} from '../podman/adapter.js'
import {nativeContext, type PodmanContext} from '../podman/context.js'
import {withDeadline, type Timed} from '../util/timeout.js'

export type InfoProbe = Promise<Timed<PodmanResult<PodmanInfo>>>

export interface EarlyInfo {
  context: PodmanContext
  info: InfoProbe
}

/** `podman info` through the native context, started now; null where the service may be remote. */
export function startNativeInfo(runner: Runner, host: HostFacts, timeoutMs: number): EarlyInfo | null {
  if (host.platform !== 'linux' || mayBeRemote(host)) return null
  const context = nativeContext(host)
  const podman = new PodmanAdapter(runner, host, {timeoutMs: Math.max(100, timeoutMs - 50), context})
  return {context, info: withDeadline(() => podman.info(), timeoutMs)}
}

/** The early info answers for `context` only when that is the same native context. */
export function earlyInfoFor(early: EarlyInfo | null, context: PodmanContext): InfoProbe | undefined {
  if (!early) return undefined
  const same = context.connection === null && context.machine === null && !context.remote && context.binary === early.context.binary
  return same ? early.info : undefined
}

/**
 * The podman CLI check from a native `podman info` that answered; `podman --version` (`fallback`)
 * only when it did not, or when the program is not plain `podman` (the CLI check probes that one).
 */
export async function podmanCliFromInfo(info: InfoProbe, binary: string, fallback: () => Promise<Timed<ToolProbe>>): Promise<Timed<ToolProbe>> {
  const timed = await info
  if (binary === 'podman' && timed.status === 'done' && timed.value.ok && !timed.value.value.remote && timed.value.value.serverVersion) {
    const version = timed.value.value.serverVersion
    return {status: 'done', durationMs: timed.durationMs, value: {name: 'podman', status: 'ok', version, raw: `podman version ${version}`, detail: null}}
  }
  return fallback()
}

/** The probes to hand to probeEnvironment (its `started` option) when the early info fits. */
export function startedProbes(early: EarlyInfo | null, context: PodmanContext, runner: Runner, timeoutMs: number): {info: InfoProbe; podmanCli: Promise<Timed<ToolProbe>>} | undefined {
  const info = earlyInfoFor(early, context)
  if (!info) return undefined
  const fallback = () => withDeadline(() => probeTool(runner, 'podman', {timeoutMs: Math.max(100, timeoutMs - 50)}), timeoutMs)
  return {info, podmanCli: podmanCliFromInfo(info, context.binary, fallback)}
}
