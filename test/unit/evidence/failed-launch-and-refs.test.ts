/**
 * The record of a launch that failed after it was begun (outcome, podmanRan) and --worktree's user
 * refs (userRefs): what the writer stores, what inspect checks against the rest of the record, and
 * that a changed ref list fails verification — signed like the rest, and named even when an
 * attacker without the key recomputes every digest.
 */
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {recordDigest, serializeRecord, type EvidenceRecord} from '../../../src/core/evidence/record.js'
import {redactedValue, redactValuesIn, secretValuesOf} from '../../../src/core/evidence/redact.js'
import {diffRefs, MAX_KEPT_REFS, parseRefList, refListOf, userRefsAfter, userRefsBefore} from '../../../src/core/evidence/user-refs.js'
import {inspectPath as inspectUntrusted} from '../../../src/core/evidence/verify.js'
import {failedOutcome, podmanLog} from '../../../src/core/launch/evidence.js'
import type {PreparedLaunch} from '../../../src/core/launch/prepare.js'
import {beginRecord, inspectPath, sampleDraft, samplePodmanArgv, tempDir} from './helpers.js'

const A = 'a'.repeat(40)
const B = 'b'.repeat(40)
const C = 'c'.repeat(40)
const refs = (text: string) => {
  const r = parseRefList(text)
  if (!r.ok) throw new Error(r.error)
  return r.list
}
const START = ['podman', 'start', '--attach', 'sourceos-agent-x']
const INIT = ['podman', 'init', 'sourceos-agent-x']

describe('user refs: read as hostile text', () => {
  it('parses `<oid> refs/<name>` lines, sorted, with a count and a digest over all of them', () => {
    const list = refs(`${B} refs/tags/v1\n${A} refs/heads/main\n`)
    expect(list).toEqual({count: 2, digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/), refs: [{name: 'refs/heads/main', commit: A}, {name: 'refs/tags/v1', commit: B}]})
    expect(refs('')).toMatchObject({count: 0, refs: []})
    // the digest commits to every ref: another commit is another digest
    expect(refs(`${C} refs/tags/v1\n${A} refs/heads/main\n`).digest).not.toBe(list.digest)
  })

  it('refuses the whole list on any line that is not exactly a ref: control characters, no refs/ prefix, a bad object id, a duplicate', () => {
    for (const bad of [`${A} refs/heads/a\u001b[31m`, `${A} refs/heads/a\rb`, `${A} heads/main`, `${A.slice(1)} refs/heads/main`, `${A.toUpperCase()} refs/heads/main`, `${A}  refs/heads/main`, `${A} refs/heads/main\n${B} refs/heads/main`, 'fatal: not a git repository']) {
      const r = parseRefList(`${A} refs/heads/ok\n${bad}\n`)
      expect(r.ok, JSON.stringify(bad)).toBe(false)
    }
  })

  it('keeps at most MAX_KEPT_REFS refs by name; count and digest still cover all, and no change list is guessed', () => {
    const many = Array.from({length: MAX_KEPT_REFS + 1}, (_, i) => ({name: `refs/tags/t${String(i).padStart(5, '0')}`, commit: A}))
    const list = refListOf(many)
    expect(list).toMatchObject({count: MAX_KEPT_REFS + 1, refs: null})
    expect(diffRefs(list, list)).toBeNull()
  })

  it('the changes are the added, changed and removed refs by name', () => {
    const before = refs(`${A} refs/heads/main\n${B} refs/heads/gone\n${C} refs/tags/v1\n`)
    const after = refs(`${B} refs/heads/main\n${A} refs/heads/agent/x\n${C} refs/tags/v1\n`)
    expect(diffRefs(before, after)).toEqual({
      added: [{name: 'refs/heads/agent/x', commit: A}],
      changed: [{name: 'refs/heads/main', before: A, after: B}],
      removed: [{name: 'refs/heads/gone', commit: B}],
      omitted: 0,
    })
    // an unreadable side: no changes, and the error says which side and why
    const started = userRefsBefore('/home/dev/app', {ok: true, list: before})
    expect(userRefsAfter(started, {ok: false, error: 'git for-each-ref failed'})).toEqual({repo: '/home/dev/app', before, after: null, changes: null, error: 'after: git for-each-ref failed'})
  })
})

/** A --worktree record: started with the user's refs, completed with the refs after and an added branch. */
async function worktreeRecord(dir = tempDir()) {
  const before = refs(`${A} refs/heads/main\n${C} refs/tags/v1\n`)
  const after = refs(`${A} refs/heads/main\n${B} refs/heads/agent/x\n${C} refs/tags/v1\n`)
  const started = userRefsBefore('/home/dev/app', {ok: true, list: before})
  const worktree = {repo: '/home/dev/app', path: '/home/dev/.local/state/sourceosctl/worktrees/app-1', target: '/workspace/app', branch: 'agent/x', baseCommit: A, commonDir: '/home/dev/app/.git'}
  const h = await beginRecord(dir, sampleDraft({worktree, userRefs: started, podmanCommands: {init: INIT, start: START}}))
  expect(h.record.predicate.userRefs).toEqual({repo: '/home/dev/app', before, after: null, changes: null, error: null})
  await h.complete({exitCode: 0, finishedAt: '2026-01-02T03:06:00.000Z', outcome: {result: 'ran', error: null}, podmanRan: [{argv: samplePodmanArgv(), exitCode: 0}, {argv: INIT, exitCode: 0}, {argv: START, exitCode: 0}], userRefs: userRefsAfter(started, {ok: true, list: after})})
  return {dir, file: h.file}
}

/** Rewrites one record file canonically (its digest no longer matches the index or its envelope). */
function edit(file: string, mutate: (r: EvidenceRecord) => void): EvidenceRecord {
  const record = JSON.parse(readFileSync(file, 'utf8')) as EvidenceRecord
  mutate(record)
  writeFileSync(file, serializeRecord(record))
  return record
}

describe('user refs in the record', () => {
  it('the final record holds before, after and the added branch; inspect verifies it and reports the changes', async () => {
    const {dir, file} = await worktreeRecord()
    const result = await inspectPath(dir)
    expect(result).toMatchObject({valid: true, verdict: 'valid', findings: []})
    expect(result.records[0]?.summary?.userRefs).toEqual({repo: '/home/dev/app', changes: {added: [{name: 'refs/heads/agent/x', commit: B}], changed: [], removed: [], omitted: 0}, error: null})
    expect(JSON.parse(readFileSync(file, 'utf8')).predicate.userRefs.after.count).toBe(3)
  })

  it('a ref list altered after the fact fails verification: the digest, the envelope, and the list against its own digest', async () => {
    const {dir, file} = await worktreeRecord()
    // the agent's branch hidden from `after` (and from the changes), as if nothing had arrived
    edit(file, (r) => {
      const u = r.predicate.userRefs!
      u.after!.refs = u.after!.refs!.filter((x) => x.name !== 'refs/heads/agent/x')
      u.after!.count = 2
      u.changes = {added: [], changed: [], removed: [], omitted: 0}
    })
    const result = await inspectPath(dir)
    expect(result.valid).toBe(false)
    expect(result.findings).toContainEqual({file, field: null, problem: expect.stringMatching(/^altered:/)})
    expect(result.findings).toContainEqual({file, field: 'predicate.userRefs.after.digest', problem: 'does not match its refs: the list or the digest was changed'})
    expect(result.findings).toContainEqual({file, field: 'signature', problem: `${file.split('/').pop()}.dsse is signed, but signs other content: the record was changed after it was signed`})
  })

  it('a change list that disagrees with before/after is named on its own, even in a copied record with every digest recomputed', async () => {
    const {file} = await worktreeRecord()
    const copy = join(tempDir(), 'record.json')
    writeFileSync(copy, readFileSync(file))
    edit(copy, (r) => {
      r.predicate.userRefs!.changes!.added = []
    })
    const result = await inspectUntrusted(copy)
    expect(result.findings).toContainEqual({file: copy, field: 'predicate.userRefs.changes', problem: 'does not match the difference between predicate.userRefs.before and after: a ref change was added, removed or altered'})
    // and a main moved in `after`, with its digest recomputed to match, shows as a change the list lacks
    const moved = join(tempDir(), 'record.json')
    writeFileSync(moved, readFileSync(file))
    edit(moved, (r) => {
      const after = refListOf(r.predicate.userRefs!.after!.refs!.map((x) => (x.name === 'refs/heads/main' ? {...x, commit: C} : x)))
      r.predicate.userRefs!.after = after
    })
    expect((await inspectUntrusted(moved)).findings.map((f) => f.field)).toEqual(['predicate.userRefs.changes'])
  })

  it('user refs without --worktree, or after/changes in a started record, are contradictions', async () => {
    const dir = tempDir()
    const started = userRefsBefore('/home/dev/app', {ok: true, list: refs(`${A} refs/heads/main\n`)})
    const h = await beginRecord(dir, sampleDraft({userRefs: started}))
    const result = await inspectPath(h.file)
    expect(result.findings).toContainEqual({file: h.file, field: 'predicate.userRefs', problem: 'is set but the record has no predicate.worktree (user refs are recorded for --worktree runs only)'})
  })
})

describe('a launch that failed after the record was begun', () => {
  it('is written incomplete, with the reason and the podman commands that ran, and verifies', async () => {
    const dir = tempDir()
    const h = await beginRecord(dir, sampleDraft({podmanCommands: {init: INIT, start: START}}))
    const outcome = {result: 'failed' as const, error: {code: 'PODMAN_INIT_FAILED', message: 'podman init failed: podman init sourceos-agent-x exited 126', exitCode: 1}}
    const podmanRan = [{argv: samplePodmanArgv(), exitCode: 0}, {argv: INIT, exitCode: 126}, {argv: ['podman', 'rm', '--force', 'sourceos-agent-x'], exitCode: 0}]
    const done = await h.complete({exitCode: null, status: 'incomplete', outcome, podmanRan})
    expect(done.record.predicate).toMatchObject({status: 'incomplete', exitCode: null, outcome, podmanRan})
    const result = await inspectPath(dir)
    expect(result).toMatchObject({valid: true, incomplete: 1, findings: []})
    expect(result.records[0]?.summary).toMatchObject({outcome, podmanRan})
  })

  it('inspect names an outcome that contradicts the status, the exit code or the podman commands', async () => {
    const {file} = await worktreeRecord()
    const cases: Array<[string, (r: EvidenceRecord) => void, {field: string; problem: RegExp}]> = [
      ['failed but completed with an exit code', (r) => (r.predicate.outcome = {result: 'failed', error: {code: 'PODMAN_CREATE_FAILED', message: 'x', exitCode: 1}}), {field: 'predicate.outcome.result', problem: /is "failed" \(the tool never ran\) but status is "completed"/}],
      ['ran without an exit code', (r) => Object.assign(r.predicate, {status: 'incomplete', exitCode: null}), {field: 'predicate.outcome.result', problem: /is "ran" but status is "incomplete"/}],
      ['interrupted without a reason', (r) => Object.assign(r.predicate, {status: 'incomplete', exitCode: null, outcome: {result: 'interrupted', error: null}}), {field: 'predicate.outcome.error', problem: /the reason is missing/}],
      ['ran but no start among the podman commands', (r) => (r.predicate.podmanRan = r.predicate.podmanRan!.filter((x) => x.argv[1] !== 'start')), {field: 'predicate.podmanRan', problem: /has no podman start/}],
      ['failed although the start ran', (r) => Object.assign(r.predicate, {status: 'incomplete', exitCode: null, outcome: {result: 'failed', error: {code: 'X', message: 'x', exitCode: 1}}}), {field: 'predicate.podmanRan', problem: /ran podman start .* but predicate.outcome.result is "failed"/}],
      ['a create of the session’s container with other arguments', (r) => (r.predicate.podmanRan![0]!.argv = [...samplePodmanArgv(), '--privileged', '--name=sourceos-agent-' + r.predicate.runId]), {field: 'predicate.podmanRan[0].argv', problem: /other arguments than predicate.podmanArgv/}],
    ]
    for (const [what, mutate, expected] of cases) {
      const copy = join(tempDir(), 'record.json')
      writeFileSync(copy, readFileSync(file))
      edit(copy, mutate)
      const result = await inspectUntrusted(copy)
      expect(result.findings, what).toContainEqual({file: copy, field: expected.field, problem: expect.stringMatching(expected.problem)})
    }
  })

  it('its reason never holds a secret value: the create’s env values and tool arguments are redacted wherever they appear', () => {
    const create = ['podman', 'create', '--env=HOME=/home/agent', '--env=PIP_INDEX_URL=https://user:pw@pypi.example', '--env=TERM=xterm', 'img', 'codex', '--api-key', 'sk-proj-secret-value', '--model=o3-secret']
    const prepared = {
      podman: {binary: 'podman'},
      containerSteps: {create: {argv: create}},
      spec: {image: 'img', tool: 'codex', command: ['codex', '--api-key', 'sk-proj-secret-value', '--model=o3-secret']},
      profile: {spec: {tools: {codex: {command: ['codex']}}}},
      policy: {env: {set: {}}},
    } as unknown as PreparedLaunch
    expect(secretValuesOf(create, {image: 'img', commandLength: 1, envSet: {HOME: '/home/agent'}})).toEqual(['https://user:pw@pypi.example', 'xterm', 'sk-proj-secret-value', 'o3-secret'])
    const log = podmanLog(prepared, async () => ({}) as never, async () => ({}) as never)
    const failure = failedOutcome(Object.assign(new Error(`podman create timed out: podman ${create.slice(1).join(' ')}`), {code: 'PODMAN_CREATE_FAILED', exitCode: 1}), log)
    const text = JSON.stringify(failure)
    for (const secret of ['https://user:pw@pypi.example', 'sk-proj-secret-value', 'o3-secret']) {
      expect(text).not.toContain(secret)
      expect(text).toContain(redactedValue(secret))
    }
    expect(failure).toMatchObject({result: 'failed', error: {code: 'PODMAN_CREATE_FAILED', exitCode: 1}})
    // an error without a code or exit code is still a failure with a reason
    expect(failedOutcome(new TypeError('boom'), undefined)).toEqual({result: 'failed', error: {code: 'UNEXPECTED', message: 'boom', exitCode: 1}})
    // short values are left (they would match inside ordinary words)
    expect(redactValuesIn('abc and abcd', ['abc', 'abcd'])).toBe(`abc and ${redactedValue('abcd')}`)
  })

  it('the podman commands are noted in the order they start, with their exit codes, and redacted like podmanArgv', async () => {
    const create = ['podman', 'create', '--env=TOKEN=tok-secret-1', 'img', 'codex', 'hello-secret']
    const prepared = {
      podman: {binary: 'podman'},
      containerSteps: {create: {argv: create}},
      spec: {image: 'img', tool: 'codex', command: ['codex', 'hello-secret']},
      profile: {spec: {tools: {codex: {command: ['codex']}}}},
      policy: {env: {set: {}}},
    } as unknown as PreparedLaunch
    const calls: string[] = []
    const runner = async (command: string, args: readonly string[]) => {
      calls.push([command, ...args].join(' '))
      return {command, args: [...args], exitCode: args[0] === 'init' ? 126 : 0, signal: null, stdout: '', stderr: '', timedOut: false, notFound: false, durationMs: 1} as never
    }
    const log = podmanLog(prepared, runner, async () => ({exitCode: 0, signal: null}) as never)
    await log.runner('podman', create.slice(1))
    await log.runner('git', ['status'])
    await log.runner('podman', ['run', '--env=X=tok-secret-1', 'guard'])
    await log.runner('podman', ['init', 'c'])
    expect(calls).toHaveLength(4)
    const entries = log.entries()
    expect(entries.map((e) => e.exitCode)).toEqual([0, 0, 126])
    expect(entries[0]!.argv).toEqual(['podman', 'create', `--env=TOKEN=${redactedValue('tok-secret-1')}`, 'img', 'codex', redactedValue('hello-secret')])
    expect(entries[1]!.argv).toEqual(['podman', 'run', `--env=X=${redactedValue('tok-secret-1')}`, 'guard'])
    expect(recordDigest(entries)).toMatch(/^sha256:/)
    expect(log.ran(['podman', 'init', 'c'])).toBe(true)
    expect(log.ran(['podman', 'start', 'c'])).toBe(false)
  })

  it('a secret value that is also an ordinary word of other commands (a tool argument "podman") redacts only whole elements equal to it', async () => {
    const create = ['podman', 'create', 'img', 'codex', 'podman', 'sourceos-agent-x']
    const prepared = {
      podman: {binary: 'podman'},
      containerSteps: {create: {argv: create}},
      spec: {image: 'img', tool: 'codex', command: ['codex', 'podman', 'sourceos-agent-x']},
      profile: {spec: {tools: {codex: {command: ['codex']}}}},
      policy: {env: {set: {}}},
    } as unknown as PreparedLaunch
    const ok = async (command: string, args: readonly string[]) => ({command, args: [...args], exitCode: 0, signal: null, stdout: '', stderr: '', timedOut: false, notFound: false, durationMs: 1}) as never
    const log = podmanLog(prepared, ok, async () => ({exitCode: 0, signal: null}) as never)
    await log.runner('podman', create.slice(1))
    await log.attachedRunner('podman', ['start', '--attach', 'sourceos-agent-xy'])
    expect(log.entries().map((e) => e.argv)).toEqual([
      ['podman', 'create', 'img', 'codex', redactedValue('podman'), redactedValue('sourceos-agent-x')],
      ['podman', 'start', '--attach', 'sourceos-agent-xy'],
    ])
    expect(log.ran(['podman', 'start', '--attach', 'sourceos-agent-xy'])).toBe(true)
  })
})
