/**
 * `repo rm`: take one repo off the profile's allowlist (spec.mounts), editing the YAML document in
 * place — comments, order and formatting of everything else stay — and writing it atomically
 * (a temp file renamed over the profile, mode 0600). The result must still be a valid profile.
 */
import {promises as fsp} from 'node:fs'
import {isAbsolute, resolve as resolvePath, win32} from 'node:path'

import {isMap, isSeq, parseDocument} from 'yaml'

import {AgentMachineError, usageError} from '../errors.js'
import {writeFileAtomic} from '../fs-atomic.js'
import type {HostFacts} from '../host/facts.js'
import {step, WRITE_FILE, type Plan} from '../plan/plan.js'
import {parseProfile} from '../profile/loader.js'
import {activeProfilePath} from '../profile/location.js'
import type {ProfileMount} from '../profile/schema.js'

export interface RemoveRepoPlan {
  destination: string
  removed: ProfileMount[]
  remaining: ProfileMount[]
  yaml: string
  plan: Plan
}

/** The path as the user means it: `~` expanded, relative to cwd, resolved through symlinks when it still exists. */
async function candidates(raw: string, host: HostFacts, cwd: string): Promise<string[]> {
  const expanded = raw === '~' ? host.homeDir : raw.startsWith('~/') || raw.startsWith('~\\') ? `${host.homeDir}${raw.slice(1)}` : raw
  const api = host.platform === 'windows' ? win32 : {isAbsolute, resolve: resolvePath}
  const absolute = api.isAbsolute(expanded) ? api.resolve(expanded) : api.resolve(cwd, expanded)
  const real = await fsp.realpath(absolute).catch(() => null)
  return [...new Set([absolute, ...(real ? [real] : [])])]
}

function same(a: string, b: string, host: HostFacts): boolean {
  const norm = (p: string) => {
    const t = p.length > 1 ? p.replace(/[\\/]+$/, '') : p
    return host.caseInsensitivePaths ? t.toLowerCase() : t
  }
  return norm(a) === norm(b)
}

export async function planRemoveRepo(req: {host: HostFacts; cwd: string; repo: string; profilePath?: string}): Promise<RemoveRepoPlan> {
  const api = req.host.platform === 'windows' ? win32 : {resolve: resolvePath}
  const destination = api.resolve(req.cwd, req.profilePath ?? activeProfilePath(req.host))
  let text: string
  try {
    text = await fsp.readFile(destination, 'utf8')
  } catch {
    throw usageError('PROFILE_MISSING', `no profile at ${destination}, so no repo is allowlisted.`, 'create one: `sourceosctl agent-machine init --profile <template> --repo <path>`')
  }
  const current = parseProfile(text, destination)
  const doc = parseDocument(text)
  const mounts = doc.getIn(['spec', 'mounts'], true)
  if (!isSeq(mounts)) throw usageError('PROFILE_NO_MOUNTS', `${destination} has no spec.mounts list.`, 'fix the profile, or recreate it with `sourceosctl agent-machine init --force`')

  const wanted = await candidates(req.repo, req.host, req.cwd)
  const keep: number[] = []
  const removed: ProfileMount[] = []
  current.spec.mounts.forEach((m, i) => {
    if (wanted.some((w) => same(w, m.source, req.host))) removed.push(m)
    else keep.push(i)
  })
  if (removed.length === 0) {
    const list = current.spec.mounts.map((m) => m.source).join(', ') || 'none'
    throw usageError('REPO_NOT_IN_PROFILE', `${req.repo} is not an allowlisted mount of ${destination} (allowlisted: ${list}).`, 'name one of the allowlisted folders: `sourceosctl agent-machine repo ls`')
  }
  // Remove from the end, so the indexes of the others stay right.
  for (let i = current.spec.mounts.length - 1; i >= 0; i--) if (!keep.includes(i)) mounts.items.splice(i, 1)
  if (mounts.items.length === 0 && isMap(doc.getIn(['spec'], true))) mounts.flow = true // `mounts: []`, not an empty block
  const yaml = doc.toString()
  let next
  try {
    next = parseProfile(yaml, destination)
  } catch (error) {
    throw new AgentMachineError(`removing ${req.repo} would leave an invalid profile: ${error instanceof Error ? error.message : String(error)}`, {code: 'PROFILE_EDIT_INVALID', exitCode: 1})
  }
  return {
    destination,
    removed,
    remaining: next.spec.mounts,
    yaml,
    plan: {verb: 'repo rm', steps: [step([WRITE_FILE, destination], `remove ${removed.map((m) => `${m.source} → ${m.target}`).join(', ')} from spec.mounts (atomic write; comments and the other mounts kept)`, true)]},
  }
}

export async function applyRemoveRepo(plan: RemoveRepoPlan): Promise<void> {
  await writeFileAtomic(plan.destination, plan.yaml, {mode: 0o600, overwrite: true})
}

/**
 * `repo add` on an existing profile: the mounts init planned (judged, named), appended to the YAML
 * document itself, so the file's comments and layout stay (init re-renders the whole profile).
 */
export function addMountsKeepingComments(text: string, mounts: readonly ProfileMount[], source: string): string {
  const doc = parseDocument(text)
  const seq = doc.getIn(['spec', 'mounts'], true)
  if (!isSeq(seq)) throw usageError('PROFILE_NO_MOUNTS', `${source} has no spec.mounts list.`, 'fix the profile, or recreate it with `sourceosctl agent-machine init --force`')
  for (const m of mounts) {
    const node = doc.createNode({source: m.source, target: m.target, mode: m.mode})
    if (seq.flow || seq.items.some((i) => isMap(i) && i.flow)) node.flow = true // match a `- {source: …}` list
    seq.items.push(node)
  }
  seq.flow = seq.flow && seq.items.length === 0
  const yaml = doc.toString()
  parseProfile(yaml, source) // still a valid profile, or this throws with line:column
  return yaml
}
