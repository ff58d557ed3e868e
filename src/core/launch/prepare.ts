/**
 * Everything a launch needs, checked just before it happens: the profile, the tool, every mount
 * resolved and judged again (symlinks, `..`, case variants), the repo matched against the
 * allowlist, the machine running, the image present and matching its pin. The result is a
 * ContainerSpec and the Plan that dry-run prints and a real run executes.
 */
import {imageFix} from '../image/agent-image.js'
import {randomBytes} from 'node:crypto'
import {stat} from 'node:fs/promises'
import path, {posix} from 'node:path'

import {requireActiveProfile} from '../active-profile.js'
import {AgentMachineError, policyRefusal, prerequisiteMissing, unexpectedFailure, usageError} from '../errors.js'
import type {Runner} from '../exec.js'
import {findCheckoutRoot} from '../git/layout.js'
import {bringBackStagePath, checkNewBranch, defaultBranchName, readBaseRepo, worktreeDirName, type WorktreeFacts} from '../git/worktree.js'
import type {HostFacts} from '../host/facts.js'
import {checkDirectory} from '../host/readable.js'
import {shellQuote, step, type Plan, type Step} from '../plan/plan.js'
import {readMachineShares} from '../machine/shares.js'
import {PodmanAdapter} from '../podman/adapter.js'
import {connectionArgs, podmanContext, type PodmanContext} from '../podman/context.js'
import {MachineLifecycle} from '../podman/machine-lifecycle.js'
import type {ImageDetails, PodmanFailure} from '../podman/types.js'
import {mountHolding} from '../policy/catalogue.js'
import {checkProfileEnv, passthroughEnv} from '../policy/env-policy.js'
import {buildEffectivePolicy, policyHash, type EffectivePolicy} from '../policy/hash.js'
import {assertMountAllowed, judgeMountTarget} from '../policy/mount-policy.js'
import {judgeRemoteSource} from '../policy/remote-source.js'
import {realFsDeps, resolveMountSource, resolvePolicyAliases, type FsDeps} from '../policy/paths.js'
import {readMountinfo} from '../policy/mountinfo.js'
import {scanTree, type TreeScan} from '../policy/tree-scan.js'
import {stateDir} from '../profile/location.js'
import {networkMode, type AgentMachineProfile, type ProfileMachine, type ToolName} from '../profile/schema.js'
import {AGENT_HOME, buildCreateArgv, buildInitArgv, buildInspectArgv, buildStartArgv, buildVerifyArgv, type ContainerSpec, type LaunchMount, type VerificationMethod} from './container-spec.js'
import {assertPinsHold, pinIfExists, pinSource} from './pin.js'
import {ENSURE_DIR, gitMountsFor, judgeGitTarget, readCheckout, type Checkout} from './git-mounts.js'
import {planWorktreeSteps, worktreeAfterSteps, worktreeHostSteps, type WorktreeSteps} from './bring-back.js'
import {cachedToolVersion, toolVersionProbeArgv} from './tool-version.js'
import {toPodmanPath, type PodmanPathContext} from './host-path.js'
import {protectedFileMounts} from './protected-files.js'
import {rootfulOwner} from './userns.js'
import {trace} from '../util/trace.js'
import {evidenceSteps} from './evidence-steps.js'
import type {IntegrityRoot} from '../integrity/session.js'
import {effectiveAllowlist} from '../network/allowlist.js'
import {egressSubnet, proxyEnv} from '../network/sidecar.js'
import {planLaunchEgress} from '../network/pool.js'
import {describeDoor, planDoor} from '../secrets/door.js'
import {assertDoorSecretsStored} from '../secrets/preflight.js'
import {toolStateVolumes} from '../secrets/tool-state.js'
import {egressAfter, egressBefore, egressSteps, type EgressSteps} from '../network/steps.js'
import {guardName, linkLocalGuardSteps, type GuardSteps} from '../network/link-local-guard.js'
import {enabledTools} from '../policy/hash.js'
import {judgeGitEntries} from '../git/pointers.js'
import {detachedStartSteps} from '../sessions/detach-steps.js'

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
  /** --worktree: the agent's own clone of --repo on a new branch, mounted in place of the checkout. */
  worktree?: {branch?: string; cleanBase: boolean}
  /** --dry-run: nothing will run (planning itself never runs git either way). */
  dryRun?: boolean
  /** The launch time (the default --worktree branch name is stamped with it). */
  now?: Date
  /** --detach: start the container without attaching; `podman wait` follows (sessions/detach-steps.ts). */
  detach?: boolean
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
  /**
   * The launch's machine context (podman/context.ts): every container-side step names its
   * connection (`--connection <machine>` or `<machine>-root`), every machine call its provider.
   */
  podman: PodmanContext
  /** Which allowlisted mount the --repo is, and the repo's resolved host path. */
  repo: {resolved: string; mount: LaunchMount}
  /** What `--worktree` creates (null without it). */
  worktree: WorktreeFacts | null
  /** --worktree's git steps (status, clone, checkout; the bring-back after the session), by role. */
  worktreeSteps: WorktreeSteps | null
  /**
   * Steps on the host before the container: --worktree's status/clone/checkout, creating a missing
   * git dir that is then mounted read-only. create → inspect → start follow them in `plan`.
   */
  hostSteps: Step[]
  /**
   * The tool-version probe (`podman run … <tool> --version`, src/core/launch/tool-version.ts) when
   * the state dir has no version cached for this image: the FIRST step of `plan` (it runs alongside
   * the host steps and create, and is done before start). Null when cached, and for `shell`.
   */
  probe: Step | null
  /** Host steps after the session (--worktree: bringing the branch back): the LAST steps of `plan`. */
  afterSteps: Step[]
  /** The evidence's read-only commands (evidence-steps.ts): the plan's last steps, not run by the executor. */
  evidenceSteps: Step[]
  /** The agent container's own steps, as they stand in `plan` (the same objects). */
  containerSteps: ContainerSteps
  /** The egress proxy's steps (network allowlist; network/steps.ts), as they stand in `plan`; null otherwise. */
  egress: EgressSteps | null
  /** Network open: the link-local guard's steps (network/link-local-guard.ts), as they stand in `plan`; null otherwise. */
  guard: GuardSteps | null
  plan: Plan
  warnings: string[]
  /** The read-write folders whose trust surface (git hooks, config, pointers) is checked after the session. */
  integrityRoots: IntegrityRoot[]
  /** `podman --version` when the launch already asked for it (macOS/Windows), so evidence need not ask again. */
  podmanVersion: string | null
}

export interface ContainerSteps {
  create: Step
  init: Step
  inspect: Step
  verify: Step
  start: Step
  /** --detach only: `podman wait` for the session's end, then its output kept (after the start in the plan). */
  wait?: Step
  saveLog?: Step
}

const RUN_ID_PATTERN = /^[a-z0-9][a-z0-9-]{7,62}$/

export function newRunId(): string {
  return randomBytes(8).toString('hex')
}

export async function prepareLaunch(req: LaunchRequest): Promise<PreparedLaunch> {
  const pinned: LaunchMount[] = []
  try {
    return await prepareChecked(req, pinned)
  } catch (error) {
    // A folder swapped while it was checked can surface as any failure (a file "missing" under it,
    // a git layout that makes no sense): when a pin no longer holds, the swap is the refusal.
    if (!(error instanceof AgentMachineError && error.code === 'MOUNT_SWAPPED')) await assertPinsHold(pinned, undefined, {moved: true})
    throw error
  }
}

async function prepareChecked(req: LaunchRequest, pinned: LaunchMount[]): Promise<PreparedLaunch> {
  const {host} = req
  const runId = req.runId ?? newRunId()
  if (!RUN_ID_PATTERN.test(runId)) {
    throw new AgentMachineError(`--run-id '${runId}' is not valid.`, {code: 'RUN_ID_INVALID', exitCode: 2, fix: 'use 8-63 lower-case letters, digits and -'})
  }
  const {path: profilePath, profile} = await requireActiveProfile(host, req.profilePath, req.cwd)
  checkProfileEnv(profile)
  // Passthrough values live in the host env: checked now, before anything else (never echoed).
  const passthrough = passthroughEnv(profile, host)
  const toolCommand = req.verb === 'run' ? enabledToolCommand(profile, req.tool) : ['/bin/sh']
  const warnings: string[] = []

  // A remote Podman host: its sources are paths there, judged as strings (prepareRemote).
  if (profile.spec.connection) return prepareRemote(req, {runId, profile, profilePath, connection: profile.spec.connection, passthrough, toolCommand, warnings})
  // Podman is asked in parallel with the filesystem checks below; its answers are used after them.
  const machine = profile.spec.machine
  const cliVersionP = host.platform === 'linux' ? Promise.resolve(null) : new PodmanAdapter(req.runner, host, {timeoutMs: req.timeoutMs}).cliVersion()
  // One machine context for every podman call of this launch (podman/context.ts): the profile's
  // connection on each container-side call; its provider on each `podman machine` call (a
  // containers.conf setting may select another).
  const podmanFacts = cliVersionP.then((v) => {
    const ctx = podmanContext({host, machine, podmanVersion: v && v.ok ? v.value : null})
    const podman = new PodmanAdapter(req.runner, host, {timeoutMs: req.timeoutMs, context: ctx})
    return Promise.all([
      machine ? podman.machineState(machine.name) : Promise.resolve(null),
      podman.imageInspect(profile.spec.image.ref),
      v,
      // macOS: the folders the machine really shares (a narrowed machine shares only the repos).
      host.platform === 'macos' && machine ? machineSharedFolders(req.runner, host, ctx, req.timeoutMs) : Promise.resolve(null),
      ctx,
    ] as const)
  })
  podmanFacts.catch(() => {}) // awaited below, after the mount checks; never an unobserved rejection

  // Every allowlisted mount is resolved and judged again now: the profile may be old, and the
  // filesystem may have changed (a folder replaced by a symlink into ~/.ssh) since init.
  const deps = realFsDeps(req.cwd)
  const verification = verificationMethod(host, machine)
  const mounts = await Promise.all(
    profile.spec.mounts.map(async (m) => {
      const {resolved} = await resolveMountSource(m.source, host, deps)
      assertMountAllowed(resolved, host)
      const target = judgeMountTarget(m.target)
      if (!target.allowed) throw policyRefusal(target.code, target.reason, 'fix the mount target in the profile: a path under /workspace')
      const readable = await checkDirectory(resolved)
      if (readable.status !== 'ok') throw prerequisiteMissing('MOUNT_UNREADABLE', `mount ${m.source} (${resolved}) is ${readable.status}.`, 'fix the folder or remove the mount from the profile')
      // Pinned right after the judgement: the container must get this very folder (container-view.ts).
      const pin = verification === 'proc-root-inode' ? await pinSource(resolved) : undefined
      const mount = {hostSource: resolved, target: m.target, mode: m.mode, ...(pin ? {pin} : {})}
      pinned.push({...mount, podmanSource: resolved})
      return mount
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
  // The profile in use (a --profile-file too, which the catalogue cannot name in advance) must be
  // out of the agent's reach: it decides the next launch's mounts, env and write protection.
  const realProfile = await deps.realpath(profilePath).catch(() => profilePath)
  const holder = mountHolding(realProfile, mounts, host)
  if (holder) {
    throw policyRefusal('PROFILE_IN_MOUNT', `the profile ${profilePath} is inside the mount ${holder.hostSource} → ${holder.target}: the agent could rewrite it, and the next launch would obey it.`, 'keep the profile outside every mounted folder (the default is in the config dir)')
  }
  const scans = await refuseHazards(mounts, host, warnings, req.dryRun === true)
  await judgeGitEntries([...scans.values()].flatMap((scan) => scan.gitEntries), mounts.map((m) => m.hostSource))
  const wt = req.worktree ? await planWorktree(req, runId, repoResolved, mounts.find((m) => m.target === repoMount.mount.target)!, deps, warnings) : null
  trace('prepare: trees scanned')

  const [machineState, imageResult, cliVersion, sharedVolumes, podmanCtx] = await podmanFacts
  if (machine && machineState && machineState.state !== 'running') {
    throw prerequisiteMissing(
      'MACHINE_NOT_RUNNING',
      `Podman machine ${machine.name} is ${machineState.state}: ${machineState.detail}`,
      machineState.fix ?? 'start it with `sourceosctl agent-machine start`',
    )
  }
  trace('prepare: image inspected')
  if (!imageResult.ok) throw imageFailure(imageResult.failure, profile, podmanCtx)
  const image = imageResult.value
  checkImagePin(profile, image)

  const rootless = machine ? !machine.rootful : host.uid !== 0
  const pathCtx = {
    provider: machine?.provider ?? null,
    podmanVersion: cliVersion && cliVersion.ok ? cliVersion.value : null,
    sharedVolumes,
    machineName: machine?.name ?? null,
  }
  const launchMounts: LaunchMount[] = mounts.map((m) => ({...m, podmanSource: toPodmanPath(m.hostSource, host, pathCtx)}))
  let repoLaunchMount = launchMounts.find((m) => m.target === repoMount.mount.target)!
  let workdir = repoMount.workdir
  if (wt) {
    // The worktree takes the place of the user's checkout: same target, same mode.
    const wtMount: LaunchMount = {hostSource: wt.facts.path, podmanSource: toPodmanPath(wt.facts.path, host, pathCtx), target: wt.facts.target, mode: repoLaunchMount.mode}
    if (wt.facts.target === repoLaunchMount.target) launchMounts[launchMounts.indexOf(repoLaunchMount)] = wtMount
    else launchMounts.push(wtMount)
    repoLaunchMount = wtMount
    workdir = wt.workdir
  }
  const own = await checkoutsOf(launchMounts, wt, repoResolved, repoLaunchMount, host, warnings)
  const checkouts = [...own, ...(await nestedCheckouts(launchMounts, scans, own, host, warnings))]
  const git = await gitMountsFor(
    checkouts,
    {
      host,
      deps,
      pathCtx,
      primaries: launchMounts,
      pending: (p) => (wt ? isInsideOrSame(wt.facts.path, p) : false),
    },
    warnings,
  )
  const wtMounts = wt ? worktreeMounts(wt, [...launchMounts, ...git.mounts], host, pathCtx) : []
  await refuseGitDirHazards([...git.mounts, ...wtMounts], mounts, host, warnings, req.dryRun === true)
  // Write-protected files (.envrc, .vscode/, .mcp.json, …) of each read-write checkout: read-only on top (protected-files.ts).
  const protectMounts = await protectedFileMounts({
    checkouts: launchMounts,
    settings: new Map(mounts.map((m, i) => [m.hostSource, profile.spec.mounts[i]?.writeProtect])),
    scans,
    host,
    podmanPath: (p) => toPodmanPath(p, host, pathCtx),
    existing: [...launchMounts, ...git.mounts, ...wtMounts],
  })
  if (verification === 'proc-root-inode') {
    // Git internals are pinned once judged; those a plan step creates, once they exist (execute.ts).
    for (const m of [...git.mounts, ...wtMounts, ...protectMounts]) m.pin ??= (await pinIfExists(m.hostSource)) ?? undefined
    pinned.push(...git.mounts, ...wtMounts, ...protectMounts)
    // A folder swapped while it was scanned is refused before anything is created.
    await assertPinsHold([...launchMounts, ...git.mounts, ...wtMounts, ...protectMounts])
  }
  // the Secrets Door's secrets must be stored (names only are read; secrets/preflight.ts)
  await assertDoorSecretsStored(profile, req.runner, podmanCtx)
  const policy = buildEffectivePolicy(profile, mounts.map((m) => ({source: m.hostSource, target: m.target, mode: m.mode})), {rootless})
  const hash = policyHash(policy)

  // Rootful: the agent's files belong to the owner of the checkout it works in (userns.ts).
  const hostOwner = rootless ? undefined : await rootfulOwner(repoLaunchMount.hostSource)
  // native rootless Linux: run as the user (not the image's USER), who owns the mounts
  const rootlessUser = rootless && !machine && host.platform === 'linux' && host.uid !== null ? {uid: host.uid, gid: process.getgid?.() ?? host.uid} : undefined
  const spec: ContainerSpec = {
    runId,
    verb: req.verb,
    tool: req.verb === 'run' ? (req.tool as ToolName) : null,
    profileName: profile.metadata.name,
    policyHash: hash,
    image: image.id,
    mounts: [...launchMounts, ...git.mounts, ...wtMounts, ...protectMounts],
    workdir,
    // proxy: shared: the agent joins its slot's network holder where its user is known (rootful; rootless: native Linux, like the link-local guard)
    ...networkSpec(profile, runId, image.id, passthrough, warnings, {state: stateDir(host), connection: podmanCtx.connection, dryRun: req.dryRun === true, holder: !rootless || rootlessUser ? {rootless} : null}),
    resources: profile.spec.resources,
    rootless,
    ...(hostOwner ? {hostOwner} : {}),
    ...(rootlessUser ? {rootlessUser} : {}),
    interactive: true,
    tty: req.stdinIsTTY && req.stdoutIsTTY,
    command: [...toolCommand, ...doorToolArgs(profile, runId, req), ...req.args],
    verification,
  }
  keepGuardWhereItHolds(spec, warnings)
  const hostSteps: Step[] = wt ? worktreeHostSteps(wt.steps).map((s) => s.step) : []
  for (const dir of git.ensureDirs) {
    const why = path.basename(dir) === 'hooks' ? `create the missing hooks folder (empty) so it is mounted read-only: otherwise the agent could add hooks the host runs` : `create the missing folder ${dir} that commits in the container write to`
    hostSteps.push(step([ENSURE_DIR, dir], why, true))
  }
  const probe = await toolVersionProbe(req, toolCommand, podmanCtx, image.id, rootless)
  const afterSteps = wt ? worktreeAfterSteps(wt.steps) : []
  const evidence = evidenceSteps(spec, podmanCtx, {platform: host.platform, podmanVersionKnown: pathCtx.podmanVersion !== null, worktreeRepo: wt?.facts.repo})
  const egress = spec.egress ? egressSteps(spec.egress, podmanCtx) : null
  const guard = spec.guard ? linkLocalGuardSteps({runId, image: image.id, rootless}, podmanCtx) : null
  const containerSteps: ContainerSteps = {
    create: step(buildCreateArgv(spec, podmanCtx), `create the governed container from image ${profile.spec.image.ref} (${image.id.slice(0, 12)}) with only the allowlisted mounts${git.mounts.length > 0 ? ' (and their git internals: hooks and config read-only)' : ''}${networkWhy(spec)}`, true),
    ...initAndInspectSteps(spec, podmanCtx),
    verify: step(buildVerifyArgv(spec), verifyWhy(verification, rootless), false),
    start: step(
      buildStartArgv(spec, podmanCtx),
      `start it attached; ${req.verb === 'run' ? `the ${req.tool} exit code` : 'the shell’s exit code'} becomes the CLI’s, and --rm removes the container. Just before the start, the git hooks, config and pointers of every read-write mount are recorded; after the session they are checked and anything planted is quarantined (exit 6, docs/threat-model.md); only then does the evidence read each checkout’s git state again (the last steps)`,
      true,
    ),
  }
  if (req.detach) Object.assign(containerSteps, detachedStartSteps(runId, podmanCtx, req.verb, containerSteps.create))
  const plan = assemblePlan(req.verb, {probe, hostSteps, egress, guard, containerSteps, afterSteps, evidence})
  return {
    runId,
    profile,
    profilePath,
    spec,
    policy,
    policyHash: hash,
    image: {ref: profile.spec.image.ref, details: image},
    podmanBinary: podmanCtx.binary,
    podman: podmanCtx,
    repo: {resolved: repoResolved, mount: repoLaunchMount},
    worktree: wt?.facts ?? null,
    worktreeSteps: wt?.steps ?? null,
    hostSteps,
    probe,
    afterSteps,
    evidenceSteps: evidence,
    containerSteps,
    egress,
    guard,
    plan,
    warnings,
    integrityRoots: integrityRootsOf(spec.mounts, scans),
    podmanVersion: pathCtx.podmanVersion,
  }
}

/** What only a remote launch leaves unverified (added to the result's warnings; docs/threat-model.md). */
export const REMOTE_UNVERIFIED = [
  'the mount sources are folders on the remote Podman host: this host did not stat, scan (no hazard scan: sockets, links into secrets, mount points, hard links) or pin them, and symlinks there are followed by podman, not judged here',
  'git hooks and config of the remote checkouts are not mounted read-only, and the after-session integrity check was NOT done (it would read a local folder of the same name, not the remote one): do not run git on the remote host’s copies of these repos before reviewing them',
  'the evidence records no git state of the remote checkouts',
]

interface RemoteInput {
  runId: string
  profile: AgentMachineProfile
  profilePath: string
  connection: string
  passthrough: ReadonlyArray<[string, string]>
  toolCommand: string[]
  warnings: string[]
}

/**
 * A launch on a remote Podman host (spec.connection): every mount source is judged as a string
 * (policy/remote-source.ts; nothing of it can be read here), the container is created through the
 * connection and verified by inspect-paths. No git-internal or write-protect mounts (they read the
 * local .git), no --worktree, no after-session integrity check: all said in the warnings.
 */
async function prepareRemote(req: LaunchRequest, r: RemoteInput): Promise<PreparedLaunch> {
  const {host} = req
  const {profile, runId, warnings} = r
  if (req.worktree) {
    throw usageError('REMOTE_WORKTREE_UNSUPPORTED', `--worktree is not supported with a remote Podman host (connection ${r.connection}): the clone would be made on this host, not on the server.`, 'run without --worktree, or make a branch on the remote host yourself')
  }
  const podmanCtx = podmanContext({host, connection: r.connection})
  const podman = new PodmanAdapter(req.runner, host, {timeoutMs: req.timeoutMs, context: podmanCtx})
  const factsP = Promise.all([podman.info(), podman.imageInspect(profile.spec.image.ref), assertDoorSecretsStored(profile, req.runner, podmanCtx)] as const)
  factsP.catch(() => {}) // awaited below, after the path judgement
  const mounts: LaunchMount[] = profile.spec.mounts.map((m) => {
    const source = judgeRemoteSource(m.source, host, 'mount')
    const target = judgeMountTarget(m.target)
    if (!target.allowed) throw policyRefusal(target.code, target.reason, 'fix the mount target in the profile: a path under /workspace')
    return {hostSource: source, podmanSource: source, target: m.target, mode: m.mode}
  })
  const repo = judgeRemoteSource(req.repo, host, '--repo')
  const repoMatch = matchRepo(repo, mounts, {...host, platform: 'linux', caseInsensitivePaths: false})
  if (!repoMatch) {
    throw policyRefusal('REPO_NOT_ALLOWLISTED', `--repo ${req.repo} is not an allowlisted mount of profile '${profile.metadata.name}' (remote Podman host ${r.connection}).`, `add it to spec.mounts in ${r.profilePath} as an absolute path on the remote host`)
  }
  const [info, imageResult] = await factsP
  if (!info.ok) throw prerequisiteMissing('PODMAN_CONNECTION_FAILED', `the remote Podman host ${r.connection} does not answer: ${info.failure.message}`, `check it with \`podman --connection ${r.connection} info\` (${info.failure.fix})`)
  if (!imageResult.ok) throw imageFailure(imageResult.failure, profile, podmanCtx)
  const image = imageResult.value
  checkImagePin(profile, image)
  const rootless = info.value.rootless
  for (const line of REMOTE_UNVERIFIED) warnings.push(`remote Podman host ${r.connection}: ${line}`)
  const policy = buildEffectivePolicy(profile, mounts.map((m) => ({source: m.hostSource, target: m.target, mode: m.mode})), {rootless})
  const hash = policyHash(policy)
  const repoMount = mounts.find((m) => m.target === repoMatch.mount.target)!
  const spec: ContainerSpec = {
    runId,
    verb: req.verb,
    tool: req.verb === 'run' ? (req.tool as ToolName) : null,
    profileName: profile.metadata.name,
    policyHash: hash,
    image: image.id,
    mounts,
    workdir: repoMatch.workdir,
    ...networkSpec(profile, runId, image.id, r.passthrough, warnings, {state: stateDir(host), connection: podmanCtx.connection, dryRun: req.dryRun === true, holder: rootless ? null : {rootless}}),
    resources: profile.spec.resources,
    rootless,
    interactive: true,
    tty: req.stdinIsTTY && req.stdoutIsTTY,
    command: [...r.toolCommand, ...doorToolArgs(profile, runId, req), ...req.args],
    verification: 'inspect-paths',
  }
  keepGuardWhereItHolds(spec, warnings)
  const probe = await toolVersionProbe(req, r.toolCommand, podmanCtx, image.id, rootless)
  const evidence = evidenceSteps(spec, podmanCtx, {platform: req.host.platform, podmanVersionKnown: false})
  const egress = spec.egress ? egressSteps(spec.egress, podmanCtx) : null
  const guard = spec.guard ? linkLocalGuardSteps({runId, image: image.id, rootless}, podmanCtx) : null
  const containerSteps: ContainerSteps = {
    create: step(buildCreateArgv(spec, podmanCtx), `create the governed container on the remote Podman host ${r.connection} from image ${profile.spec.image.ref} (${image.id.slice(0, 12)}) with only the allowlisted mounts (paths on that host; podman refuses a source that does not exist there)${networkWhy(spec)}`, true),
    ...initAndInspectSteps(spec, podmanCtx),
    verify: step(buildVerifyArgv(spec), 'compare the effective configuration (mounts by source path, env, devices, capabilities, security options) with the plan; podman runs on a remote host, so the container’s view cannot be read from this host', false),
    start: step(
      buildStartArgv(spec, podmanCtx),
      `start it attached; ${req.verb === 'run' ? `the ${req.tool} exit code` : 'the shell’s exit code'} becomes the CLI’s, and --rm removes the container. No after-session integrity check: the read-write folders are on the remote host (see the warnings)`,
      true,
    ),
  }
  if (req.detach) Object.assign(containerSteps, detachedStartSteps(runId, podmanCtx, req.verb, containerSteps.create))
  const plan = assemblePlan(req.verb, {probe, hostSteps: [], egress, guard, containerSteps, afterSteps: [], evidence})
  return {
    runId,
    profile,
    profilePath: r.profilePath,
    spec,
    policy,
    policyHash: hash,
    image: {ref: profile.spec.image.ref, details: image},
    podmanBinary: podmanCtx.binary,
    podman: podmanCtx,
    repo: {resolved: repo, mount: repoMount},
    worktree: null,
    worktreeSteps: null,
    hostSteps: [],
    probe,
    afterSteps: [],
    evidenceSteps: evidence,
    containerSteps,
    egress,
    guard,
    plan,
    warnings,
    integrityRoots: [],
    podmanVersion: null,
  }
}

interface PlannedWorktree {
  facts: WorktreeFacts
  /** The git steps around the clone (before the container, and bringing the branch back after it). */
  steps: WorktreeSteps
  workdir: string
}

/**
 * --worktree: reads the base repo FROM ITS FILES (no git: a dry run runs none, and a real run plans
 * the same), refuses bad input before anything exists, and decides the branch, the clone's folder
 * and the mount target. The clone, the checkout and the bring-back after the session are plan steps.
 */
async function planWorktree(req: LaunchRequest, runId: string, repoResolved: string, mount: {hostSource: string; target: string}, deps: FsDeps, warnings: string[]): Promise<PlannedWorktree> {
  const {host} = req
  if (host.platform === 'windows') {
    throw usageError('WORKTREE_UNSUPPORTED', '--worktree is not supported on Windows yet: git there writes C:/… paths that git in the Linux container cannot follow.', 'run without --worktree, or create a worktree inside WSL')
  }
  const api = path.posix
  const base = await readBaseRepo(repoResolved, {within: mount.hostSource})
  const {toplevel, commonDir} = base
  const rel = api.relative(mount.hostSource, toplevel)
  const branch = req.worktree!.branch ?? defaultBranchName(req.verb === 'run' ? (req.tool ?? 'tool') : 'shell', req.now ?? new Date())
  checkNewBranch(base, branch, {caseInsensitive: host.caseInsensitivePaths})

  const root = await realpathOfNearest(api.resolve(req.cwd, stateDir(host), 'worktrees'), deps)
  const wtPath = api.join(root, worktreeDirName(toplevel, runId))
  for (const p of [wtPath, bringBackStagePath(wtPath)]) {
    if (await exists(p)) throw usageError('WORKTREE_PATH_EXISTS', `${p} already exists, so the clone of run ${runId} cannot be created there.`, 'use a new --run-id, or remove that folder')
  }
  if (isInsideOrSame(toplevel, wtPath)) {
    throw usageError('WORKTREE_IN_REPO', `the clone ${wtPath} would be inside the repo ${toplevel} (the state dir is inside it).`, 'point SOURCEOSCTL_STATE_DIR outside the repo')
  }
  // Not in the profile's allowlist: derived from an allowlisted repo, but judged all the same; so is
  // the user's objects dir the clone borrows (mounted read-only at its own path).
  const aliases = await resolvePolicyAliases(host, deps)
  assertMountAllowed(wtPath, host, {aliases})
  assertMountAllowed(base.objectsDir, host, {aliases})
  if (req.dryRun) warnings.push(`dry run: whether ${toplevel} has uncommitted changes is not known (that takes git, and a dry run runs none); a real run reads it first${req.worktree!.cleanBase ? ' and --clean-base refuses a dirty checkout there' : ''}`)
  const target = api.join(mount.target, ...rel.split('/').filter(Boolean))
  const inRepo = api.relative(toplevel, repoResolved)
  const workdir = inRepo.startsWith('..') ? target : api.join(target, ...inRepo.split('/').filter(Boolean))
  const facts: WorktreeFacts = {repo: toplevel, path: wtPath, branch, baseCommit: base.head, commonDir, target}
  return {facts, steps: planWorktreeSteps(facts, {objectsDir: base.objectsDir, runId, cleanBase: req.worktree!.cleanBase}), workdir}
}

/**
 * What --worktree mounts besides the clone: the user's objects dir, read-only at its own path (the
 * clone's alternates name it), and the clone's alternates file, read-only (the agent cannot point
 * its clone at other objects; the bring-back checks it again). Nothing else of the user's repo.
 */
function worktreeMounts(wt: PlannedWorktree, others: readonly LaunchMount[], host: HostFacts, pathCtx: PodmanPathContext): LaunchMount[] {
  const objects = wt.steps.objectsDir
  const why = judgeGitTarget(objects)
  if (why) throw policyRefusal('GIT_MOUNT_TARGET', `cannot mount your objects dir ${objects} at ${why}.`, 'move the repository to a plain path (no : , or control characters)')
  const clash = others.find((m) => isInsideOrSame(m.target, objects) || isInsideOrSame(objects, m.target))
  if (clash) {
    throw policyRefusal('GIT_MOUNT_CONFLICT', `your objects dir ${objects} is mounted at its own path for the clone, which overlaps the mount ${clash.target}.`, 'change that mount target in the profile, or run without --worktree')
  }
  const alternates = path.posix.join(wt.facts.path, '.git', 'objects', 'info', 'alternates')
  return [
    {hostSource: objects, podmanSource: toPodmanPath(objects, host, pathCtx), target: objects, mode: 'ro', role: 'git'},
    {hostSource: alternates, podmanSource: toPodmanPath(alternates, host, pathCtx), target: path.posix.join(wt.facts.target, '.git', 'objects', 'info', 'alternates'), mode: 'ro', role: 'git'},
  ]
}

/** The tool-version probe step (tool-version.ts), when the state dir has no version of this tool for this image. */
async function toolVersionProbe(req: LaunchRequest, toolCommand: string[], podman: PodmanContext, imageId: string, rootless: boolean): Promise<Step | null> {
  if (req.verb !== 'run' || !req.tool) return null
  if (await cachedToolVersion(stateDir(req.host), imageId, req.tool)) return null
  return step(
    toolVersionProbeArgv({podman, imageId, command: toolCommand, rootless}),
    `read the ${req.tool} version inside the image for the evidence: it is not cached for this image yet (once per image; runs alongside the next steps, with no mounts and no network)`,
    true,
  )
}

/**
 * The checkouts whose git internals get mounts: every mount's root, the --repo's own checkout
 * when it is a folder inside a mount, and the new worktree (by the layout it will have).
 */
async function checkoutsOf(
  launchMounts: readonly LaunchMount[],
  wt: PlannedWorktree | null,
  repoResolved: string,
  repoMount: LaunchMount,
  host: HostFacts,
  warnings: string[],
): Promise<Checkout[]> {
  const out: Checkout[] = []
  for (const m of launchMounts) {
    if (wt && m.hostSource === wt.facts.path) continue
    const c = await readCheckout(m.hostSource, m.target, m.mode, host, warnings)
    if (c) out.push(c)
  }
  if (wt) {
    // The clone, by the layout `git clone --template=` gives it: a plain .git with a config and no
    // hooks folder (the plan creates it empty, so it is mounted read-only like any repo's).
    const f = wt.facts
    out.push({
      layout: {kind: 'repo', root: f.path, gitDir: path.posix.join(f.path, '.git'), dotGitIsSymlink: false, entries: {config: 'file'}},
      rootTarget: f.target,
      mode: repoMount.mode,
    })
  } else {
    const root = await findCheckoutRoot(repoResolved, repoMount.hostSource, host.platform)
    if (root && root !== repoMount.hostSource) {
      const api = host.platform === 'windows' ? path.win32 : path.posix
      const rel = api.relative(repoMount.hostSource, root).split(api.sep).filter(Boolean)
      const c = await readCheckout(root, posix.join(repoMount.target, ...rel), repoMount.mode, host, warnings)
      if (c) out.push(c)
    }
  }
  return out
}

/**
 * Every other repository inside a read-write checkout mount (nested repos, sibling repos under an
 * allowlisted parent) gets the same read-only hooks and config as the --repo's own.
 */
async function nestedCheckouts(
  launchMounts: readonly LaunchMount[],
  scans: ReadonlyMap<string, TreeScan>,
  already: readonly Checkout[],
  host: HostFacts,
  warnings: string[],
): Promise<Checkout[]> {
  const rootOf = (c: Checkout): string => ('layout' in c ? c.layout.root : path.dirname(c.brokenPointer))
  const seen = new Set(already.map(rootOf))
  const out: Checkout[] = []
  for (const m of launchMounts) {
    const scan = m.mode === 'rw' && m.role !== 'git' ? scans.get(m.hostSource) : undefined
    if (!scan) continue
    for (const entry of scan.gitEntries) {
      // Bare-looking folders have no checkout to mount around; the after-session check covers them.
      if (path.basename(entry.path).toLowerCase() !== '.git') continue
      const root = path.dirname(entry.path)
      if (seen.has(root) || !isInsideOrSame(m.hostSource, root)) continue
      seen.add(root)
      const rel = path.relative(m.hostSource, root).split(path.sep).filter(Boolean)
      const rootTarget = posix.join(m.target, ...rel)
      // A repo whose place in the container another mount covers (--worktree's clone over the
      // user's repo inside an allowlisted parent) is not visible there: nothing of it to protect.
      if (launchMounts.some((o) => o !== m && o.target.startsWith(`${m.target}/`) && (rootTarget === o.target || rootTarget.startsWith(`${o.target}/`)))) continue
      const c = await readCheckout(root, rootTarget, 'rw', host, warnings)
      if (c) out.push(c)
    }
  }
  return out
}

/**
 * Every read-write folder the agent gets: the checkout mounts (with the scan just made; a new
 * worktree is scanned when its baseline is taken) and read-write git dirs outside them.
 */
function integrityRootsOf(mounts: readonly LaunchMount[], scans: ReadonlyMap<string, TreeScan>): IntegrityRoot[] {
  const checkouts = mounts.filter((m) => m.mode === 'rw' && m.role !== 'git')
  const roots: IntegrityRoot[] = checkouts.map((m) => {
    const scan = scans.get(m.hostSource)
    return scan ? {root: m.hostSource, scan: {root: scan.root, gitEntries: scan.gitEntries, writeProtected: scan.writeProtected}} : {root: m.hostSource}
  })
  for (const m of mounts) {
    if (m.mode !== 'rw' || m.role !== 'git' || checkouts.some((c) => isInsideOrSame(c.hostSource, m.hostSource))) continue
    roots.push({root: m.hostSource, standalone: true})
  }
  return roots
}

/** Git dirs outside every scanned mount (a worktree's common dir) get the same hazard scan. */
async function refuseGitDirHazards(gitMounts: readonly LaunchMount[], scanned: ReadonlyArray<{hostSource: string}>, host: HostFacts, warnings: string[], dryRun: boolean): Promise<void> {
  const roots = scanned.map((m) => m.hostSource)
  for (const m of gitMounts) {
    if (roots.some((r) => isInsideOrSame(r, m.hostSource))) continue
    const s = await stat(m.hostSource).catch(() => null)
    if (!s?.isDirectory()) continue
    roots.push(m.hostSource)
    await refuseHazards([m], host, warnings, dryRun)
  }
}

/**
 * proc-root-inode where podman runs on this host (Linux without a machine or a remote connection);
 * inspect-paths where it runs in a VM and the host cannot see the container's processes.
 */
export function verificationMethod(host: HostFacts, machine: ProfileMachine | undefined): VerificationMethod {
  const remote = Boolean(host.env.CONTAINER_HOST || host.env.CONTAINER_CONNECTION)
  return host.platform === 'linux' && !machine && !remote ? 'proc-root-inode' : 'inspect-paths'
}

function verifyWhy(method: VerificationMethod, rootless: boolean): string {
  if (method === 'inspect-paths') {
    return 'compare the effective configuration (mounts by source path, env, devices, capabilities, security options, user namespace) with the plan; podman runs in a VM, so the container’s view cannot be read from this host'
  }
  const fallback = rootless ? '; if the host refuses /proc/<pid>/root, the same reads run as `podman unshare sh -c …`, and a runtime other than runc has its OCI config read with `podman unshare cat`' : ''
  return `compare the effective configuration (env, devices, capabilities, security options, user namespace) with the plan, then read the initialized container’s view: each mount target must be the device and inode pinned when its source was judged, /proc/<pid>/mountinfo must hold nothing unplanned, /run/secrets must be empty${fallback}`
}

function isInsideOrSame(parent: string, child: string): boolean {
  const api = parent.includes('\\') ? path.win32 : path.posix
  const rel = api.relative(parent, child)
  return rel === '' || (!rel.startsWith('..') && !api.isAbsolute(rel))
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    (error: NodeJS.ErrnoException) => error.code !== 'ENOENT',
  )
}

/** realpath of the longest existing prefix, with the rest appended (the folder may not exist yet). */
async function realpathOfNearest(p: string, deps: Pick<FsDeps, 'realpath'>): Promise<string> {
  try {
    return await deps.realpath(p)
  } catch {
    const parent = path.dirname(p)
    if (parent === p) return p
    return path.join(await realpathOfNearest(parent, deps), path.basename(p))
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

/**
 * Scans each mount's whole tree; refuses (POLICY_HAZARD) the first mount holding a refuse-level
 * hazard, queues the warnings, and returns every scan keyed by hostSource (its gitEntries and
 * writeProtected lists feed the git and write-protect layout).
 */
async function refuseHazards(mounts: Array<{hostSource: string}>, host: HostFacts, warnings: string[], dryRun = false): Promise<Map<string, TreeScan>> {
  const scans = new Map<string, TreeScan>()
  // The hard-link check's cache of the denied folders: under the state dir, never inside a mount.
  // A dry run writes nothing, caches included: it scans without them.
  const denyCacheFile = dryRun ? null : path.join(stateDir(host), 'scan-cache', 'deny-inodes.json')
  // The tree scan's per-folder cache (names and types of folders unchanged since the last launch).
  const treeCacheDir = dryRun ? null : path.join(stateDir(host), 'scan-cache')
  // One read of the mount table for the scans of this pass, as they start (a read and parse each).
  const mountTable = readMountinfo()
  for (const m of mounts) {
    const scan = await scanTree(m.hostSource, {host, denyCacheFile, treeCacheDir, mounts: mountTable})
    scans.set(m.hostSource, scan)
    const hazards = scan.hazards
    const refused = hazards.filter((h) => h.severity === 'refuse')
    if (refused.length > 0) {
      const first = refused[0]!
      throw policyRefusal(
        'POLICY_HAZARD',
        `mount ${m.hostSource} holds ${first.kind} ${first.relPath}: ${first.detail}${refused.length > 1 ? ` (and ${refused.length - 1} more)` : ''}.`,
        hazardFix(first.kind, first.path),
      )
    }
    for (const h of hazards) warnings.push(`${m.hostSource}: ${h.kind} ${h.relPath}: ${h.detail}`)
  }
  return scans
}

function hazardFix(kind: TreeScan['hazards'][number]['kind'], at: string): string {
  const q = shellQuote(at)
  switch (kind) {
    case 'mount-point':
      return `unmount it (umount ${q}) or mount a narrower folder: podman binds recursively, so nothing mounted under an allowlisted folder may enter the container`
    case 'hardlink-sensitive':
      return `delete the hard link (rm ${q}: the original stays where it is) or replace it with a copy that holds no secret`
    case 'alias-sensitive':
      return 'mount the project folder under its own name, not a bind mount or alias of a denied folder or of one that holds it'
    default:
      return 'remove it from the repo (or mount a narrower folder); sockets, FIFOs, devices, credential stores and links into secrets never enter the container'
  }
}

/** The container's env: the passthrough values (checked by passthroughEnv), spec.env.set, HOME. */
/**
 * The plan, in order: [tool-version probe] → host steps → [egress network and proxy] → create →
 * init → inspect → verify → [wait for the proxy] → start → [proxy log, proxy and network removed]
 * → after-session host steps → the evidence's reads. execute.ts runs these same Step objects.
 */
function assemblePlan(verb: 'run' | 'shell', p: {probe: Step | null; hostSteps: Step[]; egress: EgressSteps | null; guard: GuardSteps | null; containerSteps: ContainerSteps; afterSteps: Step[]; evidence: Step[]}): Plan {
  const c = p.containerSteps
  return {
    verb,
    steps: [
      ...(p.probe ? [p.probe] : []),
      ...p.hostSteps,
      ...(p.egress ? egressBefore(p.egress) : []),
      ...(p.guard ? [p.guard.create, p.guard.start, p.guard.ready] : []),
      c.create,
      c.init,
      c.inspect,
      c.verify,
      ...(p.egress ? [p.egress.ready] : []),
      c.start,
      ...(c.wait ? [c.wait] : []),
      ...(c.saveLog ? [c.saveLog] : []),
      ...(p.egress ? egressAfter(p.egress) : []),
      ...(p.guard ? [p.guard.remove] : []),
      ...p.afterSteps,
      ...p.evidence,
    ],
  }
}

/** The two container steps every launch has alike, local or remote. */
function initAndInspectSteps(spec: ContainerSpec, ctx: PodmanContext): Pick<ContainerSteps, 'init' | 'inspect'> {
  return {
    init: step(buildInitArgv(spec, ctx), 'set the container up (mounts, namespaces) without starting anything in it', true),
    inspect: step(buildInspectArgv(spec, ctx), 'read the container’s effective configuration and its init process id', false),
  }
}

/** Proxy variables the allowlist sets itself: a profile's own value would route around (or break) the proxy. */
const PROXY_VARS = new Set(['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'ALL_PROXY', 'NODE_USE_ENV_PROXY'])

/**
 * The container's network and environment: `none`, `open` (podman's default network; the
 * deprecated name `default` warns), or `allowlist` (the run's internal network behind the proxy
 * sidecar, with the proxy variables set; network/sidecar.ts).
 */
function networkSpec(profile: AgentMachineProfile, runId: string, imageId: string, passthrough: ReadonlyArray<[string, string]>, warnings: string[], pool: {state: string; connection: string | null; dryRun: boolean; holder: {rootless: boolean} | null}): Pick<ContainerSpec, 'network' | 'egress' | 'guard' | 'env' | 'volumes'> {
  const mode = networkMode(profile.spec.network)
  if (profile.spec.network.mode === 'default') warnings.push('spec.network.mode `default` is deprecated: it is now called `open` (full egress, unfiltered). Consider `allowlist`, the default of every template (README, "Network egress")')
  const env = containerEnv(profile, passthrough)
  // the tools' home state in named volumes (spec.secrets.toolState volume; secrets/tool-state.ts)
  const volumes = toolStateVolumes(profile, enabledTools(profile.spec))
  for (const v of volumes) for (const [name, value] of v.env) if (!env.some(([n]) => n === name)) env.push([name, value])
  const state = volumes.length > 0 ? {volumes} : {}
  // the Secrets Door (secrets/door.ts) lives in the proxy sidecar: refused in other modes
  const door = planDoor(profile.spec, {networkMode: mode, proxyAddress: mode === 'allowlist' ? egressSubnet(runId).proxy : null, enabledTools: enabledTools(profile.spec)})
  if (mode === 'open') return {network: mode, env, guard: {name: guardName(runId)}, ...state}
  if (mode !== 'allowlist') return {network: mode, env, ...state}
  // a proxy of the run's own, or (proxy: shared) a shared one with a network of its pool leased to this run (network/pool.ts)
  const egress = planLaunchEgress({runId, image: imageId, allowlist: effectiveAllowlist(profile.spec.network.allow, enabledTools(profile.spec)), profileName: profile.metadata.name, door, shareProxy: profile.spec.network.proxy === 'shared', pool})
  const dropped = env.filter(([name]) => PROXY_VARS.has(name.toUpperCase()))
  if (dropped.length > 0) warnings.push(`network allowlist: the profile's ${[...new Set(dropped.map(([n]) => n))].join(', ')} ${dropped.length === 1 ? 'is' : 'are'} not passed: the proxy variables point at the run's egress proxy`)
  const doorVars = new Set((egress.door?.env ?? []).map(([name]) => name))
  const kept = env.filter(([name]) => !PROXY_VARS.has(name.toUpperCase()) && !doorVars.has(name))
  return {network: mode, egress, env: [...kept, ...proxyEnv(egress), ...(egress.door?.env ?? [])], ...state}
}

/**
 * Network open, rootless: the agent joins the guard's user namespace and must then be given the
 * user by uid, which only native rootless Linux knows here. On a rootless Podman machine or remote
 * host the guard is left out, and the warning says the metadata range stays reachable.
 */
function keepGuardWhereItHolds(spec: ContainerSpec, warnings: string[]): void {
  if (!spec.guard || !spec.rootless || spec.rootlessUser) return
  delete spec.guard
  warnings.push('network open on a rootless Podman machine or remote host: the link-local (cloud metadata) range is NOT blocked there (docs/network.md); use network mode allowlist, which refuses it')
}

/** `run --tool`: what the Secrets Door adds after the tool's command (policy/tool-door.json args, e.g. Codex's base URL). */
function doorToolArgs(profile: AgentMachineProfile, runId: string, req: {verb: 'run' | 'shell'; tool?: string | null}): string[] {
  if (req.verb !== 'run' || !req.tool || profile.spec.secrets.door !== 'proxy' || networkMode(profile.spec.network) !== 'allowlist') return []
  const door = planDoor(profile.spec, {networkMode: 'allowlist', proxyAddress: egressSubnet(runId).proxy, enabledTools: enabledTools(profile.spec)})
  return door?.toolArgs[req.tool as ToolName] ?? []
}

function networkWhy(spec: Pick<ContainerSpec, 'network' | 'egress' | 'volumes'>): string {
  const state = spec.volumes && spec.volumes.length > 0 ? `; the tools' home state in the named volumes ${spec.volumes.map((v) => `${v.name} at ${v.target}`).join(', ')}` : ''
  if (spec.network === 'none') return `${state}; no network`
  if (spec.network === 'open') return `${state}; on podman’s default network, unfiltered (network mode open) except the link-local (cloud metadata) range: in the link-local guard’s network namespace`
  const door = spec.egress!.door
  const holder = spec.egress!.shared?.holder
  return `${state}; on the internal network ${spec.egress!.network} only${holder ? ` (in the network namespace of its network holder ${holder.name}, at ${spec.egress!.shared!.agentAddress})` : ''}, with HTTP(S)_PROXY set to the egress proxy ${spec.egress!.proxyUrl}${door ? `; Secrets Door: ${describeDoor(door)} (values stay in the proxy)` : ''}`
}

function containerEnv(profile: AgentMachineProfile, passthrough: ReadonlyArray<[string, string]>): Array<[string, string]> {
  const env: Array<[string, string]> = [...passthrough]
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

function imageFailure(failure: PodmanFailure, profile: AgentMachineProfile, ctx: PodmanContext): AgentMachineError {
  const ref = profile.spec.image.ref
  if (failure.kind === 'image-missing') {
    // The image must be in the store of the machine the containers run in: its connection, not podman's default.
    const podman = ['podman', ...connectionArgs(ctx)].join(' ')
    const how = profile.spec.image.pull === 'missing'
      ? `run \`sourceosctl agent-machine start\` to pull it, or \`${podman} pull ${ref}\``
      : ctx.connection && !ctx.machine
        ? `build it on the remote host: \`${podman} build -t ${ref} <sourceosctl>/images/agent\`, or set spec.image.pull: missing to allow a pull`
        : imageFix(ref, {rootless: null, connection: ctx.connection})
    return prerequisiteMissing('IMAGE_MISSING', `image ${ref} is not in the local store${ctx.connection ? ` of connection ${ctx.connection}` : ''}.`, how)
  }
  if (failure.kind === 'not-installed' || failure.kind === 'connection-failed' || failure.kind === 'timeout' || failure.kind === 'machine-root-refused') {
    return prerequisiteMissing(`PODMAN_${failure.kind.toUpperCase().replace(/-/g, '_')}`, failure.message, failure.fix)
  }
  return unexpectedFailure('PODMAN_FAILED', failure.message, failure.fix)
}

/**
 * The host folders a macOS machine shares at the same path, from its config file; null when they
 * cannot be read (then Podman's defaults are assumed and a wrong guess fails at `podman create`).
 */
async function machineSharedFolders(runner: Runner, host: HostFacts, ctx: PodmanContext, timeoutMs: number): Promise<string[] | null> {
  const machine = ctx.machine
  if (!machine) return null
  const lifecycle = new MachineLifecycle(runner, host, {binary: ctx.binary, env: ctx.machineEnv, timeoutMs})
  const info = await readMachineShares({lifecycle, name: machine.name, provider: machine.provider}).catch(() => null)
  if (info?.status !== 'known') return null
  return info.shares.filter((share) => share.source === share.target).map((share) => share.source)
}
