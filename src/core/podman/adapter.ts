/**
 * The Podman adapter, read side: version, info, machine list/inspect, image inspect, and the
 * machine state a profile cares about. Every call goes through the injected Runner with a timeout,
 * and every failure comes back as a classified value (see failures.ts), never as an exception.
 */
import {z} from 'zod'
import {succeeded, type RunResult, type Runner} from '../exec.js'
import type {HostFacts} from '../host/facts.js'
import {parseToolVersion} from '../host/tools.js'
import {
  classifyFailure,
  imageMissingFailure,
  machineMissingFailure,
  unparseableFailure,
  type FailureContext,
} from './failures.js'
import {
  bareImageId,
  parseJsonOutput,
  toImageDetails,
  toInfo,
  toMachineDetails,
  toMachineSummary,
  toVersionInfo,
} from './parse.js'
import {
  RawImageInspectSchema,
  RawInfoSchema,
  RawMachineInspectSchema,
  RawMachineListSchema,
  RawVersionReportSchema,
} from './schemas.js'
import {connectionArgs, nativeContext, PODMAN_PROGRAM_ENV, type PodmanContext} from './context.js'
import type {
  ImageDetails,
  MachineDetails,
  MachineState,
  MachineSummary,
  PodmanInfo,
  PodmanResult,
  PodmanVersionInfo,
} from './types.js'

// The adapter module is the entry point: callers import the result types from here.
export type {
  ImageDetails,
  MachineDetails,
  MachineRunState,
  MachineState,
  MachineStateKind,
  MachineSummary,
  PodmanBuild,
  PodmanFailure,
  PodmanFailureKind,
  PodmanInfo,
  PodmanResult,
  PodmanVersionInfo,
} from './types.js'

export const DEFAULT_PODMAN_TIMEOUT_MS = 10_000
/** Overrides the podman program (a path or another name), e.g. for a side-by-side install. */
export const PODMAN_BINARY_ENV = PODMAN_PROGRAM_ENV

export interface PodmanAdapterOptions {
  /** Program to run; defaults to the context's, then $SOURCEOSCTL_PODMAN, then `podman`. */
  binary?: string
  /** Per-call timeout; default 10 s. */
  timeoutMs?: number
  /**
   * The command's machine context (context.ts): its connection goes on every container-side call
   * (version, info, image inspect), its provider environment on every `podman machine` call.
   * Without one: native podman, no connection, no provider environment.
   */
  context?: PodmanContext
}

/** One entry of `podman system connection list --format json` (4.x: Name, URI, Identity, IsMachine, Default; 5.x adds ReadWrite). */
export interface PodmanConnection {
  name: string
  uri: string
  identity: string | null
  isMachine: boolean
  default: boolean
}

const RawConnectionListSchema = z.array(
  z.looseObject({Name: z.string(), URI: z.string(), Identity: z.string().nullish(), IsMachine: z.boolean().nullish(), Default: z.boolean().nullish()}),
)

const ok = <T>(value: T): PodmanResult<T> => ({ok: true, value})

export class PodmanAdapter {
  readonly binary: string
  readonly timeoutMs: number
  /** The machine context every call follows (a native one when none was given). */
  readonly context: PodmanContext

  constructor(
    private readonly runner: Runner,
    private readonly host: HostFacts,
    opts: PodmanAdapterOptions = {},
  ) {
    const ctx = opts.context ?? nativeContext(host)
    this.binary = opts.binary || ctx.binary || host.env[PODMAN_BINARY_ENV] || 'podman'
    this.context = {...ctx, binary: this.binary}
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_PODMAN_TIMEOUT_MS
  }

  /** `podman --version`: works without a connection to the service. */
  async cliVersion(): Promise<PodmanResult<string>> {
    const result = await this.runClient(['--version'])
    if (!succeeded(result)) return this.fail(result)
    const version = parseToolVersion('podman', result.stdout)
    return version ? ok(version) : {ok: false, failure: unparseableFailure(result, 'no version in the output')}
  }

  /** `podman version --format json`: client build, plus the server's when remote. */
  async version(): Promise<PodmanResult<PodmanVersionInfo>> {
    return this.json(['version', '--format', 'json'], RawVersionReportSchema, {}, (raw) => ok(toVersionInfo(raw)))
  }

  /** `podman info --format json`: needs a working connection to the service. */
  async info(): Promise<PodmanResult<PodmanInfo>> {
    return this.json(['info', '--format', 'json'], RawInfoSchema, {}, (raw) => ok(toInfo(raw)))
  }

  /** `podman machine list --format json`: `[]` when there are none. */
  async machineList(): Promise<PodmanResult<MachineSummary[]>> {
    return this.json(['machine', 'list', '--format', 'json'], RawMachineListSchema, {}, (raw) => ok(raw.map(toMachineSummary)), 'machine')
  }

  /**
   * `podman system connection list --format json`: the connections the client knows, which one is
   * the default. Read on the client (no connection needed, nothing started).
   */
  async connectionList(): Promise<PodmanResult<PodmanConnection[]>> {
    const toConnection = (c: z.infer<typeof RawConnectionListSchema>[number]): PodmanConnection => ({
      name: c.Name,
      uri: c.URI,
      identity: c.Identity ? c.Identity : null,
      isMachine: c.IsMachine ?? false,
      default: c.Default ?? false,
    })
    return this.json(['system', 'connection', 'list', '--format', 'json'], RawConnectionListSchema, {}, (raw) => ok(raw.map(toConnection)), 'client')
  }

  /** `podman machine inspect <name>` (4.x and 5.x shapes). */
  async machineInspect(name: string): Promise<PodmanResult<MachineDetails>> {
    // `--` keeps a name that starts with "-" from being read as an option.
    const args = ['machine', 'inspect', '--', name]
    return this.json(args, RawMachineInspectSchema, {machine: name}, (raw, result) => {
      const entry = raw.find((machine) => machine.Name === name) ?? raw[0]
      // Exit 0 with `[]` is not expected, but it can only mean the machine is not there.
      if (!entry) return {ok: false, failure: machineMissingFailure(result, this.failureContext({machine: name}))}
      return ok(toMachineDetails(entry))
    }, 'machine')
  }

  /** `podman image inspect --format json <ref>`: local storage only, never pulls. */
  async imageInspect(ref: string): Promise<PodmanResult<ImageDetails>> {
    const args = ['image', 'inspect', '--format', 'json', '--', ref]
    return this.json(args, RawImageInspectSchema, {imageRef: ref}, (raw, result) => {
      const entry = raw[0]
      if (!entry) return {ok: false, failure: imageMissingFailure(result, this.failureContext({imageRef: ref}))}
      const id = bareImageId(entry.Id)
      return id ? ok(toImageDetails(entry, id)) : {ok: false, failure: unparseableFailure(result, `image ID "${entry.Id}" is not 64 hex characters`)}
    })
  }

  /**
   * Where the profile's machine stands. `name` undefined means a native Linux profile (no machine).
   * Never fails: problems become state 'unknown' (or 'unsupported-root') with a fix.
   */
  async machineState(name: string | undefined): Promise<MachineState> {
    if (name === undefined) {
      return {state: 'not-applicable', detail: 'this profile uses native Podman, no machine', fix: null, machine: null}
    }
    const listed = await this.machineList()
    if (!listed.ok) {
      const {failure} = listed
      const state = failure.kind === 'machine-root-refused' ? 'unsupported-root' : 'unknown'
      return {state, detail: failure.message, fix: failure.fix, machine: null}
    }
    const machine = listed.value.find((candidate) => candidate.name === name) ?? null
    if (!machine) {
      return {state: 'absent', detail: `Podman machine "${name}" does not exist`, fix: `Create it with \`podman machine init ${name}\`.`, machine: null}
    }
    return {...describeMachine(machine), machine}
  }

  /** The argv of a container-side call: the program, `--connection <name>` when the context has one, `args`. */
  argv(args: readonly string[]): string[] {
    return [this.binary, ...connectionArgs(this.context), ...args]
  }

  private failureContext(extra: Omit<FailureContext, 'platform'>): FailureContext {
    return {platform: this.host.platform, ...extra}
  }

  /** A container-side call: through the context's connection. */
  private run(args: string[]): Promise<RunResult> {
    return this.runner(this.binary, [...connectionArgs(this.context), ...args], {timeoutMs: this.timeoutMs})
  }

  /** A call on the client alone (`--version`, `system connection list`): no connection. */
  private runClient(args: string[]): Promise<RunResult> {
    return this.runner(this.binary, args, {timeoutMs: this.timeoutMs})
  }

  /** A `podman machine …` call: no connection, the context's provider environment. */
  private runMachine(args: string[]): Promise<RunResult> {
    const env = this.context.machineEnv
    return this.runner(this.binary, args, {timeoutMs: this.timeoutMs, ...(Object.keys(env).length > 0 ? {env: {...env}} : {})})
  }

  private fail<T>(result: RunResult, extra: Omit<FailureContext, 'platform'> = {}): PodmanResult<T> {
    return {ok: false, failure: classifyFailure(result, this.failureContext(extra))}
  }

  /**
   * Runs podman, and only when it exited 0 parses stdout as JSON against the schema.
   * (A failing `podman info` prints YAML on stdout, so stdout is never read on failure.)
   */
  private async json<S extends z.ZodType, T>(
    args: string[],
    schema: S,
    extra: Omit<FailureContext, 'platform'>,
    convert: (raw: z.infer<S>, result: RunResult) => PodmanResult<T>,
    side: 'container' | 'machine' | 'client' = 'container',
  ): Promise<PodmanResult<T>> {
    const result = await (side === 'machine' ? this.runMachine(args) : side === 'client' ? this.runClient(args) : this.run(args))
    if (!succeeded(result)) return this.fail(result, extra)
    const parsed = parseJsonOutput(result.stdout, schema)
    if (!parsed.ok) return {ok: false, failure: unparseableFailure(result, parsed.reason)}
    return convert(parsed.value, result)
  }
}

function describeMachine(machine: MachineSummary): Omit<MachineState, 'machine'> {
  const startFix = `Start it with \`podman machine start ${machine.name}\` (or \`sourceosctl agent-machine start\`).`
  // Starting can be listed together with Running: the mounts and the API are not up yet. A killed
  // `machine start` leaves it set for good (podman#24416); `machine stop` clears it.
  if (machine.starting) return {state: 'starting', detail: `Podman machine "${machine.name}" is starting${machine.running ? ' (its VM runs, but its mounts and API are not ready yet)' : ''}`, fix: `Wait for it: \`sourceosctl agent-machine start\` waits, with a timeout. If it stays starting (a killed start leaves the flag set, podman#24416), run \`podman machine stop ${machine.name}\`, then \`sourceosctl agent-machine start\`.`}
  if (machine.running) return {state: 'running', detail: `Podman machine "${machine.name}" is running`, fix: null}
  return {state: 'stopped', detail: `Podman machine "${machine.name}" is stopped`, fix: startFix}
}
