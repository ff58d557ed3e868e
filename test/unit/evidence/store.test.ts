import {createHash} from 'node:crypto'
import {existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync, appendFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {AgentMachineError} from '../../../src/core/errors.js'
import {EvidenceRecordSchema, recordDigest, type EvidenceRecord} from '../../../src/core/evidence/record.js'
import {policyHash} from '../../../src/core/policy/hash.js'
import {beginRecord, inspectPath, removeTranspiledStore, runChild, sampleDraft, tempDir, TEST_KEY} from './helpers.js'

const readRecord = (file: string): EvidenceRecord => JSON.parse(readFileSync(file, 'utf8')) as EvidenceRecord
const indexLines = (dir: string) => readFileSync(join(dir, 'index.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as {event: string; seq: number; digest: string; prevLine: string | null})
const fileDigest = (file: string) => `sha256:${createHash('sha256').update(readFileSync(file).subarray(0, -1)).digest('hex')}`

describe('beginRecord / complete', () => {
  afterAll(removeTranspiledStore)

  it('writes a started record, then a completed one, atomically, with 0600 files in 0700 dirs', async () => {
    const dir = join(tempDir(), 'evidence')
    const draft = sampleDraft()
    const handle = await beginRecord(dir, draft)
    expect(handle.seq).toBe(1)
    expect(handle.file).toBe(join(dir, 'records', `000001-${draft.runId}.json`))
    const started = readRecord(handle.file)
    expect(started.predicate.status).toBe('started')
    expect(started.predicate.chain).toEqual({seq: 1, prev: null, startedDigest: null})
    expect(started.predicate.policyHash).toBe(policyHash(draft.policy))
    expect(started.subject).toEqual([{name: '/workspace/app', digest: {gitCommit: 'c'.repeat(40)}}])
    expect(fileDigest(handle.file)).toBe(handle.digest)

    const done = await handle.complete({exitCode: 0, finishedAt: '2026-01-02T03:05:00.000Z'})
    const completed = readRecord(handle.file)
    expect(EvidenceRecordSchema.safeParse(completed).success).toBe(true)
    expect(completed.predicate).toMatchObject({status: 'completed', exitCode: 0, finishedAt: '2026-01-02T03:05:00.000Z'})
    expect(completed.predicate.chain.startedDigest).toBe(recordDigest(started))
    // The digest is sha256 over the file without its trailing newline (the JCS text).
    expect(fileDigest(handle.file)).toBe(done.digest)
    expect(readFileSync(handle.file, 'utf8').endsWith('}\n')).toBe(true)

    expect(indexLines(dir).map((l) => [l.event, l.seq, l.digest])).toEqual([
      ['begin', 1, recordDigest(started)],
      ['complete', 1, done.digest],
    ])
    if (process.platform !== 'win32') {
      expect(statSync(handle.file).mode & 0o777).toBe(0o600)
      expect(statSync(join(dir, 'index.jsonl')).mode & 0o777).toBe(0o600)
      expect(statSync(dir).mode & 0o777).toBe(0o700)
      expect(statSync(join(dir, 'records')).mode & 0o777).toBe(0o700)
    }
    // The record and its signed envelope (and the writer's mark that the index names every record,
    // a dot-file inspect ignores); the index, its signed checkpoint and the public key.
    expect(readdirSync(join(dir, 'records')).sort()).toEqual(['.indexed', `000001-${draft.runId}.json`, `000001-${draft.runId}.json.dsse`])
    expect(readdirSync(dir).sort()).toEqual(['checkpoint.dsse', 'index.jsonl', 'keys', 'records'])
    expect(readdirSync(join(dir, 'keys'))).toEqual([`${TEST_KEY.keyid}.pub`])
    const result = await inspectPath(dir)
    expect(result.findings).toEqual([])
    expect(result.valid).toBe(true)
  })

  it('uses sha256(runId) as the subject when no mount is a git repo', async () => {
    const dir = tempDir()
    const draft = sampleDraft({git: [{target: '/workspace/app', ref: null, commit: null, dirty: null}]})
    const handle = await beginRecord(dir, draft)
    expect(handle.record.subject).toEqual([{name: `run:${draft.runId}`, digest: {sha256: createHash('sha256').update(draft.runId).digest('hex')}}])
  })

  it('chains sequential records to the previous record’s final digest', async () => {
    const dir = tempDir()
    const digests: string[] = []
    for (let i = 0; i < 3; i++) {
      const handle = await beginRecord(dir, sampleDraft())
      expect(handle.record.predicate.chain.prev).toBe(i === 0 ? null : digests[i - 1])
      digests.push((await handle.complete({exitCode: i})).digest)
    }
    const lines = indexLines(dir)
    expect(lines).toHaveLength(6)
    expect(lines[0]?.prevLine).toBeNull()
    expect((await inspectPath(dir)).valid).toBe(true)
  })

  it('an interrupted session is recorded as incomplete (no exit code)', async () => {
    const dir = tempDir()
    const handle = await beginRecord(dir, sampleDraft())
    const done = await handle.complete({exitCode: null})
    expect(done.record.predicate.status).toBe('incomplete')
    const result = await inspectPath(dir)
    expect(result.valid).toBe(true)
    expect(result.incomplete).toBe(1)
    await expect(handle.complete({exitCode: 0})).rejects.toThrow(/already completed/)
  })

  it('records begun concurrently in one process all land, chained in start order', async () => {
    const dir = tempDir()
    const handles = await Promise.all(Array.from({length: 8}, () => beginRecord(dir, sampleDraft())))
    expect(handles.map((h) => h.seq).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    // A record begun while its predecessor was still running carries the predecessor's started digest.
    const bySeq = new Map(handles.map((h) => [h.seq, h]))
    for (const h of handles) if (h.seq > 1) expect(h.record.predicate.chain.prev).toBe(bySeq.get(h.seq - 1)?.digest)
    // Completed in reverse order, some concurrently.
    await Promise.all([...handles].reverse().map((h, i) => h.complete({exitCode: i})))
    const result = await inspectPath(dir)
    expect(result.findings).toEqual([])
    expect(result.records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    expect(result.records.every((r) => r.status === 'completed')).toBe(true)
  })

  it('two processes writing at once both land, chained in order', async () => {
    const dir = tempDir()
    const [a, b] = await Promise.all([runChild(dir, {count: 10, tag: 'a'}), runChild(dir, {count: 10, tag: 'b'})])
    expect(a).toMatchObject({code: 0, stderr: ''})
    expect(b).toMatchObject({code: 0, stderr: ''})
    const result = await inspectPath(dir)
    expect(result.findings).toEqual([])
    expect(result.records.map((r) => r.seq)).toEqual(Array.from({length: 20}, (_, i) => i + 1))
    expect(new Set(result.records.map((r) => r.runId)).size).toBe(20)
    expect(indexLines(dir)).toHaveLength(40)
  }, 60_000)

  it('a CLI killed with SIGKILL leaves a whole "started" record: inspect says incomplete, the dir still verifies', async () => {
    const dir = tempDir()
    await (await beginRecord(dir, sampleDraft())).complete({exitCode: 0})
    const killed = await runChild(dir, {kill: true, tag: 'killed'})
    expect(killed.signal).toBe('SIGKILL')
    const files = readdirSync(join(dir, 'records')).filter((n) => n.endsWith('.json')).sort()
    expect(files).toHaveLength(2)
    const record = readRecord(join(dir, 'records', files[1] ?? ''))
    expect(record.predicate.status).toBe('started')

    let result = await inspectPath(dir)
    expect(result.findings).toEqual([])
    expect(result.valid).toBe(true)
    expect(result.incomplete).toBe(1)
    expect(result.records[1]).toMatchObject({seq: 2, status: 'started', incomplete: true, valid: true})

    // Later runs chain on after it (to its started digest).
    const next = await beginRecord(dir, sampleDraft())
    expect(next.record.predicate.chain).toMatchObject({seq: 3, prev: recordDigest(record)})
    await next.complete({exitCode: 0})
    result = await inspectPath(dir)
    expect(result.valid).toBe(true)
    expect(result.incomplete).toBe(1)
  }, 30_000)

  it('takes over a lock left behind by a killed writer once it is stale', async () => {
    const dir = tempDir()
    mkdirSync(join(dir, 'index.lock'))
    const old = new Date(Date.now() - 60_000)
    utimesSync(join(dir, 'index.lock'), old, old)
    const handle = await beginRecord(dir, sampleDraft(), {lock: {staleMs: 2000}})
    expect(handle.seq).toBe(1)
  })

  it('refuses to extend an index whose last line was cut off (exit 5)', async () => {
    const dir = tempDir()
    await beginRecord(dir, sampleDraft())
    appendFileSync(join(dir, 'index.jsonl'), '{"v":1,"event":"beg')
    const error = await beginRecord(dir, sampleDraft()).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(AgentMachineError)
    expect(error).toMatchObject({code: 'EVIDENCE_INDEX_DAMAGED', exitCode: 5})
    expect((error as Error).message).toMatch(/index\.jsonl ends with a partial line \(line 2\)/)
  })

  it('refuses an evidence dir inside a read-write mount (exit 3): the agent could rewrite it', async () => {
    const repo = tempDir('evidence-repo-')
    const dir = join(repo, '.evidence')
    const error = await beginRecord(dir, sampleDraft({mounts: [{source: repo, target: '/workspace/app', mode: 'rw'}]})).catch((e: unknown) => e)
    expect(error).toMatchObject({code: 'EVIDENCE_DIR_IN_MOUNT', exitCode: 3})
    // Read-only mounts are fine.
    await expect(beginRecord(dir, sampleDraft({mounts: [{source: repo, target: '/workspace/app', mode: 'ro'}]}))).resolves.toMatchObject({seq: 1})
  })

  it('rejects a run id that cannot name a file, and a draft that breaks the schema', async () => {
    const dir = tempDir()
    await expect(beginRecord(dir, sampleDraft({runId: '../escape'}))).rejects.toMatchObject({code: 'EVIDENCE_RUN_ID_INVALID'})
    await expect(beginRecord(dir, sampleDraft({startedAt: 'yesterday'}))).rejects.toThrow(/field predicate\.startedAt/)
    expect(readdirSync(dir).filter((n) => n !== 'records' && n !== 'index.lock')).toEqual([])
  })

  it('never clobbers: a stray file with the next seq is skipped, not overwritten', async () => {
    const dir = tempDir()
    mkdirSync(join(dir, 'records'), {recursive: true})
    writeFileSync(join(dir, 'records', '000001-stray.json'), 'keep me\n')
    const handle = await beginRecord(dir, sampleDraft())
    expect(handle.seq).toBe(2)
    expect(readFileSync(join(dir, 'records', '000001-stray.json'), 'utf8')).toBe('keep me\n')
  })
})

describe('a writer killed between the two steps of begin or complete', () => {
  const checkpointOf = (dir: string): Buffer | null => (existsSync(join(dir, 'checkpoint.dsse')) ? readFileSync(join(dir, 'checkpoint.dsse')) : null)
  /** As if the writer was killed right before its last index append: that line and the checkpoint signed after it never landed. */
  const dropLastIndexLine = (dir: string, checkpointBefore: Buffer | null) => {
    const lines = readFileSync(join(dir, 'index.jsonl'), 'utf8').split('\n').filter(Boolean)
    writeFileSync(join(dir, 'index.jsonl'), lines.slice(0, -1).map((l) => `${l}\n`).join(''))
    if (checkpointBefore) writeFileSync(join(dir, 'checkpoint.dsse'), checkpointBefore)
    else rmSync(join(dir, 'checkpoint.dsse'), {force: true})
  }

  it('a record written but not yet indexed is incomplete (with a note), and the next begin indexes it', async () => {
    const dir = tempDir()
    await (await beginRecord(dir, sampleDraft())).complete({exitCode: 0})
    const before = checkpointOf(dir)
    const orphan = await beginRecord(dir, sampleDraft())
    dropLastIndexLine(dir, before) // as if killed right after writing the record
    let result = await inspectPath(dir)
    expect(result.findings).toEqual([])
    expect(result.records[1]).toMatchObject({seq: 2, incomplete: true, note: expect.stringMatching(/^not indexed yet/)})

    const next = await beginRecord(dir, sampleDraft())
    expect(next.record.predicate.chain).toMatchObject({seq: 3, prev: orphan.digest})
    expect(indexLines(dir).map((l) => [l.event, l.seq])).toEqual([
      ['begin', 1],
      ['complete', 1],
      ['begin', 2],
      ['begin', 3],
    ])
    result = await inspectPath(dir)
    expect(result.findings).toEqual([])
    expect(result.records[1]?.note).toBeNull()
  })

  it('adoption still links when the predecessor completed meanwhile', async () => {
    const dir = tempDir()
    const a = await beginRecord(dir, sampleDraft())
    const before = checkpointOf(dir)
    await beginRecord(dir, sampleDraft()) // b: prev = a's started digest
    dropLastIndexLine(dir, before) // b's begin line never landed
    await a.complete({exitCode: 0})
    await beginRecord(dir, sampleDraft())
    const result = await inspectPath(dir)
    expect(result.findings).toEqual([])
    expect(result.records.map((r) => [r.seq, r.status])).toEqual([
      [1, 'completed'],
      [2, 'started'],
      [3, 'started'],
    ])
  })

  it('an unindexed record that was re-formatted is not adopted and stays a finding', async () => {
    const dir = tempDir()
    const h = await beginRecord(dir, sampleDraft())
    dropLastIndexLine(dir, null)
    writeFileSync(h.file, readFileSync(h.file, 'utf8').replace('"tool":"codex"', '"tool": "codex"'))
    // Changed after it was signed: its envelope no longer matches, so it is a planted record.
    const notIndexed = {file: h.file, field: null, problem: 'planted: not in index.jsonl and not signed'}
    expect((await inspectPath(dir)).findings).toContainEqual(notIndexed)
    const next = await beginRecord(dir, sampleDraft())
    expect(next.seq).toBe(2)
    expect(indexLines(dir).map((l) => l.seq)).toEqual([2])
    const findings = (await inspectPath(dir)).findings
    expect(findings).toContainEqual(notIndexed)
    expect(findings).toContainEqual({file: next.file, field: 'predicate.chain.prev', problem: `chain break: the previous record (seq 1, ${h.file}) is not in index.jsonl`})
  })

  it('a completion that never reached the index is named precisely (exit 5)', async () => {
    const dir = tempDir()
    const h = await beginRecord(dir, sampleDraft())
    const before = checkpointOf(dir)
    await h.complete({exitCode: 0})
    dropLastIndexLine(dir, before)
    expect((await inspectPath(dir)).findings).toEqual([
      {file: h.file, field: 'predicate.status', problem: expect.stringMatching(/^is "completed" but index\.jsonl has no completion for it \(line 1 began it\): the CLI was killed while completing it/)},
    ])
  })
})

describe('SLSA fields', () => {
  it('the egress proxy log becomes a byproduct by digest; a missing network section leaves none', async () => {
    const dir = tempDir()
    const logDigest = `sha256:${'e'.repeat(64)}`
    const h = await beginRecord(dir, sampleDraft({builder: {id: 'https://sourceos.dev/agent-machine/sourceosctl', version: '0.1.0'}}))
    const done = await h.complete({
      exitCode: 0,
      network: {
        mode: 'allowlist',
        allowlist: {entries: ['api.openai.com:443'], origins: {'api.openai.com:443': ['tool codex']}, hash: `sha256:${'1'.repeat(64)}`},
        proxy: {network: 'n', subnet: '10.0.0.0/24', address: '10.0.0.2', container: 'sourceos-egress-x', logDigest},
        destinations: [],
        unparsedLogLines: 0,
        truncatedDestinations: 0,
        notes: [],
      },
    })
    expect(done.record.predicate.byproducts).toEqual([{name: 'egress-proxy-access-log', digest: {sha256: 'e'.repeat(64)}, annotations: {role: 'byproduct', container: 'sourceos-egress-x'}}])
    expect(done.record.predicate.builder).toEqual({id: 'https://sourceos.dev/agent-machine/sourceosctl', version: '0.1.0'})
    const plain = await beginRecord(dir, sampleDraft())
    expect((await plain.complete({exitCode: 0})).record.predicate.byproducts).toBeUndefined()
    expect((await inspectPath(dir)).verdict).toBe('valid')
  })
})
