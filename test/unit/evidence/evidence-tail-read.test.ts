/**
 * The writer's tail-only read of index.jsonl (src/core/evidence/index-tail.ts): begin and complete
 * read the index from its end, anchored at the signed checkpoint, and get exactly what reading the
 * whole index gave; anything wrong in the tail is refused with the same message as before; a rewrite
 * before the tail is left to `evidence inspect`, which still finds it.
 */
import {execFileSync} from 'node:child_process'
import {appendFileSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {indexLine, lineHash, recordFileName, type IndexEntry} from '../../../src/core/evidence/index-log.js'
import {readIndexTail, tailOf, TAIL_WINDOW_BYTES} from '../../../src/core/evidence/index-tail.js'
import {recordDigest, serializeRecord, type EvidenceRecord} from '../../../src/core/evidence/record.js'
import {CHECKPOINT_PAYLOAD_TYPE, IN_TOTO_PAYLOAD_TYPE, serializeEnvelope, signEnvelope} from '../../../src/core/evidence/signing.js'
import {canonicalJson} from '../../../src/core/policy/hash.js'
import {beginRecord, inspectPath, sampleDraft, tempDir, TEST_KEY} from './helpers.js'

const MAX = 256 * 1024 * 1024
const indexText = (dir: string) => readFileSync(join(dir, 'index.jsonl'), 'utf8')
const indexLinesOf = (dir: string) => indexText(dir).split('\n').filter(Boolean)
const writeIndex = (dir: string, lines: string[]) => writeFileSync(join(dir, 'index.jsonl'), lines.map((l) => `${l}\n`).join(''))

/** What the whole read computes: every line parsed. */
function wholeRead(dir: string) {
  const lines = indexLinesOf(dir)
  const entries = lines.map((l) => JSON.parse(l) as IndexEntry)
  const maxSeq = Math.max(...entries.map((e) => e.seq))
  const digestsOf = (seq: number) => entries.filter((e) => e.seq === seq).map((e) => e.digest)
  return {lastLine: lines.at(-1), lineCount: lines.length, maxSeq, latest: digestsOf(maxSeq).at(-1), digests: digestsOf(maxSeq)}
}

/**
 * A signed chain of `n` completed records, written as the store writes them (records, envelopes,
 * index, checkpoint), in far less time than n launches: its index is larger than the tail window.
 */
async function bigChain(n: number): Promise<string> {
  const dir = tempDir()
  const first = await beginRecord(dir, sampleDraft())
  const template = (await first.complete({exitCode: 0, finishedAt: '2026-01-02T03:06:00.000Z'})).record
  const lines = indexLinesOf(dir)
  let last = lines.at(-1)!
  let prev = recordDigest(template)
  for (let seq = 2; seq <= n; seq++) {
    const runId = `00000000-0000-4000-9000-${String(seq).padStart(12, '0')}`
    const base = {...template.predicate, runId, chain: {seq, prev, startedDigest: null}}
    const started: EvidenceRecord = {...template, predicate: {...base, status: 'started', finishedAt: null, exitCode: null}}
    const startedDigest = recordDigest(started)
    const done: EvidenceRecord = {...template, predicate: {...base, chain: {seq, prev, startedDigest}}}
    const name = recordFileName(seq, runId)
    writeFileSync(join(dir, 'records', name), serializeRecord(done))
    writeFileSync(join(dir, 'records', `${name}.dsse`), serializeEnvelope(signEnvelope(IN_TOTO_PAYLOAD_TYPE, Buffer.from(canonicalJson(done)), TEST_KEY)))
    for (const [event, digest] of [['begin', startedDigest], ['complete', recordDigest(done)]] as const) {
      last = indexLine({v: 1, event, seq, runId, file: name, digest, prevLine: lineHash(last)})
      lines.push(last)
    }
    prev = recordDigest(done)
  }
  writeIndex(dir, lines)
  signCheckpoint(dir, lines.length, last, n)
  return dir
}

function signCheckpoint(dir: string, lines: number, head: string, maxSeq: number): void {
  const checkpoint = {v: 1, lines, head: lineHash(head), maxSeq, signedAt: new Date().toISOString()}
  writeFileSync(join(dir, 'checkpoint.dsse'), serializeEnvelope(signEnvelope(CHECKPOINT_PAYLOAD_TYPE, Buffer.from(canonicalJson(checkpoint)), TEST_KEY)))
}

const refusal = (message: string) => expect.objectContaining({code: 'EVIDENCE_INDEX_DAMAGED', exitCode: 5, message: expect.stringContaining(message)})

describe('the tail read gives what the whole read gave', () => {
  it('on a chain with sessions overlapping, in windows of every size down to a few lines', async () => {
    const dir = tempDir()
    const long = await beginRecord(dir, sampleDraft()) // still running while the others come and go
    for (let i = 0; i < 4; i++) await (await beginRecord(dir, sampleDraft())).complete({exitCode: 0})
    const open = await beginRecord(dir, sampleDraft())
    await long.complete({exitCode: 1})
    const whole = wholeRead(dir)
    for (const firstWindow of [64, 300, 1000, TAIL_WINDOW_BYTES]) {
      const tail = await readIndexTail(dir, TEST_KEY, {maxBytes: MAX, firstWindow})
      expect(tail).not.toBeNull()
      expect({lastLine: tail!.lastLine, lineCount: tail!.lineCount, maxSeq: tail!.maxSeq, latest: tail!.latestDigest.get(tail!.maxSeq), digests: tail!.digestsOf(tail!.maxSeq)}).toEqual(whole)
      expect(tail!.files.has(open.file.split('/').pop()!)).toBe(true)
    }
    // The highest seq's begin line is 3 lines from the end: a window of a few lines is enough.
    expect((await readIndexTail(dir, TEST_KEY, {maxBytes: MAX, firstWindow: 1000}))!.windowBytes).toBeLessThan(indexText(dir).length)
  })

  it('counts the lines appended after the checkpoint (a writer killed between its append and its checkpoint)', async () => {
    const dir = tempDir()
    await (await beginRecord(dir, sampleDraft())).complete({exitCode: 0})
    const checkpoint = readFileSync(join(dir, 'checkpoint.dsse'))
    await beginRecord(dir, sampleDraft())
    writeFileSync(join(dir, 'checkpoint.dsse'), checkpoint) // the checkpoint for line 3 never landed
    const tail = await readIndexTail(dir, TEST_KEY, {maxBytes: MAX, firstWindow: 64})
    expect(tail).toMatchObject({lineCount: 3, maxSeq: 2, lastLine: indexLinesOf(dir)[2]})
  })

  it('reads only the end of a long index, and begin + complete extend it into a chain inspect calls valid', async () => {
    const dir = await bigChain(40)
    const size = indexText(dir).length
    expect(size).toBeGreaterThan(2 * TAIL_WINDOW_BYTES)
    const tail = await readIndexTail(dir, TEST_KEY, {maxBytes: MAX})
    expect(tail).toMatchObject({lineCount: 80, maxSeq: 40, windowBytes: TAIL_WINDOW_BYTES})
    const next = await beginRecord(dir, sampleDraft())
    expect(next.seq).toBe(41)
    expect(next.record.predicate.chain.prev).toBe((JSON.parse(indexLinesOf(dir)[79]!) as IndexEntry).digest)
    await next.complete({exitCode: 0})
    const result = await inspectPath(dir)
    expect(result.findings).toEqual([])
    expect(result.verdict).toBe('valid')
    expect(result.records).toHaveLength(41)
  }, 60_000)

  it('falls back to the whole read without our checkpoint (unsigned, or signed by another key)', async () => {
    const dir = tempDir()
    await (await beginRecord(dir, sampleDraft())).complete({exitCode: 0})
    rmSync(join(dir, 'checkpoint.dsse'))
    expect(await readIndexTail(dir, TEST_KEY, {maxBytes: MAX})).toBeNull()
  })
})

describe('a damaged tail is refused exactly as the whole read refused it', () => {
  it('a tampered last line: "does not match its signed checkpoint"', async () => {
    const dir = await bigChain(40)
    const lines = indexLinesOf(dir)
    const entry = JSON.parse(lines.at(-1)!) as IndexEntry
    lines[lines.length - 1] = indexLine({...entry, digest: `sha256:${'0'.repeat(64)}`})
    writeIndex(dir, lines)
    expect(await readIndexTail(dir, TEST_KEY, {maxBytes: MAX})).toBeNull()
    await expect(beginRecord(dir, sampleDraft())).rejects.toEqual(refusal('line 80 does not match its signed checkpoint (the index was rewritten)'))
  }, 60_000)

  it('the last two lines swapped: the same refusal', async () => {
    const dir = await bigChain(40)
    const lines = indexLinesOf(dir)
    writeIndex(dir, [...lines.slice(0, -2), lines.at(-1)!, lines.at(-2)!])
    expect(await readIndexTail(dir, TEST_KEY, {maxBytes: MAX})).toBeNull()
    await expect(beginRecord(dir, sampleDraft())).rejects.toEqual(refusal('line 80 does not match its signed checkpoint (the index was rewritten)'))
  }, 60_000)

  it('the last line cut off: "records were rolled back"', async () => {
    const dir = await bigChain(40)
    writeIndex(dir, indexLinesOf(dir).slice(0, -1))
    expect(await readIndexTail(dir, TEST_KEY, {maxBytes: MAX})).toBeNull()
    await expect(beginRecord(dir, sampleDraft())).rejects.toEqual(refusal('has 79 lines but its signed checkpoint covers 80 (records were rolled back)'))
  }, 60_000)

  it('a torn last line: "ends with a partial line"', async () => {
    const dir = await bigChain(40)
    appendFileSync(join(dir, 'index.jsonl'), '{"v":1,"event":"beg')
    await expect(beginRecord(dir, sampleDraft())).rejects.toEqual(refusal('ends with a partial line (line 81)'))
  }, 60_000)

  it('a line in the tail that is not an index entry: named by its number', async () => {
    const dir = await bigChain(40)
    const lines = indexLinesOf(dir)
    lines[77] = '{"v":1}'
    writeIndex(dir, lines)
    await expect(beginRecord(dir, sampleDraft())).rejects.toEqual(refusal('line 78 is not a valid index entry'))
  }, 60_000)

  it('a symlink or a FIFO as the index is never read', async () => {
    const dir = tempDir()
    await (await beginRecord(dir, sampleDraft())).complete({exitCode: 0})
    const real = join(tempDir(), 'index.jsonl')
    writeFileSync(real, indexText(dir))
    rmSync(join(dir, 'index.jsonl'))
    symlinkSync(real, join(dir, 'index.jsonl'))
    expect(await readIndexTail(dir, TEST_KEY, {maxBytes: MAX})).toBeNull()
    await expect(beginRecord(dir, sampleDraft())).rejects.toEqual(refusal('is a symlink'))
    rmSync(join(dir, 'index.jsonl'))
    execFileSync('mkfifo', [join(dir, 'index.jsonl')])
    expect(await readIndexTail(dir, TEST_KEY, {maxBytes: MAX})).toBeNull()
    await expect(beginRecord(dir, sampleDraft())).rejects.toEqual(refusal('is a FIFO (named pipe), not a regular file'))
  })

  it('tailOf: a window whose lines do not chain is damaged, one without the head or the last begin must grow', () => {
    const a = indexLine({v: 1, event: 'begin', seq: 1, runId: 'r1', file: recordFileName(1, 'r1'), digest: `sha256:${'1'.repeat(64)}`, prevLine: null})
    const b = indexLine({v: 1, event: 'complete', seq: 1, runId: 'r1', file: recordFileName(1, 'r1'), digest: `sha256:${'2'.repeat(64)}`, prevLine: lineHash(a)})
    const c = indexLine({v: 1, event: 'begin', seq: 2, runId: 'r2', file: recordFileName(2, 'r2'), digest: `sha256:${'3'.repeat(64)}`, prevLine: lineHash(b)})
    const text = (...ls: string[]) => Buffer.from(ls.map((l) => `${l}\n`).join(''))
    expect(tailOf(text(a, b, c), true, {lines: 3, head: lineHash(c), maxSeq: 2})).toMatchObject({lineCount: 3, maxSeq: 2, lastLine: c})
    expect(tailOf(text(a, c, b), true, {lines: 3, head: lineHash(b), maxSeq: 1})).toBe('damaged')
    // Not from the start: the first piece is dropped, so the head (a) is not in it yet.
    expect(tailOf(text(a, b, c), false, {lines: 1, head: lineHash(a), maxSeq: 1})).toBe('short')
    // The head is there but the highest seq's begin line is not.
    expect(tailOf(text(a, b, c).subarray(5), false, {lines: 3, head: lineHash(c), maxSeq: 3})).toBe('short')
    expect(tailOf(text(a, b).subarray(0, -1), true, {lines: 2, head: lineHash(b), maxSeq: 1})).toBe('damaged')
  })
})

describe('a rewrite before the tail is left to inspect, which finds it', () => {
  it('begin extends the chain; inspect names the rewritten line', async () => {
    const dir = await bigChain(40)
    const lines = indexLinesOf(dir)
    const entry = JSON.parse(lines[0]!) as IndexEntry
    lines[0] = indexLine({...entry, digest: `sha256:${'9'.repeat(64)}`})
    writeIndex(dir, lines)
    const next = await beginRecord(dir, sampleDraft())
    expect(next.seq).toBe(41)
    const result = await inspectPath(dir)
    expect(result.verdict).toBe('invalid')
    expect(result.findings).toContainEqual({
      file: join(dir, 'index.jsonl'),
      field: 'line 2: prevLine',
      problem: `does not match line 1 (expected ${lineHash(lines[0]!)}): index lines were removed, inserted or edited`,
    })
  }, 60_000)
})

describe('the writer does not read before the tail', () => {
  it('a line before the tail that is no index entry (the whole read refused it): begin goes on, inspect names it', async () => {
    const dir = await bigChain(40)
    const lines = indexLinesOf(dir)
    lines[0] = '{"v":1}'
    writeIndex(dir, lines)
    const next = await beginRecord(dir, sampleDraft())
    expect(next.seq).toBe(41)
    const result = await inspectPath(dir)
    expect(result.verdict).toBe('invalid')
    expect(result.findings).toContainEqual({file: join(dir, 'index.jsonl'), field: 'line 1: seq', problem: 'Invalid input: expected number, received undefined'})
    expect(result.findings).toContainEqual({file: join(dir, 'index.jsonl'), field: 'line 2: prevLine', problem: `does not match line 1 (expected ${lineHash(lines[0])}): index lines were removed, inserted or edited`})
  }, 60_000)
})

describe('a record no index line names is still found by the next begin', () => {
  const markOf = (dir: string) => readFileSync(join(dir, 'records', '.indexed'), 'utf8')
  const lastLineMark = (dir: string) => `${lineHash(indexLinesOf(dir).at(-1)!)}\n`
  /** The rule: settled exactly when the mark names the last line and was written after records/ last changed. */
  const expectedSettled = (dir: string) =>
    markOf(dir) === lastLineMark(dir) && statSync(join(dir, 'records', '.indexed'), {bigint: true}).ctimeNs > statSync(join(dir, 'records'), {bigint: true}).ctimeNs
  const settled = async (dir: string) => (await readIndexTail(dir, TEST_KEY, {maxBytes: MAX}))?.recordsSettled

  it('begin writes the mark after its append, complete keeps it; inspect ignores it', async () => {
    const dir = await bigChain(40)
    const h = await beginRecord(dir, sampleDraft())
    expect(markOf(dir)).toBe(lastLineMark(dir))
    expect(await settled(dir)).toBe(expectedSettled(dir))
    await h.complete({exitCode: 0})
    expect(markOf(dir)).toBe(lastLineMark(dir))
    expect(await settled(dir)).toBe(expectedSettled(dir))
    await (await beginRecord(dir, sampleDraft())).complete({exitCode: 0})
    expect(markOf(dir)).toBe(lastLineMark(dir))
    expect(readdirSync(join(dir, 'records')).filter((n) => n.startsWith('.'))).toEqual(['.indexed'])
    expect((await inspectPath(dir)).findings).toEqual([])
  }, 60_000)

  it('the record of a writer killed before its append (the mark names an older line) is listed and adopted', async () => {
    const dir = await bigChain(40)
    await (await beginRecord(dir, sampleDraft())).complete({exitCode: 0})
    const checkpoint = readFileSync(join(dir, 'checkpoint.dsse'))
    const lines = indexLinesOf(dir)
    const orphan = await beginRecord(dir, sampleDraft())
    writeIndex(dir, lines) // its begin line and checkpoint never landed
    writeFileSync(join(dir, 'checkpoint.dsse'), checkpoint)
    expect(await settled(dir)).toBe(false)
    const next = await beginRecord(dir, sampleDraft())
    expect(next.seq).toBe(43)
    expect(next.record.predicate.chain.prev).toBe(orphan.digest)
    expect(indexLinesOf(dir).slice(-2).map((l) => (JSON.parse(l) as IndexEntry).seq)).toEqual([42, 43])
    expect((await inspectPath(dir)).findings).toEqual([])
  }, 60_000)

  it('a mark that is empty, missing or names another line, or a file written after it, makes begin list records/', async () => {
    const dir = await bigChain(40)
    await beginRecord(dir, sampleDraft())
    const marker = join(dir, 'records', '.indexed')
    writeFileSync(marker, `${lineHash('another line')}\n`)
    expect(await settled(dir)).toBe(false)
    writeFileSync(marker, '')
    expect(await settled(dir)).toBe(false)
    rmSync(marker)
    expect(await settled(dir)).toBe(false)
    writeFileSync(marker, lastLineMark(dir))
    // A file written after the mark (planted, or a record by a CLI that does not know the mark).
    writeFileSync(join(dir, 'records', recordFileName(45, 'planted')), '{}\n')
    expect(await settled(dir)).toBe(false)
    const next = await beginRecord(dir, sampleDraft())
    expect(next.seq).toBe(46)
    expect(markOf(dir)).toBe(lastLineMark(dir))
  }, 60_000)
})
