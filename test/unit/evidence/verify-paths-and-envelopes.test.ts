// The path evidence inspect is given (errors carry the path; a default dir that cannot be read is
// not "no evidence yet"), a loose record's envelope (a link, another signer, other content, a record
// without its newline), which files in keys/ are keys, records/ as it is on disk, and a dir that
// stays locked by a killed writer.
import {execFileSync} from 'node:child_process'
import {generateKeyPairSync} from 'node:crypto'
import {copyFileSync as copy, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {IN_TOTO_PAYLOAD_TYPE, keyIdOf, serializeEnvelope, signEnvelope, type SigningKey} from '../../../src/core/evidence/signing.js'
import {inspectPath as rawInspectPath} from '../../../src/core/evidence/verify.js'
import {completedDir, inspectPath, tempDir, TEST_KEY} from './helpers.js'

const signedDir = (n: number) => completedDir(n, {signed: true})

function otherKey(): SigningKey {
  const {privateKey, publicKey} = generateKeyPairSync('ed25519')
  return {keyid: keyIdOf(publicKey), privateKey, publicKey, publicPem: publicKey.export({type: 'spki', format: 'pem'}).toString()}
}

/** A loose copy of a record file (and its envelope, or another envelope's bytes). */
function loose(file: string, envelope?: Buffer | string): string {
  const d = tempDir('loose-')
  copy(file, join(d, 'r.json'))
  if (envelope !== undefined) writeFileSync(join(d, 'r.json.dsse'), envelope)
  return join(d, 'r.json')
}

describe('the path given', () => {
  it('errors name the path in their details', async () => {
    const d = tempDir()
    const {files} = await signedDir(1)
    symlinkSync(files[0]!, join(d, 'link.json'))
    await expect(inspectPath(join(d, 'link.json'))).rejects.toMatchObject({code: 'EVIDENCE_PATH_UNSAFE', details: {path: join(d, 'link.json')}})
    await expect(inspectPath(join(d, 'nowhere'))).rejects.toMatchObject({code: 'EVIDENCE_PATH_NOT_FOUND', details: {path: join(d, 'nowhere')}})
    await expect(inspectPath(join(d, 'nowhere'), {isDefaultDir: true})).rejects.toMatchObject({code: 'EVIDENCE_PATH_NOT_FOUND', details: {path: join(d, 'nowhere')}})
    execFileSync('mkfifo', [join(d, 'pipe')])
    await expect(inspectPath(join(d, 'pipe'))).rejects.toMatchObject({code: 'EVIDENCE_PATH_UNSAFE', details: {path: join(d, 'pipe')}})
  })

  it('a default dir below a file does not exist yet: "no evidence yet"', async () => {
    const d = tempDir()
    writeFileSync(join(d, 'state'), 'x')
    await expect(inspectPath(join(d, 'state', 'evidence'), {isDefaultDir: true})).rejects.toMatchObject({code: 'EVIDENCE_PATH_NOT_FOUND', message: expect.stringMatching(/^no evidence yet/)})
  })

  it('a path that cannot be looked up at all (a name too long) is unreadable, also as the default dir', async () => {
    const bad = join(tempDir(), 'x'.repeat(300))
    for (const isDefaultDir of [false, true]) {
      await expect(inspectPath(bad, {isDefaultDir})).rejects.toMatchObject({code: 'EVIDENCE_PATH_UNREADABLE', exitCode: 5, details: {path: bad}})
    }
  })
})

describe('a folder inside an evidence dir', () => {
  it('only records/ stands for its evidence dir: another folder beside the index is read as a loose folder', async () => {
    const {dir, files} = await signedDir(1)
    mkdirSync(join(dir, 'copies'))
    copy(files[0]!, join(dir, 'copies', 'r.json'))
    const result = await inspectPath(join(dir, 'copies'))
    expect(result).toMatchObject({kind: 'dir', evidenceDir: null, index: null, path: join(dir, 'copies')})
    expect(result.records.map((r) => r.file)).toEqual([join(dir, 'copies', 'r.json')])
  })
})

describe('a loose record and its envelope', () => {
  it('without an envelope: unverified, saying a loose record proves nothing, the trusted key listed', async () => {
    const {files} = await signedDir(1)
    const result = await inspectPath(loose(files[0]!))
    expect(result).toMatchObject({verdict: 'unverified', findings: [], signatures: {trust: 'local-key', keyids: [TEST_KEY.keyid], signed: 0}})
    expect(result.unverified).toEqual(['a loose record without a signature (<file>.dsse beside it) proves nothing about who wrote it'])
    expect(result.records[0]?.signed).toBeNull()
  })

  it('an envelope that is a symlink is not read: a signature finding', async () => {
    const {files} = await signedDir(1)
    const file = loose(files[0]!)
    symlinkSync(`${files[0]}.dsse`, `${file}.dsse`)
    const result = await inspectPath(file)
    expect(result.findings).toEqual([{file, field: 'signature', problem: 'not signed: r.json.dsse is a symlink: evidence files are never followed through links'}])
    expect(result.records[0]?.signed).toBe(false)
    expect(result.unverified).toEqual(['its signature could not be verified with a trusted key'])
  })

  it('an envelope signed by a key that is not trusted: a signature finding, not signed', async () => {
    const {files} = await signedDir(1)
    const other = otherKey()
    const body = readFileSync(files[0]!).subarray(0, -1)
    const file = loose(files[0]!, serializeEnvelope(signEnvelope(IN_TOTO_PAYLOAD_TYPE, body, other)))
    const result = await inspectPath(file)
    expect(result.findings).toEqual([{file, field: 'signature', problem: `r.json.dsse: signed only by key ${other.keyid.slice(0, 16)}…, which is not trusted here`}])
    expect(result.records[0]?.signed).toBe(false)
    expect(result.signatures.signed).toBe(0)
  })

  it('a genuine envelope of another record: signs other content, not signed', async () => {
    const {files} = await signedDir(2)
    const file = loose(files[0]!, readFileSync(`${files[1]}.dsse`))
    const result = await inspectPath(file)
    expect(result.findings).toEqual([{file, field: 'signature', problem: 'r.json.dsse is signed, but signs other content: the record was changed after it was signed'}])
    expect(result.records[0]?.signed).toBe(false)
  })

  it('the signature covers the record without its final newline; a record without one is signed over all its bytes', async () => {
    const {files} = await signedDir(1)
    const body = readFileSync(files[0]!).subarray(0, -1)
    const d = tempDir('loose-')
    writeFileSync(join(d, 'r.json'), body)
    writeFileSync(join(d, 'r.json.dsse'), serializeEnvelope(signEnvelope(IN_TOTO_PAYLOAD_TYPE, body, TEST_KEY)))
    const result = await inspectPath(join(d, 'r.json'))
    expect(result.records[0]?.signed).toBe(true)
    expect(result.findings.map((f) => f.field)).toEqual([null]) // only: not in canonical form (no newline)
    expect(result.findings[0]?.problem).toMatch(/^not in canonical form/)
  })
})

describe('keys/ beside the records', () => {
  it('only *.pub files are keys; they are listed in the order of their names', async () => {
    const {dir} = await signedDir(1)
    const noKey = tempDir('no-state-')
    const signer = readFileSync(join(dir, 'keys', `${TEST_KEY.keyid}.pub`))
    rmSync(join(dir, 'keys'), {recursive: true})
    mkdirSync(join(dir, 'keys'))
    writeFileSync(join(dir, 'keys', 'signer.pem'), signer)
    expect(await rawInspectPath(dir, {stateDir: noKey})).toMatchObject({verdict: 'unverified', signatures: {trust: 'none', keyids: []}})

    // written in the reverse order of their names: the listing is by name, not by how the dir lists them
    const other = otherKey()
    writeFileSync(join(dir, 'keys', 'z.pub'), signer)
    writeFileSync(join(dir, 'keys', 'a.pub'), other.publicPem)
    expect((await rawInspectPath(dir, {stateDir: noKey})).signatures).toEqual({trust: 'dir-keys', keyids: [other.keyid, TEST_KEY.keyid], signed: 1})
    renameSync(join(dir, 'keys', 'a.pub'), join(dir, 'keys', 'zz.pub'))
    expect((await rawInspectPath(dir, {stateDir: noKey})).signatures.keyids).toEqual([TEST_KEY.keyid, other.keyid])
  })
})

describe('keys/ that is no folder', () => {
  it('a file named keys holds no key: the signed dir is unverified for want of one, not unreadable', async () => {
    const {dir} = await signedDir(1)
    rmSync(join(dir, 'keys'), {recursive: true})
    writeFileSync(join(dir, 'keys'), 'x')
    const result = await rawInspectPath(dir, {stateDir: tempDir('no-state-')})
    expect(result).toMatchObject({verdict: 'unverified', findings: [], signatures: {trust: 'none', keyids: [], signed: 0}})
    expect(result.unverified).toEqual(['no key to verify the signatures with: pass --trusted-key <file> with the signer’s public key'])
  })
})

describe('records/ on disk', () => {
  it('records/ as a file: named once, and the indexed records are missing (nothing else)', async () => {
    const {dir, files} = await signedDir(1)
    rmSync(join(dir, 'records'), {recursive: true})
    writeFileSync(join(dir, 'records'), 'x')
    expect((await inspectPath(dir)).findings).toEqual([
      {file: join(dir, 'records'), field: null, problem: 'is not a directory: records are only read from a real records/ dir'},
      {file: files[0], field: null, problem: 'missing: index.jsonl line 2 lists it, but the file is gone (deleted or moved)'},
    ])
  })

  it('records/ as a symlink to the real records: none is read through it, so each is missing', async () => {
    const {dir, files} = await signedDir(1)
    renameSync(join(dir, 'records'), join(dir, 'real-records'))
    symlinkSync(join(dir, 'real-records'), join(dir, 'records'))
    expect((await inspectPath(dir)).findings).toEqual([
      {file: join(dir, 'records'), field: null, problem: 'is a symlink: records are only read from a real records/ dir'},
      {file: files[0], field: null, problem: 'missing: index.jsonl line 2 lists it, but the file is gone (deleted or moved)'},
    ])
  })

  it('records/ gone altogether: only the records the index lists are missing', async () => {
    const {dir, files} = await signedDir(1)
    rmSync(join(dir, 'records'), {recursive: true})
    expect((await inspectPath(dir)).findings).toEqual([{file: files[0], field: null, problem: 'missing: index.jsonl line 2 lists it, but the file is gone (deleted or moved)'}])
  })

  it('a .dsse file that is not named after a record is an unexpected file, not an orphaned signature', async () => {
    const {dir} = await signedDir(1)
    writeFileSync(join(dir, 'records', 'notes.dsse'), 'x')
    expect((await inspectPath(dir)).findings).toEqual([
      {file: join(dir, 'records', 'notes.dsse'), field: null, problem: 'unexpected file in records/: not a record file name (<seq>-<runId>.json) or its signature (<seq>-<runId>.json.dsse)'},
    ])
  })
})

describe('a dir that stays locked', () => {
  it('a lock left by a killed writer: a dir with a problem is reported after a few re-reads, not waited on forever', async () => {
    const {dir, files} = await signedDir(1)
    writeFileSync(files[0]!, readFileSync(files[0]!, 'utf8').replace('"exitCode":0', '"exitCode":3'))
    mkdirSync(join(dir, 'index.lock'))
    const result = await inspectPath(dir)
    expect(result.verdict).toBe('invalid')
    expect(result.findings.map((f) => f.file)).toContain(files[0])
  })
})
