/**
 * The evidence verifier behind `evidence inspect` (ARCHITECTURE §6). Reads only.
 *
 * A record file is checked on its own — JSON, kind, schema version, RFC 8785 canonical bytes,
 * schema, recomputed policy hash, subject, status coherence — and, inside an evidence dir, against
 * index.jsonl (digest, file name) and its neighbours (the chain). Every problem becomes a finding
 * naming the file and field; only a path that cannot be inspected at all throws (exit 5).
 */
import {createHash, type KeyObject} from 'node:crypto'
import {lstat, readdir, stat} from 'node:fs/promises'
import path from 'node:path'

import {evidenceInvalid, usageError} from '../errors.js'
import {canonicalJson, policyHash, type EffectivePolicy} from '../policy/hash.js'
import {interruptedBegin} from './recovery.js'
import {displayPodmanArgv, redactCliArgv} from './redact.js'
import {
  CHECKPOINT_FILE,
  CHECKPOINT_PAYLOAD_TYPE,
  CheckpointSchema,
  ENVELOPE_SUFFIX,
  IN_TOTO_PAYLOAD_TYPE,
  keyIdOf,
  KEYS_DIR,
  localPublicKey,
  readEnvelopeFile,
  readPublicKey,
  verifyEnvelopeBytes,
} from './signing.js'
import {kindOf, MAX_JSON_DEPTH, nestingExceeds, readRegularFile, UnsafeFile} from './safe-read.js'
import {INDEX_FILE, IndexEntrySchema, LOCK_FILE, lineHash, parseRecordFileName, RECORDS_DIR, recordFileName, splitIndex, type IndexEntry} from './index-log.js'
import type {Finding, InspectResult, RecordReport, RecordSummary} from './inspect-result.js'
import {EVIDENCE_PREDICATE_FAMILY, EVIDENCE_PREDICATE_TYPE, EVIDENCE_SCHEMA_VERSION, EvidenceRecordSchema, STATEMENT_TYPE, subjectFor, type EvidenceRecord, type RefList} from './record.js'
import {diffRefs, refsDigest} from './user-refs.js'
import {optimiseFully} from '../util/optimise.js'

/** Files in records/ (a record and its signature each) past which verifying is long work: TurboFan back on (util/optimise.ts). */
const LONG_CHAIN = 400

/** Anything bigger is not one of our records (they are a few KiB). */
export const MAX_RECORD_BYTES = 16 * 1024 * 1024
/** index.jsonl: two lines of ~300 bytes per record; this allows several hundred thousand records. */
export const MAX_INDEX_BYTES = 256 * 1024 * 1024
const MAX_SCHEMA_FINDINGS = 20
const SNAPSHOT_ATTEMPTS = 5

/** A record file as read, with its own (index-independent) findings. */
interface LoadedRecord {
  name: string
  display: string
  digest: string | null
  record: EvidenceRecord | null
  /** Chain facts read leniently from the raw JSON, so one bad field does not hide the chain. */
  seq: number | null
  runId: string | null
  prev: string | null | undefined
  startedDigest: string | null | undefined
  status: 'started' | 'completed' | 'incomplete' | null
  policyHashVerified: boolean | null
  findings: Finding[]
  /** The file's bytes, when readable. */
  bytes: Buffer | null
  /** Something a reviewer should know that is not a failure. */
  note: string | null
  /** Its envelope verified (true), did not (false), or was not checked (null). */
  signed: boolean | null
}

/** What inspect may rely on (evidence inspect's flags). */
export interface InspectOptions {
  /** A PEM public key file: only signatures by it count (--trusted-key). */
  trustedKeyFile?: string
  /** An index head (sha256 of an index line) recorded elsewhere: the index must still contain that line (--expect-head). */
  expectHead?: string
  /** The first seq of a copied range: records before it are not expected (--since). */
  since?: number
  /** The local state dir: without --trusted-key, its signing key's public half is trusted. */
  stateDir?: string
  /** `input` is the default evidence dir (no path given): a missing one means no evidence yet. */
  isDefaultDir?: boolean
}

interface Trust {
  source: 'trusted-key' | 'local-key' | 'dir-keys' | 'none'
  keys: Map<string, KeyObject>
}

interface Ctx {
  opts: InspectOptions
  /** Trust from the flags and the local key; dir-keys are added per evidence dir. */
  trust: Trust
}

interface IndexedSeq {
  seq: number
  runId: string
  file: string
  begin: {line: number; digest: string}
  complete: {line: number; digest: string} | null
}

/** Inspects a record file or an evidence dir. Throws (exit 5) only when nothing can be inspected. */
export async function inspectPath(input: string, opts: InspectOptions = {}): Promise<InspectResult> {
  if (input.trim() === '') throw usageError('USAGE', 'the path to inspect is empty', 'pass an evidence record file or an evidence dir')
  let info
  try {
    info = await lstat(input)
    // The path the user named may be a link to a dir; nothing inside it is ever followed.
    if (info.isSymbolicLink()) {
      const target = await stat(input)
      if (!target.isDirectory()) {
        throw evidenceInvalid('EVIDENCE_PATH_UNSAFE', `${input} is a symlink to something that is not a dir: evidence files are never read through links`, 'pass the record file itself, or the evidence dir', {path: input})
      }
      info = target
    }
  } catch (error) {
    if (error instanceof Error && 'exitCode' in error) throw error
    const code = (error as NodeJS.ErrnoException).code
    if ((code === 'ENOENT' || code === 'ENOTDIR') && opts.isDefaultDir) {
      throw evidenceInvalid('EVIDENCE_PATH_NOT_FOUND', `no evidence yet: ${input} does not exist`, 'records appear after the first `run` or `shell`; to inspect another evidence dir or a record, pass its path', {path: input})
    }
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw evidenceInvalid('EVIDENCE_PATH_NOT_FOUND', `${input} does not exist`, 'pass an evidence record file or an evidence dir (`sourceosctl agent-machine doctor` shows where records go)', {path: input})
    }
    throw evidenceInvalid('EVIDENCE_PATH_UNREADABLE', `cannot read ${input}: ${(error as Error).message}`, 'check the path and its permissions', {path: input})
  }
  if (opts.expectHead !== undefined && !/^sha256:[0-9a-f]{64}$/.test(opts.expectHead)) {
    throw usageError('USAGE', `--expect-head ${JSON.stringify(opts.expectHead)} is not a digest`, 'pass index.head from an earlier `evidence inspect --json` (sha256:<64 hex>)')
  }
  const ctx: Ctx = {opts, trust: await baseTrust(opts)}
  if (info.isDirectory()) return inspectDir(input, ctx)
  if (info.isFile()) return inspectFile(input, ctx)
  throw evidenceInvalid('EVIDENCE_PATH_UNSAFE', `${input} is neither a regular file nor a directory (a FIFO, device or socket is never read)`, 'pass an evidence record file or an evidence dir', {path: input})
}

// ---------------------------------------------------------------------------------------------
// Entry points

async function inspectFile(input: string, ctx: Ctx): Promise<InspectResult> {
  const parent = path.dirname(input)
  const name = path.basename(input)
  const root = path.dirname(parent)
  if (parseRecordFileName(name) !== null && path.basename(path.resolve(parent)) === RECORDS_DIR && (await exists(path.join(root, INDEX_FILE)))) {
    // A record inside an evidence dir: verify the dir, report what concerns this file.
    const whole = await verifyEvidenceDir(root, ctx)
    const display = path.join(root, RECORDS_DIR, name)
    const records = whole.records.filter((r) => r.file === display)
    const findings = whole.findings.filter((f) => f.file === display)
    return {...whole, ...verdictOf(findings, whole.unverified), path: input, kind: 'file', records, findings, incomplete: records.filter((r) => r.incomplete).length}
  }
  const loaded = await loadRecord(input, input)
  const trust = ctx.trust
  await checkRecordSignature(loaded, trust, 'optional')
  const findings = [...loaded.findings]
  const unverified =
    loaded.signed === true
      ? []
      : [loaded.signed === null ? 'a loose record without a signature (<file>.dsse beside it) proves nothing about who wrote it' : 'its signature could not be verified with a trusted key']
  return {
    ...verdictOf(findings, unverified),
    signatures: {trust: trust.source, keyids: [...trust.keys.keys()], signed: loaded.signed === true ? 1 : 0},
    checkpoint: null,
    path: input,
    kind: 'file',
    evidenceDir: null,
    index: null,
    chain: {checked: false, length: 1, head: loaded.seq === null ? null : {seq: loaded.seq, digest: loaded.digest}},
    records: [report(loaded, findings)],
    incomplete: isIncomplete(loaded) ? 1 : 0,
    findings,
  }
}

async function inspectDir(input: string, ctx: Ctx): Promise<InspectResult> {
  const resolved = path.resolve(input)
  // records/ itself, when its parent is the evidence dir.
  if (path.basename(resolved) === RECORDS_DIR && (await exists(path.join(input, '..', INDEX_FILE)))) return {...(await verifyEvidenceDir(path.join(input, '..'), ctx)), path: input}
  if ((await exists(path.join(input, INDEX_FILE))) || (await isDir(path.join(input, RECORDS_DIR)))) return {...(await verifyEvidenceDir(input, ctx)), path: input}
  return verifyLooseDir(input, ctx)
}

/** valid/verdict from the findings and the reasons nothing anchors the evidence. */
function verdictOf(findings: readonly Finding[], unverified: readonly string[]): Pick<InspectResult, 'valid' | 'verdict' | 'unverified'> {
  const verdict = findings.length > 0 ? 'invalid' : unverified.length > 0 ? 'unverified' : 'valid'
  return {valid: verdict === 'valid', verdict, unverified: [...unverified]}
}

/** The keys trusted before looking at any dir: --trusted-key, else this host's own signing key. */
async function baseTrust(opts: InspectOptions): Promise<Trust> {
  if (opts.trustedKeyFile !== undefined) {
    let key: KeyObject
    try {
      key = await readPublicKey(opts.trustedKeyFile)
    } catch (error) {
      throw usageError('USAGE', `--trusted-key ${opts.trustedKeyFile}: ${(error as Error).message}`, 'pass the PEM public key (SPKI, ed25519) of the signer, e.g. <evidence dir>/keys/<keyid>.pub copied somewhere the writer cannot change')
    }
    return {source: 'trusted-key', keys: new Map([[keyIdOf(key), key]])}
  }
  // Stryker disable next-line ConditionalExpression: equivalent: localPublicKey(undefined) rejects (no path to join), which the catch below turns into no key
  if (opts.stateDir !== undefined) {
    // Stryker disable next-line ArrowFunction: equivalent: null or undefined, `if (key)` reads both as no key
    const key = await localPublicKey(opts.stateDir).catch(() => null)
    if (key) return {source: 'local-key', keys: new Map([[keyIdOf(key), key]])}
  }
  return {source: 'none', keys: new Map()}
}

/** With no trusted key at all: the keys stored beside the records (keys/*.pub), which prove nothing against whoever can write the dir. */
async function dirTrust(root: string, base: Trust): Promise<Trust> {
  if (base.source !== 'none') return base
  const keys = new Map<string, KeyObject>()
  for (const name of (await listDir(path.join(root, KEYS_DIR))).filter((n) => n.endsWith('.pub')).sort()) {
    try {
      const key = await readPublicKey(path.join(root, KEYS_DIR, name))
      keys.set(keyIdOf(key), key)
    } catch {
      // an unusable key file verifies nothing; the signatures it would have checked fail
    }
  }
  return keys.size > 0 ? {source: 'dir-keys', keys} : base
}

/**
 * Checks `<record>.dsse`: a DSSE envelope of exactly the record's JCS bytes, signed by a trusted
 * key. `required`: a missing envelope is a finding (a signed dir); `optional`: it leaves
 * `signed` null (a loose record).
 */
async function checkRecordSignature(rec: LoadedRecord, trust: Trust, mode: 'required' | 'optional'): Promise<void> {
  const envelopeFile = `${rec.display}${ENVELOPE_SUFFIX}`
  let bytes: Buffer
  try {
    bytes = await readEnvelopeFile(envelopeFile)
  } catch (error) {
    // readEnvelopeFile throws UnsafeFile only (its "cannot read: …" covers every other error).
    const missing = (error as UnsafeFile).kind === 'missing'
    if (missing && mode === 'optional') return
    rec.signed = false
    const why = missing ? 'is missing: every record of a signed evidence dir has its envelope' : (error as UnsafeFile).message
    rec.findings.push({file: rec.display, field: 'signature', problem: `not signed: ${path.basename(envelopeFile)} ${why}`})
    return
  }
  if (trust.keys.size === 0) {
    // only a loose record gets here (a dir's signatures are checked only with a key): unverified, no finding
    rec.signed = false
    return
  }
  const checked = verifyEnvelopeBytes(bytes, IN_TOTO_PAYLOAD_TYPE, trust.keys)
  if (!checked.ok) {
    rec.signed = false
    rec.findings.push({file: rec.display, field: 'signature', problem: `${path.basename(envelopeFile)}: ${checked.problem}`})
    return
  }
  const body = rec.bytes && rec.bytes[rec.bytes.length - 1] === 0x0a ? rec.bytes.subarray(0, -1) : rec.bytes
  if (!body || !checked.payload.equals(body)) {
    rec.signed = false
    rec.findings.push({file: rec.display, field: 'signature', problem: `${path.basename(envelopeFile)} is signed, but signs other content: the record was changed after it was signed`})
    return
  }
  rec.signed = true
}

// ---------------------------------------------------------------------------------------------
// An evidence dir: records/ + index.jsonl

/**
 * Verifies an evidence dir from a consistent snapshot: a writer may complete a record between our
 * reads (record rewritten, index line not yet appended), which would look like an alteration. When
 * problems show while the dir is locked or the index grew meanwhile, read it again.
 */
async function verifyEvidenceDir(root: string, ctx: Ctx): Promise<InspectResult> {
  for (let attempt = 1; ; attempt++) {
    const before = await indexSize(root)
    const result = await verifyEvidenceDirOnce(root, ctx)
    if (result.valid || attempt >= SNAPSHOT_ATTEMPTS) return result
    const busy = (await exists(path.join(root, LOCK_FILE))) || (await indexSize(root)) !== before
    if (!busy) return result
    // Stryker disable next-line ArithmeticOperator: equivalent: only how long to wait before reading again
    await new Promise((resolve) => setTimeout(resolve, 50 * attempt))
  }
}

async function indexSize(root: string): Promise<number> {
  try {
    return (await lstat(path.join(root, INDEX_FILE))).size
  } catch {
    return -1
  }
}

async function verifyEvidenceDirOnce(root: string, ctx: Ctx): Promise<InspectResult> {
  const indexDisplay = path.join(root, INDEX_FILE)
  const recordsDir = path.join(root, RECORDS_DIR)
  const findings: Finding[] = []
  const display = (name: string) => path.join(recordsDir, name)

  // The checkpoint first: it is written after each append, so read before the index it never covers more.
  const checkpointRead = await readEnvelopeFile(path.join(root, CHECKPOINT_FILE)).then(
    (bytes) => ({bytes, error: null}),
    (error: unknown) => ({bytes: null, error: error as Error}),
  )
  const recordsKind = await kindOf(recordsDir).catch(() => null)
  const names = recordsKind === 'dir' ? await listDir(recordsDir) : []
  // Stryker disable next-line ConditionalExpression,EqualityOperator: speed only (V8's tiers), no result depends on it
  if (names.length > LONG_CHAIN) optimiseFully()
  if (recordsKind !== null && recordsKind !== 'dir') findings.push({file: recordsDir, field: null, problem: `is ${recordsKind === 'symlink' ? 'a symlink' : 'not a directory'}: records are only read from a real records/ dir`})
  const index = await readIndex(indexDisplay, findings)
  const recordNames = names.filter((n) => parseRecordFileName(n) !== null)
  const nameSet = new Set(names)
  for (const n of names) {
    if (n.endsWith(ENVELOPE_SUFFIX) && parseRecordFileName(n.slice(0, -ENVELOPE_SUFFIX.length)) !== null) {
      if (!nameSet.has(n.slice(0, -ENVELOPE_SUFFIX.length))) findings.push({file: display(n), field: null, problem: 'a signature envelope whose record is gone (deleted or moved)'})
    } else if (parseRecordFileName(n) === null && !n.startsWith('.')) {
      findings.push({file: display(n), field: null, problem: 'unexpected file in records/: not a record file name (<seq>-<runId>.json) or its signature (<seq>-<runId>.json.dsse)'})
    }
  }
  if (recordNames.length === 0 && index.lineCount === 0) {
    throw evidenceInvalid('EVIDENCE_EMPTY', `no evidence records in ${root}`, 'records appear after the first `run` or `shell`; check the path (`doctor` shows the evidence dir)', {path: root})
  }
  if (!index.present) findings.push({file: indexDisplay, field: null, problem: 'missing: the dir has records but no index.jsonl (deleted or moved)'})

  // Signed: the writer had a key. Then every record needs its envelope and the index its checkpoint.
  const checkpointFile = path.join(root, CHECKPOINT_FILE)
  const signedDir = !(checkpointRead.error instanceof UnsafeFile && checkpointRead.error.kind === 'missing') || (await exists(path.join(root, KEYS_DIR))) || names.some((n) => n.endsWith(ENVELOPE_SUFFIX))
  const trust = await dirTrust(root, ctx.trust)
  const unverified: string[] = []
  if (!signedDir) unverified.push('not signed: no record has a signature and there is no signed checkpoint (written by a CLI before signing, or the signatures were removed)')
  else if (trust.source === 'dir-keys') unverified.push('signed only with the key stored beside the records (keys/), which whoever can write the dir can replace: pass --trusted-key <file> with the signer’s public key')
  else if (trust.source === 'none') unverified.push('no key to verify the signatures with: pass --trusted-key <file> with the signer’s public key')

  const loaded = new Map<string, LoadedRecord>()
  // Read a few files at a time (the order of the map stays the sorted order).
  const sorted = recordNames.sort()
  const results = await mapLimit(sorted, 16, async (n) => {
    const rec = await loadRecord(path.join(recordsDir, n), display(n))
    checkFileName(rec)
    // Stryker disable next-line StringLiteral: equivalent: only 'optional' is told apart; any other mode is required
    if (signedDir && trust.keys.size > 0) await checkRecordSignature(rec, trust, 'required')
    await checkExecLog(rec, root)
    return rec
  })
  sorted.forEach((n, i) => loaded.set(n, results[i]!))

  const bySeq = indexBySeq(index.entries, indexDisplay, findings)
  const reports: RecordReport[] = []
  const indexedFiles = new Set([...bySeq.values()].map((i) => i.file))
  // Where a record sits in the chain: its own seq, else (unreadable) the seq its file name gives
  // (every file loaded here is named like a record).
  const placeOf = (r: LoadedRecord): number => r.seq ?? parseRecordFileName(r.name)!.seq
  const seqs = [...new Set([...bySeq.keys(), ...[...loaded.values()].map(placeOf)])].sort((a, b) => a - b)
  // Lookups by seq, so 10,000 records verify in linear time.
  const group = <T>(items: Iterable<T>, key: (t: T) => number | null) => {
    const m = new Map<number, T[]>()
    for (const item of items) {
      const k = key(item)
      // Stryker disable next-line ConditionalExpression: equivalent: a null key is never looked up (seqs are numbers)
      if (k !== null) m.set(k, [...(m.get(k) ?? []), item])
    }
    return m
  }
  const bySeqOnDisk = group(loaded.values(), (r) => r.seq)
  const byPlace = group(loaded.values(), placeOf)
  const entriesBySeq = group(index.entries, (e) => e.seq)

  const maxIndexedSeq = Math.max(0, ...bySeq.keys())
  // Stryker disable next-line ArrayDeclaration: equivalent: asked only for the highest begun seq, which has entries
  const indexView = {maxSeq: maxIndexedSeq, files: indexedFiles, digestsOf: (seq: number) => (entriesBySeq.get(seq) ?? []).map((e) => e.digest)}
  const indexClean = !findings.some((f) => f.file === indexDisplay)
  for (const rec of loaded.values()) {
    if (!index.present || indexedFiles.has(rec.name)) continue
    if (rec.bytes && indexClean && interruptedBegin(rec.name, rec.bytes, indexView) && (!signedDir || rec.signed === true)) {
      rec.note = 'not indexed yet: its writer was killed between writing it and indexing it; the next run or shell indexes it'
      continue
    }
    rec.findings.push({
      file: rec.display,
      field: null,
      problem: signedDir && rec.signed !== true ? 'planted: not in index.jsonl and not signed' : 'not in index.jsonl: written but never indexed, or its index lines were removed',
    })
  }

  for (const seq of seqs) {
    const indexed = bySeq.get(seq)
    // Stryker disable next-line ArrayDeclaration: equivalent: a list of one is no duplicate either
    const onDisk = bySeqOnDisk.get(seq) ?? []
    if (onDisk.length > 1) {
      for (const r of onDisk) r.findings.push({file: r.display, field: 'predicate.chain.seq', problem: `duplicate seq ${seq}: ${onDisk.map((o) => o.name).join(', ')} all claim it`})
    }
    if (indexed) {
      const rec = loaded.get(indexed.file)
      if (!rec) {
        const latest = indexed.complete ?? indexed.begin
        findings.push({file: display(indexed.file), field: null, problem: `missing: index.jsonl line ${latest.line} lists it, but the file is gone (deleted or moved)`})
        continue
      }
      const latest = indexed.complete ?? indexed.begin
      const unindexedCompletion = !indexed.complete && rec.status !== 'started' && rec.status !== null && rec.startedDigest === indexed.begin.digest
      if (rec.digest !== null && rec.digest !== latest.digest) {
        rec.findings.push(
          unindexedCompletion
            ? {
                file: rec.display,
                field: 'predicate.status',
                problem: `is "${rec.status}" but index.jsonl has no completion for it (line ${indexed.begin.line} began it): the CLI was killed while completing it, or the file was changed afterwards`,
              }
            : {
                file: rec.display,
                field: null,
                problem: `altered: its digest ${rec.digest} does not match ${latest.digest} recorded at index.jsonl line ${latest.line} — the file changed after it was written`,
              },
        )
      }
      if (indexed.complete && typeof rec.startedDigest === 'string' && rec.startedDigest !== indexed.begin.digest) {
        rec.findings.push({
          file: rec.display,
          field: 'predicate.chain.startedDigest',
          problem: `is ${rec.startedDigest} but index.jsonl line ${indexed.begin.line} recorded ${indexed.begin.digest} when it began`,
        })
      }
      // Stryker disable next-line ArrayDeclaration: equivalent: without entries for seq - 1 there is no previous record, and the check ends before reading them
      if (seq > 1) checkPrevAgainstIndex(rec, indexed, bySeq, entriesBySeq.get(seq - 1) ?? [], loaded, byPlace, display)
    }
  }

  if (!index.present) checkChainWithoutIndex([...loaded.values()], ctx.opts.since)

  const checkpoint = signedDir ? checkCheckpoint(checkpointFile, checkpointRead, index, indexDisplay, trust, loaded, findings) : null
  if (ctx.opts.expectHead !== undefined) {
    const at = index.lineHashes.indexOf(ctx.opts.expectHead)
    if (at === -1) {
      findings.push({
        file: indexDisplay,
        field: null,
        problem: `the expected head ${ctx.opts.expectHead} is no line of index.jsonl: the history up to it was rewritten or rolled back since it was recorded`,
      })
    }
  }
  // Stryker disable next-line ConditionalExpression: equivalent: without --since no finding is before the range (comparisons with undefined are false)
  if (ctx.opts.since !== undefined) {
    const since = ctx.opts.since
    // A copied range: records before it are not expected, nor can the first one's predecessor be.
    const before = (f: Finding) => {
      // a finding about no record file (the index, the checkpoint) is never before the range
      const seq = parseRecordFileName(path.basename(f.file))?.seq ?? Number.POSITIVE_INFINITY
      return (seq < since || (seq === since && f.field === 'predicate.chain.prev')) && (f.problem.startsWith('missing') || f.problem.startsWith('chain break'))
    }
    for (const list of [findings, ...[...loaded.values()].map((r) => r.findings)]) {
      for (let i = list.length - 1; i >= 0; i--) if (before(list[i]!)) list.splice(i, 1)
    }
  }

  for (const seq of seqs) {
    const indexed = bySeq.get(seq)
    const rec = indexed ? loaded.get(indexed.file) : undefined
    // Stryker disable next-line ConditionalExpression: equivalent: `seq < undefined` is false, as without --since
    if (indexed && !rec && !(ctx.opts.since !== undefined && seq < ctx.opts.since)) {
      reports.push({
        file: display(indexed.file),
        seq,
        runId: indexed.runId,
        status: null,
        incomplete: false,
        valid: false,
        digest: null,
        policyHashVerified: null,
        signed: null,
        note: null,
        summary: null,
      })
    }
    for (const r of byPlace.get(seq) ?? []) reports.push(report(r, r.findings, seq))
  }

  const signedCount = [...loaded.values()].filter((r) => r.signed === true).length
  const allFindings = [...findings, ...[...loaded.values()].flatMap((r) => r.findings)]
  const headSeq = seqs.at(-1)
  // Stryker disable next-line ConditionalExpression: equivalent: byPlace has no undefined key either
  const headRecord = headSeq === undefined ? undefined : byPlace.get(headSeq)?.[0]
  return {
    ...verdictOf(allFindings, unverified),
    signatures: {trust: trust.source, keyids: [...trust.keys.keys()], signed: signedCount},
    checkpoint,
    path: root,
    kind: 'dir',
    evidenceDir: root,
    index: {file: indexDisplay, present: index.present, lines: index.lineCount, head: index.head},
    chain: {
      checked: true,
      length: seqs.length,
      head: headSeq === undefined ? null : {seq: headSeq, digest: headRecord?.digest ?? null},
    },
    records: reports,
    incomplete: reports.filter((r) => r.incomplete).length,
    findings: sortFindings(allFindings),
  }
}

interface IndexRead {
  present: boolean
  lineCount: number
  head: string | null
  /** sha256 of each line (its bytes without the newline), in order. */
  lineHashes: string[]
  entries: Array<IndexEntry & {line: number}>
}

async function readIndex(indexDisplay: string, findings: Finding[]): Promise<IndexRead> {
  let text: string
  try {
    text = (await readRegularFile(indexDisplay, MAX_INDEX_BYTES)).toString('utf8')
  } catch (error) {
    // readRegularFile throws UnsafeFile only. The lineHashes of a missing index are never looked up by a digest (--expect-head finds none either way; the entries one is killed).
    // Stryker disable next-line ArrayDeclaration: equivalent: see above
    if ((error as UnsafeFile).kind === 'missing') return {present: false, lineCount: 0, head: null, lineHashes: [], entries: []}
    findings.push({file: indexDisplay, field: null, problem: (error as UnsafeFile).message})
    return {present: true, lineCount: 0, head: null, lineHashes: [], entries: []}
  }
  const {lines, partial} = splitIndex(text)
  const entries: IndexRead['entries'] = []
  let previous: string | null = null
  for (const line of lines) {
    const at = `line ${line.number}`
    const isPartial = partial && line.number === lines.length
    let raw: unknown
    try {
      if (nestingExceeds(line.text, MAX_JSON_DEPTH)) throw new Error(`nested deeper than ${MAX_JSON_DEPTH} levels: not an index entry`)
      raw = JSON.parse(line.text)
    } catch (error) {
      findings.push({file: indexDisplay, field: at, problem: isPartial ? 'ends with a partial line: an append was cut off' : `not JSON: ${(error as Error).message}`})
      previous = line.text
      continue
    }
    const parsed = IndexEntrySchema.safeParse(raw)
    if (!parsed.success) {
      for (const issue of parsed.error.issues.slice(0, 5)) findings.push({file: indexDisplay, field: `${at}: ${fieldPath(issue.path) || '$'}`, problem: issue.message})
      previous = line.text
      continue
    }
    const entry = parsed.data
    if (canonicalOrNull(raw) !== line.text) findings.push({file: indexDisplay, field: at, problem: 'not in canonical form (RFC 8785 JCS): the line was edited'})
    const expected = previous === null ? null : lineHash(previous)
    if (entry.prevLine !== expected) {
      findings.push({
        file: indexDisplay,
        field: `${at}: prevLine`,
        problem: previous === null ? 'is set on the first line: earlier lines were removed' : `does not match line ${line.number - 1} (expected ${expected}): index lines were removed, inserted or edited`,
      })
    }
    if (isPartial) findings.push({file: indexDisplay, field: at, problem: 'ends without a newline: an append was cut off'})
    entries.push({...entry, line: line.number})
    previous = line.text
  }
  return {present: true, lineCount: lines.length, head: previous === null ? null : lineHash(previous), lineHashes: lines.map((l) => lineHash(l.text)), entries}
}

/**
 * checkpoint.dsse against the index: signed by a trusted key; the index must still have the line
 * it signed as its head (else rewritten) and at least as many lines (else rolled back). Lines
 * appended after it are accepted only when each is the latest state of a record whose envelope
 * verifies with that very digest (the CLI was killed between appending and signing); anything
 * else there is planted.
 */
function checkCheckpoint(
  file: string,
  read: {bytes: Buffer | null; error: Error | null},
  index: IndexRead,
  indexDisplay: string,
  trust: Trust,
  loaded: Map<string, LoadedRecord>,
  findings: Finding[],
): NonNullable<InspectResult['checkpoint']> {
  const out: NonNullable<InspectResult['checkpoint']> = {file, present: false, verified: false, lines: null, head: null, signedAt: null}
  const bytes = read.bytes
  if (bytes === null) {
    const error = read.error
    const missing = error instanceof UnsafeFile && error.kind === 'missing'
    findings.push({
      file,
      field: null,
      problem: missing ? 'missing: a signed evidence dir has a signed checkpoint after every index append; without it a rollback or rewrite cannot be told apart' : (error as Error).message,
    })
    return out
  }
  out.present = true
  if (trust.keys.size === 0) return out
  const checked = verifyEnvelopeBytes(bytes, CHECKPOINT_PAYLOAD_TYPE, trust.keys)
  if (!checked.ok) {
    findings.push({file, field: 'signature', problem: checked.problem})
    return out
  }
  let raw: unknown = null
  try {
    raw = JSON.parse(checked.payload.toString('utf8'))
  } catch {
    // not JSON: null, which the schema refuses below
  }
  const parsed = CheckpointSchema.safeParse(raw)
  if (!parsed.success) {
    findings.push({file, field: 'payload', problem: 'signed, but not a checkpoint this CLI reads'})
    return out
  }
  const cp = parsed.data
  Object.assign(out, {verified: true, lines: cp.lines, head: cp.head, signedAt: cp.signedAt})
  if (cp.lines > index.lineCount) {
    findings.push({
      file: indexDisplay,
      field: null,
      problem: `rolled back: the signed checkpoint (${cp.signedAt}) covers ${cp.lines} lines up to seq ${cp.maxSeq}, but index.jsonl has ${index.lineCount}: records and their index lines were removed after it was signed`,
    })
    return out
  }
  if (index.lineHashes[cp.lines - 1] !== cp.head) {
    findings.push({
      file: indexDisplay,
      field: `line ${cp.lines}`,
      problem: `rewritten: hashes to ${index.lineHashes[cp.lines - 1]} but the signed checkpoint (${cp.signedAt}) says ${cp.head}: index lines up to it were changed after it was signed`,
    })
    return out
  }
  for (const entry of index.entries.filter((e) => e.line > cp.lines)) {
    const rec = loaded.get(entry.file)
    const latest = !index.entries.some((e) => e.file === entry.file && e.line > entry.line)
    if (!(latest && rec?.signed === true && rec.digest === entry.digest)) {
      findings.push({file: indexDisplay, field: `line ${entry.line}`, problem: `planted: appended after the last signed checkpoint (line ${cp.lines}) and not backed by a signed record with digest ${entry.digest}`})
    }
  }
  return out
}

/** Groups index events by seq and checks their order: begins 1, 2, 3, …; one complete after its begin. */
function indexBySeq(entries: IndexRead['entries'], indexDisplay: string, findings: Finding[]): Map<number, IndexedSeq> {
  const bySeq = new Map<number, IndexedSeq>()
  let lastBegin = 0
  for (const e of entries) {
    const at = `line ${e.line}`
    if (e.file !== recordFileName(e.seq, e.runId)) {
      findings.push({file: indexDisplay, field: `${at}: file`, problem: `is ${e.file}, expected ${recordFileName(e.seq, e.runId)} for seq ${e.seq} and run ${e.runId}`})
    }
    if (e.event === 'begin') {
      if (bySeq.has(e.seq)) {
        // Stryker disable next-line OptionalChaining: equivalent: bySeq has e.seq (tested just above)
        findings.push({file: indexDisplay, field: `${at}: seq`, problem: `begins seq ${e.seq} a second time (first at line ${bySeq.get(e.seq)?.begin.line})`})
        continue
      }
      if (e.seq !== lastBegin + 1) {
        findings.push({
          file: indexDisplay,
          field: `${at}: seq`,
          problem:
            // Stryker disable next-line ArithmeticOperator,EqualityOperator: equivalent: here e.seq is neither lastBegin + 1 nor lastBegin (begun already, refused above)
            e.seq > lastBegin + 1
              ? `begins seq ${e.seq} after seq ${lastBegin}: seq ${lastBegin + 1}${e.seq - 1 > lastBegin + 1 ? `–${e.seq - 1}` : ''} never appears (lines removed)`
              : `begins seq ${e.seq} after seq ${lastBegin}: out of order (lines reordered)`,
        })
      }
      lastBegin = Math.max(lastBegin, e.seq)
      bySeq.set(e.seq, {seq: e.seq, runId: e.runId, file: e.file, begin: {line: e.line, digest: e.digest}, complete: null})
    } else {
      const begun = bySeq.get(e.seq)
      if (!begun) {
        findings.push({file: indexDisplay, field: `${at}: event`, problem: `completes seq ${e.seq} before any line begins it (lines reordered or removed)`})
      } else if (begun.complete) {
        findings.push({file: indexDisplay, field: `${at}: event`, problem: `completes seq ${e.seq} a second time (first at line ${begun.complete.line})`})
      } else if (begun.runId !== e.runId || begun.file !== e.file) {
        findings.push({file: indexDisplay, field: `${at}: runId`, problem: `completes seq ${e.seq} as run ${e.runId}, but line ${begun.begin.line} began it as run ${begun.runId}`})
      } else {
        begun.complete = {line: e.line, digest: e.digest}
      }
    }
  }
  return bySeq
}

/** prev must be the digest record seq-1 had when this record began (its last index event before our begin). */
function checkPrevAgainstIndex(
  rec: LoadedRecord,
  own: IndexedSeq,
  bySeq: Map<number, IndexedSeq>,
  /** The index entries of seq - 1. */
  entries: IndexRead['entries'],
  loaded: Map<string, LoadedRecord>,
  byPlace: Map<number, LoadedRecord[]>,
  display: (name: string) => string,
): void {
  if (rec.prev === undefined) return
  const seq = own.seq
  const previous = bySeq.get(seq - 1)
  const field = 'predicate.chain.prev'
  if (!previous) {
    const unindexed = byPlace.get(seq - 1)?.[0]
    rec.findings.push({
      file: rec.display,
      field,
      problem: unindexed
        ? `chain break: the previous record (seq ${seq - 1}, ${unindexed.display}) is not in index.jsonl`
        : `chain break: no record with seq ${seq - 1} exists before it (missing from the index and the dir)`,
    })
    return
  }
  const previousFile = display(previous.file)
  if (!loaded.has(previous.file)) {
    rec.findings.push({file: rec.display, field, problem: `chain break: the previous record (seq ${seq - 1}, ${previousFile}) is missing`})
  }
  // Normally the digest seq-1 had when this record began; any state the index recorded for it before then is authentic.
  // Stryker disable next-line EqualityOperator: equivalent: two index lines never share a line number
  const before = entries.filter((e) => e.file === previous.file && e.line < own.begin.line)
  const last = before.at(-1)
  if (!last) {
    rec.findings.push({file: rec.display, field, problem: `chain break: the previous record (seq ${seq - 1}) had not begun when this one began (index lines reordered)`})
    return
  }
  if (!before.some((e) => e.digest === rec.prev)) {
    rec.findings.push({
      file: rec.display,
      field,
      problem: `chain break: is ${rec.prev ?? 'null'} but the previous record (seq ${seq - 1}, ${previousFile}) was ${last.digest} when this one began (index.jsonl line ${last.line})`,
    })
  }
}

// ---------------------------------------------------------------------------------------------
// A folder of record files without an index (e.g. records copied next to a pull request)

async function verifyLooseDir(input: string, ctx: Ctx): Promise<InspectResult> {
  const names = (await listDir(input)).filter((n) => n.endsWith('.json') && !n.startsWith('.')).sort()
  // Stryker disable next-line ConditionalExpression,EqualityOperator: speed only (V8's tiers), no result depends on it
  if (names.length > LONG_CHAIN) optimiseFully()
  if (names.length === 0) throw evidenceInvalid('EVIDENCE_EMPTY', `no evidence records in ${input}`, 'pass an evidence dir (with records/ and index.jsonl) or a folder of record files', {path: input})
  const loaded: LoadedRecord[] = []
  for (const n of names) {
    const rec = await loadRecord(path.join(input, n), path.join(input, n))
    await checkRecordSignature(rec, ctx.trust, 'optional')
    loaded.push(rec)
  }
  checkChainWithoutIndex(loaded, ctx.opts.since)
  const ordered = [...loaded].sort((a, b) => (a.seq ?? Number.MAX_SAFE_INTEGER) - (b.seq ?? Number.MAX_SAFE_INTEGER) || a.name.localeCompare(b.name))
  const findings = sortFindings(ordered.flatMap((r) => r.findings))
  const head = [...ordered].reverse().find((r) => r.seq !== null)
  const unverified = ['a loose folder of records has no index and no signed checkpoint: it cannot show that none was removed, added or replaced as a set (inspect the evidence dir, with --expect-head)']
  if (ordered.some((r) => r.signed !== true)) unverified.push(`${ordered.filter((r) => r.signed !== true).length} of ${ordered.length} records carry no signature verified with a trusted key`)
  return {
    ...verdictOf(findings, unverified),
    signatures: {trust: ctx.trust.source, keyids: [...ctx.trust.keys.keys()], signed: ordered.filter((r) => r.signed === true).length},
    checkpoint: null,
    path: input,
    kind: 'dir',
    evidenceDir: null,
    index: null,
    chain: {checked: true, length: ordered.length, head: head?.seq == null ? null : {seq: head.seq, digest: head.digest}},
    records: ordered.map((r) => report(r, r.findings)),
    incomplete: ordered.filter(isIncomplete).length,
    findings,
  }
}

/** Without an index: consecutive seqs must link (prev = the predecessor's digest, or its startedDigest); gaps are breaks. */
function checkChainWithoutIndex(records: LoadedRecord[], since?: number): void {
  const withSeq = records.filter((r): r is LoadedRecord & {seq: number} => r.seq !== null && (since === undefined || r.seq >= since)).sort((a, b) => a.seq - b.seq)
  // A range copied from --since on begins with that seq: the records of the range before the first one here are missing.
  const first = withSeq[0]
  if (since !== undefined && first && first.seq > since) first.findings.push({file: first.display, field: 'predicate.chain.prev', problem: `chain break: the range begins at seq ${since} (--since), but seq ${since}${first.seq - 1 > since ? `–${first.seq - 1}` : ''} before this one is missing`})
  for (let i = 1; i < withSeq.length; i++) {
    const a = withSeq[i - 1]!
    const b = withSeq[i]!
    if (a.seq === b.seq) {
      b.findings.push({file: b.display, field: 'predicate.chain.seq', problem: `duplicate seq ${b.seq}: ${a.display} claims it too (records from different evidence dirs?)`})
      continue
    }
    const field = 'predicate.chain.prev'
    if (b.seq > a.seq + 1) {
      b.findings.push({file: b.display, field, problem: `chain break: record${b.seq - a.seq > 2 ? 's' : ''} seq ${a.seq + 1}${b.seq - 1 > a.seq + 1 ? `–${b.seq - 1}` : ''} between ${a.display} and this one ${b.seq - a.seq > 2 ? 'are' : 'is'} missing`})
      continue
    }
    if (b.prev === undefined) continue
    // a's digest, or its started digest when it has one (a started record's is null, which is no link)
    if (b.prev === null || (b.prev !== a.digest && b.prev !== a.startedDigest)) {
      b.findings.push({file: b.display, field, problem: `chain break: is ${b.prev ?? 'null'} but the previous record ${a.display} is ${a.digest ?? 'unreadable'}${a.startedDigest ? ` (started as ${a.startedDigest})` : ''}`})
    }
  }
}

// ---------------------------------------------------------------------------------------------
// One record file

/** Where a session's exec log sits in the evidence dir (sessions/exec-evidence.ts writes it), and its cap. */
const EXEC_LOG_DIR = 'exec'
const MAX_EXEC_LOG_BYTES = 64 * 1024 * 1024

/**
 * The exec log a completed record lists as a byproduct (`exec-log`: the commands run in the
 * session with `exec`) must still be the bytes the record committed to when the session ended:
 * the record is signed, the log beside it is not, so the digest is what makes a removed, edited or
 * appended exec line visible. The log is read only at its own place (`exec/<runId>.jsonl`, a real
 * folder, no link), whatever path the record names.
 */
async function checkExecLog(rec: LoadedRecord, root: string): Promise<void> {
  const listed = (rec.record?.predicate.byproducts ?? []).filter((b) => b.name === 'exec-log')
  if (listed.length === 0 || rec.runId === null) return
  const rel = `${EXEC_LOG_DIR}/${rec.runId}.jsonl`
  const fail = (problem: string) => void rec.findings.push({file: rec.display, field: 'predicate.byproducts: exec-log', problem})
  if (listed.length > 1) fail(`lists the exec log ${listed.length} times`)
  const entry = listed[0]!
  if (entry.annotations?.path !== rel) fail(`names the exec log at ${JSON.stringify(entry.annotations?.path ?? null)}, but a run's exec log is ${rel}`)
  const folder = await kindOf(path.join(root, EXEC_LOG_DIR)).catch(() => null)
  if (folder !== 'dir') {
    fail(`the exec log it commits to (${rel}) is gone: ${folder === null ? 'no exec/ folder' : `exec/ is ${folder === 'symlink' ? 'a symlink' : 'not a folder'}`} (deleted or moved)`)
    return
  }
  let bytes: Buffer
  try {
    bytes = await readRegularFile(path.join(root, rel), MAX_EXEC_LOG_BYTES)
  } catch (error) {
    const unsafe = error instanceof UnsafeFile ? error : null
    fail(unsafe?.kind === 'missing' ? `the exec log it commits to (${rel}) is gone (deleted or moved)` : `the exec log it commits to (${rel}): ${(error as Error).message}`)
    return
  }
  // The record commits to the log's first `events` lines. An exec that outlives its session (its
  // shell open when the agent exits) appends its end after the record was completed: lines after
  // the committed ones are told to the reviewer as not covered by the signature, not refused.
  const events = Number(entry.annotations?.events)
  const committed = Number.isSafeInteger(events) && events >= 0 ? prefixLines(bytes, events) : null
  if (committed === null || sha256Hex(committed) !== entry.digest.sha256) {
    fail(`${rel} is not what the record committed to when the session ended (sha256 ${entry.digest.sha256 ?? 'none'} over ${entry.annotations?.events ?? '?'} lines): exec lines were removed or changed since`)
    return
  }
  const later = bytes.subarray(committed.length).toString('utf8').split('\n').filter(Boolean).length
  if (later > 0) {
    const note = `${rel}: ${later} exec line${later === 1 ? '' : 's'} written after the session ended (e.g. the end of an exec that outlived it), not covered by the record's signature`
    rec.note = rec.note === null ? note : `${rec.note}; ${note}`
  }
}

/** The first `count` newline-terminated lines of `bytes`, or null when it has fewer. */
function prefixLines(bytes: Buffer, count: number): Buffer | null {
  let end = 0
  for (let i = 0; i < count; i++) {
    const nl = bytes.indexOf(0x0a, end)
    if (nl === -1) return null
    end = nl + 1
  }
  return bytes.subarray(0, end)
}

async function loadRecord(file: string, display: string): Promise<LoadedRecord> {
  const rec: LoadedRecord = {
    name: path.basename(file),
    display,
    digest: null,
    record: null,
    seq: null,
    runId: null,
    prev: undefined,
    startedDigest: undefined,
    status: null,
    policyHashVerified: null,
    findings: [],
    bytes: null,
    note: null,
    signed: null,
  }
  const fail = (field: string | null, problem: string) => void rec.findings.push({file: display, field, problem})

  let bytes: Buffer
  try {
    bytes = await readRegularFile(file, MAX_RECORD_BYTES)
  } catch (error) {
    if (error instanceof UnsafeFile && error.kind === 'too-large') fail(null, `not an agent-machine evidence record: ${error.message}`)
    else fail(null, error instanceof UnsafeFile ? error.message : `cannot read: ${(error as Error).message}`)
    return rec
  }
  rec.bytes = bytes
  const body = bytes[bytes.length - 1] === 0x0a ? bytes.subarray(0, -1) : bytes
  rec.digest = `sha256:${sha256Hex(body)}`
  if (bytes.length === 0) {
    fail(null, 'empty file: the write was cut off, or it is not a record')
    return rec
  }

  const text = bytes.toString('utf8')
  if (nestingExceeds(text, MAX_JSON_DEPTH)) {
    fail(null, `not an agent-machine evidence record: its JSON is nested deeper than ${MAX_JSON_DEPTH} levels (records nest fewer than 10)`)
    return rec
  }
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (error) {
    fail(null, `not JSON (${(error as Error).message}): the file is truncated or damaged`)
    return rec
  }
  if (!isObject(raw)) {
    fail(null, `not an agent-machine evidence record: the JSON is ${Array.isArray(raw) ? 'an array' : raw === null ? 'null' : `a ${typeof raw}`}, not an in-toto Statement`)
    return rec
  }
  if (raw._type !== STATEMENT_TYPE) {
    fail('_type', `not an agent-machine evidence record: _type is ${describeValue(raw._type)} (expected "${STATEMENT_TYPE}")`)
    return rec
  }
  const predicateType = raw.predicateType
  if (typeof predicateType !== 'string' || !predicateType.startsWith(EVIDENCE_PREDICATE_FAMILY)) {
    fail('predicateType', `not an agent-machine evidence record: predicateType is ${describeValue(predicateType)} (expected "${EVIDENCE_PREDICATE_TYPE}")`)
    return rec
  }
  const predicate = isObject(raw.predicate) ? raw.predicate : {}
  const version = predicate.schemaVersion
  if (typeof version === 'number' && Number.isInteger(version) && version > EVIDENCE_SCHEMA_VERSION) {
    fail('predicate.schemaVersion', `record uses schema version ${version}; this CLI reads up to ${EVIDENCE_SCHEMA_VERSION} — upgrade sourceosctl`)
    return rec
  }
  if (predicateType !== EVIDENCE_PREDICATE_TYPE) {
    fail('predicateType', `record uses predicate type "${predicateType}"; this CLI reads "${EVIDENCE_PREDICATE_TYPE}" — upgrade sourceosctl`)
    return rec
  }

  // Chain facts, read leniently.
  const chain = isObject(predicate.chain) ? predicate.chain : {}
  if (typeof chain.seq === 'number' && Number.isInteger(chain.seq)) rec.seq = chain.seq
  if (typeof predicate.runId === 'string') rec.runId = predicate.runId
  if (chain.prev === null || typeof chain.prev === 'string') rec.prev = chain.prev
  if (chain.startedDigest === null || typeof chain.startedDigest === 'string') rec.startedDigest = chain.startedDigest
  if (predicate.status === 'started' || predicate.status === 'completed' || predicate.status === 'incomplete') rec.status = predicate.status

  const canonical = canonicalOrNull(raw)
  if (canonical === null) fail(null, 'not canonicalisable JSON (RFC 8785 accepts I-JSON only): a number or string is out of range')
  else if (!Buffer.from(`${canonical}\n`, 'utf8').equals(bytes)) {
    fail(null, 'not in canonical form (RFC 8785 JCS text plus one newline): the file was edited or re-formatted after it was written')
  }

  const parsed = EvidenceRecordSchema.safeParse(raw)
  if (!parsed.success) {
    const issues = parsed.error.issues
    for (const issue of issues.slice(0, MAX_SCHEMA_FINDINGS)) fail(fieldPath(issue.path) || null, issue.message)
    if (issues.length > MAX_SCHEMA_FINDINGS) fail(null, `${issues.length - MAX_SCHEMA_FINDINGS} more schema problems not shown`)
  } else {
    rec.record = parsed.data
  }

  if (isObject(predicate.policy) && typeof predicate.policyHash === 'string') {
    try {
      const recomputed = policyHash(predicate.policy as unknown as EffectivePolicy)
      rec.policyHashVerified = recomputed === predicate.policyHash
      if (!rec.policyHashVerified) {
        fail('predicate.policyHash', `does not match the policy: recomputed ${recomputed} from predicate.policy (the policy or the hash was changed)`)
      }
    } catch (error) {
      fail('predicate.policy', `cannot be canonicalised to recompute the hash: ${(error as Error).message}`)
    }
  }

  if (rec.record) checkCoherence(rec.record, fail)
  return rec
}

/** Cross-field rules the schema alone cannot state. */
function checkCoherence(record: EvidenceRecord, fail: (field: string | null, problem: string) => void): void {
  const p = record.predicate
  if (canonicalJson(record.subject) !== canonicalJson(subjectFor(p.runId, p.git))) {
    fail('subject', 'does not match predicate.git: it must list each mounted repo’s commit (or run:<runId> when there is none)')
  }
  if (p.status === 'started') {
    if (p.finishedAt !== null) fail('predicate.finishedAt', 'is set but status is "started"')
    if (p.exitCode !== null) fail('predicate.exitCode', 'is set but status is "started"')
    if (p.chain.startedDigest !== null) fail('predicate.chain.startedDigest', 'is set but status is "started"')
  } else {
    if (p.finishedAt === null) fail('predicate.finishedAt', `is null but status is "${p.status}"`)
    if (p.status === 'completed' && p.exitCode === null) fail('predicate.exitCode', 'is null but status is "completed"')
    if (p.chain.startedDigest === null) fail('predicate.chain.startedDigest', `is null but status is "${p.status}"`)
  }
  crossFieldChecks(record, fail)
  if (p.chain.seq === 1 && p.chain.prev !== null) fail('predicate.chain.prev', 'is set on seq 1: the first record has no predecessor')
  if (p.chain.seq > 1 && p.chain.prev === null) fail('predicate.chain.prev', `is null on seq ${p.chain.seq}: only seq 1 starts a chain`)
}

/**
 * What the fields say about each other (issue 14, item 5): the podman argv must carry the mounts,
 * the policy and the image the record names; times in order; ids in their formats; host paths
 * absolute (or ~ when home-relative). A rewrite that changes one side and not the other shows.
 */
function crossFieldChecks(record: EvidenceRecord, fail: (field: string | null, problem: string) => void): void {
  const p = record.predicate
  if (p.finishedAt !== null && p.finishedAt < p.startedAt) fail('predicate.finishedAt', `is before startedAt (${p.startedAt})`)
  if (!/^(sha256:)?[0-9a-f]{64}$/.test(p.image.id)) fail('predicate.image.id', `is not an image ID (64 hex digits): ${JSON.stringify(p.image.id)}`)
  if (p.image.digest !== null && !/^sha256:[0-9a-f]{64}$/.test(p.image.digest)) fail('predicate.image.digest', `is not a sha256 digest: ${JSON.stringify(p.image.digest)}`)
  if ((p.verb === 'shell') !== (p.tool === null)) fail('predicate.tool', `is ${JSON.stringify(p.tool)} but verb is ${p.verb}`)
  if (p.argv[0] === 'agent-machine' && p.argv[1] !== undefined && p.argv[1] !== p.verb) fail('predicate.argv', `names the verb ${JSON.stringify(p.argv[1])} but predicate.verb is ${p.verb}`)
  const homeRelative = p.paths === 'home-relative'
  const absolute = (source: string) => source.startsWith('/') || /^[A-Za-z]:[\\/]/.test(source) || (homeRelative && (source === '~' || source.startsWith('~/')))
  // A cluster run mounts no host path: its one mount is the clone of <url>#<pinned commit> (kubeChecks).
  if (p.verb !== 'export') {
    p.mounts.forEach((m, i) => {
      if (!absolute(m.source)) fail(`predicate.mounts[${i}].source`, `is not an absolute path${homeRelative ? ' (or ~/…)' : ''}: ${JSON.stringify(m.source)}`)
    })
  }
  for (const pm of p.policy.mounts) {
    const m = p.mounts.find((x) => x.target === pm.target)
    if (!m) fail('predicate.mounts', `has no mount at ${pm.target}, which predicate.policy allowlists`)
    else if (m.mode !== pm.mode) fail('predicate.mounts', `mounts ${pm.target} ${m.mode}, but predicate.policy says ${pm.mode}`)
  }
  outcomeChecks(record, fail)
  userRefsChecks(record, fail)
  kubeChecks(record, fail)
  const argv = p.podmanArgv
  const verbAt = argv.findIndex((a) => a === 'create' || a === 'run')
  if (verbAt === -1) return
  // The mounts podman was given: --mount=type=bind,source=…,destination=…[,ro=true]
  const given = new Map<string, 'ro' | 'rw'>()
  for (const a of argv) {
    if (!a.startsWith('--mount=')) continue
    const opts = new Map(a.slice('--mount='.length).split(',').map((kv) => [kv.slice(0, kv.indexOf('=') === -1 ? kv.length : kv.indexOf('=')), kv.includes('=') ? kv.slice(kv.indexOf('=') + 1) : 'true']))
    const target = opts.get('destination') ?? opts.get('target') ?? opts.get('dst')
    if (target) given.set(target, opts.get('ro') === 'true' || opts.get('readonly') === 'true' ? 'ro' : 'rw')
  }
  for (const m of p.mounts) {
    const mode = given.get(m.target)
    if (mode === undefined) fail('predicate.podmanArgv', `has no --mount for ${m.target}, which predicate.mounts lists`)
    else if (mode !== m.mode) fail('predicate.podmanArgv', `mounts ${m.target} ${mode}, but predicate.mounts says ${m.mode}`)
  }
  for (const target of given.keys()) if (!p.mounts.some((m) => m.target === target)) fail('predicate.podmanArgv', `mounts ${target}, which predicate.mounts does not list`)
  const has = (flag: string) => argv.includes(flag)
  const noNetwork = has('--network=none')
  if (p.policy.network.mode === 'none' && !noNetwork) fail('predicate.podmanArgv', 'has no --network=none, but predicate.policy.network.mode is none')
  if (p.policy.network.mode !== 'none' && noNetwork) fail('predicate.podmanArgv', `has --network=none, but predicate.policy.network.mode is ${p.policy.network.mode}`)
  for (const [flag, field] of [
    [`--cpus=${p.policy.resources.cpus}`, 'resources.cpus'],
    [`--memory=${p.policy.resources.memory}`, 'resources.memory'],
    [`--pids-limit=${p.policy.resources.pidsLimit}`, 'resources.pidsLimit'],
    ['--cap-drop=all', 'hardening.capDrop'],
    ['--security-opt=no-new-privileges', 'hardening.noNewPrivileges'],
    ['--read-only', 'hardening.readOnlyRoot'],
    ['--init', 'hardening.init'],
  ] as const) {
    if (!has(flag)) fail('predicate.podmanArgv', `has no ${flag}, which predicate.policy.${field} requires`)
  }
  const imageId = p.image.id.replace(/^sha256:/, '')
  if (!argv.some((a) => a === imageId || a === p.image.id || a === p.image.ref)) fail('predicate.podmanArgv', `does not run the recorded image (${p.image.ref}, ${imageId.slice(0, 12)})`)
  const runLabel = argv.find((a) => a.startsWith('--label=dev.sourceos.agent-machine.run-id='))
  if (runLabel !== undefined && runLabel !== `--label=dev.sourceos.agent-machine.run-id=${p.runId}`) fail('predicate.podmanArgv', `labels the container with another run id than ${p.runId}`)
  const hashLabel = argv.find((a) => a.startsWith('--label=dev.sourceos.agent-machine.policy-hash='))
  if (hashLabel !== undefined && !homeRelative && hashLabel !== `--label=dev.sourceos.agent-machine.policy-hash=${p.policyHash}`) fail('predicate.podmanArgv', `labels the container with another policy hash than ${p.policyHash}`)
  const imageDep = p.resolvedDependencies?.find((d) => d.annotations?.role === 'image')
  if (imageDep && imageDep.digest.sha256 !== imageId) fail('predicate.resolvedDependencies', `names the image ${imageDep.digest.sha256 ?? '(no sha256)'}, but predicate.image.id is ${imageId}`)
}

/**
 * How the launch ended against the rest: the tool ran exactly when the record has its exit code
 * and the podman commands include the start; a failed or interrupted launch names its error, and
 * a create it ran is the recorded podmanArgv.
 */
function outcomeChecks(record: EvidenceRecord, fail: (field: string | null, problem: string) => void): void {
  const p = record.predicate
  const o = p.outcome
  if (o) {
    if (p.status === 'started') fail('predicate.outcome', 'is set but status is "started"')
    else if (o.result === 'ran') {
      if (p.status !== 'completed') fail('predicate.outcome.result', `is "ran" but status is "${p.status}"`)
      if (o.error !== null) fail('predicate.outcome.error', 'is set but predicate.outcome.result says the tool ran')
    } else {
      if (p.status !== 'incomplete') fail('predicate.outcome.result', `is "${o.result}" (the tool never ran) but status is "${p.status}"`)
      if (p.exitCode !== null) fail('predicate.exitCode', `is ${p.exitCode} but predicate.outcome.result is "${o.result}": the tool never ran`)
      if (o.error === null) fail('predicate.outcome.error', `is null but predicate.outcome.result is "${o.result}": the reason is missing`)
    }
  }
  const ran = p.podmanRan
  if (!ran) return
  if (p.status === 'started') fail('predicate.podmanRan', 'is set but status is "started"')
  const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i])
  const start = p.podmanCommands?.start
  if (start && o) {
    const started = ran.some((r) => same(r.argv, start))
    if (o.result === 'ran' && !started) fail('predicate.podmanRan', 'has no podman start (predicate.podmanCommands.start), but predicate.outcome says the tool ran')
    if (o.result !== 'ran' && started) fail('predicate.podmanRan', `ran podman start (predicate.podmanCommands.start), but predicate.outcome.result is "${o.result}"`)
  }
  // The agent's container: the create that names it is exactly podmanArgv.
  const name = `--name=sourceos-agent-${p.runId}`
  ran.forEach((r, i) => {
    if (r.argv.includes(name) && r.argv.some((a) => a === 'create' || a === 'run') && !same(r.argv, p.podmanArgv)) {
      fail(`predicate.podmanRan[${i}].argv`, 'creates the session’s container with other arguments than predicate.podmanArgv')
    }
  })
  if (o?.result === 'ran' && !ran.some((r) => same(r.argv, p.podmanArgv))) fail('predicate.podmanRan', 'does not contain the create in predicate.podmanArgv, but predicate.outcome says the tool ran')
}

/**
 * A cluster run (verb export, predicate.kube): its one mount is the clone at the pinned commit, the
 * subject is that commit, and the containers the engine reported carry the hardening the policy
 * asks for — so a record whose Pod facts were edited to match a weaker run, or whose pin was
 * swapped, shows.
 */
function kubeChecks(record: EvidenceRecord, fail: (field: string | null, problem: string) => void): void {
  const p = record.predicate
  const k = p.kube
  if ((p.verb === 'export') !== (k !== undefined)) {
    fail('predicate.kube', p.verb === 'export' ? 'is missing but verb is export (a cluster run)' : `is set but verb is ${p.verb} (only a cluster run has a Pod)`)
    return
  }
  if (!k) return
  const source = `${k.repo.url}#${k.repo.commit}`
  if (p.mounts.length !== 1 || p.mounts[0]!.source !== source) fail('predicate.mounts', `must be the one clone of ${source} (predicate.kube.repo)`)
  if (!p.git.some((g) => g.commit === k.repo.commit)) fail('predicate.git', `does not name the pinned commit ${k.repo.commit} of predicate.kube.repo`)
  if (k.repo.clonedCommit !== null && k.repo.clonedCommit !== k.repo.commit) fail('predicate.kube.repo.clonedCommit', `is ${k.repo.clonedCommit}: the agent did not start at the pinned commit ${k.repo.commit}`)
  if (p.status === 'started') {
    if (k.containers.length > 0 || k.bundle !== null) fail('predicate.kube', 'has containers or a bundle but status is "started"')
    return
  }
  const agent = k.containers.find((c) => c.name === 'agent')
  if (!agent) {
    if (p.status === 'completed') fail('predicate.kube.containers', 'has no agent container but status is "completed"')
    return
  }
  if (p.status === 'completed' && agent.exitCode !== p.exitCode) fail('predicate.kube.containers', `gives the agent exit code ${agent.exitCode ?? 'null'} but predicate.exitCode is ${p.exitCode ?? 'null'}`)
  const imageId = p.image.id.replace(/^sha256:/, '')
  if (agent.imageId !== null && agent.imageId.replace(/^sha256:/, '') !== imageId) fail('predicate.kube.containers', `ran the agent from image ${agent.imageId.slice(0, 19)}…, but predicate.image.id is ${imageId.slice(0, 12)}…`)
  for (const [i, c] of k.containers.entries()) {
    const weaker = [
      !c.readOnlyRoot ? 'a writable root file system' : null,
      !c.noNewPrivileges ? 'no no-new-privileges' : null,
      c.capAdd.length > 0 ? `capabilities ${c.capAdd.join(',')}` : null,
      c.privileged ? 'privileged' : null,
      /unconfined/.test(c.seccomp) ? 'seccomp unconfined' : null,
    ].filter((w): w is string => w !== null)
    if (weaker.length > 0) fail(`predicate.kube.containers[${i}]`, `${c.name} ran with ${weaker.join(', ')}, which predicate.policy.hardening does not allow`)
  }
}

/** --worktree's user refs: each list matches its count and digest, and the changes are exactly their difference. */
function userRefsChecks(record: EvidenceRecord, fail: (field: string | null, problem: string) => void): void {
  const p = record.predicate
  const u = p.userRefs
  if (!u) return
  if (!p.worktree) fail('predicate.userRefs', 'is set but the record has no predicate.worktree (user refs are recorded for --worktree runs only)')
  const list = (side: 'before' | 'after', l: RefList | null) => {
    if (!l?.refs) return
    if (l.count !== l.refs.length) fail(`predicate.userRefs.${side}.count`, `is ${l.count} but the list has ${l.refs.length} refs`)
    for (let i = 1; i < l.refs.length; i++) {
      if (!(l.refs[i - 1]!.name < l.refs[i]!.name)) {
        fail(`predicate.userRefs.${side}.refs`, 'is not sorted by name without duplicates')
        break
      }
    }
    if (refsDigest(l.refs) !== l.digest) fail(`predicate.userRefs.${side}.digest`, 'does not match its refs: the list or the digest was changed')
  }
  list('before', u.before)
  list('after', u.after)
  if (p.status === 'started') {
    if (u.after !== null || u.changes !== null) fail('predicate.userRefs', 'has after or changes but status is "started"')
    return
  }
  const expected = diffRefs(u.before, u.after)
  if (canonicalJson(expected) !== canonicalJson(u.changes)) {
    fail('predicate.userRefs.changes', expected === null ? 'is set but before or after is unknown' : 'does not match the difference between predicate.userRefs.before and after: a ref change was added, removed or altered')
  }
}

/** In an evidence dir, the file name must agree with the content (a rename or swap is a reorder). */
function checkFileName(rec: LoadedRecord): void {
  const named = parseRecordFileName(rec.name)
  if (!named) return
  if (rec.seq !== null && named.seq !== rec.seq) {
    rec.findings.push({file: rec.display, field: 'predicate.chain.seq', problem: `is ${rec.seq} but the file name says seq ${named.seq}: the file was renamed or records were reordered`})
  }
  if (rec.runId !== null && named.runId !== rec.runId) {
    rec.findings.push({file: rec.display, field: 'predicate.runId', problem: `is ${rec.runId} but the file name says run ${named.runId}: the file was renamed or swapped`})
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

function report(rec: LoadedRecord, findings: Finding[], place: number | null = null): RecordReport {
  return {
    file: rec.display,
    seq: rec.seq ?? place,
    runId: rec.runId,
    status: rec.status,
    incomplete: isIncomplete(rec),
    valid: findings.length === 0,
    digest: rec.digest,
    policyHashVerified: rec.policyHashVerified,
    signed: rec.signed,
    note: rec.note,
    summary: rec.record ? summarize(rec.record) : null,
  }
}

function isIncomplete(rec: LoadedRecord): boolean {
  return rec.status === 'started' || rec.status === 'incomplete'
}

function summarize(record: EvidenceRecord): RecordSummary {
  const p = record.predicate
  // Records of older CLIs hold values verbatim: never print them (docs/evidence.md).
  const toolCommand = p.tool === null ? null : (p.policy.tools.find((t) => t.name === p.tool)?.command ?? [])
  const shown = displayPodmanArgv(p.podmanArgv, {imageId: p.image.id, imageRef: p.image.ref, toolCommand, envSet: p.policy.env.set})
  return {
    verb: p.verb,
    tool: p.tool,
    argv: redactCliArgv(p.argv, shown.toolArgs),
    startedAt: p.startedAt,
    finishedAt: p.finishedAt,
    exitCode: p.exitCode,
    host: p.host,
    mounts: p.mounts,
    image: p.image,
    git: p.git,
    policyHash: p.policyHash,
    toolVersions: p.toolVersions,
    podmanArgv: shown.argv,
    ...(p.workspace ? {workspace: p.workspace} : {}),
    ...(p.network ? {network: p.network} : {}),
    ...(p.outcome ? {outcome: p.outcome} : {}),
    ...(p.podmanRan ? {podmanRan: p.podmanRan} : {}),
    ...(p.userRefs ? {userRefs: {repo: p.userRefs.repo, changes: p.userRefs.changes, error: p.userRefs.error}} : {}),
    ...(p.kube ? {kube: p.kube} : {}),
  }
}

function sortFindings(findings: Finding[]): Finding[] {
  return [...findings].sort((a, b) => a.file.localeCompare(b.file))
}

function fieldPath(segments: ReadonlyArray<PropertyKey>): string {
  return segments.reduce<string>((acc, s) => (typeof s === 'number' ? `${acc}[${s}]` : acc === '' ? String(s) : `${acc}.${String(s)}`), '')
}

function describeValue(value: unknown): string {
  return value === undefined ? 'missing' : JSON.stringify(value)
}

function canonicalOrNull(value: unknown): string | null {
  try {
    return canonicalJson(value)
  } catch {
    return null
  }
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** fn over items, at most `limit` at a time; results in input order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i]!)
    }
  }
  await Promise.all(Array.from({length: Math.min(limit, items.length)}, worker))
  return out
}

async function exists(p: string): Promise<boolean> {
  try {
    return (await kindOf(p)) !== null
  } catch {
    return false
  }
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await kindOf(p)) === 'dir'
  } catch {
    return false
  }
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return []
    throw evidenceInvalid('EVIDENCE_PATH_UNREADABLE', `cannot read ${dir}: ${(error as Error).message}`, 'check the path and its permissions', {path: dir})
  }
}
