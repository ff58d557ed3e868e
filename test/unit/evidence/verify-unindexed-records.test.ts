// A record on disk that the index does not vouch for (yet): adopted as "not indexed yet" only when
// it is exactly the begin a killed writer left behind, the index is otherwise clean, and (in a
// signed dir) its envelope verifies; everything else is named: planted, never indexed, altered, or
// a completion the index never got.
import {readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {beginRecord as beginUnsigned} from '../../../src/core/evidence/store.js'
import {recordDigest, serializeRecord, type EvidenceRecord} from '../../../src/core/evidence/record.js'
import {beginRecord, inspectPath, sampleDraft, tempDir} from './helpers.js'

const indexFile = (dir: string) => join(dir, 'index.jsonl')
const indexLines = (dir: string) => readFileSync(indexFile(dir), 'utf8').split('\n').filter(Boolean)
const writeLines = (dir: string, lines: string[]) => writeFileSync(indexFile(dir), lines.map((l) => `${l}\n`).join(''))
/** As if the writer was killed right before its last index append (and the checkpoint after it). */
const dropLastLine = (dir: string, checkpoint: Buffer | null) => {
  writeLines(dir, indexLines(dir).slice(0, -1))
  if (checkpoint) writeFileSync(join(dir, 'checkpoint.dsse'), checkpoint)
}
const checkpointOf = (dir: string) => readFileSync(join(dir, 'checkpoint.dsse'))
/** Makes index line n (1-based) non-canonical: a finding about the index that says nothing about records. */
const spoilLine = (dir: string, n: number) => {
  const lines = indexLines(dir)
  lines[n - 1] = lines[n - 1]!.replace(/^\{/, '{ ')
  writeLines(dir, lines)
}
const NOT_INDEXED = 'not in index.jsonl: written but never indexed, or its index lines were removed'
const PLANTED = 'planted: not in index.jsonl and not signed'

describe('a begin whose index line never landed', () => {
  it('in an unsigned dir: adopted with a note, no finding (the dir is unverified, not invalid)', async () => {
    const dir = tempDir()
    await (await beginUnsigned(dir, sampleDraft())).complete({exitCode: 0})
    const orphan = await beginUnsigned(dir, sampleDraft())
    dropLastLine(dir, null)
    const result = await inspectPath(dir)
    expect(result.findings).toEqual([])
    expect(result.verdict).toBe('unverified')
    expect(result.records[1]).toMatchObject({file: orphan.file, seq: 2, status: 'started', incomplete: true, note: expect.stringMatching(/^not indexed yet: its writer was killed/)})
    expect(result.incomplete).toBe(1)
  })

  it('in a signed dir, with its envelope: adopted the same way', async () => {
    const dir = tempDir()
    await (await beginRecord(dir, sampleDraft())).complete({exitCode: 0})
    const before = checkpointOf(dir)
    const orphan = await beginRecord(dir, sampleDraft())
    dropLastLine(dir, before)
    const result = await inspectPath(dir)
    expect(result).toMatchObject({verdict: 'valid', findings: []})
    expect(result.records[1]).toMatchObject({file: orphan.file, signed: true, note: expect.stringMatching(/^not indexed yet/)})
  })

  it('in a signed dir, without its envelope: planted', async () => {
    const dir = tempDir()
    await (await beginRecord(dir, sampleDraft())).complete({exitCode: 0})
    const before = checkpointOf(dir)
    const orphan = await beginRecord(dir, sampleDraft())
    dropLastLine(dir, before)
    rmSync(`${orphan.file}.dsse`)
    const result = await inspectPath(dir)
    expect(result.findings).toContainEqual({file: orphan.file, field: null, problem: PLANTED})
    expect(result.records[1]?.note).toBeNull()
  })

  it('while the index has a problem of its own, nothing is adopted: the record is named as never indexed', async () => {
    const unsigned = tempDir()
    await (await beginUnsigned(unsigned, sampleDraft())).complete({exitCode: 0})
    const a = await beginUnsigned(unsigned, sampleDraft())
    dropLastLine(unsigned, null)
    spoilLine(unsigned, 1)
    const u = await inspectPath(unsigned)
    expect(u.findings).toContainEqual({file: a.file, field: null, problem: NOT_INDEXED})
    expect(u.records[1]?.note).toBeNull()

    // Signed and its envelope verifies: still not adopted, and not called planted either.
    const signed = tempDir()
    await (await beginRecord(signed, sampleDraft())).complete({exitCode: 0})
    const before = checkpointOf(signed)
    const b = await beginRecord(signed, sampleDraft())
    dropLastLine(signed, before)
    spoilLine(signed, 2)
    const s = await inspectPath(signed)
    expect(s.findings).toContainEqual({file: b.file, field: null, problem: NOT_INDEXED})
    expect(s.findings.filter((f) => f.file === b.file)).toEqual([{file: b.file, field: null, problem: NOT_INDEXED}])
  })

  it('a record that is not the next seq after the index (a completed one) is never adopted', async () => {
    const dir = tempDir()
    const a = await beginUnsigned(dir, sampleDraft())
    await a.complete({exitCode: 0})
    writeLines(dir, []) // an empty index: present, no lines
    const result = await inspectPath(dir)
    expect(result.findings).toEqual([{file: a.file, field: null, problem: NOT_INDEXED}])
    expect(result.index).toMatchObject({present: true, lines: 0, head: null})
  })

  it('without any index, records are not each named as unindexed: the index itself is missing', async () => {
    const dir = tempDir()
    await (await beginUnsigned(dir, sampleDraft())).complete({exitCode: 0})
    await (await beginUnsigned(dir, sampleDraft())).complete({exitCode: 0})
    rmSync(indexFile(dir))
    const result = await inspectPath(dir)
    expect(result.findings).toEqual([{file: indexFile(dir), field: null, problem: 'missing: the dir has records but no index.jsonl (deleted or moved)'}])
    expect(result.index).toEqual({file: indexFile(dir), present: false, lines: 0, head: null})
    expect(result.chain).toMatchObject({checked: true, length: 2})
  })
})

describe('a record the index has, in another state', () => {
  it('a completion whose index line never landed is named as such, with the line that began it', async () => {
    const dir = tempDir()
    await (await beginUnsigned(dir, sampleDraft())).complete({exitCode: 0})
    const h = await beginUnsigned(dir, sampleDraft())
    await h.complete({exitCode: 0})
    dropLastLine(dir, null)
    expect((await inspectPath(dir)).findings).toEqual([
      {
        file: h.file,
        field: 'predicate.status',
        problem: 'is "completed" but index.jsonl has no completion for it (line 3 began it): the CLI was killed while completing it, or the file was changed afterwards',
      },
    ])
  })

  it('an "incomplete" completion without its index line is named the same way', async () => {
    const dir = tempDir()
    const h = await beginUnsigned(dir, sampleDraft())
    await h.complete({exitCode: null})
    dropLastLine(dir, null)
    const result = await inspectPath(dir)
    expect(result.findings).toEqual([{file: h.file, field: 'predicate.status', problem: expect.stringMatching(/^is "incomplete" but index\.jsonl has no completion for it \(line 1 began it\)/)}])
    expect(result.records[0]).toMatchObject({status: 'incomplete', incomplete: true, valid: false})
  })

  it('a started record changed after its begin line is altered, naming both digests and the line', async () => {
    const dir = tempDir()
    const h = await beginUnsigned(dir, sampleDraft())
    const record = JSON.parse(readFileSync(h.file, 'utf8')) as EvidenceRecord
    record.predicate.argv = [...record.predicate.argv, '--extra']
    writeFileSync(h.file, serializeRecord(record))
    const [begin] = indexLines(dir).map((l) => JSON.parse(l) as {digest: string})
    expect((await inspectPath(dir)).findings).toEqual([
      {file: h.file, field: null, problem: `altered: its digest ${recordDigest(record)} does not match ${begin!.digest} recorded at index.jsonl line 1 — the file changed after it was written`},
    ])
  })

  it('a completed record without its completion line whose startedDigest is not its begin is altered, not an interrupted completion', async () => {
    const dir = tempDir()
    const h = await beginUnsigned(dir, sampleDraft())
    await h.complete({exitCode: 0})
    dropLastLine(dir, null)
    const record = JSON.parse(readFileSync(h.file, 'utf8')) as EvidenceRecord
    record.predicate.chain.startedDigest = `sha256:${'e'.repeat(64)}`
    writeFileSync(h.file, serializeRecord(record))
    const findings = (await inspectPath(dir)).findings
    expect(findings).toEqual([{file: h.file, field: null, problem: expect.stringMatching(/^altered: its digest sha256:[0-9a-f]{64} does not match sha256:[0-9a-f]{64} recorded at index\.jsonl line 1 — /)}])
  })

  it('a completed record whose index has both lines but a changed startedDigest: named against the begin line, besides the alteration', async () => {
    const dir = tempDir()
    const h = await beginUnsigned(dir, sampleDraft())
    await h.complete({exitCode: 0})
    const record = JSON.parse(readFileSync(h.file, 'utf8')) as EvidenceRecord
    const [begin] = indexLines(dir).map((l) => JSON.parse(l) as {digest: string})
    record.predicate.chain.startedDigest = `sha256:${'e'.repeat(64)}`
    writeFileSync(h.file, serializeRecord(record))
    const findings = (await inspectPath(dir)).findings
    expect(findings).toContainEqual({file: h.file, field: 'predicate.chain.startedDigest', problem: `is sha256:${'e'.repeat(64)} but index.jsonl line 1 recorded ${begin!.digest} when it began`})
    expect(findings).toContainEqual({file: h.file, field: null, problem: expect.stringMatching(/^altered: .* recorded at index\.jsonl line 2 — /)})
  })
})
