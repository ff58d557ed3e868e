// A remote Podman host (issue 11, deliver 5), for real: as the rootless CI user, a `podman system
// service` on a unix socket is added as a Podman connection, and a profile names it in
// spec.connection. doctor, `run` and `shell` must go through that connection (and no machine), the
// mount sources are checked on "the remote host" through podman, and doctor, the launch warnings and
// the evidence say what is not verified (no hazard scan, no pins, no after-session integrity check).
// The service uses the same image store as the user's own podman, so the pinned test image is there.
import {spawn, type ChildProcess} from 'node:child_process'
import {createHash, randomBytes} from 'node:crypto'
import {chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {makeLaunchFixture, findReport, RUN_ID_LABEL, type LaunchFixture} from './helpers/launch-fixture.js'
import {containersConfPath, podmanTarget, requirePodman} from './helpers/podman-env.js'
import {baseEnv, BASE_PATH, runAs, userInfo} from './helpers/proc.js'

const podmanAvailable = requirePodman()
const target = podmanTarget('rootless')

interface DoctorJson {
  ready: boolean
  checks: Array<{id: string; status: string; detail: string}>
}

describe.skipIf(!podmanAvailable || !target.runnable)(target.reason ? `remote Podman host (skipped: ${target.reason})` : 'remote Podman host (a podman service on a socket, rootless)', () => {
  let fx: LaunchFixture
  let dir: string
  let service: ChildProcess | undefined
  let conf: string
  let profile: string
  const name = `sourceosctl-remote-${randomBytes(4).toString('hex')}`
  /** podman as the rootless user, with the containers.conf that holds the connection. */
  const podmanAsUser = (args: string[]) => runAs('podman', args, {asUser: fx.user, env: {CONTAINERS_CONF: conf}, timeoutMs: 30_000})
  const cli = (args: string[]) => fx.cli(args, {env: {CONTAINERS_CONF: conf}})

  beforeAll(async () => {
    fx = await makeLaunchFixture('rootless')
    const user = fx.user!
    const info = userInfo(user)!
    dir = mkdtempSync(join(tmpdir(), 'sourceosctl-remote-'))
    chownSync(dir, info.uid, info.gid)
    // `system connection add` writes the containers.conf podman reads (CONTAINERS_CONF when set):
    // a private copy of the CI one, so the connection lives and dies with this test.
    conf = join(dir, 'containers.conf')
    const ciConf = containersConfPath()
    writeFileSync(conf, ciConf ? readFileSync(ciConf, 'utf8') : '', {mode: 0o644})
    chownSync(conf, info.uid, info.gid)
    const socket = join(dir, 'podman.sock')
    const env = Object.entries({...baseEnv(user), ...(ciConf ? {CONTAINERS_CONF: ciConf} : {})}).map(([k, v]) => `${k}=${v}`)
    service = spawn('runuser', ['-u', user, '--', 'env', '-i', ...env, 'podman', 'system', 'service', '--time=0', `unix://${socket}`], {
      cwd: dir, detached: true, stdio: 'ignore', env: {PATH: BASE_PATH},
    })
    for (let i = 0; i < 100 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 100))
    if (!existsSync(socket)) throw new Error(`podman system service did not create ${socket}`)
    const added = await podmanAsUser(['system', 'connection', 'add', name, `unix://${socket}`])
    if (added.exitCode !== 0) throw new Error(`connection add failed: ${added.stderr}`)
    profile = fx.profileVariant('remote', (doc) => {
      doc.spec.connection = name
      delete doc.spec.machine
    })
  }, 60_000)

  afterAll(async () => {
    if (fx) {
      await podmanAsUser(['system', 'connection', 'rm', name])
      expect(await fx.cleanup(), 'containers left behind (now removed)').toEqual([])
    }
    if (service?.pid && service.exitCode === null && service.signalCode === null) {
      // The service's own process group (detached): runuser and the podman service under it.
      const group = -service.pid
      const exited = new Promise<boolean>((resolve) => {
        service!.once('exit', () => resolve(true))
        setTimeout(() => resolve(false), 5000)
      })
      signalGroup(group, 'SIGTERM')
      if (!(await exited)) signalGroup(group, 'SIGKILL')
    }
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  it('doctor: the connection answers, each mount source is checked on the remote host, and what is not verified is said', async () => {
    const result = await cli(['agent-machine', 'doctor', '--json', '--profile-file', profile])
    const report = JSON.parse(result.stdout) as DoctorJson
    const byId = new Map(report.checks.map((c) => [c.id, c]))
    expect(byId.get('podman-connection')).toMatchObject({status: 'ok'})
    expect(byId.get('podman-connection')!.detail).toContain(`unix://${join(dir, 'podman.sock')}`)
    expect(byId.get('mount:/workspace/repo')).toMatchObject({status: 'ok'})
    expect(byId.get('mount:/workspace/repo')!.detail).toContain(`exists as a folder on ${name}`)
    expect(byId.get('machine')).toMatchObject({status: 'skip'})
    const limits = byId.get('remote-host-limits')!
    expect(limits.status).toBe('warn')
    expect(limits.detail).toMatch(/NOT verified: .*no hazard scan.*no inode pins.*no after-session integrity check/)
    expect(report.ready).toBe(true)

    // A source missing on the remote host fails there, named.
    const missing = fx.profileVariant('remote-missing', (doc) => {
      doc.spec.connection = name
      doc.spec.mounts.push({source: join(fx.home, 'dev', 'not-there'), target: '/workspace/gone', mode: 'ro'})
    })
    const bad = JSON.parse((await cli(['agent-machine', 'doctor', '--json', '--profile-file', missing])).stdout) as DoctorJson
    const gone = bad.checks.find((c) => c.id === 'mount:/workspace/gone')!
    expect(gone.status).toBe('fail')
    expect(gone.detail).toContain('does not exist on')
    expect(bad.ready).toBe(false)
  }, 30_000)

  it('run: the container is created through the connection, the exit code passes through, the evidence records the connection and inspect-paths', async () => {
    const runId = fx.runId('remote-run')
    const since = Date.now()
    const result = await cli(['agent-machine', 'run', '--json', '--run-id', runId, '--profile-file', profile, '--tool', 'codex', '--repo', fx.repo, '--', '--exit', '7'])
    expect(result.exitCode, result.stderr).toBe(7)
    const json = JSON.parse(result.stdout) as {exitCode: number; evidence: string; warnings: string[]; plan: {steps: Array<{argv: string[]; why: string}>}; integrity?: unknown}
    expect(json.exitCode).toBe(7)
    const create = json.plan.steps.find((s) => s.argv.includes('create'))!
    expect(create.argv.slice(1, 3)).toEqual(['--connection', name])
    // every container-side step names the connection; the client-only reads (the evidence's `podman --version` and connection list) cannot
    const clientOnly = (argv: string[]) => argv[1] === '--version' || argv[1] === 'system'
    for (const step of json.plan.steps.filter((s) => s.argv[0] === 'podman' && !clientOnly(s.argv))) expect(step.argv.slice(1, 3)).toEqual(['--connection', name])
    expect(json.plan.steps.filter((s) => s.argv[0] === 'podman' && clientOnly(s.argv)).every((s) => s.why.startsWith('evidence:'))).toBe(true)
    expect(json.plan.steps.some((s) => s.argv.includes('machine'))).toBe(false)
    expect(json.integrity).toBeUndefined()
    expect(json.warnings.join('\n')).toMatch(/after-session integrity check was NOT done/)
    // The service behind the connection created it.
    const events = await podmanAsUser(['--connection', name, 'events', '--stream=false', '--since', String(Math.floor(since / 1000) - 1), '--filter', 'event=create', '--filter', `label=${RUN_ID_LABEL}=${runId}`, '--format', '{{.Name}}'])
    expect(events.stdout.trim().split('\n').filter(Boolean).length, events.stderr).toBeGreaterThanOrEqual(1)
    const inspected = await cli(['agent-machine', 'evidence', 'inspect', json.evidence, '--json'])
    expect(inspected.exitCode, inspected.stdout + inspected.stderr).toBe(0)
    const record = (JSON.parse(readFileSync(json.evidence, 'utf8')) as {predicate: {
      status: string
      exitCode: number
      podmanArgv: string[]
      mounts: Array<{target: string; mode: string}>
      podmanConnection?: {name: string; uri: string | null}
      verification?: {method: string; unverified: string[]}
      integrity?: unknown
      git: unknown[]
    }}).predicate
    expect(record.status).toBe('completed')
    expect(record.exitCode).toBe(7)
    // As planned, with home paths as ~ and env and tool-argument values redacted with their sha256 (docs/evidence.md).
    const planned = create.argv.map((a) => a.split(fx.home).join('~'))
    expect(record.podmanArgv).toHaveLength(planned.length)
    record.podmanArgv.forEach((a, i) => {
      const m = /^(.*?)\[redacted sha256:([0-9a-f]{64})\]$/.exec(a)
      if (m) expect(createHash('sha256').update(planned[i]!.slice(m[1]!.length)).digest('hex')).toBe(m[2])
      else expect(a).toBe(planned[i])
    })
    // No git-internal or write-protect mounts: they would be read from a local .git.
    expect(record.mounts.map((m) => `${m.target}:${m.mode}`).sort()).toEqual(['/workspace/docs:ro', '/workspace/repo:rw'])
    expect(record.podmanConnection).toMatchObject({name, uri: `unix://${join(dir, 'podman.sock')}`})
    expect(record.verification?.method).toBe('inspect-paths')
    expect(record.verification?.unverified.join('\n')).toMatch(/after-session integrity check was NOT done/)
    expect(record.integrity).toBeUndefined()
    expect(record.git).toEqual([])
  }, 30_000)

  it('shell: the agent sees the remote host’s folder (here the same path) and nothing else', async () => {
    const runId = fx.runId('remote-shell')
    const result = await cli(['agent-machine', 'shell', '--run-id', runId, '--profile-file', profile, '--repo', fx.repo, '--', '-c', 'cat /workspace/repo/src/main.txt; ls /workspace; test -e /workspace/repo/.git/hooks && echo hooks-visible'])
    expect(result.exitCode, result.stderr).toBe(0)
    expect(result.stdout).toContain('hello')
    expect(result.stdout).not.toContain(fx.secrets.ssh)
    expect(findReportSafe(result.stdout)).toBeNull()
  }, 30_000)

  it('refuses what it cannot judge on a remote host: ~ paths, credential folders, --worktree', async () => {
    const tilde = fx.profileVariant('remote-tilde', (doc) => {
      doc.spec.connection = name
      doc.spec.mounts[0]!.source = '~/dev/repo'
    })
    const r1 = await cli(['agent-machine', 'run', '--json', '--profile-file', tilde, '--tool', 'codex', '--repo', fx.repo, '--dry-run'])
    expect(r1.exitCode).toBe(3)
    expect(r1.stderr + r1.stdout).toContain('REMOTE_SOURCE_NOT_ABSOLUTE')
    const ssh = fx.profileVariant('remote-ssh', (doc) => {
      doc.spec.connection = name
      doc.spec.mounts[0]!.source = '/srv/u/.ssh'
    })
    const r2 = await cli(['agent-machine', 'shell', '--json', '--profile-file', ssh, '--repo', '/srv/u/.ssh', '--dry-run'])
    expect(r2.exitCode).toBe(3)
    expect(r2.stderr + r2.stdout).toContain('REMOTE_SOURCE_DENIED')
    const r3 = await cli(['agent-machine', 'run', '--json', '--profile-file', profile, '--tool', 'codex', '--repo', fx.repo, '--worktree', '--dry-run'])
    expect(r3.exitCode).toBe(2)
    expect(r3.stderr + r3.stdout).toContain('REMOTE_WORKTREE_UNSUPPORTED')
  }, 30_000)
})

function signalGroup(group: number, signal: NodeJS.Signals): void {
  try {
    process.kill(group, signal)
  } catch {
    // already gone
  }
}

function findReportSafe(text: string): unknown {
  try {
    return findReport(text)
  } catch {
    return null
  }
}
