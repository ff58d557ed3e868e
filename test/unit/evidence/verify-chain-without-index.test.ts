// The chain where there is no index to vouch for it (a loose folder of copied records, or an
// evidence dir whose index is gone), and a copied range (--since): duplicates, gaps of one and of
// several records, and prev links that are neither the predecessor's digest nor its started digest
// are each named; what a range leaves out is not.
import {copyFileSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {beginRecord as beginUnsigned} from '../../../src/core/evidence/store.js'
import {recordDigest, serializeRecord, type EvidenceRecord} from '../../../src/core/evidence/record.js'
import {beginRecord, inspectPath, sampleDraft, tempDir} from './helpers.js'

async function completedDir(n: number, begin = beginRecord): Promise<{dir: string; files: string[]}> {
  const dir = tempDir()
  const files: string[] = []
  for (let i = 0; i < n; i++) {
    const h = await begin(dir, sampleDraft())
    await h.complete({exitCode: 0})
    files.push(h.file)
  }
  return {dir, files}
}

/** Copies the given record files (and their envelopes, if asked) into a fresh loose folder. */
function looseCopy(files: string[], opts: {envelopes?: boolean; names?: string[]} = {}): string[] {
  const d = tempDir('loose-')
  return files.map((f, i) => {
    const to = join(d, opts.names?.[i] ?? f.split('/').pop()!)
    copyFileSync(f, to)
    if (opts.envelopes) copyFileSync(`${f}.dsse`, `${to}.dsse`)
    return to
  })
}
const folderOf = (file: string) => file.slice(0, file.lastIndexOf('/'))
const read = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as EvidenceRecord
const LOOSE = 'a loose folder of records has no index and no signed checkpoint: it cannot show that none was removed, added or replaced as a set (inspect the evidence dir, with --expect-head)'

describe('a loose folder of records', () => {
  it('a whole signed run of records: unverified only for being loose, every record signed, ordered by seq, the head the last', async () => {
    const {files} = await completedDir(3)
    const copies = looseCopy(files, {envelopes: true, names: ['c.json', 'b.json', 'a.json']})
    const result = await inspectPath(folderOf(copies[0]!))
    expect(result).toMatchObject({verdict: 'unverified', valid: false, findings: [], kind: 'dir', evidenceDir: null, index: null, checkpoint: null, signatures: {trust: 'local-key', signed: 3}})
    expect(result.unverified).toEqual([LOOSE])
    expect(result.records.map((r) => [r.file, r.seq])).toEqual([
      [copies[0], 1],
      [copies[1], 2],
      [copies[2], 3],
    ])
    expect(result.chain).toEqual({checked: true, length: 3, head: {seq: 3, digest: result.records[2]!.digest}})
    expect(result.incomplete).toBe(0)
  })

  it('records without a verified signature are counted in a second reason', async () => {
    const {files} = await completedDir(3)
    const copies = looseCopy(files, {envelopes: true})
    rmSync(`${copies[1]}.dsse`)
    const result = await inspectPath(folderOf(copies[0]!))
    expect(result.unverified).toEqual([LOOSE, '1 of 3 records carry no signature verified with a trusted key'])
    expect(result.signatures.signed).toBe(2)
    expect(result.records.map((r) => r.signed)).toEqual([true, null, true])
  })

  it('only *.json files that are not dot files are read; none at all has no evidence (exit 5)', async () => {
    const {files} = await completedDir(1)
    const [copy] = looseCopy(files)
    const d = folderOf(copy!)
    writeFileSync(join(d, 'notes.txt'), 'x')
    writeFileSync(join(d, '.hidden.json'), '{')
    const result = await inspectPath(d)
    expect(result.records.map((r) => r.file)).toEqual([copy])
    expect(result.findings).toEqual([])
    const empty = tempDir('loose-empty-')
    writeFileSync(join(empty, 'notes.txt'), 'x')
    await expect(inspectPath(empty)).rejects.toMatchObject({code: 'EVIDENCE_EMPTY', exitCode: 5})
  })

  it('a file that is no record sorts after the records and is not the head', async () => {
    const {files} = await completedDir(2)
    const copies = looseCopy(files, {names: ['m.json', 'n.json']})
    const d = folderOf(copies[0]!)
    writeFileSync(join(d, 'a.json'), '{')
    const result = await inspectPath(d)
    expect(result.records.map((r) => r.file)).toEqual([copies[0], copies[1], join(d, 'a.json')])
    expect(result.chain.head).toEqual({seq: 2, digest: result.records[1]!.digest})
    expect(result.findings.map((f) => f.file)).toEqual([join(d, 'a.json')])
  })

  it('the same seq twice is named on the second, with the first', async () => {
    const {files} = await completedDir(1)
    const copies = looseCopy([files[0]!, files[0]!], {names: ['a.json', 'b.json']})
    expect((await inspectPath(folderOf(copies[0]!))).findings).toEqual([
      {file: copies[1], field: 'predicate.chain.seq', problem: `duplicate seq 1: ${copies[0]} claims it too (records from different evidence dirs?)`},
    ])
  })

  it('a gap of one record and of several: each named with the seqs that are missing', async () => {
    const {files} = await completedDir(6)
    const copies = looseCopy([files[0]!, files[2]!, files[5]!])
    const findings = (await inspectPath(folderOf(copies[0]!))).findings
    expect(findings).toEqual([
      {file: copies[1], field: 'predicate.chain.prev', problem: `chain break: record seq 2 between ${copies[0]} and this one is missing`},
      {file: copies[2], field: 'predicate.chain.prev', problem: `chain break: records seq 4–5 between ${copies[1]} and this one are missing`},
    ])
    const two = looseCopy([files[0]!, files[3]!])
    expect((await inspectPath(folderOf(two[0]!))).findings).toEqual([
      {file: two[1], field: 'predicate.chain.prev', problem: `chain break: records seq 2–3 between ${two[0]} and this one are missing`},
    ])
  })

  it('a prev that is not the predecessor’s digest is named with both; its started digest is accepted', async () => {
    // b began while a was still running: b.prev is a's started digest.
    const dir = tempDir()
    const a = await beginUnsigned(dir, sampleDraft())
    const b = await beginUnsigned(dir, sampleDraft())
    await a.complete({exitCode: 0})
    await b.complete({exitCode: 0})
    const copies = looseCopy([a.file, b.file])
    expect(read(copies[1]!).predicate.chain.prev).toBe(read(copies[0]!).predicate.chain.startedDigest)
    expect((await inspectPath(folderOf(copies[0]!))).findings).toEqual([])

    const changed = read(copies[1]!)
    changed.predicate.chain.prev = `sha256:${'d'.repeat(64)}`
    writeFileSync(copies[1]!, serializeRecord(changed))
    const first = read(copies[0]!)
    expect((await inspectPath(folderOf(copies[0]!))).findings).toContainEqual({
      file: copies[1],
      field: 'predicate.chain.prev',
      problem: `chain break: is sha256:${'d'.repeat(64)} but the previous record ${copies[0]} is ${recordDigest(first)} (started as ${first.predicate.chain.startedDigest})`,
    })
  })

  it('a null prev after a record still running (whose started digest is null) is a chain break too', async () => {
    const dir = tempDir()
    const a = await beginUnsigned(dir, sampleDraft())
    const b = await beginUnsigned(dir, sampleDraft())
    const copies = looseCopy([a.file, b.file])
    const second = read(copies[1]!)
    second.predicate.chain.prev = null
    writeFileSync(copies[1]!, serializeRecord(second))
    expect((await inspectPath(folderOf(copies[0]!))).findings).toContainEqual({
      file: copies[1],
      field: 'predicate.chain.prev',
      problem: `chain break: is null but the previous record ${copies[0]} is ${recordDigest(read(copies[0]!))}`,
    })
  })

  it('a prev that is no string is a schema problem, not a chain break', async () => {
    const {files} = await completedDir(2, beginUnsigned)
    const copies = looseCopy(files)
    const second = read(copies[1]!)
    ;(second.predicate.chain as {prev: unknown}).prev = 5
    writeFileSync(copies[1]!, serializeRecord(second))
    const findings = (await inspectPath(folderOf(copies[0]!))).findings
    expect(findings.some((f) => f.file === copies[1])).toBe(true)
    expect(findings.some((f) => /^chain break/.test(f.problem))).toBe(false)
  })

  it('--since past every record: nothing to compare, nothing missing', async () => {
    const {files} = await completedDir(2, beginUnsigned)
    const copies = looseCopy(files)
    expect((await inspectPath(folderOf(copies[0]!), {since: 9})).findings).toEqual([])
  })

  it('no record file names the folder in the error; the trusted key is listed', async () => {
    const empty = tempDir('loose-empty-')
    writeFileSync(join(empty, 'notes.txt'), 'x')
    await expect(inspectPath(empty)).rejects.toMatchObject({code: 'EVIDENCE_EMPTY', details: {path: empty}})
    const {files} = await completedDir(1)
    const [copy] = looseCopy(files)
    expect((await inspectPath(folderOf(copy!))).signatures.keyids).toHaveLength(1)
  })

  it('a null prev after the first record is a chain break', async () => {
    const {files} = await completedDir(2, beginUnsigned)
    const copies = looseCopy(files)
    const second = read(copies[1]!)
    second.predicate.chain.prev = null
    writeFileSync(copies[1]!, serializeRecord(second))
    const first = read(copies[0]!)
    expect((await inspectPath(folderOf(copies[0]!))).findings).toContainEqual({
      file: copies[1],
      field: 'predicate.chain.prev',
      problem: `chain break: is null but the previous record ${copies[0]} is ${recordDigest(first)} (started as ${first.predicate.chain.startedDigest})`,
    })
  })

  it('--since: records before the range are not compared with it; the range must begin with that seq', async () => {
    const {files} = await completedDir(5, beginUnsigned)
    const copies = looseCopy([files[0]!, files[2]!, files[3]!])
    const d = folderOf(copies[0]!)
    expect((await inspectPath(d)).findings.map((f) => f.file)).toEqual([copies[1]])
    expect((await inspectPath(d, {since: 3})).findings).toEqual([])
    // From seq 2 on, record 2 belongs to the range: its absence is named even though record 1 is left out.
    expect((await inspectPath(d, {since: 2})).findings).toEqual([
      {file: copies[1], field: 'predicate.chain.prev', problem: 'chain break: the range begins at seq 2 (--since), but seq 2 before this one is missing'},
    ])
    const late = looseCopy([files[3]!, files[4]!])
    expect((await inspectPath(folderOf(late[0]!), {since: 2})).findings).toEqual([
      {file: late[0], field: 'predicate.chain.prev', problem: 'chain break: the range begins at seq 2 (--since), but seq 2–3 before this one is missing'},
    ])
    expect((await inspectPath(folderOf(late[0]!), {since: 4})).findings).toEqual([])
  })
})

describe('an evidence dir without its index', () => {
  it('the chain is checked from the records: a gap is named', async () => {
    const {dir, files} = await completedDir(3, beginUnsigned)
    rmSync(join(dir, 'index.jsonl'))
    rmSync(files[1]!)
    const findings = (await inspectPath(dir)).findings
    expect(findings).toContainEqual({file: files[2], field: 'predicate.chain.prev', problem: `chain break: record seq 2 between ${files[0]} and this one is missing`})
  })
})

describe('an evidence dir copied from a seq on (--since)', () => {
  it('what lies before the range is dropped: its missing records and the first record’s link; the first record of the range itself is still required', async () => {
    const {dir, files} = await completedDir(4, beginUnsigned)
    for (const f of files.slice(0, 2)) rmSync(f)
    const before = await inspectPath(dir)
    expect(before.findings.map((f) => [f.file, f.field])).toEqual([
      [files[0], null],
      [files[1], null],
      [files[2], 'predicate.chain.prev'],
    ])
    const ranged = await inspectPath(dir, {since: 3})
    expect(ranged.findings).toEqual([])
    expect(ranged.records.map((r) => r.file)).toEqual([files[2], files[3]])
    // From seq 2 on: record 2 is expected (missing), and record 3's link to it is kept.
    const from2 = await inspectPath(dir, {since: 2})
    expect(from2.findings.map((f) => [f.file, f.field])).toEqual([
      [files[1], null],
      [files[2], 'predicate.chain.prev'],
    ])
    expect(from2.records.map((r) => r.file)).toEqual([files[1], files[2], files[3]])
    // The record at the range's start missing is a finding.
    rmSync(files[2]!)
    expect((await inspectPath(dir, {since: 3})).findings).toEqual([
      {file: files[2], field: null, problem: 'missing: index.jsonl line 6 lists it, but the file is gone (deleted or moved)'},
      {file: files[3], field: 'predicate.chain.prev', problem: `chain break: the previous record (seq 3, ${files[2]}) is missing`},
    ])
  })

  it('a finding before the range that is no missing record or chain break is kept', async () => {
    const {dir, files} = await completedDir(3, beginUnsigned)
    const first = read(files[0]!)
    first.predicate.exitCode = 9
    writeFileSync(files[0]!, serializeRecord(first))
    rmSync(files[1]!)
    const findings = (await inspectPath(dir, {since: 3})).findings
    expect(findings).toEqual([{file: files[0], field: null, problem: expect.stringMatching(/^altered: /)}])
  })
})
