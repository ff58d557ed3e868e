/**
 * Network mode allowlist against real Podman, rootful and rootless: the agent's container sits on
 * its own internal network with the Squid sidecar as the only way out. From inside the container
 * (busybox nc/nslookup) the tests speak raw CONNECT and plain HTTP to the proxy named in
 * HTTPS_PROXY, try a direct connection, a DNS lookup and the host's own services; the evidence must
 * list both outcomes; nothing is left behind, also when the CLI is SIGKILLed.
 *
 * Reachable from this machine: the npm registry (443) and Debian's mirror (80) — the allowed hosts.
 */
import {createServer, type Server} from 'node:net'
import {readFileSync} from 'node:fs'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {makeLaunchFixture, type LaunchFixture} from './helpers/launch-fixture.js'
import {podman, podmanTarget, requirePodman, type PodmanMode} from './helpers/podman-env.js'

const podmanAvailable = requirePodman()

const ALLOWED_TLS = 'registry.npmjs.org'
const ALLOWED_HTTP = 'deb.debian.org'
const DENIED = 'example.com'
const LABEL = 'dev.sourceos.agent-machine.run-id'

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
        doc.spec.network = {mode: 'allowlist', allow: [ALLOWED_TLS, `${ALLOWED_HTTP}:80`]}
      })
      // a service on the host's every address: the agent must never reach it
      server = createServer((socket) => {
        accepted.push(String(socket.remoteAddress))
        socket.end('host secret\n')
      })
      await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve))
      hostPort = (server.address() as {port: number}).port
    }, 240_000)
    afterAll(async () => {
      server?.close()
      if (!fx) return
      expect(await fx.cleanup(), 'containers left behind (now removed)').toEqual([])
    })

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

      const result = JSON.parse(r.stdout) as {evidence: string; network: {mode: string; destinations: Array<{host: string; port: number; decision: string; count: number}>}}
      expect(result.network.mode).toBe('allowlist')
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
      const net = `sourceos-egress-${runId}`
      const idx = (pred: (a: string[]) => boolean) => plan.findIndex(pred)
      const netCreate = idx((a) => a.includes('network') && a.includes('create'))
      const proxyCreate = idx((a) => a.includes('create') && a.includes(`--name=sourceos-proxy-${runId}`))
      const agentCreate = idx((a) => a.includes('create') && a.includes(`--name=sourceos-agent-${runId}`))
      const agentStart = idx((a) => a.includes('start') && a.includes(`sourceos-agent-${runId}`))
      const proxyRm = idx((a) => a.includes('rm') && a.includes(`sourceos-proxy-${runId}`))
      const netRm = idx((a) => a.includes('network') && a.includes('rm') && a.includes(net))
      expect([netCreate, proxyCreate, agentCreate, agentStart, proxyRm, netRm].every((i) => i >= 0), JSON.stringify(plan)).toBe(true)
      expect(netCreate).toBeLessThan(proxyCreate)
      expect(proxyCreate).toBeLessThan(agentCreate)
      // after the session: the network goes with --force, taking the proxy; the by-name removal is its fallback
      expect(agentStart).toBeLessThan(netRm)
      expect(netRm).toBeLessThan(proxyRm)
      expect(plan[netRm]).toEqual(expect.arrayContaining(['--force']))
      expect(plan[netCreate]).toContain('--internal')
      const agent = plan[agentCreate]!
      expect(agent).toContain(`--network=${net}`)
      expect(agent).toContain('--dns=none')
      expect(agent.filter((a) => a.startsWith('--network='))).toEqual([`--network=${net}`])
      expect(agent).toEqual(expect.arrayContaining([expect.stringMatching(/^--env=HTTPS_PROXY=http:\/\/10\.\d+\.\d+\.254:3128$/), '--env=NODE_USE_ENV_PROXY=1']))
      const proxy = plan[proxyCreate]!
      for (const flag of ['--cap-drop=all', '--read-only', '--security-opt=no-new-privileges']) expect(proxy).toContain(flag)
      expect(proxy.some((a) => a.startsWith('--mount') || a.startsWith('--volume') || a.startsWith('-v'))).toBe(false)
      expect(await fx.containersOf(runId)).toEqual([])
      expect(await networksOf(runId)).toEqual([])
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

    it('after SIGKILL of the CLI, the next launch removes the killed run’s proxy and network', async () => {
      const runId = fx.runId('egresskill')
      const cli = await fx.spawn(['agent-machine', 'shell', '--run-id', runId, '--repo', fx.repo, '--profile-file', profile, '--', '-c', 'echo STARTED; sleep 3'])
      await cli.waitFor(/STARTED/, 90_000)
      cli.kill()
      await cli.exited(10_000)
      // the agent's container ends by itself (sleep) and --rm removes it; the proxy and network stay
      const deadline = Date.now() + 30_000
      while ((await fx.containersOf(runId)).some((n) => n.startsWith('sourceos-agent-')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250))
      expect(await fx.containersOf(runId)).toEqual([`sourceos-proxy-${runId}`])
      expect(await networksOf(runId)).toHaveLength(1)
      const next = await fx.cli(['agent-machine', 'shell', '--run-id', fx.runId('egressnext'), '--repo', fx.repo, '--profile-file', profile, '--', '-c', 'exit 0'], {timeoutMs: 120_000})
      expect(next.exitCode, next.stderr).toBe(0)
      expect(next.stderr).toContain('removed a leftover of a killed session')
      expect(await fx.containersOf(runId)).toEqual([])
      expect(await networksOf(runId)).toEqual([])
    }, 180_000)
  })
})
