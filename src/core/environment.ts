/**
 * One concurrent sweep of read-only probes shared by `doctor` and `fingerprint`: podman (CLI,
 * service, machine), git and nix. Each probe has its own deadline, so a hung podman yields a
 * "timed out" probe and never a hung verb.
 */
import type {Runner} from './exec.js'
import type {HostFacts} from './host/facts.js'
import {probeTool, type ToolProbe} from './host/tools.js'
import {providerEnv, type Provider} from './machine/providers.js'
import {PodmanAdapter, type PodmanConnection, type PodmanResult, type PodmanVersionInfo, type PodmanInfo} from './podman/adapter.js'
import type {PodmanContext} from './podman/context.js'
import {withEnv} from './podman/machine-lifecycle.js'
import {withDeadline, type Timed} from './util/timeout.js'

export type MachineProbe = Awaited<ReturnType<PodmanAdapter['machineState']>>

export interface EnvironmentProbes {
  podmanCli: Timed<ToolProbe>
  podmanVersion: Timed<PodmanResult<PodmanVersionInfo>> | null
  podmanInfo: Timed<PodmanResult<PodmanInfo>>
  /** Absent when the profile has no machine and the platform needs none (native Linux). */
  machine: Timed<MachineProbe> | null
  /** `podman system connection list`: null when not asked (see ProbeOptions.connections). */
  connections: Timed<PodmanResult<PodmanConnection[]>> | null
  git: Timed<ToolProbe>
  nix: Timed<ToolProbe>
}

export interface ProbeOptions {
  runner: Runner
  host: HostFacts
  /** Machine to look for; undefined on native Linux. */
  machineName: string | undefined
  /**
   * The profile's machine provider: `podman machine list` then runs with CONTAINERS_MACHINE_PROVIDER
   * set (Podman lists only the selected provider's machines). Undefined without a profile: Podman's
   * own choice is the one to look at.
   */
  machineProvider?: Provider
  /** Deadline for each probe, in milliseconds. */
  timeoutMs: number
  /**
   * Run `podman version` too. It only adds the server's build for remote clients; natively it
   * duplicates `podman info` and, run beside it, slows both (they contend for the store).
   */
  versionReport?: boolean
  /**
   * The command's machine context (podman/context.ts): `podman info` and `podman version` go
   * through its connection, `podman machine` calls carry its provider environment. Without one,
   * podman's own default connection answers.
   */
  context?: PodmanContext
  /** Read `podman system connection list` too (which connections exist, which is the default). */
  connections?: boolean
  /**
   * Probes a caller already has under way (doctor starts `podman info` before it reads the profile,
   * and takes the CLI's version from it): used instead of running them again. `info` must come
   * from the same context.
   */
  started?: {info?: Promise<Timed<PodmanResult<PodmanInfo>>>; podmanCli?: Promise<Timed<ToolProbe>>}
}

/** Whether the client may be remote: always on macOS/Windows; on Linux only when told so. */
export function mayBeRemote(host: HostFacts): boolean {
  return host.platform !== 'linux' || Boolean(host.env.CONTAINER_HOST || host.env.CONTAINER_CONNECTION)
}

export async function probeEnvironment(opts: ProbeOptions): Promise<EnvironmentProbes> {
  const {runner, host, machineName, timeoutMs} = opts
  // The Runner's own timeout kills the program a little before the outer deadline fires.
  const runnerTimeout = Math.max(100, timeoutMs - 50)
  const podman = new PodmanAdapter(runner, host, {timeoutMs: runnerTimeout, ...(opts.context ? {context: opts.context} : {})})
  const machineReader = opts.machineProvider && !opts.context
    ? new PodmanAdapter(withEnv(runner, providerEnv(host.platform, opts.machineProvider, null)), host, {timeoutMs: runnerTimeout})
    : podman
  const [podmanCli, podmanVersion, podmanInfo, machine, git, nix, connections] = await Promise.all([
    opts.started?.podmanCli ?? withDeadline(() => probeTool(runner, 'podman', {timeoutMs: runnerTimeout}), timeoutMs),
    opts.versionReport === false ? Promise.resolve(null) : withDeadline(() => podman.version(), timeoutMs),
    opts.started?.info ?? withDeadline(() => podman.info(), timeoutMs),
    machineName === undefined ? Promise.resolve(null) : withDeadline(() => machineReader.machineState(machineName), timeoutMs),
    withDeadline(() => probeTool(runner, 'git', {timeoutMs: runnerTimeout}), timeoutMs),
    withDeadline(() => probeTool(runner, 'nix', {timeoutMs: runnerTimeout}), timeoutMs),
    opts.connections ? withDeadline(() => podman.connectionList(), timeoutMs) : Promise.resolve(null),
  ])
  return {podmanCli, podmanVersion, podmanInfo, machine, git, nix, connections}
}

/** The value of a finished probe, or undefined when it timed out or threw. */
export function valueOf<T>(timed: Timed<T> | null): T | undefined {
  return timed && timed.status === 'done' ? timed.value : undefined
}

/** The successful value of a podman call inside a finished probe. */
export function podmanValue<T>(timed: Timed<PodmanResult<T>> | null): T | undefined {
  const result = valueOf(timed)
  return result && result.ok ? result.value : undefined
}
