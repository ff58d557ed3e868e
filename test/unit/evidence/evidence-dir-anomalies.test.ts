// An evidence dir with something that should not be there, or something moved: each named by what
// it is — a stray file in records/, a signature whose record is gone, two records claiming one seq,
// a record renamed to another run, a started digest the index never saw, a prev that points at a
// record which began later or is not indexed, and records/ that is a symlink.
import {readFileSync, renameSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {recordFileName} from '../../../src/core/evidence/index-log.js'
import {recordDigest, serializeRecord, type EvidenceRecord} from '../../../src/core/evidence/record.js'
import {beginRecord as unsignedBegin} from '../../../src/core/evidence/store.js'
import {beginRecord, indexEntries, inspectPath, sampleDraft, TEST_STATE_DIR, tempDir, writeIndex} from './helpers.js'

const dirs: string[] = []
afterAll(() => {
  for (const d of [...dirs, TEST_STATE_DIR]) rmSync(d, {recursive: true, force: true})
})

async function evidence(n: number, signed: boolean): Promise<{dir: string; files: string[]}> {
  const dir = tempDir('dir-anomalies-')
  dirs.push(dir)
  const files: string[] = []
  for (let i = 0; i < n; i++) {
    const h = await (signed ? beginRecord : unsignedBegin)(dir, sampleDraft())
    await h.complete({exitCode: 0, finishedAt: '2026-01-02T03:06:00.000Z'})
    files.push(h.file)
  }
  return {dir, files}
}

const findings = async (dir: string) => (await inspectPath(dir)).findings.map((f) => `${f.file.split('/').pop()} ${f.field ?? '-'}: ${f.problem}`)
const recordOf = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as EvidenceRecord
const base = (file: string) => file.split('/').pop()!

describe('records/', () => {
  it('a file that is neither a record nor its signature is named; dot files are not', async () => {
    const {dir} = await evidence(1, false)
    writeFileSync(join(dir, 'records', 'notes.txt'), 'x')
    writeFileSync(join(dir, 'records', '.DS_Store'), 'x')
    expect(await findings(dir)).toEqual(['notes.txt -: unexpected file in records/: not a record file name (<seq>-<runId>.json) or its signature (<seq>-<runId>.json.dsse)'])
  })

  it('a signature whose record was deleted is named (besides the record missing from the index)', async () => {
    const {dir, files} = await evidence(2, true)
    rmSync(files[1]!)
    const f = await findings(dir)
    expect(f).toContain(`${base(files[1]!)}.dsse -: a signature envelope whose record is gone (deleted or moved)`)
    expect(f.some((x) => x.startsWith(`${base(files[1]!)} -: missing: index.jsonl line 4 lists it`))).toBe(true)
  })

  it('records/ as a symlink to a folder of records is not read', async () => {
    const {dir} = await evidence(1, false)
    renameSync(join(dir, 'records'), join(dir, 'real-records'))
    symlinkSync(join(dir, 'real-records'), join(dir, 'records'))
    const f = await findings(dir)
    expect(f).toContain('records -: is a symlink: records are only read from a real records/ dir')
  })
})

describe('records against their names and each other', () => {
  it('two files claiming the same seq are both named', async () => {
    const {dir, files} = await evidence(2, false)
    const copy = join(dir, 'records', recordFileName(1, 'intruder-0001'))
    const r = recordOf(files[0]!)
    r.predicate.runId = 'intruder-0001'
    writeFileSync(copy, serializeRecord(r))
    const dup = (await findings(dir)).filter((x) => x.includes('duplicate seq 1'))
    const both = [base(files[0]!), base(copy)].sort().join(', ')
    expect(dup).toEqual([
      `${base(files[0]!)} predicate.chain.seq: duplicate seq 1: ${both} all claim it`,
      `${base(copy)} predicate.chain.seq: duplicate seq 1: ${both} all claim it`,
    ])
  })

  it('a record renamed to another run id is named by its runId field', async () => {
    const {dir, files} = await evidence(1, false)
    const renamed = join(dir, 'records', recordFileName(1, 'another-run'))
    renameSync(files[0]!, renamed)
    const r = recordOf(renamed)
    expect(await findings(dir)).toContain(`another-run.json predicate.runId: is ${r.predicate.runId} but the file name says run another-run: the file was renamed or swapped`.replace('another-run.json', base(renamed)))
  })
})

describe('records against the index', () => {
  it('a completed record whose started digest is not the one its begin line recorded', async () => {
    const {dir, files} = await evidence(1, false)
    const entries = indexEntries(dir)
    const r = recordOf(files[0]!)
    r.predicate.chain.startedDigest = `sha256:${'5'.repeat(64)}`
    writeFileSync(files[0]!, serializeRecord(r))
    writeIndex(dir, [entries[0]!, {...entries[1]!, digest: recordDigest(r)}])
    expect(await findings(dir)).toEqual([`${base(files[0]!)} predicate.chain.startedDigest: is sha256:${'5'.repeat(64)} but index.jsonl line 1 recorded ${entries[0]!.digest} when it began`])
  })

  it('a prev link to a record that began after this one: the index lines were reordered', async () => {
    const {dir} = await evidence(2, false)
    const e = indexEntries(dir)
    // begin 2 before begin 1: seq 2's predecessor had not begun when it began
    writeIndex(dir, [e[2]!, e[0]!, e[1]!, e[3]!])
    const f = await findings(dir)
    expect(f.some((x) => x.endsWith('predicate.chain.prev: chain break: the previous record (seq 1) had not begun when this one began (index lines reordered)'))).toBe(true)
  })

  it('a prev link whose predecessor is on disk but not in the index is named with that file', async () => {
    const {dir, files} = await evidence(2, false)
    writeIndex(dir, indexEntries(dir).filter((x) => x.seq !== 1))
    const f = await findings(dir)
    expect(f).toContain(`${base(files[1]!)} predicate.chain.prev: chain break: the previous record (seq 1, ${files[0]!}) is not in index.jsonl`)
  })

  it('a prev that is not a digest the predecessor ever had when this one began', async () => {
    const {dir, files} = await evidence(2, false)
    const entries = indexEntries(dir)
    const r = recordOf(files[1]!)
    r.predicate.chain.prev = `sha256:${'6'.repeat(64)}`
    writeFileSync(files[1]!, serializeRecord(r))
    writeIndex(dir, entries.map((x) => (x.seq === 2 && x.event === 'complete' ? {...x, digest: recordDigest(r)} : x)))
    const f = await findings(dir)
    expect(f.some((x) => x.startsWith(`${base(files[1]!)} predicate.chain.prev: chain break: is sha256:${'6'.repeat(64)} but the previous record (seq 1, `) && x.includes('when this one began (index.jsonl line 2)'))).toBe(true)
  })

  it('the index re-pointed at seq 2: the gap, the record it no longer lists, and the file it lists that is not there', async () => {
    const {dir, files} = await evidence(1, false)
    writeIndex(dir, indexEntries(dir).map((x) => ({...x, seq: 2, file: recordFileName(2, x.runId)})))
    expect(await findings(dir)).toEqual([
      'index.jsonl line 1: seq: begins seq 2 after seq 0: seq 1 never appears (lines removed)',
      `${base(files[0]!)} -: not in index.jsonl: written but never indexed, or its index lines were removed`,
      `${recordFileName(2, recordOf(files[0]!).predicate.runId)} -: missing: index.jsonl line 2 lists it, but the file is gone (deleted or moved)`,
    ])
  })
})
