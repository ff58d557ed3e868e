// One record file as read, where the existing tests stop: an empty file, JSON that is no object
// (each kind named), a predicate type of the family but another version, a schema version that is
// no integer, numbers outside I-JSON, more schema problems than are listed, a policy that cannot be
// hashed; and the chain facts read leniently from a record the schema refuses.
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {EvidenceRecordSchema} from '../../../src/core/evidence/record.js'
import {canonicalJson} from '../../../src/core/policy/hash.js'
import {beginRecord, inspectPath, sampleDraft, tempDir} from './helpers.js'

const dir = tempDir('record-reading-')
const h = await beginRecord(dir, sampleDraft())
await h.complete({exitCode: 0})
const original = JSON.parse(readFileSync(h.file, 'utf8')) as Record<string, unknown> & {predicate: Record<string, unknown> & {chain: Record<string, unknown>}}
let n = 0
/** A loose file with this text; its findings. */
async function findingsOf(text: string): Promise<Array<{field: string | null; problem: string}>> {
  const file = join(tempDir('record-reading-'), `r${n++}.json`)
  writeFileSync(file, text)
  return (await inspectPath(file)).findings.map(({field, problem}) => ({field, problem}))
}
const withPredicate = (change: (p: Record<string, unknown>) => void): Record<string, unknown> => {
  const r = structuredClone(original)
  change(r.predicate)
  return r
}

describe('not a record', () => {
  it('an empty file', async () => {
    expect(await findingsOf('')).toEqual([{field: null, problem: 'empty file: the write was cut off, or it is not a record'}])
  })

  it('JSON that is no object: each kind named', async () => {
    const kind = async (text: string) => (await findingsOf(text))[0]?.problem
    expect(await kind('[1]')).toBe('not an agent-machine evidence record: the JSON is an array, not an in-toto Statement')
    expect(await kind('null')).toBe('not an agent-machine evidence record: the JSON is null, not an in-toto Statement')
    expect(await kind('5')).toBe('not an agent-machine evidence record: the JSON is a number, not an in-toto Statement')
    expect(await kind('"s"')).toBe('not an agent-machine evidence record: the JSON is a string, not an in-toto Statement')
  })

  it('another _type is quoted', async () => {
    expect(await findingsOf(JSON.stringify({...original, _type: 'x'}))).toEqual([{field: '_type', problem: 'not an agent-machine evidence record: _type is "x" (expected "https://in-toto.io/Statement/v1")'}])
  })

  it('a predicate type that is no string', async () => {
    expect(await findingsOf(JSON.stringify({...original, predicateType: 7}))).toEqual([
      {field: 'predicateType', problem: `not an agent-machine evidence record: predicateType is 7 (expected "${String(original.predicateType)}")`},
    ])
  })
})

describe('a record of another version', () => {
  it('a predicate type of the same family but another version asks for an upgrade', async () => {
    const family = String(original.predicateType).replace(/[^/]+$/, '')
    expect(await findingsOf(JSON.stringify({...original, predicateType: `${family}v9`}))).toEqual([
      {field: 'predicateType', problem: `record uses predicate type "${family}v9"; this CLI reads "${String(original.predicateType)}" — upgrade sourceosctl`},
    ])
  })

  it('a schema version that is no integer, or not above ours, is judged by the schema, not as newer', async () => {
    for (const v of [1.5, '2', 0]) {
      const found = await findingsOf(`${canonicalJson(withPredicate((p) => void (p.schemaVersion = v)))}\n`)
      expect(found.some((f) => /upgrade sourceosctl/.test(f.problem)), String(v)).toBe(false)
      expect(found.some((f) => f.field === 'predicate.schemaVersion'), String(v)).toBe(true)
    }
  })
})

describe('what cannot be canonicalised', () => {
  it('a number outside I-JSON in the record', async () => {
    const text = JSON.stringify(original).replace('"exitCode":0', '"exitCode":1e999')
    expect(await findingsOf(text)).toContainEqual({field: null, problem: 'not canonicalisable JSON (RFC 8785 accepts I-JSON only): a number or string is out of range'})
  })

  it('a policy that cannot be hashed is named, and the record is not canonical either', async () => {
    const text = JSON.stringify(original).replace('"mode":"default"', '"mode":"default","big":1e999')
    const found = await findingsOf(text)
    expect(found).toContainEqual({field: 'predicate.policy', problem: expect.stringMatching(/^cannot be canonicalised to recompute the hash: /)})
    expect(found).toContainEqual({field: null, problem: 'not canonicalisable JSON (RFC 8785 accepts I-JSON only): a number or string is out of range'})
  })
})

describe('schema problems', () => {
  /** A record with n mounts of an unknown mode, and how many problems the schema finds in it. */
  const badMounts = (count: number) => {
    const r = withPredicate((p) => void (p.mounts = Array.from({length: count}, (_, i) => ({source: `/src/${i}`, target: `/workspace/${i}`, mode: 'rwx'}))))
    const issues = EvidenceRecordSchema.safeParse(r)
    return {r, issues: issues.success ? 0 : issues.error.issues.length}
  }

  it('at most 20 are listed, then how many more', async () => {
    const {r, issues} = badMounts(25)
    expect(issues).toBeGreaterThan(20)
    const found = (await findingsOf(`${canonicalJson(r)}\n`)).filter((f) => !/^does not match the policy/.test(f.problem))
    expect(found).toHaveLength(21)
    expect(found[20]).toEqual({field: null, problem: `${issues - 20} more schema problems not shown`})
  })

  it('exactly 20 problems are all listed, with no "more" line', async () => {
    const count = Array.from({length: 30}, (_, i) => i + 1).find((c) => badMounts(c).issues === 20)
    expect(count).toBeDefined()
    const found = (await findingsOf(`${canonicalJson(badMounts(count!).r)}\n`)).filter((f) => !/^does not match the policy/.test(f.problem))
    expect(found).toHaveLength(20)
    expect(found.some((f) => /more schema problems/.test(f.problem))).toBe(false)
  })
})

describe('chain facts of a record the schema refuses', () => {
  it('seq, run id, prev, started digest and status are still reported', async () => {
    const file = join(tempDir('record-reading-'), 'r.json')
    const r = withPredicate((p) => void (p.verb = 'dance'))
    writeFileSync(file, `${canonicalJson(r)}\n`)
    const result = await inspectPath(file)
    expect(result.records[0]).toMatchObject({seq: 1, runId: original.predicate.runId, status: 'completed', valid: false, summary: null})
    expect(result.chain.head).toEqual({seq: 1, digest: result.records[0]!.digest})
  })

  it('facts of the wrong type are left out: a seq that is no integer, a status not in the list', async () => {
    const file = join(tempDir('record-reading-'), 'r.json')
    const r = withPredicate((p) => {
      p.chain = {...(p.chain as object), seq: 1.5}
      p.status = 'done'
      p.runId = 7
    })
    writeFileSync(file, `${canonicalJson(r)}\n`)
    const result = await inspectPath(file)
    expect(result.records[0]).toMatchObject({seq: null, runId: null, status: null, incomplete: false})
    expect(result.chain.head).toBeNull()
  })
})
