/**
 * The Podman adapter, read side: version, info, machine list/inspect, image inspect, and the
 * machine state a profile cares about. Every call goes through the injected Runner with a timeout,
 * and every failure comes back as a classified value (see failures.ts), never as an exception.
 */
import type {z} from 'zod'
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
export const PODMAN_BINARY_ENV = 'SOURCEOSCTL_PODMAN'

export interface PodmanAdapterOptions {
  /** Program to run; defaults to $SOURCEOSCTL_PODMAN, then `podman`. */
  binary?: string
  /** Per-call timeout; default 10 s. */
  timeoutMs?: number
}

const ok = <T>(value: T): PodmanResult<T> => ({ok: true, value})

export class PodmanAdapter {
  readonly binary: string
  readonly timeoutMs: number

  constructor(
    private readonly runner: Runner,
    private readonly host: HostFacts,
    opts: PodmanAdapterOptions = {},
  ) {
    this.binary = opts.binary || host.env[PODMAN_BINARY_ENV] || 'podman'
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_PODMAN_TIMEOUT_MS
  }

  /** `podman --version`: works without a connection to the service. */
  async cliVersion(): Promise<PodmanResult<string>> {
    const result = await this.run(['--version'])
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
    return this.json(['machine', 'list', '--format', 'json'], RawMachineListSchema, {}, (raw) => ok(raw.map(toMachineSummary)))
  }

  /** `podman machine inspect <name>` (4.x and 5.x shapes). */
  async machineInspect(name: string): Promise<PodmanResult<MachineDetails>> {
    // `--` keeps a name that starts with "-" from being read as an option.
    const args = ['machine', 'inspect', '--', name]
    return this.json(args, RawMachineInspectSchema, {machine: name}, (raw, result) => {
      const entry = raw.find((machine) => machine.Name === name) ?? raw[0]
      // Exit 0 with `[]` is not expected, but it can only mean the machine is not there.
      if (!entry) return {ok: false, failure: machineMissingFailure(result, this.context({machine: name}))}
      return ok(toMachineDetails(entry))
    })
  }

  /** `podman image inspect --format json <ref>`: local storage only, never pulls. */
  async imageInspect(ref: string): Promise<PodmanResult<ImageDetails>> {
    const args = ['image', 'inspect', '--format', 'json', '--', ref]
    return this.json(args, RawImageInspectSchema, {imageRef: ref}, (raw, result) => {
      const entry = raw[0]
      if (!entry) return {ok: false, failure: imageMissingFailure(result, this.context({imageRef: ref}))}
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

  private context(extra: Omit<FailureContext, 'platform'>): FailureContext {
    return {platform: this.host.platform, ...extra}
  }

  private run(args: string[]): Promise<RunResult> {
    return this.runner(this.binary, args, {timeoutMs: this.timeoutMs})
  }

  private fail<T>(result: RunResult, extra: Omit<FailureContext, 'platform'> = {}): PodmanResult<T> {
    return {ok: false, failure: classifyFailure(result, this.context(extra))}
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
  ): Promise<PodmanResult<T>> {
    const result = await this.run(args)
    if (!succeeded(result)) return this.fail(result, extra)
    const parsed = parseJsonOutput(result.stdout, schema)
    if (!parsed.ok) return {ok: false, failure: unparseableFailure(result, parsed.reason)}
    return convert(parsed.value, result)
  }
}

function describeMachine(machine: MachineSummary): Omit<MachineState, 'machine'> {
  const startFix = `Start it with \`podman machine start ${machine.name}\` (or \`sourceosctl agent-machine start\`).`
  if (machine.starting) return {state: 'starting', detail: `Podman machine "${machine.name}" is starting`, fix: 'Wait a moment and try again.'}
  if (machine.running) return {state: 'running', detail: `Podman machine "${machine.name}" is running`, fix: null}
  return {state: 'stopped', detail: `Podman machine "${machine.name}" is stopped`, fix: startFix}
}
