/**
 * The session verbs in-process with a fake podman: ps recovers a session whose owner is gone and
 * its --json matches the schema (with --all's ended sessions); stop, attach and exec --dry-run show
 * their one podman command and run nothing; attach refuses a session that is not running; exec of
 * a session with a live owner's state file asks podman nothing before the exec itself.
 */
import {spawnSync} from 'node:child_process'
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import Attach from '../../src/commands/agent-machine/attach.js'
import Exec from '../../src/commands/agent-machine/exec.js'
import Ps from '../../src/commands/agent-machine/ps.js'
import Stop from '../../src/commands/agent-machine/stop.js'
import {stateFile} from '../../src/core/sessions/state.js'
import {fakeRunner} from '../helpers/fake-runner.js'
import {fakeHostFacts} from '../helpers/host-facts.js'
import {schemaErrors} from '../helpers/json-schema.js'
import {runCommand} from '../helpers/run-command.js'
import {beginRecord, sampleDraft, tempDir, TEST_STATE_DIR} from '../unit/evidence/helpers.js'

const L = 'dev.sourceos.agent-machine'
const RUN = 'abcdef0123456789'
const listing = (state = 'running') =>
  JSON.stringify([{Names: [`sourceos-agent-${RUN}`], Labels: {[`${L}.run-id`]: RUN, [`${L}.verb`]: 'shell', [`${L}.tool`]: 'shell', [`${L}.network`]: 'none', [`${L}.workdir`]: '/workspace/app'}, State: state, StartedAt: 1796555366, ImageID: 'b'.repeat(64)}])

function contextFor(state: string, routes: Parameters<typeof fakeRunner>[0]) {
  const runner = fakeRunner(routes)
  const host = fakeHostFacts('linux', {env: {HOME: '/home/dev', SOURCEOSCTL_STATE_DIR: state, SOURCEOSCTL_CONFIG_DIR: join(state, 'no-config')}})
  return {runner, ctx: {runner, hostFacts: async () => host}}
}

function writeState(state: string, runId: string, fields: Record<string, unknown>): void {
  mkdirSync(join(state, 'sessions'), {recursive: true})
  writeFileSync(stateFile(state, runId), JSON.stringify({
    v: 1, runId, pid: spawnSync('true').pid, pidStart: null, detached: true, verb: 'shell', tool: null, podman: {binary: 'podman', connection: null},
    homeDir: '/home/dev', startedAt: '2026-01-02T03:04:05.000Z', workdir: '/workspace/app', network: 'none', egressSetup: null, egress: null, guard: null, worktree: null, ...fields,
  }))
}

describe('session verbs', () => {
  it('ps finishes a session whose owner is gone, lists the running one and, with --all, the ended ones; --json matches its schema', async () => {
    const evidence = tempDir('cmd-sessions-ev-')
    const gone = await beginRecord(evidence, sampleDraft())
    writeState(TEST_STATE_DIR, gone.runId, {evidenceDir: evidence, recordFile: gone.file})
    const {runner, ctx} = contextFor(TEST_STATE_DIR, [
      {match: (c, a) => c === 'podman' && a.includes(`--filter=name=^sourceos-agent-${gone.runId}$`), result: {stdout: JSON.stringify([{State: 'exited', ExitCode: 0}])}},
      {match: 'podman rm', result: {}},
      {match: 'podman ps', result: {stdout: listing()}},
    ])
    const out = await runCommand(Ps, ['--all', '--json', '--evidence-dir', evidence], ctx)
    expect(out.exitCode, out.stderr).toBe(0)
    const result = out.json as {sessions: Array<{runId: string}>; ended: Array<{runId: string; status: string; exitCode: number}>; recovered: string[]}
    expect(result.recovered).toEqual([gone.runId])
    expect(result.sessions.map((s) => s.runId)).toEqual([RUN])
    expect(result.ended).toEqual([expect.objectContaining({runId: gone.runId, status: 'completed', exitCode: 0})])
    expect(schemaErrors('agent-machine-ps-result.schema.json', result)).toEqual([])
    expect(runner.commandLines()).toContain(`podman rm --force --time=2 sourceos-agent-${gone.runId}`)
  })

  it('stop, attach and exec --dry-run print their podman command and run nothing', async () => {
    const state = tempDir('cmd-sessions-state-')
    const {runner, ctx} = contextFor(state, [{match: 'podman ps', result: {stdout: listing()}}])
    const stop = await runCommand(Stop, [RUN, '--dry-run', '--time', '3'], ctx)
    expect(stop.exitCode, stop.stderr).toBe(0)
    expect(stop.stdout).toContain(`podman stop --time=3 sourceos-agent-${RUN}`)
    const attach = await runCommand(Attach, [RUN, '--dry-run', '--json'], ctx)
    expect(attach.exitCode, attach.stderr).toBe(0)
    expect((attach.json as {plan: {steps: Array<{argv: string[]}>}}).plan.steps[0]!.argv).toEqual(['podman', 'attach', '--detach-keys=ctrl-p,ctrl-q', '--sig-proxy=false', `sourceos-agent-${RUN}`])
    const exec = await runCommand(Exec, [RUN, '--dry-run', '--', 'git', 'status'], ctx)
    expect(exec.exitCode, exec.stderr).toBe(0)
    expect(exec.stdout).toContain(`podman exec --interactive sourceos-agent-${RUN} git status`)
    expect(runner.commandLines().every((l) => l.startsWith('podman ps'))).toBe(true)
  })

  it('attach refuses a session that is not running (exit 2, with the fix)', async () => {
    const {ctx} = contextFor(tempDir('cmd-sessions-state-'), [{match: 'podman ps', result: {stdout: listing('exited')}}])
    const out = await runCommand(Attach, [RUN], ctx)
    expect(out.exitCode).toBe(2)
    expect(out.stderr).toMatch(/is exited, not running/)
  })

  it('exec of a session whose owner runs asks podman nothing before the exec: its state file names the container and connection', async () => {
    const state = tempDir('cmd-sessions-state-')
    writeState(state, RUN, {pid: process.pid, evidenceDir: join(state, 'evidence'), recordFile: join(state, 'evidence', 'records', `000001-${RUN}.json`), podman: {binary: 'podman', connection: 'sourceos-agent'}})
    const {runner, ctx} = contextFor(state, [])
    const out = await runCommand(Exec, [RUN, '--dry-run', '--json', '--', 'true'], ctx)
    expect(out.exitCode, out.stderr).toBe(0)
    const result = out.json as {plan: {steps: Array<{argv: string[]}>}; evidence: string}
    expect(result.plan.steps[0]!.argv).toEqual(['podman', '--connection', 'sourceos-agent', 'exec', '--interactive', `sourceos-agent-${RUN}`, 'true'])
    expect(result.evidence).toBe(join(state, 'evidence', 'exec', `${RUN}.jsonl`))
    expect(runner.calls).toEqual([])
  })
})
