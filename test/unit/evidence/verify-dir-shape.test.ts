// What makes a dir an evidence dir, a signed one, or a loose folder, and when a record file is
// judged with its evidence dir: any one trace of signing (a checkpoint, keys/, one envelope) makes
// every signature required; a record file is inspected with its dir only when it is named like a
// record, sits in records/, and the dir has an index.
import {copyFileSync, cpSync, mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {completedDir, inspectPath, tempDir} from './helpers.js'

const unsignedDir = (n: number) => completedDir(n, {signed: false})

const signedDir = (n: number) => completedDir(n, {signed: true})

const CHECKPOINT_MISSING = 'missing: a signed evidence dir has a signed checkpoint after every index append; without it a rollback or rewrite cannot be told apart'
const envelopeMissing = (file: string) => ({file, field: 'signature', problem: `not signed: ${file.split('/').pop()}.dsse is missing: every record of a signed evidence dir has its envelope`})

describe('a signed dir', () => {
  it('an unsigned dir is unverified, with no signature required', async () => {
    const {dir} = await unsignedDir(2)
    const result = await inspectPath(dir)
    expect(result).toMatchObject({verdict: 'unverified', findings: [], checkpoint: null, signatures: {trust: 'local-key', signed: 0}})
    expect(result.unverified).toHaveLength(1)
    expect(result.unverified[0]).toMatch(/^not signed: no record has a signature and there is no signed checkpoint/)
  })

  it('a keys/ folder alone makes it signed: the checkpoint and every envelope are then required', async () => {
    const {dir, files} = await unsignedDir(2)
    mkdirSync(join(dir, 'keys'))
    const result = await inspectPath(dir)
    expect(result.verdict).toBe('invalid')
    expect(result.findings).toEqual([{file: join(dir, 'checkpoint.dsse'), field: null, problem: CHECKPOINT_MISSING}, envelopeMissing(files[0]!), envelopeMissing(files[1]!)])
    expect(result.unverified).toEqual([])
  })

  it('a checkpoint alone makes it signed (and one that is no envelope is named)', async () => {
    const {dir, files} = await unsignedDir(1)
    writeFileSync(join(dir, 'checkpoint.dsse'), 'not an envelope\n')
    const result = await inspectPath(dir)
    expect(result.findings).toContainEqual(envelopeMissing(files[0]!))
    expect(result.findings).toContainEqual({file: join(dir, 'checkpoint.dsse'), field: 'signature', problem: expect.stringMatching(/^not a DSSE envelope/)})
    expect(result.checkpoint).toMatchObject({present: true, verified: false})
  })

  it('one envelope alone makes it signed', async () => {
    const {dir, files} = await unsignedDir(2)
    const other = await signedDir(1)
    copyFileSync(`${other.files[0]}.dsse`, `${files[0]}.dsse`)
    const result = await inspectPath(dir)
    expect(result.findings).toContainEqual({file: join(dir, 'checkpoint.dsse'), field: null, problem: CHECKPOINT_MISSING})
    expect(result.findings).toContainEqual(envelopeMissing(files[1]!))
    expect(result.findings).toContainEqual({file: files[0], field: 'signature', problem: expect.stringMatching(/signs other content/)})
  })

  it('signed and verified: every record counted as signed, by the local key', async () => {
    const {dir} = await signedDir(3)
    const result = await inspectPath(dir)
    expect(result).toMatchObject({verdict: 'valid', valid: true, unverified: [], signatures: {trust: 'local-key', signed: 3}})
    expect(result.records.map((r) => r.signed)).toEqual([true, true, true])
  })
})

describe('records/ and the index', () => {
  it('records/ that is a regular file is named, and the records the index lists are missing', async () => {
    const {dir} = await unsignedDir(1)
    rmSync(join(dir, 'records'), {recursive: true})
    writeFileSync(join(dir, 'records'), 'x')
    const result = await inspectPath(dir)
    expect(result.findings).toContainEqual({file: join(dir, 'records'), field: null, problem: 'is not a directory: records are only read from a real records/ dir'})
    expect(result.findings).toContainEqual({file: expect.stringMatching(/records\/000001-/), field: null, problem: 'missing: index.jsonl line 2 lists it, but the file is gone (deleted or moved)'})
  })

  it('an evidence dir with no record and an empty index has no evidence (exit 5)', async () => {
    const dir = tempDir()
    mkdirSync(join(dir, 'records'))
    writeFileSync(join(dir, 'index.jsonl'), '')
    await expect(inspectPath(dir)).rejects.toMatchObject({code: 'EVIDENCE_EMPTY', exitCode: 5})
  })

  it('an index with lines but no record file left: each listed record is missing, reported with its seq and run', async () => {
    const {dir, files} = await unsignedDir(2)
    for (const f of files) rmSync(f)
    const result = await inspectPath(dir)
    expect(result.findings).toEqual([
      {file: files[0], field: null, problem: 'missing: index.jsonl line 2 lists it, but the file is gone (deleted or moved)'},
      {file: files[1], field: null, problem: 'missing: index.jsonl line 4 lists it, but the file is gone (deleted or moved)'},
    ])
    expect(result.records).toEqual(
      files.map((file, i) => ({file, seq: i + 1, runId: expect.any(String), status: null, incomplete: false, valid: false, digest: null, policyHashVerified: null, signed: null, note: null, summary: null})),
    )
    expect(result.chain).toEqual({checked: true, length: 2, head: {seq: 2, digest: null}})
  })
})

describe('one record file: with its dir or alone', () => {
  it('named like a record, in records/, beside an index: judged with its dir', async () => {
    const {dir, files} = await signedDir(2)
    const result = await inspectPath(files[1]!)
    expect(result).toMatchObject({kind: 'file', evidenceDir: dir, index: {present: true, lines: 4}, chain: {checked: true, length: 2}})
    expect(result.records.map((r) => r.file)).toEqual([files[1]])
  })

  it('the same file where any one of those is not so is read alone', async () => {
    const {dir, files} = await signedDir(2)
    const name = files[1]!.split('/').pop()!
    const alone = async (file: string) => {
      const r = await inspectPath(file)
      expect(r, file).toMatchObject({kind: 'file', evidenceDir: null, index: null, checkpoint: null, chain: {checked: false, length: 1}})
    }
    // not named like a record
    copyFileSync(files[1]!, join(dir, 'records', 'copy.json'))
    await alone(join(dir, 'records', 'copy.json'))
    rmSync(join(dir, 'records', 'copy.json'))
    // not in a folder named records/
    const other = tempDir()
    cpSync(dir, other, {recursive: true})
    mkdirSync(join(other, 'elsewhere'))
    copyFileSync(files[1]!, join(other, 'elsewhere', name))
    await alone(join(other, 'elsewhere', name))
    // no index beside records/
    rmSync(join(other, 'index.jsonl'))
    await alone(join(other, 'records', name))
  })

  it('a loose record reports its seq and digest as the chain head', async () => {
    const {files} = await signedDir(2)
    const d = tempDir()
    copyFileSync(files[1]!, join(d, 'r.json'))
    const result = await inspectPath(join(d, 'r.json'))
    expect(result.chain).toEqual({checked: false, length: 1, head: {seq: 2, digest: result.records[0]!.digest}})
    expect(result.records[0]).toMatchObject({seq: 2, status: 'completed', incomplete: false, policyHashVerified: true})
    expect(result.incomplete).toBe(0)
    expect(readFileSync(join(d, 'r.json'), 'utf8')).toBe(readFileSync(files[1]!, 'utf8'))
  })

  it('a loose file that is not JSON has no chain head', async () => {
    const d = tempDir()
    writeFileSync(join(d, 'r.json'), '{')
    const result = await inspectPath(join(d, 'r.json'))
    expect(result.chain).toEqual({checked: false, length: 1, head: null})
    expect(result).toMatchObject({verdict: 'invalid', valid: false})
  })
})
