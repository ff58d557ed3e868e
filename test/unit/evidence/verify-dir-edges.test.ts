// Edges of an evidence dir's verification: what counts as a trace of signing, a record the index
// no longer lists placed before the ones it does, a record file under another seq's name, a record
// file that is a link, the started digest compared only when there is one, what the index's own
// problems change (adoption) and what other files' problems do not, and an index of garbage only.
import {mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {recordFileName} from '../../../src/core/evidence/index-log.js'
import {serializeRecord, type EvidenceRecord} from '../../../src/core/evidence/record.js'
import {beginRecord as beginUnsigned} from '../../../src/core/evidence/store.js'
import {beginRecord, completedDir, indexEntries, inspectPath, sampleDraft, tempDir, writeIndex} from './helpers.js'

const unsignedDir = (n: number) => completedDir(n, {signed: false})
const indexFile = (dir: string) => join(dir, 'index.jsonl')
const lines = (dir: string) => readFileSync(indexFile(dir), 'utf8').split('\n').filter(Boolean)
const entriesOf = indexEntries
const read = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as EvidenceRecord

describe('traces of signing', () => {
  it('a checkpoint that cannot be read (a link) still makes the dir signed', async () => {
    const {dir, files} = await unsignedDir(1)
    const elsewhere = join(tempDir(), 'checkpoint.dsse')
    writeFileSync(elsewhere, 'x')
    symlinkSync(elsewhere, join(dir, 'checkpoint.dsse'))
    const result = await inspectPath(dir)
    expect(result.verdict).toBe('invalid')
    expect(result.findings).toContainEqual({file: join(dir, 'checkpoint.dsse'), field: null, problem: 'is a symlink: evidence files are never followed through links'})
    expect(result.findings).toContainEqual({file: files[0], field: 'signature', problem: expect.stringMatching(/^not signed: .*\.dsse is missing/)})
  })

  it('no evidence at all names the dir in the error', async () => {
    const dir = tempDir()
    mkdirSync(join(dir, 'records'))
    writeFileSync(indexFile(dir), '')
    await expect(inspectPath(dir)).rejects.toMatchObject({code: 'EVIDENCE_EMPTY', details: {path: dir}})
  })
})

describe('where records sit', () => {
  it('a record the index no longer lists comes before the later ones it does, and the head is the highest seq', async () => {
    const {dir, files} = await unsignedDir(3)
    writeIndex(dir, entriesOf(dir).filter((e) => e.seq !== 1))
    const result = await inspectPath(dir)
    expect(result.records.map((r) => r.file)).toEqual(files)
    expect(result.chain).toEqual({checked: true, length: 3, head: {seq: 3, digest: result.records[2]!.digest}})
  })

  it('a record under another seq’s file name sits at its own seq', async () => {
    const {dir, files} = await unsignedDir(2)
    const renamed = join(dir, 'records', recordFileName(5, read(files[1]!).predicate.runId))
    renameSync(files[1]!, renamed)
    const result = await inspectPath(dir)
    expect(result.chain.length).toBe(2)
    expect(result.records.map((r) => [r.file, r.seq])).toEqual([
      [files[0], 1],
      [files[1], 2],
      [renamed, 2],
    ])
  })

  it('a record file that is a link: only that it is a link, no alteration', async () => {
    const {dir, files} = await unsignedDir(2)
    const real = join(tempDir(), 'real.json')
    writeFileSync(real, readFileSync(files[1]!))
    rmSync(files[1]!)
    symlinkSync(real, files[1]!)
    const result = await inspectPath(dir)
    expect(result.findings).toEqual([{file: files[1], field: null, problem: 'is a symlink: evidence files are never followed through links'}])
    expect(result.records[1]).toMatchObject({digest: null, valid: false})
  })

  it('an index of garbage only, no record: no chain head', async () => {
    const dir = tempDir()
    mkdirSync(join(dir, 'records'))
    writeFileSync(indexFile(dir), 'garbage\n')
    const result = await inspectPath(dir)
    expect(result.chain).toEqual({checked: true, length: 0, head: null})
    expect(result.findings).toEqual([{file: indexFile(dir), field: 'line 1', problem: expect.stringMatching(/^not JSON: /)}])
  })
})

describe('the started digest against the begin line', () => {
  it('compared only when the record has one: null or a number is left to the record’s own checks', async () => {
    for (const value of [null, 5]) {
      const {dir, files} = await unsignedDir(1)
      const r = read(files[0]!)
      ;(r.predicate.chain as {startedDigest: unknown}).startedDigest = value
      writeFileSync(files[0]!, serializeRecord(r))
      const result = await inspectPath(dir)
      expect(result.findings.some((f) => f.field === 'predicate.chain.startedDigest' && /index\.jsonl line/.test(f.problem)), String(value)).toBe(false)
      expect(result.findings.some((f) => f.file === files[0] && /^altered: /.test(f.problem))).toBe(true)
    }
  })

  it('a started record changed after its begin is altered, even when it claims its begin’s digest as started digest', async () => {
    const dir = tempDir()
    const h = await beginUnsigned(dir, sampleDraft())
    const [begin] = entriesOf(dir)
    const r = read(h.file)
    r.predicate.chain.startedDigest = begin!.digest
    writeFileSync(h.file, serializeRecord(r))
    const result = await inspectPath(dir)
    expect(result.findings).toContainEqual({file: h.file, field: null, problem: expect.stringMatching(/^altered: /)})
    expect(result.findings.some((f) => f.field === 'predicate.status')).toBe(false)
  })

  it('a record whose status is none of the known ones, claiming its begin’s digest, is altered too', async () => {
    const dir = tempDir()
    const h = await beginUnsigned(dir, sampleDraft())
    const [begin] = entriesOf(dir)
    const r = read(h.file)
    r.predicate.chain.startedDigest = begin!.digest
    ;(r.predicate as {status: string}).status = 'done'
    writeFileSync(h.file, serializeRecord(r))
    const result = await inspectPath(dir)
    expect(result.findings).toContainEqual({file: h.file, field: null, problem: expect.stringMatching(/^altered: /)})
    expect(result.findings.some((f) => f.field === 'predicate.status' && /index\.jsonl has no completion/.test(f.problem))).toBe(false)
  })
})

describe('adoption and other files’ problems', () => {
  it('a stray file in records/ does not stop a killed writer’s begin from being adopted', async () => {
    const dir = tempDir()
    await (await beginRecord(dir, sampleDraft())).complete({exitCode: 0})
    const checkpoint = readFileSync(join(dir, 'checkpoint.dsse'))
    const orphan = await beginRecord(dir, sampleDraft())
    writeFileSync(indexFile(dir), lines(dir).slice(0, -1).map((l) => `${l}\n`).join(''))
    writeFileSync(join(dir, 'checkpoint.dsse'), checkpoint)
    writeFileSync(join(dir, 'records', 'notes.txt'), 'x')
    const result = await inspectPath(dir)
    expect(result.findings.map((f) => f.file)).toEqual([join(dir, 'records', 'notes.txt')])
    expect(result.records.find((r) => r.file === orphan.file)?.note).toMatch(/^not indexed yet/)
  })
})

describe('index lines', () => {
  it('only the last line of a cut-off index is named as cut off; a bad line before it is "not JSON"', async () => {
    const {dir} = await unsignedDir(1)
    const [begin, complete] = lines(dir)
    writeFileSync(indexFile(dir), `${begin}\ngarbage\n${complete}`)
    const found = (await inspectPath(dir)).findings.filter((f) => f.file === indexFile(dir)).map((f) => `${f.field}: ${f.problem}`)
    expect(found).toContainEqual(expect.stringMatching(/^line 2: not JSON: /))
    expect(found).toContainEqual('line 3: ends without a newline: an append was cut off')
    expect(found.filter((f) => /cut off/.test(f))).toEqual(['line 3: ends without a newline: an append was cut off'])
  })

  it('an index that cannot be read is present (named for what it is), not missing', async () => {
    const {dir} = await unsignedDir(1)
    rmSync(indexFile(dir))
    mkdirSync(indexFile(dir))
    const found = (await inspectPath(dir)).findings.filter((f) => f.file === indexFile(dir))
    expect(found).toEqual([{file: indexFile(dir), field: null, problem: 'is a directory, not a regular file'}])
  })
})
