/**
 * The edges of the allowlist grammar (src/core/network/allowlist.ts): what a pattern lets through
 * is exactly what the proxy enforces, so every bound of a name, a port and an address is stated.
 */
import {createHash} from 'node:crypto'
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {afterEach, describe, expect, it, vi} from 'vitest'

import {effectiveAllowlist, parseAllowEntry, ruleAllows, ruleText, type AllowRule} from '../../../src/core/network/allowlist.js'
import type {ToolName} from '../../../src/core/profile/schema.js'
import {tempDir} from '../../helpers/temp-dirs.js'

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

describe('names', () => {
  it('a DNS label is letters, digits and inner hyphens, 63 at most: a label ending in -, with _ or of 64 characters is refused', () => {
    expect(refusal('bad-.example.com')).toMatch(/not a DNS label/)
    expect(refusal('a_b.example.com')).toMatch(/not a DNS label/)
    expect(refusal(`${'a'.repeat(64)}.example.com`)).toMatch(/not a DNS label/)
    expect(rule(`${'a'.repeat(63)}.example.com`)).toEqual({kind: 'host', host: `${'a'.repeat(63)}.example.com`, port: 443})
    expect(rule('a-b.example.com').kind).toBe('host')
  })

  it('a whole name is 253 characters at most', () => {
    const label = 'a'.repeat(63)
    const longest = `${label}.${label}.${label}.${'b'.repeat(61)}`
    expect(longest).toHaveLength(253)
    expect(rule(longest)).toEqual({kind: 'host', host: longest, port: 443})
    expect(refusal(`${longest}b`)).toMatch(/longer than 253/)
  })

  it('only an all-digit last label looks like an address: digits elsewhere in it, or in other labels, are a name', () => {
    expect(refusal('a.b.123')).toMatch(/all-digit top-level label/)
    expect(rule('host.a1').kind).toBe('host')
    expect(rule('host.1a').kind).toBe('host')
    expect(rule('1.2.example').kind).toBe('host')
  })

  it('surrounding spaces are trimmed; an entry of only spaces is refused as empty', () => {
    expect(rule('  api.example.com  ')).toEqual({kind: 'host', host: 'api.example.com', port: 443})
    expect(refusal('   ')).toBe('it is empty')
    expect(refusal('')).toBe('it is empty')
  })

  it('a * that does not lead the pattern is refused as such (not as a bare *), also after a leading *.', () => {
    expect(refusal('api.*')).toMatch(/only lead/)
    expect(refusal('*.*.example.com')).toMatch(/only lead/)
  })

  it('the domain of a *. pattern is held to the same rules as a name', () => {
    expect(refusal('*.a..example.com')).toMatch(/empty label/)
    expect(refusal('*.-bad.example.com')).toMatch(/not a DNS label/)
    expect(refusal('*.example.123')).toMatch(/all-digit/)
    expect(rule('*.example.com:8443')).toEqual({kind: 'subdomains', domain: 'example.com', port: 8443})
  })

  it('an address written as a host is refused with the ip: form to write, brackets added for IPv6', () => {
    expect(refusal('fe80::1:8080')).toMatch(/ip:\[fe80::1\]:8080/)
    expect(refusal('[::1]:8080')).toMatch(/ip:\[::1\]:8080$/)
    expect(refusal('[abc]')).toMatch(/only when written as one/)
  })
})

describe('ports', () => {
  it('1 and 65535 are ports; a port with anything but digits is refused, wherever the letter stands', () => {
    expect(rule('example.com:1').port).toBe(1)
    expect(rule('example.com:65535').port).toBe(65535)
    expect(refusal('example.com:8a')).toMatch(/not a number/)
    expect(refusal('example.com:a8')).toMatch(/not a number/)
    expect(refusal('example.com:123456')).toMatch(/not a number/)
  })

  it('an ip: entry’s port is checked like a name’s', () => {
    expect(refusal('ip:203.0.113.7:0')).toMatch(/outside 1-65535/)
    expect(refusal('ip:[::1]:70000')).toMatch(/outside 1-65535/)
  })
})

describe('ip: entries', () => {
  it('a v4 address with and without a port, a bracketed v6 address with a port', () => {
    expect(rule('ip:203.0.113.7')).toEqual({kind: 'ip', address: '203.0.113.7', port: 443})
    expect(rule('ip:[::1]:8080')).toEqual({kind: 'ip', address: '::1', port: 8080})
  })

  it('the address is the whole entry: nothing before it, no second port after it', () => {
    expect(refusal('ip:v203.0.113.7')).toMatch(/not an IP address/)
    expect(refusal('ip:x[::1]')).toMatch(/not an IP address/)
    expect(refusal('ip:203.0.113.7:80:90')).toMatch(/not an IP address/)
    expect(refusal('ip:[::1]:80:90')).toMatch(/not an IP address/)
  })

  it('an unbracketed v6 address followed by a port is told to use brackets', () => {
    // 65536 is no IPv6 group (five hex digits): only the port reading makes it an address
    expect(refusal('ip:2001:db8::1:65536')).toMatch(/in brackets/)
  })
})

describe('what a rule allows', () => {
  it('an ip rule allows its address, also asked for in brackets, on its port only', () => {
    const v6 = [rule('ip:[2001:db8::1]:8443')]
    expect(ruleAllows(v6, '[2001:db8::1]', 8443)).toBe(true)
    expect(ruleAllows(v6, '2001:db8::1', 8443)).toBe(true)
    expect(ruleAllows(v6, '2001:db8::2', 8443)).toBe(false)
    expect(ruleAllows(v6, '2001:db8::1', 443)).toBe(false)
    expect(ruleAllows([rule('ip:203.0.113.7')], '203.0.113.7', 443)).toBe(true)
  })

  it('brackets are taken off only around the whole host', () => {
    expect(ruleAllows([rule('ip:[a::1]')], 'a[::1]', 443)).toBe(false)
    expect(ruleAllows([rule('ip:[a::1b]')], '[a::1]b', 443)).toBe(false)
  })

  it('an ip rule never allows a name, nor a name rule an address', () => {
    expect(ruleAllows([rule('ip:203.0.113.7')], 'example.com', 443)).toBe(false)
    expect(ruleAllows([rule('*.example.com')], '203.0.113.7', 443)).toBe(false)
  })

  it('any one matching rule is enough', () => {
    const rules = [rule('a.example.com'), rule('b.example.com'), rule('ip:203.0.113.7')]
    expect(ruleAllows(rules, 'b.example.com', 443)).toBe(true)
    expect(ruleAllows(rules, '203.0.113.7', 443)).toBe(true)
  })

  it('the canonical text of each kind reads back as the same rule', () => {
    for (const [raw, text] of [
      ['API.example.com', 'api.example.com:443'],
      ['*.Example.com:8443', '*.example.com:8443'],
      ['ip:203.0.113.7', 'ip:203.0.113.7:443'],
      ['ip:[2001:DB8::1]:8080', 'ip:[2001:db8::1]:8080'],
    ] as const) {
      expect(ruleText(rule(raw))).toBe(text)
      expect(rule(text)).toEqual(rule(raw))
    }
  })
})

describe('the effective allowlist', () => {
  it('an invalid entry is a bug the caller made (the profile schema refuses it first): it throws, naming where it came from', () => {
    expect(() => effectiveAllowlist(['*'], [])).toThrow(/invalid allowlist entry '\*' from profile/)
  })

  it('its hash is sha256 over the sorted canonical entries, one per line', () => {
    const list = effectiveAllowlist(['b.example.com:8443', 'A.example.com'], [])
    expect(list.entries).toEqual(['a.example.com:443', 'b.example.com:8443'])
    expect(list.hash).toBe(`sha256:${createHash('sha256').update('a.example.com:443\nb.example.com:8443').digest('hex')}`)
  })
})

describe('policy/tool-egress.json as read', () => {
  afterEach(() => {
    vi.doUnmock('../../../src/core/util/package-root.js')
    vi.resetModules()
  })

  /** allowlist.js loaded afresh with the package root at a folder holding this tool-egress.json. */
  async function withToolEgress(content: string | null): Promise<typeof import('../../../src/core/network/allowlist.js')> {
    const root = tempDir('tool-egress-')
    if (content !== null) {
      mkdirSync(join(root, 'policy'))
      writeFileSync(join(root, 'policy', 'tool-egress.json'), content)
    }
    vi.resetModules()
    vi.doMock('../../../src/core/util/package-root.js', () => ({packageRoot: () => root}))
    return import('../../../src/core/network/allowlist.js')
  }

  const doc = (tools: Record<string, {hosts: string[]}>) => JSON.stringify({schema: 'sourceos.dev/agent-machine/tool-egress/v1', tools: Object.fromEntries(Object.entries(tools).map(([k, v]) => [k, {...v, why: 'test', sources: ['test']}]))})

  it('a host two tools need lists both tools as its origins, in name order whatever the order enabled', async () => {
    const m = await withToolEgress(doc({codex: {hosts: ['shared.example.com', 'x.example.com']}, 'claude-code': {hosts: ['shared.example.com']}}))
    const list = m.effectiveAllowlist(['shared.example.com'], ['codex', 'claude-code'])
    expect(list.origins['shared.example.com:443']).toEqual(['profile', 'tool claude-code', 'tool codex'])
    expect(list.origins['x.example.com:443']).toEqual(['tool codex'])
  })

  it('a missing file, one of another schema, one without tools or without the tool: each refused (reinstall)', async () => {
    await expect(withToolEgress(null).then((m) => m.toolEgress('codex'))).rejects.toMatchObject({code: 'TOOL_EGRESS_UNREADABLE'})
    await expect(withToolEgress('{not json').then((m) => m.toolEgress('codex'))).rejects.toMatchObject({code: 'TOOL_EGRESS_UNREADABLE'})
    await expect(withToolEgress(JSON.stringify({schema: 'other/v1', tools: {codex: {hosts: []}}})).then((m) => m.toolEgress('codex'))).rejects.toMatchObject({code: 'TOOL_EGRESS_INVALID'})
    await expect(withToolEgress(JSON.stringify({schema: 'sourceos.dev/agent-machine/tool-egress/v1'})).then((m) => m.toolEgress('codex'))).rejects.toMatchObject({code: 'TOOL_EGRESS_INVALID'})
    await expect(withToolEgress(doc({codex: {hosts: []}})).then((m) => m.toolEgress('claude-code' as ToolName))).rejects.toMatchObject({code: 'TOOL_EGRESS_INVALID'})
  })
})
