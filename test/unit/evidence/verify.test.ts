import {cpSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {canonicalJson, policyHash} from '../../../src/core/policy/hash.js'
import type {RecordHandle} from '../../../src/core/evidence/store.js'
import {beginRecord, inspectPath, sampleDraft, tempDir} from './helpers.js'

/** An evidence dir with `n` completed records; returns the dir and the record files. */
async function evidenceDir(n: number): Promise<{dir: string; files: string[]; handles: RecordHandle[]}> {
  const dir = tempDir()
  const handles: RecordHandle[] = []
  for (let i = 0; i < n; i++) {
    const h = await beginRecord(dir, sampleDraft())
    await h.complete({exitCode: i, finishedAt: '2026-01-02T03:06:00.000Z'})
    handles.push(h)
  }
  return {dir, files: handles.map((h) => h.file), handles}
}

function flipByte(file: string, from: string, to: string): void {
  const text = readFileSync(file, 'utf8')
  expect(text.includes(from)).toBe(true)
  writeFileSync(file, text.replace(from, to))
}

const noStack = (text: string) => expect(text).not.toMatch(/\n\s+at /)

describe('inspectPath: one record', () => {
  it('validates a record, recomputes its policy hash and checks it against the index of its dir', async () => {
    const {files} = await evidenceDir(2)
    const result = await inspectPath(files[1] ?? '')
    expect(result).toMatchObject({valid: true, kind: 'file', findings: [], incomplete: 0})
    expect(result.index?.present).toBe(true)
    expect(result.records).toHaveLength(1)
    expect(result.records[0]).toMatchObject({seq: 2, status: 'completed', valid: true, policyHashVerified: true})
    expect(result.records[0]?.summary).toMatchObject({verb: 'run', tool: 'codex', exitCode: 1, mounts: [{source: '/home/dev/app', target: '/workspace/app', mode: 'rw'}]})
  })

  it('one changed byte (exit code 1 → 7) is caught as an alteration naming the file', async () => {
    const {files} = await evidenceDir(3)
    const file = files[1] ?? ''
    flipByte(file, '"exitCode":1', '"exitCode":7')
    for (const target of [file, join(file, '..', '..')]) {
      const result = await inspectPath(target)
      expect(result.valid).toBe(false)
      expect(result.findings).toContainEqual({file, field: null, problem: expect.stringMatching(/^altered: its digest sha256:\w+ does not match sha256:\w+ recorded at index\.jsonl line 4/)})
    }
  })

  it('a byte that breaks canonical form (an added space) is caught even without an index', async () => {
    const {files} = await evidenceDir(1)
    const copy = join(tempDir(), 'record.json')
    writeFileSync(copy, readFileSync(files[0] ?? '', 'utf8').replace('"exitCode":0', '"exitCode": 0'))
    const result = await inspectPath(copy)
    expect(result.valid).toBe(false)
    expect(result.findings).toEqual([{file: copy, field: null, problem: expect.stringMatching(/^not in canonical form/)}])
  })

  it('a changed policy no longer matches its policyHash', async () => {
    const {files} = await evidenceDir(1)
    const record = JSON.parse(readFileSync(files[0] ?? '', 'utf8'))
    record.predicate.policy.network.mode = 'none'
    const copy = join(tempDir(), 'record.json')
    writeFileSync(copy, `${canonicalJson(record)}\n`)
    const result = await inspectPath(copy)
    expect(result.records[0]?.policyHashVerified).toBe(false)
    expect(result.findings).toEqual([
      {file: copy, field: 'predicate.policyHash', problem: `does not match the policy: recomputed ${policyHash(record.predicate.policy)} from predicate.policy (the policy or the hash was changed)`},
      {file: copy, field: 'predicate.podmanArgv', problem: 'has no --network=none, but predicate.policy.network.mode is none'},
    ])
  })

  it('schema failures name the field', async () => {
    const {files} = await evidenceDir(1)
    const record = JSON.parse(readFileSync(files[0] ?? '', 'utf8'))
    record.predicate.mounts[0].mode = 'rwx'
    delete record.predicate.host.arch
    const copy = join(tempDir(), 'record.json')
    writeFileSync(copy, `${canonicalJson(record)}\n`)
    const result = await inspectPath(copy)
    expect(result.findings.map((f) => f.field)).toEqual(expect.arrayContaining(['predicate.mounts[0].mode', 'predicate.host.arch']))
    expect(result.findings.every((f) => f.file === copy)).toBe(true)
    expect(result.records[0]?.summary).toBeNull()
  })

  it('truncated JSON is a clear finding, not a stack trace', async () => {
    const {files} = await evidenceDir(1)
    const copy = join(tempDir(), 'record.json')
    writeFileSync(copy, readFileSync(files[0] ?? '', 'utf8').slice(0, 200))
    const result = await inspectPath(copy)
    expect(result.valid).toBe(false)
    expect(result.findings).toEqual([{file: copy, field: null, problem: expect.stringMatching(/^not JSON \(.+\): the file is truncated or damaged$/)}])
    noStack(result.findings[0]?.problem ?? '')
  })

  it('JSON of another kind, and a record from a newer schema version, are named as such', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'package.json'), '{"name":"x","version":"1.0.0"}\n')
    expect((await inspectPath(join(dir, 'package.json'))).findings).toEqual([
      {file: join(dir, 'package.json'), field: '_type', problem: 'not an agent-machine evidence record: _type is missing (expected "https://in-toto.io/Statement/v1")'},
    ])
    writeFileSync(join(dir, 'slsa.json'), JSON.stringify({_type: 'https://in-toto.io/Statement/v1', subject: [], predicateType: 'https://slsa.dev/provenance/v1', predicate: {}}))
    expect((await inspectPath(join(dir, 'slsa.json'))).findings[0]?.problem).toBe(
      'not an agent-machine evidence record: predicateType is "https://slsa.dev/provenance/v1" (expected "https://sourceos.dev/agent-machine/evidence/v1alpha1")',
    )
    writeFileSync(join(dir, 'list.json'), '[1,2]')
    expect((await inspectPath(join(dir, 'list.json'))).findings[0]?.problem).toMatch(/the JSON is an array, not an in-toto Statement/)

    const {files} = await evidenceDir(1)
    const record = JSON.parse(readFileSync(files[0] ?? '', 'utf8'))
    record.predicate.schemaVersion = 2
    record.predicate.somethingNew = true
    writeFileSync(join(dir, 'v2.json'), `${canonicalJson(record)}\n`)
    expect((await inspectPath(join(dir, 'v2.json'))).findings).toEqual([
      {file: join(dir, 'v2.json'), field: 'predicate.schemaVersion', problem: 'record uses schema version 2; this CLI reads up to 1 — upgrade sourceosctl'},
    ])
  })

  it('a path that does not exist, and an empty dir, are errors with exit 5', async () => {
    const dir = tempDir()
    await expect(inspectPath(join(dir, 'nope'))).rejects.toMatchObject({code: 'EVIDENCE_PATH_NOT_FOUND', exitCode: 5, message: `${join(dir, 'nope')} does not exist`})
    await expect(inspectPath(dir)).rejects.toMatchObject({code: 'EVIDENCE_EMPTY', exitCode: 5, message: `no evidence records in ${dir}`})
    mkdirSync(join(dir, 'records'))
    await expect(inspectPath(dir)).rejects.toMatchObject({code: 'EVIDENCE_EMPTY', message: `no evidence records in ${dir}`})
  })
})

describe('inspectPath: an evidence dir and its chain', () => {
  it('verifies a dir, also when given records/ itself', async () => {
    const {dir} = await evidenceDir(3)
    for (const target of [dir, join(dir, 'records')]) {
      const result = await inspectPath(target)
      expect(result).toMatchObject({valid: true, kind: 'dir', findings: [], chain: {checked: true, length: 3}})
      expect(result.index?.lines).toBe(6)
      expect(result.chain.head?.seq).toBe(3)
    }
  })

  it('a deleted middle record is reported missing, and as a chain break at the next record', async () => {
    const {dir, files} = await evidenceDir(3)
    const [, middle = '', last = ''] = files
    rmSync(middle)
    const result = await inspectPath(dir)
    expect(result.valid).toBe(false)
    expect(result.findings).toContainEqual({file: middle, field: null, problem: 'missing: index.jsonl line 4 lists it, but the file is gone (deleted or moved)'})
    expect(result.findings).toContainEqual({file: last, field: 'predicate.chain.prev', problem: `chain break: the previous record (seq 2, ${middle}) is missing`})
    expect(result.records.map((r) => [r.seq, r.valid])).toEqual([
      [1, true],
      [2, false],
      [3, false],
    ])
  })

  it('deleting a record AND its index lines breaks the index chain and the record chain', async () => {
    const {dir, files} = await evidenceDir(3)
    rmSync(files[1] ?? '')
    const lines = readFileSync(join(dir, 'index.jsonl'), 'utf8').split('\n')
    writeFileSync(join(dir, 'index.jsonl'), [lines[0], lines[1], lines[4], lines[5], ''].join('\n'))
    const result = await inspectPath(dir)
    const index = join(dir, 'index.jsonl')
    expect(result.findings).toContainEqual({file: index, field: 'line 3: prevLine', problem: expect.stringMatching(/^does not match line 2/)})
    expect(result.findings).toContainEqual({file: index, field: 'line 3: seq', problem: 'begins seq 3 after seq 1: seq 2 never appears (lines removed)'})
    expect(result.findings).toContainEqual({file: files[2], field: 'predicate.chain.prev', problem: 'chain break: no record with seq 2 exists before it (missing from the index and the dir)'})
  })

  it('swapped (reordered) records are named', async () => {
    const {dir, files} = await evidenceDir(3)
    const [a = '', b = ''] = files
    const tmp = `${a}.swap`
    renameSync(a, tmp)
    renameSync(b, a)
    renameSync(tmp, b)
    const result = await inspectPath(dir)
    expect(result.valid).toBe(false)
    expect(result.findings).toContainEqual({file: a, field: 'predicate.chain.seq', problem: 'is 2 but the file name says seq 1: the file was renamed or records were reordered'})
    expect(result.findings).toContainEqual({file: b, field: 'predicate.chain.seq', problem: 'is 1 but the file name says seq 2: the file was renamed or records were reordered'})
  })

  it('an edited index line is caught by the next line’s prevLine', async () => {
    const {dir} = await evidenceDir(2)
    const index = join(dir, 'index.jsonl')
    const lines = readFileSync(index, 'utf8').split('\n')
    const edited = JSON.parse(lines[1] ?? '')
    edited.digest = `sha256:${'0'.repeat(64)}`
    lines[1] = canonicalJson(edited)
    writeFileSync(index, lines.join('\n'))
    const result = await inspectPath(dir)
    expect(result.findings).toContainEqual({file: index, field: 'line 3: prevLine', problem: expect.stringMatching(/^does not match line 2/)})
  })

  it('an index removed from the dir is reported; the chain is still checked from the records', async () => {
    const {dir} = await evidenceDir(2)
    rmSync(join(dir, 'index.jsonl'))
    const result = await inspectPath(dir)
    expect(result.findings).toEqual([
      {file: join(dir, 'index.jsonl'), field: null, problem: 'missing: the dir has records but no index.jsonl (deleted or moved)'},
      {file: join(dir, 'index.jsonl'), field: null, problem: expect.stringMatching(/^rolled back: the signed checkpoint \(.*\) covers 4 lines up to seq 2, but index.jsonl has 0/)},
    ])
  })

  it('a folder of copied records (no index) is UNVERIFIED, never valid, and a gap in it is a chain break', async () => {
    const {files} = await evidenceDir(3)
    const loose = tempDir('evidence-loose-')
    for (const f of files) cpSync(f, join(loose, f.split('/').pop() ?? ''))
    const copied = await inspectPath(loose)
    expect(copied).toMatchObject({valid: false, verdict: 'unverified', kind: 'dir', index: null, findings: []})
    expect(copied.unverified).toEqual([
      'a loose folder of records has no index and no signed checkpoint: it cannot show that none was removed, added or replaced as a set (inspect the evidence dir, with --expect-head)',
      '3 of 3 records carry no signature verified with a trusted key',
    ])
    // With their envelopes, each record verifies; the set is still unanchored.
    for (const f of files) cpSync(`${f}.dsse`, join(loose, `${f.split('/').pop() ?? ''}.dsse`))
    const signed = await inspectPath(loose)
    expect(signed).toMatchObject({verdict: 'unverified', signatures: {trust: 'local-key', signed: 3}})
    expect(signed.unverified).toHaveLength(1)
    const middle = join(loose, files[1]?.split('/').pop() ?? '')
    rmSync(middle)
    const result = await inspectPath(loose)
    expect(result.findings).toEqual([
      {file: join(loose, files[2]?.split('/').pop() ?? ''), field: 'predicate.chain.prev', problem: expect.stringMatching(/^chain break: record seq 2 between .* and this one is missing$/)},
    ])
  })

  it('a truncated record inside a dir is a finding for that file; the others still verify', async () => {
    const {dir, files} = await evidenceDir(3)
    const file = files[2] ?? ''
    writeFileSync(file, readFileSync(file, 'utf8').slice(0, 100))
    const result = await inspectPath(dir)
    expect(result.records.map((r) => r.valid)).toEqual([true, true, false])
    const problems = result.findings.filter((f) => f.file === file).map((f) => f.problem)
    expect(problems).toContainEqual(expect.stringMatching(/^not JSON/))
    expect(problems).toContainEqual(expect.stringMatching(/^altered:/))
  })

  it('inspections that overlap running sessions (records still started, others completing, the index growing) report no problem, and the dir is valid at the end', async () => {
    const {dir} = await evidenceDir(1)
    let writing = true
    // Inspections run one after another; the writer waits for one that began after each change,
    // so the overlap does not depend on how fast this machine happens to be.
    let inspectionsBegun = 0
    let inspectionsDone = 0
    const oneInspectionAfterNow = async () => {
      const mark = inspectionsBegun
      while (inspectionsDone <= mark) await new Promise((resolve) => setTimeout(resolve, 5))
    }
    const writer = (async () => {
      for (let i = 0; i < 15; i++) {
        const h = await beginRecord(dir, sampleDraft())
        // the session runs for a while: inspections now see a started record
        await oneInspectionAfterNow()
        await h.complete({exitCode: 0})
        // and the next one begins a little later, as sessions do
        await oneInspectionAfterNow()
      }
      writing = false
    })()
    let inspections = 0
    let sawRunning = 0
    const counts = new Set<number>()
    while (writing) {
      inspectionsBegun++
      const result = await inspectPath(dir)
      expect(result.findings).toEqual([])
      expect(result.verdict).toBe('valid')
      inspections++
      inspectionsDone = inspectionsBegun
      if (result.records.some((r) => r.status === 'started')) sawRunning++
      counts.add(result.records.length)
    }
    await writer
    // they did overlap the writes: some saw a session still running, and the dir grew between them
    expect(inspections).toBeGreaterThan(1)
    expect(sawRunning).toBeGreaterThan(0)
    expect(counts.size).toBeGreaterThan(1)
    expect(await inspectPath(dir)).toMatchObject({valid: true, findings: [], incomplete: 0, chain: {checked: true, length: 16}})
  }, 30_000)
})
