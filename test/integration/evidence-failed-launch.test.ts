// A launch that fails after its record was begun leaves a record; a refusal before any podman
// command leaves none (docs/evidence.md, "A launch that fails"). And --worktree records what changed
// in the user's refs. Through the built CLI against real podman, rootful and rootless; `evidence
// inspect` stays valid afterwards.
import {existsSync, readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {makeLaunchFixture, type LaunchFixture} from './helpers/launch-fixture.js'
import {podman, podmanOk, podmanTarget, requirePodman, type PodmanMode} from './helpers/podman-env.js'
import {runAs} from './helpers/proc.js'

const podmanAvailable = requirePodman()

interface RecordJson {
  predicate: {
    status: string
    exitCode: number | null
    podmanArgv: string[]
    podmanCommands: {init: string[]; start: string[]}
    outcome?: {result: string; error: {code: string; message: string; exitCode: number} | null}
    podmanRan?: Array<{argv: string[]; exitCode: number | null}>
    userRefs?: {before: {refs: Array<{name: string; commit: string}>} | null; after: unknown; changes: unknown; error: string | null}
    verification?: unknown
  }
}

describe.each(['rootful', 'rootless'] as PodmanMode[])('evidence of a launch that fails (%s)', (mode) => {
  const target = podmanTarget(mode)

  describe.skipIf(!podmanAvailable || !target.runnable)(target.reason ? `skipped: ${target.reason}` : 'through the built CLI', () => {
    let fx: LaunchFixture
    const blockers: string[] = []

    beforeAll(async () => {
      fx = await makeLaunchFixture(mode)
    })
    afterAll(async () => {
      for (const name of blockers) await podman(target, ['rm', '--force', name])
      if (!fx) return
      expect(await fx.cleanup(), 'containers left behind (now removed)').toEqual([])
    })

    const recordsDir = () => join(fx.stateDir, 'evidence', 'records')
    const recordFiles = () => (existsSync(recordsDir()) ? readdirSync(recordsDir()).filter((n) => n.endsWith('.json')).sort() : [])
    const recordOf = (runId: string): {file: string; record: RecordJson} => {
      const name = recordFiles().find((n) => n.endsWith(`-${runId}.json`))
      if (!name) throw new Error(`no record for ${runId} in ${recordsDir()}: ${recordFiles().join(', ')}`)
      const file = join(recordsDir(), name)
      return {file, record: JSON.parse(readFileSync(file, 'utf8')) as RecordJson}
    }
    const inspectValid = async (path: string) => {
      const r = await fx.cli(['agent-machine', 'evidence', 'inspect', path, '--json'])
      expect(r.exitCode, `${r.stdout}${r.stderr}`).toBe(0)
      const result = JSON.parse(r.stdout) as {valid: boolean; verdict: string; findings: unknown[]}
      expect(result).toMatchObject({valid: true, verdict: 'valid', findings: []})
    }

    it('a podman create that fails (the container name is taken) leaves an incomplete record: outcome failed with the reason, the create that ran (exit 125), no init or start; inspect valid', async () => {
      const runId = fx.runId('create-fails')
      const name = `sourceos-agent-${runId}`
      // another container already has the run's name: podman refuses the create
      await podmanOk(target, ['create', '--name', name, fx.image.ref, 'true'])
      blockers.push(name)
      const r = await fx.cli(['agent-machine', 'run', '--json', '--run-id', runId, '--tool', 'codex', '--repo', fx.repo, '--', '--api-key', 'sk-proj-failed-launch-secret'])
      expect(r.exitCode, r.stderr).not.toBe(0)
      expect(`${r.stdout}${r.stderr}`).toMatch(/PODMAN_CREATE_FAILED|podman create failed/)
      const {file, record} = recordOf(runId)
      const p = record.predicate
      expect(p.status).toBe('incomplete')
      expect(p.exitCode).toBeNull()
      expect(p.outcome).toMatchObject({result: 'failed', error: {code: 'PODMAN_CREATE_FAILED', message: expect.stringMatching(/podman create failed/), exitCode: r.exitCode}})
      // the podman commands that ran: the create (podmanArgv itself) failed; init and start never ran
      const ran = p.podmanRan ?? []
      const create = ran.find((e) => e.argv.join('\0') === p.podmanArgv.join('\0'))
      expect(create?.exitCode, JSON.stringify(ran)).toBe(125)
      expect(ran.some((e) => e.argv.join('\0') === p.podmanCommands.init.join('\0'))).toBe(false)
      expect(ran.some((e) => e.argv.join('\0') === p.podmanCommands.start.join('\0'))).toBe(false)
      expect(p.verification).toBeUndefined()
      // no secret value in the record, the failure's reason included
      expect(readFileSync(file, 'utf8')).not.toContain('sk-proj-failed-launch-secret')
      // the other run's container is untouched
      expect((await podmanOk(target, ['container', 'inspect', '--format', '{{.Name}}', name])).trim()).toBe(name)
      await inspectValid(file)
      await inspectValid(join(fx.stateDir, 'evidence'))
    })

    it('a refusal before any podman command (a denied repo) leaves no record, and the evidence stays valid', async () => {
      // one record first, so there is a dir to compare and inspect
      const first = await fx.cli(['agent-machine', 'shell', '--json', '--run-id', fx.runId('before-refusal'), '--repo', fx.repo], {input: 'exit 0\n'})
      expect(first.exitCode, first.stderr).toBe(0)
      const before = recordFiles()
      const runId = fx.runId('refused')
      const r = await fx.cli(['agent-machine', 'run', '--json', '--run-id', runId, '--tool', 'codex', '--repo', join(fx.home, '.ssh')])
      expect(r.exitCode, r.stderr).toBe(3)
      expect(recordFiles()).toEqual(before)
      expect(await fx.containersOf(runId)).toEqual([])
      await inspectValid(join(fx.stateDir, 'evidence'))
    })

    it('--worktree: the record lists the user’s refs before and after, and the one the bring-back added', async () => {
      const git = (...args: string[]) => runAs('git', ['-C', fx.repo, ...args], {asUser: fx.user, cleanEnv: true, env: {HOME: fx.home, PATH: '/usr/bin:/bin', GIT_CONFIG_NOSYSTEM: '1'}, timeoutMs: 30_000})
      const head = (await git('rev-parse', 'HEAD')).stdout.trim()
      const refsBefore = (await git('for-each-ref', '--format=%(refname) %(objectname)')).stdout.trim().split('\n')
      const runId = fx.runId('wt-refs')
      const r = await fx.cli(['agent-machine', 'shell', '--json', '--run-id', runId, '--repo', fx.repo, '--worktree', '--branch', 'agent/evidence-refs'], {input: 'exit 0\n', timeoutMs: 90_000})
      expect(r.exitCode, r.stderr).toBe(0)
      const {file, record} = recordOf(runId)
      const u = record.predicate.userRefs!
      expect(u.error).toBeNull()
      expect(u.before?.refs.map((x) => `${x.name} ${x.commit}`)).toEqual(refsBefore)
      expect(u.changes).toEqual({added: [{name: 'refs/heads/agent/evidence-refs', commit: head}], changed: [], removed: [], omitted: 0})
      expect(record.predicate.outcome).toEqual({result: 'ran', error: null})
      await inspectValid(file)
    })
  })
})
