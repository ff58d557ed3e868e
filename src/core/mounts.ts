/**
 * From a profile's declared mounts to resolved, judged mounts: expand, realpath, check readability
 * and run the mount policy. Used read-only by doctor/fingerprint and strictly by launches.
 */
import {AgentMachineError} from './errors.js'
import type {HostFacts} from './host/facts.js'
import {checkDirectory, type DirCheck} from './host/readable.js'
import {judgeMountSource, type MountDecision} from './policy/mount-policy.js'
import {realFsDeps, resolveMountSource} from './policy/paths.js'
import type {ProfileMount} from './profile/schema.js'

export interface InspectedPath {
  raw: string
  /** realpath-resolved source, or null when it could not be resolved. */
  resolved: string | null
  readable: DirCheck | null
  decision: MountDecision | null
  /** Resolution error (missing, not a directory, unexpandable), one line. */
  error: {code: string; message: string; fix: string | null; exitCode: number} | null
}

export interface InspectedMount extends InspectedPath {
  target: string
  mode: 'rw' | 'ro'
}

/** Resolves and judges one host path without throwing: every problem is reported as data. */
export async function inspectHostPath(raw: string, host: HostFacts, cwd: string): Promise<InspectedPath> {
  try {
    const {resolved} = await resolveMountSource(raw, host, realFsDeps(cwd))
    const [readable, decision] = [await checkDirectory(resolved), judgeMountSource(resolved, host)]
    return {raw, resolved, readable, decision, error: null}
  } catch (error) {
    if (error instanceof AgentMachineError) {
      return {raw, resolved: null, readable: null, decision: null, error: {code: error.code, message: error.message, fix: error.fix ?? null, exitCode: error.exitCode}}
    }
    throw error
  }
}

export async function inspectMounts(mounts: readonly ProfileMount[], host: HostFacts, cwd: string): Promise<InspectedMount[]> {
  return Promise.all(
    mounts.map(async (m) => ({...(await inspectHostPath(m.source, host, cwd)), target: m.target, mode: m.mode})),
  )
}

/** A one-line verdict for a path: ok, or what is wrong with it. */
export function pathProblem(p: InspectedPath): {message: string; fix: string | null} | null {
  if (p.error) return {message: p.error.message, fix: p.error.fix}
  if (p.decision && !p.decision.allowed) return {message: `refused by policy: ${p.decision.reason}`, fix: 'mount only the project folder itself, e.g. ~/dev/<repo>'}
  if (p.readable && p.readable.status !== 'ok') {
    return {message: `${p.resolved ?? p.raw} is ${p.readable.status}${p.readable.detail ? ` (${p.readable.detail})` : ''}`, fix: 'check the path and its permissions'}
  }
  return null
}
