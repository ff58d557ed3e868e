/**
 * Detached sessions without Podman: the keeper's argv, the detached container steps, recovery of a
 * session whose owner is gone (finished once, its record completed and still valid; a live or
 * owned session untouched), the exec log's chain, ps --all's reading of the index, and the exec
 * fast path declining everything but the plain form of a live session.
 */
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import type {HostFacts} from '../../../src/core/host/facts.js'
import {step} from '../../../src/core/plan/plan.js'
import {detachedCreate, detachedStartSteps, SESSION_LOG_MAX} from '../../../src/core/sessions/detach-steps.js'
import {endedSessions} from '../../../src/core/sessions/ended.js'
import {appendExecEvent, execLogPath, readExecLog, redactExecArgv} from '../../../src/core/sessions/exec-evidence.js'
import {tryFastExec} from '../../../src/core/sessions/exec-fast.js'
import {keeperArgv} from '../../../src/core/sessions/keeper.js'
import {recoverSessions} from '../../../src/core/sessions/recover.js'
import {adoptedBaseline, ownerAlive, readDone, readSessionState, stateFile, writeDone, type SessionState} from '../../../src/core/sessions/state.js'
import {waitFinished} from '../../../src/core/sessions/finish-wait.js'
import {fakeRunner} from '../../helpers/fake-runner.js'
import {beginRecord, inspectPath, sampleDraft, tempDir, TEST_STATE_DIR} from '../evidence/helpers.js'

const host = {platform: 'linux', homeDir: '/home/dev', env: {}} as unknown as HostFacts

/** A pid that is certainly not running: a child that has exited and been reaped. */
function deadPid(): number {
  return spawnSync('true').pid!
}

function writeState(state: string, s: Partial<SessionState> & {runId: string; evidenceDir: string; recordFile: string}): void {
  mkdirSync(join(state, 'sessions'), {recursive: true})
  const full: SessionState = {
    v: 1, pid: deadPid(), pidStart: null, detached: true, verb: 'shell', tool: null, podman: {binary: 'podman', connection: null},
    homeDir: '/home/dev', startedAt: '2026-01-02T03:04:05.000Z', workdir: '/workspace/app', network: 'none', egressSetup: null, egress: null, guard: null, worktree: null,
    ...s,
  }
  writeFileSync(stateFile(state, s.runId), JSON.stringify(full))
}

const psJson = (entries: Array<{State: string; ExitCode: number}>) => ({stdout: JSON.stringify(entries)})

describe('the keeper and the detached steps', () => {
  it('the keeper gets the same verb and flags without --detach, its run id fixed; --detach after -- is the tool’s', () => {
    expect(keeperArgv('run', ['--tool', 'codex', '--detach', '--repo', '/r', '--', '--detach', 'x'], 'abcdef012345', false, true)).toEqual([
      'agent-machine', 'run', '--session-keeper=tty', '--run-id', 'abcdef012345', '--tool', 'codex', '--repo', '/r', '--', '--detach', 'x',
    ])
    expect(keeperArgv('shell', ['--run-id', 'given-run-1', '--detach'], 'given-run-1', true, false)).toEqual(['agent-machine', 'shell', '--session-keeper=notty', '--run-id', 'given-run-1'])
  })

  it('a detached create keeps every flag of the foreground one but --rm, and bounds the log', () => {
    const create = step(['podman', 'create', '--name=sourceos-agent-r1234567', '--rm', '--init', '--cap-drop=all', 'img', 'sh'], 'create', true)
    const d = detachedCreate(create)
    expect(d.argv).toEqual(['podman', 'create', '--name=sourceos-agent-r1234567', `--log-opt=max-size=${SESSION_LOG_MAX}`, '--init', '--cap-drop=all', 'img', 'sh'])
    expect(() => detachedCreate(step(['podman', 'create', 'img'], 'x', true))).toThrow(/no --rm/)
    const steps = detachedStartSteps('r1234567', {binary: 'podman', connection: 'sourceos-agent'}, 'run', create)
    expect(steps.start.argv).toEqual(['podman', '--connection', 'sourceos-agent', 'start', 'sourceos-agent-r1234567'])
    expect(steps.wait.argv).toEqual(['podman', '--connection', 'sourceos-agent', 'wait', '--condition=exited', 'sourceos-agent-r1234567'])
    expect(steps.saveLog.argv).toEqual(['podman', '--connection', 'sourceos-agent', 'logs', 'sourceos-agent-r1234567'])
  })
})

describe('recovery of a session whose owner is gone', () => {
  it('finishes an ended session once: container removed, record completed with its exit code, still valid; done by recovery', async () => {
    const state = TEST_STATE_DIR
    const evidence = tempDir('sessions-ev-')
    const handle = await beginRecord(evidence, sampleDraft())
    const runId = handle.runId
    writeState(state, {runId, evidenceDir: evidence, recordFile: handle.file})
    await appendExecEvent(evidence, {runId, execId: 'e1', record: 'r.json', at: 'now', event: 'exec-start', argv: ['true'], tty: false})
    const runner = fakeRunner([
      {match: 'podman ps', result: psJson([{State: 'exited', ExitCode: 143}])},
      {match: 'podman rm', result: {}},
    ])
    const done = await recoverSessions(state, runner, host)
    expect(done.map((d) => [d.runId, d.exitCode, d.evidence])).toEqual([[runId, 143, handle.file]])
    expect(runner.commandLines()).toContain(`podman rm --force --time=2 sourceos-agent-${runId}`)
    const rec = JSON.parse(readFileSync(handle.file, 'utf8')) as {predicate: {status: string; exitCode: number; byproducts?: Array<{name: string; digest: {sha256: string}}>}}
    expect(rec.predicate).toMatchObject({status: 'completed', exitCode: 143})
    // the record commits to the exec log as it was when the session ended
    const sha = createHash('sha256').update(readFileSync(execLogPath(evidence, runId))).digest('hex')
    expect(rec.predicate.byproducts?.find((b) => b.name === 'exec-log')?.digest.sha256).toBe(sha)
    expect((await inspectPath(evidence)).verdict).toBe('valid')
    expect(existsSync(stateFile(state, runId))).toBe(false)
    expect(await readDone(state, runId)).toMatchObject({exitCode: 143, by: 'recovery', evidence: handle.file})
    // once: nothing left to do
    expect(await recoverSessions(state, runner, host)).toEqual([])
  })

  it('a container that is gone leaves the record incomplete (no exit code), and valid', async () => {
    const evidence = tempDir('sessions-ev-')
    const handle = await beginRecord(evidence, sampleDraft())
    writeState(TEST_STATE_DIR, {runId: handle.runId, evidenceDir: evidence, recordFile: handle.file})
    const done = await recoverSessions(TEST_STATE_DIR, fakeRunner([{match: 'podman ps', result: psJson([])}, {match: 'podman rm', result: {exitCode: 1, stderr: 'Error: no such container'}}]), host, handle.runId)
    expect(done[0]).toMatchObject({exitCode: null, messages: []})
    expect((JSON.parse(readFileSync(handle.file, 'utf8')) as {predicate: {status: string}}).predicate.status).toBe('incomplete')
    expect((await inspectPath(evidence)).verdict).toBe('valid')
  })

  it('leaves alone a session whose owner runs, one whose container still runs (its baseline moved out of the killed-CLI check), and one podman cannot see', async () => {
    const evidence = tempDir('sessions-ev-')
    const owned = await beginRecord(evidence, sampleDraft())
    writeState(TEST_STATE_DIR, {runId: owned.runId, evidenceDir: evidence, recordFile: owned.file, pid: process.pid})
    const live = await beginRecord(evidence, sampleDraft())
    writeState(TEST_STATE_DIR, {runId: live.runId, evidenceDir: evidence, recordFile: live.file})
    mkdirSync(join(TEST_STATE_DIR, 'integrity'), {recursive: true})
    writeFileSync(join(TEST_STATE_DIR, 'integrity', `${live.runId}.json`), '{"version":1}')
    const runner = fakeRunner([{match: 'podman ps', result: psJson([{State: 'running', ExitCode: 0}])}])
    expect(await recoverSessions(TEST_STATE_DIR, runner, host, owned.runId)).toEqual([])
    expect(runner.calls).toHaveLength(0) // the owner finishes it: not even asked
    expect(await recoverSessions(TEST_STATE_DIR, runner, host, live.runId)).toEqual([])
    expect(existsSync(adoptedBaseline(TEST_STATE_DIR, live.runId))).toBe(true)
    expect(existsSync(join(TEST_STATE_DIR, 'integrity', `${live.runId}.json`))).toBe(false)
    const unreachable = fakeRunner([{match: 'podman ps', result: {exitCode: 125, stderr: 'Error: cannot connect'}}])
    expect(await recoverSessions(TEST_STATE_DIR, unreachable, host, live.runId)).toEqual([])
    for (const r of [owned, live]) expect((JSON.parse(readFileSync(r.file, 'utf8')) as {predicate: {status: string}}).predicate.status).toBe('started')
    expect(await readSessionState(TEST_STATE_DIR, live.runId)).not.toBeNull()
  })

  it('an owner is alive by pid and start time; a dead or reused pid is not', async () => {
    expect(await ownerAlive({pid: process.pid, pidStart: null})).toBe(true)
    expect(await ownerAlive({pid: deadPid(), pidStart: null})).toBe(false)
    expect(await ownerAlive({pid: process.pid, pidStart: 'not-its-start-time'})).toBe(false)
  })

  it('a state file of the wrong shape, or named for another run, is not read', async () => {
    const state = tempDir('sessions-state-')
    mkdirSync(join(state, 'sessions'))
    writeFileSync(stateFile(state, 'aaaaaaaa1'), JSON.stringify({v: 1, runId: 'bbbbbbbb2'}))
    expect(await readSessionState(state, 'aaaaaaaa1')).toBeNull()
    expect(await readSessionState(state, '../../etc')).toBeNull()
  })
})

describe('stop and attach wait for the session to be finished', () => {
  it('returns its owner\'s report once there; finishes it in the owner\'s place when the owner is gone; gives up at the deadline', async () => {
    const state = tempDir('sessions-wait-')
    expect(await waitFinished(state, fakeRunner([]), host, 'abcdef012345', 1000)).toEqual({finished: true, done: null})
    await writeDone(state, {runId: 'abcdef012345', exitCode: 3, by: 'keeper', finishedAt: 'now', messages: ['m'], evidence: null})
    expect(await waitFinished(state, fakeRunner([]), host, 'abcdef012345', 1000)).toMatchObject({finished: true, done: {exitCode: 3, messages: ['m']}})
    writeState(state, {runId: 'bbbbbbbb0001', evidenceDir: state, recordFile: join(state, 'none.json')})
    const recovered = await waitFinished(state, fakeRunner([{match: 'podman ps', result: psJson([])}, {match: 'podman rm', result: {}}]), host, 'bbbbbbbb0001', 5000)
    expect(recovered).toMatchObject({finished: true, done: {by: 'recovery'}})
    // a keeper removes its state file before it writes its report: known before the stop, it is waited for while it runs
    const known = {v: 1, runId: 'dddddddd0001', pid: process.pid, pidStart: null, detached: true} as unknown as SessionState
    setTimeout(() => void writeDone(state, {runId: 'dddddddd0001', exitCode: 143, by: 'keeper', finishedAt: 'now', messages: [], evidence: null}), 300)
    expect(await waitFinished(state, fakeRunner([]), host, 'dddddddd0001', 5000, undefined, known)).toMatchObject({finished: true, done: {exitCode: 143}})
    writeState(state, {runId: 'cccccccc0001', evidenceDir: state, recordFile: 'r.json', pid: process.pid})
    expect(await waitFinished(state, fakeRunner([]), host, 'cccccccc0001', 300, async () => {})).toEqual({finished: false})
  })
})

describe('exec in the evidence', () => {
  it('appends start and end, hash-chained, argv redacted; a changed or removed line breaks the chain', async () => {
    const dir = tempDir('sessions-exec-')
    const base = {runId: 'abcdef012345', execId: 'e1', record: '000001-abcdef012345.json', at: '2026-01-02T03:04:05.000Z'}
    await appendExecEvent(dir, {...base, event: 'exec-start', argv: redactExecArgv(['/usr/bin/git', 'log', '--format=%H', '--oneline']), tty: false})
    await appendExecEvent(dir, {...base, event: 'exec-end', exitCode: 0})
    await appendExecEvent(dir, {...base, execId: 'e2', event: 'exec-start', argv: [], tty: true})
    const read = await readExecLog(dir, 'abcdef012345')
    expect(read.chainValid).toBe(true)
    expect(read.events.map((e) => e.event)).toEqual(['exec-start', 'exec-end', 'exec-start'])
    expect(read.events[0]!.argv![0]).toBe('git')
    expect(read.events[0]!.argv![1]).toMatch(/^\[redacted sha256:[0-9a-f]{64}\]$/)
    expect(read.events[0]!.argv![2]).toMatch(/^--format=\[redacted sha256:[0-9a-f]{64}\]$/)
    expect(read.events[0]!.argv![3]).toBe('--oneline')
    const file = execLogPath(dir, 'abcdef012345')
    const lines = readFileSync(file, 'utf8').trim().split('\n')
    writeFileSync(file, `${[lines[0], lines[2]].join('\n')}\n`)
    expect((await readExecLog(dir, 'abcdef012345')).chainValid).toBe(false)
    writeFileSync(file, `${[lines[0], lines[1]!.replace('"exitCode":0', '"exitCode":1'), lines[2]].join('\n')}\n`)
    expect((await readExecLog(dir, 'abcdef012345')).problems.join(' ')).toMatch(/line 3: prevLine/)
  })

  it('concurrent execs keep the chain whole', async () => {
    const dir = tempDir('sessions-exec-')
    await Promise.all(Array.from({length: 12}, (_, i) => appendExecEvent(dir, {runId: 'abcdef012345', execId: `e${i}`, record: 'r.json', at: 'now', event: 'exec-start', argv: ['true'], tty: false})))
    const read = await readExecLog(dir, 'abcdef012345')
    expect(read.events).toHaveLength(12)
    expect(read.chainValid).toBe(true)
  })

  it('the fast path declines (nothing run) unless it is the plain form of a live session', async () => {
    const state = tempDir('sessions-fast-')
    const env = {HOME: '/home/dev', SOURCEOSCTL_STATE_DIR: state}
    expect(await tryFastExec(['--json', 'abcdef012345'], env)).toBeNull()
    expect(await tryFastExec(['abcdef012345', 'ls'], env)).toBeNull() // a command needs --
    expect(await tryFastExec(['abcdef012345', '--', 'true'], env)).toBeNull() // no state file
    writeState(state, {runId: 'abcdef012345', evidenceDir: state, recordFile: 'r.json'})
    expect(await tryFastExec(['abcdef012345', '--', 'true'], env)).toBeNull() // its owner is gone
    expect(existsSync(execLogPath(state, 'abcdef012345'))).toBe(false)
  })
})

describe('ps --all', () => {
  it('lists the ended runs of the index newest first, without the live ones, at most limit', async () => {
    const dir = tempDir('sessions-ended-')
    const a = await beginRecord(dir, sampleDraft())
    await a.complete({exitCode: 7})
    const b = await beginRecord(dir, sampleDraft())
    const c = await beginRecord(dir, sampleDraft())
    const ended = await endedSessions(dir, new Set([c.runId]), 10)
    expect(ended.map((e) => [e.runId, e.status, e.exitCode])).toEqual([[b.runId, 'started', null], [a.runId, 'completed', 7]])
    expect(ended[1]).toMatchObject({verb: 'run', tool: 'codex', workdir: '/workspace/app', image: 'a'.repeat(12), evidence: a.file})
    expect(await endedSessions(dir, new Set(), 1)).toHaveLength(1)
    expect(await endedSessions(join(dir, 'nowhere'), new Set(), 10)).toEqual([])
  })
})
