// checkpoint.dsse against the index: what inspect reports when the checkpoint is no regular file, is
// signed by a key it does not trust, signs something that is no checkpoint, or is older than the
// index; and which lines appended after it are accepted (the last state of a signed record: the CLI
// was killed between its append and its signature) and which are planted.
import {readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {generateKeyPairSync} from 'node:crypto'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {lineHash} from '../../../src/core/evidence/index-log.js'
import {canonicalJson} from '../../../src/core/policy/hash.js'
import {CHECKPOINT_PAYLOAD_TYPE, keyIdOf, serializeEnvelope, signEnvelope, type SigningKey} from '../../../src/core/evidence/signing.js'
import {beginRecord, inspectPath, sampleDraft, tempDir, TEST_KEY} from './helpers.js'

const indexFile = (dir: string) => join(dir, 'index.jsonl')
const checkpointFile = (dir: string) => join(dir, 'checkpoint.dsse')
const indexLines = (dir: string) => readFileSync(indexFile(dir), 'utf8').split('\n').filter(Boolean)
const digestAt = (dir: string, line: number) => (JSON.parse(indexLines(dir)[line - 1]!) as {digest: string}).digest

async function completed(dir: string, n: number): Promise<string[]> {
  const files: string[] = []
  for (let i = 0; i < n; i++) {
    const h = await beginRecord(dir, sampleDraft())
    await h.complete({exitCode: 0})
    files.push(h.file)
  }
  return files
}

const signCheckpoint = (dir: string, payload: string, key: SigningKey = TEST_KEY) =>
  writeFileSync(checkpointFile(dir), serializeEnvelope(signEnvelope(CHECKPOINT_PAYLOAD_TYPE, Buffer.from(payload), key)))

describe('the checkpoint itself', () => {
  it('of a clean signed dir: verified, covering every index line up to the head', async () => {
    const dir = tempDir()
    await completed(dir, 2)
    const result = await inspectPath(dir)
    expect(result.verdict).toBe('valid')
    expect(result.checkpoint).toEqual({file: checkpointFile(dir), present: true, verified: true, lines: 4, head: result.index?.head, signedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/)})
  })

  it('a symlink in its place is not read: named with the reason, not present', async () => {
    const dir = tempDir()
    await completed(dir, 1)
    const real = join(tempDir(), 'checkpoint.dsse')
    writeFileSync(real, readFileSync(checkpointFile(dir)))
    rmSync(checkpointFile(dir))
    symlinkSync(real, checkpointFile(dir))
    const result = await inspectPath(dir)
    expect(result.findings).toEqual([{file: checkpointFile(dir), field: null, problem: 'is a symlink: evidence files are never followed through links'}])
    expect(result.checkpoint).toEqual({file: checkpointFile(dir), present: false, verified: false, lines: null, head: null, signedAt: null})
  })

  it('signed by a key that is not trusted: a signature finding, present but not verified', async () => {
    const dir = tempDir()
    await completed(dir, 1)
    const {privateKey, publicKey} = generateKeyPairSync('ed25519')
    const other: SigningKey = {keyid: keyIdOf(publicKey), privateKey, publicKey, publicPem: publicKey.export({type: 'spki', format: 'pem'}).toString()}
    const head = lineHash(indexLines(dir).at(-1)!)
    signCheckpoint(dir, JSON.stringify({v: 1, lines: 2, head, maxSeq: 1, signedAt: '2026-01-02T03:07:00.000Z'}), other)
    const result = await inspectPath(dir)
    expect(result.findings).toEqual([{file: checkpointFile(dir), field: 'signature', problem: `signed only by key ${other.keyid.slice(0, 16)}…, which is not trusted here`}])
    expect(result.checkpoint).toMatchObject({present: true, verified: false, lines: null, head: null})
  })

  it('signed by the trusted key, but its payload is not JSON or not a checkpoint: a payload finding', async () => {
    const dir = tempDir()
    await completed(dir, 1)
    const head = lineHash(indexLines(dir).at(-1)!)
    for (const payload of ['not json', JSON.stringify({v: 1, lines: 0, head, maxSeq: 1, signedAt: 'x'}), JSON.stringify({v: 2, lines: 2, head, maxSeq: 1, signedAt: 'x'})]) {
      signCheckpoint(dir, payload)
      const result = await inspectPath(dir)
      expect(result.findings, payload).toEqual([{file: checkpointFile(dir), field: 'payload', problem: 'signed, but not a checkpoint this CLI reads'}])
      expect(result.checkpoint).toMatchObject({present: true, verified: false, lines: null})
    }
  })

  it('covering more lines than the index has: rolled back, with the counts and the seq', async () => {
    const dir = tempDir()
    await completed(dir, 2)
    writeFileSync(indexFile(dir), indexLines(dir).slice(0, 3).map((l) => `${l}\n`).join(''))
    const result = await inspectPath(dir)
    const signedAt = result.checkpoint?.signedAt
    expect(result.checkpoint).toMatchObject({verified: true, lines: 4})
    expect(result.findings).toContainEqual({
      file: indexFile(dir),
      field: null,
      problem: `rolled back: the signed checkpoint (${signedAt}) covers 4 lines up to seq 2, but index.jsonl has 3: records and their index lines were removed after it was signed`,
    })
  })

  it('a checkpoint line that hashes otherwise: rewritten, naming the line and both hashes', async () => {
    const dir = tempDir()
    await completed(dir, 1)
    const lines = indexLines(dir)
    const signedHead = lineHash(lines[1]!)
    const fake = `sha256:${'f'.repeat(64)}`
    signCheckpoint(dir, JSON.stringify({v: 1, lines: 2, head: fake, maxSeq: 1, signedAt: '2026-01-02T03:07:00.000Z'}))
    const result = await inspectPath(dir)
    expect(result.findings).toEqual([
      {file: indexFile(dir), field: 'line 2', problem: `rewritten: hashes to ${signedHead} but the signed checkpoint (2026-01-02T03:07:00.000Z) says ${fake}: index lines up to it were changed after it was signed`},
    ])
    // The checkpoint covers one line only: the first line is what it must hash to.
    signCheckpoint(dir, JSON.stringify({v: 1, lines: 1, head: lineHash(lines[0]!), maxSeq: 1, signedAt: '2026-01-02T03:07:00.000Z'}))
    expect((await inspectPath(dir)).findings.filter((f) => /^rewritten/.test(f.problem))).toEqual([])
  })
})

/**
 * One completed record, then a second one whose completion (line 4) is past the signed checkpoint:
 * the checkpoint is put back to what it was after the begin, as when the writer was killed before
 * signing it again.
 */
async function completionPastCheckpoint(dir: string) {
  await completed(dir, 1)
  const h = await beginRecord(dir, sampleDraft())
  const afterBegin = readFileSync(checkpointFile(dir))
  await h.complete({exitCode: 0})
  writeFileSync(checkpointFile(dir), afterBegin)
  return h
}

describe('lines appended after the checkpoint', () => {
  it('the last state of a signed record (killed before signing the checkpoint) is accepted; a line before it is planted', async () => {
    const dir = tempDir()
    await completed(dir, 1)
    const afterFirst = readFileSync(checkpointFile(dir))
    const h = await beginRecord(dir, sampleDraft())
    const afterBegin = readFileSync(checkpointFile(dir))
    await h.complete({exitCode: 0})

    // One checkpoint lost: the completion at line 4 is the record's last state and its envelope signs that digest.
    writeFileSync(checkpointFile(dir), afterBegin)
    const one = await inspectPath(dir)
    expect(one).toMatchObject({verdict: 'valid', findings: []})
    expect(one.checkpoint).toMatchObject({verified: true, lines: 3})

    // Two lines after it: the begin at line 3 is no record's last state, so a checkpoint was skipped.
    writeFileSync(checkpointFile(dir), afterFirst)
    expect((await inspectPath(dir)).findings).toEqual([
      {file: indexFile(dir), field: 'line 3', problem: `planted: appended after the last signed checkpoint (line 2) and not backed by a signed record with digest ${digestAt(dir, 3)}`},
    ])
  })

  it('a completion repeated after the checkpoint: the first copy is no record’s last state, so it is planted', async () => {
    const dir = tempDir()
    await completionPastCheckpoint(dir)
    const lines = indexLines(dir)
    const again = {...(JSON.parse(lines[3]!) as Record<string, unknown>), prevLine: lineHash(lines[3]!)}
    writeFileSync(indexFile(dir), [...lines, canonicalJson(again)].map((l) => `${l}\n`).join(''))
    const findings = (await inspectPath(dir)).findings
    expect(findings).toContainEqual({file: indexFile(dir), field: 'line 4', problem: `planted: appended after the last signed checkpoint (line 3) and not backed by a signed record with digest ${digestAt(dir, 4)}`})
    expect(findings.some((f) => f.field === 'line 5' && /^planted/.test(f.problem))).toBe(false)
  })

  it('a line after the checkpoint whose record is not signed is planted', async () => {
    const dir = tempDir()
    const h = await completionPastCheckpoint(dir)
    rmSync(`${h.file}.dsse`)
    const findings = (await inspectPath(dir)).findings
    expect(findings).toContainEqual({file: indexFile(dir), field: 'line 4', problem: `planted: appended after the last signed checkpoint (line 3) and not backed by a signed record with digest ${digestAt(dir, 4)}`})
    expect(findings).toContainEqual({file: h.file, field: 'signature', problem: expect.stringMatching(/^not signed: .*\.json\.dsse is missing/)})
  })

  it('a line after the checkpoint that names a file not on disk is planted', async () => {
    const dir = tempDir()
    const h = await completionPastCheckpoint(dir)
    rmSync(h.file)
    rmSync(`${h.file}.dsse`)
    expect((await inspectPath(dir)).findings).toContainEqual({
      file: indexFile(dir),
      field: 'line 4',
      problem: `planted: appended after the last signed checkpoint (line 3) and not backed by a signed record with digest ${digestAt(dir, 4)}`,
    })
  })
})
