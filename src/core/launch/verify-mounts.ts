/**
 * After `podman create` and `podman init`, before anything runs in the container: the effective
 * configuration, as `podman container inspect` reports it, must be the plan and nothing more.
 * Pure, over the inspect JSON.
 *
 * - mounts: exactly the planned binds (source, target, mode, non-recursive) and the planned tmpfs;
 *   an image VOLUME or a containers.conf `volumes`/`mounts` entry is refused (a mounts.conf copy
 *   does not show here: the mountinfo check in container-view.ts refuses it);
 * - env: only the planned variables, the image's own Config.Env, and what podman sets for every
 *   container (container=podman, HOSTNAME, TERM=xterm, the default PATH): a containers.conf `env`
 *   entry is refused. Values are never echoed (they may be secrets);
 * - no devices, no capabilities (effective, bounding, added), not privileged, read-only root;
 * - security options: no-new-privileges, and none that switch off seccomp, SELinux or AppArmor or
 *   unmask paths;
 * - namespaces: network as planned, pid/ipc/uts private, the planned user namespace (rootless
 *   keep-id maps the user to itself; a rootful user namespace never maps host root).
 */
import {z} from 'zod'

import type {LaunchMount} from './container-spec.js'
import type {ViewProblem} from './container-view.js'

const InspectMountSchema = z.looseObject({
  Type: z.string(),
  Name: z.string().optional().default(''),
  Source: z.string().optional().default(''),
  Destination: z.string(),
  RW: z.boolean().optional().default(true),
  Options: z.array(z.string()).nullish(),
  // Stryker disable next-line StringLiteral: any default without "shared" or "slave" reads as private propagation, as '' does
  Propagation: z.string().optional().default(''),
})

const InspectEntrySchema = z.looseObject({
  Id: z.string().optional().default(''),
  State: z.looseObject({Status: z.string().optional().default(''), Pid: z.number().optional().default(0)}).optional(),
  OCIRuntime: z.string().optional().default(''),
  OCIConfigPath: z.string().optional().default(''),
  EffectiveCaps: z.array(z.string()).nullish(),
  BoundingCaps: z.array(z.string()).nullish(),
  Mounts: z.array(InspectMountSchema).nullish(),
  Config: z.looseObject({Hostname: z.string().optional().default(''), Env: z.array(z.string()).nullish()}).optional(),
  NetworkSettings: z.looseObject({Networks: z.record(z.string(), z.unknown()).nullish()}).nullish(),
  HostConfig: z
    .looseObject({
      Privileged: z.boolean().optional(),
      ReadonlyRootfs: z.boolean().optional(),
      SecurityOpt: z.array(z.string()).nullish(),
      CapAdd: z.array(z.string()).nullish(),
      Devices: z.array(z.looseObject({PathInContainer: z.string().optional(), PathOnHost: z.string().optional()})).nullish(),
      Tmpfs: z.record(z.string(), z.string()).nullish(),
      NetworkMode: z.string().optional().default(''),
      // Stryker disable StringLiteral: a default that names no host, container: or ns: namespace reads as private, as '' does
      PidMode: z.string().optional().default(''),
      IpcMode: z.string().optional().default(''),
      UTSMode: z.string().optional().default(''),
      UsernsMode: z.string().optional().default(''),
      // Stryker restore StringLiteral
      IDMappings: z.looseObject({UidMap: z.array(z.string()).nullish(), GidMap: z.array(z.string()).nullish()}).nullish(),
    })
    .optional(),
})

const InspectSchema = z.array(InspectEntrySchema).min(1)

export interface ActualMount {
  type: string
  source: string
  destination: string
  rw: boolean
}

export interface EffectivePlan {
  mounts: readonly LaunchMount[]
  /** Planned tmpfs targets (the agent's home). */
  tmpfs: readonly string[]
  /** Planned named volumes (the tools' home state; secrets/tool-state.ts). */
  volumes?: ReadonlyArray<{name: string; target: string}>
  env: ReadonlyArray<readonly [string, string]>
  /** The image's own Config.Env ("NAME=value"). */
  imageEnv: readonly string[]
  /** open: any bridge network; allowlist: exactly `egressNetwork` (the run's internal one). */
  network: 'none' | 'allowlist' | 'open'
  egressNetwork?: string
  /** open with the link-local guard: the guard container's full ID (from its create). */
  guardContainerId?: string
  /** The user namespace the hardening asks for (plannedUserNamespace), or null for none. */
  userns: PlannedUserns | null
}

/**
 * The planned user namespace: rootless `--userns=keep-id` (the user's uid is itself inside), or a
 * rootful explicit mapping (`--uidmap`/`--gidmap`, userns.ts) as `container:host:size` lines.
 */
export type PlannedUserns = {mode: 'keep-id'; uid: number} | {mode: 'map'; uidMap: string[]; gidMap: string[]}

export interface EffectiveConfig {
  problems: ViewProblem[]
  /** The mounts as inspect reports them. */
  mounts: ActualMount[]
  id: string
  /** The container's init process (0 when not initialized). */
  pid: number
  status: string
  runtime: string
  ociConfigPath: string | null
}

/** The PATH podman sets when the image sets none (containers/common DefaultEnv). */
const PODMAN_DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
/** tmpfs podman adds for a read-only root (--read-only-tmpfs, the default). */
const READ_ONLY_TMPFS = new Set(['/run', '/tmp', '/var/tmp'])
const FORBIDDEN_SECURITY_OPT = [/^seccomp[=:]unconfined$/, /^label[=:]disable$/, /^label[=:]type:spc_t$/, /^apparmor[=:]unconfined$/, /^unmask[=:]/, /^systempaths[=:]unconfined$/, /^privileged/]

function splitEnv(entry: string): [string, string] {
  const i = entry.indexOf('=')
  // Stryker disable next-line EqualityOperator: an entry that starts with "=" has no planned name either way and is refused as extra; only the name the message shows differs
  return i < 0 ? [entry, ''] : [entry.slice(0, i), entry.slice(i + 1)]
}

/** `container:host:size` lines (or `container host size`): the host id of container id `id`, or null when unmapped. */
export function hostIdOf(lines: readonly string[], id: number): number | null {
  for (const line of lines) {
    const [container, host, size] = line.trim().split(/[:\s]+/).map(Number)
    // Stryker disable next-line ConditionalExpression,LogicalOperator: a missing field is undefined and every comparison below with it is false, so a short line is skipped either way; the check narrows the types
    if (container === undefined || host === undefined || size === undefined) continue
    if (container <= id && id < container + size) return host + (id - container)
  }
  return null
}

export function checkEffectiveConfig(inspectStdout: string, plan: EffectivePlan): EffectiveConfig {
  let entry: z.infer<typeof InspectEntrySchema>
  try {
    entry = InspectSchema.parse(JSON.parse(inspectStdout))[0]!
  } catch (error) {
    return {
      problems: [{code: 'MOUNT_MISMATCH', message: `cannot read podman container inspect output: ${(error as Error).message.split('\n')[0]}`}],
      mounts: [],
      id: '',
      pid: 0,
      status: '',
      runtime: '',
      ociConfigPath: null,
    }
  }
  const problems: ViewProblem[] = []
  const mountProblem = (message: string) => problems.push({code: 'MOUNT_MISMATCH', message})
  const configProblem = (message: string) => problems.push({code: 'CONTAINER_CONFIG_MISMATCH', message})
  const hc = entry.HostConfig ?? ({} as NonNullable<typeof entry.HostConfig>)

  // Mounts
  // Stryker disable next-line ArrayDeclaration: a made-up option in place of none is not rbind, so it reads the same
  const mounts = (entry.Mounts ?? []).map((m) => ({type: m.Type, name: m.Name, source: m.Source, destination: m.Destination, rw: m.RW, options: m.Options ?? [], propagation: m.Propagation}))
  const tmpfs = new Set(plan.tmpfs)
  const volumes = plan.volumes ?? []
  for (const m of mounts) {
    if (m.type === 'tmpfs' && tmpfs.has(m.destination)) continue
    const vol = volumes.find((v) => v.target === m.destination)
    if (vol) {
      if (m.type !== 'volume' || m.name !== vol.name) mountProblem(`${m.destination} is a ${m.type} mount of ${m.name || m.source || 'n/a'}, planned the volume ${vol.name}`)
      continue
    }
    const want = plan.mounts.find((p) => p.target === m.destination)
    if (!want) {
      mountProblem(`unexpected ${m.type} mount at ${m.destination} (source ${m.source || 'n/a'})`)
      continue
    }
    if (m.type !== 'bind') mountProblem(`${m.destination} is a ${m.type} mount, planned a bind`)
    if (m.source !== want.podmanSource) mountProblem(`${m.destination} comes from ${m.source}, planned ${want.podmanSource}`)
    if (m.rw !== (want.mode === 'rw')) mountProblem(`${m.destination} is ${m.rw ? 'read-write' : 'read-only'}, planned ${want.mode}`)
    if (m.options.includes('rbind')) mountProblem(`${m.destination} is bound recursively, planned non-recursive`)
    if (/shared|slave/.test(m.propagation)) mountProblem(`${m.destination} has ${m.propagation} propagation, planned private`)
  }
  for (const p of [...plan.mounts, ...volumes]) {
    if (!mounts.some((m) => m.destination === p.target)) mountProblem(`planned mount ${p.target} is missing`)
  }
  for (const t of Object.keys(hc.Tmpfs ?? {})) {
    if (!tmpfs.has(t) && !READ_ONLY_TMPFS.has(t)) mountProblem(`unexpected tmpfs at ${t}`)
  }
  for (const t of tmpfs) {
    if (!Object.hasOwn(hc.Tmpfs ?? {}, t) && !mounts.some((m) => m.destination === t)) mountProblem(`planned tmpfs ${t} is missing`)
  }

  // Environment: names only in messages, never values.
  const planned = new Map(plan.env.map(([k, v]) => [k, v]))
  const image = new Set(plan.imageEnv)
  // Stryker disable next-line StringLiteral: only without Config (whose Hostname defaults to ''), and then there is no Env to compare it with
  const hostname = entry.Config?.Hostname ?? ''
  const extra: string[] = []
  const changed: string[] = []
  for (const e of entry.Config?.Env ?? []) {
    const [name, value] = splitEnv(e)
    if (planned.has(name)) {
      if (planned.get(name) !== value) changed.push(name)
      continue
    }
    if (image.has(e)) continue
    if (name === 'container' && value === 'podman') continue
    if (name === 'HOSTNAME' && value === hostname) continue
    if (name === 'TERM' && value === 'xterm') continue
    if (name === 'PATH' && value === PODMAN_DEFAULT_PATH) continue
    extra.push(name)
  }
  if (extra.length > 0) configProblem(`the container’s environment has variables the plan does not: ${extra.join(', ')} (a containers.conf env entry?)`)
  if (changed.length > 0) configProblem(`the container’s environment changes planned variables: ${changed.join(', ')}`)
  // Stryker disable next-line ArrayDeclaration: a made-up entry in place of none is no planned name, so every planned variable is still missing
  const envNames = new Set((entry.Config?.Env ?? []).map((e) => splitEnv(e)[0]))
  const missing = [...planned.keys()].filter((k) => !envNames.has(k))
  if (missing.length > 0) configProblem(`planned variables are missing from the container: ${missing.join(', ')}`)

  // Privileges
  const devices = hc.Devices ?? []
  if (devices.length > 0) configProblem(`the container gets devices: ${devices.map((d) => d.PathInContainer ?? d.PathOnHost ?? '?').join(', ')}`)
  const caps = [...(entry.EffectiveCaps ?? []), ...(entry.BoundingCaps ?? []), ...(hc.CapAdd ?? [])]
  if (caps.length > 0) configProblem(`the container gets capabilities: ${[...new Set(caps)].join(', ')}`)
  if (hc.Privileged === true) configProblem('the container is privileged')
  if (hc.ReadonlyRootfs === false) configProblem('the container’s root file system is writable, planned read-only')
  // Stryker disable next-line ArrayDeclaration: a made-up option in place of none is neither no-new-privileges nor a protection-off option, so it reads the same
  const secOpts = hc.SecurityOpt ?? []
  if (!secOpts.some((o) => /^no-new-privileges(?:[=:]true)?$/.test(o))) configProblem('no-new-privileges is not set')
  const weakened = secOpts.filter((o) => FORBIDDEN_SECURITY_OPT.some((re) => re.test(o)))
  if (weakened.length > 0) configProblem(`security options switch protections off: ${weakened.join(', ')}`)

  // Namespaces
  if (plan.guardContainerId) {
    // open mode: exactly the run's link-local guard's namespace; allowlist with a shared pool: its slot's network holder's (by ID: a name could be taken over)
    if (hc.NetworkMode !== `container:${plan.guardContainerId}`) configProblem(`network mode is ${hc.NetworkMode || 'unknown'}, planned the ${plan.network === 'allowlist' ? 'egress network holder' : 'link-local guard'}'s namespace (container:${plan.guardContainerId.slice(0, 12)})`)
  } else if (plan.network === 'none' ? hc.NetworkMode !== 'none' : /^(host|container:|ns:)/.test(hc.NetworkMode)) configProblem(`network mode is ${hc.NetworkMode || 'unknown'}, planned ${plan.network}`)
  if (plan.network === 'allowlist') {
    // the run's internal network and nothing else: one more (containers.conf, a default) would be a way out past the proxy
    const attached = Object.keys(entry.NetworkSettings?.Networks ?? {}).sort()
    if (attached.length !== 1 || attached[0] !== plan.egressNetwork) configProblem(`the container is on the networks [${attached.join(', ')}], planned only ${plan.egressNetwork ?? '(none)'}`)
  }
  for (const [what, mode] of [['pid', hc.PidMode], ['ipc', hc.IpcMode], ['uts', hc.UTSMode]] as const) {
    // Stryker disable next-line Regex: podman's pid/ipc/uts modes (private, shareable, none, host, container:<id>, ns:<path>) hold host, container: or ns: only at their start
    if (/^(host|container:|ns:)/.test(mode)) configProblem(`the ${what} namespace is ${mode}, planned private`)
  }
  const uidMap = hc.IDMappings?.UidMap ?? []
  const gidMap = hc.IDMappings?.GidMap ?? []
  const userns = plan.userns
  if (userns) {
    // (network open, rootless: the run's own link-local guard's namespace, by ID, is the planned keep-id one)
    const guardUserns = plan.guardContainerId ? `container:${plan.guardContainerId}` : null
    // Stryker disable next-line Regex: podman's user namespace modes (keep-id, auto, nomap, private, host, container:<id>, ns:<path>) hold host, container: or ns: only at their start
    if (/^(host|container:|ns:)/.test(hc.UsernsMode) && hc.UsernsMode !== guardUserns) configProblem(`the user namespace is ${hc.UsernsMode}, planned ${userns.mode}`)
    if (userns.mode === 'keep-id') {
      // keep-id: container uid <uid> is the user itself (0 of podman's own user namespace)
      if (!uidMap.some((line) => line === `${userns.uid}:0:1`)) configProblem(`the user namespace does not keep uid ${userns.uid} (keep-id)`)
    } else {
      const same = (a: readonly string[], b: readonly string[]) =>
        // Stryker disable next-line ConditionalExpression: id map lines hold no comma, so their sorted joins below are equal only when the lengths are too
        a.length === b.length &&
        [...a].sort().join() === [...b].sort().join()
      if (!same(uidMap, userns.uidMap) || !same(gidMap, userns.gidMap)) {
        configProblem(`the user namespace maps uids ${uidMap.join(' ') || 'none'} and gids ${gidMap.join(' ') || 'none'}, planned ${userns.uidMap.join(' ')} and ${userns.gidMap.join(' ')}`)
      }
      if (hostIdOf(uidMap, 0) === 0 || uidMap.length === 0) configProblem('root in the container is root on the host, planned a user namespace')
    }
  }

  return {
    problems,
    mounts: mounts.map(({type, source, destination, rw}) => ({type, source, destination, rw})),
    id: entry.Id,
    pid: entry.State?.Pid ?? 0,
    status: entry.State?.Status ?? '',
    runtime: entry.OCIRuntime,
    ociConfigPath: entry.OCIConfigPath || null,
  }
}
