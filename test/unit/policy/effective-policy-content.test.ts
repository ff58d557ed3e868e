/**
 * The effective policy (what the evidence record's policy hash covers) carries every setting that
 * decides what the agent can reach, in one canonical order, and canonical JSON refuses anything
 * that is not I-JSON, naming where.
 */
import {describe, expect, it} from 'vitest'
import type {AgentMachineProfile} from '../../../src/core/profile/schema.js'
import {buildEffectivePolicy, canonicalJson, enabledTools, policyHash} from '../../../src/core/policy/hash.js'

const profile = (spec: Partial<AgentMachineProfile['spec']> = {}): AgentMachineProfile =>
  ({
    apiVersion: 'sourceos.dev/v1alpha1',
    kind: 'AgentMachineProfile',
    metadata: {name: 'p'},
    spec: {
      platform: 'linux',
      image: {ref: 'localhost/a:b', digest: null, pull: 'never'},
      mounts: [],
      tools: {codex: {enabled: true, command: ['codex']}, 'claude-code': {enabled: false, command: ['claude']}},
      env: {passthrough: [], set: {}},
      network: {mode: 'none'},
      resources: {cpus: 2, memory: '4g', pidsLimit: 512},
      secrets: {door: 'none'},
      ...spec,
    },
  }) as AgentMachineProfile

describe('the effective policy', () => {
  it('orders mounts by target, then source, then mode, whatever order they came in', () => {
    const m = (source: string, target: string, mode: 'rw' | 'ro') => ({source, target, mode})
    const input = [m('/b', '/workspace/x', 'rw'), m('/a', '/workspace/x', 'rw'), m('/a', '/workspace/x', 'ro'), m('/z', '/workspace/a', 'rw')]
    const expected = [m('/z', '/workspace/a', 'rw'), m('/a', '/workspace/x', 'ro'), m('/a', '/workspace/x', 'rw'), m('/b', '/workspace/x', 'rw')]
    expect(buildEffectivePolicy(profile(), input, {rootless: true}).mounts).toEqual(expected)
    expect(buildEffectivePolicy(profile(), [...input].reverse(), {rootless: true}).mounts).toEqual(expected)
  })

  it('lists tools by name with their command, and only set tools', () => {
    const p = buildEffectivePolicy(profile({tools: {codex: {enabled: true, command: ['codex', '--x']}, 'claude-code': undefined} as never}), [], {rootless: true})
    expect(p.tools).toEqual([{name: 'codex', enabled: true, command: ['codex', '--x']}])
    expect(buildEffectivePolicy(profile(), [], {rootless: true}).tools.map((t) => t.name)).toEqual(['claude-code', 'codex'])
  })

  it('resources, image and env are carried as set', () => {
    const p = buildEffectivePolicy(profile({env: {passthrough: ['B', 'A', 'B'], set: {X: '1'}}}), [], {rootless: false})
    expect(p.env).toEqual({passthrough: ['A', 'B'], set: {X: '1'}})
    expect(p.resources).toEqual({cpus: 2, memory: '4g', pidsLimit: 512})
    expect(p.image).toEqual({ref: 'localhost/a:b', digest: null, pull: 'never'})
    expect(p.hardening).toEqual({capDrop: 'all', noNewPrivileges: true, readOnlyRoot: true, init: true, userns: 'host-root', envHost: false, httpProxy: false})
    expect(p.network).toEqual({mode: 'none'})
    expect(p.secrets).toEqual({door: 'none'})
  })

  it('the Secrets Door: each injection (never a value) with its upstream scheme, and the tool-state volumes of enabled tools', () => {
    const spec = {
      network: {mode: 'allowlist', allow: ['api.example.com']},
      secrets: {door: 'proxy', inject: [{secret: 's1', host: 'api.example.com', header: 'Authorization'}, {secret: 's2', host: 'ip:10.0.0.1:8080', header: 'X-Key'}], toolState: 'volume'},
      tools: {codex: {enabled: true, command: ['codex']}, 'claude-code': {enabled: true, command: ['claude']}},
    }
    const p = buildEffectivePolicy(profile(spec as never), [], {rootless: true})
    expect(p.secrets).toEqual({
      door: 'proxy',
      inject: [
        {secret: 's1', host: 'api.example.com', header: 'Authorization', upstream: 'https'},
        {secret: 's2', host: 'ip:10.0.0.1:8080', header: 'X-Key', upstream: 'http'},
      ],
      toolState: 'volume',
      volumes: [expect.stringContaining('claude-code'), expect.stringContaining('codex')],
    })
    expect(p.network.mode).toBe('allowlist')
    expect(p.network.allow).toContain('api.example.com:443')
    expect(p.network.allowHash).toMatch(/^sha256:[0-9a-f]{64}$/)
  })

  it('a proxy door without injections carries an empty list; the tool state volume is left out by default', () => {
    expect(buildEffectivePolicy(profile({secrets: {door: 'proxy'}} as never), [], {rootless: true}).secrets).toEqual({door: 'proxy', inject: []})
  })

  it('enabled tools only', () => {
    expect(enabledTools(profile().spec)).toEqual(['codex'])
    expect(enabledTools(profile({tools: {codex: undefined, 'claude-code': {enabled: true, command: ['claude']}}} as never).spec)).toEqual(['claude-code'])
  })

  it('the hash changes with any of it', () => {
    const base = policyHash(buildEffectivePolicy(profile(), [], {rootless: true}))
    expect(policyHash(buildEffectivePolicy(profile({resources: {cpus: 2, memory: '4g', pidsLimit: 513}}), [], {rootless: true}))).not.toBe(base)
    expect(policyHash(buildEffectivePolicy(profile({env: {passthrough: [], set: {A: '1'}}}), [], {rootless: true}))).not.toBe(base)
    expect(policyHash(buildEffectivePolicy(profile(), [], {rootless: null}))).not.toBe(base)
  })
})

describe('canonical JSON refuses what is not I-JSON, naming where', () => {
  const fails = (value: unknown) => {
    try {
      canonicalJson(value)
    } catch (error) {
      return (error as {code: string; message: string})
    }
    throw new Error('expected a refusal')
  }

  it.each([
    [{a: [1, '\ud800']}, '$.a[1]'],
    [{a: {b: NaN}}, '$.a.b'],
    [[1, undefined], '$[1]'],
    [{a: new Map()}, '$.a'],
  ])('%o at %s', (value, where) => {
    const e = fails(value)
    expect(e.code).toBe('JCS_INVALID')
    expect(e.message.startsWith(`cannot canonicalise ${where}: `)).toBe(true)
  })

  it('a surrogate pair, a null-prototype object and a shared (not cyclic) object are fine', () => {
    expect(canonicalJson({a: '\ud83d\ude00'})).toBe('{"a":"\ud83d\ude00"}')
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, {b: 1})
    expect(canonicalJson({a: bare})).toBe('{"a":{"b":1}}')
    const shared = {x: 1}
    expect(canonicalJson({a: shared, b: [shared, shared]})).toBe('{"a":{"x":1},"b":[{"x":1},{"x":1}]}')
    expect(canonicalJson(null)).toBe('null')
    expect(canonicalJson(true)).toBe('true')
  })

  it('lone surrogates either way round are refused', () => {
    for (const s of ['\ud800', 'x\udc00', '\udc00\ud800', '\ud800\ud800']) expect(fails({a: s}).code, JSON.stringify(s)).toBe('JCS_INVALID')
    expect(fails({['a\ud800']: 1}).code).toBe('JCS_INVALID')
  })

  it('a cycle through an array is refused', () => {
    const a: unknown[] = []
    a.push({b: a})
    expect(fails(a).message).toContain('a cycle')
  })
})
