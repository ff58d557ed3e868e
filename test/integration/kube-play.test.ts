/**
 * `export --kube` checked for real through `podman kube play`, rootful and rootless (docs/cluster.md,
 * "Checked here"). No registry: the image is imported locally — busybox, the host's git, iproute2's
 * `ip` and Squid (test-image.ts, git-image.ts) — and carries a bare copy of the test repo at
 * /srv/repo.git with one commit more than the pin, so a clone that ignored the pin would show it.
 * The allowlisted upstream is a local stand-in: an HTTP server on this host's address, allowed as
 * an `ip:` entry. podman 4.3 refuses annotation values over 63 characters, so the Pod is played
 * through forPodman43 (the policy and allowlist hashes left out of the played Pod, named in one
 * annotation); everything else is the exported manifest as is.
 */
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:http'
import {hostname, networkInterfaces, tmpdir} from 'node:os'
import {join, relative} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {parseAllDocuments} from 'yaml'

import {forPodman43, limitsApply} from '../../src/core/kube/play.js'
import {LOG_TAG} from '../../src/core/network/squid-config.js'
import {renderManifest} from '../../src/core/kube/yaml.js'
import type {KubeObject} from '../../src/core/kube/manifest.js'
import {gitFiles} from './helpers/git-image.js'
import {makeLaunchFixture, type LaunchFixture} from './helpers/launch-fixture.js'
import {podman, podmanOk, podmanTarget, requirePodman, type PodmanMode} from './helpers/podman-env.js'
import {APPLETS, findStaticBusybox, importRecipe, squidEntries, type Entry, type TestImage} from './helpers/test-image.js'

const podmanAvailable = requirePodman()
const KUBE_IMAGE_REPO = 'localhost/sourceosctl-test/kube'

/** This host's address on its outside interface: where both a rootful bridge and rootless slirp4netns reach it. */
function hostAddress(): string {
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (/^(lo|cni|podman|veth|docker|br-)/.test(name)) continue
    const v4 = (addrs ?? []).find((a) => a.family === 'IPv4' && !a.internal)
    if (v4) return v4.address
  }
  throw new Error('no outside IPv4 address on this host')
}

/** Test-side git with no user config; `safe.directory` from a config file of its own (the rootless repo is another user's). */
function git(dir: string, ...args: string[]): string {
  const out = spawnSync('git', ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@example.invalid', '-c', 'commit.gpgsign=false', ...args], {encoding: 'utf8', env: {...process.env, GIT_CONFIG_GLOBAL: gitConfig(), GIT_CONFIG_NOSYSTEM: '1'}})
  if (out.status !== 0) throw new Error(`git ${args.join(' ')}: ${out.stderr}`)
  return out.stdout.trim()
}

const gitConfigDir = join(tmpdir(), `sourceos-kube-gitconfig-${process.pid}`)
function gitConfig(): string {
  mkdirSync(gitConfigDir, {recursive: true})
  const file = join(gitConfigDir, 'config')
  writeFileSync(file, '[safe]\n\tdirectory = *\n')
  return file
}

/** A bare clone of `repo` in `work`, with one more commit on main than `repo` has: the pin is the older one. */
function bareWithLaterCommit(repo: string, work: string): string {
  const bare = join(work, 'repo.git')
  git(work, 'clone', '--quiet', '--bare', repo, bare)
  const scratch = join(work, 'scratch')
  git(work, 'clone', '--quiet', bare, scratch)
  writeFileSync(join(scratch, 'LATER.txt'), 'after the pin\n')
  git(scratch, 'add', 'LATER.txt')
  git(scratch, 'commit', '--quiet', '-m', 'later')
  git(scratch, 'push', '--quiet', 'origin', 'HEAD:main')
  return git(scratch, 'rev-parse', 'HEAD')
}

function treeEntries(root: string, under: string): Entry[] {
  const out: Entry[] = [{path: under, dir: true, mode: 0o755}]
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const abs = join(dir, name)
      const rel = `${under}/${relative(root, abs)}`
      if (statSync(abs).isDirectory()) {
        out.push({path: rel, dir: true, mode: 0o755})
        walk(abs)
      } else out.push({path: rel, file: readFileSync(abs), mode: 0o644})
    }
  }
  walk(root)
  return out
}

/** iproute2's ip (the egress guard needs uidrange, which busybox's lacks) and its libraries. */
function iprouteEntries(): Entry[] {
  const ip = realpathSync('/usr/sbin/ip')
  const ldd = spawnSync('ldd', [ip], {encoding: 'utf8'})
  const libs = [...ldd.stdout.matchAll(/(\/\S+\.so[.0-9]*)\s/g)].map((m) => m[1]!)
  return [{path: 'usr/sbin/ip', file: readFileSync(ip), mode: 0o755}, ...libs.map((l): Entry => ({path: l.slice(1), file: readFileSync(realpathSync(l)), mode: 0o755}))]
}

function kubeRecipe(bare: string): Entry[] {
  const dirs = ['bin', 'etc', 'root', 'usr', 'usr/bin', 'usr/sbin', 'usr/lib', 'usr/lib/git-core', 'workspace', 'proc', 'sys', 'dev', 'run', 'home', 'srv']
  const entries = new Map<string, Entry>()
  const add = (e: Entry): void => void entries.set(e.path, e)
  for (const d of dirs) add({path: d, dir: true, mode: 0o755})
  add({path: 'tmp', dir: true, mode: 0o1777})
  add({path: 'home/agent', dir: true, mode: 0o1777})
  add({path: 'bin/busybox', file: findStaticBusybox(), mode: 0o755})
  for (const applet of [...APPLETS.filter((a) => a !== 'ip'), 'wget']) add({path: `bin/${applet}`, link: 'busybox'})
  add({path: 'etc/passwd', file: 'root:x:0:0:root:/root:/bin/sh\nagent:x:1000:1000:agent:/home/agent:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n', mode: 0o644})
  add({path: 'etc/group', file: 'root:x:0:\nagent:x:1000:\nnogroup:x:65534:\n', mode: 0o644})
  // the bare repo is root's in the image; the clone runs as the agent's uid
  add({path: 'etc/gitconfig', file: '[safe]\n\tdirectory = /srv/repo.git\n', mode: 0o644})
  for (const e of [...gitFiles(), ...squidEntries(), ...iprouteEntries()]) add(e)
  for (const helper of ['git-upload-pack', 'git-receive-pack']) add({path: `usr/bin/${helper}`, link: 'git'})
  for (const e of treeEntries(join(bare, 'repo.git'), 'srv/repo.git')) add(e)
  return [...entries.values()]
}

/** What the agent does: who it is, where it starts, the stand-in through the proxy, a denied port, a direct try, a commit. */
const PROBES = (host: string, port: number): string =>
  [
    'echo "UID=$(id -u)"',
    'echo "HEAD=$(git rev-parse HEAD)"',
    'echo "PROXY=$HTTP_PROXY"',
    `if wget -q -O- "http://${host}:${port}/via-proxy"; then echo "VIA_PROXY ok"; else echo "VIA_PROXY failed"; fi`,
    `wget -q -O- "http://${host}:${port + 1}/denied" 2>&1 | head -1 | sed 's/^/DENIED /'`,
    `if printf 'GET /direct HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${host} ${port} >/dev/null 2>&1; then echo "DIRECT connected"; else echo "DIRECT failed"; fi`,
    'git -c user.name=agent -c user.email=agent@example.invalid commit -q --allow-empty -m agent-work && echo COMMITTED',
  ].join('\n')

interface Inspected {
  Config: {User: string}
  HostConfig: {ReadonlyRootfs: boolean; CapAdd: string[] | null; Privileged: boolean; SecurityOpt: string[] | null; NetworkMode?: string}
  EffectiveCaps?: string[] | null
  State: {ExitCode: number; Status: string}
}

describe.each(['rootful', 'rootless'] as PodmanMode[])('export --kube through podman kube play (%s)', (mode) => {
  const target = podmanTarget(mode)

  describe.skipIf(!podmanAvailable || !target.runnable)(target.reason ? `skipped: ${target.reason}` : 'the exported Pod keeps the local guarantees', () => {
    let fx: LaunchFixture
    let image: TestImage
    let bare: {dir: string; later: string} | undefined
    let pinned: string
    let server: Server
    let host = ''
    let port = 0
    let profile = ''
    const seen: string[] = []
    const played: string[] = []
    let limits = true

    beforeAll(async () => {
      fx = await makeLaunchFixture(mode)
      pinned = git(fx.repo, 'rev-parse', 'HEAD')
      const work = mkdtempSync(join(tmpdir(), 'sourceos-kube-bare-'))
      bare = {dir: work, later: ''}
      bare.later = bareWithLaterCommit(fx.repo, work)
      image = await importRecipe(target, KUBE_IMAGE_REPO, kubeRecipe(work), 'sourceosctl kube play test image')
      host = hostAddress()
      const [cgroupVersion, rootless] = (await podmanOk(target, ['info', '--format', '{{.Host.CgroupsVersion}} {{.Host.Security.Rootless}}'])).trim().split(/\s+/)
      limits = limitsApply({cgroupVersion, rootless: rootless === 'true'})
      server = createServer((req, res) => {
        seen.push(req.url ?? '')
        res.end(`upstream-ok ${req.url}\n`)
      })
      await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve))
      port = (server.address() as {port: number}).port
      profile = fx.profileVariant('kube', (doc) => {
        doc.spec.network = {mode: 'allowlist', allow: [`ip:${host}:${port}`]}
        doc.spec.tools = {codex: {enabled: true, command: ['/bin/sh', '-c', PROBES(host, port)]}}
        doc.spec.resources = {cpus: 1, memory: '512m', pidsLimit: 256}
      })
    }, 300_000)

    afterAll(async () => {
      server?.close()
      for (const file of played) await podman(target, ['kube', 'down', file])
      if (image) await podman(target, ['rmi', '--force', image.ref])
      if (bare) rmSync(bare.dir, {recursive: true, force: true})
      rmSync(gitConfigDir, {recursive: true, force: true})
      if (fx) await fx.cleanup()
    }, 120_000)

    const exportArgs = (runId: string, extra: string[]): string[] => [
      'agent-machine', 'export', '--kube', '--repo', fx.repo, '--tool', 'codex', '--profile-file', profile,
      '--clone-url', 'file:///srv/repo.git', '--image', image.ref, '--run-id', runId, ...extra,
    ]

    it('the running containers: hardened as exported, the repo at the pinned commit (not the newer HEAD), the stand-in reached only through the proxy', async () => {
      const runId = fx.runId('kube')
      const file = join(fx.home, `${runId}.yaml`)
      const r = await fx.cli([...exportArgs(runId, ['--output', file])], {timeoutMs: 60_000})
      expect(r.exitCode, r.stderr).toBe(0)
      const objects = parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJSON() as KubeObject)
      expect(objects.map((o) => o.kind)).toEqual(['NetworkPolicy', 'Pod'])
      const playFile = join(fx.home, `${runId}.play.yaml`)
      writeFileSync(playFile, renderManifest(forPodman43(objects, {dropResources: !limits})))
      if (fx.user) chownSync(playFile, fx.uid, fx.gid)
      played.push(playFile)
      const pod = `sourceos-agent-${runId}`
      const play = await podman(target, ['kube', 'play', '--quiet', playFile], {timeoutMs: 180_000})
      if (play.exitCode !== 0) {
        const logs = await Promise.all(['clone', 'egress-guard'].map(async (c) => `${c}: ${(await podman(target, ['logs', `${pod}-${c}`])).stderr}`))
        throw new Error(`podman kube play failed: ${play.stderr}\n${logs.join('\n')}`)
      }
      const exit = await podmanOk(target, ['wait', `${pod}-agent`], {timeoutMs: 120_000})
      const log = (await podman(target, ['logs', `${pod}-agent`])).stdout
      expect(exit.trim(), log).toBe('0')

      const [proxy, agent] = JSON.parse(await podmanOk(target, ['container', 'inspect', `${pod}-proxy`, `${pod}-agent`])) as Inspected[]
      for (const [c, user] of [[agent!, '1000:1000'], [proxy!, '65534:65534']] as const) {
        expect(c.Config.User).toBe(user)
        expect(c.HostConfig.ReadonlyRootfs).toBe(true)
        expect(c.HostConfig.Privileged).toBe(false)
        expect(c.EffectiveCaps ?? []).toEqual([])
        expect(c.HostConfig.SecurityOpt ?? []).toContain('no-new-privileges')
        expect((c.HostConfig.SecurityOpt ?? []).some((o) => /seccomp[=:]unconfined/.test(o))).toBe(false)
      }
      const podInfo = JSON.parse(await podmanOk(target, ['pod', 'inspect', pod])) as {Labels?: Record<string, string>; Id: string}
      expect(podInfo.Labels?.['dev.sourceos.agent-machine/run-id']).toBe(runId)

      // the wrapper's first line, then the probes
      expect(log.split('\n')[0]).toBe(`sourceosctl: starting at ${pinned}`)
      expect(pinned).not.toBe(bare!.later)
      expect(log).toContain(`HEAD=${pinned}`)
      expect(log).toContain('UID=1000')
      expect(log).toContain('PROXY=http://127.0.0.1:3128')
      expect(log).toContain('VIA_PROXY ok')
      expect(log).toMatch(/^DENIED .*403/m)
      expect(log).toContain('DIRECT failed')
      expect(log).toContain('COMMITTED')
      expect(seen).toContain('/via-proxy')
      expect(seen, 'the agent reached the stand-in without the proxy').not.toContain('/direct')
      expect(seen).not.toContain('/denied')
      // the proxy logged both, in the format the evidence parses
      const proxyLog = (await podman(target, ['logs', `${pod}-proxy`])).stdout
      const h = host.replace(/\./g, '\\.')
      expect(proxyLog).toMatch(new RegExp(`^${LOG_TAG} .* GET ${h} ${port} 200 `, 'm'))
      expect(proxyLog).toMatch(new RegExp(`^${LOG_TAG} .* GET ${h} ${port + 1} 403 `, 'm'))
      await podmanOk(target, ['kube', 'down', playFile], {timeoutMs: 60_000})
    }, 300_000)

    it('--play: the CLI watches the Pod and writes its record into the evidence chain (signed, with its UID and node); evidence inspect verifies the dir; the result bundle comes back; nothing is left', async () => {
      const runId = fx.runId('kplay')
      const evidence = join(fx.home, 'kube-evidence')
      const r = await fx.cli([...exportArgs(runId, ['--play', '--evidence-dir', evidence, '--json', '--timeout', '120'])], {timeoutMs: 300_000})
      expect(r.exitCode, r.stderr).toBe(0)
      const result = JSON.parse(r.stdout) as {policyHash: string; play: {recordPath: string; recordDigest: string; seq: number; bundle: string}}
      expect(result.play.recordPath).toBe(join(evidence, 'records', `${String(result.play.seq).padStart(6, '0')}-${runId}.json`))
      const text = readFileSync(result.play.recordPath, 'utf8')
      expect(`sha256:${createHash('sha256').update(text.slice(0, -1)).digest('hex')}`).toBe(result.play.recordDigest)
      const record = JSON.parse(text) as Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any
      const p = record.predicate
      // a Statement like a local run's: verb export, completed with the agent's exit code, the Pod in predicate.kube
      expect(record._type).toBe('https://in-toto.io/Statement/v1')
      expect([p.verb, p.status, p.exitCode, p.outcome]).toEqual(['export', 'completed', 0, {result: 'ran', error: null}])
      expect(p.policyHash).toBe(result.policyHash)
      expect(record.subject).toEqual([{name: expect.stringMatching(/^\/workspace\//), digest: {gitCommit: pinned}}])
      expect(p.kube.pod.uid).toMatch(/^[0-9a-f]{64}$/)
      expect(p.kube.pod.node).toBe(hostname())
      expect(p.kube.repo).toEqual({url: 'file:///srv/repo.git', commit: pinned, clonedCommit: pinned})
      expect(p.kube.resourcesApplied).toBe(limits)
      const imageId = p.image.id as string
      expect(imageId).toMatch(/^[0-9a-f]{64}$/)
      expect(p.kube.containers).toEqual([
        {name: 'proxy', imageId, user: '65534:65534', readOnlyRoot: true, noNewPrivileges: true, capAdd: [], privileged: false, seccomp: expect.any(String), exitCode: null},
        {name: 'agent', imageId, user: '1000:1000', readOnlyRoot: true, noNewPrivileges: true, capAdd: [], privileged: false, seccomp: expect.any(String), exitCode: 0},
      ])
      expect(p.network.destinations).toEqual(expect.arrayContaining([
        expect.objectContaining({host, port, decision: 'allowed'}),
        expect.objectContaining({host, port: port + 1, decision: 'denied'}),
      ]))
      // begun before the play, completed after the Pod was taken down
      const kubeSteps = (p.podmanRan as Array<{argv: string[]; exitCode: number}>).filter((x) => / kube (play|down) /.test(x.argv.join(' ')))
      expect(kubeSteps.map((x) => [x.argv.join(' ').match(/ kube (play|down) /)?.[1], x.exitCode])).toEqual([['play', 0], ['down', 0]])
      // the agent's commit, bundled on the run's branch, kept beside the records and named in the record
      expect(result.play.bundle, r.stdout).toBe(join(evidence, 'bundles', `${runId}.bundle`))
      expect(p.kube.bundle).toEqual({file: `bundles/${runId}.bundle`, digest: `sha256:${createHash('sha256').update(readFileSync(result.play.bundle)).digest('hex')}`, bytes: statSync(result.play.bundle).size, heads: [`refs/heads/sourceos/${runId}`]})
      const heads = spawnSync('git', ['bundle', 'list-heads', result.play.bundle], {encoding: 'utf8', env: {...process.env, GIT_CONFIG_GLOBAL: gitConfig(), GIT_CONFIG_NOSYSTEM: '1'}})
      expect(heads.stdout, heads.stderr).toContain(`refs/heads/sourceos/${runId}`)
      // evidence inspect of the dir verifies the chain including it (signed with this host's key); of the file, shows the Pod
      const dirCheck = await fx.cli(['agent-machine', 'evidence', 'inspect', evidence, '--json'], {timeoutMs: 60_000})
      expect(dirCheck.exitCode, dirCheck.stdout + dirCheck.stderr).toBe(0)
      const inspected = JSON.parse(dirCheck.stdout) as {valid: boolean; findings: unknown[]; records: Array<{runId: string; valid: boolean; signed: boolean; status: string; summary: {verb: string; kube?: {pod: {uid: string}}}}>}
      expect(inspected.findings).toEqual([])
      expect(inspected.valid).toBe(true)
      expect(inspected.records.find((x) => x.runId === runId)).toMatchObject({valid: true, signed: true, status: 'completed', summary: {verb: 'export', kube: {pod: {uid: p.kube.pod.uid}}}})
      const fileCheck = await fx.cli(['agent-machine', 'evidence', 'inspect', result.play.recordPath, '--long'], {timeoutMs: 60_000})
      expect(fileCheck.exitCode, fileCheck.stderr).toBe(0)
      expect(fileCheck.stdout).toContain(`uid ${p.kube.pod.uid as string}`)
      // nothing left of the Pod, nor of its volumes (each played under its own name: podman 4.3 shares an emptyDir by name)
      expect((await podman(target, ['pod', 'exists', `sourceos-agent-${runId}`])).exitCode).toBe(1)
      expect((await podmanOk(target, ['volume', 'ls', '--format', '{{.Name}}'])).split('\n').filter((v) => v.includes(runId))).toEqual([])
    }, 360_000)
  })
})
