/**
 * Tampering that a consistent attacker can do without the signing key (issue 14, "What was
 * found", item 2): every case exits 5 naming the problem, or is UNVERIFIED — never valid.
 * The attacker below recomputes everything that can be recomputed: digests, prev links,
 * startedDigest, index lines and their hash chain.
 */
import {generateKeyPairSync} from 'node:crypto'
import {cpSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {indexLine, lineHash, type IndexEntry} from '../../../src/core/evidence/index-log.js'
import {recordDigest, serializeRecord, type EvidenceRecord} from '../../../src/core/evidence/record.js'
import {CHECKPOINT_PAYLOAD_TYPE, IN_TOTO_PAYLOAD_TYPE, keyIdOf, serializeEnvelope, signEnvelope, type SigningKey} from '../../../src/core/evidence/signing.js'
import {inspectPath as inspectUntrusted} from '../../../src/core/evidence/verify.js'
import {canonicalJson, policyHash} from '../../../src/core/policy/hash.js'
import {beginRecord, inspectPath, sampleDraft, tempDir, TEST_PUBLIC_KEY_FILE} from './helpers.js'

async function evidenceDir(n: number): Promise<{dir: string; files: string[]}> {
  const dir = tempDir()
  const files: string[] = []
  for (let i = 0; i < n; i++) {
    const h = await beginRecord(dir, sampleDraft())
    await h.complete({exitCode: i, finishedAt: '2026-01-02T03:06:00.000Z'})
    files.push(h.file)
  }
  return {dir, files}
}

const recordFiles = (dir: string) => readdirSync(join(dir, 'records')).filter((n) => n.endsWith('.json')).sort().map((n) => join(dir, 'records', n))
const readRecord = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as EvidenceRecord

/**
 * The attacker: rewrites every record from `fromSeq` on with `mutate`, then recomputes the whole
 * chain and index consistently (as the rewrites did). Optionally re-signs with its own key.
 */
function rewrite(dir: string, fromSeq: number, mutate: (r: EvidenceRecord) => void, opts: {keep?: number; resign?: SigningKey} = {}): void {
  const files = recordFiles(dir).slice(0, opts.keep)
  for (const f of recordFiles(dir).slice(opts.keep ?? Infinity)) {
    rmSync(f)
    rmSync(`${f}.dsse`, {force: true})
  }
  let prev: string | null = null
  let last: string | null = null
  const lines: string[] = []
  for (const file of files) {
    const record = readRecord(file)
    if (record.predicate.chain.seq >= fromSeq) mutate(record)
    const started: EvidenceRecord = {...record, predicate: {...record.predicate, status: 'started', finishedAt: null, exitCode: null, chain: {seq: record.predicate.chain.seq, prev, startedDigest: null}}}
    delete (started.predicate as {integrity?: unknown}).integrity
    const startedDigest = recordDigest(started)
    record.predicate.chain = {seq: record.predicate.chain.seq, prev, startedDigest}
    writeFileSync(file, serializeRecord(record))
    const name = file.split('/').pop() ?? ''
    const base = {v: 1 as const, seq: record.predicate.chain.seq, runId: record.predicate.runId, file: name}
    for (const [event, digest] of [['begin', startedDigest], ['complete', recordDigest(record)]] as const) {
      const line = indexLine({...base, event, digest, prevLine: last === null ? null : lineHash(last)} as IndexEntry)
      lines.push(line)
      last = line
    }
    prev = recordDigest(record)
    if (opts.resign) writeFileSync(`${file}.dsse`, serializeEnvelope(signEnvelope(IN_TOTO_PAYLOAD_TYPE, Buffer.from(canonicalJson(record)), opts.resign)))
  }
  writeFileSync(join(dir, 'index.jsonl'), lines.map((l) => `${l}\n`).join(''))
  if (opts.resign) {
    const cp = {v: 1, lines: lines.length, head: lineHash(last ?? ''), maxSeq: files.length, signedAt: '2026-01-02T03:07:00.000Z'}
    writeFileSync(join(dir, 'checkpoint.dsse'), serializeEnvelope(signEnvelope(CHECKPOINT_PAYLOAD_TYPE, Buffer.from(canonicalJson(cp)), opts.resign)))
    rmSync(join(dir, 'keys'), {recursive: true, force: true})
    cpSync(tempKeyDir(opts.resign), join(dir, 'keys'), {recursive: true})
  }
}

function attackerKey(): SigningKey {
  const {privateKey, publicKey} = generateKeyPairSync('ed25519')
  return {keyid: keyIdOf(publicKey), privateKey, publicKey, publicPem: publicKey.export({type: 'spki', format: 'pem'}).toString()}
}

function tempKeyDir(key: SigningKey): string {
  const d = tempDir('evidence-attacker-keys-')
  writeFileSync(join(d, `${key.keyid}.pub`), key.publicPem)
  return d
}

/** Only what the signatures and the checkpoint catch (the rest of the chain checks pass: the rewrite is consistent). */
const signatureOrAnchor = (f: {field: string | null; problem: string}) => f.field === 'signature' || /^(rewritten|rolled back|planted)/.test(f.problem)

describe('tamper: a consistent rewrite', () => {
  it('of an exit code from one record onward: the unsigned parts all check, the signatures and the checkpoint do not (exit 5)', async () => {
    const {dir, files} = await evidenceDir(3)
    rewrite(dir, 2, (r) => void (r.predicate.exitCode = 0))
    const result = await inspectPath(dir)
    expect(result.verdict).toBe('invalid')
    expect(result.findings.length).toBeGreaterThan(0)
    expect(result.findings.every(signatureOrAnchor)).toBe(true)
    expect(result.findings).toContainEqual({file: files[1], field: 'signature', problem: expect.stringMatching(/signs other content: the record was changed after it was signed/)})
    expect(result.findings).toContainEqual({file: join(dir, 'index.jsonl'), field: 'line 6', problem: expect.stringMatching(/^rewritten: hashes to sha256:\w+ but the signed checkpoint/)})
  })

  it('making every mount ro and the network none: caught the same way', async () => {
    const {dir} = await evidenceDir(2)
    rewrite(dir, 1, (r) => {
      for (const m of r.predicate.mounts) m.mode = 'ro'
      r.predicate.policy.network.mode = 'none'
    })
    const result = await inspectPath(dir)
    expect(result.verdict).toBe('invalid')
    expect(result.findings.filter((f) => f.field === 'signature')).toHaveLength(2)
    // Even unsigned, the record contradicts itself: podmanArgv still mounts rw and has no --network=none.
    const file = recordFiles(dir)[0] ?? ''
    expect(result.findings).toContainEqual({file, field: 'predicate.podmanArgv', problem: 'mounts /workspace/app rw, but predicate.mounts says ro'})
    expect(result.findings).toContainEqual({file, field: 'predicate.podmanArgv', problem: 'has no --network=none, but predicate.policy.network.mode is none'})
  })

  it('re-signed with the attacker’s own key and its public key put in keys/: invalid against the local or a trusted key, UNVERIFIED with only the keys beside the records', async () => {
    const {dir, files} = await evidenceDir(2)
    rewrite(dir, 1, (r) => void (r.predicate.exitCode = 0), {resign: attackerKey()})
    const local = await inspectPath(dir)
    expect(local.verdict).toBe('invalid')
    expect(local.findings).toContainEqual({file: files[0], field: 'signature', problem: expect.stringMatching(/^000001-.*\.json\.dsse: signed only by key [0-9a-f]{16}…, which is not trusted here$/)})
    const trusted = await inspectUntrusted(dir, {trustedKeyFile: TEST_PUBLIC_KEY_FILE})
    expect(trusted.verdict).toBe('invalid')
    // A reviewer elsewhere, with no key of their own: the dir's own key proves nothing.
    const elsewhere = await inspectUntrusted(dir)
    expect(elsewhere).toMatchObject({verdict: 'unverified', valid: false, findings: [], signatures: {trust: 'dir-keys'}})
    expect(elsewhere.unverified[0]).toMatch(/^signed only with the key stored beside the records/)
  })
})

describe('tamper: removing records', () => {
  it('a rollback of the last record (file, envelope and index lines): the signed checkpoint is newer (exit 5), and the writer refuses to extend it', async () => {
    const {dir, files} = await evidenceDir(3)
    const last = files[2] ?? ''
    rmSync(last)
    rmSync(`${last}.dsse`)
    const lines = readFileSync(join(dir, 'index.jsonl'), 'utf8').split('\n').filter(Boolean)
    writeFileSync(join(dir, 'index.jsonl'), lines.slice(0, 4).map((l) => `${l}\n`).join(''))
    const result = await inspectPath(dir)
    expect(result.verdict).toBe('invalid')
    expect(result.findings).toEqual([
      {file: join(dir, 'index.jsonl'), field: null, problem: expect.stringMatching(/^rolled back: the signed checkpoint \(.*\) covers 6 lines up to seq 3, but index.jsonl has 4/)},
    ])
    await expect(beginRecord(dir, sampleDraft())).rejects.toMatchObject({code: 'EVIDENCE_INDEX_DAMAGED', message: expect.stringMatching(/signed checkpoint covers 6 \(records were rolled back\)/)})
  })

  it('a rollback that also removes the checkpoint: missing checkpoint (exit 5); one that restores an older checkpoint: caught by --expect-head', async () => {
    const {dir, files} = await evidenceDir(2)
    const olderCheckpoint = readFileSync(join(dir, 'checkpoint.dsse'))
    const head = (await inspectPath(dir)).index?.head ?? ''
    const h = await beginRecord(dir, sampleDraft())
    await h.complete({exitCode: 9})
    const laterHead = (await inspectPath(dir)).index?.head ?? ''
    // Roll back the third record.
    rmSync(h.file)
    rmSync(`${h.file}.dsse`)
    const lines = readFileSync(join(dir, 'index.jsonl'), 'utf8').split('\n').filter(Boolean)
    writeFileSync(join(dir, 'index.jsonl'), lines.slice(0, 4).map((l) => `${l}\n`).join(''))
    rmSync(join(dir, 'checkpoint.dsse'))
    expect((await inspectPath(dir)).findings).toEqual([{file: join(dir, 'checkpoint.dsse'), field: null, problem: expect.stringMatching(/^missing: a signed evidence dir has a signed checkpoint/)}])
    // The attacker kept the older checkpoint: the dir is consistent again...
    writeFileSync(join(dir, 'checkpoint.dsse'), olderCheckpoint)
    expect((await inspectPath(dir)).verdict).toBe('valid')
    expect((await inspectPath(dir, {expectHead: head})).verdict).toBe('valid')
    // ...but not against the head a reviewer recorded after the third run.
    const pinned = await inspectPath(dir, {expectHead: laterHead})
    expect(pinned.verdict).toBe('invalid')
    expect(pinned.findings).toEqual([{file: join(dir, 'index.jsonl'), field: null, problem: `the expected head ${laterHead} is no line of index.jsonl: the history up to it was rewritten or rolled back since it was recorded`}])
    void files
  })

  it('removing every signature, the checkpoint and the key: UNVERIFIED, never valid', async () => {
    const {dir, files} = await evidenceDir(2)
    for (const f of files) rmSync(`${f}.dsse`)
    rmSync(join(dir, 'checkpoint.dsse'))
    rmSync(join(dir, 'keys'), {recursive: true})
    const result = await inspectPath(dir)
    expect(result).toMatchObject({verdict: 'unverified', valid: false, findings: []})
    expect(result.unverified[0]).toMatch(/^not signed/)
  })

  it('removing one envelope: that record is not signed (exit 5)', async () => {
    const {dir, files} = await evidenceDir(2)
    rmSync(`${files[0]}.dsse`)
    expect((await inspectPath(dir)).findings).toEqual([
      {file: files[0], field: 'signature', problem: expect.stringMatching(/^not signed: 000001-.*\.json\.dsse is missing/)},
    ])
  })
})

describe('tamper: planting', () => {
  it('an unindexed "started" record, however well formed, is planted (exit 5) and never adopted into the index', async () => {
    const {dir, files} = await evidenceDir(2)
    const second = readRecord(files[1] ?? '')
    const planted: EvidenceRecord = structuredClone(second)
    planted.predicate.runId = 'planted-run'
    planted.predicate.status = 'started'
    planted.predicate.finishedAt = null
    planted.predicate.exitCode = null
    planted.predicate.chain = {seq: 3, prev: recordDigest(second), startedDigest: null}
    const file = join(dir, 'records', '000003-planted-run.json')
    writeFileSync(file, serializeRecord(planted))
    const result = await inspectPath(dir)
    expect(result.findings).toEqual([
      {file, field: 'signature', problem: 'not signed: 000003-planted-run.json.dsse is missing: every record of a signed evidence dir has its envelope'},
      {file, field: null, problem: 'planted: not in index.jsonl and not signed'},
    ])
    const next = await beginRecord(dir, sampleDraft())
    expect(next.seq).toBe(4)
    expect(readFileSync(join(dir, 'index.jsonl'), 'utf8')).not.toContain('planted-run')
    expect((await inspectPath(dir)).findings).toContainEqual({file, field: null, problem: 'planted: not in index.jsonl and not signed'})
  })

  it('an index line appended after the signed checkpoint: planted (exit 5)', async () => {
    const {dir, files} = await evidenceDir(1)
    const text = readFileSync(join(dir, 'index.jsonl'), 'utf8')
    const lines = text.split('\n').filter(Boolean)
    const last = lines.at(-1) ?? ''
    const record = readRecord(files[0] ?? '')
    const fake = indexLine({v: 1, event: 'complete', seq: 1, runId: record.predicate.runId, file: files[0]?.split('/').pop() ?? '', digest: `sha256:${'0'.repeat(64)}`, prevLine: lineHash(last)} as IndexEntry)
    writeFileSync(join(dir, 'index.jsonl'), `${text}${fake}\n`)
    const result = await inspectPath(dir)
    expect(result.findings).toContainEqual({file: join(dir, 'index.jsonl'), field: 'line 3', problem: expect.stringMatching(/^planted: appended after the last signed checkpoint \(line 2\)/)})
  })
})

describe('cross-field checks (a record that contradicts itself)', () => {
  const cases: Array<[string, (r: EvidenceRecord) => void, {field: string; problem: string | RegExp}]> = [
    ['finishedAt before startedAt', (r) => void (r.predicate.finishedAt = '2026-01-01T00:00:00.000Z'), {field: 'predicate.finishedAt', problem: 'is before startedAt (2026-01-02T03:04:05.000Z)'}],
    ['an image ID that is not one', (r) => void (r.predicate.image.id = 'not-an-id'), {field: 'predicate.image.id', problem: 'is not an image ID (64 hex digits): "not-an-id"'}],
    ['another image in podmanArgv', (r) => void (r.predicate.image.id = 'b'.repeat(64)), {field: 'predicate.podmanArgv', problem: /^does not run the recorded image/}],
    ['a relative mount source', (r) => void (r.predicate.mounts[0]!.source = 'app'), {field: 'predicate.mounts[0].source', problem: 'is not an absolute path: "app"'}],
    ['a mount podman never got', (r) => void r.predicate.mounts.push({source: '/srv/x', target: '/workspace/x', mode: 'ro'}), {field: 'predicate.podmanArgv', problem: 'has no --mount for /workspace/x, which predicate.mounts lists'}],
    ['a resource limit that was not applied', (r) => void (r.predicate.policy.resources.memory = '1g'), {field: 'predicate.podmanArgv', problem: 'has no --memory=1g, which predicate.policy.resources.memory requires'}],
    ['a shell with a tool', (r) => void (r.predicate.verb = 'shell'), {field: 'predicate.tool', problem: 'is "codex" but verb is shell'}],
  ]
  it.each(cases)('%s is named (exit 5), even in a consistent rewrite', async (_name, mutate, finding) => {
    const {dir} = await evidenceDir(1)
    rewrite(dir, 1, (r) => {
      mutate(r)
      r.predicate.policyHash = policyHash(r.predicate.policy)
    })
    const result = await inspectPath(dir)
    expect(result.verdict).toBe('invalid')
    expect(result.findings).toContainEqual({file: recordFiles(dir)[0], field: finding.field, problem: typeof finding.problem === 'string' ? finding.problem : expect.stringMatching(finding.problem)})
  })
})

describe('a copied range (--since)', () => {
  it('records before the range are not expected; a gap inside it still is a finding', async () => {
    const {dir, files} = await evidenceDir(4)
    const copy = tempDir('evidence-range-')
    cpSync(dir, copy, {recursive: true})
    const copied = (f: string) => join(copy, 'records', f.split('/').pop() ?? '')
    for (const f of files.slice(0, 2)) {
      rmSync(copied(f))
      rmSync(`${copied(f)}.dsse`)
    }
    expect((await inspectPath(copy)).verdict).toBe('invalid')
    expect(await inspectPath(copy, {since: 3})).toMatchObject({verdict: 'valid', findings: []})
    rmSync(copied(files[3] ?? ''))
    expect((await inspectPath(copy, {since: 3})).findings).toContainEqual({file: copied(files[3] ?? ''), field: null, problem: expect.stringMatching(/^missing: index.jsonl line 8 lists it/)})
  })
})

describe('upgrading an unsigned evidence dir', () => {
  it('an older CLI’s records are UNVERIFIED; the first signed write signs those the index vouches for and anchors them all; a record changed before that stays a finding', async () => {
    const {beginRecord: beginUnsigned} = await import('../../../src/core/evidence/store.js')
    const dir = tempDir()
    const files: string[] = []
    for (let i = 0; i < 3; i++) {
      const h = await beginUnsigned(dir, sampleDraft())
      await h.complete({exitCode: i})
      files.push(h.file)
    }
    expect((await inspectPath(dir)).verdict).toBe('unverified')
    // One of them was changed while nothing anchored it: the index still disagrees, so it is not signed.
    writeFileSync(files[2] ?? '', readFileSync(files[2] ?? '', 'utf8').replace('"exitCode":2', '"exitCode":0'))
    const h = await beginRecord(dir, sampleDraft())
    await h.complete({exitCode: 0})
    const result = await inspectPath(dir)
    expect(result.records.map((r) => r.signed)).toEqual([true, true, false, true])
    expect(result.findings.map((f) => [f.file, f.field])).toEqual([
      [files[2], 'signature'],
      [files[2], null],
    ])
  })
})
