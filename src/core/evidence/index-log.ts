/**
 * index.jsonl: the append-only, hash-chained event log of an evidence dir. One line per event
 * (a record begun, a record completed), each line `JCS(entry) + "\n"`, and each entry carries the
 * sha256 of the previous line so a removed or edited line breaks the chain.
 * schemas/agent-machine-evidence-index-entry.schema.json is generated from IndexEntrySchema. Pure.
 */
import {z} from 'zod'

import {canonicalJson} from '../policy/hash.js'
import {sha256Prefixed} from '../util/digest.js'
import {DigestSchema, RUN_ID_PATTERN} from './record.js'

export const INDEX_FILE = 'index.jsonl'
export const LOCK_FILE = 'index.lock'
export const RECORDS_DIR = 'records'
export const INDEX_ENTRY_VERSION = 1
export const INDEX_ENTRY_SCHEMA_ID = 'https://sourceos.dev/schemas/agent-machine-evidence-index-entry.schema.json'

/** `000042-<runId>.json`: the sequence number padded to 6 digits (wider past 999999), then the run id. */
export const RECORD_FILE_PATTERN = /^(\d{6,})-([A-Za-z0-9][A-Za-z0-9._-]{0,127})\.json$/

export function recordFileName(seq: number, runId: string): string {
  return `${String(seq).padStart(6, '0')}-${runId}.json`
}

export function parseRecordFileName(name: string): {seq: number; runId: string} | null {
  const m = RECORD_FILE_PATTERN.exec(name)
  if (!m?.[1] || !m[2]) return null
  return {seq: Number(m[1]), runId: m[2]}
}

export const IndexEntrySchema = z
  .object({
    v: z.literal(INDEX_ENTRY_VERSION).describe('Index entry format version.'),
    event: z.enum(['begin', 'complete']).describe('begin: the record was written as started; complete: it was rewritten as completed (or incomplete).'),
    seq: z.number().int().min(1).describe('The record’s predicate.chain.seq.'),
    runId: z.string().regex(RUN_ID_PATTERN).describe('The record’s predicate.runId.'),
    file: z.string().regex(RECORD_FILE_PATTERN).describe('The record’s file name under records/.'),
    digest: DigestSchema.describe('The record digest right after this event (sha256 over the JCS bytes of the record).'),
    prevLine: DigestSchema.nullable().describe('sha256 over the previous line of index.jsonl (its bytes without the newline); null on the first line.'),
  })
  .strict()
  .describe('One line of an evidence dir’s index.jsonl.')

export type IndexEntry = z.infer<typeof IndexEntrySchema>

/** One index line as text, without the newline. */
export function indexLine(entry: IndexEntry): string {
  return canonicalJson(entry)
}

/** The hash the next line's prevLine must carry. */
export function lineHash(lineText: string): string {
  return sha256Prefixed(lineText)
}

export interface RawIndexLine {
  /** 1-based line number. */
  number: number
  text: string
}

/** Splits index.jsonl text into lines; `partial` is true when the last line has no newline (a torn append). */
export function splitIndex(text: string): {lines: RawIndexLine[]; partial: boolean} {
  if (text === '') return {lines: [], partial: false}
  const partial = !text.endsWith('\n')
  const parts = text.split('\n')
  if (!partial) parts.pop()
  return {lines: parts.map((t, i) => ({number: i + 1, text: t})), partial}
}
