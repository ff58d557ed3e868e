/**
 * `ps --all`: the sessions that ended, from an evidence dir's index (the newest first). Read-only;
 * the index and records are read as untrusted files (bounded, regular files only, fields checked
 * one by one), and what is shown is plain printable text.
 */
import path from 'node:path'

import {z} from 'zod'

import {INDEX_FILE, RECORDS_DIR, splitIndex} from '../evidence/index-log.js'
import {readRegularFile} from '../evidence/safe-read.js'

export const EndedSessionSchema = z
  .object({
    runId: z.string(),
    verb: z.string().nullable().describe('run or shell.'),
    tool: z.string().nullable().describe('The tool (codex, claude-code); null for shell.'),
    status: z.string().describe('The record\'s status: completed, incomplete (the session ended without its exit code, or its launch failed), or started (not finished yet: its CLI is gone and its container was not found ended).'),
    exitCode: z.number().int().nullable(),
    network: z.string().nullable().describe('The network mode, when the record has a network section.'),
    workdir: z.string().nullable().describe('The first read-write mount\'s target: the repo it worked in.'),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
    image: z.string().nullable().describe('The image\'s short ID.'),
    evidence: z.string().describe('The record file.'),
  })
  .strict()

export type EndedSession = z.infer<typeof EndedSessionSchema>

const MAX_INDEX_BYTES = 256 * 1024 * 1024
const MAX_RECORD_BYTES = 16 * 1024 * 1024
const printable = (v: unknown, max = 200): string | null => (typeof v === 'string' ? v.replace(/[^\x20-\x7e]/g, '?').slice(0, max) : null)

/** The last `limit` runs of the index that are not live (`skip`), newest first. */
export async function endedSessions(evidenceDir: string, skip: ReadonlySet<string>, limit: number): Promise<EndedSession[]> {
  let text: string
  try {
    text = (await readRegularFile(path.join(evidenceDir, INDEX_FILE), MAX_INDEX_BYTES)).toString('utf8')
  } catch {
    return []
  }
  const files = new Map<string, string>()
  for (const line of splitIndex(text).lines) {
    try {
      const e = JSON.parse(line.text) as {runId?: unknown; file?: unknown}
      if (typeof e.runId === 'string' && typeof e.file === 'string' && /^\d{6,}-[A-Za-z0-9][A-Za-z0-9._-]{0,127}\.json$/.test(e.file)) {
        files.delete(e.runId) // re-inserted: newest last
        files.set(e.runId, e.file)
      }
    } catch {
      // a damaged line: `evidence inspect` reports it
    }
  }
  const out: EndedSession[] = []
  for (const [runId, file] of [...files.entries()].reverse()) {
    if (out.length >= limit) break
    if (skip.has(runId)) continue
    const full = path.join(evidenceDir, RECORDS_DIR, file)
    let p: Record<string, unknown> = {}
    try {
      const rec = JSON.parse((await readRegularFile(full, MAX_RECORD_BYTES)).toString('utf8')) as {predicate?: Record<string, unknown>}
      p = rec.predicate && typeof rec.predicate === 'object' ? rec.predicate : {}
    } catch {
      // shown with what the index says
    }
    const mounts = Array.isArray(p.mounts) ? (p.mounts as Array<{target?: unknown; mode?: unknown}>) : []
    const rw = mounts.find((m) => m && m.mode === 'rw')
    const image = p.image && typeof p.image === 'object' ? (p.image as {id?: unknown}).id : null
    const network = p.network && typeof p.network === 'object' ? (p.network as {mode?: unknown}).mode : null
    out.push({
      runId: printable(runId)!,
      verb: printable(p.verb),
      tool: printable(p.tool),
      status: printable(p.status) ?? 'unreadable',
      exitCode: typeof p.exitCode === 'number' && Number.isInteger(p.exitCode) ? p.exitCode : null,
      network: printable(network),
      workdir: rw ? printable(rw.target) : null,
      startedAt: printable(p.startedAt),
      finishedAt: printable(p.finishedAt),
      image: typeof image === 'string' ? image.replace(/^sha256:/, '').slice(0, 12).replace(/[^a-f0-9]/g, '?') : null,
      evidence: full,
    })
  }
  return out
}
