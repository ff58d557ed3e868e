// index.jsonl line by line, where the existing tests stop: a garbage line between two good ones
// breaks the hash chain at the next line; a JSON value that is no object is named at "$"; an index
// that is a directory is named and read as empty. And the dir's report: records in seq order past
// 9 (numeric, not text), an unreadable record placed by its file name, duplicates named with every
// file that claims the seq.
import {mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {recordFileName} from '../../../src/core/evidence/index-log.js'
import {serializeRecord, type EvidenceRecord} from '../../../src/core/evidence/record.js'
import {completedDir, inspectPath} from './helpers.js'

const unsignedDir = (n: number) => completedDir(n, {signed: false})
const indexFile = (dir: string) => join(dir, 'index.jsonl')
const indexLines = (dir: string) => readFileSync(indexFile(dir), 'utf8').split('\n').filter(Boolean)
const writeLines = (dir: string, lines: string[]) => writeFileSync(indexFile(dir), lines.map((l) => `${l}\n`).join(''))
const indexFindings = async (dir: string) => (await inspectPath(dir)).findings.filter((f) => f.file === indexFile(dir)).map((f) => `${f.field}: ${f.problem}`)

describe('index lines', () => {
  it('a line that is no JSON between two good lines: named, and the next line no longer chains to the one before it', async () => {
    const {dir} = await unsignedDir(1)
    const [begin, complete] = indexLines(dir)
    writeLines(dir, [begin!, 'garbage', complete!])
    const found = await indexFindings(dir)
    expect(found).toContainEqual(expect.stringMatching(/^line 2: not JSON: /))
    expect(found).toContainEqual(expect.stringMatching(/^line 3: prevLine: does not match line 2 \(expected sha256:[0-9a-f]{64}\): index lines were removed, inserted or edited$/))
  })

  it('a JSON value that is no object is named at "$"', async () => {
    const {dir} = await unsignedDir(1)
    const [begin, complete] = indexLines(dir)
    writeLines(dir, [begin!, complete!, '[1]'])
    const found = await indexFindings(dir)
    expect(found).toEqual([expect.stringMatching(/^line 3: \$: /)])
  })

  it('a cut-off last line that still parses as an entry: named as cut off, and counted', async () => {
    const {dir} = await unsignedDir(1)
    writeFileSync(indexFile(dir), readFileSync(indexFile(dir), 'utf8').slice(0, -1))
    const result = await inspectPath(dir)
    expect(result.findings).toEqual([{file: indexFile(dir), field: 'line 2', problem: 'ends without a newline: an append was cut off'}])
    expect(result.index).toMatchObject({present: true, lines: 2})
  })

  it('an index that is a directory is named, and reads as present with no line', async () => {
    const {dir, files} = await unsignedDir(1)
    rmSync(indexFile(dir))
    mkdirSync(indexFile(dir))
    const result = await inspectPath(dir)
    expect(result.findings).toContainEqual({file: indexFile(dir), field: null, problem: 'is a directory, not a regular file'})
    expect(result.findings).toContainEqual({file: files[0], field: null, problem: 'not in index.jsonl: written but never indexed, or its index lines were removed'})
    expect(result.index).toEqual({file: indexFile(dir), present: true, lines: 0, head: null})
  })
})

describe('the dir report', () => {
  it('records past seq 9 are listed in numeric order, the head the highest', async () => {
    const {dir, files} = await unsignedDir(10)
    const result = await inspectPath(dir)
    expect(result.findings).toEqual([])
    expect(result.records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    expect(result.records.map((r) => r.file)).toEqual(files)
    expect(result.chain).toEqual({checked: true, length: 10, head: {seq: 10, digest: result.records[9]!.digest}})
  }, 30_000)

  it('an unreadable record is placed by the seq in its file name', async () => {
    const {dir, files} = await unsignedDir(3)
    writeFileSync(files[1]!, '{')
    const result = await inspectPath(dir)
    expect(result.records.map((r) => [r.file, r.seq, r.valid])).toEqual([
      [files[0], 1, true],
      [files[1], 2, false],
      [files[2], 3, true],
    ])
  })

  it('two records on disk claiming one seq: both are named, each with every file that claims it', async () => {
    const {dir, files} = await unsignedDir(1)
    const r = JSON.parse(readFileSync(files[0]!, 'utf8')) as EvidenceRecord
    r.predicate.runId = 'second-claim'
    const second = join(dir, 'records', recordFileName(1, 'second-claim'))
    writeFileSync(second, serializeRecord(r))
    const names = [files[0]!, second].map((f) => f.split('/').pop()!).sort()
    const problem = `duplicate seq 1: ${names.join(', ')} all claim it`
    const findings = (await inspectPath(dir)).findings.filter((f) => f.field === 'predicate.chain.seq')
    expect(findings).toEqual(expect.arrayContaining([{file: files[0], field: 'predicate.chain.seq', problem}, {file: second, field: 'predicate.chain.seq', problem}]))
    expect(findings).toHaveLength(2)
  })
})
