/**
 * The agent's result bundle of a played Pod, brought back into the evidence dir (docs/cluster.md,
 * "Evidence of a cluster run"). The agent wrote it: every byte and every property of the file is
 * hostile input. So the copy
 *   - opens it without following a link (O_NOFOLLOW) and without blocking on a FIFO (O_NONBLOCK),
 *     and takes only a regular file (fstat of the descriptor it reads, not of the path);
 *   - refuses it over a byte cap before reading, and stops at the cap while reading (a file that
 *     grows is refused too), streaming in chunks: never the whole file in memory;
 *   - writes it to a fresh temp file beside its final name (O_EXCL, 0600), fsyncs it, checks that
 *     copy with host git only (git/host-git.ts: `git bundle list-heads`, which parses the bundle's
 *     header and lists its refs; nothing in it is run), and links it to its final name, which
 *     never replaces a file. Whatever fails, no temp or partial file is left.
 */
import {createHash, randomBytes} from 'node:crypto'
import {constants} from 'node:fs'
import {link, lstat, open, unlink, type FileHandle} from 'node:fs/promises'
import path from 'node:path'

import {describeOutcome, succeeded, type Runner} from '../exec.js'
import {hostGit} from '../git/host-git.js'
import {mkdirp} from '../fs-atomic.js'

export const BUNDLES_DIR = 'bundles'
/** The default cap on a bundle brought back (--bundle-max-mb). */
export const DEFAULT_BUNDLE_MAX_MB = 256
const CHUNK = 64 * 1024
/** More refs than a run's bundle carries (one branch): a header listing more is refused. */
const MAX_HEADS = 1000
const HEAD_LINE = /^([0-9a-f]{40}(?:[0-9a-f]{24})?) (refs\/[\x21-\x7e]{1,1000}|HEAD)$/

export interface KeptBundle {
  /** Relative to the evidence dir: bundles/<runId>.bundle. */
  file: string
  digest: string
  bytes: number
  heads: string[]
}

export type BundleRefusal = {code: 'KUBE_BUNDLE_TOO_BIG' | 'KUBE_BUNDLE_NOT_A_FILE' | 'KUBE_BUNDLE_NOT_A_BUNDLE' | 'KUBE_BUNDLE_UNWRITABLE'; reason: string}

export class BundleRefused extends Error {
  constructor(readonly refusal: BundleRefusal) {
    super(refusal.reason)
    this.name = 'BundleRefused'
  }
}

export const bundleFileName = (runId: string): string => path.join(BUNDLES_DIR, `${runId}.bundle`)

const mib = (bytes: number): string => (bytes < 1024 * 1024 ? `${bytes} bytes` : `${(bytes / (1024 * 1024)).toFixed(bytes % (1024 * 1024) === 0 ? 0 : 1)} MiB`)

/**
 * Writes `chunks` to a fresh temp file in `dir` (O_EXCL, 0600), at most `maxBytes`, fsynced; returns
 * its path, digest and size. On any failure — the source throws, the cap is passed, a write fails —
 * the temp file is removed and the error rethrown: no partial file is left.
 */
export async function writeCapped(chunks: AsyncIterable<Uint8Array>, dir: string, maxBytes: number): Promise<{tmp: string; digest: string; bytes: number}> {
  const tmp = path.join(dir, `.tmp-${randomBytes(8).toString('hex')}`)
  const out = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600)
  const hash = createHash('sha256')
  let bytes = 0
  try {
    try {
      for await (const chunk of chunks) {
        bytes += chunk.length
        if (bytes > maxBytes) throw new BundleRefused({code: 'KUBE_BUNDLE_TOO_BIG', reason: `the bundle passed the cap of ${mib(maxBytes)} while it was copied (it grew)`})
        hash.update(chunk)
        await out.write(chunk)
      }
      await out.sync()
    } finally {
      await out.close()
    }
  } catch (error) {
    await unlink(tmp).catch(() => undefined)
    throw error
  }
  return {tmp, digest: `sha256:${hash.digest('hex')}`, bytes}
}

async function* chunksOf(handle: FileHandle): AsyncGenerator<Uint8Array> {
  const buffer = Buffer.alloc(CHUNK)
  for (;;) {
    const {bytesRead} = await handle.read(buffer, 0, CHUNK, null)
    if (bytesRead === 0) return
    yield Buffer.from(buffer.subarray(0, bytesRead))
  }
}

/** Why a bundle that is not a regular file is refused, naming what it is. */
function notRegular(st: {isFIFO(): boolean; isDirectory(): boolean; isSocket(): boolean}): string {
  return `the bundle is not a regular file (${st.isFIFO() ? 'a FIFO' : st.isDirectory() ? 'a directory' : st.isSocket() ? 'a socket' : 'a device or other special file'})`
}

export type Precheck = {kind: 'absent'} | {kind: 'unknown'} | {kind: 'ok'; bytes: number} | {kind: 'refused'; refusal: BundleRefusal}

/**
 * Before anything is copied: the bundle as it lies in the results volume on this host, at the
 * volume's host path that podman inspect reported — by lstat only (never opened there, never
 * followed), so one over the cap, a link or a special file is refused before `podman cp` writes a
 * byte. Nothing writes the volume any more by then (the agent has ended; the proxy mounts it
 * read-only). `unknown` when the volume is not visible here (a remote podman, no permission): the
 * copy then goes ahead and keepBundle's checks are the only ones.
 */
export async function precheckBundle(volumeDir: string | null, name: string, maxBytes: number): Promise<Precheck> {
  if (!volumeDir || !path.isAbsolute(volumeDir) || name.includes('/')) return {kind: 'unknown'}
  try {
    if (!(await lstat(volumeDir)).isDirectory()) return {kind: 'unknown'}
  } catch {
    return {kind: 'unknown'}
  }
  let st: Awaited<ReturnType<typeof lstat>>
  try {
    st = await lstat(path.join(volumeDir, name))
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? {kind: 'absent'} : {kind: 'unknown'}
  }
  if (st.isSymbolicLink()) return {kind: 'refused', refusal: {code: 'KUBE_BUNDLE_NOT_A_FILE', reason: 'the bundle is a symbolic link (never followed)'}}
  if (!st.isFile()) return {kind: 'refused', refusal: {code: 'KUBE_BUNDLE_NOT_A_FILE', reason: notRegular(st)}}
  if (st.size > maxBytes) return {kind: 'refused', refusal: {code: 'KUBE_BUNDLE_TOO_BIG', reason: `the bundle is ${mib(st.size)}, over the cap of ${mib(maxBytes)}`}}
  return {kind: 'ok', bytes: st.size}
}

/** `git bundle list-heads` output → the refs, strictly; null when it is not that. */
export function parseHeads(text: string): string[] | null {
  const lines = text.split('\n').filter((l) => l !== '')
  if (lines.length === 0 || lines.length > MAX_HEADS) return null
  const heads: string[] = []
  for (const line of lines) {
    const m = HEAD_LINE.exec(line)
    if (!m) return null
    heads.push(m[2]!)
  }
  return heads
}

/**
 * Copies the bundle at `source` (a path only the CLI writes: the landing folder of `podman cp`)
 * into `<evidenceDir>/bundles/<runId>.bundle`. Throws BundleRefused with what is wrong; other
 * errors (the evidence dir unwritable) as BundleRefused KUBE_BUNDLE_UNWRITABLE.
 * `gitDir`: a folder in no repository, for host git's -C (the bundle needs no repository).
 */
export async function keepBundle(opts: {runner: Runner; source: string; evidenceDir: string; runId: string; maxBytes: number; gitDir: string}): Promise<KeptBundle> {
  let handle: FileHandle
  try {
    handle = await open(opts.source, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ELOOP' || code === 'EMLINK') throw new BundleRefused({code: 'KUBE_BUNDLE_NOT_A_FILE', reason: 'the bundle is a symbolic link (never followed)'})
    throw new BundleRefused({code: 'KUBE_BUNDLE_NOT_A_FILE', reason: `the bundle cannot be opened: ${(error as Error).message}`})
  }
  const file = bundleFileName(opts.runId)
  const final = path.join(opts.evidenceDir, file)
  let tmp: string | null = null
  try {
    const st = await handle.stat()
    if (!st.isFile()) throw new BundleRefused({code: 'KUBE_BUNDLE_NOT_A_FILE', reason: notRegular(st)})
    if (st.size > opts.maxBytes) throw new BundleRefused({code: 'KUBE_BUNDLE_TOO_BIG', reason: `the bundle is ${mib(st.size)}, over the cap of ${mib(opts.maxBytes)}`})
    try {
      await mkdirp(path.dirname(final))
    } catch (error) {
      throw new BundleRefused({code: 'KUBE_BUNDLE_UNWRITABLE', reason: `cannot create ${path.dirname(final)}: ${(error as Error).message}`})
    }
    const written = await writeCapped(chunksOf(handle), path.dirname(final), opts.maxBytes).catch((error: unknown) => {
      if (error instanceof BundleRefused) throw error
      throw new BundleRefused({code: 'KUBE_BUNDLE_UNWRITABLE', reason: `cannot write the bundle into ${path.dirname(final)}: ${(error as Error).message}`})
    })
    tmp = written.tmp
    // the bytes kept are the bytes checked: host git reads the temp copy, not the agent's file
    const listed = await hostGit(opts.runner, opts.gitDir, ['bundle', 'list-heads', tmp], {timeoutMs: 60_000})
    const heads = succeeded(listed) ? parseHeads(listed.stdout) : null
    if (!heads) {
      const why = succeeded(listed) ? 'its header lists no refs git can name' : `${describeOutcome(listed)}${listed.stderr ? `: ${listed.stderr.trim().split('\n')[0]}` : ''}`
      throw new BundleRefused({code: 'KUBE_BUNDLE_NOT_A_BUNDLE', reason: `the file is not a git bundle (git bundle list-heads: ${why})`})
    }
    try {
      // link, not rename: an existing bundle of that name is never replaced
      await link(tmp, final)
    } catch (error) {
      throw new BundleRefused({code: 'KUBE_BUNDLE_UNWRITABLE', reason: `cannot put the bundle at ${final}: ${(error as Error).message}`})
    }
    return {file, digest: written.digest, bytes: written.bytes, heads}
  } finally {
    await handle.close()
    if (tmp) await unlink(tmp).catch(() => undefined)
  }
}
