import {describe, expect, it} from 'vitest'

import {effectiveAllowlist, parseAllowEntry, ruleAllows, ruleText, toolEgress, type AllowRule} from '../../../src/core/network/allowlist.js'

const rule = (raw: string): AllowRule => {
  const parsed = parseAllowEntry(raw)
  if (!parsed.ok) throw new Error(`${raw}: ${parsed.reason}`)
  return parsed.rule
}
const refusal = (raw: string): string => {
  const parsed = parseAllowEntry(raw)
  if (parsed.ok) throw new Error(`${raw} was accepted as ${ruleText(parsed.rule)}`)
  return parsed.reason
}

describe('allowlist patterns', () => {
  it('a host without a port means port 443; names are lower-cased', () => {
    expect(rule('API.Example.com')).toEqual({kind: 'host', host: 'api.example.com', port: 443})
    expect(rule('deb.debian.org:80')).toEqual({kind: 'host', host: 'deb.debian.org', port: 80})
  })

  it('*.domain matches the names below the domain, never the domain itself or a look-alike', () => {
    const r = [rule('*.example.com')]
    expect(ruleAllows(r, 'api.example.com', 443)).toBe(true)
    expect(ruleAllows(r, 'a.b.example.com', 443)).toBe(true)
    expect(ruleAllows(r, 'example.com', 443)).toBe(false)
    expect(ruleAllows(r, 'evilexample.com', 443)).toBe(false)
    expect(ruleAllows(r, 'api.example.com.evil.net', 443)).toBe(false)
    expect(ruleAllows(r, 'api.example.com', 80)).toBe(false)
  })

  it('an exact host allows only itself on its port', () => {
    const r = [rule('registry.npmjs.org')]
    expect(ruleAllows(r, 'registry.npmjs.org', 443)).toBe(true)
    expect(ruleAllows(r, 'REGISTRY.npmjs.org', 443)).toBe(true)
    expect(ruleAllows(r, 'x.registry.npmjs.org', 443)).toBe(false)
    expect(ruleAllows(r, 'registry.npmjs.org', 8443)).toBe(false)
  })

  it.each([
    ['*', /bare \*/],
    ['*:443', /bare \*/],
    ['*.com', /top-level domain/],
    ['api.*.com', /only lead/],
    ['*example.com', /only lead/],
    ['10.0.0.5', /ip:10\.0\.0\.5:443/],
    ['169.254.169.254:80', /ip:169\.254\.169\.254:80/],
    ['[::1]:8080', /ip:\[::1\]:8080/],
    ['host:0', /outside 1-65535/],
    ['host:65536', /outside 1-65535/],
    ['host:http', /not a number/],
    ['https://api.example.com', /not a URL/],
    ['api.example.com/v1', /not a URL/],
    ['user@api.example.com', /not a URL/],
    ['api.example.com.', /trailing dot/],
    ['a..b', /empty label/],
    ['-bad.example.com', /not a DNS label/],
    ['ex ample.com', /not a URL/],
    ['bücher.de', /non-ASCII.*xn--/],
    ['api.example.com\n', /control character/],
    ['api.example.com\u2028', /control character/],
    ['', /empty/],
    ['1.2.3.999', /looks like an IP|all-digit/],
  ])('refuses %j, saying how to write it', (raw, reason) => {
    expect(refusal(raw)).toMatch(reason)
  })

  it('an IP address is allowed only when written as one, IPv6 in brackets', () => {
    expect(rule('ip:203.0.113.7:8080')).toEqual({kind: 'ip', address: '203.0.113.7', port: 8080})
    expect(rule('ip:[2001:db8::1]')).toEqual({kind: 'ip', address: '2001:db8::1', port: 443})
    expect(refusal('ip:2001:db8::1')).toMatch(/brackets/)
    expect(refusal('ip:999.1.1.1')).toMatch(/not an IP address/)
    expect(refusal('ip:example.com')).toMatch(/not an IP address/)
  })
})

describe('the effective allowlist', () => {
  it('adds the hosts each enabled tool needs (from policy/tool-egress.json), with their origins, sorted and unique', () => {
    const list = effectiveAllowlist(['registry.npmjs.org', 'API.anthropic.com:443'], ['claude-code'])
    expect(list.entries).toContain('registry.npmjs.org:443')
    for (const host of toolEgress('claude-code').hosts) expect(list.entries).toContain(`${host}:443`)
    expect(list.entries.some((e) => e.startsWith('api.openai.com'))).toBe(false)
    expect(list.origins['api.anthropic.com:443']).toEqual(['profile', 'tool claude-code'])
    expect([...list.entries].sort()).toEqual(list.entries)
    expect(new Set(list.entries).size).toBe(list.entries.length)
    expect(list.hash).toMatch(/^sha256:[a-f0-9]{64}$/)
  })

  it('its hash changes with any entry and not with order or spelling', () => {
    const a = effectiveAllowlist(['a.example.com', 'b.example.com:8443'], [])
    expect(effectiveAllowlist(['B.example.com:8443', 'a.example.com:443'], []).hash).toBe(a.hash)
    expect(effectiveAllowlist(['a.example.com', 'b.example.com:8444'], []).hash).not.toBe(a.hash)
  })

  it('every tool entry names its sources', () => {
    for (const tool of ['codex', 'claude-code'] as const) {
      const t = toolEgress(tool)
      expect(t.hosts.length).toBeGreaterThan(0)
      expect(t.sources.length).toBeGreaterThan(0)
      for (const h of t.hosts) expect(parseAllowEntry(h).ok).toBe(true)
    }
  })
})
