/**
 * Cross-implementation check (issue 14, item 2): our record and checkpoint envelopes verify with
 * Sigstore's verifier (@sigstore/verify, which computes the DSSE PAE and checks the signature with
 * its own code), given only the public key — and a changed payload or signature does not.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {bundleFromJSON} from '@sigstore/bundle'
import {toSignedEntity, toTrustMaterial, Verifier} from '@sigstore/verify'
import {describe, expect, it} from 'vitest'

import {beginRecord, sampleDraft, tempDir, TEST_KEY} from './helpers.js'

interface Envelope {
  payload: string
  payloadType: string
  signatures: Array<{keyid: string; sig: string}>
}

function sigstoreVerify(envelope: Envelope): void {
  const bundle = bundleFromJSON({
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: {publicKey: {hint: TEST_KEY.keyid}, tlogEntries: [], timestampVerificationData: {rfc3161Timestamps: []}},
    dsseEnvelope: envelope,
  })
  const trust = toTrustMaterial(
    {mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: []},
    (hint) => {
      if (hint !== TEST_KEY.keyid) throw new Error(`unknown key ${hint}`)
      return {publicKey: TEST_KEY.publicKey, validFor: () => true}
    },
  )
  // Offline: no transparency log, no timestamps, only the public key (no network signing here).
  new Verifier(trust, {tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0}).verify(toSignedEntity(bundle))
}

describe('DSSE envelopes verify with @sigstore/verify', () => {
  it('a record envelope and the checkpoint verify; the payload is the record’s JCS bytes', async () => {
    const dir = tempDir()
    const h = await beginRecord(dir, sampleDraft())
    await h.complete({exitCode: 0})
    const envelope = JSON.parse(readFileSync(`${h.file}.dsse`, 'utf8')) as Envelope
    expect(envelope.payloadType).toBe('application/vnd.in-toto+json')
    expect(Buffer.from(envelope.payload, 'base64').toString('utf8')).toBe(readFileSync(h.file, 'utf8').slice(0, -1))
    expect(() => sigstoreVerify(envelope)).not.toThrow()
    const checkpoint = JSON.parse(readFileSync(join(dir, 'checkpoint.dsse'), 'utf8')) as Envelope
    expect(() => sigstoreVerify(checkpoint)).not.toThrow()
  })

  it('a changed payload, payload type or signature fails there too', async () => {
    const dir = tempDir()
    const h = await beginRecord(dir, sampleDraft())
    const envelope = JSON.parse(readFileSync(`${h.file}.dsse`, 'utf8')) as Envelope
    const payload = Buffer.from(envelope.payload, 'base64').toString('utf8').replace('"exitCode":null', '"exitCode":0')
    expect(() => sigstoreVerify({...envelope, payload: Buffer.from(payload).toString('base64')})).toThrow(/signature verification failed/)
    expect(() => sigstoreVerify({...envelope, payloadType: 'application/json'})).toThrow(/signature verification failed/)
    const sig = Buffer.from(envelope.signatures[0]?.sig ?? '', 'base64')
    sig[0] = (sig[0] ?? 0) ^ 1
    expect(() => sigstoreVerify({...envelope, signatures: [{keyid: TEST_KEY.keyid, sig: sig.toString('base64')}]})).toThrow(/signature verification failed/)
  })
})
