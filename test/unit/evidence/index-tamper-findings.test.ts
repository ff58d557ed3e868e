// index.jsonl edited with care: lines removed, duplicated, reordered or re-pointed, and the
// prevLine chain recomputed so that only the tampering itself can give it away. Each edit must be
// named by what it is (a seq begun twice, a gap, a complete before its begin, a run swapped), on an
// unsigned dir, where no checkpoint could catch it instead.
import {readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {indexLine, lineHash} from '../../../src/core/evidence/index-log.js'
import {beginRecord as unsignedBegin} from '../../../src/core/evidence/store.js'
import {indexEntries, inspectPath, sampleDraft, TEST_STATE_DIR, tempDir, writeIndex} from './helpers.js'

const dirs: string[] = []
afterAll(() => {
  for (const d of [...dirs, TEST_STATE_DIR]) rmSync(d, {recursive: true, force: true})
})

/** An unsigned evidence dir with `n` completed records. */
async function unsignedDir(n: number): Promise<string> {
  const dir = tempDir('index-tamper-')
  dirs.push(dir)
  for (let i = 0; i < n; i++) {
    const h = await unsignedBegin(dir, sampleDraft())
    await h.complete({exitCode: 0, finishedAt: '2026-01-02T03:06:00.000Z'})
  }
  return dir
}

const indexFile = (dir: string) => join(dir, 'index.jsonl')
const problems = async (dir: string) => (await inspectPath(dir)).findings.map((f) => `${f.field ?? '-'}: ${f.problem}`)

describe('index.jsonl, rewritten consistently', () => {
  it('the untouched unsigned dir has no finding about its index (the baseline the cases below differ from)', async () => {
    const dir = await unsignedDir(3)
    writeIndex(dir, indexEntries(dir))
    expect((await problems(dir)).filter((p) => /^line \d/.test(p))).toEqual([])
  })

  it('a begin line repeated: the seq is begun a second time', async () => {
    const dir = await unsignedDir(2)
    const e = indexEntries(dir)
    writeIndex(dir, [...e, {...e[0]!}])
    expect(await problems(dir)).toContain('line 5: seq: begins seq 1 a second time (first at line 1)')
  })

  it('the lines of one record removed: a gap, named with the seq that never appears', async () => {
    const dir = await unsignedDir(4)
    writeIndex(dir, indexEntries(dir).filter((x) => x.seq !== 2 && x.seq !== 3))
    expect(await problems(dir)).toContain('line 3: seq: begins seq 4 after seq 1: seq 2–3 never appears (lines removed)')
    const one = await unsignedDir(3)
    writeIndex(one, indexEntries(one).filter((x) => x.seq !== 2))
    expect(await problems(one)).toContain('line 3: seq: begins seq 3 after seq 1: seq 2 never appears (lines removed)')
  })

  it('two records’ lines swapped: out of order', async () => {
    const dir = await unsignedDir(3)
    const e = indexEntries(dir)
    writeIndex(dir, [e[0]!, e[1]!, e[4]!, e[5]!, e[2]!, e[3]!])
    expect(await problems(dir)).toContain('line 5: seq: begins seq 2 after seq 3: out of order (lines reordered)')
  })

  it('a complete before any begin of its seq, a second complete, and a complete under another run id', async () => {
    const dir = await unsignedDir(2)
    const e = indexEntries(dir)
    // e: begin 1, complete 1, begin 2, complete 2
    writeIndex(dir, [e[1]!, e[0]!, e[1]!, e[1]!, e[2]!, {...e[3]!, runId: e[0]!.runId}])
    const p = await problems(dir)
    expect(p).toContain('line 1: event: completes seq 1 before any line begins it (lines reordered or removed)')
    expect(p).toContain('line 4: event: completes seq 1 a second time (first at line 3)')
    expect(p.some((x) => x.startsWith('line 6: runId: completes seq 2 as run ') && x.endsWith(`but line 5 began it as run ${e[2]!.runId}`))).toBe(true)
  })

  it('a line pointing at another record’s file name is named with the file its seq and run id give', async () => {
    const dir = await unsignedDir(2)
    const e = indexEntries(dir)
    writeIndex(dir, [e[0]!, e[1]!, {...e[2]!, file: e[0]!.file}, e[3]!])
    expect(await problems(dir)).toContain(`line 3: file: is ${e[0]!.file}, expected ${e[2]!.file} for seq 2 and run ${e[2]!.runId}`)
  })
})

describe('index.jsonl, line by line', () => {
  it('a first line with a prevLine: earlier lines were removed', async () => {
    const dir = await unsignedDir(2)
    const [first, ...rest] = indexEntries(dir)
    const lines = [indexLine({...first!, prevLine: `sha256:${'0'.repeat(64)}`})]
    for (const e of rest) lines.push(indexLine({...e, prevLine: lineHash(lines.at(-1)!)}))
    writeFileSync(indexFile(dir), lines.map((l) => `${l}\n`).join(''))
    expect(await problems(dir)).toContain('line 1: prevLine: is set on the first line: earlier lines were removed')
  })

  it('a line that is valid JSON but not canonical was edited', async () => {
    const dir = await unsignedDir(1)
    const lines = readFileSync(indexFile(dir), 'utf8').split('\n').filter(Boolean)
    lines[1] = ` ${lines[1]}`
    writeFileSync(indexFile(dir), lines.map((l) => `${l}\n`).join(''))
    const p = await problems(dir)
    expect(p).toContain('line 2: not in canonical form (RFC 8785 JCS): the line was edited')
  })

  it('a last line without a newline was cut off; a cut-off last line that is not JSON says so, not "not JSON"', async () => {
    const dir = await unsignedDir(1)
    const text = readFileSync(indexFile(dir), 'utf8')
    writeFileSync(indexFile(dir), text.slice(0, -1))
    expect(await problems(dir)).toContain('line 2: ends without a newline: an append was cut off')
    writeFileSync(indexFile(dir), text.slice(0, -10))
    const p = await problems(dir)
    expect(p).toContain('line 2: ends with a partial line: an append was cut off')
    expect(p.some((x) => x.startsWith('line 2: not JSON'))).toBe(false)
  })

  it('a line that is not JSON, one nested too deep, and one of the wrong shape are each named, and the lines after them still checked', async () => {
    const dir = await unsignedDir(2)
    const lines = readFileSync(indexFile(dir), 'utf8').split('\n').filter(Boolean)
    const deep = `${'['.repeat(200)}${']'.repeat(200)}`
    writeFileSync(indexFile(dir), [lines[0], 'not json', deep, '{"v":1}', ...lines.slice(1)].map((l) => `${l}\n`).join(''))
    const p = await problems(dir)
    expect(p.some((x) => x.startsWith('line 2: not JSON'))).toBe(true)
    expect(p.some((x) => /^line 3: not JSON: nested deeper than \d+ levels/.test(x))).toBe(true)
    // the wrong shape: its fields named (event, seq, runId, file, digest), five findings at most per line
    expect(p.filter((x) => x.startsWith('line 4: ')).map((x) => x.split(':')[1]!.trim())).toEqual(['event', 'seq', 'runId', 'file', 'digest'])
    // line 5 follows the wrong-shape line: its prevLine no longer matches line 4
    expect(p.some((x) => x.startsWith('line 5: prevLine: does not match line 4'))).toBe(true)
  })
})
