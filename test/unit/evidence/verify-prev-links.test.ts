// A record's prev link against the index: it must be a digest its predecessor had (by the index)
// before this record began — any such state, not only the last; a null prev, a predecessor that is
// nowhere, and a completion under another file are each named exactly. A prev of the wrong type is
// a schema problem, not a chain break.
import {readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {recordFileName} from '../../../src/core/evidence/index-log.js'
import {recordDigest, serializeRecord, type EvidenceRecord} from '../../../src/core/evidence/record.js'
import {beginRecord as beginUnsigned} from '../../../src/core/evidence/store.js'
import {completedDir, indexEntries, inspectPath, sampleDraft, tempDir, writeIndex} from './helpers.js'

const unsignedDir = (n: number) => completedDir(n, {signed: false})
const indexFile = (dir: string) => join(dir, 'index.jsonl')
const entriesOf = indexEntries
const read = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as EvidenceRecord
/** Rewrites a completed record and points the index's completion line at its new digest. */
function rewriteCompleted(dir: string, file: string, change: (r: EvidenceRecord) => void): EvidenceRecord {
  const r = read(file)
  change(r)
  writeFileSync(file, serializeRecord(r))
  const name = file.split('/').pop()
  writeIndex(dir, entriesOf(dir).map((e) => (e.file === name && e.event === 'complete' ? {...e, digest: recordDigest(r)} : e)))
  return r
}
const prevFindings = async (dir: string) => (await inspectPath(dir)).findings.filter((f) => f.field === 'predicate.chain.prev')

describe('prev against the index', () => {
  it('any state the predecessor had before this record began is accepted, not only its last', async () => {
    const {dir, files} = await unsignedDir(2)
    const startedOfFirst = read(files[0]!).predicate.chain.startedDigest
    rewriteCompleted(dir, files[1]!, (r) => void (r.predicate.chain.prev = startedOfFirst))
    const result = await inspectPath(dir)
    expect(result.findings).toEqual([])
  })

  it('a null prev after the first record is named with the digest the predecessor had and the line', async () => {
    const {dir, files} = await unsignedDir(2)
    rewriteCompleted(dir, files[1]!, (r) => void (r.predicate.chain.prev = null))
    const e = entriesOf(dir)
    expect(await prevFindings(dir)).toEqual([
      {file: files[1], field: 'predicate.chain.prev', problem: 'is null on seq 2: only seq 1 starts a chain'},
      {file: files[1], field: 'predicate.chain.prev', problem: `chain break: is null but the previous record (seq 1, ${files[0]}) was ${e[1]!.digest} when this one began (index.jsonl line 2)`},
    ])
  })

  it('a prev that is no string is a schema problem of the record, not a chain break', async () => {
    const {dir, files} = await unsignedDir(2)
    rewriteCompleted(dir, files[1]!, (r) => void ((r.predicate.chain as {prev: unknown}).prev = 5))
    const result = await inspectPath(dir)
    expect(result.findings.some((f) => f.file === files[1] && f.field === 'predicate.chain.prev' && /^chain break/.test(f.problem))).toBe(false)
    expect(result.findings.some((f) => f.file === files[1])).toBe(true)
  })

  it('a predecessor neither in the index nor on disk', async () => {
    const {dir, files} = await unsignedDir(2)
    rmSync(files[0]!)
    writeIndex(dir, entriesOf(dir).filter((e) => e.seq !== 1))
    expect(await prevFindings(dir)).toEqual([
      {file: files[1], field: 'predicate.chain.prev', problem: 'chain break: no record with seq 1 exists before it (missing from the index and the dir)'},
    ])
  })

  it('begun while its predecessor was still running: checked against the predecessor’s begin line', async () => {
    const dir = tempDir()
    const a = await beginUnsigned(dir, sampleDraft())
    const b = await beginUnsigned(dir, sampleDraft())
    await a.complete({exitCode: 0})
    await b.complete({exitCode: 0})
    const wrong = `sha256:${'7'.repeat(64)}`
    rewriteCompleted(dir, b.file, (r) => void (r.predicate.chain.prev = wrong))
    const begin1 = entriesOf(dir)[0]!
    expect(await prevFindings(dir)).toEqual([
      {file: b.file, field: 'predicate.chain.prev', problem: `chain break: is ${wrong} but the previous record (seq 1, ${a.file}) was ${begin1.digest} when this one began (index.jsonl line 1)`},
    ])
  })

  it('a digest the index gives another file for the same seq does not link', async () => {
    const {dir, files} = await unsignedDir(2)
    const foreign = `sha256:${'8'.repeat(64)}`
    rewriteCompleted(dir, files[1]!, (r) => void (r.predicate.chain.prev = foreign))
    const e = entriesOf(dir)
    // a second begin of seq 1, for another file, carrying the digest record 2 now claims
    writeIndex(dir, [e[0]!, e[1]!, {...e[0]!, file: recordFileName(1, 'other-run'), runId: 'other-run', digest: foreign}, e[2]!, e[3]!])
    expect((await prevFindings(dir)).map((f) => f.problem)).toEqual([expect.stringMatching(new RegExp(`^chain break: is ${foreign} but the previous record \\(seq 1, `))])
  })

  it('the first record has no predecessor to check', async () => {
    const {dir} = await unsignedDir(1)
    expect((await inspectPath(dir)).findings).toEqual([])
  })
})

describe('index events of one seq', () => {
  it('a completion under the same run but another file: named for its file, and as not completing what was begun', async () => {
    const {dir} = await unsignedDir(1)
    const e = entriesOf(dir)
    const other = recordFileName(1, 'other-run')
    writeIndex(dir, [e[0]!, {...e[1]!, file: other}])
    const found = (await inspectPath(dir)).findings.filter((f) => f.file === indexFile(dir)).map((f) => `${f.field}: ${f.problem}`)
    expect(found).toEqual([
      `line 2: file: is ${other}, expected ${e[1]!.file} for seq 1 and run ${e[1]!.runId}`,
      `line 2: runId: completes seq 1 as run ${e[1]!.runId}, but line 1 began it as run ${e[0]!.runId}`,
    ])
  })
})
