/**
 * The governed container (ARCHITECTURE §5) as pure data → argv. Hardening is not optional: every
 * launch gets the same defaults, and only the spec's mounts and env ever reach the container.
 */
import {podmanArgv, type PodmanContext} from '../podman/context.js'
import type {ToolName} from '../profile/schema.js'
import {rootfulIdMap, rootfulUsernsArgs, type HostOwner} from './userns.js'
import type {PlannedUserns} from './verify-mounts.js'
import type {MountPin} from './pin.js'
import {agentNetworkArgs, type EgressSetup} from '../network/sidecar.js'
import {guardedNetworkArgs} from '../network/link-local-guard.js'
import {volumeArg, type ToolStateVolume} from '../secrets/tool-state.js'

export const LABEL_PREFIX = 'dev.sourceos.agent-machine'
/** The agent's home: a tmpfs, so tool state never lands in the image or on the host by accident. */
export const AGENT_HOME = '/home/agent'
/** The passwd entry of the rootless agent user (podman fills in $UID and $GID): named agent, home AGENT_HOME. */
export const AGENT_PASSWD_ENTRY = `--passwd-entry=agent:*:$UID:$GID:sourceosctl agent:${AGENT_HOME}:/bin/sh`

export interface LaunchMount {
  /** realpath-resolved host path (what the policy judged). */
  hostSource: string
  /** The path Podman sees (inside the machine on macOS/Windows). */
  podmanSource: string
  target: string
  mode: 'rw' | 'ro'
  /**
   * 'git': a git-internal mount (a repo's .git, hooks, config, a worktree's common dir), added
   * so git works in the container with its internals read-only; 'protect': a write-protected file
   * or folder of a checkout (protected-files.ts), read-only on top of it; absent for checkout mounts.
   */
  role?: 'git' | 'protect'
  /**
   * (device, inode) of the source, taken right after it was judged (Linux; a source a plan step
   * creates is pinned once it exists). The container's view must show exactly this before start.
   */
  pin?: MountPin
}

/**
 * How the container's real view is checked before anything runs in it:
 * - proc-root-inode: podman runs on this host, so each mount target is stat'ed through
 *   /proc/<pid>/root of the initialized (not started) container and compared with its pin, and
 *   /proc/<pid>/mountinfo must hold the planned mounts and podman's own system mounts only;
 * - inspect-paths: podman runs in a VM (macOS, Windows, a remote connection), where the host cannot
 *   see the container's processes: only inspect's source paths and the configuration are compared.
 */
export type VerificationMethod = 'proc-root-inode' | 'inspect-paths'

/** Pseudo-program of the plan: the CLI itself checks the initialized container's view. */
export const VERIFY_CONTAINER = 'sourceosctl:verify-container'

export interface ContainerSpec {
  runId: string
  verb: 'run' | 'shell'
  tool: ToolName | null
  profileName: string
  policyHash: string
  /** What to run: the image ID when the image was inspected (so the checked image is the one that runs). */
  image: string
  mounts: LaunchMount[]
  workdir: string
  env: Array<[string, string]>
  /** none: --network=none; open: podman's default network; allowlist: the run's internal network behind `egress`'s proxy. */
  network: 'none' | 'allowlist' | 'open'
  /** The proxy sidecar and internal network (network allowlist only; network/sidecar.ts). */
  egress?: EgressSetup
  /** open: the link-local guard whose network namespace the container joins (network/link-local-guard.ts). */
  guard?: {name: string}
  /** Named volumes holding the tools' home state (spec.secrets.toolState volume; secrets/tool-state.ts). */
  volumes?: ToolStateVolume[]
  resources: {cpus: number; memory: string; pidsLimit: number}
  rootless: boolean
  /**
   * Rootful only: the host user the agent's files belong to (the owner of the --repo checkout).
   * The agent's user maps to it, container root to an unprivileged host uid (userns.ts).
   */
  hostOwner?: HostOwner
  /**
   * Native rootless Linux only: the invoking user's uid and gid, which the agent runs as (keep-id
   * maps them to themselves). Without it the image's USER (agent, 1000) runs as a subordinate uid that cannot write
   * the user's mounts. Its passwd entry names it `agent`, home /home/agent (not the workdir).
   */
  rootlessUser?: HostOwner
  /** Keep stdin open (always, so piped input works). */
  interactive: boolean
  /** Allocate a TTY: only when stdin and stdout are terminals. */
  tty: boolean
  command: string[]
  verification: VerificationMethod
}

/**
 * The fixed hardening flags; the order is stable so plans and evidence compare byte for byte.
 * Every launch gets a user namespace: rootless keeps the invoking user (keep-id); rootful maps the
 * agent's user to `owner` (default root, for containers that mount nothing) and container root to
 * an unprivileged host uid, and runs the agent's user (rootfulUsernsArgs).
 */
export function hardeningArgs(rootless: boolean, owner: HostOwner = {uid: 0, gid: 0}, rootlessUser?: HostOwner, usernsOf?: string): string[] {
  return [
    '--rm',
    '--init',
    '--cap-drop=all',
    '--security-opt=no-new-privileges',
    '--read-only',
    `--tmpfs=${AGENT_HOME}:rw,nosuid,nodev,mode=1777`,
    '--http-proxy=false',
    '--pull=never',
    // Rootless: map the invoking user to itself so files written in /workspace stay theirs.
    // Rootful: container root is not host root; the agent's files still belong to the owner.
    // (network open, rootless: the link-local guard's user namespace, itself keep-id, which owns the network namespace the agent joins)
    ...(rootless ? [usernsOf ? `--userns=container:${usernsOf}` : '--userns=keep-id', ...(rootlessUser ? [`--user=${rootlessUser.uid}:${rootlessUser.gid}`, AGENT_PASSWD_ENTRY] : [])] : rootfulUsernsArgs(owner)),
  ]
}

/** The whole run id: two runs whose ids share a prefix must never share a container name. */
export function containerName(runId: string): string {
  return `sourceos-agent-${runId}`
}

/**
 * `--mount` value; sources and targets were refused earlier if they held `,` `:` `"` or controls.
 * Non-recursive: a mount that appears under a source (after the scan refused the ones it saw) is
 * not carried into the container. Podman reads `bind-nonrecursive` by its key alone (1.5 to 5.x);
 * `bind-propagation=private` keeps podman < 5.0.1 from passing `rprivate`, whose MS_REC made some
 * runtimes bind recursively anyway (containers/podman#22107). The mountinfo check before start
 * refuses any submount that arrives regardless.
 */
export function mountArg(m: LaunchMount): string {
  return `--mount=type=bind,source=${m.podmanSource},destination=${m.target},bind-nonrecursive=true,bind-propagation=private${m.mode === 'ro' ? ',ro=true' : ''}`
}

/**
 * The user namespace the hardening asks for, as the container must show it: rootless keep-id (the
 * invoking user's uid is itself inside), rootful the explicit mapping of rootfulUsernsArgs; null
 * when none is planned (a rootful spec without an owner).
 */
export function plannedUserNamespace(spec: Pick<ContainerSpec, 'rootless' | 'hostOwner'>, hostUid: number | null): PlannedUserns | null {
  if (spec.rootless) return hostUid === null ? null : {mode: 'keep-id', uid: hostUid}
  if (!spec.hostOwner) return null
  const lines = (id: number) => rootfulIdMap(id).map((m) => `${m.container}:${m.host}:${m.size}`)
  return {mode: 'map', uidMap: lines(spec.hostOwner.uid), gidMap: lines(spec.hostOwner.gid)}
}

/** What a container-side argv starts with: the program and the command's connection (context.ts). */
export type PodmanTarget = Pick<PodmanContext, 'binary' | 'connection'>

export function buildCreateArgv(spec: ContainerSpec, ctx: PodmanTarget): string[] {
  const labels: Array<[string, string]> = [
    ['run-id', spec.runId],
    ['verb', spec.verb],
    ['tool', spec.tool ?? 'shell'],
    ['profile', spec.profileName],
    ['policy-hash', spec.policyHash],
    // what `ps` shows (sessions/sessions.ts)
    ['network', spec.network],
    ['workdir', spec.workdir],
    // allowlist with a shared pool's network holder: the check before start finds every container in its namespace by this
    ...(spec.egress?.shared?.holder ? [['egress-holder', spec.egress.shared.holder.name] as [string, string]] : []),
  ]
  return podmanArgv(ctx, [
    'create',
    `--name=${containerName(spec.runId)}`,
    ...hardeningArgs(spec.rootless, spec.hostOwner, spec.rootlessUser, spec.rootless ? (spec.guard?.name ?? spec.egress?.shared?.holder?.name) : undefined),
    ...networkArgs(spec),
    `--cpus=${spec.resources.cpus}`,
    `--memory=${spec.resources.memory}`,
    `--pids-limit=${spec.resources.pidsLimit}`,
    ...labels.map(([k, v]) => `--label=${LABEL_PREFIX}.${k}=${v}`),
    ...spec.env.map(([k, v]) => `--env=${k}=${v}`),
    ...spec.mounts.map(mountArg),
    ...(spec.volumes ?? []).map(volumeArg),
    `--workdir=${spec.workdir}`,
    ...(spec.interactive ? ['--interactive'] : []),
    ...(spec.tty ? ['--tty'] : []),
    spec.image,
    ...spec.command,
  ])
}

function networkArgs(spec: Pick<ContainerSpec, 'network' | 'egress' | 'guard'>): string[] {
  if (spec.network === 'none') return ['--network=none']
  if (spec.network === 'open') return spec.guard ? guardedNetworkArgs(spec.guard) : []
  if (!spec.egress) throw new Error('network allowlist without its egress setup')
  return agentNetworkArgs(spec.egress)
}

export function buildInspectArgv(spec: ContainerSpec, ctx: PodmanTarget): string[] {
  return podmanArgv(ctx, ['container', 'inspect', '--format', 'json', containerName(spec.runId)])
}

/** `podman init`: the runtime sets up mounts and namespaces; no process of the agent runs yet. */
export function buildInitArgv(spec: ContainerSpec, ctx: PodmanTarget): string[] {
  return podmanArgv(ctx, ['init', containerName(spec.runId)])
}

/** The CLI's own check of the initialized container (see VerificationMethod). */
export function buildVerifyArgv(spec: ContainerSpec): string[] {
  return [VERIFY_CONTAINER, `--method=${spec.verification}`, containerName(spec.runId)]
}

export function buildStartArgv(spec: ContainerSpec, ctx: PodmanTarget): string[] {
  return podmanArgv(ctx, ['start', '--attach', ...(spec.interactive ? ['--interactive'] : []), containerName(spec.runId)])
}
