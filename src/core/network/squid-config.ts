/**
 * The egress proxy's configuration: Squid (Debian's package, in the agent image), rendered from the
 * effective allowlist. Pure. Why Squid (docs/network.md): it resolves names itself and its `dst`
 * ACL judges the address a name resolved to, so an allowed name pointed at a private address is
 * refused; tinyproxy filters names only.
 *
 * Rules, in order (first match wins):
 *   1. an allowlisted literal address (ip:ADDR:port) is allowed — the only way to a private one;
 *   2. any private, loopback, link-local (cloud metadata), CGNAT, multicast or unspecified
 *      destination, by name after resolution or by address, is refused;
 *   3. an allowlisted host:port (exact name, or below a `*.` domain) is allowed, for CONNECT and
 *      plain HTTP alike;
 *   4. everything else is refused with ERR_SOURCEOS_DENIED (a 403 naming the host and the fix).
 */
import type {AllowRule, EffectiveAllowlist} from './allowlist.js'

/** The proxy's port inside its container. */
export const PROXY_PORT = 3128
/** Written by the sidecar's entrypoint into its own tmpfs (/tmp): never a host file. */
export const PROXY_RUN_DIR = '/tmp/sourceos-proxy'
/** The access log line prefix: the evidence reads only lines that carry it (proxy-log.ts). */
export const LOG_TAG = 'sourceos-egress-v2'
export const DENIED_PAGE = 'ERR_SOURCEOS_DENIED'

/** Never reachable by name, whatever DNS says (RFC 6890 special-purpose ranges a proxy must not reach). */
export const BLOCKED_RANGES = [
  '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.0.0.0/24',
  '192.168.0.0/16', '198.18.0.0/15', '224.0.0.0/4', '240.0.0.0/4',
  '::/128', '::1/128', '::ffff:0:0/96', '64:ff9b::/96', 'fc00::/7', 'fe80::/10', 'ff00::/8',
]

/**
 * The ranges of Squid's dst ACL: BLOCKED_RANGES without the IPv4-mapped block. Squid reads
 * ::ffff:0:0/96 as 0.0.0.0/0, every IPv4 address (alone in a dst ACL it refuses every IPv4
 * destination; beside 0.0.0.0/8 Squid 5.7 only drops it with a warning at each start). Squid judges
 * a mapped address (::ffff:169.254.169.254) by its IPv4 form, so the IPv4 ranges refuse it already.
 */
export const SQUID_BLOCKED_RANGES = BLOCKED_RANGES.filter((r) => r !== '::ffff:0:0/96')

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** Rules grouped by port, so each port gets one name ACL, one regex ACL and one address ACL. */
function byPort(rules: readonly AllowRule[]): Map<number, {hosts: string[]; domains: string[]; addresses: string[]}> {
  const groups = new Map<number, {hosts: string[]; domains: string[]; addresses: string[]}>()
  for (const r of rules) {
    const g = groups.get(r.port) ?? {hosts: [], domains: [], addresses: []}
    if (r.kind === 'host') g.hosts.push(r.host)
    else if (r.kind === 'subdomains') g.domains.push(r.domain)
    else g.addresses.push(r.address)
    groups.set(r.port, g)
  }
  // Stryker disable next-line MethodExpression,ArrowFunction,ArithmeticOperator: the order of the port groups decides nothing (each allow rule names its own port ACL); the rules come sorted by their text already
  return new Map([...groups.entries()].sort((a, b) => a[0] - b[0]))
}

/** door: the Secrets Door's directives (secrets/door.ts), their access rules before the private-range refusal. */
export function renderSquidConfig(allowlist: Pick<EffectiveAllowlist, 'rules'>, door?: {lines: string[]; access: string[]}): string {
  const groups = byPort(allowlist.rules)
  const lines = [
    // Stryker disable next-line StringLiteral: a comment for whoever reads the file; Squid skips it like an empty line
    `# sourceosctl agent-machine egress proxy (generated; see docs/network.md)`,
    `http_port ${PROXY_PORT}`,
    `pid_filename none`,
    // no cache: nothing the agent fetched is kept or served to anyone else
    `cache deny all`,
    `cache_mem 0 MB`,
    `pinger_enable off`,
    `icp_port 0`,
    `htcp_port 0`,
    `shutdown_lifetime 0 seconds`,
    `coredump_dir ${PROXY_RUN_DIR}`,
    `error_directory ${PROXY_RUN_DIR}/errors`,
    `cache_log stdio:/dev/stderr`,
    // one line per request on stdout (podman logs): tag, the request's start time, the client's
    // address (a shared proxy's log is sliced per run by them; proxy-log.ts), method, host, port,
    // status, squid's verdict. Squid sets the first three; only the later ones carry what the agent asked.
    `logformat sourceos ${LOG_TAG} %tS %>a %rm %>rd %>rP %>Hs %Ss`,
    `access_log stdio:/dev/stdout logformat=sourceos`,
    // the upstream sees neither the agent's address nor this proxy
    `via off`,
    `forwarded_for delete`,
    `httpd_suppress_version_string on`,
    // Squid's own cache manager (its config, its clients) is nobody's business from the agent's side
    `acl sourceos_manager url_regex -i ^cache_object:// /squid-internal-mgr/`,
    `acl sourceos_blocked dst ${SQUID_BLOCKED_RANGES.join(' ')}`,
  ]
  const access: string[] = []
  for (const [port, g] of groups) {
    lines.push(`acl sourceos_port_${port} port ${port}`)
    if (g.addresses.length > 0) {
      lines.push(`acl sourceos_addr_${port} dst ${g.addresses.join(' ')}`)
      access.unshift(`http_access allow sourceos_addr_${port} sourceos_port_${port}`)
    }
  }
  access.unshift('http_access deny sourceos_manager')
  if (door) {
    lines.push(...door.lines)
    access.splice(1, 0, ...door.access)
  }
  access.push('http_access deny sourceos_blocked')
  for (const [port, g] of groups) {
    // -n: judge the name as asked, never a reverse lookup of an address
    if (g.hosts.length > 0) {
      lines.push(`acl sourceos_host_${port} dstdomain -n ${g.hosts.join(' ')}`)
      access.push(`http_access allow sourceos_host_${port} sourceos_port_${port}`)
    }
    if (g.domains.length > 0) {
      // *.domain: one label or more before the domain, never the domain itself
      lines.push(`acl sourceos_below_${port} dstdom_regex -n -i ^([a-z0-9-]+\\.)+(${g.domains.map(escapeRegex).join('|')})$`)
      access.push(`http_access allow sourceos_below_${port} sourceos_port_${port}`)
    }
  }
  lines.push(`acl sourceos_all src all`)
  access.push(`deny_info ${DENIED_PAGE} sourceos_all`, 'http_access deny sourceos_all')
  return [...lines, ...access, ''].join('\n')
}

/**
 * The 403 body a refused request gets (Squid expands %H host, %p port). It names the host and
 * the profile setting to change (not the profile's host path: the agent need not learn it); the
 * refusal is also in the session's summary and the evidence.
 */
export function renderDeniedPage(profileName: string): string {
  return [
    `sourceosctl agent-machine: egress to %H:%p is not on the network allowlist of profile '${profileName}', so the proxy refused it.`,
    'To allow it, add "%H:%p" under spec.network.allow in that profile',
    '(or run on the host: sourceosctl agent-machine init --allow-host %H:%p), then start a new session.',
    '',
  ].join('\n')
}
