import {createHash} from 'node:crypto'
import {describe, expect, it} from 'vitest'
import {AgentMachineError} from '../../../src/core/errors.js'
import {buildEffectivePolicy, canonicalJson, policyHash, type EffectivePolicy} from '../../../src/core/policy/hash.js'
import type {AgentMachineProfile} from '../../../src/core/profile/schema.js'

const double = (bits: string): number => {
  const view = new DataView(new ArrayBuffer(8))
  view.setBigUint64(0, BigInt(`0x${bits}`))
  return view.getFloat64(0)
}

describe('canonicalJson (RFC 8785 vectors)', () => {
  it('§3.2.2 / §3.2.4: literals, numbers, string escaping and the exact UTF-8 bytes', () => {
    // The RFC's input, parsed from its JSON text (so 333333333.33333329, 1E30, 4.50 … are the doubles it means).
    const input = JSON.parse(
      '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", "literals": [null, true, false]}',
    )
    const out = canonicalJson(input)
    expect(out).toBe('{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}')
    const bytes = [
      '7b 22 6c 69 74 65 72 61 6c 73 22 3a 5b 6e 75 6c 6c 2c 74 72',
      '75 65 2c 66 61 6c 73 65 5d 2c 22 6e 75 6d 62 65 72 73 22 3a',
      '5b 33 33 33 33 33 33 33 33 33 2e 33 33 33 33 33 33 33 2c 31',
      '65 2b 33 30 2c 34 2e 35 2c 30 2e 30 30 32 2c 31 65 2d 32 37',
      '5d 2c 22 73 74 72 69 6e 67 22 3a 22 e2 82 ac 24 5c 75 30 30',
      '30 66 5c 6e 41 27 42 5c 22 5c 5c 5c 5c 5c 22 2f 22 7d',
    ].join(' ')
    expect(Buffer.from(out, 'utf8').toString('hex').match(/../g)?.join(' ')).toBe(bytes)
  })

  it('§3.2.3: member names sort by UTF-16 code units (non-BMP before U+FB33)', () => {
    const input = JSON.parse(
      '{"\\u20ac": "Euro Sign", "\\r": "Carriage Return", "\\ufb33": "Hebrew Letter Dalet With Dagesh", "1": "One", "\\ud83d\\ude00": "Emoji: Grinning Face", "\\u0080": "Control", "\\u00f6": "Latin Small Letter O With Diaeresis"}',
    )
    expect(canonicalJson(input)).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    )
  })

  it('sorts recursively and keeps array order', () => {
    expect(canonicalJson({b: [3, 1, {z: 1, a: 2}], a: {d: null, c: true}})).toBe('{"a":{"c":true,"d":null},"b":[3,1,{"a":2,"z":1}]}')
  })

  it.each([
    ['0000000000000000', '0'],
    ['8000000000000000', '0'],
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef4f', '999999999999999900000'],
    ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555555', '333333333.3333333'],
    ['41b3de4355555556', '333333333.3333334'],
    ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ])('Appendix B: 0x%s → %s', (bits, expected) => {
    expect(canonicalJson(double(bits))).toBe(expected)
  })

  it.each([
    ['NaN (7fffffffffffffff)', double('7fffffffffffffff')],
    ['Infinity (7ff0000000000000)', double('7ff0000000000000')],
    ['-Infinity', -Infinity],
    ['a nested NaN', {a: [1, {b: NaN}]}],
    ['a lone surrogate', {a: '\ud800x'}],
    ['a lone surrogate key', {['\udc00']: 1}],
    ['a bigint', {a: 1n}],
    ['a function', {a: () => 1}],
    ['undefined', undefined],
    ['undefined in an array', [undefined]],
    ['a Date', {a: new Date(0)}],
    ['a Map', new Map()],
  ])('rejects %s', (_label, value) => {
    expect(() => canonicalJson(value)).toThrow(AgentMachineError)
  })

  it('rejects cycles', () => {
    const a: Record<string, unknown> = {}
    a.self = a
    expect(() => canonicalJson(a)).toThrow(/cycle/)
  })

  it('omits undefined members like JSON, and escapes control characters in lowercase hex', () => {
    expect(canonicalJson({a: undefined, b: '\u0001\u001f\b\t\n\f\r"\\/é'})).toBe('{"b":"\\u0001\\u001f\\b\\t\\n\\f\\r\\"\\\\/é"}')
  })
})

const profile = (): AgentMachineProfile => ({
  apiVersion: 'sourceos.dev/v1alpha1',
  kind: 'AgentMachineProfile',
  metadata: {name: 'linux-podman-native'},
  spec: {
    platform: 'linux',
    image: {ref: 'localhost/sourceos/agent:latest', digest: null, pull: 'never'},
    mounts: [{source: '~/dev/repo', target: '/workspace/repo', mode: 'rw'}],
    tools: {'claude-code': {enabled: false, command: ['claude']}, codex: {enabled: true, command: ['codex']}},
    env: {passthrough: ['TERM', 'LANG', 'TERM'], set: {B: '2', A: '1'}},
    network: {mode: 'default', allow: [], proxy: 'per-run'},
    resources: {cpus: 2, memory: '4g', pidsLimit: 1024},
    secrets: {door: 'none'},
  },
})

const mounts = [
  {source: '/home/u/dev/repo', target: '/workspace/repo', mode: 'rw' as const},
  {source: '/home/u/dev/lib', target: '/workspace/lib', mode: 'ro' as const},
]

describe('buildEffectivePolicy / policyHash', () => {
  it('builds the documented shape: sorted tools, mounts and passthrough; hardening from rootless', () => {
    const p = buildEffectivePolicy(profile(), mounts, {rootless: true})
    expect(p).toEqual<EffectivePolicy>({
      schema: 'sourceos.dev/agent-machine/policy/v1alpha1',
      profile: 'linux-podman-native',
      platform: 'linux',
      mounts: [
        {source: '/home/u/dev/lib', target: '/workspace/lib', mode: 'ro'},
        {source: '/home/u/dev/repo', target: '/workspace/repo', mode: 'rw'},
      ],
      image: {ref: 'localhost/sourceos/agent:latest', digest: null, pull: 'never'},
      tools: [
        {name: 'claude-code', enabled: false, command: ['claude']},
        {name: 'codex', enabled: true, command: ['codex']},
      ],
      env: {passthrough: ['LANG', 'TERM'], set: {B: '2', A: '1'}},
      network: {mode: 'open'},
      resources: {cpus: 2, memory: '4g', pidsLimit: 1024},
      hardening: {capDrop: 'all', noNewPrivileges: true, readOnlyRoot: true, init: true, userns: 'keep-id', envHost: false, httpProxy: false},
      secrets: {door: 'none'},
    })
    expect(buildEffectivePolicy(profile(), mounts, {rootless: false}).hardening.userns).toBe('host-root')
    expect(buildEffectivePolicy(profile(), mounts, {rootless: null}).hardening.userns).toBe('n/a')
  })

  it('network allowlist: the policy carries the effective entries (profile + enabled tools) and their hash, so the policy hash covers the allowlist', () => {
    const allow = profile()
    allow.spec.network = {mode: 'allowlist', allow: ['registry.npmjs.org', 'deb.debian.org:80'], proxy: 'per-run'}
    const p = buildEffectivePolicy(allow, mounts, {rootless: true})
    expect(p.network.mode).toBe('allowlist')
    // codex is enabled (its hosts join), claude-code is not
    expect(p.network.allow).toEqual(expect.arrayContaining(['registry.npmjs.org:443', 'deb.debian.org:80', 'api.openai.com:443']))
    expect(p.network.allow!.some((e) => e.includes('anthropic'))).toBe(false)
    expect(p.network.allowHash).toMatch(/^sha256:[a-f0-9]{64}$/)
    const wider = profile()
    wider.spec.network = {mode: 'allowlist', allow: ['registry.npmjs.org', 'deb.debian.org:80', 'evil.example.com'], proxy: 'per-run'}
    expect(policyHash(buildEffectivePolicy(wider, mounts, {rootless: true}))).not.toBe(policyHash(p))
    const open = profile()
    open.spec.network = {mode: 'open', allow: [], proxy: 'per-run'}
    expect(policyHash(buildEffectivePolicy(open, mounts, {rootless: true}))).not.toBe(policyHash(p))
    // the deprecated name is the same policy as open
    expect(policyHash(buildEffectivePolicy(profile(), mounts, {rootless: true}))).toBe(policyHash(buildEffectivePolicy(open, mounts, {rootless: true})))
  })

  it('is sha256 over the UTF-8 JCS bytes', () => {
    const p = buildEffectivePolicy(profile(), mounts, {rootless: true})
    const hash = policyHash(p)
    expect(hash).toMatch(/^sha256:[0-9a-f]{64}$/)
    expect(hash).toBe(`sha256:${createHash('sha256').update(Buffer.from(canonicalJson(p), 'utf8')).digest('hex')}`)
  })

  it('is stable under key order and mount order', () => {
    const a = buildEffectivePolicy(profile(), mounts, {rootless: true})
    const reordered = JSON.parse(JSON.stringify(a, Object.keys(a).reverse())) as EffectivePolicy
    const shuffled: EffectivePolicy = Object.fromEntries(Object.entries(a).reverse()) as unknown as EffectivePolicy
    expect(policyHash(shuffled)).toBe(policyHash(a))
    expect(policyHash({...reordered, ...a})).toBe(policyHash(a))
    const swapped = profile()
    swapped.spec.env.set = {A: '1', B: '2'}
    swapped.spec.tools = {codex: {enabled: true, command: ['codex']}, 'claude-code': {enabled: false, command: ['claude']}}
    expect(policyHash(buildEffectivePolicy(swapped, [...mounts].reverse(), {rootless: true}))).toBe(policyHash(a))
  })

  it('changes when a mount, a mode, the image or the hardening changes', () => {
    const base = policyHash(buildEffectivePolicy(profile(), mounts, {rootless: true}))
    const other = [{...mounts[0]!, source: '/home/u/dev/repo2'}, mounts[1]!]
    expect(policyHash(buildEffectivePolicy(profile(), other, {rootless: true}))).not.toBe(base)
    expect(policyHash(buildEffectivePolicy(profile(), [{...mounts[0]!, mode: 'ro'}, mounts[1]!], {rootless: true}))).not.toBe(base)
    expect(policyHash(buildEffectivePolicy(profile(), mounts, {rootless: false}))).not.toBe(base)
    const pinned = profile()
    pinned.spec.image.digest = `sha256:${'0'.repeat(64)}`
    expect(policyHash(buildEffectivePolicy(pinned, mounts, {rootless: true}))).not.toBe(base)
  })
})
