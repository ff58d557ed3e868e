import {describe, expect, it} from 'vitest'

import {effectiveAllowlist} from '../../../src/core/network/allowlist.js'
import {BLOCKED_RANGES, DENIED_PAGE, LOG_TAG, renderDeniedPage, renderSquidConfig, SQUID_BLOCKED_RANGES} from '../../../src/core/network/squid-config.js'
import {agentNetworkArgs, egressSubnet, planEgress, proxyEnv, sidecarCreateArgv} from '../../../src/core/network/sidecar.js'

const access = (conf: string) => conf.split('\n').filter((l) => l.startsWith('http_access'))

describe('the proxy configuration', () => {
  const conf = renderSquidConfig(effectiveAllowlist(['registry.npmjs.org', '*.example.com:8443', 'deb.debian.org:80', 'ip:10.88.0.1:8080'], []))

  it('allows a literal address first, then refuses every private/link-local destination, then allows the names, then refuses the rest', () => {
    const rules = access(conf)
    expect(rules[0]).toBe('http_access deny sourceos_manager')
    expect(rules[1]).toBe('http_access allow sourceos_addr_8080 sourceos_port_8080')
    expect(rules[2]).toBe('http_access deny sourceos_blocked')
    expect(rules.slice(3, -1)).toEqual(expect.arrayContaining([
      'http_access allow sourceos_host_443 sourceos_port_443',
      'http_access allow sourceos_host_80 sourceos_port_80',
      'http_access allow sourceos_below_8443 sourceos_port_8443',
    ]))
    expect(rules.at(-1)).toBe('http_access deny sourceos_all')
    expect(conf).toContain(`deny_info ${DENIED_PAGE} sourceos_all`)
  })

  it('judges names as asked (-n), exact names exactly, *.domain only below the domain', () => {
    expect(conf).toContain('acl sourceos_host_443 dstdomain -n registry.npmjs.org')
    expect(conf).toContain('acl sourceos_below_8443 dstdom_regex -n -i ^([a-z0-9-]+\\.)+(example\\.com)$')
    expect(conf).not.toMatch(/dstdomain .*\.example\.com/) // a leading-dot dstdomain would also match example.com
  })

  it('blocks the metadata, loopback, private and link-local ranges (IPv4 and IPv6)', () => {
    for (const range of ['169.254.0.0/16', '127.0.0.0/8', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '::1/128', 'fe80::/10', 'fc00::/7', '100.64.0.0/10']) {
      expect(BLOCKED_RANGES).toContain(range)
    }
    expect(conf).toContain(`acl sourceos_blocked dst ${SQUID_BLOCKED_RANGES.join(' ')}`)
  })

  it('keeps no cache, hides the client and logs one tagged line per request', () => {
    expect(conf).toContain('cache deny all')
    expect(conf).toContain('forwarded_for delete')
    expect(conf).toContain('via off')
    expect(conf).toContain(`logformat sourceos ${LOG_TAG} `)
  })

  it('with no entries allows nothing', () => {
    const rules = access(renderSquidConfig(effectiveAllowlist([], [])))
    expect(rules).toEqual(['http_access deny sourceos_manager', 'http_access deny sourceos_blocked', 'http_access deny sourceos_all'])
  })

  it('the refusal page names the host, the port and the setting, but not the profile’s host path', () => {
    const page = renderDeniedPage('my-profile')
    expect(page).toContain('%H:%p')
    expect(page).toContain('spec.network.allow')
    expect(page).toContain('init --allow-host')
    expect(page).not.toMatch(/\/home\/|~\//)
  })
})

describe('the sidecar and the agent’s network', () => {
  const e = planEgress({runId: 'abcdef0123456789', image: 'f'.repeat(64), allowlist: effectiveAllowlist(['registry.npmjs.org'], []), profileName: 'p'})

  it('derives a /24 and the proxy address from the run id, the same every time', () => {
    expect(egressSubnet('abcdef0123456789')).toEqual(egressSubnet('abcdef0123456789'))
    expect(e.subnet).toMatch(/^10\.(1[6-9]\d|2[0-2]\d)\.\d{1,3}\.0\/24$/)
    expect(e.proxyAddress).toBe(e.subnet.replace('.0/24', '.254'))
    expect(egressSubnet('another-run-id-1').subnet).not.toBe(e.subnet)
  })

  it('the agent gets the internal network only, no resolver, and the proxy variables', () => {
    expect(agentNetworkArgs(e)).toEqual([`--network=${e.network}`, '--dns=none'])
    const env = Object.fromEntries(proxyEnv(e))
    for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy']) expect(env[k]).toBe(`http://${e.proxyAddress}:3128`)
    expect(env.NO_PROXY).toBe('localhost,127.0.0.1,::1')
    expect(env.NODE_USE_ENV_PROXY).toBe('1')
  })

  it('the sidecar is hardened, mounts nothing of the host, runs as nobody, and is on both networks', () => {
    const argv = sidecarCreateArgv(e, {binary: 'podman', connection: 'm-root'})
    expect(argv.slice(0, 4)).toEqual(['podman', '--connection', 'm-root', 'create'])
    for (const flag of ['--cap-drop=all', '--security-opt=no-new-privileges', '--read-only', '--pull=never', '--http-proxy=false', '--user=65534:65534', '--tmpfs=/tmp:rw,nosuid,nodev,noexec,mode=1777']) expect(argv).toContain(flag)
    expect(argv.some((a) => /^(--mount|--volume|-v$|--privileged|--cap-add)/.test(a))).toBe(false)
    expect(argv.filter((a) => a.startsWith('--network='))).toEqual(['--network=podman', `--network=${e.network}:ip=${e.proxyAddress}`])
    expect(argv).toContain(`--label=dev.sourceos.agent-machine.run-id=${e.runId}`)
    expect(argv).toContain('--label=dev.sourceos.agent-machine.role=egress-proxy')
  })
})
