// What `evidence inspect` is pointed at, before any record is read: an empty path, a link, a FIFO,
// a missing default dir, a bad --expect-head or --trusted-key; and how one file inside an evidence
// dir, a loose record, and the trust behind them are reported.
import {execFileSync} from 'node:child_process'
import {copyFileSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {inspectPath as rawInspectPath} from '../../../src/core/evidence/verify.js'
import {beginRecord, inspectPath, sampleDraft, TEST_PUBLIC_KEY_FILE, TEST_STATE_DIR, tempDir} from './helpers.js'

const dirs: string[] = []
afterAll(() => {
  for (const d of [...dirs, TEST_STATE_DIR]) rmSync(d, {recursive: true, force: true})
})
const fresh = (prefix: string) => {
  const d = tempDir(prefix)
  dirs.push(d)
  return d
}

/** A signed evidence dir with n completed records. */
async function evidence(n: number): Promise<{dir: string; files: string[]}> {
  const dir = fresh('inspect-input-')
  const files: string[] = []
  for (let i = 0; i < n; i++) {
    const h = await beginRecord(dir, sampleDraft())
    await h.complete({exitCode: 0, finishedAt: '2026-01-02T03:06:00.000Z'})
    files.push(h.file)
  }
  return {dir, files}
}

const shared = await evidence(2)

describe('the path given', () => {
  it('an empty or blank path is a usage error (exit 2)', async () => {
    await expect(inspectPath('')).rejects.toMatchObject({code: 'USAGE', exitCode: 2})
    await expect(inspectPath('   ')).rejects.toMatchObject({code: 'USAGE', exitCode: 2})
  })

  it('a link to a record file is refused (evidence is never read through links); a link to an evidence dir is inspected as that dir', async () => {
    const d = fresh('inspect-links-')
    symlinkSync(shared.files[0]!, join(d, 'record-link.json'))
    await expect(inspectPath(join(d, 'record-link.json'))).rejects.toMatchObject({code: 'EVIDENCE_PATH_UNSAFE', exitCode: 5})
    symlinkSync(shared.dir, join(d, 'dir-link'))
    const viaLink = await inspectPath(join(d, 'dir-link'))
    expect(viaLink).toMatchObject({valid: true, verdict: 'valid', kind: 'dir', path: join(d, 'dir-link')})
    expect(viaLink.records).toHaveLength(2)
  })

  it('a link whose target is gone, and a path through a file, are "does not exist"', async () => {
    const d = fresh('inspect-dangling-')
    symlinkSync(join(d, 'nowhere'), join(d, 'dangling'))
    await expect(inspectPath(join(d, 'dangling'))).rejects.toMatchObject({code: 'EVIDENCE_PATH_NOT_FOUND', exitCode: 5})
    writeFileSync(join(d, 'file'), 'x')
    await expect(inspectPath(join(d, 'file', 'below'))).rejects.toMatchObject({code: 'EVIDENCE_PATH_NOT_FOUND', exitCode: 5})
  })

  it('the default dir not there yet says there is no evidence yet; a named path that is not there says it does not exist', async () => {
    const d = fresh('inspect-default-')
    await expect(inspectPath(join(d, 'evidence'), {isDefaultDir: true})).rejects.toMatchObject({code: 'EVIDENCE_PATH_NOT_FOUND', message: expect.stringMatching(/^no evidence yet/)})
    await expect(inspectPath(join(d, 'evidence'))).rejects.toMatchObject({code: 'EVIDENCE_PATH_NOT_FOUND', message: expect.not.stringMatching(/no evidence yet/)})
  })

  it('a FIFO is neither a record nor a dir: refused without being opened', async () => {
    const d = fresh('inspect-fifo-')
    execFileSync('mkfifo', [join(d, 'pipe')])
    await expect(inspectPath(join(d, 'pipe'))).rejects.toMatchObject({code: 'EVIDENCE_PATH_UNSAFE', exitCode: 5})
  })

  it('--expect-head must be a sha256 digest of an index line (usage error otherwise)', async () => {
    for (const head of ['abc', `sha256:${'a'.repeat(63)}`, `sha256:${'A'.repeat(64)}`, `x sha256:${'a'.repeat(64)}`, `sha256:${'a'.repeat(64)} `]) {
      await expect(inspectPath(shared.dir, {expectHead: head}), head).rejects.toMatchObject({code: 'USAGE', exitCode: 2})
    }
  })

  it('--trusted-key that is not a readable public key is a usage error', async () => {
    const d = fresh('inspect-key-')
    writeFileSync(join(d, 'not-a-key.pem'), 'hello\n')
    await expect(inspectPath(shared.dir, {trustedKeyFile: join(d, 'not-a-key.pem')})).rejects.toMatchObject({code: 'USAGE', exitCode: 2})
    await expect(inspectPath(shared.dir, {trustedKeyFile: join(d, 'missing.pem')})).rejects.toMatchObject({code: 'USAGE', exitCode: 2})
  })
})

describe('one record file', () => {
  it('inside an evidence dir: the dir is verified, and only that record and its findings are reported', async () => {
    const {dir, files} = await evidence(3)
    const text = readFileSync(files[2]!, 'utf8')
    writeFileSync(files[2]!, text.replace('"exitCode":0', '"exitCode":7'))
    const first = await inspectPath(files[0]!)
    expect(first).toMatchObject({kind: 'file', path: files[0], evidenceDir: dir, valid: true, verdict: 'valid', findings: [], incomplete: 0})
    expect(first.records.map((r) => r.file)).toEqual([files[0]])
    const third = await inspectPath(files[2]!)
    expect(third).toMatchObject({kind: 'file', valid: false, verdict: 'invalid'})
    expect(third.records.map((r) => r.file)).toEqual([files[2]])
    expect(new Set(third.findings.map((f) => f.file))).toEqual(new Set([files[2]]))
  })

  it('a started record inside an evidence dir counts as incomplete', async () => {
    const dir = fresh('inspect-started-')
    const h = await beginRecord(dir, sampleDraft())
    const result = await inspectPath(h.file)
    expect(result).toMatchObject({kind: 'file', incomplete: 1, valid: true})
    expect(result.records[0]).toMatchObject({status: 'started', incomplete: true})
  })

  it('a loose record with its envelope verifies and is signed; without the envelope it is unverified, never valid', async () => {
    const d = fresh('inspect-loose-')
    copyFileSync(shared.files[0]!, join(d, 'r.json'))
    const bare = await inspectPath(join(d, 'r.json'))
    expect(bare).toMatchObject({kind: 'file', evidenceDir: null, index: null, checkpoint: null, valid: false, verdict: 'unverified', findings: [], signatures: {signed: 0}})
    expect(bare.unverified).toHaveLength(1)
    expect(bare.chain).toMatchObject({checked: false, length: 1, head: {seq: 1}})
    copyFileSync(`${shared.files[0]!}.dsse`, join(d, 'r.json.dsse'))
    const signed = await inspectPath(join(d, 'r.json'))
    expect(signed).toMatchObject({valid: true, verdict: 'valid', unverified: [], signatures: {trust: 'local-key', signed: 1}})
    expect(signed.records[0]).toMatchObject({signed: true, valid: true})
  })

  it('a loose record whose envelope no trusted key verifies is unverified, and says why', async () => {
    const d = fresh('inspect-loose-untrusted-')
    copyFileSync(shared.files[0]!, join(d, 'r.json'))
    copyFileSync(`${shared.files[0]!}.dsse`, join(d, 'r.json.dsse'))
    const other = fresh('inspect-other-state-')
    const result = await rawInspectPath(join(d, 'r.json'), {stateDir: other})
    expect(result).toMatchObject({verdict: 'unverified', valid: false, signatures: {trust: 'none', keyids: [], signed: 0}})
    expect(result.unverified[0]).toMatch(/could not be verified/)
    expect(result.records[0]?.signed).toBe(false)
  })
})

describe('trust', () => {
  it('--trusted-key trusts that key only, named by its key id', async () => {
    const result = await rawInspectPath(shared.dir, {trustedKeyFile: TEST_PUBLIC_KEY_FILE})
    expect(result).toMatchObject({valid: true, signatures: {trust: 'trusted-key', signed: 2}})
    expect(result.signatures.keyids).toHaveLength(1)
    expect(result.signatures.keyids[0]).toMatch(/^[0-9a-f]{64}$/)
  })

  it('without a key of its own, the keys beside the records are used but leave the dir unverified; a broken .pub there or another file is skipped', async () => {
    const {dir} = await evidence(1)
    writeFileSync(join(dir, 'keys', 'broken.pub'), 'not a key\n')
    writeFileSync(join(dir, 'keys', 'notes.txt'), 'x\n')
    const result = await rawInspectPath(dir, {stateDir: fresh('inspect-no-key-')})
    expect(result).toMatchObject({verdict: 'unverified', findings: [], signatures: {trust: 'dir-keys', signed: 1}})
    expect(result.signatures.keyids).toHaveLength(1)
    expect(result.unverified[0]).toMatch(/keys\//)
  })

  it('with no key anywhere, a signed dir is unverified, never valid: the signatures and the checkpoint are there but not checked', async () => {
    const {dir} = await evidence(1)
    rmSync(join(dir, 'keys'), {recursive: true, force: true})
    const result = await rawInspectPath(dir, {stateDir: fresh('inspect-none-')})
    expect(result).toMatchObject({valid: false, verdict: 'unverified', findings: [], signatures: {trust: 'none', keyids: [], signed: 0}})
    expect(result.checkpoint).toMatchObject({present: true, verified: false, lines: null})
    expect(result.unverified).toHaveLength(1)
    expect(result.unverified[0]).toMatch(/no key to verify/)
    expect(result.records[0]?.signed).toBeNull()
  })
})

describe('a dir', () => {
  it('a dir with only records/ (its index gone) is still an evidence dir, not a loose folder', async () => {
    const {dir} = await evidence(1)
    rmSync(join(dir, 'index.jsonl'))
    const result = await inspectPath(dir)
    expect(result).toMatchObject({kind: 'dir', evidenceDir: dir, index: {present: false}})
    expect(result.findings.some((f) => f.file === join(dir, 'index.jsonl') && /^missing/.test(f.problem))).toBe(true)
  })

  it('a folder named records that is not inside an evidence dir is read as a loose folder', async () => {
    const d = fresh('inspect-records-name-')
    mkdirSync(join(d, 'records'))
    copyFileSync(shared.files[0]!, join(d, 'records', 'a.json'))
    const result = await inspectPath(join(d, 'records'))
    expect(result).toMatchObject({kind: 'dir', evidenceDir: null, index: null})
  })

  it('the chain head is the last seq, with its digest', async () => {
    const result = await inspectPath(shared.dir)
    expect(result.chain).toEqual({checked: true, length: 2, head: {seq: 2, digest: result.records[1]!.digest}})
    expect(result.index).toMatchObject({present: true, lines: 4})
    expect(result.index?.head).toMatch(/^sha256:[0-9a-f]{64}$/)
  })
})
