/**
 * The evidence writer (ARCHITECTURE §6). Layout of an evidence dir:
 *
 *   <dir>/records/<seq, 6 digits>-<runId>.json   one record per session, JCS + "\n", mode 0600
 *   <dir>/index.jsonl                            append-only, hash-chained event log, mode 0600
 *   <dir>/index.lock                             proper-lockfile lock (a directory) while writing
 *
 * Every change happens under the lock: `beginRecord` assigns the next seq and the chain's prev,
 * writes the record atomically as "started" (temp file, fsync, link: never clobbers), then appends
 * a `begin` line; `handle.complete()` rewrites the record atomically (temp file, fsync, rename) and
 * appends a `complete` line. A CLI killed at any point leaves whole files only: a started record
 * (reported as incomplete) and a consistent index. docs/evidence.md explains the chain.
 */
import type {NetworkEvidence} from '../network/evidence.js'
import {randomUUID} from 'node:crypto'
import {constants} from 'node:fs'
import {open, readdir, realpath, unlink} from 'node:fs/promises'
import path from 'node:path'

import lockfile from 'proper-lockfile'

import {evidenceInvalid, policyRefusal, prerequisiteMissing, unexpectedFailure} from '../errors.js'
import {mkdirp, writeFileAtomic} from '../fs-atomic.js'
import type {HostFacts} from '../host/facts.js'
import {canonicalJson, policyHash, type EffectivePolicy} from '../policy/hash.js'
import {sha256Prefixed} from '../util/digest.js'
import {
  INDEX_ENTRY_VERSION,
  INDEX_FILE,
  IndexEntrySchema,
  indexLine,
  lineHash,
  LOCK_FILE,
  parseRecordFileName,
  RECORDS_DIR,
  recordFileName,
  splitIndex,
  type IndexEntry,
} from './index-log.js'
import {markRecordsSettled, readIndexTail, unsettleRecords} from './index-tail.js'
import {interruptedBegin, type IndexView} from './recovery.js'
import {homeRelativeDeep} from './redact.js'
import {
  CHECKPOINT_FILE,
  CHECKPOINT_PAYLOAD_TYPE,
  CheckpointSchema,
  ENVELOPE_SUFFIX,
  IN_TOTO_PAYLOAD_TYPE,
  KEYS_DIR,
  readEnvelopeFile,
  serializeEnvelope,
  signEnvelope,
  verifyEnvelopeBytes,
  writeIfDifferent,
  type Checkpoint,
  type SigningKey,
} from './signing.js'
import {MAX_JSON_DEPTH, nestingExceeds, readRegularFile, UnsafeFile} from './safe-read.js'
import {
  EVIDENCE_PREDICATE_TYPE,
  EVIDENCE_SCHEMA_VERSION,
  EvidenceRecordSchema,
  recordDigest,
  RUN_ID_PATTERN,
  serializeRecord,
  STATEMENT_TYPE,
  subjectFor,
  type EvidenceRecord,
  type GitState,
  type ImageInfo,
  type IntegrityInfo,
  type KubeRun,
  type RecordHost,
  type RecordMount,
  type ToolVersions,
  type VerificationInfo,
  type Outcome,
  type PodmanConnectionInfo,
  type PodmanRun,
  type UserRefs,
  type ResourceDescriptor,
  type WorkspaceChange,
  type WorktreeInfo,
} from './record.js'

/** What `run`/`shell` know when the session begins. policyHash, subject, status and chain are computed here. */
export interface RecordDraft {
  /** Unique id (see newRunId()); also the container label. Letters, digits, `.`, `_`, `-`. */
  runId: string
  verb: 'run' | 'shell' | 'export'
  /** Tool name for run (codex, claude-code); null for shell. */
  tool: string | null
  /** The CLI's own arguments: process.argv.slice(2). */
  argv: string[]
  /** RFC 3339 UTC; default: now. */
  startedAt?: string
  /** Resolved mounts exactly as given to podman. */
  mounts: RecordMount[]
  image: ImageInfo
  git: GitState[]
  /** The EffectivePolicy the launch was judged by; policyHash is computed from it. */
  policy: EffectivePolicy
  toolVersions: ToolVersions
  host: RecordHost
  /** The exact podman argv, starting with the podman executable. */
  podmanArgv: string[]
  /** `--worktree` runs: the worktree, its branch and base commit. */
  worktree?: WorktreeInfo
  /** run: the tool's outer-sandbox setting declared by the image (null: not declared). */
  toolSandbox?: string | null
  /** How the container was verified before it started. */
  verification?: VerificationInfo
  /** Machine profiles: the connection every container-side call named, its URI, the server version. */
  podmanConnection?: PodmanConnectionInfo
  /** The CLI that writes the record (SLSA builder). */
  builder?: {id: string; version: string}
  /** The image and the base commits as ResourceDescriptors. */
  resolvedDependencies?: ResourceDescriptor[]
  /** Each checkout's state before the session (after and changes null). */
  workspace?: WorkspaceChange[]
  /** podman init and start, as run. */
  podmanCommands?: {init: string[]; start: string[]}
  /** How host paths are written: 'home-relative' (with `homeDir`) writes the home dir as `~` everywhere. Default absolute. */
  paths?: {style: 'absolute'} | {style: 'home-relative'; homeDir: string}
  /** --worktree: the user's refs when the launch began (after, changes null). */
  userRefs?: UserRefs
  /** export --kube --play: the Pod as known when it is played (uid null, no containers yet). */
  kube?: KubeRun
}

/** What is known when the session ends. Fields left out keep their begin values. */
export interface CompletionUpdate {
  /** The tool's exit code; null when there is none (the container never ran, the CLI was interrupted). */
  exitCode: number | null
  /** Default: 'completed' when exitCode is a number, else 'incomplete'. */
  status?: 'completed' | 'incomplete'
  /** RFC 3339 UTC; default: now. */
  finishedAt?: string
  image?: ImageInfo
  /** Git state after the session (the agent may have committed); the subject follows it. */
  git?: GitState[]
  toolVersions?: ToolVersions
  podmanArgv?: string[]
  /** The after-session integrity check. */
  integrity?: IntegrityInfo
  /** What the session produced besides the record, by digest. */
  byproducts?: ResourceDescriptor[]
  /** Each checkout before and after, with the changed paths (replaces the started form's). */
  workspace?: WorkspaceChange[]
  /** Network egress: mode, allowlist, destinations from the proxy's log (network/evidence.ts). */
  network?: NetworkEvidence
  /** How the container was verified before start (known only once it was). */
  verification?: VerificationInfo
  /** How the launch ended: the tool ran, it failed (why), or a signal stopped it before the tool. */
  outcome?: Outcome
  /** Every podman command the launch ran after the record was begun. */
  podmanRan?: PodmanRun[]
  /** --worktree: the user's refs before and after, and what changed (replaces the started form's). */
  userRefs?: UserRefs
  /** export --kube --play: the Pod after the run (replaces the started form's). */
  kube?: KubeRun
}

export interface RecordHandle {
  readonly dir: string
  readonly runId: string
  readonly seq: number
  /** Absolute path of the record file. */
  readonly file: string
  /** The record as last written. */
  readonly record: EvidenceRecord
  /** Its digest (sha256 over JCS). */
  readonly digest: string
  /** Rewrites the record as completed/incomplete and appends the index line. Call once. */
  complete(update: CompletionUpdate): Promise<{record: EvidenceRecord; digest: string; file: string}>
}

export interface StoreOptions {
  /**
   * The signing key (signing.ts): each record is also written as a signed DSSE envelope, each
   * index append writes a signed checkpoint, and the public key is published in keys/. Without
   * it nothing is signed, and inspect reports the dir as UNVERIFIED.
   */
  signing?: SigningKey
  now?: () => Date
  /** Lock tuning (tests). staleMs: a lock not refreshed for this long is taken over (min 2000). */
  lock?: {staleMs?: number; retries?: number}
}

const DEFAULT_STALE_MS = 10_000
const MAX_RECORD_BYTES = 16 * 1024 * 1024
const MAX_INDEX_BYTES = 256 * 1024 * 1024
const UNWRITABLE = {
  code: 'EVIDENCE_DIR_UNWRITABLE',
  fix: 'choose a writable evidence dir with SOURCEOSCTL_EVIDENCE_DIR (or the verb’s --evidence-dir flag), or fix the permissions',
}

/** A fresh run id (UUID v4). */
export function newRunId(): string {
  return randomUUID()
}

/** The host block of a record. */
export function recordHost(host: Pick<HostFacts, 'platform' | 'osName' | 'osVersion' | 'arch'>): RecordHost {
  return {platform: host.platform, os: host.osName, osVersion: host.osVersion, arch: host.arch}
}

/** Begins a record: under the lock, assigns seq and prev, writes it as started, appends the begin line. */
export async function beginRecord(dir: string, draft: RecordDraft, opts: StoreOptions = {}): Promise<RecordHandle> {
  const now = opts.now ?? (() => new Date())
  if (!RUN_ID_PATTERN.test(draft.runId)) {
    throw unexpectedFailure('EVIDENCE_RUN_ID_INVALID', `run id ${JSON.stringify(draft.runId)} cannot name an evidence record`, 'use newRunId() (a UUID)')
  }
  const root = path.resolve(dir)
  await assertEvidenceDirOutsideMounts(root, draft.mounts)
  await ensureDirs(root)

  return withLock(root, opts, async () => {
    let index = await readIndexForWrite(root, opts.signing, {tail: true})
    // A settled records/ holds no record the index does not name (index-tail.ts): no listing.
    const files = index.recordsSettled ? [] : await listRecordFiles(root)
    if (await adoptInterruptedBegin(root, files, index, opts.signing)) index = await readIndexForWrite(root, opts.signing, {tail: true})
    if (opts.signing) await signUnsignedDir(root, files, index, opts.signing)
    const maxFileSeq = files.reduce((m, f) => Math.max(m, f.seq), 0)
    const seq = Math.max(index.maxSeq, maxFileSeq) + 1
    const prev = seq === 1 ? null : (index.latestDigest.get(seq - 1) ?? (await fileDigestOfSeq(root, files, seq - 1)))

    const rel = relativizer(draft.paths)
    const policy = rel(structuredClone(draft.policy))
    const record = validated({
      _type: STATEMENT_TYPE,
      subject: subjectFor(draft.runId, rel(draft.git)),
      predicateType: EVIDENCE_PREDICATE_TYPE,
      predicate: {
        schemaVersion: EVIDENCE_SCHEMA_VERSION,
        runId: draft.runId,
        status: 'started',
        verb: draft.verb,
        tool: draft.tool,
        argv: rel([...draft.argv]),
        startedAt: draft.startedAt ?? now().toISOString(),
        finishedAt: null,
        exitCode: null,
        // A target can be a host path too (a worktree's objects dir is mounted at its own path).
        mounts: draft.mounts.map((m) => ({source: rel(m.source), target: rel(m.target), mode: m.mode})),
        image: {...draft.image},
        git: rel(draft.git.map((g) => ({...g}))),
        policyHash: policyHash(policy),
        policy,
        toolVersions: {...draft.toolVersions, podman: {...draft.toolVersions.podman}},
        host: {...draft.host},
        podmanArgv: rel([...draft.podmanArgv]),
        chain: {seq, prev, startedDigest: null},
        ...(draft.toolSandbox !== undefined ? {toolSandbox: draft.toolSandbox} : {}),
        ...(draft.worktree ? {worktree: rel({...draft.worktree})} : {}),
        ...(draft.verification ? {verification: rel(structuredClone(draft.verification))} : {}),
        ...(draft.podmanConnection ? {podmanConnection: {...draft.podmanConnection}} : {}),
        ...(draft.builder ? {builder: {...draft.builder}} : {}),
        ...(draft.resolvedDependencies ? {resolvedDependencies: rel(structuredClone(draft.resolvedDependencies))} : {}),
        ...(draft.podmanCommands ? {podmanCommands: rel(structuredClone(draft.podmanCommands))} : {}),
        ...(draft.workspace ? {workspace: rel(structuredClone(draft.workspace))} : {}),
        ...(draft.paths ? {paths: draft.paths.style} : {}),
        ...(draft.userRefs ? {userRefs: rel(structuredClone(draft.userRefs))} : {}),
        ...(draft.kube ? {kube: rel(structuredClone(draft.kube))} : {}),
      },
    })
    const name = recordFileName(seq, draft.runId)
    const file = path.join(root, RECORDS_DIR, name)
    const digest = recordDigest(record)
    if (opts.signing) await publishKey(root, opts.signing)
    // Killed from here to the append, it leaves a record the index does not name: the next begin lists.
    unsettleRecords(root)
    await writeFileAtomic(file, serializeRecord(record), {overwrite: false, mode: 0o600, unwritable: UNWRITABLE})
    try {
      await writeEnvelope(file, record, opts.signing)
      const line = await appendIndex(root, {v: INDEX_ENTRY_VERSION, event: 'begin', seq, runId: draft.runId, file: name, digest}, index.lastLine)
      await writeCheckpoint(root, opts.signing, {lines: index.lineCount + 1, line, maxSeq: Math.max(index.maxSeq, seq)})
      // Listed (or known settled) above, adopted what was adoptable, took a seq above every file.
      if (opts.signing) markRecordsSettled(root, line)
    } catch (error) {
      // No index line means no record: take the file back so the dir stays consistent.
      await unlink(file).catch(() => undefined)
      await unlink(`${file}${ENVELOPE_SUFFIX}`).catch(() => undefined)
      throw error
    }
    return makeHandle(root, file, record, digest, opts, rel)
  })
}

/**
 * Reopens a record that was begun and never completed (its session outlived the CLI that began it:
 * a detached session whose keeper is gone; sessions/recover.ts), so another process can complete
 * it. Null unless the index lists `file` as begun and not completed, with exactly these bytes.
 * The caller holds the session's own lock, so a record is completed once.
 */
export async function reopenStartedRecord(dir: string, file: string, opts: StoreOptions & {homeDir: string}): Promise<RecordHandle | null> {
  const root = path.resolve(dir)
  const named = parseRecordFileName(path.basename(file))
  if (!named) return null
  const full = path.join(root, RECORDS_DIR, path.basename(file))
  const index = await readIndexForWrite(root, opts.signing)
  const digests = index.digestsOf(named.seq)
  if (!index.files.has(path.basename(file)) || digests.length !== 1) return null
  let record: EvidenceRecord
  try {
    const parsed = EvidenceRecordSchema.safeParse(JSON.parse((await readRegularFile(full, MAX_RECORD_BYTES)).toString('utf8')))
    if (!parsed.success) return null
    record = parsed.data
  } catch {
    return null
  }
  const digest = recordDigest(record)
  if (record.predicate.status !== 'started' || record.predicate.runId !== named.runId || digest !== digests[0]) return null
  const rel = relativizer(record.predicate.paths === 'home-relative' ? {style: 'home-relative', homeDir: opts.homeDir} : undefined)
  return makeHandle(root, full, record, digest, opts, rel)
}

/** The path transform of a draft: `~` for the home dir when home-relative, else the identity. */
function relativizer(paths: RecordDraft['paths']): <T>(value: T) => T {
  if (!paths || paths.style === 'absolute') return (value) => value
  return (value) => homeRelativeDeep(value, paths.homeDir)
}

function makeHandle(root: string, file: string, started: EvidenceRecord, startedDigest: string, opts: StoreOptions, rel: <T>(value: T) => T): RecordHandle {
  const now = opts.now ?? (() => new Date())
  let current = started
  let currentDigest = startedDigest
  let done = false
  const {runId, chain} = started.predicate
  return {
    dir: root,
    runId,
    seq: chain.seq,
    file,
    get record() {
      return current
    },
    get digest() {
      return currentDigest
    },
    async complete(update) {
      if (done) throw unexpectedFailure('EVIDENCE_ALREADY_COMPLETED', `evidence record ${file} was already completed`, 'call complete() once per record')
      const git = update.git ? rel(update.git.map((g) => ({...g}))) : started.predicate.git
      const finished = validated({
        ...started,
        subject: subjectFor(runId, git),
        predicate: {
          ...started.predicate,
          status: update.status ?? (update.exitCode === null ? 'incomplete' : 'completed'),
          finishedAt: update.finishedAt ?? now().toISOString(),
          exitCode: update.exitCode,
          image: update.image ?? started.predicate.image,
          git,
          toolVersions: update.toolVersions ?? started.predicate.toolVersions,
          podmanArgv: update.podmanArgv ? rel([...update.podmanArgv]) : started.predicate.podmanArgv,
          chain: {...chain, startedDigest},
          ...(update.integrity ? {integrity: rel(structuredClone(update.integrity))} : {}),
          ...(byproductsOf(update) ? {byproducts: byproductsOf(update)} : {}),
          ...(update.workspace ? {workspace: rel(structuredClone(update.workspace))} : {}),
          ...(update.network ? {network: structuredClone(update.network)} : {}),
          ...(update.verification ? {verification: rel(structuredClone(update.verification))} : {}),
          ...(update.outcome ? {outcome: rel(structuredClone(update.outcome))} : {}),
          ...(update.podmanRan ? {podmanRan: rel(structuredClone(update.podmanRan))} : {}),
          ...(update.userRefs ? {userRefs: rel(structuredClone(update.userRefs))} : {}),
          ...(update.kube ? {kube: rel(structuredClone(update.kube))} : {}),
        },
      })
      const digest = recordDigest(finished)
      await withLock(root, opts, async () => {
        const index = await readIndexForWrite(root, opts.signing, {tail: true})
        await writeFileAtomic(file, serializeRecord(finished), {overwrite: true, mode: 0o600, unwritable: UNWRITABLE})
        let line: string
        try {
          await writeEnvelope(file, finished, opts.signing)
          line = await appendIndex(root, {v: INDEX_ENTRY_VERSION, event: 'complete', seq: chain.seq, runId, file: path.basename(file), digest}, index.lastLine)
        } catch (error) {
          // Put the started form back so record and index agree; the record then reads as incomplete.
          await writeFileAtomic(file, serializeRecord(started), {overwrite: true, mode: 0o600, unwritable: UNWRITABLE}).catch(() => undefined)
          await writeEnvelope(file, started, opts.signing).catch(() => undefined)
          throw error
        }
        await writeCheckpoint(root, opts.signing, {lines: index.lineCount + 1, line, maxSeq: index.maxSeq})
        // records/ still holds no record the index does not name: the mark follows the new last line.
        if (index.recordsSettled === true) markRecordsSettled(root, line)
      })
      done = true
      current = finished
      currentDigest = digest
      return {record: finished, digest, file}
    },
  }
}

/** The byproducts: those given, plus the egress proxy's access log when the network section names its digest. */
function byproductsOf(update: CompletionUpdate): ResourceDescriptor[] | undefined {
  const list = [...(update.byproducts ?? [])]
  const log = update.network?.proxy?.logDigest
  if (log) list.push({name: 'egress-proxy-access-log', digest: {sha256: log.replace(/^sha256:/, '')}, annotations: {role: 'byproduct', container: update.network?.proxy?.container ?? ''}})
  return list.length > 0 ? list : undefined
}

function validated(candidate: unknown): EvidenceRecord {
  const parsed = EvidenceRecordSchema.safeParse(candidate)
  if (parsed.success) return candidate as EvidenceRecord
  const issue = parsed.error.issues[0]
  const field = issue ? issue.path.map(String).join('.') : '$'
  throw unexpectedFailure('EVIDENCE_DRAFT_INVALID', `cannot write an evidence record: field ${field}: ${issue?.message ?? 'invalid'}`, 'this is a bug in the caller of beginRecord; report it')
}

async function ensureDirs(root: string): Promise<void> {
  try {
    await mkdirp(path.join(root, RECORDS_DIR))
  } catch (error) {
    const err = error as NodeJS.ErrnoException
    const why = err.code === 'EEXIST' || err.code === 'ENOTDIR' ? 'a file is in the way' : err.message
    throw prerequisiteMissing(UNWRITABLE.code, `cannot create the evidence dir ${root}: ${why}`, UNWRITABLE.fix, {path: root, errno: err.code ?? null})
  }
}

async function withLock<T>(root: string, opts: StoreOptions, fn: () => Promise<T>): Promise<T> {
  const stale = Math.max(opts.lock?.staleMs ?? DEFAULT_STALE_MS, 2000)
  const lockPath = path.join(root, LOCK_FILE)
  let compromised: Error | undefined
  let release: () => Promise<void>
  try {
    release = await lockfile.lock(path.join(root, INDEX_FILE), {
      lockfilePath: lockPath,
      realpath: false,
      stale,
      // Enough patience to outlast a lock left by a killed writer (taken over once stale).
      retries: {retries: opts.lock?.retries ?? 200, factor: 1.3, minTimeout: 5, maxTimeout: 150, randomize: true},
      onCompromised: (err) => {
        compromised = err
      },
    })
  } catch (error) {
    const err = error as NodeJS.ErrnoException
    if (err.code === 'ELOCKED') {
      throw unexpectedFailure('EVIDENCE_LOCKED', `the evidence dir ${root} stayed locked (${lockPath}) while waiting to write`, `if no other sourceosctl is running, remove ${lockPath}`)
    }
    throw prerequisiteMissing(UNWRITABLE.code, `cannot lock the evidence dir ${root}: ${err.message}`, UNWRITABLE.fix, {path: root, errno: err.code ?? null})
  }
  try {
    const result = await fn()
    if (compromised) throw unexpectedFailure('EVIDENCE_LOCK_LOST', `lost the lock on ${lockPath} while writing: ${compromised.message}`, 'check the evidence dir with `evidence inspect`')
    return result
  } finally {
    await release().catch(() => undefined)
  }
}

interface IndexState extends IndexView {
  lastLine: string | null
  lineCount: number
  /** Digest after the latest event of each seq (the tail read: of the seqs its window covers). */
  latestDigest: Map<number, string>
  /** The tail read only: records/ holds no record the index does not name (records/.indexed). */
  recordsSettled?: boolean
}

/**
 * Reads index.jsonl for appending; refuses to extend a damaged index. `tail`: only its end,
 * anchored at our signed checkpoint, when that checks out (index-tail.ts); else the whole index.
 */
async function readIndexForWrite(root: string, signing?: SigningKey, opts: {tail?: boolean} = {}): Promise<IndexState> {
  if (opts.tail && signing) {
    const tail = await readIndexTail(root, signing, {maxBytes: MAX_INDEX_BYTES})
    if (tail) return tail
  }
  const indexPath = path.join(root, INDEX_FILE)
  const damaged = (what: string) =>
    evidenceInvalid('EVIDENCE_INDEX_DAMAGED', `${indexPath} ${what}; refusing to extend a damaged evidence chain`, `run \`sourceosctl agent-machine evidence inspect ${root}\`, then move the dir aside or point SOURCEOSCTL_EVIDENCE_DIR at a new one`)
  let text: string
  try {
    text = (await readRegularFile(indexPath, MAX_INDEX_BYTES)).toString('utf8')
  } catch (error) {
    if (error instanceof UnsafeFile && error.kind === 'missing') return {lastLine: null, lineCount: 0, maxSeq: 0, latestDigest: new Map(), files: new Set(), digestsOf: () => []}
    if (error instanceof UnsafeFile) throw damaged(error.message)
    throw error
  }
  const {lines, partial} = splitIndex(text)
  if (partial) throw damaged(`ends with a partial line (line ${lines.length})`)
  const latestDigest = new Map<number, string>()
  const digests = new Map<number, string[]>()
  const files = new Set<string>()
  let maxSeq = 0
  for (const line of lines) {
    let entry: IndexEntry
    try {
      if (nestingExceeds(line.text, MAX_JSON_DEPTH)) throw new Error('nested too deep')
      entry = IndexEntrySchema.parse(JSON.parse(line.text))
    } catch {
      throw damaged(`line ${line.number} is not a valid index entry`)
    }
    latestDigest.set(entry.seq, entry.digest)
    digests.set(entry.seq, [...(digests.get(entry.seq) ?? []), entry.digest])
    files.add(entry.file)
    maxSeq = Math.max(maxSeq, entry.seq)
  }
  if (signing) await checkCheckpointForWrite(root, lines, signing, damaged)
  return {lastLine: lines.at(-1)?.text ?? null, lineCount: lines.length, maxSeq, latestDigest, files, digestsOf: (seq) => digests.get(seq) ?? []}
}

/** Appends one line; returns its text (without the newline). */
async function appendIndex(root: string, entry: Omit<IndexEntry, 'prevLine'>, lastLine: string | null): Promise<string> {
  const line = indexLine({...entry, prevLine: lastLine === null ? null : lineHash(lastLine)})
  // Never through a link, never blocking on a FIFO (which then fails with ENXIO).
  const handle = await open(path.join(root, INDEX_FILE), constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o600)
  try {
    if (!(await handle.stat()).isFile()) throw evidenceInvalid('EVIDENCE_INDEX_DAMAGED', `${path.join(root, INDEX_FILE)} is not a regular file; refusing to extend it`, `move ${root} aside or point SOURCEOSCTL_EVIDENCE_DIR at a new one`)
    await handle.writeFile(`${line}\n`)
    await handle.sync()
  } finally {
    await handle.close()
  }
  return line
}

/** Publishes the public key beside the records: keys/<keyid>.pub. */
async function publishKey(root: string, key: SigningKey): Promise<void> {
  await mkdirp(path.join(root, KEYS_DIR))
  await writeIfDifferent(path.join(root, KEYS_DIR, `${key.keyid}.pub`), key.publicPem)
}

/** The record's DSSE envelope, `<record file>.dsse`: its JCS bytes, signed. */
async function writeEnvelope(file: string, record: EvidenceRecord, key: SigningKey | undefined): Promise<void> {
  if (!key) return
  const envelope = signEnvelope(IN_TOTO_PAYLOAD_TYPE, Buffer.from(canonicalJson(record), 'utf8'), key)
  await writeFileAtomic(`${file}${ENVELOPE_SUFFIX}`, serializeEnvelope(envelope), {overwrite: true, mode: 0o600, unwritable: UNWRITABLE})
}

/** checkpoint.dsse: the index's line count and head, signed. */
async function writeCheckpoint(root: string, key: SigningKey | undefined, at: {lines: number; line: string; maxSeq: number}): Promise<void> {
  if (!key) return
  const checkpoint: Checkpoint = {v: 1, lines: at.lines, head: lineHash(at.line), maxSeq: at.maxSeq, signedAt: new Date().toISOString()}
  const envelope = signEnvelope(CHECKPOINT_PAYLOAD_TYPE, Buffer.from(canonicalJson(checkpoint), 'utf8'), key)
  await writeFileAtomic(path.join(root, CHECKPOINT_FILE), serializeEnvelope(envelope), {overwrite: true, mode: 0o600, unwritable: UNWRITABLE})
}

/**
 * Before extending a signed index: our own last checkpoint must still describe a prefix of it.
 * A checkpoint for more lines than the index has (a rollback) or whose head line differs (a
 * rewrite) refuses the write: extending would sign over the damage. A checkpoint by another key
 * (the state dir was replaced) is left to inspect.
 */
async function checkCheckpointForWrite(root: string, lines: ReadonlyArray<{text: string}>, key: SigningKey, damaged: (what: string) => Error): Promise<void> {
  let bytes: Buffer
  try {
    bytes = await readEnvelopeFile(path.join(root, CHECKPOINT_FILE))
  } catch (error) {
    if (error instanceof UnsafeFile && error.kind === 'missing') return
    throw damaged(`has a checkpoint that ${(error as Error).message}`)
  }
  const checked = verifyEnvelopeBytes(bytes, CHECKPOINT_PAYLOAD_TYPE, new Map([[key.keyid, key.publicKey]]))
  if (!checked.ok) return
  let raw: unknown
  try {
    raw = JSON.parse(checked.payload.toString('utf8'))
  } catch {
    return
  }
  const parsed = CheckpointSchema.safeParse(raw)
  if (!parsed.success) return
  const cp = parsed.data
  if (cp.lines > lines.length) throw damaged(`has ${lines.length} lines but its signed checkpoint covers ${cp.lines} (records were rolled back)`)
  const at = lines[cp.lines - 1]
  if (!at || lineHash(at.text) !== cp.head) throw damaged(`line ${cp.lines} does not match its signed checkpoint (the index was rewritten)`)
}

async function listRecordFiles(root: string): Promise<Array<{name: string; seq: number}>> {
  let names: string[]
  try {
    names = await readdir(path.join(root, RECORDS_DIR))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw error
  }
  return names.flatMap((name) => {
    const parsed = parseRecordFileName(name)
    return parsed ? [{name, seq: parsed.seq}] : []
  })
}

/** Indexes the record of a writer killed between writing it and appending its begin line (see recovery.ts). */
async function adoptInterruptedBegin(root: string, files: Array<{name: string; seq: number}>, index: IndexState, key: SigningKey | undefined): Promise<boolean> {
  const candidate = files.find((f) => f.seq === index.maxSeq + 1 && !index.files.has(f.name))
  if (!candidate) return false
  let bytes: Buffer
  try {
    bytes = await readRegularFile(path.join(root, RECORDS_DIR, candidate.name), MAX_RECORD_BYTES)
  } catch {
    return false
  }
  const found = interruptedBegin(candidate.name, bytes, index)
  if (!found) return false
  // Signed dirs: only a record we signed is ours (a planted one is left for inspect to name).
  if (key && !(await signedByUs(path.join(root, RECORDS_DIR, candidate.name), bytes, key))) return false
  await appendIndex(root, {v: INDEX_ENTRY_VERSION, event: 'begin', seq: found.seq, runId: found.runId, file: candidate.name, digest: found.digest}, index.lastLine)
  return true
}

/**
 * The first signed write to a dir an older (unsigned) CLI wrote: each record whose bytes still have
 * the digest the index last recorded for it gets its envelope now, and the checkpoint written after
 * this append anchors the whole index. Trust on first use: what was changed before this moment
 * cannot be told apart (nothing anchored it), what is changed after it can. A dir that already has
 * a checkpoint is never back-filled, so removing an envelope later stays a finding.
 */
async function signUnsignedDir(root: string, files: Array<{name: string; seq: number}>, index: IndexState, key: SigningKey): Promise<void> {
  if (index.lineCount === 0) return
  try {
    await readEnvelopeFile(path.join(root, CHECKPOINT_FILE))
    return
  } catch (error) {
    if (!(error instanceof UnsafeFile && error.kind === 'missing')) return
  }
  for (const f of files) {
    const file = path.join(root, RECORDS_DIR, f.name)
    const latest = index.latestDigest.get(f.seq)
    if (!latest || !index.files.has(f.name)) continue
    try {
      await readEnvelopeFile(`${file}${ENVELOPE_SUFFIX}`)
      continue // already signed
    } catch {
      // unsigned: sign it below when it is what the index says
    }
    let bytes: Buffer
    try {
      bytes = await readRegularFile(file, MAX_RECORD_BYTES)
    } catch {
      continue
    }
    const body = bytes.subarray(0, bytes.length > 0 && bytes[bytes.length - 1] === 0x0a ? -1 : undefined)
    if (sha256Prefixed(body.toString('utf8')) !== latest) continue
    const envelope = signEnvelope(IN_TOTO_PAYLOAD_TYPE, body, key)
    await writeFileAtomic(`${file}${ENVELOPE_SUFFIX}`, serializeEnvelope(envelope), {overwrite: false, mode: 0o600, unwritable: UNWRITABLE}).catch(() => undefined)
  }
}

/** True when `<file>.dsse` verifies with our key and carries exactly the record's JCS bytes. */
async function signedByUs(file: string, bytes: Buffer, key: SigningKey): Promise<boolean> {
  try {
    const checked = verifyEnvelopeBytes(await readEnvelopeFile(`${file}${ENVELOPE_SUFFIX}`), IN_TOTO_PAYLOAD_TYPE, new Map([[key.keyid, key.publicKey]]))
    return checked.ok && Buffer.concat([checked.payload, Buffer.from('\n')]).equals(bytes)
  } catch {
    return false
  }
}

/** Digest of a record that is on disk but not in the index (a writer killed between its two steps). */
async function fileDigestOfSeq(root: string, files: Array<{name: string; seq: number}>, seq: number): Promise<string | null> {
  const file = files.find((f) => f.seq === seq)
  if (!file) return null
  try {
    const text = (await readRegularFile(path.join(root, RECORDS_DIR, file.name), MAX_RECORD_BYTES)).toString('utf8')
    return sha256Prefixed(text.endsWith('\n') ? text.slice(0, -1) : text)
  } catch {
    return null
  }
}

/**
 * Refuses an evidence dir that a read-write mount exposes to the agent: the agent could rewrite
 * its own evidence. run/shell may call this while planning so a dry run shows the refusal too.
 */
export async function assertEvidenceDirOutsideMounts(dir: string, mounts: ReadonlyArray<RecordMount>): Promise<void> {
  const evidence = await realpathOfNearest(path.resolve(dir))
  const fold = process.platform === 'darwin' || process.platform === 'win32' ? (p: string) => p.toLowerCase() : (p: string) => p
  for (const mount of mounts) {
    if (mount.mode !== 'rw') continue
    const source = await realpathOfNearest(path.resolve(mount.source))
    const rel = path.relative(fold(source), fold(evidence))
    if (rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel))) {
      throw policyRefusal(
        'EVIDENCE_DIR_IN_MOUNT',
        `the evidence dir ${dir} is inside the read-write mount ${mount.source} → ${mount.target}: the agent could rewrite its own evidence`,
        'point SOURCEOSCTL_EVIDENCE_DIR (or --evidence-dir) at a folder outside every mounted repo',
        {evidenceDir: dir, mount: mount.source},
      )
    }
  }
}

/**
 * Refuses a signing-key dir that any mount, read-only included, reaches: the agent must never
 * read the key, let alone replace it.
 */
export async function assertKeyDirOutsideMounts(keyDir: string, mounts: ReadonlyArray<RecordMount>): Promise<void> {
  const key = await realpathOfNearest(path.resolve(keyDir))
  const fold = process.platform === 'darwin' || process.platform === 'win32' ? (p: string) => p.toLowerCase() : (p: string) => p
  for (const mount of mounts) {
    const source = await realpathOfNearest(path.resolve(mount.source))
    const inside = (a: string, b: string) => {
      const rel = path.relative(fold(a), fold(b))
      return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel))
    }
    if (inside(source, key) || inside(key, source)) {
      throw policyRefusal(
        'EVIDENCE_KEY_IN_MOUNT',
        `the evidence signing key ${keyDir} is reachable through the mount ${mount.source} → ${mount.target} (${mount.mode}): the agent could read or replace it`,
        'keep the state dir (SOURCEOSCTL_STATE_DIR) outside every mounted folder',
        {keyDir, mount: mount.source},
      )
    }
  }
}

/** realpath of the longest existing prefix, with the rest appended (the dir may not exist yet). */
async function realpathOfNearest(p: string): Promise<string> {
  try {
    return await realpath(p)
  } catch {
    const parent = path.dirname(p)
    if (parent === p) return p
    return path.join(await realpathOfNearest(parent), path.basename(p))
  }
}
