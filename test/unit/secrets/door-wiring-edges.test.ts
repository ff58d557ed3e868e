// The Secrets Door's wiring at its edges: an IPv6 proxy address is bracketed wherever it becomes a
// URL or a listening address, an ip: host is never matched to a tool by its API host, a door with no
// injections adds nothing to the agent or the proxy, an allowlist with no proxy address is refused,
// and the plan's one-line description names each secret, header, upstream, door and tool.
import {describe, expect, it} from 'vitest'

import {AgentMachineProfileSchema, type AgentMachineProfile} from '../../../src/core/profile/schema.js'
import {DOOR_ENV, describeDoor, doorEntrypointLines, doorSecretArgs, doorSquidConfig, injectUpstream, planDoor} from '../../../src/core/secrets/door.js'

function profile(secrets: unknown): AgentMachineProfile {
  return AgentMachineProfileSchema.parse({
    apiVersion: 'sourceos.dev/v1alpha1',
    kind: 'AgentMachineProfile',
    metadata: {name: 'door'},
    spec: {
      platform: 'linux',
      image: {ref: 'localhost/sourceos/agent:latest', digest: null, pull: 'never'},
      mounts: [],
      tools: {'claude-code': {enabled: true, command: ['claude']}, codex: {enabled: true, command: ['codex']}},
      env: {passthrough: [], set: {}},
      network: {mode: 'allowlist', allow: []},
      resources: {cpus: 2, memory: '4g', pidsLimit: 1024},
      secrets,
    },
  })
}
const ANTHROPIC = {secret: 'anthropic', host: 'api.anthropic.com', header: 'x-api-key'}

describe('door wiring', () => {
  it('an IPv6 proxy address is bracketed in the door URL and in the listening address', () => {
    const door = planDoor(profile({door: 'proxy', inject: [ANTHROPIC]}).spec, {networkMode: 'allowlist', proxyAddress: 'fd00::fe', enabledTools: ['claude-code']})!
    expect(door.injections[0]!.doorUrl).toBe('http://[fd00::fe]:3200')
    expect(doorSquidConfig(door, 'fd00::fe').lines).toContain('http_port [fd00::fe]:3200 accel defaultsite=api.anthropic.com no-vhost name=sourceos_door_0')
  })

  it('allowlist mode without a proxy address is refused like any other mode', () => {
    expect(() => planDoor(profile({door: 'proxy', inject: [ANTHROPIC]}).spec, {networkMode: 'allowlist', proxyAddress: null, enabledTools: []})).toThrow(
      expect.objectContaining({code: 'SECRETS_DOOR_NEEDS_ALLOWLIST'}),
    )
    expect(() => planDoor(profile({door: 'proxy', inject: [ANTHROPIC]}).spec, {networkMode: 'none', proxyAddress: '10.0.0.254', enabledTools: []})).toThrow(
      expect.objectContaining({code: 'SECRETS_DOOR_NEEDS_ALLOWLIST'}),
    )
  })

  it('an ip: host without a named tool points no tool at it; only enabled tools are pointed', () => {
    const ip = planDoor(profile({door: 'proxy', inject: [{secret: 's', host: 'ip:192.0.2.2:8080', header: 'x-api-key'}]}).spec, {networkMode: 'allowlist', proxyAddress: '10.0.0.254', enabledTools: ['claude-code', 'codex']})!
    expect(ip.injections[0]!.tools).toEqual([])
    expect(ip.env).toEqual([[DOOR_ENV, 'ip:192.0.2.2:8080=http://10.0.0.254:3200']])
    expect(ip.toolArgs).toEqual({})
    const onlyCodex = planDoor(profile({door: 'proxy', inject: [ANTHROPIC]}).spec, {networkMode: 'allowlist', proxyAddress: '10.0.0.254', enabledTools: ['codex']})!
    expect(onlyCodex.injections[0]!.tools).toEqual([])
  })

  it('a door that injects nothing adds no variable, no directive, no entrypoint line and no secret', () => {
    const door = planDoor(profile({door: 'proxy'}).spec, {networkMode: 'allowlist', proxyAddress: '10.0.0.254', enabledTools: ['claude-code']})!
    expect(door).toEqual({injections: [], env: [], toolArgs: {}})
    expect(doorSquidConfig(door, '10.0.0.254')).toEqual({lines: [], access: []})
    expect(doorEntrypointLines(door, '/c')).toEqual([])
    expect(doorSecretArgs(door, {uid: 1, gid: 1})).toEqual([])
    expect(describeDoor(door)).toBe('')
  })

  it('a format with text after the value keeps it as the suffix', () => {
    const door = planDoor(profile({door: 'proxy', inject: [{...ANTHROPIC, format: 'Key {value} end'}]}).spec, {networkMode: 'allowlist', proxyAddress: '10.0.0.254', enabledTools: []})!
    expect([door.injections[0]!.prefix, door.injections[0]!.suffix]).toEqual(['Key ', ' end'])
    expect(doorEntrypointLines(door, '/c')[2]).toBe(`printf 'request_header_add x-api-key "Key %s end" sourceos_door_0\\n' "$v" >> "/c"`)
  })

  it('the description names each secret, header, upstream, door and the tools pointed at it', () => {
    const door = planDoor(
      profile({door: 'proxy', inject: [ANTHROPIC, {secret: 'gw', host: 'ip:192.0.2.2:8080', header: 'Authorization', format: 'Bearer {value}'}]}).spec,
      {networkMode: 'allowlist', proxyAddress: '10.0.0.254', enabledTools: ['claude-code']},
    )!
    expect(describeDoor(door)).toBe('secret anthropic as x-api-key to https://api.anthropic.com at http://10.0.0.254:3200 (claude-code); secret gw as Authorization to http://ip:192.0.2.2:8080 at http://10.0.0.254:3201')
  })

  it('the upstream scheme: as given, else https for a name and http for an ip: literal', () => {
    expect(injectUpstream({host: 'api.example.com'})).toBe('https')
    expect(injectUpstream({host: 'ip:192.0.2.1'})).toBe('http')
    expect(injectUpstream({host: 'ip:192.0.2.1', upstream: 'https'})).toBe('https')
    expect(injectUpstream({host: 'api.example.com', upstream: 'http'})).toBe('http')
  })
})

describe('door wiring the profile schema already refuses, refused again by the planner', () => {
  const spec = (inject: unknown[]) => ({...profile({door: 'proxy'}).spec, secrets: {door: 'proxy', inject}}) as AgentMachineProfile['spec']
  const opts = {networkMode: 'allowlist' as const, proxyAddress: '10.0.0.254', enabledTools: [] as []}

  it('a wildcard host or a host that does not parse', () => {
    expect(() => planDoor(spec([{...ANTHROPIC, host: '*.example.com'}]), opts)).toThrow("invalid inject host '*.example.com'")
    expect(() => planDoor(spec([{...ANTHROPIC, host: 'not a host'}]), opts)).toThrow("invalid inject host 'not a host'")
  })

  it('a format without {value}, with it twice, or with characters a header value must not carry', () => {
    for (const format of ['Bearer', '{value}{value}', 'Bearer {value}"', 'x\n{value}', '{value}%']) {
      expect(() => planDoor(spec([{...ANTHROPIC, format}]), opts), format).toThrow(`invalid inject format '${format}'`)
    }
    for (const format of ['{value}', 'Bearer {value}', 'a.b_c:d-e {value} x']) expect(() => planDoor(spec([{...ANTHROPIC, format}]), opts), format).not.toThrow()
  })
})

describe('door wiring, exact', () => {
  it('the door variable is SOURCEOS_SECRETS_DOOR', () => {
    expect(DOOR_ENV).toBe('SOURCEOS_SECRETS_DOOR')
  })

  it('the squid access lines of each door: its API methods allowed, everything else on its port denied, in that order', () => {
    const door = planDoor(profile({door: 'proxy', inject: [ANTHROPIC, {secret: 'o', host: 'api.openai.com', header: 'Authorization'}]}).spec, {networkMode: 'allowlist', proxyAddress: '10.0.0.254', enabledTools: []})!
    expect(doorSquidConfig(door, '10.0.0.254').access).toEqual([
      'http_access allow sourceos_door_0 sourceos_door_methods',
      'http_access deny sourceos_door_0',
      'http_access allow sourceos_door_1 sourceos_door_methods',
      'http_access deny sourceos_door_1',
    ])
    expect(doorSquidConfig(door, '10.0.0.254').lines.filter((l) => l.startsWith('#'))).toEqual([
      '# door 0: secret anthropic as x-api-key to https://api.anthropic.com',
      '# door 1: secret o as Authorization to https://api.openai.com',
    ])
  })

  it('a non-default port is part of the site a door names; the default one is not', () => {
    const door = planDoor(profile({door: 'proxy', inject: [{...ANTHROPIC, host: 'api.example.com:8443'}, {secret: 'p', host: 'ip:192.0.2.2:80', header: 'x'}]}).spec, {networkMode: 'allowlist', proxyAddress: '10.0.0.254', enabledTools: []})!
    const lines = doorSquidConfig(door, '10.0.0.254').lines
    expect(lines).toContain('http_port 10.0.0.254:3200 accel defaultsite=api.example.com:8443 no-vhost name=sourceos_door_0')
    expect(lines).toContain('http_port 10.0.0.254:3201 accel defaultsite=192.0.2.2 no-vhost name=sourceos_door_1')
  })

  it('one door for two tools names both in its description', () => {
    const door = planDoor(profile({door: 'proxy', inject: [ANTHROPIC]}).spec, {networkMode: 'allowlist', proxyAddress: '10.0.0.254', enabledTools: ['claude-code']})!
    door.injections[0]!.tools = ['claude-code', 'codex']
    expect(describeDoor(door)).toBe('secret anthropic as x-api-key to https://api.anthropic.com at http://10.0.0.254:3200 (claude-code, codex)')
  })
})
