import {execFileSync} from 'node:child_process'
import {existsSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {buildCreateArgv, type ContainerSpec} from '../../../src/core/launch/container-spec.js'
import {effectiveAllowlist} from '../../../src/core/network/allowlist.js'
import {egressSubnet, planEgress, proxyEnv, sidecarCreateArgv, sidecarScript} from '../../../src/core/network/sidecar.js'
import {AgentMachineProfileSchema, type AgentMachineProfile} from '../../../src/core/profile/schema.js'
import {DOOR_ENV, DOOR_PLACEHOLDER, DOOR_PORT_BASE, doorEntrypointLines, doorSquidConfig, planDoor, toolDoor} from '../../../src/core/secrets/door.js'

const RUN = 'abcdef123456-door'
const PROXY = egressSubnet(RUN).proxy

function profile(secrets: unknown, network: unknown = {mode: 'allowlist', allow: []}): AgentMachineProfile {
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
      network,
      resources: {cpus: 2, memory: '4g', pidsLimit: 1024},
      secrets,
    },
  })
}

const ANTHROPIC = {door: 'proxy', inject: [{secret: 'anthropic', host: 'api.anthropic.com', header: 'x-api-key'}]}
const BOTH = {
  door: 'proxy',
  inject: [
    {secret: 'anthropic', host: 'api.anthropic.com', header: 'x-api-key'},
    {secret: 'openai', host: 'api.openai.com', header: 'Authorization', format: 'Bearer {value}'},
  ],
}

const plan = (p: AgentMachineProfile) => planDoor(p.spec, {networkMode: 'allowlist', proxyAddress: PROXY, enabledTools: ['claude-code', 'codex']})

describe('the profile schema for the Secrets Door', () => {
  it('accepts door none alone (the old form) and door proxy with injections', () => {
    expect(profile({door: 'none'}).spec.secrets).toEqual({door: 'none'})
    expect(profile(BOTH).spec.secrets.inject?.[1]).toMatchObject({format: 'Bearer {value}'})
    expect(plan(profile(BOTH))!.injections.map((i) => i.upstream)).toEqual(['https', 'https'])
  })

  it('refuses injections without the door, http to a named host, a *. host, bad headers and formats, two doors for one host', () => {
    const bad = (secrets: unknown) => AgentMachineProfileSchema.safeParse({...profile({door: 'none'}), spec: {...profile({door: 'none'}).spec, secrets}}).success
    expect(bad({door: 'none', inject: ANTHROPIC.inject})).toBe(false)
    expect(bad({door: 'proxy', inject: [{secret: 'a', host: 'api.anthropic.com', header: 'x-api-key', upstream: 'http'}]})).toBe(false)
    expect(bad({door: 'proxy', inject: [{secret: 'a', host: 'ip:192.0.2.2:8080', header: 'x-api-key', upstream: 'http'}]})).toBe(true)
    expect(bad({door: 'proxy', inject: [{secret: 'a', host: '*.anthropic.com', header: 'x-api-key'}]})).toBe(false)
    expect(bad({door: 'proxy', inject: [{secret: 'a', host: 'api.anthropic.com', header: 'x-api-key: 1'}]})).toBe(false)
    for (const header of ['Host', 'content-length', 'Transfer-Encoding', 'Proxy-Authorization', 'Connection']) expect(bad({door: 'proxy', inject: [{secret: 'a', host: 'api.anthropic.com', header}]}), header).toBe(false)
    expect(bad({door: 'proxy', inject: [{secret: 'a', host: 'api.anthropic.com', header: 'x', format: 'Bearer'}]})).toBe(false)
    expect(bad({door: 'proxy', inject: [{secret: 'a', host: 'api.anthropic.com', header: 'x', format: '%{value}"'}]})).toBe(false)
    expect(bad({door: 'proxy', inject: [{secret: 'A B', host: 'api.anthropic.com', header: 'x'}]})).toBe(false)
    expect(bad({door: 'proxy', inject: [...ANTHROPIC.inject, {secret: 'b', host: 'API.anthropic.com', header: 'x'}]})).toBe(false)
  })
})

describe('planning the door', () => {
  it('none: no door; proxy outside network mode allowlist: refused with the setting to change', () => {
    expect(plan(profile({door: 'none'}))).toBeNull()
    const p = profile(ANTHROPIC, {mode: 'open', allow: []})
    expect(() => planDoor(p.spec, {networkMode: 'open', proxyAddress: null, enabledTools: []})).toThrow(/spec\.network\.mode is open/)
  })

  it('one port per injection on the proxy address; the tool whose API host it is gets its base URL and a placeholder key', () => {
    const door = plan(profile(BOTH))!
    expect(door.injections.map((i) => [i.secret, i.podmanSecret, i.doorPort, i.doorUrl, i.tools])).toEqual([
      ['anthropic', 'sourceos.anthropic', DOOR_PORT_BASE, `http://${PROXY}:${DOOR_PORT_BASE}`, ['claude-code']],
      ['openai', 'sourceos.openai', DOOR_PORT_BASE + 1, `http://${PROXY}:${DOOR_PORT_BASE + 1}`, ['codex']],
    ])
    const env = new Map(door.env)
    expect(env.get('ANTHROPIC_BASE_URL')).toBe(`http://${PROXY}:${DOOR_PORT_BASE}`)
    expect(env.get('ANTHROPIC_API_KEY')).toBe(DOOR_PLACEHOLDER)
    expect(env.get('OPENAI_BASE_URL')).toBe(`http://${PROXY}:${DOOR_PORT_BASE + 1}/v1`)
    expect(env.get('OPENAI_API_KEY')).toBe(DOOR_PLACEHOLDER)
    // Codex reads its base URL from its config only (observed with 0.171): `run --tool codex` gets -c
    expect(door.toolArgs).toEqual({
      'claude-code': [],
      codex: ['-c', `model_providers.sourceos_door={name="sourceos Secrets Door",base_url="http://${PROXY}:${DOOR_PORT_BASE + 1}/v1",wire_api="responses",env_key="OPENAI_API_KEY",supports_websockets=false}`, '-c', 'model_provider="sourceos_door"'],
    })
    expect(env.get(DOOR_ENV)).toBe(`api.anthropic.com=http://${PROXY}:${DOOR_PORT_BASE} api.openai.com=http://${PROXY}:${DOOR_PORT_BASE + 1}`)
  })

  it('an injection can point a named tool at a door whose host is not its API host (a gateway, a stand-in)', () => {
    const door = plan(profile({door: 'proxy', inject: [{secret: 's', host: 'ip:192.0.2.2:8080', header: 'x-api-key', tool: 'claude-code'}]}))!
    expect(door.injections[0]!.tools).toEqual(['claude-code'])
    expect(new Map(door.env).get('ANTHROPIC_BASE_URL')).toBe(`http://${PROXY}:${DOOR_PORT_BASE}`)
    expect(new Map(door.env).has('OPENAI_BASE_URL')).toBe(false)
  })

  it('the tool data names each tool\'s API host, header and variables', () => {
    expect(toolDoor('claude-code')).toMatchObject({host: 'api.anthropic.com', header: 'x-api-key', env: {ANTHROPIC_BASE_URL: '{door}'}})
    expect(toolDoor('codex')).toMatchObject({host: 'api.openai.com', header: 'Authorization', format: 'Bearer {value}'})
  })
})

describe('the door in the proxy', () => {
  const door = plan(profile(BOTH))!
  const egress = planEgress({runId: RUN, image: 'sha256:' + 'a'.repeat(64), allowlist: effectiveAllowlist([], ['claude-code', 'codex']), profileName: 'door', door})

  it('listens on the internal address only; forwards to its one upstream with TLS; replaces the header; allowed before the private-range refusal', () => {
    const conf = egress.squidConfig
    expect(conf).toContain(`http_port ${PROXY}:3200 accel defaultsite=api.anthropic.com no-vhost name=sourceos_door_0`)
    expect(conf).toContain('cache_peer api.anthropic.com parent 443 0 no-query no-digest no-netdb-exchange originserver tls name=sourceos_peer_0')
    expect(conf).toContain('cache_peer_access sourceos_peer_0 allow sourceos_door_0')
    expect(conf).toContain('cache_peer_access sourceos_peer_0 deny all')
    expect(conf).toContain('never_direct allow sourceos_door_0')
    expect(conf).toContain('request_header_access x-api-key deny sourceos_door_0')
    expect(conf).toContain('request_header_access Authorization deny sourceos_door_1')
    const access = conf.split('\n').filter((l) => l.startsWith('http_access'))
    expect(conf).toContain('acl sourceos_door_methods method GET HEAD POST PUT PATCH DELETE OPTIONS')
    // API methods only (no TRACE, which would echo the added header), and nothing else on a door port falls through
    expect(access.indexOf('http_access allow sourceos_door_0 sourceos_door_methods')).toBeLessThan(access.indexOf('http_access deny sourceos_door_0'))
    expect(access.indexOf('http_access deny sourceos_door_0')).toBeLessThan(access.indexOf('http_access deny sourceos_blocked'))
    expect(access[0]).toBe('http_access deny sourceos_manager')
    // the value is not in the config: the sidecar adds the header directive itself
    expect(conf).not.toContain('request_header_add')
  })

  it('an ip: literal is reached with plain HTTP unless it says https (a certificate names hosts, not addresses); a name always with TLS', () => {
    const d = plan(profile({door: 'proxy', inject: [{secret: 's', host: 'ip:192.0.2.2:8080', header: 'x'}, {secret: 's', host: 'ip:192.0.2.3', header: 'x', upstream: 'https'}, {secret: 's', host: 'api.example.com:8443', header: 'x'}]}))!
    expect(d.injections.map((i) => [i.upstreamHost, i.upstreamPort, i.upstream])).toEqual([['192.0.2.2', 8080, 'http'], ['192.0.2.3', 443, 'https'], ['api.example.com', 8443, 'https']])
    expect(doorSquidConfig(d, PROXY).lines).toContain('cache_peer api.example.com parent 8443 0 no-query no-digest no-netdb-exchange originserver tls name=sourceos_peer_2')
  })

  it('an http upstream (an ip: stand-in) has no tls; its Host names the port', () => {
    const d = plan(profile({door: 'proxy', inject: [{secret: 's', host: 'ip:192.0.2.2:8080', header: 'x-api-key', upstream: 'http'}]}))!
    const {lines} = doorSquidConfig(d, PROXY)
    expect(lines).toContain('cache_peer 192.0.2.2 parent 8080 0 no-query no-digest no-netdb-exchange originserver name=sourceos_peer_0')
    expect(lines).toContain(`http_port ${PROXY}:3200 accel defaultsite=192.0.2.2:8080 no-vhost name=sourceos_door_0`)
  })

  it('only the sidecar gets the secrets (mounted, its user only); the agent gets door URLs, and reaches the proxy address directly', () => {
    const sidecar = sidecarCreateArgv(egress, {binary: 'podman', connection: null})
    expect(sidecar.filter((a) => a.startsWith('--secret'))).toEqual([
      '--secret=sourceos.anthropic,type=mount,target=/run/sourceos-door-0,uid=65534,gid=65534,mode=0400',
      '--secret=sourceos.openai,type=mount,target=/run/sourceos-door-1,uid=65534,gid=65534,mode=0400',
    ])
    expect(new Map(proxyEnv(egress)).get('NO_PROXY')).toBe(`localhost,127.0.0.1,::1,${PROXY}`)
    const spec = {runId: RUN, verb: 'shell', tool: null, profileName: 'door', policyHash: 'h', image: 'img', mounts: [], workdir: '/workspace', env: [...proxyEnv(egress), ...door.env], network: 'allowlist', egress, resources: {cpus: 1, memory: '1g', pidsLimit: 64}, rootless: true, interactive: true, tty: false, command: ['sh'], verification: 'proc-root-inode'} as ContainerSpec
    const agent = buildCreateArgv(spec, {binary: 'podman', connection: null})
    expect(agent.some((a) => a.startsWith('--secret'))).toBe(false)
    expect(agent).toContain(`--env=ANTHROPIC_BASE_URL=http://${PROXY}:3200`)
  })

  it('the entrypoint reads each secret with builtins into its own config, refusing a non-token', () => {
    const lines = doorEntrypointLines(door, '$d/squid.conf')
    expect(lines).toContain("v=''; read -r v < /run/sourceos-door-0 || true")
    expect(lines).toContain(`printf 'request_header_add Authorization "Bearer %s" sourceos_door_1\\n' "$v" >> "$d/squid.conf"`)
    expect(sidecarScript(door)).toContain(lines.join('; '))
    expect(sidecarScript(door).indexOf('read -r v')).toBeLessThan(sidecarScript(door).indexOf('exec /usr/sbin/squid'))
  })

  it('the entrypoint, run by sh for real: a token becomes the header directive; a value with a quote or % stops it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'door-sh-'))
    const script = (value: string) => {
      const secret = join(dir, 'secret')
      writeFileSync(secret, value)
      const conf = join(dir, 'squid.conf')
      writeFileSync(conf, '')
      const body = doorEntrypointLines(plan(profile(ANTHROPIC))!, conf).join('; ').replaceAll('/run/sourceos-door-0', secret)
      try {
        execFileSync('/bin/sh', ['-c', `set -e; ${body}; echo OK`], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']})
        return {ok: true, conf: execFileSync('cat', [conf], {encoding: 'utf8'})}
      } catch (error) {
        return {ok: false, conf: String((error as {stderr?: string}).stderr)}
      }
    }
    expect(script('sk-ant-api03-Abc_123=')).toEqual({ok: true, conf: 'request_header_add x-api-key "sk-ant-api03-Abc_123=" sourceos_door_0\n'})
    expect(script('sk-ant-abc\n')).toEqual({ok: true, conf: 'request_header_add x-api-key "sk-ant-abc" sourceos_door_0\n'})
    for (const evil of ['a" all\nhttp_access allow all', 'a%{x}', '', 'a b']) {
      const r = script(evil)
      expect(r.ok, evil).toBe(false)
      expect(r.conf).toContain('is empty or not a token')
    }    rmSync(dir, {recursive: true, force: true})
  })

  it.skipIf(!existsSync('/usr/sbin/squid'))('Squid parses the rendered configuration with the door (squid -k parse)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'door-squid-'))
    const conf = join(dir, 'squid.conf')
    writeFileSync(conf, `${egress.squidConfig}\nrequest_header_add x-api-key "tok" sourceos_door_0\nrequest_header_add Authorization "Bearer tok" sourceos_door_1\n`)
    const out = execFileSync('/usr/sbin/squid', ['-k', 'parse', '-f', conf], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']})
    rmSync(dir, {recursive: true, force: true})
    expect(out).not.toMatch(/FATAL|Bungled/)
  })
})
