/**
 * A detached session's output, kept after it ended: `<state dir>/sessions/<run id>.output.log`
 * (mode 0600), what `podman logs` printed just before the ended container was removed — bounded
 * by the container's log (--log-opt=max-size, detach-steps.ts) and cut here at OUTPUT_MAX bytes
 * (the end kept). The newest KEEP_OUTPUTS are kept; older ones are removed. It is what the agent
 * printed, so hostile text: `logs` writes it out as podman logs does, nothing reads it as data.
 */
import {readdir, rm, stat} from 'node:fs/promises'

import {writeFileAtomic} from '../fs-atomic.js'
import {sessionsDir} from './state.js'
import path from 'node:path'

export const OUTPUT_MAX = 8 * 1024 * 1024
export const KEEP_OUTPUTS = 50
const RUN_ID = /^[a-z0-9][a-z0-9-]{7,62}$/

export const outputFile = (state: string, runId: string): string => path.join(sessionsDir(state), `${runId}.output.log`)

export async function keepSessionOutput(state: string, runId: string, text: string): Promise<void> {
  if (!RUN_ID.test(runId)) return
  const bytes = Buffer.from(text, 'utf8')
  await writeFileAtomic(outputFile(state, runId), bytes.length > OUTPUT_MAX ? bytes.subarray(bytes.length - OUTPUT_MAX) : bytes, {overwrite: true, mode: 0o600})
  await pruneOutputs(state)
}

async function pruneOutputs(state: string): Promise<void> {
  const dir = sessionsDir(state)
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.output.log'))
  if (names.length <= KEEP_OUTPUTS) return
  const dated = await Promise.all(names.map(async (n) => ({n, t: (await stat(path.join(dir, n)).catch(() => null))?.mtimeMs ?? 0})))
  dated.sort((a, b) => b.t - a.t)
  for (const {n} of dated.slice(KEEP_OUTPUTS)) await rm(path.join(dir, n), {force: true})
}
