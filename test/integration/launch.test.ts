// `run` and `shell` against real podman, rootful and rootless (issue 3, item 8 and "bad input"):
// the governed container sees only the profile's mounts, no host home, no capabilities, no host
// env; exit codes and signals pass through; no container outlives its run; bad input starts none.
// One fixture (temp HOME, repos, profile) per mode; the built CLI runs as root or as the rootless user.
import {createHash} from 'node:crypto'
import {lstatSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {schemaErrors} from '../helpers/json-schema.js'
import {findReport, makeLaunchFixture, type LaunchFixture} from './helpers/launch-fixture.js'
import {podmanTarget, requirePodman, type PodmanMode} from './helpers/podman-env.js'

const podmanAvailable = requirePodman()

/** Fake credentials in the CLI's own environment: they must never reach the container. */
const SECRET_ENV = {AWS_SECRET_ACCESS_KEY: 'fake-aws-secret', GITHUB_TOKEN: 'ghp_fake'}
/** Everything the container's environment may hold: podman's own, the profile's passthrough, HOME. */
const ALLOWED_ENV_NAMES = ['HOME', 'HOSTNAME', 'PATH', 'PWD', 'SHLVL', 'TERM', 'container', 'LANG', 'LC_ALL', 'TZ', 'COLORTERM']

interface LaunchResultJson {
  runId: string
  dryRun: boolean
  exitCode: number | null
  container: string
  plan: {steps: Array<{argv: string[]; why: string; mutates: boolean}>}
  [key: string]: unknown
}

function parseJson(text: string, what: string): LaunchResultJson {
  try {
    return JSON.parse(text) as LaunchResultJson
  } catch {
    throw new Error(`${what}: stdout is not JSON:\n${text}`)
  }
}

/** The mountinfo fields that matter: root (path inside the source fs), mount point, mount options. */
function mountFields(line: string): {root: string; mountPoint: string; options: string} {
  const fields = line.split(' ')
  return {root: fields[3] ?? '', mountPoint: fields[4] ?? '', options: fields[5] ?? ''}
}

function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let promise: Promise<T> | undefined
  return () => (promise ??= fn())
}

describe.each(['rootful', 'rootless'] as PodmanMode[])('run / shell (%s)', (mode) => {
  const target = podmanTarget(mode)

  // Concurrent: each launch mostly waits on podman (conmon, runc), and every test has its own run id.
  describe.skipIf(!podmanAvailable || !target.runnable).concurrent(target.reason ? `skipped: ${target.reason}` : 'in the governed container', () => {
    let fx: LaunchFixture

    beforeAll(async () => {
      fx = await makeLaunchFixture(mode)
    })
    afterAll(async () => {
      if (!fx) return
      // no run, however it ended, may leave a container behind
      expect(await fx.cleanup(), 'containers left behind (now removed)').toEqual([])
    })

    /**
     * The run most checks read: codex writes a file into the rw repo and exits 7, with fake secrets
     * in the CLI's environment; first as --dry-run, then for real, both --json with one run id.
     */
    const reportRun = once(async () => {
      const runId = fx.runId('report')
      const args = ['agent-machine', 'run', '--json', '--run-id', runId, '--tool', 'codex', '--repo', fx.repo, '--',
        '--touch', '/workspace/repo/made-inside', '--exit', '7']
      const dry = await fx.cli([...args.slice(0, 2), '--dry-run', ...args.slice(2)], {env: SECRET_ENV})
      const started = Date.now()
      const real = await fx.cli(args, {env: SECRET_ENV})
      return {runId, started, dry, real, report: findReport(real.stderr)}
    })

    /**
     * A shell that goes looking for the host home's credentials, writes into the ro mount and dumps
     * its whole mount table.
     */
    const probeRun = once(async () => {
      const script = [
        `cat ${fx.home}/.ssh/id_ed25519 ${fx.home}/.aws/credentials 2>&1`,
        'ls -la /home /root 2>&1',
        'find / -name id_ed25519 -o -name credentials 2>/dev/null',
        'touch /workspace/docs/made-inside 2>&1; echo "ro-touch-exit=$?"',
        'echo mountinfo:',
        'cat /proc/self/mountinfo',
        'echo end-of-probe',
      ].join('; ')
      const runId = fx.runId('probe')
      const result = await fx.cli(['agent-machine', 'shell', '--run-id', runId, '--repo', fx.repo, '--', '-c', script])
      expect(result.exitCode, result.stdout + result.stderr).toBe(0)
      expect(result.stdout).toContain('end-of-probe')
      const mountinfo = result.stdout.slice(result.stdout.indexOf('mountinfo:\n'), result.stdout.indexOf('end-of-probe')).split('\n').slice(1)
      return {runId, result, mountinfo}
    })

    it('shows only the declared mounts, the ro one read-only', async () => {
      const {report} = await reportRun()
      const mounts = report.mounts.map(mountFields)
      // the repo's git internals are mounted on top (issue 6): .git itself, and its hooks and config read-only
      const gitInternals = ['/workspace/repo/.git', '/workspace/repo/.git/config', '/workspace/repo/.git/hooks']
      expect(mounts.map((m) => m.mountPoint).sort(), report.mounts.join('\n')).toEqual(['/workspace/docs', '/workspace/repo', ...gitInternals])
      for (const ro of gitInternals.slice(1)) expect(mounts.find((m) => m.mountPoint === ro)!.options).toMatch(/^ro(,|$)/)
      const repo = mounts.find((m) => m.mountPoint === '/workspace/repo')!
      const docs = mounts.find((m) => m.mountPoint === '/workspace/docs')!
      // root is the path inside the filesystem the source lives on: a suffix of the host path
      expect(fx.repo.endsWith(repo.root), repo.root).toBe(true)
      expect(fx.docs.endsWith(docs.root), docs.root).toBe(true)
      expect(repo.options).toMatch(/^rw(,|$)/)
      expect(docs.options).toMatch(/^ro(,|$)/)
      expect(report.cwd).toBe('/workspace/repo')

      // in the whole mount table, the only paths from the host home are the two declared folders
      const {result, mountinfo} = await probeRun()
      const fromHome = mountinfo.filter((line) => line.includes('/workspace') || line.includes(fx.home))
      expect(fromHome.map((line) => mountFields(line).mountPoint).sort(), fromHome.join('\n')).toEqual(['/workspace/docs', '/workspace/repo', ...gitInternals])
      // and the ro one refuses writes
      expect(result.stdout).toMatch(/read-only file system/i)
      expect(result.stdout).toContain('ro-touch-exit=1')
      expect(statSync(join(fx.docs, 'made-inside'), {throwIfNoEntry: false})).toBeUndefined()
    })

    it('cannot reach the host home: planted ~/.ssh and ~/.aws stay out', async () => {
      const {runId, result} = await probeRun()
      const output = result.stdout + result.stderr
      expect(result.stdout).toMatch(/No such file or directory/) // the host home's path does not exist inside
      for (const secret of Object.values(fx.secrets)) expect(output).not.toContain(secret)
      expect(output).not.toContain('BEGIN OPENSSH PRIVATE KEY')
      expect(await fx.containersOf(runId)).toEqual([])
    })

    it('drops every capability and sets no-new-privileges', async () => {
      const {report} = await reportRun()
      expect(BigInt(`0x${report.capEff}`)).toBe(0n)
      expect(report.noNewPrivs).toBe(1)
      expect(report.pid1).toBe('podman-init')
    })

    it("passes none of the CLI's own environment but the allowlist", async () => {
      const {dry, real, report} = await reportRun()
      for (const [name, value] of Object.entries(SECRET_ENV)) {
        expect(report.envNames).not.toContain(name)
        for (const text of [real.stdout, real.stderr, dry.stdout]) expect(text).not.toContain(value)
      }
      expect(report.envNames.filter((name) => !ALLOWED_ENV_NAMES.includes(name))).toEqual([])
      expect(report.env.HOME).toBe('/home/agent')
      expect(Object.values(report.env).some((value) => value.includes(fx.home))).toBe(false)
    })

    it(`writes /workspace files as the invoking user (${mode === 'rootless' ? 'keep-id' : 'root, through the rootful user namespace'})`, async () => {
      const {report} = await reportRun()
      // rootful: the agent runs as the image's agent user (1000), mapped to the repo's owner on the
      // host; container root maps to an unprivileged host uid (src/core/launch/userns.ts)
      const inside = mode === 'rootless' ? {uid: fx.uid, gid: fx.gid} : {uid: 1000, gid: 1000}
      expect(report.uid).toBe(inside.uid)
      expect(report.touched).toEqual({path: '/workspace/repo/made-inside', ...inside})
      const written = statSync(join(fx.repo, 'made-inside'))
      expect([written.uid, written.gid]).toEqual([fx.uid, fx.gid])
    })

    it("makes the tool's exit code the CLI's: 7", async () => {
      const {real} = await reportRun()
      expect(real.exitCode, real.stderr).toBe(7)
      expect(parseJson(real.stdout, 'run --json').exitCode).toBe(7)
    })

    it('executes exactly the argv the dry run printed; both results validate', async () => {
      const {runId, started, dry, real} = await reportRun()
      expect(dry.exitCode, dry.stderr).toBe(0)
      const planned = parseJson(dry.stdout, 'run --dry-run --json')
      const executed = parseJson(real.stdout, 'run --json')
      expect(schemaErrors('agent-machine-launch-result.schema.json', planned)).toEqual([])
      expect(schemaErrors('agent-machine-launch-result.schema.json', executed)).toEqual([])
      expect([planned.dryRun, planned.exitCode, executed.dryRun]).toEqual([true, null, false])
      expect(executed.plan.steps.map((s) => s.argv)).toEqual(planned.plan.steps.map((s) => s.argv))
      // the tool-version probe (podman run … --version) comes first when the image's version is not cached yet
      const first = planned.plan.steps.findIndex((s) => s.argv[1] === 'create')
      expect(planned.plan.steps.slice(0, first).map((s) => [...s.argv.slice(0, 2), ...s.argv.slice(-1)])).toEqual(first === 0 ? [] : [['podman', 'run', '--version']])
      // the dry run created nothing; the real run created exactly the planned container, and it is gone
      const create = planned.plan.steps[first]!.argv
      expect(create[1]).toBe('create')
      expect(create).toContain(`--name=${planned.container}`)
      expect(await fx.createdSince(runId, started - 60_000)).toEqual([planned.container])
      expect(await fx.containersOf(runId)).toEqual([])
    })

    it('leaves an evidence record that validates: exit code, tool version, mounts, the exact podman argv', async () => {
      const {real} = await reportRun()
      const executed = parseJson(real.stdout, 'run --json') as LaunchResultJson & {evidence: string | null}
      expect(executed.evidence).toBeTruthy()
      const inspected = await fx.cli(['agent-machine', 'evidence', 'inspect', executed.evidence!, '--json'])
      expect(inspected.exitCode, inspected.stdout + inspected.stderr).toBe(0)
      const record = JSON.parse(readFileSync(executed.evidence!, 'utf8')) as {
        predicate: {status: string; exitCode: number; toolVersions: {tool: string | null}; podmanArgv: string[]; mounts: Array<{target: string; mode: string}>; git: Array<{target: string; commit: string | null}>}
      }
      expect(record.predicate.status).toBe('completed')
      expect(record.predicate.exitCode).toBe(7)
      expect(record.predicate.toolVersions.tool).toBe('codex-fake 0.0.1')
      // The planned argv, with home paths as ~ and env and tool-argument values redacted (docs/evidence.md).
      const planned = executed.plan.steps.find((s) => s.argv[1] === 'create')!.argv.map((a) => a.split(fx.home).join('~'))
      expect(record.predicate.podmanArgv).toHaveLength(planned.length)
      record.predicate.podmanArgv.forEach((a, i) => {
        const m = /^(.*?)\[redacted sha256:([0-9a-f]{64})\]$/.exec(a)
        if (m) expect(createHash('sha256').update(planned[i]!.slice(m[1]!.length)).digest('hex')).toBe(m[2])
        else expect(a).toBe(planned[i])
      })
      expect(record.predicate.mounts.map((m) => `${m.target}:${m.mode}`).sort()).toEqual([
        '/workspace/docs:ro', '/workspace/repo/.git/config:ro', '/workspace/repo/.git/hooks:ro', '/workspace/repo/.git:rw', '/workspace/repo:rw',
      ])
      expect(record.predicate.git.find((g) => g.target === '/workspace/repo')?.commit).toMatch(/^[0-9a-f]{40}$/)
    })

    it('two runs started at once both land in the evidence chain, in order', async () => {
      const ids = [fx.runId('ev-a'), fx.runId('ev-b')]
      const runs = await Promise.all(ids.map((id) => fx.cli(['agent-machine', 'run', '--json', '--run-id', id, '--tool', 'codex', '--repo', fx.repo, '--', '--exit', '0'])))
      for (const r of runs) expect(r.exitCode, r.stderr).toBe(0)
      const files = runs.map((r) => (JSON.parse(r.stdout) as {evidence: string}).evidence)
      const dir = join(files[0]!, '..', '..')
      const inspected = await fx.cli(['agent-machine', 'evidence', 'inspect', dir, '--json'])
      expect(inspected.exitCode, inspected.stdout + inspected.stderr).toBe(0)
      const chains = files.map((f) => (JSON.parse(readFileSync(f, 'utf8')) as {predicate: {chain: {seq: number; prev: string | null}}}).predicate.chain)
      // in order: two distinct positions, the later one linked to a predecessor (the other tests of
      // this file run at the same time, so another run's record may sit between them), and the
      // chain verified (inspect exit 0 above)
      const [earlier, later] = [...chains].sort((a, b) => a.seq - b.seq)
      expect(later!.seq).toBeGreaterThan(earlier!.seq)
      expect(later!.prev).toMatch(/^sha256:[0-9a-f]{64}$/)
      const report = JSON.parse(inspected.stdout) as {chain: {checked: boolean; head: {seq: number} | null}; records: Array<{seq: number | null; runId: string | null}>}
      // inspect checked every prev link of the chain (exit 0 above): the later record follows its predecessor
      expect(report.chain.checked).toBe(true)
      expect(report.chain.head?.seq).toBeGreaterThanOrEqual(later!.seq)
      const listed = report.records.filter((r) => ids.includes(r.runId ?? '')).map((r) => r.seq)
      expect(listed.sort((a, b) => a! - b!)).toEqual([earlier!.seq, later!.seq])
    })

    it.each([
      ['SIGTERM', 143, 'codex'],
      ['SIGINT', 130, 'claude-code'],
    ] as const)('forwards %s to the tool (exit %i) and leaves no container (%s)', async (signal, code, tool) => {
      const runId = fx.runId(signal.toLowerCase())
      const cli = await fx.spawn(['agent-machine', 'run', '--run-id', runId, '--tool', tool, '--repo', fx.repo, '--', '--sleep', '60'])
      try {
        // the report is printed after the tool set its traps: it is running and listening
        await cli.waitFor(/^\{"tool":/m)
        expect(await fx.containersOf(runId)).toHaveLength(1)
      } catch (error) {
        cli.kill() // afterAll removes the container
        await cli.exited()
        throw error
      }
      cli.signal(signal)
      const exit = await cli.exited(30_000)
      expect(exit.timedOut, exit.stderr).toBe(false)
      expect(exit.stdout).toContain(`got ${signal}`)
      expect(exit.exitCode, exit.stderr).toBe(code)
      expect(await fx.containersOf(runId)).toEqual([])
    })

    it('takes piped stdin in shell: lists the mounts and exits 3 (default network)', async () => {
      const runId = fx.runId('stdin')
      // the one launch on podman's default network (the others use network: none)
      const profile = fx.profileVariant('network-default', (doc) => {
        doc.spec.network = {mode: 'default'}
      })
      const result = await fx.cli(['agent-machine', 'shell', '--run-id', runId, '--repo', fx.repo, '--profile-file', profile], {input: 'ls /workspace; exit 3\n'})
      expect(result.exitCode, result.stderr).toBe(3)
      expect(result.stdout.split('\n').filter(Boolean)).toEqual(['docs', 'repo'])
      expect(await fx.containersOf(runId)).toEqual([])
    })

    describe('bad input: a clear error, the exit code from the table, no container', () => {
      /** `run` with a fresh run id (plus `args`); proves podman created no container for it. */
      async function attempt(args: string[], opts: {profile?: string; env?: Record<string, string>; repo?: string; tool?: string} = {}) {
        const runId = fx.runId('bad')
        const started = Date.now()
        const result = await fx.cli([
          'agent-machine', 'run', '--run-id', runId, '--tool', opts.tool ?? 'codex', '--repo', opts.repo ?? fx.repo,
          ...(opts.profile ? ['--profile-file', opts.profile] : []), ...args,
        ], {env: opts.env})
        // podman's event log: nothing was created for this run id (a leftover would also show in afterAll)
        expect(await fx.createdSince(runId, started)).toEqual([])
        return result
      }

      it('unknown tool → 3, listing the enabled tools', async () => {
        const result = await attempt([], {tool: 'vim'})
        expect(result.exitCode, result.stderr).toBe(3)
        expect(result.stderr).toMatch(/unknown tool 'vim'/)
        expect(result.stderr).toMatch(/codex, claude-code/)
      })

      it('disabled tool → 3, listing the enabled ones', async () => {
        const profile = fx.profileVariant('claude-disabled', (doc) => {
          doc.spec.tools['claude-code']!.enabled = false
        })
        const result = await attempt([], {tool: 'claude-code', profile})
        expect(result.exitCode, result.stderr).toBe(3)
        expect(result.stderr).toMatch(/disabled/)
        expect(result.stderr).toMatch(/enabled tools \(codex\)/)
      })

      it('repo outside the allowlist → 3, naming the init command that would allow it', async () => {
        const result = await attempt([], {repo: fx.other})
        expect(result.exitCode, result.stderr).toBe(3)
        expect(result.stderr).toContain(`init --repo ${fx.other}`)
      })

      it('missing image → 4', async () => {
        const profile = fx.profileVariant('image-missing', (doc) => {
          doc.spec.image.ref = 'localhost/sourceosctl-test/absent:missing'
        })
        const result = await attempt([], {profile})
        expect(result.exitCode, result.stderr).toBe(4)
        expect(result.stderr).toContain('localhost/sourceosctl-test/absent:missing')
      })

      it('image whose digest does not match the pin → 3', async () => {
        // (the active profile pins the right digest: every run above passes the same check)
        const profile = fx.profileVariant('pin-wrong', (doc) => {
          doc.spec.image.digest = `sha256:${'0'.repeat(64)}`
        })
        const result = await attempt([], {profile})
        expect(result.exitCode, result.stderr).toBe(3)
        expect(result.stderr).toContain(`sha256:${fx.image.id}`)
        expect(result.stderr).toContain(`pins sha256:${'0'.repeat(64)}`)
      })

      it('secret-like env passthrough (GITHUB_TOKEN) → 3', async () => {
        const profile = fx.profileVariant('env-token', (doc) => {
          doc.spec.env.passthrough.push('GITHUB_TOKEN')
        })
        const result = await attempt([], {profile, env: SECRET_ENV})
        expect(result.exitCode, result.stderr).toBe(3)
        expect(result.stderr).toContain('GITHUB_TOKEN')
        expect(result.stdout + result.stderr).not.toContain(SECRET_ENV.GITHUB_TOKEN)
      })

      it('podman missing → 4', async () => {
        const result = await attempt([], {env: {SOURCEOSCTL_PODMAN: '/nonexistent/podman'}})
        expect(result.exitCode, result.stderr).toBe(4)
        expect(result.stderr).toMatch(/podman/i)
      })

      it('a symlinked repo re-pointed into ~/.ssh after init → 3', async () => {
        // init got <home>/dev/docs-link → <home>/dev/docs (and allowlisted what it resolved to)
        repoint(fx.docsLink, join(fx.home, '.ssh'))
        const result = await attempt([], {repo: fx.docsLink})
        expect(result.exitCode, result.stderr).toBe(3)
        expect(result.stderr).toContain(`${fx.home}/.ssh`)
      })

      it('a profile mount that is a symlink, re-pointed into ~/.ssh → 3', async () => {
        const real = join(fx.home, 'dev', 'real')
        const link = join(fx.home, 'dev', 'link')
        mkdirSync(real)
        fx.own(real)
        symlinkSync(real, link)
        const profile = fx.profileVariant('link-mount', (doc) => {
          doc.spec.mounts = [{source: link, target: '/workspace/link', mode: 'rw'}]
        })
        repoint(link, join(fx.home, '.ssh'))
        const result = await attempt([], {profile, repo: link})
        expect(result.exitCode, result.stderr).toBe(3)
        expect(result.stderr).toMatch(/refusing to mount .*\.ssh: it is inside ~\/\.ssh/)
      })
    })
  })
})

/** Replace the symlink at `link` so it points to `to` (as an attacker in the repo folder could). */
function repoint(link: string, to: string): void {
  expect(lstatSync(link).isSymbolicLink()).toBe(true)
  rmSync(link)
  symlinkSync(to, link)
}
