// How a launch ended against the rest of its record (verify.ts, outcomeChecks): each contradiction
// on its own in an otherwise valid record read as a single file, named with its field.
import {mkdirSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {recordFileName} from '../../../src/core/evidence/index-log.js'
import {serializeRecord, type EvidenceRecord} from '../../../src/core/evidence/record.js'
import {beginRecord as unsignedBegin} from '../../../src/core/evidence/store.js'
import {inspectPath, samplePodmanArgv, sampleDraft, TEST_STATE_DIR, tempDir} from './helpers.js'

const root = tempDir('outcome-contradictions-')
afterAll(() => {
  for (const d of [root, TEST_STATE_DIR]) rmSync(d, {recursive: true, force: true})
})

const RUN = 'outcome-0001'
const CREATE = [...samplePodmanArgv().slice(0, 2), `--name=sourceos-agent-${RUN}`, ...samplePodmanArgv().slice(2)]
const START = ['podman', 'start', '--attach', `sourceos-agent-${RUN}`]
const INIT = ['podman', 'init', `sourceos-agent-${RUN}`]

const [ran, started] = await (async () => {
  const h = await unsignedBegin(join(root, 'source'), sampleDraft({runId: RUN, podmanArgv: CREATE, podmanCommands: {init: INIT, start: START}}))
  const begun = structuredClone(h.record)
  const done = await h.complete({exitCode: 0, finishedAt: '2026-01-02T03:06:00.000Z', outcome: {result: 'ran', error: null}, podmanRan: [{argv: CREATE, exitCode: 0}, {argv: INIT, exitCode: 0}, {argv: START, exitCode: 0}]})
  return [done.record, begun]
})()

let n = 0
async function problems(edit: (r: EvidenceRecord) => void, from: EvidenceRecord = ran): Promise<string[]> {
  const r = structuredClone(from)
  edit(r)
  const dir = join(root, `case-${++n}`)
  mkdirSync(dir)
  const file = join(dir, recordFileName(r.predicate.chain.seq, r.predicate.runId))
  writeFileSync(file, serializeRecord(r))
  return (await inspectPath(file)).findings.filter((f) => f.field !== 'predicate.policyHash').map((f) => `${f.field ?? '-'}: ${f.problem}`)
}
const failed = {result: 'failed' as const, error: {code: 'PODMAN_INIT_FAILED', message: 'x', exitCode: 4}}

describe('the outcome against the status and the exit code', () => {
  it('the untouched record (the tool ran) and its started form have no finding', async () => {
    expect(await problems(() => {})).toEqual([])
    expect(await problems(() => {}, started)).toEqual([])
  })

  it('an outcome in a started record', async () => {
    expect(await problems((r) => (r.predicate.outcome = {result: 'ran', error: null}), started)).toContain('predicate.outcome: is set but status is "started"')
  })

  it('the tool ran, but an error is recorded', async () => {
    expect(await problems((r) => (r.predicate.outcome = {result: 'ran', error: failed.error}))).toEqual(['predicate.outcome.error: is set but predicate.outcome.result says the tool ran'])
  })

  it('the tool never ran, but an exit code is recorded', async () => {
    expect(await problems((r) => Object.assign(r.predicate, {status: 'incomplete', exitCode: 3, outcome: failed, podmanRan: [{argv: CREATE, exitCode: 0}]}))).toEqual([
      'predicate.exitCode: is 3 but predicate.outcome.result is "failed": the tool never ran',
    ])
  })

  it('a failed launch without the podman start is valid', async () => {
    expect(await problems((r) => Object.assign(r.predicate, {status: 'incomplete', exitCode: null, outcome: failed, podmanRan: [{argv: CREATE, exitCode: 0}, {argv: INIT, exitCode: 126}]}))).toEqual([])
  })
})

describe('the podman commands that ran', () => {
  it('in a started record', async () => {
    expect(await problems((r) => (r.predicate.podmanRan = [{argv: CREATE, exitCode: 0}]), started)).toContain('predicate.podmanRan: is set but status is "started"')
  })

  it('the tool ran, but the create in podmanArgv is not among them (a longer or shorter create is not it)', async () => {
    const without = 'predicate.podmanRan: does not contain the create in predicate.podmanArgv, but predicate.outcome says the tool ran'
    expect(await problems((r) => (r.predicate.podmanRan = r.predicate.podmanRan!.filter((x) => x.argv[1] !== 'create')))).toEqual([without])
    expect(await problems((r) => (r.predicate.podmanRan![0]!.argv = CREATE.slice(0, -1)))).toContain(without)
    expect(await problems((r) => (r.predicate.podmanRan![0]!.argv = [...CREATE, 'extra']))).toContain(without)
  })

  it('a command naming the session’s container that is no create (its rm, its start) is not held to podmanArgv; a run that names it is', async () => {
    expect(await problems((r) => r.predicate.podmanRan!.push({argv: ['podman', 'rm', '--force', `--name=sourceos-agent-${RUN}`], exitCode: 0}))).toEqual([])
    expect(await problems((r) => r.predicate.podmanRan!.push({argv: ['podman', 'run', `--name=sourceos-agent-${RUN}`, 'img'], exitCode: 0}))).toEqual([
      'predicate.podmanRan[3].argv: creates the session’s container with other arguments than predicate.podmanArgv',
    ])
  })

  it('without recorded podman commands (an older record) the start is not looked for', async () => {
    expect(await problems((r) => delete r.predicate.podmanCommands)).toEqual([])
  })
})
