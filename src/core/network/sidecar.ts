/**
 * Egress enforcement outside the agent's container (network mode `allowlist`): the agent sits
 * alone with a proxy on its own `--internal` network (no route out, no DNS to the outside); the
 * proxy sidecar — a second container from the same image, running Squid — is also on podman's
 * default network and is the only way out. Pure: names, addresses and argv; execute.ts runs them.
 *
 * Addresses are fixed in the plan (CNI on Podman 4 has no DNS between containers, so the agent
 * gets the proxy's address, not a name; netavark on Podman 5 works the same way with it). The
 * subnet is derived from the run id, so a dry run shows the exact commands.
 */
import {createHash} from 'node:crypto'

import {podmanArgv, type PodmanContext} from '../podman/context.js'
import type {EffectiveAllowlist} from './allowlist.js'
import {PROXY_PORT, PROXY_RUN_DIR, DENIED_PAGE, renderDeniedPage, renderSquidConfig} from './squid-config.js'
import {doorEntrypointLines, doorSecretArgs, doorSquidConfig, type DoorPlan} from '../secrets/door.js'

/** Same prefix as the agent container's labels (container-spec.ts LABEL_PREFIX). */
const LABEL_PREFIX = 'dev.sourceos.agent-machine'
export const ROLE_LABEL = `${LABEL_PREFIX}.role`
export const RUN_ID_LABEL = `${LABEL_PREFIX}.run-id`
/** Podman's default network: the sidecar's way out (a bridge, rootful and rootless alike). */
export const OUTSIDE_NETWORK = 'podman'
/** The sidecar runs as nobody, not as the agent's user and never as root. */
const PROXY_USER = '65534:65534'

type Target = Pick<PodmanContext, 'binary' | 'connection'>

export interface EgressSetup {
  runId: string
  /** The run's own internal network. */
  network: string
  subnet: string
  /**
   * The proxy's fixed address on that network (the subnet's last, .254: the agent's container is
   * given the first free one, from .2, and may be set up first), and its URL as the agent's env gives it.
   */
  proxyAddress: string
  proxyUrl: string
  sidecar: string
  /** The image ID the sidecar runs (the agent's image, which carries Squid). */
  image: string
  allowlist: EffectiveAllowlist
  squidConfig: string
  deniedPage: string
  /** The Secrets Door in this proxy (spec.secrets.door proxy; secrets/door.ts): names and ports, never values. */
  door?: DoorPlan
  /**
   * The shared proxy (pool.ts): one long-lived proxy per configuration on the podman host, which
   * this run joins through one network of its pool, leased to it alone. Absent: the run's own
   * proxy and network (the Secrets Door's runs: its secrets live and die with the run).
   */
  shared?: SharedEgress
}

export interface SharedEgress {
  /** sha256 (first 16 hex) of the proxy's configuration, its error page and its image: in its name and label. */
  key: string
  /** The pool network leased to this run (sourceos-egress.<key>.<slot>). */
  slot: number
  /** The agent's fixed address on that network (derived from the run id): the proxy's log is sliced by it. */
  agentAddress: string
  /** The log is read from here on (the lease's time, less a margin): an ISO time for `podman logs --since`. */
  since: string
  /**
   * The slot's long-lived network holder (rootful, and native rootless Linux): a container on the
   * pool network at the slot's fixed address whose network namespace the agent joins, so a run
   * pays no namespace set-up or teardown. Then `agentAddress` is the holder's. Absent: the agent
   * is on the network itself, at an address of its own (a rootless Podman machine or remote host).
   */
  holder?: NetworkHolder
}

export interface NetworkHolder {
  /** sourceos-netholder.<key>.<slot> */
  name: string
  /** rootless: a keep-id user namespace, which the agent joins too (it owns the network namespace). */
  keepId: boolean
}

export const egressNetworkName = (runId: string): string => `sourceos-egress-${runId}`
export const sidecarName = (runId: string): string => `sourceos-proxy-${runId}`
/** The shared proxy and its pool's networks: a dot, which no run id has, keeps them apart from a run's. */
export const sharedProxyName = (key: string): string => `sourceos-proxy.${key}`
export const poolNetworkName = (key: string, slot: number): string => `sourceos-egress.${key}.${slot}`
export const KEY_LABEL = `${LABEL_PREFIX}.egress-key`
export const IMAGE_LABEL = `${LABEL_PREFIX}.egress-image`
export const SLOT_LABEL = `${LABEL_PREFIX}.egress-slot`
/** The shared proxy's role label (a run's own proxy is `egress-proxy`). */
export const SHARED_ROLE = 'egress-shared-proxy'
/** A pool network's holder (its network namespace is the agent's). */
export const HOLDER_ROLE = 'egress-netholder'
/** On an agent's container: the holder whose network namespace it joins (the check before start finds every such container by it). */
export const HOLDER_LABEL = `${LABEL_PREFIX}.egress-holder`
export const holderPrefix = (key: string): string => `sourceos-netholder.${key}.`
export const holderName = (key: string, slot: number): string => `${holderPrefix(key)}${slot}`
/** The holder's fixed address on its slot's network (the agent's traffic comes from it). */
export const holderAddress = (key: string, slot: number): string => `${poolSubnet(key, slot).prefix}.253`
/** How far before its lease a run reads the shared proxy's log (a podman host's clock a little behind this one's). */
export const SINCE_MARGIN_MS = 10 * 60_000

/**
 * The shared proxy's key: everything that makes it what it is — its Squid configuration (the
 * allowlist), its error page (the profile's name) and its image. A changed allowlist or image is
 * another key, so another proxy: a run never gets one configured for something else.
 */
export function sharedKey(squidConfig: string, deniedPage: string, image: string): string {
  return createHash('sha256').update(`${squidConfig}\0${deniedPage}\0${image}`).digest('hex').slice(0, 16)
}

/** A pool network's /24 (like egressSubnet, from the key and slot); the proxy at .254. */
export function poolSubnet(key: string, slot: number): {subnet: string; proxy: string; prefix: string} {
  const {subnet, proxy} = egressSubnet(`pool:${key}:${slot}`)
  return {subnet, proxy, prefix: subnet.slice(0, subnet.lastIndexOf('.'))}
}

/** The agent's address on its pool network: .2–.253 from the run id, so two runs of one slot rarely share it (the log is also sliced by time). */
export function poolAgentAddress(key: string, slot: number, runId: string): string {
  const h = createHash('sha256').update(runId).digest()
  return `${poolSubnet(key, slot).prefix}.${2 + (h.readUInt16BE(0) % 252)}`
}

/**
 * A /24 inside 10.160.0.0/10's first quarter (10.160.0.0–10.223.255.0), picked by the run id's
 * hash: away from podman's own pools (10.88/16, 10.89.x) and from the ends of 10/8 that hosts and
 * VPNs favour. A collision with an existing network fails the create with podman's message.
 */
export function egressSubnet(runId: string): {subnet: string; proxy: string} {
  const h = createHash('sha256').update(runId).digest()
  const second = 160 + (h[0]! % 64)
  const third = h[1]!
  return {subnet: `10.${second}.${third}.0/24`, proxy: `10.${second}.${third}.254`}
}

/**
 * shared: the slot leased for this run (pool.ts) and the lease's time; without it, or with a
 * Secrets Door, the run gets its own proxy and network.
 */
export function planEgress(opts: {runId: string; image: string; allowlist: EffectiveAllowlist; profileName: string; door?: DoorPlan | null; shared?: {slot: number; leasedAt: Date; holder?: {rootless: boolean} | null} | null}): EgressSetup {
  const door = opts.door && opts.door.injections.length > 0 ? opts.door : undefined
  if (opts.shared && !door) {
    const squidConfig = renderSquidConfig(opts.allowlist)
    const deniedPage = renderDeniedPage(opts.profileName)
    const key = sharedKey(squidConfig, deniedPage, opts.image)
    const {slot} = opts.shared
    const {subnet, proxy} = poolSubnet(key, slot)
    return {
      runId: opts.runId,
      network: poolNetworkName(key, slot),
      subnet,
      proxyAddress: proxy,
      proxyUrl: `http://${proxy}:${PROXY_PORT}`,
      sidecar: sharedProxyName(key),
      image: opts.image,
      allowlist: opts.allowlist,
      squidConfig,
      deniedPage,
      shared: {
        key,
        slot,
        agentAddress: opts.shared.holder ? holderAddress(key, slot) : poolAgentAddress(key, slot, opts.runId),
        since: new Date(opts.shared.leasedAt.getTime() - SINCE_MARGIN_MS).toISOString(),
        ...(opts.shared.holder ? {holder: {name: holderName(key, slot), keepId: opts.shared.holder.rootless}} : {}),
      },
    }
  }
  const {subnet, proxy} = egressSubnet(opts.runId)
  return {
    runId: opts.runId,
    network: egressNetworkName(opts.runId),
    subnet,
    proxyAddress: proxy,
    proxyUrl: `http://${proxy}:${PROXY_PORT}`,
    sidecar: sidecarName(opts.runId),
    image: opts.image,
    allowlist: opts.allowlist,
    squidConfig: renderSquidConfig(opts.allowlist, door ? doorSquidConfig(door, proxy) : undefined),
    deniedPage: renderDeniedPage(opts.profileName),
    ...(door ? {door} : {}),
  }
}

/** A run's own proxy and network carry its run id; the shared ones their key (and never a run id: no run's cleanup takes them). */
const labels = (e: EgressSetup, role: string): string[] =>
  e.shared
    ? [`--label=${ROLE_LABEL}=${role === 'egress-proxy' ? SHARED_ROLE : 'egress-pool-network'}`, `--label=${KEY_LABEL}=${e.shared.key}`, ...(role === 'egress-proxy' ? [`--label=${IMAGE_LABEL}=${e.image}`] : [`--label=${SLOT_LABEL}=${e.shared.slot}`])]
    : [`--label=${RUN_ID_LABEL}=${e.runId}`, `--label=${ROLE_LABEL}=${role}`]

export function networkCreateArgv(e: EgressSetup, ctx: Target): string[] {
  return podmanArgv(ctx, ['network', 'create', '--internal', `--subnet=${e.subnet}`, ...labels(e, 'egress-network'), e.network])
}

/**
 * A pool network's fixed MAC address for a fixed IPv4 address (locally administered, from the
 * address itself): the shared proxy at .254 and a slot's holder at .253 always answer with the
 * same one. A replaced proxy then keeps its MAC, so the neighbour cache of a long-lived holder's
 * namespace (which the next agent joins) stays right; a fresh one would be unreachable until the
 * stale entry expired.
 */
export function poolMac(address: string): string {
  return ['02', '53', ...address.split('.').map((o) => Number(o).toString(16).padStart(2, '0'))].join(':')
}

/** The shared proxy joins a pool network (a new slot, or one whose proxy was replaced) at its .254, with the address's fixed MAC. */
export function networkConnectArgv(e: EgressSetup, ctx: Target, network = e.network, address = e.proxyAddress): string[] {
  return podmanArgv(ctx, ['network', 'connect', `--ip=${address}`, `--mac-address=${poolMac(address)}`, network, e.sidecar])
}

/**
 * The shared proxy and every container on the run's pool network (there must be none but it and
 * the run's agent). With a holder, every container (the agents in its namespace are on no network
 * in podman's terms: they are found by the holder label; one call, filtered here).
 */
export function poolCheckArgv(e: EgressSetup, ctx: Target): string[] {
  return podmanArgv(ctx, ['ps', '--all', '--format=json', ...(e.shared?.holder ? [] : [`--filter=network=${e.network}`])])
}
const exactName = (name: string): string => `--filter=name=^${name.replaceAll('.', '\\.')}$`
/** The shared proxy by name, whichever networks it is on (is it there, running, of this key and image?), and the slot's holder. */
export function sharedProxyStateArgv(e: EgressSetup, ctx: Target): string[] {
  return podmanArgv(ctx, ['ps', '--all', '--format=json', exactName(e.sidecar), ...(e.shared?.holder ? [exactName(e.shared.holder.name)] : [])])
}

/**
 * The slot's network holder: on the pool network at the slot's fixed address, with no resolver
 * (the agent that joins it has none either), sleeping. No capability at all, no-new-privileges,
 * read-only root, nobody, nothing mounted; rootless in a keep-id user namespace that the agent
 * joins (the network namespace belongs to it). Labels tie it to the pool's key, slot and image.
 */
export function holderRunArgv(e: EgressSetup, ctx: Target): string[] {
  const sh = e.shared!
  const h = sh.holder!
  return podmanArgv(ctx, [
    'run',
    '--detach',
    `--name=${h.name}`,
    '--cap-drop=all',
    '--security-opt=no-new-privileges',
    '--read-only',
    '--http-proxy=false',
    '--pull=never',
    `--user=${PROXY_USER}`,
    ...(h.keepId ? ['--userns=keep-id'] : []),
    '--pids-limit=16',
    '--memory=32m',
    `--label=${ROLE_LABEL}=${HOLDER_ROLE}`,
    `--label=${KEY_LABEL}=${sh.key}`,
    `--label=${SLOT_LABEL}=${sh.slot}`,
    `--label=${IMAGE_LABEL}=${e.image}`,
    `--network=${e.network}:ip=${sh.agentAddress},mac=${poolMac(sh.agentAddress)}`,
    '--dns=none',
    e.image,
    'sleep',
    '2147483647',
  ])
}
export const holderStartArgv = (e: EgressSetup, ctx: Target): string[] => podmanArgv(ctx, ['start', e.shared!.holder!.name])
export const holderRemoveArgv = (e: EgressSetup, ctx: Target): string[] => podmanArgv(ctx, ['rm', '--force', '--time=0', e.shared!.holder!.name])
/** The pool's networks (to reattach them all to a replaced proxy). */
export function poolNetworksArgv(e: EgressSetup, ctx: Target): string[] {
  return podmanArgv(ctx, ['network', 'ls', '--format={{.Name}}', `--filter=label=${KEY_LABEL}=${e.shared?.key ?? ''}`])
}

/**
 * The sidecar's entrypoint: config and error page from the environment into its own tmpfs /tmp
 * (its root is read-only and nothing of the host is mounted), Squid's stock error templates
 * beside them, then Squid in the foreground.
 */
export function sidecarScript(door?: DoorPlan): string {
  return [
    'set -e',
    `d=${PROXY_RUN_DIR}`,
    'mkdir -p "$d/errors"',
    'cp /usr/share/squid/errors/templates/ERR_* "$d/errors/" 2>/dev/null || true',
    `printf '%s\\n' "$SOURCEOS_PROXY_DENIED_PAGE" > "$d/errors/${DENIED_PAGE}"`,
    `printf '%s\\n' "$SOURCEOS_PROXY_CONF" > "$d/squid.conf"`,
    // the Secrets Door's header directives: values read from podman secret files by builtins
    ...(door ? ['umask 077', ...doorEntrypointLines(door, '$d/squid.conf')] : []),
    'exec /usr/sbin/squid -N -f "$d/squid.conf"',
  ].join('; ')
}
export const SIDECAR_SCRIPT = sidecarScript()

export function sidecarCreateArgv(e: EgressSetup, ctx: Target): string[] {
  return podmanArgv(ctx, [
    'create',
    `--name=${e.sidecar}`,
    '--cap-drop=all',
    '--security-opt=no-new-privileges',
    '--read-only',
    // its own /tmp for the config and error pages, whatever the image's /tmp mode; nothing there runs
    '--tmpfs=/tmp:rw,nosuid,nodev,noexec,mode=1777',
    '--http-proxy=false',
    '--pull=never',
    `--user=${PROXY_USER}`,
    '--pids-limit=256',
    '--memory=256m',
    ...labels(e, 'egress-proxy'),
    `--network=${OUTSIDE_NETWORK}`,
    // shared: the address's fixed MAC (poolMac), whichever proxy container answers there
    `--network=${e.network}:ip=${e.proxyAddress}${e.shared ? `,mac=${poolMac(e.proxyAddress)}` : ''}`,
    `--env=SOURCEOS_PROXY_CONF=${e.squidConfig}`,
    `--env=SOURCEOS_PROXY_DENIED_PAGE=${e.deniedPage}`,
    ...(e.door ? doorSecretArgs(e.door, {uid: 65534, gid: 65534}) : []),
    e.image,
    '/bin/sh',
    '-c',
    sidecarScript(e.door),
  ])
}

export const sidecarStartArgv = (e: EgressSetup, ctx: Target): string[] => podmanArgv(ctx, ['start', e.sidecar])
/** Read by the readiness wait (Squid's "Accepting HTTP Socket connections") and, after the session, for the evidence. */
export const sidecarLogsArgv = (e: EgressSetup, ctx: Target): string[] => podmanArgv(ctx, ['logs', e.sidecar])
/** The shared proxy's log from (a margin before) this run's lease on: the run's own lines are sliced from it (proxy-log.ts). */
export const sharedLogsArgv = (e: EgressSetup, ctx: Target): string[] => podmanArgv(ctx, ['logs', `--since=${e.shared!.since}`, e.sidecar])
export const sidecarRemoveArgv = (e: EgressSetup, ctx: Target): string[] => podmanArgv(ctx, ['rm', '--force', '--time=0', e.sidecar])
/** --force: with the network go the containers still on it (only this run's proxy: the agent's --rm already went). */
export const networkRemoveArgv = (e: EgressSetup, ctx: Target): string[] => podmanArgv(ctx, ['network', 'rm', '--force', '--time=0', e.network])

/** What Squid prints once it listens (cache.log, on the sidecar's stderr). */
export const PROXY_READY_LINE = 'Accepting HTTP Socket connections'

/**
 * The agent container's network: the internal one only; `--dns=none` leaves it no resolver at all.
 * With a holder: its network namespace (on that network alone, created with --dns=none: podman
 * refuses --dns with a joined namespace).
 */
export function agentNetworkArgs(e: EgressSetup): string[] {
  if (e.shared?.holder) return [`--network=container:${e.shared.holder.name}`]
  return [e.shared ? `--network=${e.network}:ip=${e.shared.agentAddress}` : `--network=${e.network}`, '--dns=none']
}

/**
 * The proxy settings every common client reads: curl, git, pip, npm (upper and lower case), and
 * Node's own fetch (NODE_USE_ENV_PROXY, Node ≥ 22.?/24). Loopback stays direct.
 */
export function proxyEnv(e: EgressSetup): Array<[string, string]> {
  // the Secrets Door is on the proxy's own address: tools reach it directly, not through the proxy
  const noProxy = `localhost,127.0.0.1,::1${e.door ? `,${e.proxyAddress}` : ''}`
  return [
    ['HTTP_PROXY', e.proxyUrl],
    ['HTTPS_PROXY', e.proxyUrl],
    ['NO_PROXY', noProxy],
    ['http_proxy', e.proxyUrl],
    ['https_proxy', e.proxyUrl],
    ['no_proxy', noProxy],
    ['NODE_USE_ENV_PROXY', '1'],
  ]
}
