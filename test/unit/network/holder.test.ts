/**
 * The shared pool's network holder (proxy: shared, network/sidecar.ts, lifecycle.ts): each slot's
 * long-lived container whose network namespace the agent joins, so a run pays no namespace set-up
 * or teardown. Its plan, set-up, the check before start (only the proxy and this slot's holder on
 * the network, only this run's agent in the holder's namespace), its repair, and its removal with
 * the pool — against a fake podman.
 */
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import {effectiveAllowlist} from '../../../src/core/network/allowlist.js'
import {createEgressNetwork, egressNamespaceProvider, removeSharedEgress, repairSharedHolder, repairSharedNetwork, startEgressProxy, tearDownEgress} from '../../../src/core/network/lifecycle.js'
import {isReady, leaseSlot, markReady, planLaunchEgress, readyFile, readyInfo} from '../../../src/core/network/pool.js'
import {LOG_TAG} from '../../../src/core/network/squid-config.js'
import {agentNetworkArgs, poolMac, sidecarCreateArgv, HOLDER_LABEL, HOLDER_ROLE, IMAGE_LABEL, KEY_LABEL, ROLE_LABEL, SHARED_ROLE, SLOT_LABEL} from '../../../src/core/network/sidecar.js'
import {egressBefore, egressSteps, type EgressSteps} from '../../../src/core/network/steps.js'
import {buildCreateArgv, type ContainerSpec} from '../../../src/core/launch/container-spec.js'
import {fakeRunner, type FakeRoute} from '../../helpers/fake-runner.js'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, {recursive: true, force: true})
})
function stateDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'egress-holder-'))
  dirs.push(d)
  return d
}
const IMAGE = 'a'.repeat(64)
const HOLDER_ID = 'b'.repeat(64)
const ctx = {binary: 'podman', connection: null}

function setup(state: string, over: {runId?: string; rootless?: boolean; dryRun?: boolean} = {}): EgressSteps {
  const e = planLaunchEgress({
    runId: over.runId ?? 'run-0000001',
    image: IMAGE,
    allowlist: effectiveAllowlist(['registry.npmjs.org'], []),
    profileName: 'p',
    door: null,
    shareProxy: true,
    pool: {state, connection: null, dryRun: over.dryRun ?? false, holder: {rootless: over.rootless ?? false}},
  })
  return egressSteps(e, ctx)
}

/** A fake podman: the proxy, the slot's holder, the agent in its namespace (by label), and anything else given. */
function podmanFor(steps: EgressSteps, over: {holder?: object | null; proxy?: object | null; extra?: object[]; agent?: object | null; routes?: FakeRoute[]; log?: string} = {}) {
  const e = steps.setup
  const h = e.shared!.holder!
  const proxy = over.proxy === undefined ? {Id: 'e'.repeat(64), Names: [e.sidecar], State: 'running', StartedAt: 1_000, Labels: {[KEY_LABEL]: e.shared!.key, [IMAGE_LABEL]: e.image, [ROLE_LABEL]: SHARED_ROLE}, Networks: ['podman', e.network]} : over.proxy
  const holder = over.holder === undefined ? holderEntry(steps) : over.holder
  const agent = over.agent === undefined ? {Names: [`sourceos-agent-${e.runId}`], State: 'initialized', Created: 2_000, Labels: {[HOLDER_LABEL]: h.name}, Networks: []} : over.agent
  const all = [proxy, holder, agent, ...(over.extra ?? [])].filter(Boolean)
  const is = (args: readonly string[], ...words: string[]) => words.every((w) => args.includes(w))
  return fakeRunner([
    ...(over.routes ?? []),
    {match: (_c, a) => a[0] === 'ps' && a.some((x) => x.startsWith('--filter=name=')), result: {stdout: JSON.stringify([proxy, holder].filter(Boolean))}},
    {match: (_c, a) => a[0] === 'ps' && a.length === 3 && is(a, '--all', '--format=json'), result: {stdout: JSON.stringify(all)}},
    {match: (_c, a) => is(a, 'network', 'create'), result: {stdout: `${e.network}\n`}},
    {match: (_c, a) => is(a, 'network', 'connect'), result: {stdout: ''}},
    {match: (_c, a) => is(a, 'network', 'ls'), result: {stdout: `${e.network}\n`}},
    {match: (_c, a) => a[0] === 'ps' && a.includes(`--filter=label=${ROLE_LABEL}=${SHARED_ROLE}`), result: {stdout: '[]'}},
    {match: (_c, a) => a[0] === 'create', result: {stdout: 'e'.repeat(64)}},
    {match: (_c, a) => a[0] === 'run', result: {stdout: `${'c'.repeat(64)}\n`}},
    {match: (_c, a) => a[0] === 'start', result: {stdout: ''}},
    {match: (_c, a) => a[0] === 'rm', result: {stdout: ''}},
    {match: (_c, a) => a[0] === 'logs', result: {stdout: over.log ?? '', stderr: 'Accepting HTTP Socket connections at conn1'}},
    {match: (_c, a) => is(a, 'container', 'inspect'), result: {stdout: `${'e'.repeat(64)} journald \n`}},
  ])
}
function holderEntry(steps: EgressSteps, over: Record<string, unknown> = {}) {
  const e = steps.setup
  return {Id: HOLDER_ID, Names: [e.shared!.holder!.name], State: 'running', Labels: {[ROLE_LABEL]: HOLDER_ROLE, [KEY_LABEL]: e.shared!.key, [SLOT_LABEL]: String(e.shared!.slot), [IMAGE_LABEL]: e.image}, Networks: [e.network], ...over}
}
const verbs = (runner: ReturnType<typeof fakeRunner>) => runner.calls.map((c) => (c.args[0] === 'network' ? c.args.slice(0, 2).join(' ') : c.args[0]))

describe('the plan with a network holder', () => {
  it('the agent joins its slot’s holder (no resolver of its own: the holder has none), whose fixed address the proxy’s log is sliced by', () => {
    const steps = setup(stateDir())
    const e = steps.setup
    const h = e.shared!.holder!
    expect(h.name).toBe(`sourceos-netholder.${e.shared!.key}.0`)
    expect(e.shared!.agentAddress).toBe(`${e.subnet.split('.').slice(0, 3).join('.')}.253`)
    expect(agentNetworkArgs(e)).toEqual([`--network=container:${h.name}`])
    // another run of the same slot gets the same holder and address; another slot another
    const state = stateDir()
    const a = setup(state, {runId: 'run-a000001'})
    const b = setup(state, {runId: 'run-b000001'})
    expect(b.setup.shared!.holder!.name).not.toBe(a.setup.shared!.holder!.name)
    expect(b.setup.shared!.agentAddress).not.toBe(a.setup.shared!.agentAddress)
  })

  it('the holder is hardened: no capability at all, no-new-privileges, read-only root, nobody, nothing mounted, no resolver, labelled with key, slot and image; rootless in a keep-id user namespace', () => {
    const rootful = setup(stateDir()).shared!.holder!.run.argv
    const e = setup(stateDir()).setup
    expect(rootful.slice(0, 3)).toEqual(['podman', 'run', '--detach'])
    for (const flag of ['--cap-drop=all', '--security-opt=no-new-privileges', '--read-only', '--pull=never', '--user=65534:65534', '--dns=none', `--network=${e.network}:ip=${e.shared!.agentAddress},mac=${poolMac(e.shared!.agentAddress)}`, `--label=${ROLE_LABEL}=${HOLDER_ROLE}`, `--label=${KEY_LABEL}=${e.shared!.key}`, `--label=${SLOT_LABEL}=0`, `--label=${IMAGE_LABEL}=${IMAGE}`]) expect(rootful).toContain(flag)
    expect(rootful.some((a) => a.startsWith('--cap-add') || a.startsWith('--mount') || a.startsWith('--volume') || a.startsWith('-v') || a === '--privileged')).toBe(false)
    expect(rootful).not.toContain('--userns=keep-id')
    expect(rootful.slice(-3)).toEqual([IMAGE, 'sleep', '2147483647'])
    expect(setup(stateDir(), {rootless: true}).shared!.holder!.run.argv).toContain('--userns=keep-id')
  })

  it('the shared proxy and the holder have their address’s fixed MAC on the pool network: a replaced proxy keeps it, so a holder’s neighbour cache stays right', () => {
    expect(poolMac('10.160.7.254')).toBe('02:53:0a:a0:07:fe')
    expect(poolMac('10.223.255.253')).toBe('02:53:0a:df:ff:fd')
    const e = setup(stateDir()).setup
    expect(sidecarCreateArgv(e, ctx)).toContain(`--network=${e.network}:ip=${e.proxyAddress},mac=${poolMac(e.proxyAddress)}`)
    // a run's own proxy (a fresh network each run) keeps podman's MAC
    const own = planLaunchEgress({runId: 'run-own0001', image: IMAGE, allowlist: effectiveAllowlist([], []), profileName: 'p', door: null, shareProxy: false, pool: {state: stateDir(), connection: null, dryRun: false}})
    expect(sidecarCreateArgv(own, ctx)).toContain(`--network=${own.network}:ip=${own.proxyAddress}`)
  })

  it('--dry-run shows the holder’s steps before the agent’s create, and the check lists every container (the agents in the holder are on no network)', () => {
    const steps = setup(stateDir(), {dryRun: true})
    const before = egressBefore(steps).map((s) => s.argv)
    expect(before).toContainEqual(steps.shared!.holder!.run.argv)
    expect(before).toContainEqual(['podman', 'start', steps.setup.shared!.holder!.name])
    expect(steps.ready.argv).toEqual(['podman', 'ps', '--all', '--format=json'])
    expect(steps.shared!.proxyState.argv).toEqual(['podman', 'ps', '--all', '--format=json', `--filter=name=^${steps.setup.sidecar.replaceAll('.', '\\.')}$`, `--filter=name=^${steps.setup.shared!.holder!.name.replaceAll('.', '\\.')}$`])
  })

  it('the agent’s create joins the holder’s network namespace (rootless: its user namespace too) and carries the holder’s label', () => {
    for (const rootless of [false, true]) {
      const e = setup(stateDir(), {rootless}).setup
      const spec = {runId: e.runId, verb: 'run', tool: 'codex', profileName: 'p', policyHash: 'sha256:x', image: IMAGE, mounts: [], workdir: '/workspace', network: 'allowlist', egress: e, env: [], resources: {cpus: 1, memory: '1g', pidsLimit: 100}, rootless, ...(rootless ? {rootlessUser: {uid: 1001, gid: 1001}} : {hostOwner: {uid: 1000, gid: 1000}}), interactive: true, tty: false, command: ['codex'], verification: 'proc-root-inode'} as unknown as ContainerSpec
      const argv = buildCreateArgv(spec, ctx)
      expect(argv.filter((a) => a.startsWith('--network') || a.startsWith('--dns'))).toEqual([`--network=container:${e.shared!.holder!.name}`])
      expect(argv).toContain(`--label=${HOLDER_LABEL}=${e.shared!.holder!.name}`)
      expect(argv.includes(`--userns=container:${e.shared!.holder!.name}`)).toBe(rootless)
    }
  })
})

describe('the holder’s life', () => {
  it('first use: the holder is created on the network after the proxy; its ID is what the agent must join, kept in the ready mark', async () => {
    const state = stateDir()
    const steps = setup(state)
    const runner = podmanFor(steps, {holder: null, proxy: null})
    await createEgressNetwork(steps, runner, state, ctx)
    expect(verbs(runner)).toEqual(['ps', 'network create', 'create', 'start', 'ps', 'network ls', 'logs', 'run', 'container'])
    expect(steps.shared!.observed.holderId).toBe('c'.repeat(64))
    expect(egressNamespaceProvider(steps)).toBe('c'.repeat(64))
    expect(readyInfo(state, null, steps.setup.shared!.key, 0).holderId).toBe('c'.repeat(64))
  })

  it('fast path: a ready mark naming the holder costs no podman call before the agent’s create', async () => {
    const state = stateDir()
    const steps = setup(state)
    markReady(state, null, steps.setup.shared!.key, 0, true, {holderId: HOLDER_ID})
    const runner = podmanFor(steps)
    await createEgressNetwork(steps, runner, state, ctx)
    expect(runner.calls).toEqual([])
    expect(egressNamespaceProvider(steps)).toBe(HOLDER_ID)
  })

  it('a ready mark without a holder (made before holders) sets the slot up again: the running holder found is kept', async () => {
    const state = stateDir()
    const steps = setup(state)
    markReady(state, null, steps.setup.shared!.key, 0, true)
    const runner = podmanFor(steps)
    await createEgressNetwork(steps, runner, state, ctx)
    expect(verbs(runner)).toEqual(['ps', 'network create', 'container'])
    expect(JSON.parse(readFileSync(readyFile(state, null, steps.setup.shared!.key, 0), 'utf8')).holderId).toBe(HOLDER_ID)
  })

  it('without a set-up holder the agent is not verified against anything: the launch is refused', () => {
    const steps = setup(stateDir())
    expect(() => egressNamespaceProvider(steps)).toThrow(expect.objectContaining({code: 'EGRESS_SETUP_FAILED'}))
    expect(egressNamespaceProvider(null)).toBeUndefined()
  })

  it.each([
    ['stopped: started again (the same container)', {State: 'exited'}, ['ps', 'network create', 'start', 'container'], HOLDER_ID],
    ['of another image: removed and created', {Labels: {[ROLE_LABEL]: HOLDER_ROLE, [KEY_LABEL]: 'k', [SLOT_LABEL]: '0', [IMAGE_LABEL]: 'f'.repeat(64)}}, ['ps', 'network create', 'rm', 'run', 'container'], 'c'.repeat(64)],
    ['another slot’s (labels): removed and created', {Labels: {[ROLE_LABEL]: HOLDER_ROLE, [KEY_LABEL]: 'k', [SLOT_LABEL]: '1', [IMAGE_LABEL]: IMAGE}}, ['ps', 'network create', 'rm', 'run', 'container'], 'c'.repeat(64)],
    ['not on the leased network: removed and created', {Networks: ['podman']}, ['ps', 'network create', 'rm', 'run', 'container'], 'c'.repeat(64)],
  ])('a holder found %s', async (_what, change, calls, id) => {
    const state = stateDir()
    const steps = setup(state)
    const runner = podmanFor(steps, {holder: holderEntry(steps, change)})
    await createEgressNetwork(steps, runner, state, ctx)
    expect(verbs(runner)).toEqual(calls)
    expect(steps.shared!.observed.holderId).toBe(id)
  })

  it('a holder that cannot be removed (a stale agent still in its namespace) refuses the launch', async () => {
    const state = stateDir()
    const steps = setup(state)
    const runner = podmanFor(steps, {holder: holderEntry(steps, {State: 'exited', Networks: []}), routes: [{match: (_c, a) => a[0] === 'rm', result: {exitCode: 125, stderr: 'Error: container has dependent containers which must be removed before it'}}]})
    await expect(createEgressNetwork(steps, runner, state, ctx)).rejects.toMatchObject({code: 'EGRESS_SETUP_FAILED', message: expect.stringContaining('dependent containers')})
    expect(verbs(runner)).not.toContain('run')
  })
})

describe('the check before start with a holder', () => {
  async function ready(state: string, steps: EgressSteps) {
    markReady(state, null, steps.setup.shared!.key, 0, true, {holderId: HOLDER_ID})
    await createEgressNetwork(steps, fakeRunner([]), state, ctx)
  }

  it('the network holds only the proxy and this slot’s holder, and the holder’s namespace only this run’s agent: one podman call, its creation time noted', async () => {
    const state = stateDir()
    const steps = setup(state)
    await ready(state, steps)
    const runner = podmanFor(steps, {extra: [{Names: ['elsewhere'], Networks: ['podman'], Labels: {}}]})
    await startEgressProxy(steps, runner, Promise.resolve(true))
    expect(runner.calls.map((c) => c.args)).toEqual([['ps', '--all', '--format=json']])
    expect(steps.shared!.observed.agentCreated).toBe(2_000)
  })

  it.each([
    ['a stale agent of an earlier run still in the holder’s namespace', (s: EgressSteps) => ({Names: ['sourceos-agent-earlier'], Networks: [], Labels: {[HOLDER_LABEL]: s.setup.shared!.holder!.name}})],
    ['another container on the leased network', (s: EgressSteps) => ({Names: ['intruder'], Networks: [s.setup.network], Labels: {}})],
  ])('%s refuses the launch: runs must not reach each other', async (_what, other) => {
    const state = stateDir()
    const steps = setup(state)
    await ready(state, steps)
    const runner = podmanFor(steps, {extra: [other(steps)]})
    await expect(startEgressProxy(steps, runner, Promise.resolve(true))).rejects.toMatchObject({code: 'EGRESS_NETWORK_SHARED'})
  })

  it.each([
    ['replaced (another ID)', {Id: 'd'.repeat(64)}, 'was replaced'],
    ['stopped', {State: 'exited'}, 'is exited'],
  ])('a holder %s since the agent joined it refuses the start, and the slot is set up again next time', async (_what, change, said) => {
    const state = stateDir()
    const steps = setup(state)
    await ready(state, steps)
    const runner = podmanFor(steps, {holder: holderEntry(steps, change)})
    await expect(startEgressProxy(steps, runner, Promise.resolve(true))).rejects.toMatchObject({code: 'EGRESS_SETUP_FAILED', message: expect.stringContaining(said)})
    expect(isReady(state, null, steps.setup.shared!.key, 0)).toBe(false)
  })

  it('an agent that is not in the holder’s namespace (no holder label) is refused', async () => {
    const state = stateDir()
    const steps = setup(state)
    await ready(state, steps)
    const runner = podmanFor(steps, {agent: {Names: [`sourceos-agent-${steps.setup.runId}`], Created: 2_000, Labels: {}, Networks: []}})
    await expect(startEgressProxy(steps, runner, Promise.resolve(true))).rejects.toMatchObject({code: 'EGRESS_SETUP_FAILED', message: expect.stringContaining('not in the network holder')})
  })

  it('after the session: this run’s lines are the holder’s address since the agent’s creation (an earlier run of the slot ended before)', async () => {
    const state = stateDir()
    const steps = setup(state)
    await ready(state, steps)
    const me = steps.setup.shared!.agentAddress
    const created = Math.ceil(Date.parse(steps.setup.shared!.since) / 1000) + 5
    const agent = {Names: [`sourceos-agent-${steps.setup.runId}`], Created: created, Labels: {[HOLDER_LABEL]: steps.setup.shared!.holder!.name}, Networks: []}
    const log = [`${LOG_TAG} ${created - 2}.000 ${me} CONNECT earlier-run.example.com 443 403 TCP_DENIED`, `${LOG_TAG} ${created + 1}.000 ${me} CONNECT mine.example.com 443 403 TCP_DENIED`].join('\n')
    const runner = podmanFor(steps, {agent, log})
    await startEgressProxy(steps, runner, Promise.resolve(true))
    const down = await tearDownEgress(steps, runner, state, {readLog: true})
    expect(down.log).toBe(`${LOG_TAG} ${created + 1}.000 ${me} CONNECT mine.example.com 443 403 TCP_DENIED\n`)
    expect(runner.calls.some((c) => c.args[0] === 'rm')).toBe(false)
  })
})

describe('the holder’s repair', () => {
  it('removed by hand: the agent’s failed create (its namespace’s container not found) sets the slot up again, holder created', async () => {
    const state = stateDir()
    const steps = setup(state)
    markReady(state, null, steps.setup.shared!.key, 0, true, {holderId: HOLDER_ID})
    const runner = podmanFor(steps, {holder: null})
    const stderr = `Error: looking up container to share net namespace with: no container with name or ID "${steps.setup.shared!.holder!.name}" found: no such container`
    expect(await repairSharedNetwork(steps, runner, state, ctx, stderr)).toBe(true)
    expect(verbs(runner)).toContain('run')
    expect(steps.shared!.observed.holderId).toBe('c'.repeat(64))
    expect(readyInfo(state, null, steps.setup.shared!.key, 0).holderId).toBe('c'.repeat(64))
  })

  it('stopped: the agent’s failed init (a dependency not started) starts it again and inits once more', async () => {
    const state = stateDir()
    const steps = setup(state)
    markReady(state, null, steps.setup.shared!.key, 0, true, {holderId: HOLDER_ID})
    await createEgressNetwork(steps, fakeRunner([]), state, ctx)
    const runner = podmanFor(steps, {holder: holderEntry(steps, {State: 'exited'})})
    expect(await repairSharedHolder(steps, runner, state, ctx, `Error: some dependencies of container 123 are not started: ${HOLDER_ID}: container state improper`)).toBe(true)
    expect(verbs(runner)).toEqual(['ps', 'network create', 'start', 'container'])
    expect(await repairSharedHolder(steps, runner, state, ctx, 'Error: something else')).toBe(false)
  })

  it('without a holder (the agent on the network itself) nothing is repaired for a holder message', async () => {
    const state = stateDir()
    const e = planLaunchEgress({runId: 'run-nohold1', image: IMAGE, allowlist: effectiveAllowlist([], []), profileName: 'p', door: null, shareProxy: true, pool: {state, connection: null, dryRun: false}})
    const steps = egressSteps(e, ctx)
    expect(await repairSharedNetwork(steps, fakeRunner([]), state, ctx, 'Error: looking up container to share net namespace with: no container with name or ID "x" found')).toBe(false)
    expect(await repairSharedHolder(steps, fakeRunner([]), state, ctx, 'Error: some dependencies of container 1 are not started: 2: container state improper')).toBe(false)
  })
})

describe('removing the shared pools (stop --all --egress)', () => {
  const key = '6'.repeat(16)
  const proxy = {Id: key.padEnd(64, '0'), Names: [`sourceos-proxy.${key}`], Labels: {[KEY_LABEL]: key, [ROLE_LABEL]: SHARED_ROLE}}
  const holder = (k: string, slot: number) => ({Id: `${k}${slot}`.padEnd(64, '1'), Names: [`sourceos-netholder.${k}.${slot}`], Labels: {[KEY_LABEL]: k, [ROLE_LABEL]: HOLDER_ROLE, [SLOT_LABEL]: String(slot)}})
  function runner(opts: {joined?: object[]; proxies?: object[]; holders?: object[]}) {
    return fakeRunner([
      {match: (_c, a) => a[0] === 'ps' && a.includes(`--filter=label=${ROLE_LABEL}=${SHARED_ROLE}`), result: {stdout: JSON.stringify(opts.proxies ?? [proxy])}},
      {match: (_c, a) => a[0] === 'ps' && a.includes(`--filter=label=${ROLE_LABEL}=${HOLDER_ROLE}`), result: {stdout: JSON.stringify(opts.holders ?? [holder(key, 0)])}},
      {match: (_c, a) => a[0] === 'network' && a[1] === 'ls', result: (_c, a) => ({stdout: `net-${a.at(-1)!.slice(-16)}\n`})},
      {match: (_c, a) => a[0] === 'ps' && a.some((x) => x.startsWith('--filter=network=net-')), result: (_c, a) => {
        const k = a.find((x) => x.startsWith('--filter=network=net-'))!.slice(-16)
        return {stdout: JSON.stringify([...(k === key ? [proxy] : []), ...(opts.holders ?? [holder(key, 0)]).filter((h) => (h as {Labels: Record<string, string>}).Labels[KEY_LABEL] === k)])}
      }},
      {match: (_c, a) => a[0] === 'ps' && a.includes(`--filter=label=${HOLDER_LABEL}`), result: {stdout: JSON.stringify(opts.joined ?? [])}},
      {match: (_c, a) => a[0] === 'rm' || (a[0] === 'network' && a[1] === 'rm'), result: {stdout: ''}},
    ])
  }

  it('an idle pool goes whole: the proxy, its holders and its networks', async () => {
    const r = runner({})
    expect(await removeSharedEgress(r, ctx, stateDir())).toMatchObject({removed: [`sourceos-proxy.${key}`], kept: []})
    expect(r.calls.find((c) => c.args[0] === 'rm')!.args).toEqual(['rm', '--force', '--time=0', proxy.Id, holder(key, 0).Id])
    expect(r.calls.find((c) => c.args[0] === 'network' && c.args[1] === 'rm')!.args).toEqual(['network', 'rm', `net-${key}`])
  })

  it('a dry run removes nothing and says the exact commands it would run', async () => {
    const r = runner({})
    const out = await removeSharedEgress(r, ctx, stateDir(), {dryRun: true})
    expect(out).toEqual({removed: [`sourceos-proxy.${key}`], kept: [], steps: [['podman', 'rm', '--force', '--time=0', proxy.Id, holder(key, 0).Id], ['podman', 'network', 'rm', `net-${key}`]]})
    expect(r.calls.some((c) => c.args[0] === 'rm' || c.args[1] === 'rm')).toBe(false)
  })

  it('an agent in a holder’s namespace (on no network in podman’s terms) keeps the pool', async () => {
    const r = runner({joined: [{Names: ['sourceos-agent-x'], Labels: {[HOLDER_LABEL]: `sourceos-netholder.${key}.0`}}]})
    expect(await removeSharedEgress(r, ctx, stateDir())).toMatchObject({removed: [], kept: [`sourceos-proxy.${key}`]})
    expect(r.calls.some((c) => c.args[0] === 'rm')).toBe(false)
  })

  it('a live lease of the pool in this state dir keeps it', async () => {
    const state = stateDir()
    leaseSlot(state, {connection: null, key, runId: 'run-live0001', dryRun: false})
    const r = runner({})
    expect(await removeSharedEgress(r, ctx, state)).toMatchObject({removed: [], kept: [`sourceos-proxy.${key}`]})
  })

  it('holders whose proxy was removed by hand go with their networks', async () => {
    const orphan = '7'.repeat(16)
    const r = runner({proxies: [], holders: [holder(orphan, 2)]})
    expect(await removeSharedEgress(r, ctx, stateDir())).toMatchObject({removed: [`the network holders of pool ${orphan}`], kept: []})
    expect(r.calls.find((c) => c.args[0] === 'rm')!.args).toEqual(['rm', '--force', '--time=0', holder(orphan, 2).Id])
  })
})
