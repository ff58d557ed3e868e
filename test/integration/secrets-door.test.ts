/**
 * The Secrets Door against real Podman, rootful and rootless: a secret stored with `secret set`
 * (piped on stdin) is injected by the egress proxy sidecar as a header on requests the agent sends
 * to the door, and reaches a stand-in upstream on the host — while the planted value is found
 * nowhere the agent (or anyone watching) can look: the agent container's env, /proc, files and
 * inspect, the sidecar's env and inspect, host `ps` argv, the proxy's log, the CLI's output,
 * --dry-run and the evidence.
 *
 * The stand-in speaks plain HTTP on the host's own address, so the injection uses the test-only
 * form `upstream: http` (allowed for an ip: literal only); production injections are TLS.
 */
import {execFileSync} from 'node:child_process'
import {createServer, type IncomingHttpHeaders, type Server} from 'node:http'
import {networkInterfaces} from 'node:os'
import {randomBytes} from 'node:crypto'
import {readdirSync, readFileSync, statSync} from 'node:fs'
import {dirname, join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {makeLaunchFixture, type LaunchFixture} from './helpers/launch-fixture.js'
import {podman, podmanTarget, requirePodman, type PodmanMode} from './helpers/podman-env.js'

const podmanAvailable = requirePodman()

/** The host's own address on its outside interface: reached by the sidecar rootful (bridge) and rootless (slirp4netns). */
function hostAddress(): string | undefined {
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (/^(lo|cni|podman|veth|docker|br-)/.test(name)) continue
    const v4 = addrs?.find((a) => a.family === 'IPv4' && !a.internal)
    if (v4) return v4.address
  }
  return undefined
}

function readTree(dir: string): string[] {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  return names.flatMap((n) => {
    const p = join(dir, n)
    const st = statSync(p)
    return st.isDirectory() ? readTree(p) : st.isFile() && st.size < 8_000_000 ? [readFileSync(p, 'latin1')] : []
  })
}

/** The probes, none holding the value: a door request with a placeholder key, then everything visible dumped for the test to search. */
const PROBES = [
  'd=${SOURCEOS_SECRETS_DOOR%% *}; d=${d#*=}; hp=${d#http://}; h=${hp%:*}; p=${hp##*:}; echo "DOOR=$h:$p"',
  `(printf 'GET /v1/messages HTTP/1.1\\r\\nHost: door\\r\\nx-api-key: placeholder-from-agent\\r\\nConnection: close\\r\\n\\r\\n'; sleep 1) | nc -w 8 "$h" "$p" | tr -d '\\r' | sed 's/^/DOOR_REPLY /'`,
  // TRACE would have the upstream echo the request, the added header included: refused at the door
  `(printf 'TRACE /v1/messages HTTP/1.1\\r\\nHost: door\\r\\nConnection: close\\r\\n\\r\\n'; sleep 1) | nc -w 8 "$h" "$p" | head -1 | tr -d '\\r' | sed 's/^/DOOR_TRACE /'`,
  // the second door's upstream is closed: Squid's error page must not carry the header either
  'd2=${SOURCEOS_SECRETS_DOOR#* }; d2=${d2#*=}; hp2=${d2#http://}; p2=${hp2##*:}; echo "DOOR2=$p2"',
  `(printf 'GET /v1/fail HTTP/1.1\\r\\nHost: door\\r\\nConnection: close\\r\\n\\r\\n'; sleep 1) | nc -w 8 "$h" "$p2" | tr -d '\\r' | sed 's/^/DOOR_FAIL /'`,
  'echo "==ENV"; env',
  'echo "==PROC"; for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do tr "\\0" "\\n" < "$f" 2>/dev/null; done',
  'echo "==FILES"; find /home /tmp /run /etc /workspace /var -xdev -type f -size -2000k 2>/dev/null | while read -r f; do cat "$f" 2>/dev/null; done',
  'echo "==MOUNTS"; cat /proc/self/mountinfo; ls -la /run /run/secrets 2>&1',
  'echo PROBES-DONE; sleep 3; exit 0',
].join('\n')

describe.each(['rootful', 'rootless'] as PodmanMode[])('Secrets Door (%s)', (mode) => {
  const target = podmanTarget(mode)
  const address = hostAddress()

  describe.skipIf(!podmanAvailable || !target.runnable || !address)(target.reason ? `skipped: ${target.reason}` : 'the secret reaches the upstream and nothing else', () => {
    let fx: LaunchFixture
    let profile: string
    let server: Server
    let port = 0
    const seen: IncomingHttpHeaders[] = []
    const methods: string[] = []
    const tag = randomBytes(6).toString('hex')
    const secretName = `door-it-${tag}`
    // recognisable, and a valid token (letters, digits, . _ ~ + / = : -)
    const VALUE = `sk-planted-${randomBytes(12).toString('hex')}-SOURCEOSDOORTEST`

    beforeAll(async () => {
      fx = await makeLaunchFixture(mode)
      server = createServer((req, res) => {
        seen.push(req.headers)
        methods.push(String(req.method))
        res.end('ok-from-standin\n')
      })
      await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve))
      port = (server.address() as {port: number}).port
      profile = fx.profileVariant('door', (doc) => {
        doc.spec.network = {mode: 'allowlist', allow: []}
        doc.spec.secrets = {
          door: 'proxy',
          inject: [
            {secret: secretName, host: `ip:${address}:${port}`, header: 'x-api-key', format: 'k-{value}', upstream: 'http'},
            // nothing listens on port 1: the door answers with Squid's error page
            {secret: secretName, host: `ip:${address}:1`, header: 'Authorization', format: 'Bearer {value}'},
          ],
        }
      })
      const set = await fx.cli(['agent-machine', 'secret', 'set', secretName, '--profile-file', profile], {input: `${VALUE}\n`})
      expect(set.exitCode, set.stderr).toBe(0)
      expect(`${set.stdout}${set.stderr}`).not.toContain(VALUE)
    }, 240_000)
    afterAll(async () => {
      server?.close()
      if (!fx) return
      await fx.cli(['agent-machine', 'secret', 'rm', secretName, '--profile-file', profile])
      expect(await fx.cleanup(), 'containers left behind (now removed)').toEqual([])
    })

    it('secret ls shows the name and the injection that uses it, never the value', async () => {
      const r = await fx.cli(['agent-machine', 'secret', 'ls', '--json', '--profile-file', profile])
      expect(r.exitCode, r.stderr).toBe(0)
      expect(`${r.stdout}${r.stderr}`).not.toContain(VALUE)
      const ls = JSON.parse(r.stdout) as {secrets: Array<{name: string; usedBy: string[]; createdAt: string | null}>; missing: unknown[]}
      const mine = ls.secrets.find((s) => s.name === secretName)
      expect(mine?.usedBy).toEqual([`x-api-key -> ip:${address}:${port}`, `Authorization -> ip:${address}:1`])
      expect(mine?.createdAt).toMatch(/^\d{4}-/)
      expect(ls.missing).toEqual([])
    })

    it('the door adds the header upstream; the value is nowhere in the container, its inspect, the sidecar, ps, logs, output or evidence', async () => {
      const runId = fx.runId('door')
      const cli = await fx.spawn(['agent-machine', 'shell', '--json', '--run-id', runId, '--repo', fx.repo, '--profile-file', profile, '--', '-c', PROBES])
      await cli.waitFor(/PROBES-DONE/, 90_000)
      // while the session runs: both containers' inspect, the proxy's log, every argv on the host
      const agentInspect = await podman(fx.target, ['container', 'inspect', `sourceos-agent-${runId}`])
      const proxyInspect = await podman(fx.target, ['container', 'inspect', `sourceos-proxy-${runId}`])
      const proxyLogs = await podman(fx.target, ['logs', `sourceos-proxy-${runId}`])
      const ps = execFileSync('ps', ['-eo', 'args'], {encoding: 'utf8'})
      const exit = await cli.exited(60_000)
      expect(exit.exitCode, exit.stderr).toBe(0)

      // the upstream got the secret in the header, formatted; the agent's placeholder was dropped
      expect(seen.map((h) => h['x-api-key']), exit.stderr.split('==ENV')[0]).toContain(`k-${VALUE}`)
      expect(seen.flatMap((h) => [h['x-api-key']].flat())).not.toContain('placeholder-from-agent')
      const out = exit.stderr // under --json the shell's output is on stderr
      expect(out).toMatch(/^DOOR_REPLY HTTP\/1\.1 200/m)
      expect(out).toContain('DOOR_REPLY ok-from-standin')
      expect(out).toMatch(/^DOOR2=3201$/m)
      expect(out).toMatch(/^DOOR_TRACE HTTP\/1\.1 403/m)
      expect(methods).not.toContain('TRACE')
      expect(out).toMatch(/^DOOR_FAIL HTTP\/1\.1 5\d\d/m)
      // the probes really looked: env, /proc and files were dumped
      for (const section of ['==ENV', '==PROC', '==FILES', '==MOUNTS']) expect(out).toContain(section)
      expect(out).toMatch(/^SOURCEOS_SECRETS_DOOR=ip:/m)

      const places: Record<string, string> = {
        'the agent container (env, /proc, files, mounts) and the CLI stderr': out,
        'the CLI stdout (--json result)': exit.stdout,
        'the agent container inspect': agentInspect.stdout,
        'the proxy sidecar inspect': proxyInspect.stdout,
        'the proxy log': `${proxyLogs.stdout}${proxyLogs.stderr}`,
        'host ps argv': ps,
      }
      const result = JSON.parse(exit.stdout) as {evidence: string}
      places['the evidence record'] = readFileSync(result.evidence, 'utf8')
      places['every file under the CLI state and config dirs (evidence, index, logs)'] = [...readTree(fx.stateDir), ...readTree(fx.configDir), ...readTree(dirname(result.evidence))].join('\n')
      for (const [where, text] of Object.entries(places)) expect(text.includes(VALUE), `the secret value was found in ${where}`).toBe(false)
      // the sidecar did get it, as a mounted podman secret — by name only in its inspect
      expect(proxyInspect.stdout).toContain(`sourceos.${secretName}`)
      expect(agentInspect.stdout).not.toContain(`sourceos.${secretName}`)
      // evidence: the secret's name and host, no value
      const record = JSON.parse(places['the evidence record']!) as {predicate: {policy: {secrets: {door: string; inject: Array<{secret: string; host: string; header: string}>}}}}
      expect(record.predicate.policy.secrets).toMatchObject({door: 'proxy', inject: [{secret: secretName, host: `ip:${address}:${port}`, header: 'x-api-key', upstream: 'http'}, {secret: secretName, host: `ip:${address}:1`, header: 'Authorization', upstream: 'http'}]})
      expect(await fx.containersOf(runId)).toEqual([])
    }, 180_000)

    it('--dry-run shows the wiring by name (the sidecar gets the secret, the agent a door URL), never the value', async () => {
      const runId = fx.runId('doordry')
      const r = await fx.cli(['agent-machine', 'shell', '--json', '--dry-run', '--run-id', runId, '--repo', fx.repo, '--profile-file', profile])
      expect(r.exitCode, r.stderr).toBe(0)
      expect(`${r.stdout}${r.stderr}`).not.toContain(VALUE)
      const steps = (JSON.parse(r.stdout) as {plan: {steps: Array<{argv: string[]}>}}).plan.steps.map((s) => s.argv)
      const proxy = steps.find((a) => a.includes(`--name=sourceos-proxy-${runId}`))!
      const agent = steps.find((a) => a.includes(`--name=sourceos-agent-${runId}`))!
      expect(proxy).toContain(`--secret=sourceos.${secretName},type=mount,target=/run/sourceos-door-0,uid=65534,gid=65534,mode=0400`)
      expect(agent.some((a) => a.startsWith('--secret'))).toBe(false)
      expect(agent).toContainEqual(expect.stringMatching(new RegExp(`^--env=SOURCEOS_SECRETS_DOOR=ip:${address!.replaceAll('.', '\\.')}:${port}=http://10\\.\\d+\\.\\d+\\.\\d+:3200 ip:`)))
      expect(await fx.containersOf(runId)).toEqual([])
    })

    it('tool state in a volume: a login file written in one session is read in the next; with persistence off it is gone; logout removes the volume', async () => {
      const persist = fx.profileVariant('state-volume', (doc) => {
        doc.spec.secrets = {door: 'none', toolState: 'volume'}
      })
      const off = fx.profileVariant('state-tmpfs', (doc) => {
        doc.spec.secrets = {door: 'none'}
      })
      const volume = `sourceos-state-${(JSON.parse((await fx.cli(['agent-machine', 'secret', 'ls', '--json', '--profile-file', persist])).stdout) as {profile: string}).profile}-claude-code`
      const shell = (profileFile: string, script: string, tagName: string) =>
        fx.cli(['agent-machine', 'shell', '--json', '--run-id', fx.runId(tagName), '--repo', fx.repo, '--profile-file', profileFile, '--', '-c', script], {timeoutMs: 120_000})
      try {
        const write = await shell(persist, `echo "CONFIG_DIR=$CLAUDE_CONFIG_DIR"; echo login-${tag} > "$CLAUDE_CONFIG_DIR/.credentials.json" && echo WROTE; echo '{}' > "$CLAUDE_CONFIG_DIR/.claude.json"`, 'state1')
        expect(write.exitCode, write.stderr).toBe(0)
        expect(write.stderr).toContain('CONFIG_DIR=/home/agent/.claude')
        expect(write.stderr).toContain('WROTE')
        const record = JSON.parse(readFileSync((JSON.parse(write.stdout) as {evidence: string}).evidence, 'utf8')) as {predicate: {policy: {secrets: {toolState?: string; volumes?: string[]}}}}
        expect(record.predicate.policy.secrets.toolState).toBe('volume')
        expect(record.predicate.policy.secrets.volumes).toContain(volume)
        expect(JSON.stringify(record)).not.toContain(`login-${tag}`)

        const read = await shell(persist, 'cat "$CLAUDE_CONFIG_DIR/.credentials.json"; ls -a "$CLAUDE_CONFIG_DIR"', 'state2')
        expect(read.exitCode, read.stderr).toBe(0)
        expect(read.stderr).toContain(`login-${tag}`)
        expect(read.stderr).toContain('.claude.json')

        const gone = await shell(off, 'cat /home/agent/.claude/.credentials.json 2>/dev/null || echo NO-LOGIN; echo "CONFIG_DIR=${CLAUDE_CONFIG_DIR:-unset}"', 'state3')
        expect(gone.exitCode, gone.stderr).toBe(0)
        expect(gone.stderr).toContain('NO-LOGIN')
        expect(gone.stderr).not.toContain(`login-${tag}`)
        expect(gone.stderr).toContain('CONFIG_DIR=unset')
      } finally {
        const out = await fx.cli(['agent-machine', 'secret', 'logout', '--json', '--profile-file', persist])
        expect(out.exitCode, out.stderr).toBe(0)
        expect((JSON.parse(out.stdout) as {removed: string[]}).removed).toContain(volume)
      }
      const left = await podman(fx.target, ['volume', 'ls', '--format', '{{.Name}}'])
      expect(left.stdout.split('\n')).not.toContain(volume)
    }, 240_000)

    it('a profile injecting a secret that is not stored: the launch refuses before the agent starts, naming the fix', async () => {
      const missing = fx.profileVariant('door-missing', (doc) => {
        doc.spec.network = {mode: 'allowlist', allow: []}
        doc.spec.secrets = {door: 'proxy', inject: [{secret: `absent-${tag}`, host: 'api.anthropic.com', header: 'x-api-key'}]}
      })
      const runId = fx.runId('doormiss')
      const r = await fx.cli(['agent-machine', 'shell', '--json', '--run-id', runId, '--repo', fx.repo, '--profile-file', missing, '--', '-c', 'echo AGENT-RAN'])
      expect(r.exitCode).not.toBe(0)
      expect(r.stderr).not.toContain('AGENT-RAN')
      expect(`${r.stdout}${r.stderr}`).toContain(`secret set absent-${tag}`)
      expect(r.stdout).toContain('SECRET_NOT_STORED')
      expect(await fx.containersOf(runId)).toEqual([])
    }, 120_000)
  })
})
