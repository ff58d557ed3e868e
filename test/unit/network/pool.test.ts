/**
 * The shared egress proxy and its pool of networks (network/pool.ts, lifecycle.ts): leases, the
 * key that ties a proxy to its configuration and image, and the set-up, check and teardown run
 * against a fake podman.
 */
import {spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import {effectiveAllowlist} from '../../../src/core/network/allowlist.js'
import {cleanEgressLeftovers, createEgressNetwork, KEEP_SHARED_PROXIES, removeSharedEgress, repairSharedNetwork, startEgressProxy, tearDownEgress, waitForProxy} from '../../../src/core/network/lifecycle.js'
import {isReady, leaseFile, leaseSlot, markReady, planLaunchEgress, POOL_SLOTS, releaseSlot} from '../../../src/core/network/pool.js'
import {LOG_TAG} from '../../../src/core/network/squid-config.js'
import {agentNetworkArgs, HOLDER_ROLE, IMAGE_LABEL, KEY_LABEL, ROLE_LABEL, SHARED_ROLE} from '../../../src/core/network/sidecar.js'
import {egressSteps, type EgressSteps} from '../../../src/core/network/steps.js'
import type {DoorPlan} from '../../../src/core/secrets/door.js'
import {fakeRunner, type FakeRoute} from '../../helpers/fake-runner.js'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, {recursive: true, force: true})
})
function stateDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'egress-pool-'))
  dirs.push(d)
  return d
}
const IMAGE = 'a'.repeat(64)
const ctx = {binary: 'podman', connection: null}

function plan(state: string, over: {runId?: string; allow?: string[]; image?: string; profile?: string; dryRun?: boolean; door?: DoorPlan | null} = {}) {
  return planLaunchEgress({
    runId: over.runId ?? 'run-0000001',
    image: over.image ?? IMAGE,
    allowlist: effectiveAllowlist(over.allow ?? ['registry.npmjs.org'], []),
    profileName: over.profile ?? 'p',
    door: over.door ?? null,
    shareProxy: true,
    pool: {state, connection: null, dryRun: over.dryRun ?? false},
  })
}

describe('the pool’s leases', () => {
  it('each run gets a network of its own: concurrent leases take different slots; a given-back slot is taken again', () => {
    const state = stateDir()
    const a = plan(state, {runId: 'run-a000001'})
    const b = plan(state, {runId: 'run-b000001'})
    expect(a.shared!.slot).toBe(0)
    expect(b.shared!.slot).toBe(1)
    expect(a.network).not.toBe(b.network)
    expect(a.subnet).not.toBe(b.subnet)
    expect(a.sidecar).toBe(b.sidecar)
    releaseSlot(state, null, a.shared!.key, 0, 'run-a000001')
    expect(plan(state, {runId: 'run-c000001'}).shared!.slot).toBe(0)
  })

  it('a lease is given back only by its own run', () => {
    const state = stateDir()
    const a = plan(state, {runId: 'run-a000001'})
    releaseSlot(state, null, a.shared!.key, 0, 'run-other01')
    expect(existsSync(leaseFile(state, null, a.shared!.key, 0))).toBe(true)
    expect(JSON.parse(readFileSync(leaseFile(state, null, a.shared!.key, 0), 'utf8'))).toMatchObject({runId: 'run-a000001', pid: process.pid, slot: 0})
  })

  it('a dry run says which slot it would lease and writes nothing', () => {
    const state = stateDir()
    const e = plan(state, {dryRun: true})
    expect(e.shared!.slot).toBe(0)
    expect(existsSync(join(state, 'egress'))).toBe(false)
  })

  it(`past ${POOL_SLOTS} concurrent runs of one configuration the launch is refused`, () => {
    const state = stateDir()
    const key = plan(state, {runId: 'run-first01'}).shared!.key
    for (let i = 1; i < POOL_SLOTS; i++) expect(leaseSlot(state, {connection: null, key, runId: `run-x${i}`, dryRun: false})).toBe(i)
    expect(() => plan(state, {runId: 'run-last001'})).toThrow(expect.objectContaining({code: 'EGRESS_POOL_FULL'}))
  })

  it('another podman connection has its own pool', () => {
    const state = stateDir()
    const key = plan(state).shared!.key
    expect(leaseSlot(state, {connection: 'machine-a', key, runId: 'run-m000001', dryRun: false})).toBe(0)
  })
})

describe('the shared proxy’s key and addresses', () => {
  const state = () => stateDir()
  it('a changed allowlist, image or profile name (its error page) is another proxy; the same configuration is the same one', () => {
    const base = plan(state()).shared!.key
    expect(plan(state()).shared!.key).toBe(base)
    expect(plan(state(), {allow: ['registry.npmjs.org', 'deb.debian.org:80']}).shared!.key).not.toBe(base)
    expect(plan(state(), {image: 'b'.repeat(64)}).shared!.key).not.toBe(base)
    expect(plan(state(), {profile: 'other'}).shared!.key).not.toBe(base)
    const e = plan(state())
    expect(e.sidecar).toBe(`sourceos-proxy.${base}`)
    expect(e.network).toBe(`sourceos-egress.${base}.0`)
  })

  it('the agent gets its own address on the network (not the proxy’s, gateway or network address), named in its create; the proxy is .254', () => {
    for (let i = 0; i < 50; i++) {
      const e = plan(state(), {runId: `run-${String(i).padStart(7, '0')}`})
      const last = Number(e.shared!.agentAddress.split('.')[3])
      expect(last).toBeGreaterThanOrEqual(2)
      expect(last).toBeLessThanOrEqual(253)
      expect(e.shared!.agentAddress.split('.').slice(0, 3).join('.')).toBe(e.subnet.split('.').slice(0, 3).join('.'))
      expect(e.proxyAddress.endsWith('.254')).toBe(true)
      expect(agentNetworkArgs(e)).toEqual([`--network=${e.network}:ip=${e.shared!.agentAddress}`, '--dns=none'])
    }
  })

  it('per-run, the profile’s default: a proxy and network of the run’s own, nothing leased or shared', () => {
    const s = state()
    const e = planLaunchEgress({runId: 'run-own0001', image: IMAGE, allowlist: effectiveAllowlist(['registry.npmjs.org'], []), profileName: 'p', door: null, shareProxy: false, pool: {state: s, connection: null, dryRun: false}})
    expect(e.shared).toBeUndefined()
    expect(e.sidecar).toBe('sourceos-proxy-run-own0001')
    expect(e.network).toBe('sourceos-egress-run-own0001')
    expect(existsSync(join(s, 'egress', 'pool')) ? readdirSync(join(s, 'egress', 'pool')) : []).toEqual([])
  })

  it('the Secrets Door’s runs keep a proxy of their own (its secrets live and die with the run)', () => {
    const s = state()
    const door: DoorPlan = {
      injections: [{index: 0, secret: 's', podmanSecret: 'ps', host: 'api.example.com', upstreamHost: 'api.example.com', upstreamPort: 443, upstream: 'https', header: 'x-api-key', prefix: '', suffix: '', doorPort: 4000, doorUrl: 'http://10.160.0.254:4000', tools: []}],
      env: [],
      toolArgs: {},
    }
    const e = planLaunchEgress({runId: 'run-door001', image: IMAGE, allowlist: effectiveAllowlist([], []), profileName: 'p', door: null, shareProxy: true, pool: {state: s, connection: null, dryRun: false}})
    expect(e.shared).toBeDefined()
    const own = planLaunchEgress({runId: 'run-door002', image: IMAGE, allowlist: effectiveAllowlist([], []), profileName: 'p', door, shareProxy: true, pool: {state: s, connection: null, dryRun: false}})
    expect(own.shared).toBeUndefined()
    expect(own.sidecar).toBe('sourceos-proxy-run-door002')
  })
})

/** A fake podman for the shared proxy: its state, the network's containers, its log. */
function podmanFor(steps: EgressSteps, over: {proxy?: object | null; onNetwork?: object[]; log?: string; networks?: string[]; logFile?: string; sharedProxies?: object[]; extra?: FakeRoute[]} = {}) {
  const e = steps.setup
  const proxyEntry = (labels: Record<string, string> = {}, state = 'running', started = 1_000) => ({Names: [e.sidecar], State: state, StartedAt: started, Labels: {[KEY_LABEL]: e.shared!.key, [IMAGE_LABEL]: e.image, [ROLE_LABEL]: SHARED_ROLE, ...labels}, Networks: [e.network]})
  const proxy = over.proxy === undefined ? proxyEntry() : over.proxy
  const onNetwork = over.onNetwork ?? [...(proxy ? [proxy] : []), {Names: [`sourceos-agent-${e.runId}`], State: 'created', Created: 2_000}]
  const is = (args: readonly string[], ...words: string[]) => words.every((w) => args.includes(w))
  return {
    proxyEntry,
    runner: fakeRunner([
      {match: (_c, a) => a[0] === 'ps' && a.some((x) => x.startsWith('--filter=name=')), result: {stdout: JSON.stringify(proxy ? [proxy] : [])}},
      {match: (_c, a) => a[0] === 'ps' && a.includes(`--filter=network=${e.network}`), result: {stdout: JSON.stringify(onNetwork)}},
      {match: (_c, a) => a[0] === 'ps' && a.includes(`--filter=label=${ROLE_LABEL}=${SHARED_ROLE}`), result: {stdout: JSON.stringify(over.sharedProxies ?? [])}},
      ...(over.extra ?? []),
      {match: (_c, a) => is(a, 'network', 'create'), result: {stdout: `${e.network}\n`}},
      {match: (_c, a) => is(a, 'network', 'connect'), result: {stdout: ''}},
      {match: (_c, a) => is(a, 'network', 'ls'), result: {stdout: (over.networks ?? [e.network]).join('\n')}},
      {match: (_c, a) => a[0] === 'create', result: {stdout: 'f'.repeat(64)}},
      {match: (_c, a) => a[0] === 'start', result: {stdout: ''}},
      {match: (_c, a) => a[0] === 'rm', result: {stdout: ''}},
      {match: (_c, a) => a[0] === 'logs', result: {stdout: over.log ?? '', stderr: 'Accepting HTTP Socket connections at conn1'}},
      {match: (_c, a) => is(a, 'container', 'inspect'), result: {stdout: over.logFile ? `${'e'.repeat(64)} k8s-file ${over.logFile}\n` : `${'e'.repeat(64)} journald \n`}},
    ]),
  }
}

/** Each podman call's verb ('network create' for the network's). */
const verbs = (runner: ReturnType<typeof fakeRunner>) =>
  runner.calls.map((c) => {
    const words = c.args.filter((a) => !a.startsWith('-'))
    return words[0] === 'network' ? words.slice(0, 2).join(' ') : words[0]
  })

describe('the shared proxy’s life', () => {
  function setup(state: string, runId = 'run-0000001') {
    const e = plan(state, {runId})
    return egressSteps(e, ctx)
  }

  it('fast path: a network this host has seen ready costs no podman call before the agent’s create; the check after its init confirms it', async () => {
    const state = stateDir()
    const steps = setup(state)
    markReady(state, null, steps.setup.shared!.key, 0, true)
    const {runner} = podmanFor(steps)
    await createEgressNetwork(steps, runner, state, ctx)
    expect(runner.calls).toEqual([])
    await startEgressProxy(steps, runner, Promise.resolve(true))
    await waitForProxy(steps, runner)
    expect(verbs(runner)).toEqual(['ps'])
    expect(steps.shared!.observed.agentCreated).toBe(2_000)
    expect(JSON.parse(readFileSync(leaseFile(state, null, steps.setup.shared!.key, 0), 'utf8')).agentCreated).toBe(2_000)
  })

  it('first use: the network is created, the proxy created on it, started, the pool’s other networks reattached, its readiness awaited; then the network is marked ready', async () => {
    const state = stateDir()
    const steps = setup(state)
    const other = steps.setup.network.replace(/\.0$/, '.3')
    const {runner} = podmanFor(steps, {proxy: null, networks: [steps.setup.network, other, 'unrelated']})
    await createEgressNetwork(steps, runner, state, ctx)
    expect(verbs(runner)).toEqual(['ps', 'network create', 'create', 'start', 'ps', 'network ls', 'network connect', 'logs', 'container'])
    const connect = runner.calls.find((c) => c.args.includes('connect'))!.args
    expect(connect).toEqual(['network', 'connect', expect.stringMatching(/^--ip=10\.\d+\.\d+\.254$/), expect.stringMatching(/^--mac-address=02:53:0a:[0-9a-f]{2}:[0-9a-f]{2}:fe$/), other, steps.setup.sidecar])
    // the address's own fixed MAC on that network (a replaced proxy answers with the same one)
    const ip = connect[2]!.slice('--ip='.length)
    expect(connect[3]).toBe(`--mac-address=02:53:${ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0')).join(':')}`)
    expect(isReady(state, null, steps.setup.shared!.key, 0)).toBe(true)
  })

  it(`a new proxy removes the oldest idle shared proxies past ${KEEP_SHARED_PROXIES} (with their networks); one with a run on its network, or a live lease here, stays`, async () => {
    const state = stateDir()
    const steps = setup(state)
    const other = (key: string, created: number) => ({Id: key.padEnd(64, '0'), Names: [`sourceos-proxy.${key}`], Created: created, State: 'running', Labels: {[KEY_LABEL]: key, [ROLE_LABEL]: SHARED_ROLE}})
    const [busy, leased, idle1, idle2, newest] = ['1', '2', '3', '4', '5'].map((d) => d.repeat(16))
    // a live lease of `leased` in this state dir (this process holds it)
    leaseSlot(state, {connection: null, key: leased!, runId: 'run-live0001', dryRun: false})
    const {runner} = podmanFor(steps, {
      proxy: null,
      sharedProxies: [other(newest!, 50), other(idle2!, 40), other(idle1!, 30), other(leased!, 20), other(busy!, 10)],
      extra: [
        {match: (_c, a) => a[0] === 'network' && a[1] === 'ls' && a.some((x) => x.endsWith(`=${busy}`)), result: {stdout: 'busy-net\n'}},
        {match: (_c, a) => a[0] === 'network' && a[1] === 'ls' && a.some((x) => /=[0-9]{16}$/.test(x)), result: {stdout: 'some-net\n'}},
        {match: (_c, a) => a[0] === 'ps' && a.includes('--filter=network=busy-net'), result: {stdout: JSON.stringify([{Names: ['sourceos-agent-x'], Labels: {}}])}},
        {match: (_c, a) => a[0] === 'ps' && a.includes('--filter=network=some-net'), result: {stdout: JSON.stringify([{Names: ['p'], Labels: {[ROLE_LABEL]: SHARED_ROLE}}])}},
        {match: (_c, a) => a[0] === 'network' && a[1] === 'rm', result: {stdout: ''}},
      ],
    })
    await createEgressNetwork(steps, runner, state, ctx)
    const removed = runner.calls.filter((c) => c.args[0] === 'rm' && c.args.includes('--force')).map((c) => c.args.at(-1))
    // 5 others + the new one = 6, 4 kept: two go — the oldest idle ones (busy and leased are skipped)
    expect(removed).toEqual([idle1!.padEnd(64, '0'), idle2!.padEnd(64, '0')])
    expect(runner.calls.filter((c) => c.args[0] === 'network' && c.args[1] === 'rm')).toHaveLength(2)
  })

  it('removing them all (a clean-up verb): every idle shared proxy goes with its networks; one in use is kept and said so', async () => {
    const state = stateDir()
    const proxy = (key: string) => ({Id: key.padEnd(64, '0'), Names: [`sourceos-proxy.${key}`], Labels: {[KEY_LABEL]: key, [ROLE_LABEL]: SHARED_ROLE}})
    const [idle, busy] = ['6'.repeat(16), '7'.repeat(16)]
    const runner = fakeRunner([
      {match: (_c, a) => a[0] === 'ps' && a.includes(`--filter=label=${ROLE_LABEL}=${SHARED_ROLE}`), result: {stdout: JSON.stringify([proxy(idle!), proxy(busy!), {Names: ['not-ours'], Labels: {[ROLE_LABEL]: SHARED_ROLE}}])}},
      {match: (_c, a) => a[0] === 'ps' && a.includes(`--filter=label=${ROLE_LABEL}=${HOLDER_ROLE}`), result: {stdout: '[]'}},
      {match: (_c, a) => a[0] === 'network' && a[1] === 'ls', result: (_c, a) => ({stdout: a.some((x) => x.endsWith(busy!)) ? 'busy-net\n' : 'idle-net\n'})},
      {match: (_c, a) => a[0] === 'ps' && a.includes('--filter=network=busy-net'), result: {stdout: JSON.stringify([proxy(busy!), {Names: ['sourceos-agent-x'], Labels: {}}])}},
      {match: (_c, a) => a[0] === 'ps' && a.includes('--filter=network=idle-net'), result: {stdout: JSON.stringify([proxy(idle!)])}},
      {match: (_c, a) => a[0] === 'rm' || (a[0] === 'network' && a[1] === 'rm'), result: {stdout: ''}},
    ])
    expect(await removeSharedEgress(runner, ctx, state)).toMatchObject({removed: [`sourceos-proxy.${idle}`], kept: [`sourceos-proxy.${busy}`]})
    expect(runner.calls.filter((c) => c.args[0] === 'rm').map((c) => c.args.at(-1))).toEqual([idle!.padEnd(64, '0')])
    expect(runner.calls.filter((c) => c.args[0] === 'network' && c.args[1] === 'rm').map((c) => c.args.at(-1))).toEqual(['idle-net'])
  })

  it('a running proxy of this configuration not yet on the network is attached to it, not recreated', async () => {
    const state = stateDir()
    const steps = setup(state)
    const {runner} = podmanFor(steps, {proxy: {Names: [steps.setup.sidecar], State: 'running', Labels: {[KEY_LABEL]: steps.setup.shared!.key, [IMAGE_LABEL]: IMAGE, [ROLE_LABEL]: SHARED_ROLE}, Networks: ['podman']}})
    await createEgressNetwork(steps, runner, state, ctx)
    expect(verbs(runner)).toEqual(['ps', 'network create', 'network connect', 'container'])
  })

  it.each([
    ['crashed (exited)', {State: 'exited'}],
    ['of another image under this name', {Labels: {[KEY_LABEL]: 'x', [IMAGE_LABEL]: 'b'.repeat(64), [ROLE_LABEL]: SHARED_ROLE}}],
  ])('a proxy found %s at the check before start is replaced before the agent starts', async (_what, change) => {
    const state = stateDir()
    const steps = setup(state)
    markReady(state, null, steps.setup.shared!.key, 0, true)
    const probe = podmanFor(steps)
    const broken = {...probe.proxyEntry(), ...change}
    const {runner} = podmanFor(steps, {proxy: broken})
    await createEgressNetwork(steps, runner, state, ctx)
    await startEgressProxy(steps, runner, Promise.resolve(true))
    expect(verbs(runner)).toEqual(['ps', 'rm', 'create', 'start', 'network ls', 'logs', 'container'])
    expect(runner.calls.find((c) => c.args[0] === 'rm')!.args).toEqual(['rm', '--force', '--time=0', steps.setup.sidecar])
  })

  it('anything else on the leased network refuses the launch: runs must not reach each other', async () => {
    const state = stateDir()
    const steps = setup(state)
    markReady(state, null, steps.setup.shared!.key, 0, true)
    const probe = podmanFor(steps)
    const {runner} = podmanFor(steps, {onNetwork: [probe.proxyEntry(), {Names: [`sourceos-agent-${steps.setup.runId}`], Created: 5}, {Names: ['sourceos-agent-someone-else'], Created: 4}]})
    await expect(startEgressProxy(steps, runner, Promise.resolve(true))).rejects.toMatchObject({code: 'EGRESS_NETWORK_SHARED', message: expect.stringContaining('sourceos-agent-someone-else')})
  })

  it('a launch stopped before the agent’s init never checks or starts anything', async () => {
    const state = stateDir()
    const steps = setup(state)
    const {runner} = podmanFor(steps)
    await startEgressProxy(steps, runner, Promise.resolve(false))
    expect(runner.calls).toEqual([])
  })

  it('after the session: the log since the lease, sliced to this run’s address and time; the lease given back; nothing removed', async () => {
    const state = stateDir()
    const steps = setup(state)
    markReady(state, null, steps.setup.shared!.key, 0, true)
    const me = steps.setup.shared!.agentAddress
    const created = Math.ceil(Date.parse(steps.setup.shared!.since) / 1000) + 5
    const log = [
      `${LOG_TAG} ${created + 1}.000 ${me} CONNECT mine.example.com 443 403 TCP_DENIED`,
      `${LOG_TAG} ${created + 1}.000 10.250.250.9 CONNECT theirs.example.com 443 403 TCP_DENIED`,
      `${LOG_TAG} ${created - 1}.000 ${me} CONNECT earlier.example.com 443 403 TCP_DENIED`,
    ].join('\n')
    const probe = podmanFor(steps)
    const {runner} = podmanFor(steps, {log, onNetwork: [probe.proxyEntry(), {Names: [`sourceos-agent-${steps.setup.runId}`], Created: created}]})
    await startEgressProxy(steps, runner, Promise.resolve(true))
    const down = await tearDownEgress(steps, runner, state, {readLog: true})
    expect(down.problems).toEqual([])
    expect(down.log).toBe(`${LOG_TAG} ${created + 1}.000 ${me} CONNECT mine.example.com 443 403 TCP_DENIED\n`)
    expect(runner.calls.find((c) => c.args[0] === 'logs')!.args).toEqual(['logs', `--since=${steps.setup.shared!.since}`, steps.setup.sidecar])
    expect(runner.calls.some((c) => c.args.includes('rm'))).toBe(false)
    expect(existsSync(leaseFile(state, null, steps.setup.shared!.key, 0))).toBe(false)
  })

  it('podman on this host: the proxy’s log file is read directly from where it stood before the agent started (no podman call after the session)', async () => {
    const state = stateDir()
    const steps = setup(state)
    const me = steps.setup.shared!.agentAddress
    const created = Math.ceil(Date.parse(steps.setup.shared!.since) / 1000) + 5
    const logFile = join(state, 'ctr.log')
    const k8s = (line: string, part = 'F') => `2026-12-06T12:54:08.696230312+00:00 stdout ${part} ${line}\n`
    writeFileSync(logFile, k8s(`${LOG_TAG} ${created + 1}.000 ${me} CONNECT before-start.example.com 443 403 TCP_DENIED`) + '2026-12-06T12:54:08.7+00:00 stderr F Accepting HTTP Socket connections\n')
    const probe = podmanFor(steps)
    const proxy = {...probe.proxyEntry(), Id: 'e'.repeat(64)}
    const {runner} = podmanFor(steps, {proxy: null, logFile})
    await createEgressNetwork(steps, runner, state, ctx)
    const check = podmanFor(steps, {proxy, onNetwork: [proxy, {Names: [`sourceos-agent-${steps.setup.runId}`], Created: created}]})
    await startEgressProxy(steps, check.runner, Promise.resolve(true))
    // the session: this run's lines (one split in two partial records), another client's, squid's stderr
    writeFileSync(logFile, k8s(`${LOG_TAG} ${created + 2}.000 ${me} CONNECT mi`, 'P') + k8s('ne.example.com 443 403 TCP_DENIED') + k8s(`${LOG_TAG} ${created + 2}.000 10.250.1.1 CONNECT theirs.example.com 443 403 TCP_DENIED`), {flag: 'a'})
    const after = podmanFor(steps)
    const down = await tearDownEgress(steps, after.runner, state, {readLog: true})
    expect(down.log).toBe(`${LOG_TAG} ${created + 2}.000 ${me} CONNECT mine.example.com 443 403 TCP_DENIED\n`)
    expect(after.runner.calls).toEqual([])
  })

  it('a podman host whose clock is behind this one’s (the agent created “before” the lease): the whole log is read, never a cut one', async () => {
    const state = stateDir()
    const steps = setup(state)
    markReady(state, null, steps.setup.shared!.key, 0, true)
    const probe = podmanFor(steps)
    const {runner} = podmanFor(steps, {onNetwork: [probe.proxyEntry(), {Names: [`sourceos-agent-${steps.setup.runId}`], Created: 1_000}]})
    await startEgressProxy(steps, runner, Promise.resolve(true))
    await tearDownEgress(steps, runner, state, {readLog: true})
    expect(runner.calls.find((c) => c.args[0] === 'logs')!.args).toEqual(['logs', steps.setup.sidecar])
  })

  it('a recovery (the CLI was killed) reads the run’s lines by the time noted in its lease', async () => {
    const state = stateDir()
    const steps = setup(state)
    markReady(state, null, steps.setup.shared!.key, 0, true)
    const created = Math.ceil(Date.parse(steps.setup.shared!.since) / 1000) + 5
    const me = steps.setup.shared!.agentAddress
    const probe = podmanFor(steps)
    const first = podmanFor(steps, {onNetwork: [probe.proxyEntry(), {Names: [`sourceos-agent-${steps.setup.runId}`], Created: created}]})
    await createEgressNetwork(steps, first.runner, state, ctx)
    await startEgressProxy(steps, first.runner, Promise.resolve(true))
    // the session's state as stored: plain data, nothing observed in memory
    const stored = JSON.parse(JSON.stringify({...steps, shared: {...steps.shared, observed: {}}})) as EgressSteps
    const {runner} = podmanFor(steps, {log: `${LOG_TAG} ${created}.500 ${me} CONNECT mine.example.com 443 403 TCP_DENIED\n${LOG_TAG} ${created - 3}.000 ${me} GET old.example.com 80 403 TCP_DENIED\n`})
    const down = await tearDownEgress(stored, runner, state, {readLog: true})
    expect(down.log).toContain('mine.example.com')
    expect(down.log).not.toContain('old.example.com')
  })

  it('a network removed by hand since this host marked it ready: the failed create leads to its set-up again (then one more create)', async () => {
    const state = stateDir()
    const steps = setup(state)
    markReady(state, null, steps.setup.shared!.key, 0, true)
    const {runner} = podmanFor(steps)
    expect(await repairSharedNetwork(steps, runner, state, ctx, 'Error: unable to find network with name or ID x: network not found')).toBe(true)
    expect(verbs(runner)[0]).toBe('ps')
    expect(verbs(runner)).toContain('network create')
    expect(await repairSharedNetwork(steps, runner, state, ctx, 'Error: some other failure')).toBe(false)
  })
})

describe('leases of killed CLIs', () => {
  const deadPid = () => Number(spawnSync('sh', ['-c', 'echo $$'], {encoding: 'utf8'}).stdout.trim())
  function leaseState(pid: number): {state: string; file: string} {
    const state = stateDir()
    const dir = join(state, 'egress', 'pool')
    mkdirSync(dir, {recursive: true})
    const file = join(dir, `12345678-${'c'.repeat(16)}-0.json`)
    writeFileSync(file, JSON.stringify({runId: 'killed-0000001', pid, pidStart: null, connection: null, key: 'c'.repeat(16), slot: 0}))
    return {state, file}
  }

  it('given back once the killed run’s agent container is gone; the network and proxy stay', async () => {
    const {state, file} = leaseState(deadPid())
    const runner = fakeRunner([{match: 'podman ps', result: {stdout: ''}}])
    const removed = await cleanEgressLeftovers(state, runner, ctx)
    expect(removed).toEqual([`egress network lease 12345678-${'c'.repeat(16)}-0 (run killed-0000001)`])
    expect(existsSync(file)).toBe(false)
    expect(runner.calls.map((c) => c.args)).toEqual([['ps', '--all', '--quiet', '--filter=name=^sourceos-agent-killed-0000001$']])
  })

  it('kept while that agent still runs, and never touched while its CLI runs', async () => {
    const dead = leaseState(deadPid())
    expect(await cleanEgressLeftovers(dead.state, fakeRunner([{match: 'podman ps', result: {stdout: 'abc\n'}}]), ctx)).toEqual([])
    expect(existsSync(dead.file)).toBe(true)
    const live = leaseState(process.pid)
    const runner = fakeRunner([])
    expect(await cleanEgressLeftovers(live.state, runner, ctx)).toEqual([])
    expect(runner.calls).toEqual([])
    expect(readdirSync(join(live.state, 'egress', 'pool'))).toHaveLength(1)
  })
})
