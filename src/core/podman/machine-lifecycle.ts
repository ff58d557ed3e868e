/**
 * The Podman adapter, machine write side: `podman machine start` with its 4.x/5.x outcomes
 * classified, `podman pull`, and where a machine keeps its config (for the shared volumes, which
 * `podman machine inspect` does not report). Reads go through the read-side PodmanAdapter; every
 * call goes through the injected Runner, with the provider-selecting environment when one is set.
 *
 * `podman machine start` errors (stderr `Error: …`, exit 125), from cmd/podman/machine/start.go
 * and pkg/machine/shim/host.go:
 *
 *   4.x        cannot start VM <n>: VM already running or starting
 *              cannot start VM <n>. VM <o> is currently running or starting: only one VM can be active at a time
 *              VM already running or starting                       (WSL, which allows several VMs)
 *   5.0–5.2    unable to start "<n>": machine <o>: VM already running or starting   (<o> may be <n>)
 *              machine <n>: VM already running or starting           (WSL)
 *   5.3        unable to start "<n>": machine <n>: VM already running or starting
 *              unable to start "<n>": machine <o> is already running: only one VM can be active at a time
 *   5.4+       unable to start "<n>": already running
 *              unable to start "<n>": <o> already starting or running: only one VM can be active at a time
 *              unable to start: <o> already starting or running on the <p> provider: only one VM can be active at a time
 *   all        <n>: VM does not exist;  cannot run command "podman machine start" as root
 *   5.1–5.8    hyperv machines require admin authority        (Hyper-V, any machine command, not elevated)
 */
import {z} from 'zod'

import {succeeded, type RunOptions, type RunResult, type Runner} from '../exec.js'
import type {HostFacts} from '../host/facts.js'
import {pathApi} from '../policy/path-key.js'
import {PODMAN_BINARY_ENV, PodmanAdapter} from './adapter.js'
import {podmanArgv} from './context.js'
import {classifyFailure, errorLine, unparseableFailure} from './failures.js'
import {parseJsonOutput, toMachineSummary} from './parse.js'
import {RawMachineInspectEntrySchema, RawMachineListSchema} from './schemas.js'
import type {MachineSummary, PodmanFailure, PodmanResult} from './types.js'

export type StartOutcome =
  | {kind: 'started'; result: RunResult}
  | {kind: 'already-running'; result: RunResult}
  | {kind: 'other-active'; other: string | null; otherProvider: string | null; result: RunResult}
  | {kind: 'absent'; result: RunResult}
  | {kind: 'root-refused'; result: RunResult}
  /** Hyper-V on Podman 5.1–5.8 without an administrator terminal. */
  | {kind: 'needs-admin'; result: RunResult}
  | {kind: 'timeout'; result: RunResult}
  | {kind: 'not-installed'; result: RunResult}
  | {kind: 'provider-unsupported'; message: string; result: RunResult}
  | {kind: 'failed'; message: string; result: RunResult}

export type StartOutcomeKind = StartOutcome['kind']

const ONE_AT_A_TIME = /only one VM can be active at a time/i
const OTHER_ACTIVE: ReadonlyArray<{re: RegExp; other: number; provider?: number}> = [
  // 5.4+: `<o> already starting or running[ on the <p> provider]: only one VM …`
  {re: /(?:^|:\s)([A-Za-z0-9][A-Za-z0-9_.-]*) already starting or running(?: on the (\S+) provider)?: only one VM/i, other: 1, provider: 2},
  // 5.3: `machine <o> is already running: only one VM …`
  {re: /machine ([A-Za-z0-9][A-Za-z0-9_.-]*) is already running: only one VM/i, other: 1},
  // 4.x: `VM <o> is currently running or starting: only one VM …`
  {re: /VM ([A-Za-z0-9][A-Za-z0-9_.-]*) is currently running or starting/i, other: 1},
]
// 5.0–5.3: `unable to start "<n>": machine <o>: VM already running or starting` (<o> may be <n>)
const MACHINE_ALREADY = /machine ([A-Za-z0-9][A-Za-z0-9_.-]*): VM already running or starting/i
const ALREADY_RUNNING = [/unable to start "[^"]*": already running/i, /VM already running or starting/i]
const PROVIDER_UNSUPPORTED = /unsupported virtualization provider|libkrun is not supported on Intel/i

/** Classifies a finished `podman machine start <name>` run (pure). */
export function classifyStartResult(result: RunResult, name: string): StartOutcome {
  if (succeeded(result)) return {kind: 'started', result}
  if (result.notFound) return {kind: 'not-installed', result}
  if (result.timedOut) return {kind: 'timeout', result}
  const stderr = result.stderr
  const generic = classifyFailure(result, {platform: 'linux', machine: name})
  if (generic.kind === 'machine-root-refused') return {kind: 'root-refused', result}
  if (generic.kind === 'machine-needs-admin') return {kind: 'needs-admin', result}
  if (generic.kind === 'machine-missing') return {kind: 'absent', result}
  if (PROVIDER_UNSUPPORTED.test(stderr)) return {kind: 'provider-unsupported', message: errorLine(stderr) ?? generic.message, result}
  for (const pattern of OTHER_ACTIVE) {
    const m = pattern.re.exec(stderr)
    if (m && m[pattern.other] !== name) {
      return {kind: 'other-active', other: m[pattern.other] ?? null, otherProvider: pattern.provider ? (m[pattern.provider] ?? null) : null, result}
    }
  }
  const legacy = MACHINE_ALREADY.exec(stderr)
  if (legacy) {
    return legacy[1] === name ? {kind: 'already-running', result} : {kind: 'other-active', other: legacy[1] ?? null, otherProvider: null, result}
  }
  if (ONE_AT_A_TIME.test(stderr)) return {kind: 'other-active', other: null, otherProvider: null, result}
  if (ALREADY_RUNNING.some((re) => re.test(stderr))) return {kind: 'already-running', result}
  return {kind: 'failed', message: errorLine(stderr) ?? generic.message, result}
}

/** A Runner that adds `env` to every call (e.g. CONTAINERS_MACHINE_PROVIDER). */
export function withEnv(runner: Runner, env: Readonly<Record<string, string>>): Runner {
  if (Object.keys(env).length === 0) return runner
  return (command, args, options: RunOptions = {}) => runner(command, args, {...options, env: {...options.env, ...env}})
}

const PathHolder = z.looseObject({Path: z.string()})
/** `machine inspect`, plus where the config lives: 4.x ConfigPath (the file), 5.x ConfigDir (its folder). */
const InspectWithConfigSchema = z.array(RawMachineInspectEntrySchema.extend({ConfigPath: PathHolder.nullish(), ConfigDir: PathHolder.nullish()}))

export interface MachineConfigLocation {
  /** The machine's JSON config file. */
  path: string
  /** Which inspect field it came from. */
  from: 'ConfigPath' | 'ConfigDir'
}

export interface MachineLifecycleOptions {
  binary?: string
  /** Environment for every machine command (the provider selection). */
  env?: Readonly<Record<string, string>>
  /** Timeout of the read calls (inspect); default 10 s. */
  timeoutMs?: number
  /**
   * The connection of the machine's containers (context.ts `machineConnectionName`): the image
   * check and the pull name it, like every container-side call; machine commands never do.
   */
  connection?: string | null
}

export class MachineLifecycle {
  readonly binary: string
  readonly env: Readonly<Record<string, string>>
  /** `--connection` of the container-side calls (image check, pull); null: podman's default. */
  readonly connection: string | null
  /** The read side, with the same program, environment and connection. */
  readonly reader: PodmanAdapter
  private readonly runner: Runner

  constructor(runner: Runner, private readonly host: HostFacts, opts: MachineLifecycleOptions = {}) {
    this.binary = opts.binary || host.env[PODMAN_BINARY_ENV] || 'podman'
    this.env = opts.env ?? {}
    this.connection = opts.connection ?? null
    this.runner = withEnv(runner, this.env)
    this.reader = new PodmanAdapter(this.runner, host, {binary: this.binary, timeoutMs: opts.timeoutMs, context: {binary: this.binary, connection: this.connection, machine: null, machineEnv: {}}})
  }

  startArgv(name: string): string[] {
    return [this.binary, 'machine', 'start', name]
  }

  listArgv(): string[] {
    return [this.binary, 'machine', 'list', '--format', 'json']
  }

  imageInspectArgv(ref: string): string[] {
    return podmanArgv(this, ['image', 'inspect', '--format', 'json', '--', ref])
  }

  pullArgv(ref: string): string[] {
    return podmanArgv(this, ['pull', '--', ref])
  }

  /** `podman machine start <name>`, killed after timeoutMs; the outcome is classified, never thrown. */
  async machineStart(name: string, opts: {timeoutMs: number}): Promise<StartOutcome> {
    const [command, ...args] = this.startArgv(name)
    const result = await this.runner(command as string, args, {timeoutMs: opts.timeoutMs})
    return classifyStartResult(result, name)
  }

  /** `podman pull -- <ref>` (no provider environment needed, but harmless). */
  async pull(ref: string, opts: {timeoutMs: number}): Promise<PodmanResult<RunResult>> {
    const [command, ...args] = this.pullArgv(ref)
    const result = await this.runner(command as string, args, {timeoutMs: opts.timeoutMs})
    if (succeeded(result)) return {ok: true, value: result}
    return {ok: false, failure: classifyFailure(result, {platform: this.host.platform, imageRef: ref})}
  }

  /** Where the machine's JSON config is, from `podman machine inspect` (works while stopped). */
  async machineConfigLocation(name: string): Promise<PodmanResult<MachineConfigLocation>> {
    const result = await this.runner(this.binary, ['machine', 'inspect', '--', name], {timeoutMs: this.reader.timeoutMs})
    if (!succeeded(result)) return {ok: false, failure: classifyFailure(result, {platform: this.host.platform, machine: name})}
    const parsed = parseJsonOutput(result.stdout, InspectWithConfigSchema)
    if (!parsed.ok) return {ok: false, failure: unparseableFailure(result, parsed.reason)}
    const entry = parsed.value.find((m) => m.Name === name) ?? parsed.value[0]
    if (entry?.ConfigPath?.Path) return {ok: true, value: {path: entry.ConfigPath.Path, from: 'ConfigPath'}}
    if (entry?.ConfigDir?.Path) return {ok: true, value: {path: pathApi(this.host).join(entry.ConfigDir.Path, `${name}.json`), from: 'ConfigDir'}}
    const failure: PodmanFailure = unparseableFailure(result, 'neither ConfigPath nor ConfigDir in the inspect output')
    return {ok: false, failure}
  }

  /**
   * `podman machine list [--all-providers] --format json`, with its stderr: 5.x lists a machine
   * whose config Podman 4 wrote as a logged error (`incompatible machine config "<file>" (<name>)
   * …`, vmconfigs/machine.go) and leaves it out, exit 0. `--all-providers` exists from 5.3.0.
   */
  async listDetailed(opts: {allProviders?: boolean} = {}): Promise<PodmanResult<{machines: MachineSummary[]; stderr: string}>> {
    const args = ['machine', 'list', ...(opts.allProviders ? ['--all-providers'] : []), '--format', 'json']
    const result = await this.runner(this.binary, args, {timeoutMs: this.reader.timeoutMs})
    if (!succeeded(result)) return {ok: false, failure: classifyFailure(result, {platform: this.host.platform})}
    const parsed = parseJsonOutput(result.stdout, RawMachineListSchema)
    if (!parsed.ok) return {ok: false, failure: unparseableFailure(result, parsed.reason)}
    return {ok: true, value: {machines: parsed.value.map(toMachineSummary), stderr: result.stderr}}
  }
}

/**
 * The machines a 5.x `machine list` skipped because Podman 4 wrote their config
 * (define.ErrIncompatibleMachineConfig, logged through logrus: `level=error msg="incompatible
 * machine config \"<file>\" (<name>) for this version of Podman"`, or `ERRO[0000] …` on a TTY).
 */
export function incompatibleMachines(stderr: string): Array<{name: string; configFile: string}> {
  const out: Array<{name: string; configFile: string}> = []
  for (const m of stderr.matchAll(/incompatible machine config \\?"(.+?)\\?" \((.+?)\) for this version of Podman/g)) {
    out.push({configFile: m[1] as string, name: m[2] as string})
  }
  return out
}
