/**
 * Everything a launch needs, checked just before it happens: the profile, the tool, every mount
 * resolved and judged again (symlinks, `..`, case variants), the repo matched against the
 * allowlist, the machine running, the image present and matching its pin. The result is a
 * ContainerSpec and the Plan that dry-run prints and a real run executes.
 */
import {randomBytes} from 'node:crypto'
import {posix} from 'node:path'

import {requireActiveProfile} from '../active-profile.js'
import {AgentMachineError, policyRefusal, prerequisiteMissing, unexpectedFailure} from '../errors.js'
import type {Runner} from '../exec.js'
import type {HostFacts} from '../host/facts.js'
import {checkDirectory} from '../host/readable.js'
import {shellQuote, step, type Plan} from '../plan/plan.js'
import {PodmanAdapter} from '../podman/adapter.js'
import type {ImageDetails, PodmanFailure} from '../podman/types.js'
import {checkProfileEnv} from '../policy/env-policy.js'
import {buildEffectivePolicy, policyHash, type EffectivePolicy} from '../policy/hash.js'
import {assertMountAllowed, judgeMountTarget, scanTreeForHazards} from '../policy/mount-policy.js'
import {realFsDeps, resolveMountSource} from '../policy/paths.js'
import type {AgentMachineProfile, ToolName} from '../profile/schema.js'
import {AGENT_HOME, buildCreateArgv, buildInspectArgv, buildStartArgv, type ContainerSpec, type LaunchMount} from './container-spec.js'
import {toPodmanPath} from './host-path.js'
import {trace} from '../util/trace.js'

export interface LaunchRequest {
  verb: 'run' | 'shell'
  /** The tool name as typed (validated here, so an unknown one is a policy refusal listing the enabled ones). */
  tool?: string
  repo: string
  /** Extra arguments after `--`, appended to the tool's command (or the shell command). */
  args: string[]
  host: HostFacts
  runner: Runner
  cwd: string
  profilePath?: string
  runId?: string
  stdinIsTTY: boolean
  stdoutIsTTY: boolean
  timeoutMs: number
}

export interface PreparedLaunch {
  runId: string
  profile: AgentMachineProfile
  profilePath: string
  spec: ContainerSpec
  policy: EffectivePolicy
  policyHash: string
  image: {ref: string; details: ImageDetails}
  podmanBinary: string
  /** Which allowlisted mount the --repo is, and the repo's resolved host path. */
  repo: {resolved: string; mount: LaunchMount}
  plan: Plan
  warnings: string[]
}

const RUN_ID_PATTERN = /^[a-z0-9][a-z0-9-]{7,62}$/

export function newRunId(): string {
  return randomBytes(8).toString('hex')
}

export async function prepareLaunch(req: LaunchRequest): Promise<PreparedLaunch> {
  const {host} = req
  const runId = req.runId ?? newRunId()
  if (!RUN_ID_PATTERN.test(runId)) {
    throw new AgentMachineError(`--run-id '${runId}' is not valid.`, {code: 'RUN_ID_INVALID', exitCode: 2, fix: 'use 8-63 lower-case letters, digits and -'})
  }
  const {path: profilePath, profile} = await requireActiveProfile(host, req.profilePath, req.cwd)
  checkProfileEnv(profile)
  const toolCommand = req.verb === 'run' ? enabledToolCommand(profile, req.tool) : ['/bin/sh']
  const warnings: string[] = []

  // Podman is asked in parallel with the filesystem checks below; its answers are used after them.
  const podman = new PodmanAdapter(req.runner, host, {timeoutMs: req.timeoutMs})
  const machine = profile.spec.machine
  const podmanFacts = Promise.all([
    machine ? podman.machineState(machine.name) : Promise.resolve(null),
    podman.imageInspect(profile.spec.image.ref),
    host.platform === 'linux' ? Promise.resolve(null) : podman.cliVersion(),
  ])
  podmanFacts.catch(() => {}) // awaited below, after the mount checks; never an unobserved rejection

  // Every allowlisted mount is resolved and judged again now: the profile may be old, and the
  // filesystem may have changed (a folder replaced by a symlink into ~/.ssh) since init.
  const deps = realFsDeps(req.cwd)
  const mounts = await Promise.all(
    profile.spec.mounts.map(async (m) => {
      const {resolved} = await resolveMountSource(m.source, host, deps)
      assertMountAllowed(resolved, host)
      const target = judgeMountTarget(m.target)
      if (!target.allowed) throw policyRefusal(target.code, target.reason, 'fix the mount target in the profile: a path under /workspace')
      const readable = await checkDirectory(resolved)
      if (readable.status !== 'ok') throw prerequisiteMissing('MOUNT_UNREADABLE', `mount ${m.source} (${resolved}) is ${readable.status}.`, 'fix the folder or remove the mount from the profile')
      return {hostSource: resolved, target: m.target, mode: m.mode}
    }),
  )
  const {resolved: repoResolved} = await resolveMountSource(req.repo, host, deps)
  const repoMount = matchRepo(repoResolved, mounts, host)
  if (!repoMount) {
    // A repo that is itself forbidden (a symlink into ~/.ssh) gets that refusal, not an `init` hint.
    assertMountAllowed(repoResolved, host)
    throw policyRefusal(
      'REPO_NOT_ALLOWLISTED',
      `--repo ${req.repo} (${repoResolved}) is not an allowlisted mount of profile '${profile.metadata.name}'.`,
      `allow it first: sourceosctl agent-machine init --repo ${shellQuote(repoResolved)}`,
    )
  }
  trace('prepare: mounts judged')
  await refuseHazards(mounts, host, warnings)
  trace('prepare: trees scanned')

  const [machineState, imageResult, cliVersion] = await podmanFacts
  if (machine && machineState && machineState.state !== 'running') {
    throw prerequisiteMissing(
      'MACHINE_NOT_RUNNING',
      `Podman machine ${machine.name} is ${machineState.state}: ${machineState.detail}`,
      machineState.fix ?? 'start it with `sourceosctl agent-machine start`',
    )
  }
  trace('prepare: image inspected')
  if (!imageResult.ok) throw imageFailure(imageResult.failure, profile)
  const image = imageResult.value
  checkImagePin(profile, image)

  const rootless = machine ? !machine.rootful : host.uid !== 0
  const pathCtx = {
    provider: machine?.provider ?? null,
    podmanVersion: cliVersion && cliVersion.ok ? cliVersion.value : null,
    sharedVolumes: null,
    machineName: machine?.name ?? null,
  }
  const launchMounts: LaunchMount[] = mounts.map((m) => ({...m, podmanSource: toPodmanPath(m.hostSource, host, pathCtx)}))
  const repoLaunchMount = launchMounts.find((m) => m.target === repoMount.mount.target)!
  const policy = buildEffectivePolicy(profile, mounts.map((m) => ({source: m.hostSource, target: m.target, mode: m.mode})), {rootless})
  const hash = policyHash(policy)

  const spec: ContainerSpec = {
    runId,
    verb: req.verb,
    tool: req.verb === 'run' ? (req.tool as ToolName) : null,
    profileName: profile.metadata.name,
    policyHash: hash,
    image: image.id,
    mounts: launchMounts,
    workdir: repoMount.workdir,
    env: containerEnv(profile, host),
    network: profile.spec.network.mode,
    resources: profile.spec.resources,
    rootless,
    interactive: true,
    tty: req.stdinIsTTY && req.stdoutIsTTY,
    command: [...toolCommand, ...req.args],
  }
  const binary = podman.binary
  const plan: Plan = {
    verb: req.verb,
    steps: [
      step(buildCreateArgv(spec, binary), `create the governed container from image ${profile.spec.image.ref} (${image.id.slice(0, 12)}) with only the allowlisted mounts`, true),
      step(buildInspectArgv(spec, binary), 'confirm the container’s mounts are exactly the planned ones before anything runs in it', false),
      step(buildStartArgv(spec, binary), `start it attached; ${req.verb === 'run' ? `the ${req.tool} exit code` : 'the shell’s exit code'} becomes the CLI’s, and --rm removes the container`, true),
    ],
  }
  return {
    runId,
    profile,
    profilePath,
    spec,
    policy,
    policyHash: hash,
    image: {ref: profile.spec.image.ref, details: image},
    podmanBinary: binary,
    repo: {resolved: repoResolved, mount: repoLaunchMount},
    plan,
    warnings,
  }
}

function enabledToolCommand(profile: AgentMachineProfile, tool: string | undefined): string[] {
  const tools = profile.spec.tools as Record<string, {enabled: boolean; command: string[]} | undefined>
  const enabled = Object.entries(tools)
    .filter(([, t]) => t?.enabled)
    .map(([name]) => name)
  const list = enabled.length > 0 ? enabled.join(', ') : 'none'
  if (!tool) throw policyRefusal('TOOL_REQUIRED', 'run needs --tool.', `pass --tool with one of the enabled tools: ${list}`)
  const entry = Object.hasOwn(tools, tool) ? tools[tool] : undefined
  if (!entry) throw policyRefusal('TOOL_UNKNOWN', `unknown tool '${tool}'.`, `use one of the enabled tools: ${list}`)
  if (!entry.enabled) throw policyRefusal('TOOL_DISABLED', `tool '${tool}' is disabled in profile '${profile.metadata.name}'.`, `use one of the enabled tools (${list}), or set spec.tools.${tool}.enabled: true in the profile`)
  return entry.command
}

/** The repo is an allowlisted mount, or a folder inside one (then the workdir follows it). */
function matchRepo(repo: string, mounts: Array<{hostSource: string; target: string}>, host: HostFacts): {mount: {target: string}; workdir: string} | null {
  const fold = (p: string) => (host.caseInsensitivePaths ? p.normalize('NFC').toLowerCase() : p)
  const sep = host.platform === 'windows' ? '\\' : '/'
  for (const m of mounts) {
    if (fold(m.hostSource) === fold(repo)) return {mount: m, workdir: m.target}
    const prefix = fold(m.hostSource.endsWith(sep) ? m.hostSource : m.hostSource + sep)
    if (fold(repo).startsWith(prefix)) {
      const rel = repo.slice(prefix.length).split(sep).filter(Boolean)
      return {mount: m, workdir: posix.join(m.target, ...rel)}
    }
  }
  return null
}

async function refuseHazards(mounts: Array<{hostSource: string}>, host: HostFacts, warnings: string[]): Promise<void> {
  for (const m of mounts) {
    const hazards = await scanTreeForHazards(m.hostSource, {host})
    const refused = hazards.filter((h) => h.severity === 'refuse')
    if (refused.length > 0) {
      const first = refused[0]!
      throw policyRefusal(
        'POLICY_HAZARD',
        `mount ${m.hostSource} holds ${first.kind} ${first.relPath}: ${first.detail}${refused.length > 1 ? ` (and ${refused.length - 1} more)` : ''}.`,
        'remove it from the repo (or mount a narrower folder); sockets, devices and credential stores never enter the container',
      )
    }
    for (const h of hazards) warnings.push(`${m.hostSource}: ${h.kind} ${h.relPath}: ${h.detail}`)
  }
}

function containerEnv(profile: AgentMachineProfile, host: HostFacts): Array<[string, string]> {
  const env: Array<[string, string]> = []
  for (const name of profile.spec.env.passthrough) {
    const value = host.env[name]
    if (value !== undefined) env.push([name, value])
  }
  for (const [name, value] of Object.entries(profile.spec.env.set)) env.push([name, value])
  if (!env.some(([name]) => name === 'HOME')) env.push(['HOME', AGENT_HOME])
  return env
}

function checkImagePin(profile: AgentMachineProfile, image: ImageDetails): void {
  const pin = profile.spec.image.digest
  if (!pin) return
  const candidates = new Set([`sha256:${image.id}`, image.digest ?? '', ...image.repoDigests.map((d) => d.slice(d.indexOf('@') + 1))])
  if (!candidates.has(pin)) {
    throw policyRefusal(
      'IMAGE_PIN_MISMATCH',
      `local image ${profile.spec.image.ref} is sha256:${image.id} (digest ${image.digest ?? 'none'}), but the profile pins ${pin}.`,
      'rebuild or pull the pinned image, or update spec.image.digest after reviewing the new image',
    )
  }
}

function imageFailure(failure: PodmanFailure, profile: AgentMachineProfile): AgentMachineError {
  const ref = profile.spec.image.ref
  if (failure.kind === 'image-missing') {
    const how = profile.spec.image.pull === 'missing' ? `run \`sourceosctl agent-machine start\` to pull it, or \`podman pull ${ref}\`` : `build it: \`make image\` (podman build -t ${ref} images/agent), or set spec.image.pull: missing to allow a pull`
    return prerequisiteMissing('IMAGE_MISSING', `image ${ref} is not in the local store.`, how)
  }
  if (failure.kind === 'not-installed' || failure.kind === 'connection-failed' || failure.kind === 'timeout' || failure.kind === 'machine-root-refused') {
    return prerequisiteMissing(`PODMAN_${failure.kind.toUpperCase().replace(/-/g, '_')}`, failure.message, failure.fix)
  }
  return unexpectedFailure('PODMAN_FAILED', failure.message, failure.fix)
}
