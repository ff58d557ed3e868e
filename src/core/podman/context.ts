/**
 * The machine context of one command: which podman program, which connection every
 * container-side call goes through, and which provider every `podman machine` call selects. Built
 * once per command from the profile (and the host facts), then handed to every podman call, so no
 * call site can forget the connection.
 *
 * Why a connection is named on every call (issue 11, defect 3): `podman machine init` makes the new
 * machine the default connection only when no connection exists yet (pkg/machine/connection/
 * connection.go). A Podman Desktop user already has `podman-machine-default` (its `-root`
 * connection the default), so without `--connection` their containers, image checks and `podman
 * create` would go to that other VM while doctor audits ours; and a full Linux podman with a
 * `linux-podman-machine` profile would run containers on the host kernel.
 *
 * Connection names (pkg/machine/connection/add.go, 4.x and 5.x): `machine init` adds two, `<name>`
 * (the VM's rootless user) and `<name>-root` (root in the VM); a rootful machine's default is
 * `<name>-root`. The profile's `rootful` picks which of the two the containers use.
 *
 * `--connection` is a global flag of the remote client (cmd/podman/registry/remote.go; it also
 * forces remote mode on a full Linux podman) and goes right after the program. `podman machine …`
 * and `podman --version` never take it: they run on the client.
 */
import type {HostFacts} from '../host/facts.js'
import {providerEnv, type Provider} from '../machine/providers.js'

/** Overrides the podman program (a path or another name), e.g. for a side-by-side install. */
export const PODMAN_PROGRAM_ENV = 'SOURCEOSCTL_PODMAN'

export interface PodmanContext {
  /** The podman program. */
  binary: string
  /**
   * The connection every container-side call names (`--connection <name>`); null when the profile
   * has no machine (native Linux: podman's own choice, which also honours CONTAINER_CONNECTION).
   */
  connection: string | null
  /** The machine the containers run in; null without one. */
  machine: {name: string; provider: Provider; rootful: boolean} | null
  /** Environment for every `podman machine …` call (CONTAINERS_MACHINE_PROVIDER, providers.ts). */
  machineEnv: Readonly<Record<string, string>>
  /**
   * True for a remote Podman host (the profile's spec.connection): the containers run on another
   * server, so mount sources are paths there and nothing of them can be read on this host.
   */
  remote?: boolean
}

/** The connection of a machine's containers: `<name>`, or `<name>-root` for a rootful machine. */
export function machineConnectionName(machine: {name: string; rootful: boolean}): string {
  return machine.rootful ? `${machine.name}-root` : machine.name
}

export interface ContextInput {
  host: Pick<HostFacts, 'platform' | 'env'>
  /** The profile's spec.machine (absent: a native Linux profile). */
  machine?: {name: string; provider: Provider; rootful: boolean} | null
  /** The profile's spec.connection: a remote Podman host (excludes `machine`). */
  connection?: string | null
  /** `podman --version`, when known (the provider default depends on it on macOS). */
  podmanVersion?: string | null
  /** Overrides the program (else $SOURCEOSCTL_PODMAN, then `podman`). */
  binary?: string
}

export function podmanContext(input: ContextInput): PodmanContext {
  const binary = input.binary || input.host.env[PODMAN_PROGRAM_ENV] || 'podman'
  const m = input.machine ?? null
  // A remote Podman host: its connection on every container-side call, and no machine calls at all.
  if (input.connection) return {binary, connection: input.connection, machine: null, machineEnv: {}, remote: true}
  if (!m) return {binary, connection: null, machine: null, machineEnv: {}}
  return {
    binary,
    connection: machineConnectionName(m),
    machine: {name: m.name, provider: m.provider, rootful: m.rootful},
    machineEnv: providerEnv(input.host.platform, m.provider, input.podmanVersion ?? null),
  }
}

/** A context with no machine and no connection (native podman), e.g. for a bare `podman --version`. */
export function nativeContext(host: Pick<HostFacts, 'env'>, binary?: string): PodmanContext {
  return {binary: binary || host.env[PODMAN_PROGRAM_ENV] || 'podman', connection: null, machine: null, machineEnv: {}}
}

/** The global flags of a container-side call: `--connection <name>`, or none. */
export function connectionArgs(ctx: Pick<PodmanContext, 'connection'>): string[] {
  return ctx.connection ? ['--connection', ctx.connection] : []
}

/** A container-side argv: the program, the connection, then `args` (info, image, create, start, …). */
export function podmanArgv(ctx: Pick<PodmanContext, 'binary' | 'connection'>, args: readonly string[]): string[] {
  return [ctx.binary, ...connectionArgs(ctx), ...args]
}

/** The args after the program of a container-side call (for a Runner, which takes the program apart). */
export function podmanArgs(ctx: Pick<PodmanContext, 'connection'>, args: readonly string[]): string[] {
  return [...connectionArgs(ctx), ...args]
}

/** A `podman machine …` argv: never a connection (the provider goes in the environment). */
export function machineArgv(ctx: Pick<PodmanContext, 'binary'>, args: readonly string[]): string[] {
  return [ctx.binary, 'machine', ...args]
}

/** The connection a plan step's argv names (`--connection x` / `--connection=x` / `-c x`), or null. */
export function connectionOf(argv: readonly string[]): string | null {
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--connection' || a === '-c') return argv[i + 1] ?? null
    if (a.startsWith('--connection=')) return a.slice('--connection='.length)
    if (!a.startsWith('-')) return null
  }
  return null
}
