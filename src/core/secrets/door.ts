/**
 * The Secrets Door (docs/secrets.md): the egress proxy sidecar also listens, on its address on the
 * run's internal network, on one plain-HTTP port per injection. A request the tool sends there
 * (its base URL points at it) is forwarded by Squid to that one upstream — with TLS, checking the
 * certificate — after replacing the injection's header with the stored secret. No TLS interception:
 * the tool never speaks TLS to the door, and the door's upstream is fixed by the profile.
 *
 * The secret reaches the sidecar alone, as a podman secret mounted into its /run (readable by its
 * user only); its entrypoint reads the file with shell builtins and appends the header directive to
 * its own tmpfs copy of the Squid config. The value is in no argv, no env, no inspect, no plan and
 * no evidence: those carry the secret's name only. Pure.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {unexpectedFailure, usageError} from '../errors.js'
import {parseAllowEntry} from '../network/allowlist.js'
import type {AgentMachineProfile, ToolName} from '../profile/schema.js'
import {packageRoot} from '../util/package-root.js'
import {podmanSecretName} from './store.js'

/** The first door port on the proxy's internal address; injection i listens on DOOR_PORT_BASE + i. */
export const DOOR_PORT_BASE = 3200
/** Where the sidecar sees injection i's secret (a tmpfs under its read-only root). */
export const doorSecretPath = (i: number): string => `/run/sourceos-door-${i}`
/** The placeholder the tools' key variables hold: a real key is never in the agent's container. */
export const DOOR_PLACEHOLDER = 'sourceos-door-placeholder'
/** Lists every door in the agent's env: `host=url` pairs, space-separated (for tools without a preset). */
export const DOOR_ENV = 'SOURCEOS_SECRETS_DOOR'

export interface ToolDoor {
  host: string
  header: string
  format: string
  env: Record<string, string>
  /** Added after the tool's command on `run --tool` ({door} is the door's URL). */
  args?: string[]
  stateDir: string
  stateEnv: Record<string, string>
  sources: string[]
}

export const TOOL_DOOR_SCHEMA = 'sourceos.dev/agent-machine/tool-door/v1'
let toolDoorCache: Record<ToolName, ToolDoor> | undefined

/** How each tool is pointed at the door and where its home state lives (policy/tool-door.json, read once). */
export function toolDoor(tool: ToolName): ToolDoor {
  if (!toolDoorCache) {
    const file = join(packageRoot(), 'policy', 'tool-door.json')
    let doc: {schema?: string; tools?: Record<ToolName, ToolDoor>}
    try {
      doc = JSON.parse(readFileSync(file, 'utf8')) as typeof doc
    } catch (error) {
      throw unexpectedFailure('TOOL_DOOR_UNREADABLE', `cannot read ${file}: ${(error as Error).message}`, 'reinstall sourceosctl (policy/tool-door.json is part of the package)')
    }
    if (doc.schema !== TOOL_DOOR_SCHEMA || !doc.tools) throw unexpectedFailure('TOOL_DOOR_INVALID', `${file} is not a ${TOOL_DOOR_SCHEMA} document`, 'reinstall sourceosctl')
    toolDoorCache = doc.tools
  }
  const entry = toolDoorCache[tool]
  if (!entry) throw unexpectedFailure('TOOL_DOOR_INVALID', `policy/tool-door.json has no entry for ${tool}`, 'reinstall sourceosctl')
  return entry
}

/** https for a named host (always); http for an ip: literal unless it says https (docs/secrets.md). */
export function injectUpstream(inj: {host: string; upstream?: 'https' | 'http' | undefined}): 'https' | 'http' {
  return inj.upstream ?? (inj.host.startsWith('ip:') ? 'http' : 'https')
}

export interface DoorInjection {
  index: number
  /** The stored secret's name, and podman's name for it. */
  secret: string
  podmanSecret: string
  /** The injection's host as the profile wrote it, and what Squid connects to. */
  host: string
  upstreamHost: string
  upstreamPort: number
  upstream: 'https' | 'http'
  header: string
  /** The header value around the secret: prefix + secret + suffix. */
  prefix: string
  suffix: string
  doorPort: number
  /** What the tool's base URL points at: http://<proxy address>:<door port>. */
  doorUrl: string
  /** The enabled tools whose variables point at this door (their API host is this host). */
  tools: ToolName[]
}

export interface DoorPlan {
  injections: DoorInjection[]
  /** Set in the agent's container: door URLs and placeholders, never a value. */
  env: Array<[string, string]>
  /** Per tool: arguments after its command on `run --tool` (policy/tool-door.json args). */
  toolArgs: Partial<Record<ToolName, string[]>>
}

/**
 * Plans the door from the profile: null when door is none. Refuses a door without the proxy
 * sidecar (network mode allowlist), which is where it lives.
 */
export function planDoor(spec: AgentMachineProfile['spec'], opts: {networkMode: 'none' | 'allowlist' | 'open'; proxyAddress: string | null; enabledTools: readonly ToolName[]}): DoorPlan | null {
  if (spec.secrets.door !== 'proxy') return null
  if (opts.networkMode !== 'allowlist' || !opts.proxyAddress) {
    throw usageError(
      'SECRETS_DOOR_NEEDS_ALLOWLIST',
      `spec.secrets.door is proxy, but spec.network.mode is ${opts.networkMode}: the door lives in the egress proxy sidecar, which only network mode allowlist runs`,
      'set spec.network.mode: allowlist in the profile (or spec.secrets.door: none)',
    )
  }
  const proxyHost = opts.proxyAddress.includes(':') ? `[${opts.proxyAddress}]` : opts.proxyAddress
  const injections = (spec.secrets.inject ?? []).map((inj, index): DoorInjection => {
    const parsed = parseAllowEntry(inj.host)
    if (!parsed.ok || parsed.rule.kind === 'subdomains') throw new Error(`invalid inject host '${inj.host}' (the profile schema refuses it)`)
    const upstreamHost = parsed.rule.kind === 'host' ? parsed.rule.host : parsed.rule.address
    const [prefix, suffix] = splitFormat(inj.format ?? '{value}')
    const doorPort = DOOR_PORT_BASE + index
    const tools = opts.enabledTools.filter((t) => (inj.tool ? t === inj.tool : parsed.rule.kind === 'host' && toolDoor(t).host === upstreamHost))
    return {
      index,
      secret: inj.secret,
      podmanSecret: podmanSecretName(inj.secret),
      host: inj.host,
      upstreamHost,
      upstreamPort: parsed.rule.port,
      upstream: injectUpstream(inj),
      header: inj.header,
      prefix,
      suffix,
      doorPort,
      doorUrl: `http://${proxyHost}:${doorPort}`,
      tools,
    }
  })
  const env: Array<[string, string]> = []
  for (const inj of injections) {
    for (const tool of inj.tools) {
      for (const [name, value] of Object.entries(toolDoor(tool).env)) env.push([name, value.replaceAll('{door}', inj.doorUrl)])
    }
  }
  if (injections.length > 0) env.push([DOOR_ENV, injections.map((i) => `${i.host}=${i.doorUrl}`).join(' ')])
  const toolArgs: Partial<Record<ToolName, string[]>> = {}
  for (const inj of injections) for (const tool of inj.tools) toolArgs[tool] = [...(toolArgs[tool] ?? []), ...(toolDoor(tool).args ?? []).map((a) => a.replaceAll('{door}', inj.doorUrl))]
  return {injections, env, toolArgs}
}

function splitFormat(format: string): [string, string] {
  const at = format.indexOf('{value}')
  if (at < 0 || format.indexOf('{value}', at + 1) >= 0 || !/^[A-Za-z0-9 ._:-]*$/.test(format.replace('{value}', ''))) throw new Error(`invalid inject format '${format}' (the profile schema refuses it)`)
  return [format.slice(0, at), format.slice(at + '{value}'.length)]
}

/** What a door forwards: the methods of HTTP APIs. Not TRACE (echoes the request), not CONNECT. */
export const DOOR_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']

const aclName = (i: DoorInjection): string => `sourceos_door_${i.index}`
const peerName = (i: DoorInjection): string => `sourceos_peer_${i.index}`

/**
 * The door's Squid directives (no value: the header directive is appended by the sidecar's
 * entrypoint, doorEntrypointLines). `lines` go with the config's ACLs, `access` before the
 * private-range refusal (the door's upstream is fixed by the profile, an ip: literal included).
 */
export function doorSquidConfig(door: DoorPlan, proxyAddress: string): {lines: string[]; access: string[]} {
  const lines: string[] = door.injections.length > 0 ? [`acl sourceos_door_methods method ${DOOR_METHODS.join(' ')}`] : []
  const access: string[] = []
  const listen = proxyAddress.includes(':') ? `[${proxyAddress}]` : proxyAddress
  for (const i of door.injections) {
    const site = i.upstreamPort === (i.upstream === 'https' ? 443 : 80) ? hostForUrl(i.upstreamHost) : `${hostForUrl(i.upstreamHost)}:${i.upstreamPort}`
    lines.push(
      `# door ${i.index}: secret ${i.secret} as ${i.header} to ${i.upstream}://${site}`,
      // only on the run's internal network: the sidecar's other network never reaches a door
      `http_port ${listen}:${i.doorPort} accel defaultsite=${site} no-vhost name=${aclName(i)}`,
      `acl ${aclName(i)} myportname ${aclName(i)}`,
      `cache_peer ${i.upstreamHost} parent ${i.upstreamPort} 0 no-query no-digest no-netdb-exchange originserver${i.upstream === 'https' ? ' tls' : ''} name=${peerName(i)}`,
      `cache_peer_access ${peerName(i)} allow ${aclName(i)}`,
      `cache_peer_access ${peerName(i)} deny all`,
      `never_direct allow ${aclName(i)}`,
      // whatever the tool sent in this header (its placeholder) is dropped; the door's is added
      `request_header_access ${i.header} deny ${aclName(i)}`,
    )
    // API methods only: TRACE would have the upstream echo the request, the added header included;
    // anything else on a door port stops here, never falling through to the allowlist's rules
    access.push(`http_access allow ${aclName(i)} sourceos_door_methods`, `http_access deny ${aclName(i)}`)
  }
  return {lines, access}
}

const hostForUrl = (h: string): string => (h.includes(':') ? `[${h}]` : h)

/**
 * The entrypoint's lines for the door: each secret read from its file with shell builtins (no
 * process gets it in its argv or env), checked to be a token, and written as the header directive
 * into the sidecar's own tmpfs copy of the config. A missing or malformed secret stops the proxy.
 */
export function doorEntrypointLines(door: DoorPlan, confPath: string): string[] {
  return door.injections.flatMap((i) => [
    `v=''; read -r v < ${doorSecretPath(i.index)} || true`,
    `case "$v" in ''|*[!A-Za-z0-9._~+/=:-]*) echo "FATAL: sourceosctl secrets door: the secret ${i.secret} is empty or not a token" >&2; exit 78;; esac`,
    `printf 'request_header_add ${i.header} "${i.prefix}%s${i.suffix}" ${aclName(i)}\\n' "$v" >> "${confPath}"`,
    `v=''`,
  ])
}

/** The sidecar's --secret flags: mounted in its /run, owned by its user, mode 0400. */
export function doorSecretArgs(door: DoorPlan, user: {uid: number; gid: number}): string[] {
  return door.injections.map((i) => `--secret=${i.podmanSecret},type=mount,target=${doorSecretPath(i.index)},uid=${user.uid},gid=${user.gid},mode=0400`)
}

/** For the plan and evidence: the wiring, names only. */
export function describeDoor(door: DoorPlan): string {
  return door.injections.map((i) => `secret ${i.secret} as ${i.header} to ${i.upstream}://${i.host} at ${i.doorUrl}${i.tools.length > 0 ? ` (${i.tools.join(', ')})` : ''}`).join('; ')
}
