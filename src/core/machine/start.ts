/**
 * `start`: bring the profile's Podman machine up, then make sure the profile's image is there.
 *
 * Read-only observations run first (also under --dry-run): `podman --version`, `podman machine
 * list`, and `podman image inspect` when the machine already runs. From them a Plan is built;
 * --dry-run returns it, otherwise exactly its steps run:
 *
 *   stopped   → `podman machine start <name>` (progress on stderr, killed after --timeout)
 *   starting  → poll `podman machine list` until it runs (same deadline)
 *   running   → nothing
 *   absent    → exit 4 with the exact `podman machine init …` to run; never runs init itself
 *   image     → `podman image inspect`; `podman pull` only when image.pull is `missing`; a missing
 *               localhost/ image is built from the Containerfile shipped in the package
 *               (`podman build`, in the same store and connection the runs use: core/image)
 *
 * Every refusal is an AgentMachineError with its exit code (2 usage, 4 prerequisite) and a fix;
 * nothing destructive ever runs (no init, rm, stop or reset).
 */
import {promises as fsp} from 'node:fs'

import {prerequisiteMissing, usageError, type AgentMachineError} from '../errors.js'
import {agentImageDir, buildable, buildArgv, buildFailed, DEFAULT_BUILD_TIMEOUT_MS, imageFix, readBaseImage, runBuild} from '../image/agent-image.js'
import type {Runner} from '../exec.js'
import type {HostFacts} from '../host/facts.js'
import {shellQuote, step, type Plan, type Step} from '../plan/plan.js'
import {PodmanAdapter, type ImageDetails, type MachineSummary, type PodmanFailure} from '../podman/adapter.js'
import {classifyFailure} from '../podman/failures.js'
import {incompatibleMachines, MachineLifecycle} from '../podman/machine-lifecycle.js'
import {machineConnectionName} from '../podman/context.js'
import type {AgentMachineProfile, ProfileMachine} from '../profile/schema.js'
import {hostCommandText, recommendInit, type InitRecommendation} from './init-command.js'
import {silentProgress, type Progress} from './progress.js'
import {
  assertProviderForVersion,
  assertProviderOnPlatform,
  isExclusiveProvider,
  platformName,
  hasSpace,
  providerEnv,
  PROVIDER_ENV,
  SPACES_IN_VOLUMES_VERSION,
  spacesInVolumesWork,
  volumeSpacesRefusal,
  type Provider,
} from './providers.js'
import type {MachineRunStateValue, StartResult} from './result.js'
import {coverage, readMachineShares} from './shares.js'
import {atLeast} from './versions.js'
import {machineRoots, realRootsDeps, worktreeClonesRoot, type RootsDeps} from './vm-paths.js'

export const DEFAULT_START_TIMEOUT_S = 300
export const DEFAULT_PULL_TIMEOUT_MS = 30 * 60_000
export const DEFAULT_POLL_INTERVAL_MS = 1000

export interface StartIO {
  progress: Progress
  /** A warning or remark for stderr (also collected into the result's notes). */
  note: (text: string) => void
}

export interface StartRequest {
  runner: Runner
  host: HostFacts
  cwd: string
  profile: AgentMachineProfile
  profilePath: string
  /** `--machine`: must name the profile's machine. */
  machineFlag?: string
  /** Deadline for the machine start (or the wait for a starting machine). */
  timeoutMs: number
  dryRun: boolean
  io?: StartIO
  pullTimeoutMs?: number
  buildTimeoutMs?: number
  /** images/agent of the installed package (tests point it elsewhere). */
  imageDir?: string
  pollIntervalMs?: number
  sleep?: (ms: number) => Promise<void>
  now?: () => number
  /** File-system access for resolving the mounts into machine shares (tests fake it). */
  rootsDeps?: RootsDeps
  /**
   * Creates the `--worktree` clones folder the printed init shares (a machine volume whose source
   * is missing fails the machine's start). Default: nothing is created (the command passes
   * ensureDirectory).
   */
  ensureDir?: (path: string) => Promise<void>
  /** Reads the machine's config file (its shares); tests fake it. */
  readFile?: (path: string) => Promise<string>
}

/** mkdir -p with 0700: the state dir's worktrees folder, before `podman machine init` shares it. */
export async function ensureDirectory(path: string): Promise<void> {
  await fsp.mkdir(path, {recursive: true, mode: 0o700})
}

type Action = 'start' | 'wait' | 'image-check' | 'pull' | 'build'

interface Planned {
  action: Action
  step: Step
}

interface ImageState {
  status: StartResult['image']['status']
  details: ImageDetails | null
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

export async function startMachine(req: StartRequest): Promise<StartResult> {
  const {host, profile, profilePath} = req
  const spec = profile.spec
  const machine = spec.machine
  const io = req.io ?? {progress: silentProgress, note: () => {}}
  const notes: string[] = []
  const note = (text: string) => {
    notes.push(text)
    io.note(text)
  }

  if (req.machineFlag !== undefined && req.machineFlag !== machine?.name) {
    throw usageError(
      'MACHINE_NOT_IN_PROFILE',
      machine
        ? `machine '${req.machineFlag}' is not this profile's machine ('${machine.name}').`
        : `machine '${req.machineFlag}' is not in the profile: '${profile.metadata.name}' runs native Podman, with no machine.`,
      machine ? `omit --machine, or set spec.machine.name in ${profilePath}` : 'omit --machine',
      {machine: req.machineFlag, profileMachine: machine?.name ?? null},
    )
  }
  if (spec.platform !== host.platform) {
    throw usageError(
      'PROFILE_PLATFORM_MISMATCH',
      `profile '${profile.metadata.name}' is for ${platformName(spec.platform)}, but this host runs ${platformName(host.platform)}.`,
      'create a profile for this host: `sourceosctl agent-machine init --profile <template> --repo <path> --force`',
      {profilePlatform: spec.platform, hostPlatform: host.platform},
    )
  }

  if (spec.connection) {
    throw usageError(
      'REMOTE_NOTHING_TO_START',
      `profile '${profile.metadata.name}' runs on the remote Podman host ${spec.connection}: there is no machine here to start, and its podman service is managed on that server.`,
      `check it with \`sourceosctl agent-machine doctor\`; put the image in its store with \`podman --connection ${spec.connection} build …\` (or pull)`,
      {connection: spec.connection},
    )
  }
  const base = {dryRun: req.dryRun, profile: {path: profilePath, name: profile.metadata.name}, platform: host.platform}

  // ---- Native Linux: nothing to start; podman itself must work.
  if (!machine) {
    if (host.platform !== 'linux') {
      throw usageError('MACHINE_REQUIRED', `${platformName(host.platform)} runs containers in a Podman machine, but profile '${profile.metadata.name}' has no spec.machine.`, `add spec.machine to ${profilePath}, or re-create the profile from the ${host.platform === 'macos' ? 'macos-podman' : 'windows-podman-wsl'} template`)
    }
    const podman = new PodmanAdapter(req.runner, host)
    const [cli, info] = await Promise.all([podman.cliVersion(), podman.info()])
    if (!info.ok) throw podmanUnavailable(info.failure)
    const version = cli.ok ? cli.value : info.value.serverVersion
    note(`Native Podman${version ? ` ${version}` : ''} works (${info.value.rootless ? 'rootless' : 'rootful'}); this profile has no machine, so there is nothing to start.`)
    const planned: Planned[] = []
    const image = await observeImage(podman, req, planned, note, info.value.rootless)
    const state: MachineRunStateValue = 'not-applicable'
    if (!req.dryRun) await execute(planned, {req, reader: podman, lifecycle: new MachineLifecycle(req.runner, host), image, machine: null, io, rootless: info.value.rootless})
    return {
      ...base,
      podman: {version, rootless: info.value.rootless},
      machine: {name: null, provider: null, env: {}, before: state, after: state, action: 'none'},
      image: finalImage(req, image),
      plan: planOf(planned),
      notes,
    }
  }

  // ---- A machine.
  assertProviderOnPlatform(host, machine, profilePath)
  if (host.platform === 'linux' && host.isRoot) throw rootRefusal(machine)
  const probe = new PodmanAdapter(req.runner, host)
  const cli = await probe.cliVersion()
  if (!cli.ok) throw podmanUnavailable(cli.failure)
  const version = cli.value
  assertProviderForVersion(host, machine, version, profilePath)
  const env = providerEnv(host.platform, machine.provider, version)
  // The image check and the pull name this machine's connection, never podman's default (podman/context.ts).
  const lifecycle = new MachineLifecycle(req.runner, host, {env, connection: machineConnectionName(machine)})

  const detailed = await lifecycle.listDetailed()
  if (!detailed.ok) {
    if (detailed.failure.kind === 'machine-root-refused') throw rootRefusal(machine)
    if (detailed.failure.kind === 'machine-needs-admin') throw needsAdmin(machine, detailed.failure)
    throw podmanUnavailable(detailed.failure)
  }
  const listed = {value: detailed.value.machines}
  const entry = listed.value.find((m) => m.name === machine.name)
  if (!entry) {
    // Podman 5 skips a machine whose config Podman 4 wrote, logging why (exit 0).
    const old = incompatibleMachines(detailed.value.stderr).find((m) => m.name === machine.name)
    if (old) throw await incompatibleConfig(req, machine, version, lifecycle, old.configFile, note)
    // The same name under another provider (5.3+ can list them all): the profile names the wrong one.
    if (atLeast(version, ALL_PROVIDERS_VERSION)) {
      const all = await lifecycle.listDetailed({allProviders: true})
      const elsewhere = all.ok ? all.value.machines.find((m) => m.name === machine.name && m.vmType && m.vmType !== machine.provider) : undefined
      if (elsewhere) throw providerMismatch(req, machine, elsewhere.vmType as string)
    }
    const others = [...new Set(listed.value.map((m) => m.vmType).filter((t): t is string => Boolean(t) && t !== machine.provider))]
    if (others.length > 0) note(`podman lists ${others.join(', ')} machines here, not ${machine.provider}: a containers.conf [machine] provider setting may select another provider.`)
    throw await absentError(req, machine, version, lifecycle.binary, note)
  }

  const before: MachineRunStateValue = entry.starting ? 'starting' : entry.running ? 'running' : 'stopped'
  if (before === 'stopped' && isExclusiveProvider(machine.provider)) {
    const other = listed.value.find((m) => m.name !== machine.name && (m.running || m.starting))
    if (other) throw otherActiveError(host, machine, other.name, null, env, version)
  }
  if (!entry.default && !machine.rootful && listed.value.length > 1) {
    note(`"${machine.name}" is not Podman's default connection: sourceosctl names it on every call (--connection ${machine.name}), but the podman commands you type go to the default; make it the default with \`podman system connection default ${machine.name}\`.`)
  }

  const planned: Planned[] = []
  const timeoutS = Math.round(req.timeoutMs / 1000)
  if (before === 'stopped') {
    planned.push({action: 'start', step: step([...envWords(env), ...lifecycle.startArgv(machine.name)], `start the Podman machine (progress on stderr; stopped waiting after ${timeoutS} s)`, true)})
  } else if (before === 'starting') {
    const pollS = Math.max(1, Math.round((req.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS) / 1000))
    planned.push({action: 'wait', step: step([...envWords(env), ...lifecycle.listArgv()], `the machine is starting: poll every ${pollS} s until it runs (deadline ${timeoutS} s)`, false)})
  } else {
    note(`Podman machine "${machine.name}" is already running.`)
  }

  const image = before === 'running'
    ? await observeImage(lifecycle.reader, req, planned, note, null)
    : planImageAfterStart(lifecycle, req, planned)

  let after: MachineRunStateValue = before
  let action: StartResult['machine']['action'] = before === 'stopped' ? 'would-start' : before === 'starting' ? 'would-wait' : 'already-running'
  if (!req.dryRun) {
    const outcome = await execute(planned, {req, reader: lifecycle.reader, lifecycle, image, machine: {spec: machine, version, env}, io, rootless: null})
    after = outcome.machineRunning ? 'running' : after
    action = outcome.machineAction ?? action
  }
  return {
    ...base,
    podman: {version, rootless: null},
    machine: {name: machine.name, provider: machine.provider, env, before, after, action},
    image: finalImage(req, image),
    plan: planOf(planned),
    notes,
  }
}

// ---------------------------------------------------------------------------------------------
// Image

function pullable(ref: string): boolean {
  // localhost/… names a locally built image: there is no registry to pull it from.
  return !/^localhost(?::\d+)?\//i.test(ref)
}

function pullAllowed(req: StartRequest): boolean {
  return req.profile.spec.image.pull === 'missing' && pullable(req.profile.spec.image.ref)
}

/** The build step: the package's Containerfile, into the store (and connection) the runs use. */
function buildStep(ctx: {binary: string; connection: string | null}, req: StartRequest, conditional: boolean): Planned {
  const {ref} = req.profile.spec.image
  const dir = req.imageDir ?? agentImageDir()
  const why = `${conditional ? 'only if the check above finds no image: ' : 'the image is not in local storage: '}build ${ref} from the Containerfile shipped with sourceosctl (${dir}; needs its base image ${readBaseImage(dir) ?? '(unknown)'} or a registry)`
  return {action: 'build', step: step(buildArgv(ctx, ref, dir), why, true)}
}

/** Asks local storage now (the service answers); plans a pull or a build, or refuses, when the image is missing. */
async function observeImage(reader: PodmanAdapter, req: StartRequest, planned: Planned[], note: (t: string) => void, rootless: boolean | null): Promise<ImageState> {
  const {ref} = req.profile.spec.image
  const inspected = await reader.imageInspect(ref)
  if (inspected.ok) {
    checkPin(req, inspected.value, note)
    return {status: 'present', details: inspected.value}
  }
  if (inspected.failure.kind !== 'image-missing') throw imageCheckFailed(ref, inspected.failure)
  if (!pullAllowed(req)) {
    if (!buildable(ref)) throw imageMissing(req, rootless)
    planned.push(buildStep(reader.context, req, false))
    return {status: 'would-build', details: null}
  }
  const lifecycle = new MachineLifecycle(req.runner, req.host, {connection: reader.context.connection})
  planned.push({action: 'pull', step: step(lifecycle.pullArgv(ref), 'the image is not in local storage and the profile allows pulling it (image.pull: missing)', true)})
  return {status: 'would-pull', details: null}
}

/** The machine is not up yet, so local storage cannot be asked before it starts. */
function planImageAfterStart(lifecycle: MachineLifecycle, req: StartRequest, planned: Planned[]): ImageState {
  const {ref} = req.profile.spec.image
  planned.push({action: 'image-check', step: step(lifecycle.imageInspectArgv(ref), 'once the machine runs: is the profile\'s image in its local storage?', false)})
  if (pullAllowed(req)) {
    planned.push({action: 'pull', step: step(lifecycle.pullArgv(ref), 'only if the check above finds no image (image.pull: missing)', true)})
  } else if (buildable(ref)) {
    planned.push(buildStep(lifecycle.reader.context, req, true))
  }
  return {status: 'unknown', details: null}
}

function checkPin(req: StartRequest, image: ImageDetails, note: (t: string) => void): void {
  const pin = req.profile.spec.image.digest
  if (pin && !pinMatches(pin, image)) {
    note(`image ${req.profile.spec.image.ref} (ID sha256:${image.id}) does not match the profile's pin ${pin}; rebuild or pull the pinned image, or update image.digest.`)
  }
}

function pinMatches(pin: string, image: ImageDetails): boolean {
  return pin === `sha256:${image.id}` || pin === image.digest || image.repoDigests.some((d) => d.endsWith(`@${pin}`))
}

function finalImage(req: StartRequest, image: ImageState): StartResult['image'] {
  const {ref, pull, digest} = req.profile.spec.image
  return {
    ref,
    pull,
    status: image.status,
    id: image.details?.id ?? null,
    pinMatches: digest && image.details ? pinMatches(digest, image.details) : null,
  }
}

// ---------------------------------------------------------------------------------------------
// Execution

interface ExecContext {
  req: StartRequest
  reader: PodmanAdapter
  lifecycle: MachineLifecycle
  image: ImageState
  machine: {spec: ProfileMachine; version: string; env: Record<string, string>} | null
  io: StartIO
  /** Native Linux: whether podman runs rootless (names the offline fix); null when unknown. */
  rootless: boolean | null
}

async function execute(planned: Planned[], ctx: ExecContext): Promise<{machineRunning: boolean; machineAction?: StartResult['machine']['action']}> {
  const {req, io} = ctx
  let machineRunning = false
  let machineAction: StartResult['machine']['action'] | undefined
  for (const {action} of planned) {
    if (action === 'start' && ctx.machine) {
      const m = ctx.machine.spec
      const task = io.progress.task(`Starting Podman machine ${m.name}`)
      const outcome = await ctx.lifecycle.machineStart(m.name, {timeoutMs: req.timeoutMs})
      switch (outcome.kind) {
        case 'started':
          task.succeed(`Podman machine ${m.name} started`)
          machineAction = 'started'
          break
        case 'already-running':
          // Another process started it (a race): it may still be booting, so wait that out too.
          task.succeed(`Podman machine ${m.name} is already running or starting`)
          await waitUntilRunning(ctx, {checkFirst: true})
          machineAction = 'already-running'
          break
        case 'other-active':
          task.fail(`Podman machine ${m.name} did not start`)
          throw otherActiveError(req.host, m, outcome.other, outcome.otherProvider, ctx.machine.env, ctx.machine.version)
        case 'absent':
          task.fail(`Podman machine ${m.name} does not exist`)
          throw await absentError(req, m, ctx.machine.version, ctx.lifecycle.binary, io.note)
        case 'root-refused':
          task.fail('podman refused to run as root')
          throw rootRefusal(m)
        case 'timeout':
          task.fail(`Podman machine ${m.name} did not finish starting in time`)
          throw startTimeout(req.host, m, req.timeoutMs, ctx.machine.env)
        case 'needs-admin':
          task.fail(`Podman machine ${m.name} did not start`)
          throw needsAdmin(m, classifyFailure(outcome.result, {platform: req.host.platform, machine: m.name}))
        case 'not-installed':
          task.fail('podman is not installed')
          throw podmanUnavailable({kind: 'not-installed', message: `${ctx.lifecycle.binary} is not installed or not on PATH`, fix: '', stderr: '', exitCode: null})
        case 'provider-unsupported':
          task.fail(`Podman machine ${m.name} did not start`)
          throw usageError('PROVIDER_UNSUPPORTED', `podman refused the ${m.provider} provider: ${outcome.message}`, `set spec.machine.provider in ${req.profilePath} to a provider this Podman supports`)
        default: {
          task.fail(`Podman machine ${m.name} did not start`)
          // A share whose host folder is gone stops the VM from starting (vfkit/krunkit/qemu
          // cannot open it; podman says only "vfkit exited unexpectedly"): look, and say which.
          const missing = await missingShareSources(req, ctx.lifecycle, m)
          if (missing.length > 0) throw volumeMissing(req, ctx.lifecycle, m, missing, ctx.machine.env, outcome.message)
          throw prerequisiteMissing(
            'MACHINE_START_FAILED',
            `\`podman machine start ${m.name}\` failed: ${outcome.message}`,
            `run \`${hostCommandText(req.host, ctx.lifecycle.startArgv(m.name), ctx.machine.env)}\` yourself to see its full output; a wedged machine recovers with \`${hostCommandText(req.host, [ctx.lifecycle.binary, 'machine', 'stop', m.name], ctx.machine.env)}\``,
            {machine: m.name, stderr: outcome.result.stderr.slice(-2000)},
          )
        }
      }
      machineRunning = true
    } else if (action === 'wait' && ctx.machine) {
      await waitUntilRunning(ctx)
      machineRunning = true
      machineAction = 'waited'
    } else if (action === 'image-check') {
      const {ref} = req.profile.spec.image
      const inspected = await ctx.reader.imageInspect(ref)
      if (inspected.ok) {
        checkPin(req, inspected.value, io.note)
        ctx.image.status = 'present'
        ctx.image.details = inspected.value
      } else if (inspected.failure.kind !== 'image-missing') {
        throw imageCheckFailed(ref, inspected.failure)
      } else if (!pullAllowed(req) && !buildable(ref)) {
        throw imageMissing(req, ctx.rootless)
      }
    } else if (action === 'build') {
      if (ctx.image.status === 'present') continue // the check found it: the conditional build is not needed
      const {ref} = req.profile.spec.image
      const argv = planned.find((p) => p.action === 'build')!.step.argv
      const task = io.progress.task(`Building ${ref} (podman build; the first build downloads Node and the tools, minutes)`)
      const built = await runBuild(req.runner, argv, req.buildTimeoutMs ?? DEFAULT_BUILD_TIMEOUT_MS)
      if (!built.ok) {
        task.fail(`could not build ${ref}`)
        throw buildFailed(ref, argv, built, {host: req.host, rootless: ctx.rootless, baseImage: readBaseImage(req.imageDir ?? agentImageDir())})
      }
      task.succeed(`Built ${ref} in ${Math.round(built.durationMs / 1000)} s`)
      const inspected = await ctx.reader.imageInspect(ref)
      ctx.image.status = 'built'
      ctx.image.details = inspected.ok ? inspected.value : null
    } else if (action === 'pull') {
      if (ctx.image.status === 'present') continue // the check found it: the conditional pull is not needed
      const {ref} = req.profile.spec.image
      const task = io.progress.task(`Pulling ${ref}`)
      const pulled = await ctx.lifecycle.pull(ref, {timeoutMs: req.pullTimeoutMs ?? DEFAULT_PULL_TIMEOUT_MS})
      if (!pulled.ok) {
        task.fail(`could not pull ${ref}`)
        throw prerequisiteMissing('IMAGE_PULL_FAILED', `\`podman pull ${ref}\` failed: ${pulled.failure.message}`, `check the reference and your registry access (\`podman pull ${ref}\` shows podman's whole answer), or point image.ref at a localhost/ name, which start builds from the shipped Containerfile`, {ref})
      }
      task.succeed(`Pulled ${ref}`)
      const inspected = await ctx.reader.imageInspect(ref)
      ctx.image.status = 'pulled'
      ctx.image.details = inspected.ok ? inspected.value : null
      if (inspected.ok) checkPin(req, inspected.value, io.note)
    }
  }
  return {machineRunning, machineAction}
}

async function waitUntilRunning(ctx: ExecContext, opts: {checkFirst?: boolean} = {}): Promise<void> {
  const {req} = ctx
  const m = ctx.machine!.spec
  const now = req.now ?? (() => Date.now())
  const sleep = req.sleep ?? defaultSleep
  const interval = req.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS
  const deadline = now() + req.timeoutMs
  const task = ctx.io.progress.task(`Waiting for Podman machine ${m.name} to finish starting`)
  let lastProblem: string | null = null
  let lastSeen: MachineSummary | null = null
  let sleepFirst = !opts.checkFirst
  for (;;) {
    if (now() >= deadline) {
      task.fail(`Podman machine ${m.name} was still not ready at the deadline`)
      if (lastSeen?.starting) throw stuckStarting(req.host, m, req.timeoutMs, ctx.machine!.env, ctx.lifecycle.binary)
      throw startTimeout(req.host, m, req.timeoutMs, ctx.machine!.env, lastProblem)
    }
    if (sleepFirst) await sleep(Math.min(interval, Math.max(0, deadline - now())))
    sleepFirst = true
    const listed = await ctx.lifecycle.reader.machineList()
    if (!listed.ok) {
      lastProblem = listed.failure.message
      continue
    }
    const entry: MachineSummary | undefined = listed.value.find((x) => x.name === m.name)
    if (!entry) {
      task.fail(`Podman machine ${m.name} disappeared`)
      throw await absentError(req, m, ctx.machine!.version, ctx.lifecycle.binary, ctx.io.note)
    }
    lastSeen = entry
    // "Running" is not "ready": Podman clears Starting only once the mounts and the API are up
    // (shim/host.go), and lists Running: true before that. Only running and not starting is ready.
    if (entry.running && !entry.starting) {
      task.succeed(`Podman machine ${m.name} is running`)
      return
    }
    if (!entry.starting) {
      task.fail(`Podman machine ${m.name} stopped instead of starting`)
      throw prerequisiteMissing(
        'MACHINE_START_FAILED',
        `Podman machine "${m.name}" was starting (in another process) and stopped without running.`,
        'run `sourceosctl agent-machine start` again; if it keeps failing, run `podman machine start ' + m.name + '` to see why',
        {machine: m.name},
      )
    }
  }
}

function planOf(planned: Planned[]): Plan {
  return {verb: 'start', steps: planned.map((p) => p.step)}
}

/** `NAME=value` words before a command, as a POSIX shell reads them (and as plans print them). */
function envWords(env: Record<string, string>): string[] {
  return Object.entries(env).map(([k, v]) => `${k}=${v}`)
}

// ---------------------------------------------------------------------------------------------
// Errors (each with its fix)

async function absentError(req: StartRequest, machine: ProfileMachine, version: string, binary: string, note: (t: string) => void): Promise<AgentMachineError> {
  const deps = req.rootsDeps ?? realRootsDeps(req.cwd)
  const {roots: repoRoots, warnings} = await machineRoots(req.profile.spec.mounts, req.host, deps)
  // Printing an init whose --volume Podman < 5.5 would break is worse than saying so now.
  const spaces = machine.provider === 'wsl' ? null : volumeSpacesRefusal(req.host, machine.provider, version, repoRoots.map((r) => r.hostPath))
  if (spaces) {
    for (const w of warnings) note(w)
    return spaces
  }
  const roots = [...repoRoots]
  const clones = machine.provider === 'wsl' ? null : await worktreeClonesRoot(req.host, deps)
  if (clones && coverage([clones], roots.map((r) => ({source: r.hostPath, target: r.vmPath, readOnly: false})), req.host).uncovered.length > 0) {
    if (hasSpace(clones.hostPath) && !spacesInVolumesWork(version)) {
      warnings.push(`\`--worktree\` puts its clones in ${clones.hostPath}, which has a space in its path, and Podman ${version} cannot share such a folder (fixed in ${SPACES_IN_VOLUMES_VERSION}); the init below leaves it out, so run/shell --worktree will not work on this machine: upgrade Podman, or set SOURCEOSCTL_STATE_DIR to a folder without spaces and run start again`)
    } else {
      roots.push(clones)
      warnings.push(`the last --volume shares ${clones.hostPath}, the folder where run/shell --worktree put their clones (only the clones: the rest of sourceosctl's state stays out of the VM)${req.dryRun ? '; a real run creates it' : ''}`)
      if (!req.dryRun && req.ensureDir) await req.ensureDir(clones.hostPath).catch(() => {})
    }
  }
  const rec: InitRecommendation = recommendInit({host: req.host, machine, roots, podmanVersion: version, binary})
  for (const w of warnings) note(w)
  for (const n of rec.notes) note(n)
  const shown = req.host.platform === 'windows' && rec.powershell ? rec.powershell : rec.text
  // `podman machine init` refuses a name whose connection (<name> or <name>-root) is still there,
  // e.g. left by a machine deleted by hand (cmd/podman/machine/init.go: `system connection "<n>"
  // already exists …`): say so now, with the command that removes it, instead of a failing init.
  const connections = await new PodmanAdapter(req.runner, req.host, {binary}).connectionList().catch(() => null)
  const stale = connections?.ok ? connections.value.map((c) => c.name).filter((n) => n === machine.name || n === `${machine.name}-root`) : []
  const rm = stale.map((n) => hostCommandText(req.host, [binary, 'system', 'connection', 'rm', n], {}))
  if (stale.length > 0) note(`a Podman connection named ${stale.join(' and ')} already exists without its machine, and \`podman machine init\` refuses to reuse the name until it is removed`)
  return prerequisiteMissing(
    'MACHINE_ABSENT',
    `Podman machine "${machine.name}" does not exist, and start never creates one.`,
    `${rm.length > 0 ? `remove the leftover connection${rm.length > 1 ? 's' : ''} first (${rm.map((c) => `\`${c}\``).join(', ')}), then ` : ''}create it with \`${shown}\`, then run \`sourceosctl agent-machine start\` again`,
    {machine: machine.name, provider: machine.provider, initCommand: rec, ...(rm.length > 0 ? {staleConnections: stale, removeCommands: rm} : {})},
  )
}

function otherActiveError(host: HostFacts, machine: ProfileMachine, other: string | null, otherProvider: string | null, env: Record<string, string>, version: string): AgentMachineError {
  const stopEnv = otherProvider ? providerEnv(host.platform, otherProvider as Provider, version) : env
  const stop = other ? hostCommandText(host, ['podman', 'machine', 'stop', other], stopEnv) : 'podman machine list'
  const where = otherProvider && otherProvider !== machine.provider ? ` (on the ${otherProvider} provider)` : ''
  return prerequisiteMissing(
    'MACHINE_OTHER_ACTIVE',
    `${other ? `Podman machine "${other}"${where} is` : 'another Podman machine is'} already running, and ${machine.provider} runs one machine at a time, so "${machine.name}" cannot start.`,
    other ? `stop it with \`${stop}\`, then run \`sourceosctl agent-machine start\` again` : 'find the running machine with `podman machine list` (add `--all-providers` on Podman 5.3+), stop it with `podman machine stop <name>`, then run start again',
    {machine: machine.name, other, otherProvider, stopCommand: other ? stop : null, ...(stopEnv[PROVIDER_ENV] ? {stopEnv} : {})},
  )
}

/** Host folders the machine shares (its config's Mounts) that no longer exist; [] when unknown. */
async function missingShareSources(req: StartRequest, lifecycle: MachineLifecycle, machine: ProfileMachine): Promise<string[]> {
  const info = await readMachineShares({lifecycle, name: machine.name, provider: machine.provider, readFile: req.readFile}).catch(() => null)
  if (info?.status !== 'known') return []
  const deps = req.rootsDeps ?? realRootsDeps(req.cwd)
  const missing: string[] = []
  for (const share of info.shares) {
    const exists = await deps.stat(share.source).then(() => true, (error: {code?: string}) => error?.code !== 'ENOENT' && error?.code !== 'ENOTDIR')
    if (!exists) missing.push(share.source)
  }
  return missing
}

function volumeMissing(req: StartRequest, lifecycle: MachineLifecycle, machine: ProfileMachine, missing: string[], env: Record<string, string>, podmanLine: string): AgentMachineError {
  const mkdir = req.host.platform === 'windows' ? missing.map((p) => `mkdir '${p.replace(/'/g, "''")}'`).join('; ') : `mkdir -p ${missing.map((p) => shellQuote(p)).join(' ')}`
  const rm = hostCommandText(req.host, [lifecycle.binary, 'machine', 'rm', machine.name], env)
  return prerequisiteMissing(
    'MACHINE_VOLUME_MISSING',
    `Podman machine "${machine.name}" did not start (${podmanLine}): it shares ${missing.map((p) => `"${p}"`).join(', ')}, which no longer ${missing.length === 1 ? 'exists' : 'exist'} on this computer, and the VM cannot start with a missing shared folder.`,
    `put the folder back (\`${mkdir}\`, or restore the repo there) and run \`sourceosctl agent-machine start\` again; or, if it is gone for good, recreate the machine without it: \`${rm}\` (deletes the VM's disk and images, not your files), then \`sourceosctl agent-machine start\` prints the new init`,
    {machine: machine.name, missing, mkdirCommand: mkdir, rmCommand: rm},
  )
}

/** `podman machine list --all-providers` exists from this version (cmd/podman/machine/list.go). */
const ALL_PROVIDERS_VERSION = '5.3.0'

/** The profile's machine exists, but under another provider (found by `--all-providers`). */
function providerMismatch(req: StartRequest, machine: ProfileMachine, actual: string): AgentMachineError {
  return usageError(
    'MACHINE_PROVIDER_MISMATCH',
    `Podman machine "${machine.name}" exists on the ${actual} provider, but the profile says ${machine.provider}, so \`podman machine\` with CONTAINERS_MACHINE_PROVIDER=${machine.provider} does not see it.`,
    `set spec.machine.provider: ${actual} in ${req.profilePath} (or give the ${machine.provider} machine another name in spec.machine.name)`,
    {machine: machine.name, profileProvider: machine.provider, actualProvider: actual},
  )
}

/**
 * Podman 5 cannot use a machine Podman 4 created (vmconfigs/machine.go: config Version 0): it
 * leaves it out of the list, and inspect/start fail with `incompatible machine config`. The old
 * files must go before the same name can be created again.
 */
async function incompatibleConfig(req: StartRequest, machine: ProfileMachine, version: string, lifecycle: MachineLifecycle, configFile: string, note: (t: string) => void): Promise<AgentMachineError> {
  const absent = await absentError(req, machine, version, lifecycle.binary, note)
  if (absent.code !== 'MACHINE_ABSENT') return absent
  const rec = absent.details?.initCommand as InitRecommendation
  const init = req.host.platform === 'windows' && rec.powershell ? rec.powershell : rec.text
  const reset = hostCommandText(req.host, [lifecycle.binary, 'machine', 'reset'], lifecycle.env as Record<string, string>)
  return prerequisiteMissing(
    'MACHINE_CONFIG_INCOMPATIBLE',
    `Podman machine "${machine.name}" was created by Podman 4 (${configFile} is in the 4.x format), and Podman ${version} cannot use it: it leaves it out of \`podman machine list\` and refuses to start it.`,
    `remove the old machine: \`${reset}\` (this deletes every ${machine.provider} machine and its images, not your files), or delete ${configFile} by hand; then create it again with \`${init}\``,
    {machine: machine.name, configFile, resetCommand: reset, initCommand: rec},
  )
}

/** Hyper-V on Podman 5.1–5.8 without elevation (failures.ts NEEDS_ADMIN). */
function needsAdmin(machine: ProfileMachine, failure: PodmanFailure): AgentMachineError {
  return prerequisiteMissing(
    'MACHINE_NEEDS_ADMIN',
    `${failure.message}; so "${machine.name}" cannot even be looked at from this terminal.`,
    `run from an administrator terminal (right-click Windows Terminal or PowerShell → Run as administrator): \`sourceosctl agent-machine start\`; the Podman command that needs it: ${failure.fix.replace(/^run from an administrator terminal[^:]*: /, '')}`,
    {machine: machine.name, provider: machine.provider, podmanCommand: failure.fix.replace(/^[^`]*`|`$/g, '')},
  )
}

function rootRefusal(machine: ProfileMachine): AgentMachineError {
  return prerequisiteMissing(
    'MACHINE_AS_ROOT',
    `podman machine does not run as root: machines belong to a user, and Podman refuses every \`podman machine\` command as root, so "${machine.name}" cannot be started.`,
    'run sourceosctl as your normal user (not root or sudo), or use the linux-podman-native profile, which needs no machine',
    {machine: machine.name},
  )
}

function startTimeout(host: HostFacts, machine: ProfileMachine, timeoutMs: number, env: Record<string, string>, lastProblem: string | null = null): AgentMachineError {
  const s = Math.round(timeoutMs / 1000)
  const stop = hostCommandText(host, ['podman', 'machine', 'stop', machine.name], env)
  return prerequisiteMissing(
    'MACHINE_START_TIMEOUT',
    `Podman machine "${machine.name}" did not finish starting within ${s} s${lastProblem ? ` (last answer: ${lastProblem})` : ''}. Nothing was deleted or reset.`,
    `look at \`podman machine list\`; recover a stuck machine with \`${stop}\`, then run \`sourceosctl agent-machine start --timeout ${Math.max(600, s * 2)}\``,
    {machine: machine.name, timeoutSeconds: s, stopCommand: stop},
  )
}

/**
 * The machine still says Starting at the deadline. A `podman machine start` that was killed (at a
 * timeout, a closed terminal) leaves Starting: true in its config for good (podman#24416), and
 * every later start then reports "already starting"; `podman machine stop` clears it.
 */
function stuckStarting(host: HostFacts, machine: ProfileMachine, timeoutMs: number, env: Record<string, string>, binary: string): AgentMachineError {
  const s = Math.round(timeoutMs / 1000)
  const stop = hostCommandText(host, [binary, 'machine', 'stop', machine.name], env)
  const start = hostCommandText(host, [binary, 'machine', 'start', machine.name], env)
  return prerequisiteMissing(
    'MACHINE_STUCK_STARTING',
    `Podman machine "${machine.name}" still reports Starting after ${s} s. A \`podman machine start\` that was killed or interrupted leaves that flag set for good (podman#24416), so it may never become ready by itself. Nothing was deleted or reset.`,
    `stop it, which clears the flag: \`${stop}\`; then start it again: \`${start}\` (or \`sourceosctl agent-machine start\`)`,
    {machine: machine.name, timeoutSeconds: s, stopCommand: stop, startCommand: start},
  )
}

function podmanUnavailable(failure: PodmanFailure): AgentMachineError {
  if (failure.kind === 'not-installed') {
    return prerequisiteMissing('PODMAN_MISSING', failure.message, failure.fix || 'install Podman (https://podman.io), then run start again')
  }
  return prerequisiteMissing('PODMAN_UNAVAILABLE', `Podman does not answer: ${failure.message}`, failure.fix, {kind: failure.kind})
}

function imageCheckFailed(ref: string, failure: PodmanFailure): AgentMachineError {
  return prerequisiteMissing('IMAGE_CHECK_FAILED', `cannot check for image ${ref}: ${failure.message}`, failure.fix, {ref, kind: failure.kind})
}

/** A registry image (not ours to build) that is missing and may not be pulled. */
function imageMissing(req: StartRequest, rootless: boolean | null): AgentMachineError {
  const {ref, pull} = req.profile.spec.image
  const where = req.profile.spec.machine ? `the Podman machine "${req.profile.spec.machine.name}"` : 'Podman'
  return prerequisiteMissing(
    'IMAGE_MISSING',
    `image ${ref} is not in ${where}'s local storage, and the profile's image.pull is ${pull}.`,
    imageFix(ref, {rootless}).replace('in the profile', `in ${req.profilePath}`),
    {ref, pull, buildCommand: null, pullCommand: `podman pull ${ref}`},
  )
}
