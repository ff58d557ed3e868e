// export --kube --play with podman answered by a fake and host git for real: the run's record goes
// into the evidence dir's chain (begun before the play, completed after the Pod is down), also when
// the play fails; the agent's bundle is kept only as a checked git bundle under the cap.
import {spawnSync} from 'node:child_process'
import {copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import Export from '../../../src/commands/agent-machine/export.js'
import type {EvidenceRecord} from '../../../src/core/evidence/record.js'
import {inspectPath} from '../../../src/core/evidence/verify.js'
import {createRunner, type Runner} from '../../../src/core/exec.js'
import {stateDir} from '../../../src/core/profile/location.js'
import {runResult} from '../../helpers/fake-runner.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'
import {runCommand} from '../../helpers/run-command.js'
import {tempDir} from '../../helpers/temp-dirs.js'

const IMAGE_ID = 'd'.repeat(64)
const POD_UID = 'f'.repeat(64)

function git(dir: string, ...args: string[]): string {
  const out = spawnSync('git', ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@example.invalid', '-c', 'commit.gpgsign=false', ...args], {encoding: 'utf8', env: {...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1'}})
  if (out.status !== 0) throw new Error(`git ${args.join(' ')}: ${out.stderr}`)
  return out.stdout.trim()
}

type Bundle = 'real' | 'none' | 'symlink' | 'big' | 'garbage'

function setup(runId: string) {
  const home = realpathSync(tempDir('kube-play-'))
  const repo = join(home, 'dev', 'app')
  mkdirSync(repo, {recursive: true})
  git(repo, 'init', '--quiet', '--initial-branch=main')
  writeFileSync(join(repo, 'README.md'), '# app\n')
  git(repo, 'add', '.')
  git(repo, 'commit', '--quiet', '-m', 'one')
  git(repo, 'remote', 'add', 'origin', 'https://git.example.com/org/app.git')
  git(repo, 'branch', `sourceos/${runId}`)
  const commit = git(repo, 'rev-parse', 'HEAD')
  const bundle = join(home, 'agent.bundle')
  git(repo, 'bundle', 'create', '--quiet', bundle, `sourceos/${runId}`)
  const profile = join(home, 'profile.yaml')
  writeFileSync(profile, `apiVersion: sourceos.dev/v1alpha1
kind: AgentMachineProfile
metadata: {name: team}
spec:
  platform: linux
  image: {ref: localhost/sourceos/agent:latest, digest: null, pull: never}
  mounts:
    - {source: ${repo}, target: /workspace/app, mode: rw}
  tools:
    codex: {enabled: true, command: [codex]}
  env: {passthrough: [], set: {}}
  network: {mode: allowlist, allow: [api.openai.com]}
  resources: {cpus: 2, memory: 4g, pidsLimit: 512}
  secrets: {door: none}
`)
  const facts = fakeHostFacts('linux', {homeDir: home, uid: 1000, env: {HOME: home, SOURCEOSCTL_PROFILE: profile, SOURCEOSCTL_STATE_DIR: join(home, 'state')}})
  return {home, repo, commit, bundle, facts, evidence: join(home, 'evidence')}
}

const view = (user: string, exitCode: number, status: string, resultsDir?: string) => ({Image: IMAGE_ID, Mounts: resultsDir ? [{Type: 'volume', Source: resultsDir, Destination: '/sourceos-results'}] : [], Config: {User: user}, HostConfig: {ReadonlyRootfs: true, CapAdd: [], Privileged: false, SecurityOpt: ['no-new-privileges']}, EffectiveCaps: [], State: {ExitCode: exitCode, Status: status}})

/** Real git; podman answered as a played Pod would be. `calls` collects every podman command line. */
function runnerFor(s: ReturnType<typeof setup>, opts: {bundle: Bundle; playExit?: number; volumes?: string; resultsDir?: string; hangUpDuringWait?: boolean}): {runner: Runner; calls: string[]} {
  const before = new Set(process.listeners('SIGHUP'))
  const real = createRunner()
  const calls: string[] = []
  const runner: Runner = async (cmd, args, o) => {
    if (cmd !== 'podman') return real(cmd, args, o)
    const line = args.join(' ')
    calls.push(line)
    const ok = (stdout = '') => runResult(cmd, args, {stdout})
    if (line === '--version') return ok('podman version 4.3.1\n')
    if (line.startsWith('info ')) return ok('v2 false\n')
    if (line.startsWith('image inspect ')) return ok(`sha256:${IMAGE_ID}\n`)
    if (line.startsWith('volume ls ')) return ok(opts.volumes ?? '')
    if (line.startsWith('kube play ')) return runResult(cmd, args, {exitCode: opts.playExit ?? 0, stderr: opts.playExit ? 'Error: image not known\n' : ''})
    if (line.startsWith('pod inspect ')) return ok(JSON.stringify({Id: POD_UID}))
    if (line.startsWith('wait ')) {
      if (opts.hangUpDuringWait) {
        // the CLI's own SIGHUP handler only (those registered since the test began), as a hang-up would call it
        const mine = process.listeners('SIGHUP').filter((l) => !before.has(l))
        expect(mine).toHaveLength(1)
        ;(mine[0] as (signal: NodeJS.Signals) => void)('SIGHUP')
      }
      return ok('0\n')
    }
    if (line.startsWith('container inspect ')) return ok(JSON.stringify([view('65534:65534', 0, 'running'), view('1000:1000', 0, 'exited', opts.resultsDir)]))
    if (line.startsWith('logs ') && line.endsWith('-agent')) return ok(`sourceosctl: starting at ${git(s.repo, 'rev-parse', 'HEAD')}\nwork\n`)
    if (line.startsWith('logs ')) return ok('')
    if (line.startsWith('cp ')) {
      const dest = args.at(-1)!
      if (opts.bundle === 'none') return runResult(cmd, args, {exitCode: 125, stderr: 'Error: no such file\n'})
      if (opts.bundle === 'real') copyFileSync(s.bundle, dest)
      if (opts.bundle === 'symlink') symlinkSync(s.bundle, dest)
      if (opts.bundle === 'big') writeFileSync(dest, Buffer.alloc(2 * 1024 * 1024 + 1))
      if (opts.bundle === 'garbage') writeFileSync(dest, 'not a bundle\n')
      return ok()
    }
    if (line.startsWith('kube down ')) return ok()
    throw new Error(`unit test: unexpected podman ${line}`)
  }
  return {runner, calls}
}

async function play(runId: string, bundle: Bundle, extra: string[] = [], playExit?: number, more: {volumes?: string; resultsDir?: (s: ReturnType<typeof setup>) => string; hangUpDuringWait?: boolean} = {}) {
  const s = setup(runId)
  const {runner, calls} = runnerFor(s, {bundle, playExit, volumes: more.volumes, resultsDir: more.resultsDir?.(s), hangUpDuringWait: more.hangUpDuringWait})
  const out = await runCommand(Export, ['--kube', '--repo', s.repo, '--tool', 'codex', '--play', '--run-id', runId, '--evidence-dir', s.evidence, '--json', ...extra], {runner, hostFacts: async () => s.facts})
  const records = existsSync(join(s.evidence, 'records')) ? readdirSync(join(s.evidence, 'records')).filter((f) => f.endsWith('.json')) : []
  const record = records.length === 1 ? (JSON.parse(readFileSync(join(s.evidence, 'records', records[0]!), 'utf8')) as EvidenceRecord) : null
  // no record at all (refused before the begin): nothing to inspect
  const inspected = records.length === 0 ? {valid: false, findings: [], records: []} : await inspectPath(s.evidence, {stateDir: stateDir(s.facts)})
  return {s, out, calls, records, record, inspected}
}

describe('export --kube --play: the record', () => {
  it('is a signed record of the dir\'s chain, verb export, with the Pod; the bundle is kept; inspect verifies the dir', async () => {
    const runId = 'kube-play-unit-0001'
    const {s, out, calls, records, record, inspected} = await play(runId, 'real')
    expect(out.exitCode, out.stderr).toBe(0)
    expect(records).toEqual([`000001-${runId}.json`])
    expect(existsSync(join(s.evidence, 'records', `000001-${runId}.json.dsse`))).toBe(true)
    const p = record!.predicate
    expect([p.verb, p.status, p.exitCode, p.tool]).toEqual(['export', 'completed', 0, 'codex'])
    expect(p.argv.slice(0, 3)).toEqual(['agent-machine', 'export', '--kube'])
    expect(record!.subject).toEqual([{name: '/workspace/app', digest: {gitCommit: s.commit}}])
    expect(p.kube).toMatchObject({engine: 'podman kube play', layout: 'pod', pod: {name: `sourceos-agent-${runId}`, uid: POD_UID}, repo: {commit: s.commit, clonedCommit: s.commit}, bundleRefused: null})
    expect(p.kube?.bundle?.heads).toEqual([`refs/heads/sourceos/${runId}`])
    expect(readFileSync(join(s.evidence, 'bundles', `${runId}.bundle`)).equals(readFileSync(s.bundle))).toBe(true)
    expect(p.byproducts?.map((b) => b.name).sort()).toEqual(['egress-proxy-access-log', 'result-bundle'])
    // the play's podman commands, in order, the Pod taken down last
    const kinds = calls.map((c) => c.split(' ').slice(0, 2).join(' '))
    expect(kinds.indexOf('kube play')).toBeGreaterThan(kinds.indexOf('image inspect'))
    expect(kinds.at(-1)).toBe('kube down')
    const agent = `sourceos-agent-${runId}-agent`
    expect(p.podmanRan?.map((r) => `${r.argv[1]} ${r.argv[2]}`)).toEqual(['kube play', 'pod inspect', `wait ${agent}`, 'container inspect', `logs ${agent}`, `logs sourceos-agent-${runId}-proxy`, `cp ${agent}:/sourceos-results/${runId}.bundle`, 'kube down'])
    expect(inspected.findings).toEqual([])
    expect(inspected.valid).toBe(true)
    expect(inspected.records[0]).toMatchObject({signed: true, valid: true, status: 'completed'})
    const json = out.json as {play: {seq: number; recordPath: string}; evidence?: unknown}
    expect(json.play.seq).toBe(1)
    expect(json.evidence).toBeUndefined()
  })

  it('a play that fails: the record is completed as incomplete (outcome failed, the podman commands with their exit codes), the Pod still taken down, the error exits 1', async () => {
    const runId = 'kube-play-unit-0002'
    const {out, calls, record, inspected} = await play(runId, 'none', [], 125)
    expect(out.exitCode).toBe(1)
    expect(out.stdout + out.stderr).toMatch(/podman kube play failed/)
    expect(calls.at(-1)).toMatch(/^kube down /)
    const p = record!.predicate
    expect([p.status, p.exitCode]).toEqual(['incomplete', null])
    expect(p.outcome).toEqual({result: 'failed', error: {code: 'KUBE_PLAY_FAILED', message: expect.stringMatching(/^podman kube play failed: .*exited 125: Error: image not known$/), exitCode: 1}})
    expect(p.podmanRan?.map((r) => [r.argv[1], r.exitCode])).toEqual([['kube', 125], ['kube', 0]])
    expect(p.kube?.pod.uid).toBeNull()
    expect(inspected.findings).toEqual([])
    expect(inspected.records[0]).toMatchObject({incomplete: true, signed: true})
  })

  it('no bundle: none recorded, nothing refused', async () => {
    const {out, record, s} = await play('kube-play-unit-0003', 'none')
    expect(out.exitCode, out.stderr).toBe(0)
    expect([record!.predicate.kube?.bundle, record!.predicate.kube?.bundleRefused]).toEqual([null, null])
    expect(existsSync(join(s.evidence, 'bundles'))).toBe(false)
  })

  it('a bundle over the cap, a link or not a bundle: refused (exit 3, with the cap and how to raise it), named in the completed record, nothing kept', async () => {
    const big = await play('kube-play-unit-0004', 'big', ['--bundle-max-mb', '2'])
    expect(big.out.exitCode).toBe(3)
    const err = (big.out.json ?? JSON.parse(big.out.stdout)) as {error?: {code: string; fix: string}; code?: string; fix?: string}
    const e = err.error ?? err
    expect(e.code).toBe('KUBE_BUNDLE_TOO_BIG')
    expect(e.fix).toMatch(/--bundle-max-mb 2: raise it/)
    expect(big.record!.predicate.status).toBe('completed')
    expect(big.record!.predicate.kube?.bundleRefused).toBe('KUBE_BUNDLE_TOO_BIG: the bundle is 2.0 MiB, over the cap of 2 MiB')
    expect(big.inspected.valid).toBe(true)
    for (const [kind, code] of [['symlink', 'KUBE_BUNDLE_NOT_A_FILE'], ['garbage', 'KUBE_BUNDLE_NOT_A_BUNDLE']] as const) {
      const r = await play(`kube-play-unit-000${kind === 'symlink' ? 5 : 6}`, kind)
      expect(r.out.exitCode).toBe(3)
      expect(r.record!.predicate.kube?.bundleRefused).toMatch(new RegExp(`^${code}: `))
      const bundles = join(r.s.evidence, 'bundles')
      expect(existsSync(bundles) ? readdirSync(bundles) : []).toEqual([])
    }
  })

  it('a bundle over the cap where this host sees the results volume: refused by lstat before podman cp copies a byte', async () => {
    const runId = 'kube-play-unit-0007'
    const {out, calls, record} = await play(runId, 'real', ['--bundle-max-mb', '1'], undefined, {
      resultsDir: (s) => {
        const dir = join(s.home, 'volume-data')
        mkdirSync(dir)
        writeFileSync(join(dir, `${runId}.bundle`), Buffer.alloc(1024 * 1024 + 1))
        return dir
      },
    })
    expect(out.exitCode).toBe(3)
    expect(calls.some((c) => c.startsWith('cp '))).toBe(false)
    expect(record!.predicate.kube?.bundleRefused).toBe('KUBE_BUNDLE_TOO_BIG: the bundle is 1.0 MiB, over the cap of 1 MiB')
  })

  it('a volume of the played Pod\'s name already on the podman host: refused before the record and the play (it would be shared)', async () => {
    const runId = 'kube-play-unit-0008'
    const {out, calls, records} = await play(runId, 'none', [], undefined, {volumes: `other\nsourceos-agent-${runId}-work\n`})
    expect(out.exitCode).toBe(4)
    const error = JSON.parse(out.stdout) as {error: {code: string; message: string; fix: string}}
    expect(error.error.code).toBe('KUBE_VOLUME_EXISTS')
    expect(error.error.message).toBe(`the podman host already has volume sourceos-agent-${runId}-work: the played Pod would share it, with whatever it holds`)
    expect(error.error.fix).toMatch(/podman kube down/)
    expect(calls.some((c) => c.startsWith('kube play '))).toBe(false)
    expect(records).toEqual([])
  })

  it('a signal while the Pod runs: the Pod is taken down, the record completed as interrupted, the CLI exits 128+N; no handler is left behind', async () => {
    const runId = 'kube-play-unit-0009'
    const handlers = process.listenerCount('SIGHUP')
    const {out, calls, record, inspected} = await play(runId, 'none', [], undefined, {hangUpDuringWait: true})
    expect(out.exitCode).toBe(129)
    const wait = calls.findIndex((c) => c.startsWith('wait '))
    expect(calls.slice(wait).filter((c) => c.startsWith('kube down ')).length).toBeGreaterThanOrEqual(1)
    expect(calls.at(-1)).toMatch(/^kube down /)
    const p = record!.predicate
    expect([p.status, p.exitCode]).toEqual(['incomplete', null])
    expect(p.outcome).toEqual({result: 'interrupted', error: {code: 'INTERRUPTED', message: 'SIGHUP stopped the run; the Pod was taken down', exitCode: 129}})
    expect(inspected.findings).toEqual([])
    expect(process.listenerCount('SIGHUP')).toBe(handlers)
  })
})
