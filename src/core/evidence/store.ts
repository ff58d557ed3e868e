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
import {randomUUID} from 'node:crypto'
import {open, readdir, realpath, unlink} from 'node:fs/promises'
import path from 'node:path'

import lockfile from 'proper-lockfile'

import {evidenceInvalid, policyRefusal, prerequisiteMissing, unexpectedFailure} from '../errors.js'
import {mkdirp, writeFileAtomic} from '../fs-atomic.js'
import type {HostFacts} from '../host/facts.js'
import {policyHash, type EffectivePolicy} from '../policy/hash.js'
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
import {interruptedBegin, type IndexView} from './recovery.js'
import {homeRelativeDeep} from './redact.js'
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
  type RecordHost,
  type RecordMount,
  type ToolVersions,
  type VerificationInfo,
  type PodmanConnectionInfo,
  type WorktreeInfo,
} from './record.js'

/** What `run`/`shell` know when the session begins. policyHash, subject, status and chain are computed here. */
export interface RecordDraft {
  /** Unique id (see newRunId()); also the container label. Letters, digits, `.`, `_`, `-`. */
  runId: string
  verb: 'run' | 'shell'
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
  /** How host paths are written: 'home-relative' (with `homeDir`) writes the home dir as `~` everywhere. Default absolute. */
  paths?: {style: 'absolute'} | {style: 'home-relative'; homeDir: string}
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
    let index = await readIndexForWrite(root)
    const files = await listRecordFiles(root)
    if (await adoptInterruptedBegin(root, files, index)) index = await readIndexForWrite(root)
    const maxFileSeq = files.reduce((m, f) => Math.max(m, f.seq), 0)
    const seq = Math.max(index.maxSeq, maxFileSeq) + 1
    const prev = seq === 1 ? null : (index.latestDigest.get(seq - 1) ?? (await fileDigestOfSeq(root, files, seq - 1)))

    const rel = relativizer(draft.paths)
    const policy = rel(structuredClone(draft.policy))
    const record = validated({
      _type: STATEMENT_TYPE,
      subject: subjectFor(draft.runId, draft.git),
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
        mounts: draft.mounts.map((m) => ({source: rel(m.source), target: m.target, mode: m.mode})),
        image: {...draft.image},
        git: draft.git.map((g) => ({...g})),
        policyHash: policyHash(policy),
        policy,
        toolVersions: {...draft.toolVersions, podman: {...draft.toolVersions.podman}},
        host: {...draft.host},
        podmanArgv: rel([...draft.podmanArgv]),
        chain: {seq, prev, startedDigest: null},
        ...(draft.toolSandbox !== undefined ? {toolSandbox: draft.toolSandbox} : {}),
        ...(draft.worktree ? {worktree: rel({...draft.worktree})} : {}),
        ...(draft.verification ? {verification: structuredClone(draft.verification)} : {}),
        ...(draft.podmanConnection ? {podmanConnection: {...draft.podmanConnection}} : {}),
        ...(draft.paths ? {paths: draft.paths.style} : {}),
      },
    })
    const name = recordFileName(seq, draft.runId)
    const file = path.join(root, RECORDS_DIR, name)
    const digest = recordDigest(record)
    await writeFileAtomic(file, serializeRecord(record), {overwrite: false, mode: 0o600, unwritable: UNWRITABLE})
    try {
      await appendIndex(root, {v: INDEX_ENTRY_VERSION, event: 'begin', seq, runId: draft.runId, file: name, digest}, index.lastLine)
    } catch (error) {
      // No index line means no record: take the file back so the dir stays consistent.
      await unlink(file).catch(() => undefined)
      throw error
    }
    return makeHandle(root, file, record, digest, opts, rel)
  })
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
      const git = update.git ?? started.predicate.git
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
        },
      })
      const digest = recordDigest(finished)
      await withLock(root, opts, async () => {
        const index = await readIndexForWrite(root)
        await writeFileAtomic(file, serializeRecord(finished), {overwrite: true, mode: 0o600, unwritable: UNWRITABLE})
        try {
          await appendIndex(root, {v: INDEX_ENTRY_VERSION, event: 'complete', seq: chain.seq, runId, file: path.basename(file), digest}, index.lastLine)
        } catch (error) {
          // Put the started form back so record and index agree; the record then reads as incomplete.
          await writeFileAtomic(file, serializeRecord(started), {overwrite: true, mode: 0o600, unwritable: UNWRITABLE}).catch(() => undefined)
          throw error
        }
      })
      done = true
      current = finished
      currentDigest = digest
      return {record: finished, digest, file}
    },
  }
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
  /** Digest after the latest event of each seq. */
  latestDigest: Map<number, string>
}

/** Reads index.jsonl for appending; refuses to extend a damaged index. */
async function readIndexForWrite(root: string): Promise<IndexState> {
  const indexPath = path.join(root, INDEX_FILE)
  const damaged = (what: string) =>
    evidenceInvalid('EVIDENCE_INDEX_DAMAGED', `${indexPath} ${what}; refusing to extend a damaged evidence chain`, `run \`sourceosctl agent-machine evidence inspect ${root}\`, then move the dir aside or point SOURCEOSCTL_EVIDENCE_DIR at a new one`)
  let text: string
  try {
    text = (await readRegularFile(indexPath, MAX_INDEX_BYTES)).toString('utf8')
  } catch (error) {
    if (error instanceof UnsafeFile && error.kind === 'missing') return {lastLine: null, maxSeq: 0, latestDigest: new Map(), files: new Set(), digestsOf: () => []}
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
  return {lastLine: lines.at(-1)?.text ?? null, maxSeq, latestDigest, files, digestsOf: (seq) => digests.get(seq) ?? []}
}

async function appendIndex(root: string, entry: Omit<IndexEntry, 'prevLine'>, lastLine: string | null): Promise<void> {
  const line = indexLine({...entry, prevLine: lastLine === null ? null : lineHash(lastLine)})
  const handle = await open(path.join(root, INDEX_FILE), 'a', 0o600)
  try {
    await handle.writeFile(`${line}\n`)
    await handle.sync()
  } finally {
    await handle.close()
  }
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
async function adoptInterruptedBegin(root: string, files: Array<{name: string; seq: number}>, index: IndexState): Promise<boolean> {
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
  await appendIndex(root, {v: INDEX_ENTRY_VERSION, event: 'begin', seq: found.seq, runId: found.runId, file: candidate.name, digest: found.digest}, index.lastLine)
  return true
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
