// The cluster run's record (export --kube --play) is an evidence record of the dir's chain like a
// local run's: the same in-toto Statement (verb export, the Pod in predicate.kube), its DSSE
// envelope, index lines and checkpoint; `evidence inspect` verifies the chain including it, and
// names a cluster record that was edited, or whose Pod facts contradict the rest of it.
import {mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import {recordFileName, splitIndex} from '../../../src/core/evidence/index-log.js'
import {EvidenceRecordSchema, serializeRecord, type EvidenceRecord, type KubeRun} from '../../../src/core/evidence/record.js'
import {beginRecord as unsignedBegin} from '../../../src/core/evidence/store.js'
import {policyHash} from '../../../src/core/policy/hash.js'
import {REPO_ROOT} from '../../helpers/run-command.js'
import {beginRecord, inspectPath, sampleDraft, TEST_KEY, TEST_STATE_DIR, tempDir} from '../evidence/helpers.js'
import {IMAGE_ID, kubeDraft, kubePolicy, PIN, PLAY, startedKube, URL} from './cluster-fixture.js'

const root = tempDir('kube-record-')
afterAll(() => {
  for (const d of [root, TEST_STATE_DIR]) rmSync(d, {recursive: true, force: true})
})

const container = (name: string, exitCode: number | null) => ({name, imageId: IMAGE_ID, user: name === 'agent' ? '1000:1000' : '65534:65534', readOnlyRoot: true, noNewPrivileges: true, capAdd: [], privileged: false, seccomp: 'default', exitCode})

const finishedKube = (runId: string): KubeRun => ({
  ...startedKube(runId),
  pod: {name: `sourceos-agent-${runId}`, uid: 'f'.repeat(64), node: 'node-1'},
  repo: {url: URL, commit: PIN, clonedCommit: PIN},
  containers: [container('proxy', null), container('agent', 0)],
  bundle: {file: `bundles/${runId}.bundle`, digest: `sha256:${'3'.repeat(64)}`, bytes: 1234, heads: [`refs/heads/sourceos/${runId}`]},
})

const completion = (runId: string) => ({
  exitCode: 0,
  finishedAt: '2026-01-02T03:09:00.000Z',
  outcome: {result: 'ran' as const, error: null},
  podmanRan: [{argv: PLAY, exitCode: 0}, {argv: ['podman', 'kube', 'down', '/tmp/sourceos-kube-x/manifest.yaml'], exitCode: 0}],
  kube: finishedKube(runId),
})

describe('the cluster run record in an evidence dir', () => {
  it('is begun as started and completed like a local run: a signed Statement of the chain, after a local run, and inspect verifies the dir', async () => {
    const dir = join(root, 'chain')
    const local = await beginRecord(dir, sampleDraft({runId: 'local-run-0001'}))
    const localDone = await local.complete({exitCode: 0, finishedAt: '2026-01-02T03:05:00.000Z'})

    const h = await beginRecord(dir, kubeDraft('kube-run-0001'))
    expect(h.seq).toBe(2)
    expect(h.record.predicate.status).toBe('started')
    expect(h.record.predicate.chain.prev).toBe(localDone.digest)
    expect(h.record.predicate.kube?.pod.uid).toBeNull()
    const startedDigest = h.digest
    const done = await h.complete(completion('kube-run-0001'))

    // the same Statement form as a local run's, verb export, the Pod in predicate.kube
    const onDisk = JSON.parse(readFileSync(done.file, 'utf8')) as EvidenceRecord
    expect(EvidenceRecordSchema.safeParse(onDisk).success).toBe(true)
    expect(onDisk._type).toBe('https://in-toto.io/Statement/v1')
    expect(onDisk.subject).toEqual([{name: '/workspace/app', digest: {gitCommit: PIN}}])
    expect(onDisk.predicate.verb).toBe('export')
    expect(onDisk.predicate.kube).toEqual(finishedKube('kube-run-0001'))
    expect(onDisk.predicate.chain).toEqual({seq: 2, prev: localDone.digest, startedDigest})
    expect(onDisk.predicate.policyHash).toBe(policyHash(kubePolicy()))
    // signed: the envelope's payload is the record's bytes
    const envelope = JSON.parse(readFileSync(`${done.file}.dsse`, 'utf8')) as {payload: string; signatures: Array<{keyid: string}>}
    expect(Buffer.from(envelope.payload, 'base64').toString('utf8')).toBe(readFileSync(done.file, 'utf8').slice(0, -1))
    expect(envelope.signatures[0]?.keyid).toBe(TEST_KEY.keyid)
    // chained: begin and complete lines after the local run's two
    const lines = splitIndex(readFileSync(join(dir, 'index.jsonl'), 'utf8')).lines.map((l) => JSON.parse(l.text) as {event: string; seq: number; digest: string})
    expect(lines.map((l) => [l.event, l.seq])).toEqual([['begin', 1], ['complete', 1], ['begin', 2], ['complete', 2]])
    expect(lines[3]?.digest).toBe(done.digest)

    const result = await inspectPath(dir)
    expect(result.findings).toEqual([])
    expect(result.valid).toBe(true)
    const report = result.records.find((r) => r.runId === 'kube-run-0001')
    expect(report).toMatchObject({seq: 2, status: 'completed', valid: true, signed: true, digest: done.digest})
    expect(report?.summary?.verb).toBe('export')
    expect(report?.summary?.kube?.pod.uid).toBe('f'.repeat(64))

    // inspect <file> shows it too
    const single = await inspectPath(done.file)
    expect(single.valid).toBe(true)
    expect(single.records[0]?.summary?.kube?.bundle?.heads).toEqual(['refs/heads/sourceos/kube-run-0001'])
  })

  it('a failed play is completed as incomplete with its error and the podman commands that ran', async () => {
    const dir = join(root, 'failed')
    const h = await beginRecord(dir, kubeDraft('kube-run-0002'))
    const done = await h.complete({
      exitCode: null,
      status: 'incomplete',
      outcome: {result: 'failed', error: {code: 'KUBE_PLAY_FAILED', message: 'podman kube play failed: exit 125', exitCode: 1}},
      podmanRan: [{argv: PLAY, exitCode: 125}],
      kube: startedKube('kube-run-0002'),
    })
    expect(done.record.predicate.status).toBe('incomplete')
    const result = await inspectPath(dir)
    expect(result.findings).toEqual([])
    expect(result.records[0]).toMatchObject({status: 'incomplete', incomplete: true, signed: true})
  })

  it('a cluster record edited after it was written: inspect of the dir names it (digest and signature)', async () => {
    const dir = join(root, 'tampered')
    const h = await beginRecord(dir, kubeDraft('kube-run-0003'))
    const done = await h.complete(completion('kube-run-0003'))
    const edited = JSON.parse(readFileSync(done.file, 'utf8')) as EvidenceRecord
    edited.predicate.kube!.pod.node = 'another-node'
    writeFileSync(done.file, serializeRecord(edited))
    const result = await inspectPath(dir)
    expect(result.valid).toBe(false)
    const named = result.findings.filter((f) => f.file.endsWith(recordFileName(1, 'kube-run-0003'))).map((f) => f.problem).join('\n')
    expect(named).toMatch(/digest|signature|changed/i)
  })
})

// Records read alone (unsigned), each edited so that its Pod facts contradict the rest.
const base = await (async () => {
  const h = await unsignedBegin(join(root, 'alone-source'), kubeDraft('kube-run-0004'))
  return (await h.complete(completion('kube-run-0004'))).record
})()
let n = 0

async function problems(edit: (r: EvidenceRecord) => void): Promise<string[]> {
  const r = structuredClone(base)
  edit(r)
  const dir = join(root, `alone-${++n}`)
  mkdirSync(dir)
  const file = join(dir, recordFileName(r.predicate.chain.seq, r.predicate.runId))
  writeFileSync(file, serializeRecord(r))
  const result = await inspectPath(file)
  return result.findings.filter((f) => f.field !== 'predicate.policyHash').map((f) => `${f.field ?? '-'}: ${f.problem}`)
}

describe('a cluster record that contradicts itself', () => {
  it('untouched: no finding', async () => {
    expect(await problems(() => {})).toEqual([])
  })

  it('a Pod without verb export, or verb export without a Pod', async () => {
    expect(await problems((r) => void (r.predicate.verb = 'run'))).toContainEqual('predicate.kube: is set but verb is run (only a cluster run has a Pod)')
    expect(await problems((r) => void delete r.predicate.kube)).toContainEqual('predicate.kube: is missing but verb is export (a cluster run)')
  })

  it('the pin swapped in one place only, or the agent started elsewhere', async () => {
    expect(await problems((r) => void (r.predicate.kube!.repo.commit = 'a'.repeat(40)))).toEqual(
      expect.arrayContaining([expect.stringMatching(/^predicate\.mounts: must be the one clone of/), expect.stringMatching(/^predicate\.git: does not name the pinned commit/)]),
    )
    expect(await problems((r) => void (r.predicate.kube!.repo.clonedCommit = 'a'.repeat(40)))).toContainEqual(expect.stringMatching(/^predicate\.kube\.repo\.clonedCommit: .* did not start at the pinned commit/))
  })

  it('a container weaker than the policy, another image, another exit code', async () => {
    const weak = await problems((r) => {
      const agent = r.predicate.kube!.containers[1]!
      agent.readOnlyRoot = false
      agent.capAdd = ['CAP_SYS_ADMIN']
      agent.privileged = true
    })
    expect(weak).toContainEqual('predicate.kube.containers[1]: agent ran with a writable root file system, capabilities CAP_SYS_ADMIN, privileged, which predicate.policy.hardening does not allow')
    expect(await problems((r) => void (r.predicate.kube!.containers[0]!.seccomp = 'unconfined'))).toContainEqual(expect.stringMatching(/^predicate\.kube\.containers\[0\]: proxy ran with seccomp unconfined/))
    expect(await problems((r) => void (r.predicate.kube!.containers[1]!.imageId = '9'.repeat(64)))).toContainEqual(expect.stringMatching(/^predicate\.kube\.containers: ran the agent from image 9{19}…, but predicate\.image\.id is d{12}…$/))
    expect(await problems((r) => void (r.predicate.kube!.containers[1]!.exitCode = 3))).toContainEqual('predicate.kube.containers: gives the agent exit code 3 but predicate.exitCode is 0')
  })

  it('a host path as its mount is not a cluster run\'s clone; a local run keeps its absolute-path rule', async () => {
    expect(await problems((r) => void (r.predicate.mounts[0]!.source = '/home/dev/app'))).toContainEqual(expect.stringMatching(/^predicate\.mounts: must be the one clone of https:\/\/git\.example\/org\/app\.git#b{40}/))
  })
})

describe('the generated JSON schema', () => {
  it('carries verb export and predicate.kube (make schemas)', () => {
    const schema = readFileSync(join(REPO_ROOT, 'schemas/agent-machine-evidence-record.schema.json'), 'utf8')
    expect(schema).toContain('"export"')
    expect(schema).toContain('"kube"')
    expect(schema).toContain('"bundleRefused"')
  })
})
