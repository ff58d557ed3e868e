/**
 * Roll-forward of an interrupted begin. beginRecord writes the record, then appends its index
 * line; a writer killed between the two leaves a whole "started" record that the index does not
 * list yet. Such a file is recognised only when everything about it is exactly what that begin
 * would have produced — the next seq after the index, canonical bytes, a valid started record,
 * prev equal to a digest the index holds for seq-1 — so the next beginRecord indexes it and
 * inspect reports it as incomplete. Anything else stays a finding. Pure.
 */
import {canonicalJson, policyHash} from '../policy/hash.js'
import {sha256Prefixed} from '../util/digest.js'
import {parseRecordFileName} from './index-log.js'
import {EvidenceRecordSchema} from './record.js'
import {MAX_JSON_DEPTH, nestingExceeds} from './safe-read.js'

export interface IndexView {
  maxSeq: number
  files: ReadonlySet<string>
  /** Every digest the index records for a seq (begin and complete). */
  digestsOf: (seq: number) => readonly string[]
}

/** The record's identity when `bytes` (file `name`) is an interrupted begin that may be indexed; else null. */
export function interruptedBegin(name: string, bytes: Uint8Array, index: IndexView): {seq: number; runId: string; digest: string} | null {
  const named = parseRecordFileName(name)
  if (!named || named.seq !== index.maxSeq + 1 || index.files.has(name)) return null
  let raw: unknown
  try {
    const text = Buffer.from(bytes).toString('utf8')
    if (nestingExceeds(text, MAX_JSON_DEPTH)) return null
    raw = JSON.parse(text)
    if (!Buffer.from(`${canonicalJson(raw)}\n`, 'utf8').equals(Buffer.from(bytes))) return null
  } catch {
    return null
  }
  const parsed = EvidenceRecordSchema.safeParse(raw)
  if (!parsed.success) return null
  const p = parsed.data.predicate
  if (p.status !== 'started' || p.chain.seq !== named.seq || p.runId !== named.runId || p.chain.startedDigest !== null) return null
  if (policyHash(p.policy) !== p.policyHash) return null
  const prevOk = named.seq === 1 ? p.chain.prev === null : p.chain.prev !== null && index.digestsOf(named.seq - 1).includes(p.chain.prev)
  if (!prevOk) return null
  return {seq: named.seq, runId: named.runId, digest: sha256Prefixed(canonicalJson(raw))}
}
