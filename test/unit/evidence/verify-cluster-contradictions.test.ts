// A cluster run's record (verb export, predicate.kube) that contradicts itself (verify.ts,
// kubeChecks): each edit on its own, in an otherwise valid record read as a single file, named with
// its field — a record edited to match a weaker Pod, or whose pin was swapped, shows.
import {mkdirSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {recordFileName} from '../../../src/core/evidence/index-log.js'
import {serializeRecord, type EvidenceRecord, type KubeRun} from '../../../src/core/evidence/record.js'
import {beginRecord as unsignedBegin} from '../../../src/core/evidence/store.js'
import {IMAGE_ID, kubePolicy, PIN, PLAY, SOURCE, startedKube as startedKubeOf, URL} from '../kube/cluster-fixture.js'
import {inspectPath, sampleDraft, TEST_STATE_DIR, tempDir} from './helpers.js'

const root = tempDir('cluster-contradictions-')
afterAll(() => {
  for (const d of [root, TEST_STATE_DIR]) rmSync(d, {recursive: true, force: true})
})

const RUN = 'cluster-0001'
const policy = kubePolicy()
const startedKube = startedKubeOf(RUN)
const container = (name: string, exitCode: number | null) => ({name, imageId: IMAGE_ID, user: '1000:1000', readOnlyRoot: true, noNewPrivileges: true, capAdd: [] as string[], privileged: false, seccomp: 'default', exitCode})

const [completed, started] = await (async () => {
  const h = await unsignedBegin(join(root, 'source'), sampleDraft({
    runId: RUN,
    verb: 'export',
    tool: 'codex',
    argv: ['agent-machine', 'export', '--kube', '--repo', URL, '--tool', 'codex', '--play'],
    mounts: [{source: SOURCE, target: '/workspace/app', mode: 'rw'}],
    image: {ref: 'registry.example/agent:1', id: IMAGE_ID, digest: null},
    git: [{target: '/workspace/app', ref: null, commit: PIN, dirty: null}],
    policy,
    podmanArgv: PLAY,
    kube: startedKube,
  }))
  const begun = structuredClone(h.record)
  const done = await h.complete({
    exitCode: 0,
    finishedAt: '2026-01-02T03:09:00.000Z',
    outcome: {result: 'ran', error: null},
    podmanRan: [{argv: PLAY, exitCode: 0}],
    kube: {...startedKube, pod: {...startedKube.pod, uid: 'f'.repeat(64)}, repo: {...startedKube.repo, clonedCommit: PIN}, containers: [container('proxy', null), container('agent', 0)], bundle: null},
  })
  return [done.record, begun]
})()

let n = 0
async function problems(edit: (r: EvidenceRecord, k: KubeRun) => void, from: EvidenceRecord = completed): Promise<string[]> {
  const r = structuredClone(from)
  edit(r, r.predicate.kube!)
  const dir = join(root, `case-${++n}`)
  mkdirSync(dir)
  const file = join(dir, recordFileName(r.predicate.chain.seq, r.predicate.runId))
  writeFileSync(file, serializeRecord(r))
  return (await inspectPath(file)).findings.filter((f) => f.field !== 'predicate.policyHash').map((f) => `${f.field ?? '-'}: ${f.problem}`)
}

describe('a cluster run record', () => {
  it('untouched, completed or started: no finding', async () => {
    expect(await problems(() => {})).toEqual([])
    expect(await problems(() => {}, started)).toEqual([])
  })

  it('its one mount is the clone at the pinned commit, which predicate.git names', async () => {
    expect(await problems((r) => (r.predicate.mounts[0]!.source = `${URL}#${'c'.repeat(40)}`))).toContain(`predicate.mounts: must be the one clone of ${SOURCE} (predicate.kube.repo)`)
    expect(await problems((r) => r.predicate.mounts.push({source: '/home/dev/other', target: '/workspace/other', mode: 'ro'}))).toContain(`predicate.mounts: must be the one clone of ${SOURCE} (predicate.kube.repo)`)
    expect(await problems((r) => (r.predicate.git[0]!.commit = 'c'.repeat(40)))).toContain(`predicate.git: does not name the pinned commit ${PIN} of predicate.kube.repo`)
  })

  it('the agent started at the pinned commit', async () => {
    expect(await problems((_r, k) => (k.repo.clonedCommit = 'c'.repeat(40)))).toEqual([`predicate.kube.repo.clonedCommit: is ${'c'.repeat(40)}: the agent did not start at the pinned commit ${PIN}`])
  })

  it('a started record has no containers and no bundle yet', async () => {
    expect(await problems((_r, k) => k.containers.push(container('agent', null)), started)).toEqual(['predicate.kube: has containers or a bundle but status is "started"'])
    expect(await problems((_r, k) => (k.bundle = {file: 'bundles/x.bundle', digest: `sha256:${'3'.repeat(64)}`, bytes: 1, heads: []}), started)).toEqual(['predicate.kube: has containers or a bundle but status is "started"'])
  })

  it('a completed run has its agent container, with the record’s exit code and image', async () => {
    expect(await problems((_r, k) => (k.containers = k.containers.filter((c) => c.name !== 'agent')))).toEqual(['predicate.kube.containers: has no agent container but status is "completed"'])
    expect(await problems((_r, k) => (k.containers[1]!.exitCode = 3))).toEqual(['predicate.kube.containers: gives the agent exit code 3 but predicate.exitCode is 0'])
    expect(await problems((_r, k) => (k.containers[1]!.imageId = `sha256:${'9'.repeat(64)}`))).toEqual([expect.stringMatching(/^predicate\.kube\.containers: ran the agent from image sha256:9+…, but predicate\.image\.id is d+…$/)])
    expect(await problems((_r, k) => (k.containers[1]!.imageId = `sha256:${IMAGE_ID}`))).toEqual([])
    expect(await problems((_r, k) => (k.containers[1]!.imageId = null))).toEqual([])
  })

  it('an incomplete run without an agent container is not a contradiction', async () => {
    expect(await problems((r, k) => {
      Object.assign(r.predicate, {status: 'incomplete', exitCode: null, outcome: {result: 'failed', error: {code: 'KUBE_PLAY_FAILED', message: 'x', exitCode: 4}}, podmanRan: [{argv: ['podman', 'kube', 'down', 'm'], exitCode: 0}]})
      k.containers = []
    })).toEqual([])
  })

  it('any container weaker than the hardening: writable root, no no-new-privileges, a capability, privileged, seccomp unconfined — each named', async () => {
    const weaker = async (edit: (c: ReturnType<typeof container>) => void) => problems((_r, k) => edit(k.containers[0] as ReturnType<typeof container>))
    expect(await weaker((c) => (c.readOnlyRoot = false))).toEqual(['predicate.kube.containers[0]: proxy ran with a writable root file system, which predicate.policy.hardening does not allow'])
    expect(await weaker((c) => (c.noNewPrivileges = false))).toEqual(['predicate.kube.containers[0]: proxy ran with no no-new-privileges, which predicate.policy.hardening does not allow'])
    expect(await weaker((c) => (c.capAdd = ['NET_ADMIN', 'SYS_ADMIN']))).toEqual(['predicate.kube.containers[0]: proxy ran with capabilities NET_ADMIN,SYS_ADMIN, which predicate.policy.hardening does not allow'])
    expect(await weaker((c) => (c.privileged = true))).toEqual(['predicate.kube.containers[0]: proxy ran with privileged, which predicate.policy.hardening does not allow'])
    expect(await weaker((c) => (c.seccomp = 'unconfined'))).toEqual(['predicate.kube.containers[0]: proxy ran with seccomp unconfined, which predicate.policy.hardening does not allow'])
    expect(await weaker((c) => Object.assign(c, {readOnlyRoot: false, privileged: true}))).toEqual(['predicate.kube.containers[0]: proxy ran with a writable root file system, privileged, which predicate.policy.hardening does not allow'])
  })

  it('only an export has a Pod, and an export always has one', async () => {
    expect(await problems((r) => delete r.predicate.kube)).toEqual(['predicate.kube: is missing but verb is export (a cluster run)'])
  })
})
