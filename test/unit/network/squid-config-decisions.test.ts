/**
 * The proxy configuration judged by what Squid would decide with it (src/core/network/squid-config.ts):
 * a small model of Squid's access rules (first matching http_access line wins; a line matches when
 * all its ACLs do) run over the rendered text, so a rule that is missing, misplaced or names an
 * undefined ACL shows as a request let through or refused.
 */
import {BlockList, isIP} from 'node:net'

import {describe, expect, it} from 'vitest'

import {effectiveAllowlist} from '../../../src/core/network/allowlist.js'
import {planEgress, sidecarCreateArgv, sidecarScript} from '../../../src/core/network/sidecar.js'
import {BLOCKED_RANGES, DENIED_PAGE, PROXY_PORT, PROXY_RUN_DIR, renderDeniedPage, renderSquidConfig, SQUID_BLOCKED_RANGES} from '../../../src/core/network/squid-config.js'

interface Acl {
  type: string
  flags: string[]
  values: string[]
}

/** The config's directives, its ACLs (each defined before use, each with values) and its http_access lines. */
function parse(conf: string): {directives: string[][]; acls: Map<string, Acl>; access: Array<{allow: boolean; acls: string[]}>} {
  const directives: string[][] = []
  const acls = new Map<string, Acl>()
  const access: Array<{allow: boolean; acls: string[]}> = []
  for (const line of conf.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const words = line.split(' ')
    directives.push(words)
    if (words[0] === 'acl') {
      const [, name, type, ...rest] = words
      const flags = rest.filter((w) => /^-[a-z]$/.test(w))
      const values = rest.filter((w) => !/^-[a-z]$/.test(w))
      if (!name || !type || values.length === 0) throw new Error(`an acl without a name, type or value: ${line}`)
      acls.set(name, {type, flags, values})
    }
    if (words[0] === 'http_access') {
      const [, verdict, ...names] = words
      if ((verdict !== 'allow' && verdict !== 'deny') || names.length === 0) throw new Error(`not an access rule: ${line}`)
      for (const n of names) if (!acls.has(n)) throw new Error(`'${line}' names the ACL ${n} before any acl line defines it (squid refuses to start)`)
      access.push({allow: verdict === 'allow', acls: names})
    }
    if (words[0] === 'deny_info' && (words.length !== 3 || !acls.has(words[2]!))) throw new Error(`a deny_info without its page and a defined ACL: ${line}`)
  }
  return {directives, acls, access}
}

interface Request {
  /** The host as the agent asked (a name, or an address). */
  host: string
  port: number
  /** The address the name resolved to (an address asks for itself). */
  address?: string
  url?: string
}

/**
 * Squid's dst matching: an IPv4-mapped address is judged by its IPv4 form, and a range inside
 * ::ffff:0:0/96 is read as the IPv4 range it maps (::ffff:0:0/96 itself as 0.0.0.0/0).
 */
function squidAddress(address: string): {address: string; family: 'ipv4' | 'ipv6'} {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped) return {address: mapped[1]!, family: 'ipv4'}
  return {address, family: isIP(address) === 6 ? 'ipv6' : 'ipv4'}
}

function inRanges(address: string, ranges: readonly string[]): boolean {
  // one list per family: node's BlockList would match an IPv4 address against IPv6 rules as its mapped form
  const lists = {ipv4: new BlockList(), ipv6: new BlockList()}
  for (const r of ranges) {
    const [net, bits] = r.includes('/') ? r.split('/') : [r, isIP(r) === 6 ? '128' : '32']
    if (/^::ffff:/i.test(net!)) {
      if (net !== '::ffff:0:0') throw new Error(`range ${r} is not modelled`)
      lists.ipv4.addSubnet('0.0.0.0', Number(bits) - 96, 'ipv4')
    } else if (isIP(net!) === 6) lists.ipv6.addSubnet(net!, Number(bits), 'ipv6')
    else lists.ipv4.addSubnet(net!, Number(bits), 'ipv4')
  }
  const a = squidAddress(address)
  return lists[a.family].check(a.address, a.family)
}

function aclMatches(acl: Acl, req: Request): boolean {
  const address = req.address ?? req.host
  switch (acl.type) {
    case 'port':
      return acl.values.includes(String(req.port))
    case 'dst':
      return isIP(address) !== 0 && inRanges(address, acl.values)
    case 'dstdomain':
      return acl.values.includes(req.host.toLowerCase())
    case 'dstdom_regex':
      return acl.values.some((v) => new RegExp(v, acl.flags.includes('-i') ? 'i' : '').test(req.host))
    case 'url_regex':
      return acl.values.some((v) => new RegExp(v, acl.flags.includes('-i') ? 'i' : '').test(req.url ?? `https://${req.host}:${req.port}/`))
    case 'src':
      return acl.values.includes('all')
    default:
      // myportname, method: a door's port; an agent's request to the proxy port is on none of them
      return false
  }
}

/** Squid's verdict: the first http_access line whose ACLs all match. */
function decide(conf: string, req: Request): 'allow' | 'deny' {
  const {acls, access} = parse(conf)
  for (const rule of access) if (rule.acls.every((n) => aclMatches(acls.get(n)!, req))) return rule.allow ? 'allow' : 'deny'
  throw new Error(`no http_access line decides ${req.host}:${req.port}: squid would take the opposite of the last line`)
}

describe('what the proxy decides', () => {
  const conf = renderSquidConfig(effectiveAllowlist(['api.example.com', 'deb.debian.org:80', '*.pkg.example.net:8443', 'ip:10.88.0.1:8080', 'ip:10.88.0.2:8080', 'ip:[fd00::7]:8080', 'a.example.org:8080', 'b.example.org:8080', '*.one.example:8443'], []))

  it('an allowed name on its port, resolving to a public address, passes; on another port it is refused', () => {
    expect(decide(conf, {host: 'api.example.com', port: 443, address: '93.184.216.34'})).toBe('allow')
    expect(decide(conf, {host: 'api.example.com', port: 8443, address: '93.184.216.34'})).toBe('deny')
    expect(decide(conf, {host: 'deb.debian.org', port: 80, address: '151.101.2.132'})).toBe('allow')
    expect(decide(conf, {host: 'deb.debian.org', port: 443, address: '151.101.2.132'})).toBe('deny')
  })

  it('every name and domain of a port is allowed there, not only the first', () => {
    expect(decide(conf, {host: 'a.example.org', port: 8080, address: '93.184.216.34'})).toBe('allow')
    expect(decide(conf, {host: 'b.example.org', port: 8080, address: '93.184.216.34'})).toBe('allow')
    expect(decide(conf, {host: 'x.pkg.example.net', port: 8443, address: '93.184.216.34'})).toBe('allow')
    expect(decide(conf, {host: 'x.one.example', port: 8443, address: '93.184.216.34'})).toBe('allow')
  })

  it('*.domain allows names below it, never the domain itself or a look-alike', () => {
    expect(decide(conf, {host: 'a.b.pkg.example.net', port: 8443, address: '93.184.216.34'})).toBe('allow')
    expect(decide(conf, {host: 'pkg.example.net', port: 8443, address: '93.184.216.34'})).toBe('deny')
    expect(decide(conf, {host: 'x.pkgXexample.net', port: 8443, address: '93.184.216.34'})).toBe('deny')
    expect(decide(conf, {host: 'x.pkg.example.net.evil.io', port: 8443, address: '93.184.216.34'})).toBe('deny')
  })

  it('an allowed name that resolves to a private, loopback or metadata address is refused', () => {
    for (const address of ['10.1.2.3', '127.0.0.1', '169.254.169.254', '192.168.1.1', '::1', 'fd00::1']) {
      expect(decide(conf, {host: 'api.example.com', port: 443, address})).toBe('deny')
    }
  })

  it('a literal address allowed with ip: passes even though it is private, on its port only; its neighbours do not', () => {
    expect(decide(conf, {host: '10.88.0.1', port: 8080})).toBe('allow')
    expect(decide(conf, {host: '10.88.0.2', port: 8080})).toBe('allow')
    expect(decide(conf, {host: 'fd00::7', port: 8080})).toBe('allow')
    expect(decide(conf, {host: '10.88.0.1', port: 443})).toBe('deny')
    expect(decide(conf, {host: '10.88.0.3', port: 8080})).toBe('deny')
  })

  it('anything not named is refused with the page that names the host, and Squid’s own manager is never reachable', () => {
    expect(decide(conf, {host: 'evil.example', port: 443, address: '93.184.216.34'})).toBe('deny')
    expect(decide(conf, {host: '10.88.0.1', port: 8080, url: 'cache_object://10.88.0.1/config'})).toBe('deny')
    expect(decide(conf, {host: 'api.example.com', port: 443, address: '93.184.216.34', url: 'http://api.example.com/squid-internal-mgr/menu'})).toBe('deny')
    const {directives} = parse(conf)
    expect(directives).toContainEqual(['deny_info', DENIED_PAGE, 'sourceos_all'])
    expect(directives.at(-1)).toEqual(['http_access', 'deny', 'sourceos_all'])
  })

  it('a port with only addresses has no name ACLs (an ACL without values stops squid), and a port with only names no address ACL', () => {
    const only = renderSquidConfig(effectiveAllowlist(['ip:203.0.113.7:8080', 'names.example.com:9090'], []))
    const {acls} = parse(only)
    expect([...acls.keys()].filter((n) => n.endsWith('_8080')).sort()).toEqual(['sourceos_addr_8080', 'sourceos_port_8080'])
    expect([...acls.keys()].filter((n) => n.endsWith('_9090')).sort()).toEqual(['sourceos_host_9090', 'sourceos_port_9090'])
    expect(decide(only, {host: '203.0.113.7', port: 8080})).toBe('allow')
    expect(decide(only, {host: 'names.example.com', port: 9090, address: '93.184.216.34'})).toBe('allow')
  })

  it('the Secrets Door’s rules come right after the manager refusal, before the literal addresses and the private-range refusal', () => {
    const door = {lines: ['acl sourceos_door_1 myportname sourceos_door_1', 'acl sourceos_door_methods method GET POST'], access: ['http_access allow sourceos_door_1 sourceos_door_methods', 'http_access deny sourceos_door_1']}
    const withDoor = renderSquidConfig(effectiveAllowlist(['ip:10.88.0.1:8080'], []), door)
    const lines = withDoor.split('\n')
    for (const l of door.lines) expect(lines).toContain(l)
    expect(lines.filter((l) => l.startsWith('http_access')).slice(0, 5)).toEqual([
      'http_access deny sourceos_manager',
      ...door.access,
      'http_access allow sourceos_addr_8080 sourceos_port_8080',
      'http_access deny sourceos_blocked',
    ])
    expect(parse(withDoor).acls.get('sourceos_door_1')).toEqual({type: 'myportname', flags: [], values: ['sourceos_door_1']})
  })
})

describe('the ranges never reached by name', () => {
  /** What Squid's dst ACL holds. */
  const blocked = parse(renderSquidConfig(effectiveAllowlist([], []))).acls.get('sourceos_blocked')!.values
  it.each([
    ['0.0.0.0', 'this network'],
    ['10.255.0.1', 'private'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['127.0.0.53', 'loopback'],
    ['169.254.169.254', 'link-local: the cloud metadata service'],
    ['172.31.255.254', 'private'],
    ['192.0.0.8', 'IETF protocol assignments'],
    ['192.168.0.1', 'private'],
    ['198.19.0.1', 'benchmarking'],
    ['224.0.0.251', 'multicast'],
    ['255.255.255.255', 'reserved and broadcast'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['::ffff:169.254.169.254', 'IPv4-mapped: any IPv4 address, the private ones included'],
    ['64:ff9b::a9fe:a9fe', 'NAT64: the metadata address through a translator'],
    ['fd12:3456::1', 'unique local'],
    ['fe80::1', 'link-local'],
    ['ff02::1', 'multicast'],
  ])('%s (%s) is blocked', (address) => {
    expect(inRanges(address, blocked)).toBe(true)
  })

  it.each(['1.1.1.1', '100.128.0.1', '172.32.0.1', '192.0.1.1', '198.20.0.1', '223.255.255.1', '2606:4700:4700::1111', '2001:db8::1'])('public %s is not', (address) => {
    expect(inRanges(address, blocked)).toBe(false)
  })

  it('Squid gets no range it would read as all of IPv4: the IPv4-mapped block is left to the IPv4 ranges (the NetworkPolicy keeps it)', () => {
    expect(blocked).not.toContain('::ffff:0:0/96')
    expect(inRanges('93.184.216.34', ['::ffff:0:0/96'])).toBe(true)
    expect(BLOCKED_RANGES).toContain('::ffff:0:0/96')
    expect(SQUID_BLOCKED_RANGES).toEqual(BLOCKED_RANGES.filter((r) => r !== '::ffff:0:0/96'))
  })
})

describe('the proxy itself', () => {
  const conf = renderSquidConfig(effectiveAllowlist(['api.example.com'], []))
  const {directives} = parse(conf)
  const has = (...words: string[]) => expect(directives).toContainEqual(words)

  it('listens on its port only and keeps no pid file', () => {
    has('http_port', String(PROXY_PORT))
    expect(directives.filter((d) => d[0] === 'http_port')).toHaveLength(1)
    has('pid_filename', 'none')
  })

  it('keeps nothing: no disk or memory cache', () => {
    has('cache', 'deny', 'all')
    has('cache_mem', '0', 'MB')
  })

  it('speaks no other protocol and sends no probes: no pinger, ICP or HTCP', () => {
    has('pinger_enable', 'off')
    has('icp_port', '0')
    has('htcp_port', '0')
  })

  it('stops at once when told to (a run’s teardown waits for nothing)', () => {
    has('shutdown_lifetime', '0', 'seconds')
  })

  it('writes only into its own tmpfs /tmp, where the entrypoint puts the refusal page that deny_info names', () => {
    const e = planEgress({runId: 'abcdef0123456789', image: 'f'.repeat(64), allowlist: effectiveAllowlist(['api.example.com'], []), profileName: 'p'})
    const tmpfs = sidecarCreateArgv(e, {binary: 'podman', connection: null}).find((a) => a.startsWith('--tmpfs='))
    expect(tmpfs).toMatch(/^--tmpfs=\/tmp:/)
    expect(PROXY_RUN_DIR.startsWith('/tmp/')).toBe(true)
    const coredump = directives.find((d) => d[0] === 'coredump_dir')?.[1]
    const errors = directives.find((d) => d[0] === 'error_directory')?.[1]
    expect(coredump).toBe(PROXY_RUN_DIR)
    expect(errors?.startsWith(`${PROXY_RUN_DIR}/`)).toBe(true)
    expect(sidecarScript()).toContain(`> "$d/errors/${DENIED_PAGE}"`)
    expect(sidecarScript()).toContain(`d=${PROXY_RUN_DIR};`)
    expect(`${PROXY_RUN_DIR}/errors`).toBe(errors)
    expect(DENIED_PAGE).toMatch(/^ERR_[A-Z_]+$/)
  })

  it('logs to the container’s stderr and stdout (podman logs), never to a file, one tagged line per request', () => {
    has('cache_log', 'stdio:/dev/stderr')
    has('access_log', 'stdio:/dev/stdout', 'logformat=sourceos')
    expect(directives.some((d) => d[0] === 'logformat' && d[1] === 'sourceos')).toBe(true)
  })

  it('hides the agent and itself from the upstream', () => {
    has('via', 'off')
    has('forwarded_for', 'delete')
    has('httpd_suppress_version_string', 'on')
  })

  it('every line is a comment or one of the directives it is written with; every ACL it defines is used by a rule; it ends with a newline', () => {
    const known = ['http_port', 'pid_filename', 'cache', 'cache_mem', 'pinger_enable', 'icp_port', 'htcp_port', 'shutdown_lifetime', 'coredump_dir', 'error_directory', 'cache_log', 'logformat', 'access_log', 'via', 'forwarded_for', 'httpd_suppress_version_string', 'acl', 'http_access', 'deny_info']
    for (const c of [conf, renderSquidConfig(effectiveAllowlist(['ip:203.0.113.7:8080', '*.example.com'], []))]) {
      expect(parse(c).directives.map((d) => d[0]).filter((d) => !known.includes(d!))).toEqual([])
    }
    const {acls, access} = parse(conf)
    const used = new Set(access.flatMap((a) => a.acls))
    expect([...acls.keys()].filter((n) => !used.has(n))).toEqual([])
    expect(conf.endsWith('\n')).toBe(true)
    expect(conf.endsWith('\n\n')).toBe(false)
  })

  it('the refusal page is lines of text ending with a newline', () => {
    const page = renderDeniedPage('p')
    expect(page.endsWith('\n')).toBe(true)
    expect(page.split('\n').length).toBeGreaterThan(2)
  })
})
