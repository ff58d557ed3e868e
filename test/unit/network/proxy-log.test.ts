import {describe, expect, it} from 'vitest'

import {deniedHosts, MAX_DESTINATIONS, parseProxyLog, sliceProxyLog} from '../../../src/core/network/proxy-log.js'
import {LOG_TAG} from '../../../src/core/network/squid-config.js'

const line = (method: string, host: string, port: string, status: string, verdict: string, client = '10.160.7.9', at = '1796549987.227') => `${LOG_TAG} ${at} ${client} ${method} ${host} ${port} ${status} ${verdict}`

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
      `${LOG_TAG} 1.000 10.0.0.2 CONNECT evil.com 443 200 TCP_TUNNEL extra`,
      `${LOG_TAG} 1.000 10.0.0.2 CONNECT evil\u0007.com 443 200 TCP_TUNNEL`,
      `${LOG_TAG} 1.000 10.0.0.2 CONNECT ${'a'.repeat(300)} 443 200 TCP_TUNNEL`,
      `${LOG_TAG} garbage`,
      `${LOG_TAG} 1.000 CONNECT evil.com 443 200 TCP_TUNNEL`,
      line('NONE', '-', '-', '400', 'TCP_DENIED'),
    ].join('\n'))
    expect(s.unparsed).toBe(5)
    expect(s.destinations).toEqual([{host: '-', port: 0, decision: 'denied', count: 1, upstreamFailed: 0, methods: ['NONE']}])
  })

  it('lists at most MAX_DESTINATIONS, counting the rest', () => {
    const lines = Array.from({length: MAX_DESTINATIONS + 7}, (_, i) => line('CONNECT', `h${i}.example.com`, '443', '403', 'TCP_DENIED'))
    const s = parseProxyLog(lines.join('\n'))
    expect(s.destinations).toHaveLength(MAX_DESTINATIONS)
    expect(s.truncated).toBe(7)
  })

  describe('a shared proxy’s log, sliced to one run', () => {
    const mine = '10.161.4.77'
    const created = 1796549990

    it('keeps only the lines from the run’s agent address that started at or after its container’s creation', () => {
      const log = [
        '2026/12/06 09:39:39| Accepting HTTP Socket connections at conn3',
        line('CONNECT', 'registry.npmjs.org', '443', '200', 'TCP_TUNNEL', mine, '1796549990.000'),
        line('CONNECT', 'example.com', '443', '403', 'TCP_DENIED', mine, '1796549995.512'),
        // a concurrent run on another network of the pool (another address)
        line('CONNECT', 'other-run.example.org', '443', '403', 'TCP_DENIED', '10.199.2.40', '1796549993.000'),
        // an earlier run of the same network that had the same address: before this run's container existed
        line('CONNECT', 'earlier.example.org', '443', '403', 'TCP_DENIED', mine, '1796549989.999'),
      ].join('\n')
      const sliced = sliceProxyLog(log, {client: mine, since: created})
      const s = parseProxyLog(sliced)
      expect(s.destinations.map((d) => `${d.decision} ${d.host}:${d.port}`)).toEqual(['denied example.com:443', 'allowed registry.npmjs.org:443'])
      expect(s.unparsed).toBe(0)
      expect(sliced).not.toContain('other-run')
      expect(sliced).not.toContain('earlier')
    })

    it('an address is matched whole (10.161.4.7 is not 10.161.4.77), and a line whose squid-written fields do not parse is nobody’s', () => {
      const log = [
        line('CONNECT', 'near.example.org', '443', '200', 'TCP_TUNNEL', '10.161.4.7', '1796549999.000'),
        line('CONNECT', 'near2.example.org', '443', '200', 'TCP_TUNNEL', '10.161.4.770', '1796549999.000'),
        `${LOG_TAG} 1796549999.000 CONNECT ${mine} 443 200 TCP_TUNNEL`,
        `${LOG_TAG} soon ${mine} CONNECT a.example.org 443 200 TCP_TUNNEL`,
      ].join('\n')
      expect(sliceProxyLog(log, {client: mine, since: created})).toBe('')
    })

    it('the agent cannot claim another run’s address: it can only choose the host, which comes after squid’s own fields and must be one token', () => {
      // a host name carrying a space and a forged prefix stays on its own line, with the real client first
      const forged = `${LOG_TAG} 1796549999.000 ${mine} CONNECT x.example.org ${LOG_TAG} 1796549999.000 10.199.2.40 CONNECT y.example.org 443 200 TCP_TUNNEL`
      expect(parseProxyLog(sliceProxyLog(forged, {client: mine, since: created})).unparsed).toBe(1)
      expect(sliceProxyLog(forged, {client: '10.199.2.40', since: created})).toBe('')
    })
  })
})
