/**
 * The writer's tail-only read of index.jsonl (issue 18; docs/evidence.md, "The writer reads the
 * tail"). To append one line, begin and complete need only: the last line (the next line's
 * prevLine is its hash), the line count and the highest seq (the next checkpoint's `lines` and
 * `maxSeq`), and the digests of the highest seq (the next record's chain.prev). Reading and
 * parsing the whole index for that made every launch slower as the chain grew, so the writer reads
 * the index from its end, and **anchors** that read at the signed checkpoint:
 *
 * - the checkpoint must verify with the writer's own key, and its `head` must be a line of the
 *   window read; the line count is the checkpoint's signed `lines` plus the lines after that one;
 * - every line of the window must be a valid index entry, each must carry the hash of the line
 *   before it (`prevLine`), the last one must end with a newline, and the window must hold the
 *   `begin` line of the highest seq (the window doubles until it does, up to the whole file);
 * - the index is opened as safe-read.ts opens evidence files: no symlink, no FIFO or device,
 *   not replaced between lstat and open, no more than the size cap.
 *
 * Anything else — no checkpoint, another key's, a head not in the tail, a torn, swapped, edited or
 * unparsable line in the tail — returns null, and the caller reads the whole index exactly as
 * before, so every refusal and message stays what it was. What the tail read does not look at is
 * the index before the window: a rewrite there is not refused by the writer any more, it is found
 * by `evidence inspect`, which still verifies the whole chain against the checkpoint and the
 * envelopes (a count that no longer matches, a broken prevLine, a digest no envelope carries).
 *
 * It also says whether `records/` can hold a record the index does not name (`recordsSettled`), so
 * begin can skip listing a dir of thousands of files: `records/.indexed` (a dot-file, which inspect
 * ignores) holds the hash of the index line written after the last listing. begin empties it before
 * it writes a record and writes it again after its append; complete rewrites it after its own append
 * only when it was valid. So a writer killed between its record and its append leaves an empty
 * mark, or one naming an older line: the next begin lists records/ and adopts the record, as
 * before. The mark must also be newer than records/'s last change (ctime, which user space cannot
 * set back), which catches a file planted there, or a record written by a CLI that did not know
 * the mark: the next begin lists, and skips its seq, as before.
 */
import {closeSync, constants, fstatSync, lstatSync, openSync, readSync, writeSync} from 'node:fs'
import path from 'node:path'

import {INDEX_FILE, IndexEntrySchema, lineHash, RECORDS_DIR, type IndexEntry} from './index-log.js'
import {MAX_JSON_DEPTH, nestingExceeds, openRegularFileSync, readRegularFileSync} from './safe-read.js'
import {CHECKPOINT_FILE, CHECKPOINT_PAYLOAD_TYPE, CheckpointSchema, readEnvelopeFile, verifyEnvelopeBytes, type Checkpoint, type SigningKey} from './signing.js'

/** What begin/complete need from the index, as the whole read computes it. */
export interface IndexTail {
  lastLine: string
  lineCount: number
  maxSeq: number
  /** Digest after the latest event of each seq whose begin line is in the window (the highest seq at least). */
  latestDigest: Map<number, string>
  /** The record files the window names. */
  files: Set<string>
  /** Every digest of a seq whose begin line is in the window; [] for older seqs. */
  digestsOf: (seq: number) => readonly string[]
  /** records/ holds no record the index does not name (records/.indexed names the last line). */
  recordsSettled: boolean
  /** Bytes read from the end of the index (for tests and the bench). */
  windowBytes: number
}

/** The first window: about 15 lines (~260 bytes each); the head and the highest seq are normally in the last two. */
export const TAIL_WINDOW_BYTES = 4 * 1024

/**
 * The index's tail, anchored at the checkpoint signed by `key`; null whenever the whole index must
 * be read instead (see the file comment). Call it under the evidence dir's lock.
 */
export async function readIndexTail(root: string, key: SigningKey, opts: {maxBytes: number; firstWindow?: number}): Promise<IndexTail | null> {
  const checkpoint = await ourCheckpoint(root, key)
  if (!checkpoint) return null
  let opened: {fd: number; size: number}
  try {
    opened = openRegularFileSync(path.join(root, INDEX_FILE))
  } catch {
    return null
  }
  const {fd, size} = opened
  try {
    if (size === 0 || size > opts.maxBytes) return null
    for (let window = Math.min(size, opts.firstWindow ?? TAIL_WINDOW_BYTES); ; window = Math.min(size, window * 2)) {
      const bytes = readAt(fd, size - window, window)
      if (bytes === null) return null
      const found = tailOf(bytes, window === size, checkpoint)
      if (found === 'damaged') return null
      if (found !== 'short') return {...found, recordsSettled: recordsSettled(root, found.lastLine), windowBytes: window}
      if (window === size) return null
    }
  } finally {
    closeSync(fd)
  }
}

/** The checkpoint, when it verifies with our own key; null otherwise (the whole read decides). */
async function ourCheckpoint(root: string, key: SigningKey): Promise<Checkpoint | null> {
  try {
    const checked = verifyEnvelopeBytes(await readEnvelopeFile(path.join(root, CHECKPOINT_FILE)), CHECKPOINT_PAYLOAD_TYPE, new Map([[key.keyid, key.publicKey]]))
    if (!checked.ok) return null
    const parsed = CheckpointSchema.safeParse(JSON.parse(checked.payload.toString('utf8')))
    return parsed.success ? parsed.data : null
  } catch {
    return null
  }
}

/** Exactly `length` bytes at `offset`, or null when the file is shorter now (it changed). */
function readAt(fd: number, offset: number, length: number): Buffer | null {
  const buffer = Buffer.allocUnsafe(length)
  let done = 0
  while (done < length) {
    const n = readSync(fd, buffer, done, length - done, offset + done)
    if (n === 0) return null
    done += n
  }
  return buffer
}

type TailFacts = Omit<IndexTail, 'recordsSettled' | 'windowBytes'>

/**
 * The facts from a window of the index's last bytes: 'short' when the window must grow (the
 * checkpoint's head or the highest seq's begin line is not in it), 'damaged' when the whole read
 * must decide.
 */
export function tailOf(bytes: Buffer, fromStart: boolean, checkpoint: Pick<Checkpoint, 'lines' | 'head' | 'maxSeq'>): TailFacts | 'short' | 'damaged' {
  if (bytes.length === 0 || bytes[bytes.length - 1] !== 0x0a) return 'damaged'
  let text = bytes.toString('utf8', 0, bytes.length - 1)
  if (!fromStart) {
    // The first piece may be the end of a longer line: only what follows a newline is whole.
    const first = text.indexOf('\n')
    if (first < 0) return 'short'
    text = text.slice(first + 1)
  }
  const texts = text.split('\n')
  const entries: IndexEntry[] = []
  let headAt = -1
  for (const [i, line] of texts.entries()) {
    let entry: IndexEntry
    try {
      if (nestingExceeds(line, MAX_JSON_DEPTH)) return 'damaged'
      entry = IndexEntrySchema.parse(JSON.parse(line))
    } catch {
      return 'damaged'
    }
    if (i === 0 ? fromStart && entry.prevLine !== null : entry.prevLine !== lineHash(texts[i - 1]!)) return 'damaged'
    if (lineHash(line) === checkpoint.head) headAt = i
    entries.push(entry)
  }
  if (headAt < 0) return fromStart ? 'damaged' : 'short'
  const maxSeq = entries.reduce((m, e) => Math.max(m, e.seq), checkpoint.maxSeq)
  const firstBegin = new Map<number, number>()
  for (const [i, e] of entries.entries()) if (e.event === 'begin' && !firstBegin.has(e.seq)) firstBegin.set(e.seq, i)
  if (!firstBegin.has(maxSeq)) return fromStart ? 'damaged' : 'short'
  const latestDigest = new Map<number, string>()
  const digests = new Map<number, string[]>()
  for (const [i, e] of entries.entries()) {
    const begun = firstBegin.get(e.seq)
    if (begun === undefined || begun > i) continue
    latestDigest.set(e.seq, e.digest)
    digests.set(e.seq, [...(digests.get(e.seq) ?? []), e.digest])
  }
  return {
    lastLine: texts.at(-1)!,
    lineCount: checkpoint.lines + (texts.length - 1 - headAt),
    maxSeq,
    latestDigest,
    files: new Set(entries.map((e) => e.file)),
    digestsOf: (seq) => digests.get(seq) ?? [],
  }
}

const SETTLED_MARKER = '.indexed'

/**
 * begin, before it writes a record: records/ may now hold one the index does not name. The mark
 * is emptied in place (removing it would change records/ itself).
 */
export function unsettleRecords(root: string): void {
  writeMark(root, '', false)
}

/** After an append by a writer that knows records/ holds nothing unindexed: the mark names `line`. */
export function markRecordsSettled(root: string, line: string): void {
  writeMark(root, `${lineHash(line)}\n`, true)
}

/**
 * Rewrites the mark in place, so records/ does not change (made anew, it does: the next begin
 * then lists once). Never through a link, never blocking on a FIFO; a failure leaves a mark that
 * does not name the last line, or none: the next begin lists records/.
 */
function writeMark(root: string, text: string, create: boolean): void {
  try {
    const fd = openSync(path.join(root, RECORDS_DIR, SETTLED_MARKER), constants.O_WRONLY | constants.O_TRUNC | constants.O_NOFOLLOW | constants.O_NONBLOCK | (create ? constants.O_CREAT : 0), 0o600)
    try {
      if (fstatSync(fd).isFile() && text !== '') writeSync(fd, text)
    } finally {
      closeSync(fd)
    }
  } catch {
    // none to empty, or not writable
  }
}

/**
 * The mark names the index's last line and was written after records/'s last change (ctime, which
 * user space cannot set back; the same tick counts as a change after it).
 */
function recordsSettled(root: string, lastLine: string): boolean {
  const marker = path.join(root, RECORDS_DIR, SETTLED_MARKER)
  try {
    const records = lstatSync(path.join(root, RECORDS_DIR), {bigint: true})
    const mark = lstatSync(marker, {bigint: true})
    if (!records.isDirectory() || !mark.isFile() || records.ctimeNs >= mark.ctimeNs) return false
    return readRegularFileSync(marker, 256).toString('utf8') === `${lineHash(lastLine)}\n`
  } catch {
    return false
  }
}
