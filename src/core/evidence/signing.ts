/**
 * Signed evidence (issue 14, item 2; docs/evidence.md, "Signatures and checkpoints").
 *
 * - The signing key: ed25519, made with node:crypto on first use in `<state dir>/evidence-key/`
 *   (dir 0700, `ed25519.key` PKCS#8 PEM 0600, `ed25519.pub` SPKI PEM). The state dir is outside
 *   every mount; a launch refuses a mount that would reach it.
 * - Its public key is published beside the records: `<evidence dir>/keys/<keyid>.pub`, where
 *   keyid = hex SHA-256 of the SPKI DER bytes.
 * - Every record is also written as a DSSE envelope (https://github.com/secure-systems-lab/dsse,
 *   protocol v1): `records/<record file>.dsse`, payloadType `application/vnd.in-toto+json`, the
 *   payload the record's JCS bytes (the bytes its digest is over), signed over
 *   PAE(payloadType, payload).
 * - Every index append writes `checkpoint.dsse`: a signed envelope whose payload (JCS) names the
 *   index's line count and head (the sha256 of its last line), so rewriting or cutting the index
 *   after it was signed shows.
 */
import {createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject} from 'node:crypto'
import {constants} from 'node:fs'
import {chmod, mkdir, open} from 'node:fs/promises'
import path from 'node:path'

import {z} from 'zod'

import {prerequisiteMissing} from '../errors.js'
import {canonicalJson} from '../policy/hash.js'
import {writeFileAtomic} from '../fs-atomic.js'
import {MAX_JSON_DEPTH, nestingExceeds, readRegularFile, UnsafeFile} from './safe-read.js'

export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json'
export const CHECKPOINT_PAYLOAD_TYPE = 'application/vnd.sourceos.agent-machine.evidence-checkpoint+json'
export const CHECKPOINT_FILE = 'checkpoint.dsse'
export const KEYS_DIR = 'keys'
export const ENVELOPE_SUFFIX = '.dsse'
export const KEY_DIR_NAME = 'evidence-key'
const PRIVATE_KEY_FILE = 'ed25519.key'
const PUBLIC_KEY_FILE = 'ed25519.pub'
const MAX_ENVELOPE_BYTES = 24 * 1024 * 1024
const MAX_KEY_BYTES = 64 * 1024

export const DsseEnvelopeSchema = z
  .object({
    payload: z.string().describe('The payload, base64 (standard, padded).'),
    payloadType: z.string().describe('What the payload is.'),
    signatures: z.array(z.object({keyid: z.string().describe('hex SHA-256 of the SPKI DER public key.'), sig: z.string().describe('ed25519 signature over PAE, base64.')}).strict()).min(1),
  })
  .strict()
  .describe('A DSSE envelope (protocol v1).')

export type DsseEnvelope = z.infer<typeof DsseEnvelopeSchema>

export const CheckpointSchema = z
  .object({
    v: z.literal(1),
    lines: z.number().int().min(1).describe('index.jsonl line count when it was signed.'),
    head: z.string().regex(/^sha256:[0-9a-f]{64}$/).describe('sha256 of the last of those lines (index.head).'),
    maxSeq: z.number().int().min(1).describe('The highest record seq the index had.'),
    signedAt: z.string().describe('When it was signed (RFC 3339, UTC).'),
  })
  .strict()

export type Checkpoint = z.infer<typeof CheckpointSchema>

export interface SigningKey {
  keyid: string
  privateKey: KeyObject
  publicKey: KeyObject
  publicPem: string
}

/** DSSE pre-authentication encoding: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body. */
export function pae(payloadType: string, payload: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, 'utf8')
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `, 'utf8'), type, Buffer.from(` ${payload.length} `, 'utf8'), Buffer.from(payload)])
}

/** hex SHA-256 of the key's SPKI DER. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({type: 'spki', format: 'der'})).digest('hex')
}

export function signEnvelope(payloadType: string, payload: Uint8Array, key: SigningKey): DsseEnvelope {
  const sig = sign(null, pae(payloadType, payload), key.privateKey)
  return {payload: Buffer.from(payload).toString('base64'), payloadType, signatures: [{keyid: key.keyid, sig: sig.toString('base64')}]}
}

/** The envelope as file bytes: JCS + newline. */
export function serializeEnvelope(envelope: DsseEnvelope): string {
  return `${canonicalJson(envelope)}\n`
}

export type EnvelopeCheck = {ok: true; payload: Buffer; keyid: string} | {ok: false; problem: string}

/** Parses and verifies an envelope's bytes against the trusted keys (keyid → key). */
export function verifyEnvelopeBytes(bytes: Buffer, expectedType: string, trusted: ReadonlyMap<string, KeyObject>): EnvelopeCheck {
  let envelope: DsseEnvelope
  try {
    const text = bytes.toString('utf8')
    if (nestingExceeds(text, MAX_JSON_DEPTH)) return {ok: false, problem: `not a DSSE envelope: nested deeper than ${MAX_JSON_DEPTH} levels`}
    const parsed = DsseEnvelopeSchema.safeParse(JSON.parse(text))
    if (!parsed.success) return {ok: false, problem: `not a DSSE envelope: ${parsed.error.issues[0]?.message ?? 'invalid'}`}
    envelope = parsed.data
  } catch (error) {
    return {ok: false, problem: `not a DSSE envelope: ${(error as Error).message}`}
  }
  if (envelope.payloadType !== expectedType) return {ok: false, problem: `payloadType is ${JSON.stringify(envelope.payloadType)}, expected "${expectedType}"`}
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(envelope.payload)) return {ok: false, problem: 'payload is not base64'}
  const payload = Buffer.from(envelope.payload, 'base64')
  const message = pae(envelope.payloadType, payload)
  const untrusted: string[] = []
  for (const s of envelope.signatures) {
    const key = trusted.get(s.keyid)
    if (!key) {
      untrusted.push(s.keyid)
      continue
    }
    let good = false
    try {
      good = verify(null, message, key, Buffer.from(s.sig, 'base64'))
    } catch {
      good = false
    }
    if (good) return {ok: true, payload, keyid: s.keyid}
    return {ok: false, problem: `signature by key ${s.keyid.slice(0, 16)}… does not verify: the envelope was changed after it was signed`}
  }
  return {ok: false, problem: `signed only by key${untrusted.length === 1 ? '' : 's'} ${untrusted.map((k) => `${k.slice(0, 16)}…`).join(', ')}, which ${untrusted.length === 1 ? 'is' : 'are'} not trusted here`}
}

/** Reads a PEM public key file (SPKI, ed25519). */
export async function readPublicKey(file: string): Promise<KeyObject> {
  const bytes = await readRegularFile(file, MAX_KEY_BYTES)
  const key = createPublicKey(bytes)
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${file} is a ${key.asymmetricKeyType ?? 'unknown'} key, not ed25519`)
  return key
}

/** The key dir of a state dir. */
export function signingKeyDir(stateDir: string): string {
  return path.join(stateDir, KEY_DIR_NAME)
}

/** The local public key, when this host has a signing key; null otherwise. */
export async function localPublicKey(stateDir: string): Promise<KeyObject | null> {
  try {
    return await readPublicKey(path.join(signingKeyDir(stateDir), PUBLIC_KEY_FILE))
  } catch (error) {
    if (error instanceof UnsafeFile && error.kind === 'missing') return null
    throw error
  }
}

const KEY_UNUSABLE = 'EVIDENCE_KEY_UNUSABLE'

/** Loads the signing key from `keyDir`, creating it (0600, in a 0700 dir) on first use. */
export async function loadOrCreateSigningKey(keyDir: string): Promise<SigningKey> {
  const privateFile = path.join(keyDir, PRIVATE_KEY_FILE)
  const publicFile = path.join(keyDir, PUBLIC_KEY_FILE)
  const fix = `move ${keyDir} aside (records signed with it then need its ${PUBLIC_KEY_FILE} to verify) and run again; a new key is made`
  try {
    await mkdir(keyDir, {recursive: true, mode: 0o700})
    await chmod(keyDir, 0o700)
  } catch (error) {
    throw prerequisiteMissing(KEY_UNUSABLE, `cannot create the evidence signing key dir ${keyDir}: ${(error as Error).message}`, 'check the state dir’s permissions (SOURCEOSCTL_STATE_DIR)')
  }
  let pem: Buffer | null = null
  try {
    pem = await readRegularFile(privateFile, MAX_KEY_BYTES)
  } catch (error) {
    if (!(error instanceof UnsafeFile && error.kind === 'missing')) throw prerequisiteMissing(KEY_UNUSABLE, `the evidence signing key ${privateFile} ${(error as Error).message}`, fix)
  }
  if (pem === null) {
    const pair = generateKeyPairSync('ed25519')
    const text = pair.privateKey.export({type: 'pkcs8', format: 'pem'}).toString()
    try {
      // Exclusive and never through a link: a concurrent first use keeps the key the other made.
      const handle = await open(privateFile, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600)
      try {
        await handle.writeFile(text)
        await handle.sync()
      } finally {
        await handle.close()
      }
      pem = Buffer.from(text)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw prerequisiteMissing(KEY_UNUSABLE, `cannot write the evidence signing key ${privateFile}: ${(error as Error).message}`, 'check the state dir’s permissions')
      pem = await readRegularFile(privateFile, MAX_KEY_BYTES)
    }
  }
  let privateKey: KeyObject
  try {
    privateKey = createPrivateKey(pem)
  } catch (error) {
    throw prerequisiteMissing(KEY_UNUSABLE, `the evidence signing key ${privateFile} cannot be read as a key: ${(error as Error).message}`, fix)
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw prerequisiteMissing(KEY_UNUSABLE, `the evidence signing key ${privateFile} is not an ed25519 key`, fix)
  const publicKey = createPublicKey(privateKey)
  const publicPem = publicKey.export({type: 'spki', format: 'pem'}).toString()
  await writeIfDifferent(publicFile, publicPem)
  return {keyid: keyIdOf(publicKey), privateKey, publicKey, publicPem}
}

/** Writes `text` unless the file already holds exactly it (never through a link). */
export async function writeIfDifferent(file: string, text: string, mode = 0o644): Promise<void> {
  try {
    if ((await readRegularFile(file, MAX_KEY_BYTES)).toString('utf8') === text) return
  } catch {
    // missing or unusable: (re)written below
  }
  await writeFileAtomic(file, text, {overwrite: true, mode, unwritable: {code: 'EVIDENCE_DIR_UNWRITABLE', fix: 'check the permissions of the evidence dir and the state dir'}})
}

/** Reads an envelope file with the safe reader. */
export async function readEnvelopeFile(file: string): Promise<Buffer> {
  return readRegularFile(file, MAX_ENVELOPE_BYTES)
}
