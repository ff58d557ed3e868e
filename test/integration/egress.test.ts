/**
 * Network mode allowlist against real Podman, rootful and rootless: the agent's container sits on
 * its own internal network with the Squid sidecar as the only way out. From inside the container
 * (busybox nc/nslookup) the tests speak raw CONNECT and plain HTTP to the proxy named in
 * HTTPS_PROXY, try a direct connection, a DNS lookup and the host's own services; the evidence must
 * list both outcomes; nothing is left behind, also when the CLI is SIGKILLed. The proxy is shared
 * by the runs of one configuration (network/pool.ts), each on its own network of its pool: two
 * concurrent runs record only their own connections and cannot reach each other; the agent runs in
 * the network namespace of its slot's long-lived network holder (by its ID); a changed allowlist
 * gets another proxy; a killed proxy is replaced, a holder removed by hand is created again.
 *
 * Reachable from this machine: the npm registry (443) and Debian's mirror (80) — the allowed hosts.
 */
import {createServer, type Server} from 'node:net'
import {existsSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {makeLaunchFixture, type LaunchFixture} from './helpers/launch-fixture.js'
import {podman, podmanTarget, requirePodman, type PodmanMode} from './helpers/podman-env.js'

const podmanAvailable = requirePodman()

const ALLOWED_TLS = 'registry.npmjs.org'
const ALLOWED_HTTP = 'deb.debian.org'
const DENIED = 'example.com'
const LABEL = 'dev.sourceos.agent-machine.run-id'
const KEY_LABEL = 'dev.sourceos.agent-machine.egress-key'
/** A pool network's holder: sourceos-egress.<key>.<slot> → sourceos-netholder.<key>.<slot>. */
const holderOf = (network: string) => network.replace(/^sourceos-egress\./, 'sourceos-netholder.')

interface NetworkSection {
  mode: string
  proxy: {network: string; container: string; address: string}
  destinations: Array<{host: string; port: number; decision: string; count: number}>
}

/** A shell script for the container: each probe prints one tagged line. */
const PROBES = (hostPort: number) =>
  [
    'p=${HTTPS_PROXY#http://}; h=${p%:*}; echo "PROXY=$p"',
    // raw CONNECT to an allowlisted host: the proxy opens the tunnel
    `printf 'CONNECT ${ALLOWED_TLS}:443 HTTP/1.1\\r\\nHost: ${ALLOWED_TLS}:443\\r\\n\\r\\n' | nc -w 8 "$h" 3128 | head -1 | sed 's/^/ALLOWED_CONNECT /'`,
    // plain HTTP through the proxy to an allowlisted host:80
    `(printf 'GET http://${ALLOWED_HTTP}/debian/ HTTP/1.1\\r\\nHost: ${ALLOWED_HTTP}\\r\\nConnection: close\\r\\n\\r\\n'; sleep 5) | nc -w 8 "$h" 3128 | head -1 | sed 's/^/ALLOWED_HTTP /'`,
    // a host that is not allowlisted: 403 with a body that names it and the setting
    `printf 'CONNECT ${DENIED}:443 HTTP/1.1\\r\\nHost: ${DENIED}:443\\r\\n\\r\\n' | nc -w 8 "$h" 3128 | tr -d '\\r' | sed 's/^/DENIED /'`,
    // an allowlisted name on a port that is not: refused too
    `printf 'CONNECT ${ALLOWED_TLS}:22 HTTP/1.1\\r\\n\\r\\n' | nc -w 8 "$h" 3128 | head -1 | sed 's/^/WRONG_PORT /'`,
    // the host's own service, through the proxy by name and by the gateway's address: refused
    `printf 'CONNECT host.containers.internal:${hostPort} HTTP/1.1\\r\\n\\r\\n' | nc -w 8 "$h" 3128 | head -1 | sed 's/^/HOST_VIA_PROXY /'`,
    // the proxy's own cache manager (its configuration and clients) is not served to the agent
    `printf 'GET /squid-internal-mgr/menu HTTP/1.0\\r\\nHost: '"$p"'\\r\\n\\r\\n' | nc -w 8 "$h" 3128 | head -1 | sed 's/^/MANAGER /'`,
    `printf 'GET cache_object://'"$h"'/menu HTTP/1.0\\r\\n\\r\\n' | nc -w 8 "$h" 3128 | head -1 | sed 's/^/MANAGER_OBJ /'`,
    // direct: no route out, no DNS, the host's 0.0.0.0 service unreachable
    'if nc -w 3 1.1.1.1 443 </dev/null; then echo "DIRECT_IP connected"; else echo "DIRECT_IP failed"; fi',
    `if nslookup ${ALLOWED_HTTP} >/dev/null 2>&1; then echo "DNS resolved"; else echo "DNS failed"; fi`,
    `gw=$(sed -n 's/[[:space:]]*host.containers.internal.*//p' /etc/hosts | head -1); echo "GATEWAY=$gw"`,
    `if echo hi | nc -w 3 "$gw" ${hostPort} >/dev/null 2>&1; then echo "HOST_DIRECT connected"; else echo "HOST_DIRECT failed"; fi`,
    'exit 0',
  ].join('\n')

describe.each(['rootful', 'rootless'] as PodmanMode[])('network allowlist (%s)', (mode) => {
  const target = podmanTarget(mode)

  describe.skipIf(!podmanAvailable || !target.runnable)(target.reason ? `skipped: ${target.reason}` : 'the agent reaches only the allowlist, through the proxy', () => {
    let fx: LaunchFixture
    let profile: string
    let server: Server
    let hostPort = 0
    const accepted: string[] = []

    beforeAll(async () => {
      fx = await makeLaunchFixture(mode)
      profile = fx.profileVariant('allowlist', (doc) => {
        doc.spec.network = {mode: 'allowlist', allow: [ALLOWED_TLS, `${ALLOWED_HTTP}:80`], proxy: 'shared'}
      })
      // a service on the host's every address: the agent must never reach it
      server = createServer((socket) => {
        accepted.push(String(socket.remoteAddress))
        socket.end('host secret\n')
      })
      await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve))
      hostPort = (server.address() as {port: number}).port
    }, 240_000)
    /** The shared proxies these tests used (by key): removed with their pool networks at the end. */
    const keys = new Set<string>()
    afterAll(async () => {
      server?.close()
      if (!fx) return
      for (const key of keys) {
        const ids = (await podman(fx.target, ['ps', '--all', '--quiet', `--filter=label=${KEY_LABEL}=${key}`])).stdout.split('\n').filter(Boolean)
        if (ids.length > 0) await podman(fx.target, ['rm', '--force', '--time=0', ...ids])
        const nets = (await podman(fx.target, ['network', 'ls', '--quiet', `--filter=label=${KEY_LABEL}=${key}`])).stdout.split('\n').filter(Boolean)
        if (nets.length > 0) await podman(fx.target, ['network', 'rm', '--force', ...nets])
      }
      expect(await fx.cleanup(), 'containers left behind (now removed)').toEqual([])
    })

    /** The shared proxy's key (its name's suffix), noted for the clean-up. */
    function proxyKey(n: NetworkSection): string {
      const key = /^sourceos-proxy\.([0-9a-f]{16})$/.exec(n.proxy.container)?.[1]
      expect(key, n.proxy.container).toBeTruthy()
      keys.add(key!)
      return key!
    }

    /** The leases of the pool in the fixture's state dir (none once every run has ended). */
    function leases(): string[] {
      const dir = join(fx.stateDir, 'egress', 'pool')
      return existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.json')) : []
    }

    async function networksOf(runId: string): Promise<string[]> {
      const r = await podman(fx.target, ['network', 'ls', '--quiet', `--filter=label=${LABEL}=${runId}`])
      return r.stdout.split('\n').map((l) => l.trim()).filter(Boolean)
    }

    it('allowed host:port through the proxy; denied with a 403 that names the host and the fix; no direct route, DNS or host service; both in the evidence', async () => {
      const runId = fx.runId('egress')
      const r = await fx.cli(['agent-machine', 'shell', '--json', '--run-id', runId, '--repo', fx.repo, '--profile-file', profile, '--', '-c', PROBES(hostPort)], {timeoutMs: 120_000})
      expect(r.exitCode, r.stderr).toBe(0)
      const out = r.stderr // under --json the shell's output is on stderr
      expect(out).toMatch(/^PROXY=10\.\d+\.\d+\.254:3128$/m)
      expect(out).toMatch(/^ALLOWED_CONNECT HTTP\/1\.1 200/m)
      expect(out).toMatch(/^ALLOWED_HTTP HTTP\/1\.1 (200|30\d)/m)
      expect(out).toMatch(/^DENIED HTTP\/1\.1 403/m)
      expect(out).toMatch(/^DENIED .*egress to example\.com:443 is not on the network allowlist/m)
      expect(out).toMatch(/^DENIED .*spec\.network\.allow/m)
      expect(out).toMatch(/^WRONG_PORT HTTP\/1\.1 403/m)
      expect(out).toMatch(/^HOST_VIA_PROXY HTTP\/1\.1 403/m)
      expect(out).toMatch(/^MANAGER HTTP\/1\.[01] (403|400)/m)
      expect(out).toMatch(/^MANAGER_OBJ HTTP\/1\.[01] (403|400)/m)
      expect(out).toContain('DIRECT_IP failed')
      expect(out).toContain('DNS failed')
      expect(out).toContain('HOST_DIRECT failed')
      expect(accepted, 'the host service was reached').toEqual([])
      // the closing summary names the denied destinations
      expect(out).toMatch(/sourceosctl: the egress proxy refused \d+ destinations?: .*example\.com:443/)

      const result = JSON.parse(r.stdout) as {evidence: string; network: NetworkSection}
      expect(result.network.mode).toBe('allowlist')
      // the shared proxy of this configuration, on a network of its pool; the lease is given back
      proxyKey(result.network)
      expect(result.network.proxy.network).toMatch(/^sourceos-egress\.[0-9a-f]{16}\.\d+$/)
      expect(leases()).toEqual([])
      const record = JSON.parse(readFileSync(result.evidence, 'utf8')) as {predicate: {network: typeof result.network & {allowlist: {entries: string[]}}; policy: {network: {mode: string; allow: string[]; allowHash: string}}}}
      const n = record.predicate.network
      expect(n.allowlist.entries).toEqual(expect.arrayContaining([`${ALLOWED_TLS}:443`, `${ALLOWED_HTTP}:80`]))
      expect(record.predicate.policy.network.allow).toEqual(n.allowlist.entries)
      const find = (host: string, port: number, decision: string) => n.destinations.find((d) => d.host === host && d.port === port && d.decision === decision)
      expect(find(ALLOWED_TLS, 443, 'allowed')?.count).toBeGreaterThanOrEqual(1)
      expect(find(ALLOWED_HTTP, 80, 'allowed')?.count).toBeGreaterThanOrEqual(1)
      expect(find(DENIED, 443, 'denied')?.count).toBe(1)
      expect(find(ALLOWED_TLS, 22, 'denied')?.count).toBe(1)
      expect(find('host.containers.internal', hostPort, 'denied')?.count).toBe(1)
      // evidence inspect shows them
      const inspect = await fx.cli(['agent-machine', 'evidence', 'inspect', '--long', result.evidence])
      expect(inspect.stdout).toMatch(/network +allowlist, \d+ allowlisted host:port rules/)
      expect(inspect.stdout).toMatch(/allowed registry\.npmjs\.org:443 × \d+/)
      expect(inspect.stdout).toMatch(/denied +example\.com:443 × 1/)
      // nothing left: no container, no network
      expect(await fx.containersOf(runId)).toEqual([])
      expect(await networksOf(runId)).toEqual([])
    }, 180_000)

    it('--dry-run shows the network and sidecar steps exactly, and creates nothing', async () => {
      const runId = fx.runId('egressdry')
      const r = await fx.cli(['agent-machine', 'shell', '--json', '--dry-run', '--run-id', runId, '--repo', fx.repo, '--profile-file', profile])
      expect(r.exitCode, r.stderr).toBe(0)
      const plan = (JSON.parse(r.stdout) as {plan: {steps: Array<{argv: string[]; mutates: boolean}>}}).plan.steps.map((s) => s.argv)
      const agentCreate = plan.findIndex((a) => a.includes('create') && a.includes(`--name=sourceos-agent-${runId}`))
      const agent = plan[agentCreate]!
      // the agent's only network: the namespace of its slot's network holder (rootless: its user namespace too), on a pool network of the shared proxy
      const nets = agent.filter((a) => a.startsWith('--network=') || a.startsWith('--dns'))
      expect(nets).toEqual([expect.stringMatching(/^--network=container:sourceos-netholder\.[0-9a-f]{16}\.\d+$/)])
      const holderName = nets[0]!.slice('--network=container:'.length)
      expect(agent.includes(`--userns=container:${holderName}`)).toBe(mode === 'rootless')
      const net = holderName.replace(/^sourceos-netholder\./, 'sourceos-egress.')
      const key = net.split('.')[1]!
      const proxyName = `sourceos-proxy.${key}`
      const idx = (pred: (a: string[]) => boolean) => plan.findIndex(pred)
      const netCreate = idx((a) => a.includes('network') && a.includes('create') && a.includes(net))
      const proxyCreate = idx((a) => a.includes('create') && a.includes(`--name=${proxyName}`))
      const connect = idx((a) => a.includes('network') && a.includes('connect') && a.includes(net) && a.includes(proxyName))
      const holderRun = idx((a) => a.includes('run') && a.includes(`--name=${holderName}`))
      const check = idx((a) => a.includes('ps') && a.length <= 6 && a.includes('--format=json') && !a.some((x) => x.startsWith('--filter')))
      const agentStart = idx((a) => a.includes('start') && a.includes(`sourceos-agent-${runId}`))
      const log = idx((a) => a.includes('logs') && a.includes(proxyName) && a.some((x) => x.startsWith('--since=')))
      expect([netCreate, proxyCreate, connect, holderRun, check, agentCreate, agentStart, log].every((i) => i >= 0), JSON.stringify(plan)).toBe(true)
      expect(netCreate).toBeLessThan(holderRun)
      expect(holderRun).toBeLessThan(agentCreate)
      expect(netCreate).toBeLessThan(agentCreate)
      expect(proxyCreate).toBeLessThan(agentCreate)
      expect(agentCreate).toBeLessThan(check)
      expect(check).toBeLessThan(agentStart)
      expect(agentStart).toBeLessThan(log)
      // nothing of the shared proxy or its network is removed after the session
      expect(plan.some((a) => (a.includes('rm') && a.includes(proxyName)) || (a.includes('network') && a.includes('rm')))).toBe(false)
      expect(plan[netCreate]).toContain('--internal')
      expect(plan[netCreate]).toContain(`--label=${KEY_LABEL}=${key}`)
      // the holder: no capability, no resolver (the agent has its), nothing mounted, on the pool network at the slot's fixed address
      const holder = plan[holderRun]!
      for (const flag of ['--cap-drop=all', '--read-only', '--security-opt=no-new-privileges', '--user=65534:65534', '--dns=none', `--label=${KEY_LABEL}=${key}`]) expect(holder).toContain(flag)
      expect(holder.filter((a) => a.startsWith('--network='))).toEqual([expect.stringMatching(new RegExp(`^--network=${net.replaceAll('.', '\\.')}:ip=10\\.\\d+\\.\\d+\\.253,mac=02:53:0a:[0-9a-f]{2}:[0-9a-f]{2}:fd$`))])
      expect(holder.some((a) => a.startsWith('--cap-add') || a.startsWith('--mount') || a.startsWith('--volume') || a.startsWith('-v'))).toBe(false)
      expect(agent).toEqual(expect.arrayContaining([expect.stringMatching(/^--env=HTTPS_PROXY=http:\/\/10\.\d+\.\d+\.254:3128$/), '--env=NODE_USE_ENV_PROXY=1']))
      const proxy = plan[proxyCreate]!
      for (const flag of ['--cap-drop=all', '--read-only', '--security-opt=no-new-privileges', `--label=${KEY_LABEL}=${key}`]) expect(proxy).toContain(flag)
      expect(proxy.some((a) => a.startsWith('--mount') || a.startsWith('--volume') || a.startsWith('-v'))).toBe(false)
      expect(await fx.containersOf(runId)).toEqual([])
      expect(await networksOf(runId)).toEqual([])
      // a dry run leases nothing
      expect(leases()).toEqual([])
    })

    it('SIGTERM during the session: the tool gets it, the CLI exits 143, and no container or network is left', async () => {
      const runId = fx.runId('egressterm')
      const cli = await fx.spawn(['agent-machine', 'shell', '--run-id', runId, '--repo', fx.repo, '--profile-file', profile, '--', '-c', 'trap "echo got TERM; exit 143" TERM; echo STARTED; while :; do sleep 1; done'])
      await cli.waitFor(/STARTED/, 90_000)
      cli.signal('SIGTERM')
      const exit = await cli.exited(60_000)
      expect(exit.exitCode, exit.stderr).toBe(143)
      expect(await fx.containersOf(runId)).toEqual([])
      expect(await networksOf(runId)).toEqual([])
      expect(leases()).toEqual([])
    }, 180_000)

    it('network open: the cloud metadata range has no route and the agent cannot add one back; the rest is reachable; the guard is gone after', async () => {
      const runId = fx.runId('openguard')
      const open = fx.profileVariant('open', (doc) => {
        doc.spec.network = {mode: 'open'}
      })
      const script = [
        'if nc -w 3 169.254.169.254 80 </dev/null 2>/tmp/err; then echo "META connected"; else echo "META failed: $(cat /tmp/err)"; fi',
        'ip route del unreachable 169.254.0.0/16 2>&1 | sed "s/^/DEL /"; ip route | grep -q "unreachable 169.254.0.0/16" && echo "ROUTE still there"',
        `if nc -w 8 ${ALLOWED_TLS} 443 </dev/null; then echo "OUT connected"; else echo "OUT failed"; fi`,
        'exit 0',
      ].join('\n')
      const r = await fx.cli(['agent-machine', 'shell', '--run-id', runId, '--repo', fx.repo, '--profile-file', open, '--', '-c', script], {timeoutMs: 120_000})
      expect(r.exitCode, r.stderr).toBe(0)
      expect(r.stdout).toMatch(/^META failed: .*(No route to host|unreachable)/im)
      expect(r.stdout).toMatch(/^DEL .*(Operation not permitted|permission denied)/im)
      expect(r.stdout).toContain('ROUTE still there')
      expect(r.stdout).toContain('OUT connected')
      expect(await fx.containersOf(runId)).toEqual([])
    }, 180_000)

    it('after SIGKILL of the CLI, its network stays leased until its agent is gone; the next launch gives it back and leaves no container behind', async () => {
      const runId = fx.runId('egresskill')
      const denied = `p=\${HTTPS_PROXY#http://}; printf 'CONNECT killed-run.example.com:443 HTTP/1.1\\r\\n\\r\\n' | nc -w 8 "\${p%:*}" 3128 >/dev/null`
      const cli = await fx.spawn(['agent-machine', 'shell', '--run-id', runId, '--repo', fx.repo, '--profile-file', profile, '--', '-c', `${denied}; echo STARTED; sleep 3`])
      await cli.waitFor(/STARTED/, 90_000)
      cli.kill()
      await cli.exited(10_000)
      // the agent's container ends by itself (sleep) and --rm removes it; the lease stays
      const deadline = Date.now() + 30_000
      while ((await fx.containersOf(runId)).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250))
      expect(await fx.containersOf(runId)).toEqual([])
      expect(leases()).toHaveLength(1)
      const next = await fx.cli(['agent-machine', 'shell', '--run-id', fx.runId('egressnext'), '--repo', fx.repo, '--profile-file', profile, '--', '-c', 'exit 0'], {timeoutMs: 120_000})
      expect(next.exitCode, next.stderr).toBe(0)
      // given back by the session's recovery (which also reads its lines of the proxy's log), or by the leftovers' clean-up
      expect(next.stderr).toMatch(new RegExp(`session ${runId} ended while its CLI was gone|removed a leftover of a killed session: egress network lease .* \\(run ${runId}\\)`))
      expect(leases()).toEqual([])
      const recovered = new RegExp(`session ${runId} ended while its CLI was gone; finished now \\(exit \\w+, evidence ([^)]+)\\)`).exec(next.stderr)?.[1]
      if (recovered) {
        const n = (JSON.parse(readFileSync(recovered, 'utf8')) as {predicate: {network: NetworkSection}}).predicate.network
        expect(n.destinations.map((d) => `${d.decision} ${d.host}:${d.port}`)).toEqual(['denied killed-run.example.com:443'])
      }
      expect(await fx.containersOf(runId)).toEqual([])
      expect(await networksOf(runId)).toEqual([])
    }, 180_000)

    it('proxy per-run (the default): the run’s own proxy enforces the allowlist; it and its network live and die with the run, also after SIGKILL of the CLI; no shared proxy appears', async () => {
      const perRun = fx.profileVariant('allowlist-per-run', (doc) => {
        doc.spec.network = {mode: 'allowlist', allow: [ALLOWED_TLS]}
      })
      const before = (await podman(fx.target, ['ps', '--all', '--quiet', `--filter=label=${KEY_LABEL}`])).stdout.trim()
      const runId = fx.runId('perrun')
      const probes = [
        'p=${HTTPS_PROXY#http://}; h=${p%:*}; echo "PROXY=$p"',
        `printf 'CONNECT ${ALLOWED_TLS}:443 HTTP/1.1\\r\\n\\r\\n' | nc -w 8 "$h" 3128 | head -1 | sed 's/^/ALLOWED_CONNECT /'`,
        `printf 'CONNECT ${DENIED}:443 HTTP/1.1\\r\\n\\r\\n' | nc -w 8 "$h" 3128 | head -1 | sed 's/^/DENIED /'`,
        'exit 0',
      ].join('\n')
      const r = await fx.cli(['agent-machine', 'shell', '--json', '--run-id', runId, '--repo', fx.repo, '--profile-file', perRun, '--', '-c', probes], {timeoutMs: 120_000})
      expect(r.exitCode, r.stderr).toBe(0)
      expect(r.stderr).toMatch(/^ALLOWED_CONNECT HTTP\/1\.1 200/m)
      expect(r.stderr).toMatch(/^DENIED HTTP\/1\.1 403/m)
      const n = (JSON.parse(r.stdout) as {network: NetworkSection}).network
      expect(n.proxy.container).toBe(`sourceos-proxy-${runId}`)
      expect(n.destinations.map((d) => `${d.decision} ${d.host}:${d.port}`).sort()).toEqual([`allowed ${ALLOWED_TLS}:443`, `denied ${DENIED}:443`])
      expect(await fx.containersOf(runId)).toEqual([])
      expect(await networksOf(runId)).toEqual([])
      expect(leases()).toEqual([])

      const killed = fx.runId('perrunkill')
      const cli = await fx.spawn(['agent-machine', 'shell', '--run-id', killed, '--repo', fx.repo, '--profile-file', perRun, '--', '-c', 'echo STARTED; sleep 3'])
      await cli.waitFor(/STARTED/, 90_000)
      cli.kill()
      await cli.exited(10_000)
      const deadline = Date.now() + 30_000
      while ((await fx.containersOf(killed)).some((c) => c.startsWith('sourceos-agent-')) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 250))
      const next = await fx.cli(['agent-machine', 'shell', '--run-id', fx.runId('perrunnext'), '--repo', fx.repo, '--profile-file', perRun, '--', '-c', 'exit 0'], {timeoutMs: 120_000})
      expect(next.exitCode, next.stderr).toBe(0)
      expect(await fx.containersOf(killed)).toEqual([])
      expect(await networksOf(killed)).toEqual([])
      expect((await podman(fx.target, ['ps', '--all', '--quiet', `--filter=label=${KEY_LABEL}`])).stdout.trim(), 'a shared proxy appeared').toBe(before)
    }, 300_000)

    it('two concurrent runs on one shared proxy: each records only its own connections, and neither reaches the other (directly or through the proxy)', async () => {
      const a = fx.runId('egressa')
      const b = fx.runId('egressb')
      const shared = '/workspace/repo'
      writeFileSync(join(fx.repo, '.a-ip'), '')
      fx.own(join(fx.repo, '.a-ip'))
      const connect = (host: string, port: number, tag: string) => `printf 'CONNECT ${host}:${port} HTTP/1.1\\r\\n\\r\\n' | nc -w 8 "$h" 3128 | head -1 | sed 's/^/${tag} /'`
      const scriptA = [
        'p=${HTTPS_PROXY#http://}; h=${p%:*}',
        // a service in run A's container, its address where run B can read it
        '(while :; do echo from-a | nc -l -p 8080; done) >/dev/null 2>&1 &',
        `ip -4 -o addr show | sed -n 's/.* inet \\([0-9.]*\\)\\/.*/\\1/p' | grep -v '^127\\.' | head -1 > ${shared}/.a-ip`,
        connect('only-a.example.com', 443, 'A_DENIED'),
        connect(ALLOWED_TLS, 443, 'A_ALLOWED'),
        // until B has tried
        `i=0; while [ ! -s ${shared}/.b-done ] && [ $i -lt 60 ]; do sleep 1; i=$((i+1)); done`,
        'exit 0',
      ].join('\n')
      const scriptB = [
        'p=${HTTPS_PROXY#http://}; h=${p%:*}',
        `i=0; while [ ! -s ${shared}/.a-ip ] && [ $i -lt 60 ]; do sleep 1; i=$((i+1)); done; aip=$(cat ${shared}/.a-ip); echo "A_IP=$aip"`,
        'if echo hi | nc -w 3 "$aip" 8080 2>/dev/null | grep -q from-a; then echo "B_TO_A connected"; else echo "B_TO_A failed"; fi',
        `printf 'CONNECT %s:8080 HTTP/1.1\\r\\n\\r\\n' "$aip" | nc -w 8 "$h" 3128 | head -1 | sed 's/^/B_TO_A_VIA_PROXY /'`,
        connect('only-b.example.com', 443, 'B_DENIED'),
        `echo done > ${shared}/.b-done`,
        'exit 0',
      ].join('\n')
      const [ra, rb] = await Promise.all([
        fx.cli(['agent-machine', 'shell', '--json', '--run-id', a, '--repo', fx.repo, '--profile-file', profile, '--', '-c', scriptA], {timeoutMs: 150_000}),
        fx.cli(['agent-machine', 'shell', '--json', '--run-id', b, '--repo', fx.repo, '--profile-file', profile, '--', '-c', scriptB], {timeoutMs: 150_000}),
      ])
      expect(ra.exitCode, ra.stderr).toBe(0)
      expect(rb.exitCode, rb.stderr).toBe(0)
      const aip = /^A_IP=(10\.\d+\.\d+\.\d+)$/m.exec(rb.stderr)?.[1]
      expect(aip, rb.stderr).toBeTruthy()
      expect(ra.stderr).toMatch(/^A_DENIED HTTP\/1\.1 403/m)
      expect(ra.stderr).toMatch(/^A_ALLOWED HTTP\/1\.1 200/m)
      expect(rb.stderr).toContain('B_TO_A failed')
      expect(rb.stderr).toMatch(/^B_TO_A_VIA_PROXY HTTP\/1\.1 403/m)
      expect(rb.stderr).toMatch(/^B_DENIED HTTP\/1\.1 403/m)
      const na = (JSON.parse(ra.stdout) as {network: NetworkSection}).network
      const nb = (JSON.parse(rb.stdout) as {network: NetworkSection}).network
      // one proxy, two networks
      expect(proxyKey(na)).toBe(proxyKey(nb))
      expect(na.proxy.network).not.toBe(nb.proxy.network)
      // A's namespace was its slot's holder's: the address A saw is the holder's, on A's network, and the holder stays (the next run of the slot joins it)
      const holderA = (await podman(fx.target, ['inspect', '--format={{.State.Running}} {{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}} {{end}}', holderOf(na.proxy.network)])).stdout.trim()
      expect(holderA).toBe(`true ${na.proxy.network}=${aip}`)
      const hosts = (n: NetworkSection) => n.destinations.map((d) => `${d.decision} ${d.host}:${d.port} ×${d.count}`).sort()
      expect(hosts(na)).toEqual(['allowed registry.npmjs.org:443 ×1', 'denied only-a.example.com:443 ×1'])
      expect(hosts(nb)).toEqual([`denied ${aip}:8080 ×1`, 'denied only-b.example.com:443 ×1'])
      expect(leases()).toEqual([])
      for (const f of ['.a-ip', '.b-done']) rmSync(join(fx.repo, f), {force: true})
    }, 240_000)

    it('a changed allowlist gets another proxy, configured for it; a killed proxy is replaced by the next run', async () => {
      // without deb.debian.org:80: the proxy of the first profile (which allows it) must not serve this one
      const narrower = fx.profileVariant('allowlist-narrower', (doc) => {
        doc.spec.network = {mode: 'allowlist', allow: [ALLOWED_TLS], proxy: 'shared'}
      })
      const probe = `p=\${HTTPS_PROXY#http://}; h=\${p%:*}; (printf 'GET http://${ALLOWED_HTTP}/debian/ HTTP/1.1\\r\\nHost: ${ALLOWED_HTTP}\\r\\nConnection: close\\r\\n\\r\\n'; sleep 5) | nc -w 8 "$h" 3128 | head -1 | sed 's/^/HTTP /'`
      const run = async (file: string, tag: string) => {
        const r = await fx.cli(['agent-machine', 'shell', '--json', '--run-id', fx.runId(tag), '--repo', fx.repo, '--profile-file', file, '--', '-c', probe], {timeoutMs: 150_000})
        expect(r.exitCode, r.stderr).toBe(0)
        return {out: r.stderr, network: (JSON.parse(r.stdout) as {network: NetworkSection}).network}
      }
      const wide = await run(profile, 'egresswide')
      const narrow = await run(narrower, 'egressnarrow')
      expect(wide.out).toMatch(/^HTTP HTTP\/1\.1 (200|30\d)/m)
      expect(narrow.out).toMatch(/^HTTP HTTP\/1\.1 403/m)
      expect(proxyKey(narrow.network)).not.toBe(proxyKey(wide.network))
      // the wide one's proxy killed: the next run of that profile gets it replaced, and works (in the slot's same holder: the new proxy answers with the address's same MAC)
      const name = wide.network.proxy.container
      const before = (await podman(fx.target, ['inspect', '--format={{.Id}}', name])).stdout.trim()
      const holder = holderOf(wide.network.proxy.network)
      const holderBefore = (await podman(fx.target, ['inspect', '--format={{.Id}}', holder])).stdout.trim()
      expect(holderBefore).toMatch(/^[0-9a-f]{64}$/)
      await podman(fx.target, ['kill', name])
      const again = await run(profile, 'egressagain')
      expect(again.out).toMatch(/^HTTP HTTP\/1\.1 (200|30\d)/m)
      expect(again.network.proxy.container).toBe(name)
      expect(again.network.destinations.find((d) => d.host === ALLOWED_HTTP)?.decision).toBe('allowed')
      const state = (await podman(fx.target, ['inspect', '--format={{.Id}} {{.State.Running}}', name])).stdout.trim().split(' ')
      expect(state[1]).toBe('true')
      expect(state[0]).not.toBe(before)
      expect(again.network.proxy.network).toBe(wide.network.proxy.network)
      expect((await podman(fx.target, ['inspect', '--format={{.Id}}', holder])).stdout.trim()).toBe(holderBefore)
      // the slot's holder removed by hand: the next run's create cannot join it; it is created again (a new container) and the run works
      await podman(fx.target, ['rm', '--force', '--time=0', holder])
      const recreated = await run(profile, 'egressholder')
      expect(recreated.out).toMatch(/^HTTP HTTP\/1\.1 (200|30\d)/m)
      expect(recreated.network.proxy.network).toBe(wide.network.proxy.network)
      expect(recreated.network.destinations.find((d) => d.host === ALLOWED_HTTP)?.decision).toBe('allowed')
      const holderAfter = (await podman(fx.target, ['inspect', '--format={{.Id}} {{.State.Running}}', holder])).stdout.trim().split(' ')
      expect(holderAfter[1]).toBe('true')
      expect(holderAfter[0]).not.toBe(holderBefore)
    }, 300_000)
  })
})
