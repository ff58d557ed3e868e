import {describe, expect, it} from 'vitest'

import {deniedHosts, MAX_DESTINATIONS, parseProxyLog} from '../../../src/core/network/proxy-log.js'
import {LOG_TAG} from '../../../src/core/network/squid-config.js'

const line = (method: string, host: string, port: string, status: string, verdict: string) => `${LOG_TAG} 1796549987.227 ${method} ${host} ${port} ${status} ${verdict}`

describe('the proxy log', () => {
  it('counts each host:port by decision; an allowed request the upstream never answered is counted as such', () => {
    const log = [
      '2026/12/06 09:39:39| Accepting HTTP Socket connections at conn3',
      line('CONNECT', 'registry.npmjs.org', '443', '200', 'TCP_TUNNEL'),
      line('CONNECT', 'registry.npmjs.org', '443', '200', 'TCP_TUNNEL'),
      line('CONNECT', 'api.anthropic.com', '443', '503', 'TCP_TUNNEL'),
      line('GET', 'deb.debian.org', '80', '200', 'TCP_MISS'),
      line('CONNECT', 'example.com', '443', '403', 'TCP_DENIED'),
      line('GET', 'EXAMPLE.com', '443', '403', 'TCP_DENIED_ABORTED'),
    ].join('\n')
    const s = parseProxyLog(log)
    expect(s.unparsed).toBe(0)
    expect(s.destinations).toEqual([
      {host: 'api.anthropic.com', port: 443, decision: 'allowed', count: 1, upstreamFailed: 1, methods: ['CONNECT']},
      {host: 'deb.debian.org', port: 80, decision: 'allowed', count: 1, upstreamFailed: 0, methods: ['GET']},
      {host: 'example.com', port: 443, decision: 'denied', count: 2, upstreamFailed: 0, methods: ['CONNECT', 'GET']},
      {host: 'registry.npmjs.org', port: 443, decision: 'allowed', count: 2, upstreamFailed: 0, methods: ['CONNECT']},
    ])
    expect(deniedHosts(s)).toEqual(['example.com:443 (2×)'])
  })

  it('never takes a malformed tagged line at face value: it is counted as unparsed', () => {
    const s = parseProxyLog([
      `${LOG_TAG} 1.000 CONNECT evil.com 443 200 TCP_TUNNEL extra`,
      `${LOG_TAG} 1.000 CONNECT evil\u0007.com 443 200 TCP_TUNNEL`,
      `${LOG_TAG} 1.000 CONNECT ${'a'.repeat(300)} 443 200 TCP_TUNNEL`,
      `${LOG_TAG} garbage`,
      line('NONE', '-', '-', '400', 'TCP_DENIED'),
    ].join('\n'))
    expect(s.unparsed).toBe(4)
    expect(s.destinations).toEqual([{host: '-', port: 0, decision: 'denied', count: 1, upstreamFailed: 0, methods: ['NONE']}])
  })

  it('lists at most MAX_DESTINATIONS, counting the rest', () => {
    const lines = Array.from({length: MAX_DESTINATIONS + 7}, (_, i) => line('CONNECT', `h${i}.example.com`, '443', '403', 'TCP_DENIED'))
    const s = parseProxyLog(lines.join('\n'))
    expect(s.destinations).toHaveLength(MAX_DESTINATIONS)
    expect(s.truncated).toBe(7)
  })
})
