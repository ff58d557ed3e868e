/**
 * init: render a template (or extend the existing profile) with allowlisted repo mounts, as a Plan
 * whose one mutating step is an atomic write. Every repo is resolved and judged before anything
 * is written; refusals carry their exit code and fix.
 */
import {dirname, isAbsolute, relative, resolve as resolvePath, win32} from 'node:path'

import {AgentMachineError, prerequisiteMissing, usageError} from '../errors.js'
import {pathExists, writeFileAtomic} from '../fs-atomic.js'
import type {HostFacts} from '../host/facts.js'
import {checkDirectory} from '../host/readable.js'
import {step, WRITE_FILE, type Plan} from '../plan/plan.js'
import {checkProfileEnv} from '../policy/env-policy.js'
import {assertMountAllowed} from '../policy/mount-policy.js'
import {realFsDeps, resolveMountSource} from '../policy/paths.js'
import {scanTree} from '../policy/tree-scan.js'
import {loadProfileFile, parseProfile} from '../profile/loader.js'
import {activeProfilePath} from '../profile/location.js'
import {addAllowEntries, addMount, instantiateTemplate, renderProfile, repoMountName} from '../profile/render.js'
import {parseAllowEntry} from '../network/allowlist.js'
import type {AgentMachineProfile, ProfileMount} from '../profile/schema.js'
import {listTemplates, loadTemplate} from '../profile/templates.js'

export interface InitRequest {
  host: HostFacts
  cwd: string
  template?: string
  repos: string[]
  output?: string
  force: boolean
  /** --allow-host: egress allowlist entries (spec.network.allow) to add. */
  allowHosts?: string[]
}

export type InitAction = 'create' | 'overwrite' | 'add-mount' | 'add-allow' | 'unchanged'

export interface InitPlan {
  action: InitAction
  destination: string
  profile: AgentMachineProfile
  yaml: string
  addedMounts: ProfileMount[]
  /** --allow-host entries that were not in spec.network.allow yet, as written. */
  addedAllow: string[]
  plan: Plan
  /** E.g. a folder that holds several repositories. */
  warnings: string[]
}

export async function planInit(req: InitRequest): Promise<InitPlan> {
  const allowHosts = req.allowHosts ?? []
  if (req.repos.length === 0 && allowHosts.length === 0) throw usageError('REPO_REQUIRED', 'init needs at least one --repo <path> to allowlist (or --allow-host <host> to add to an existing profile).', 'pass --repo ~/dev/<repo>')
  for (const raw of allowHosts) {
    const parsed = parseAllowEntry(raw)
    if (!parsed.ok) throw usageError('ALLOW_HOST_INVALID', `--allow-host '${raw.replace(/[^\x20-\x7e]/g, '?')}' is refused: ${parsed.reason}.`, 'pass host[:port] (443 unless given), *.example.com for the names below it, or ip:ADDR[:port]')
  }
  const destination = destinationFor(req)
  const repos = []
  for (const raw of req.repos) repos.push(await admitRepo(raw, req.host, req.cwd))

  // An unknown template is the first thing to say, whatever is at the destination.
  const template = req.template === undefined ? undefined : (await loadTemplate(req.template)).profile
  const existing = (await pathExists(destination)) ? (await loadProfileFile(destination)).profile : undefined
  let action: InitAction
  let profile: AgentMachineProfile
  const added: ProfileMount[] = []

  if (existing && !req.force && (req.template === undefined || req.template === existing.metadata.name)) {
    profile = existing
    for (const repo of repos) {
      const result = addMount(profile, {source: repo.resolved, target: `/workspace/${repo.name}`, mode: defaultMode(profile)})
      profile = result.profile
      if (result.added) added.push(profile.spec.mounts[profile.spec.mounts.length - 1] as ProfileMount)
    }
    action = added.length > 0 ? 'add-mount' : 'unchanged'
  } else if (existing && !req.force) {
    throw usageError(
      'DESTINATION_EXISTS',
      `${destination} already holds profile '${existing.metadata.name}', not '${req.template}'.`,
      `pass --force to replace it, or --output <path> to write elsewhere, or omit --profile to add the repo to '${existing.metadata.name}'`,
    )
  } else {
    if (req.template === undefined) {
      throw usageError('TEMPLATE_REQUIRED', `no profile at ${destination} yet, so init needs a template.`, `pass --profile <template>, one of: ${(await listTemplates()).join(', ')}`)
    }
    if (repos.length === 0) throw usageError('REPO_REQUIRED', `no profile at ${destination} yet: a new profile needs at least one --repo <path> to allowlist.`, 'pass --repo ~/dev/<repo> as well')
    const [first, ...rest] = repos
    profile = instantiateTemplate(template!, {source: first!.resolved, name: first!.name})
    added.push(...profile.spec.mounts.filter((m) => m.source === first!.resolved))
    for (const repo of rest) {
      const result = addMount(profile, {source: repo.resolved, target: `/workspace/${repo.name}`, mode: defaultMode(profile)})
      profile = result.profile
      if (result.added) added.push(profile.spec.mounts[profile.spec.mounts.length - 1] as ProfileMount)
    }
    action = existing ? 'overwrite' : 'create'
  }

  const allowed = addAllowEntries(profile, allowHosts)
  profile = allowed.profile
  if (action === 'unchanged' && allowed.added.length > 0) action = 'add-allow'
  checkProfileEnv(profile)
  const yaml = renderProfile(profile)
  // Self-check: what we write must load back as the same profile.
  parseProfile(yaml, destination)

  const steps = action === 'unchanged' ? [] : [step([WRITE_FILE, destination], writeReason(action), true)]
  const warnings = (await Promise.all(repos.map(async (r) => severalRepos(r.resolved)))).filter((w): w is string => w !== null)
  if (allowed.added.length > 0 && profile.spec.network.mode !== 'allowlist') warnings.push(`the hosts were added to spec.network.allow, but the profile's network mode is ${profile.spec.network.mode}: they take effect with mode allowlist`)
  return {action, destination, profile, yaml, addedMounts: added, addedAllow: allowed.added, plan: {verb: 'init', steps}, warnings}
}

/**
 * A folder holding more than one repository (a parent like ~/dev): every repo in it is open to
 * the agent. Their hooks and config are mounted read-only and checked after each session, but
 * the user should know, and usually allowlist the one repo instead.
 */
async function severalRepos(folder: string): Promise<string | null> {
  const {gitEntries} = await scanTree(folder)
  if (gitEntries.length <= 1) return null
  const names = gitEntries.map((e) => relative(folder, dirname(e.path)) || '.')
  const shown = names.slice(0, 5).join(', ') + (names.length > 5 ? `, … (${names.length - 5} more)` : '')
  return `${folder} holds ${gitEntries.length} repositories (${shown}): the agent can read and change all of them. Their git hooks and config stay read-only and are checked after each session, but consider allowlisting only the repo you work in.`
}

export async function applyInit(plan: InitPlan): Promise<void> {
  for (const s of plan.plan.steps) {
    if (s.argv[0] !== WRITE_FILE) throw new AgentMachineError(`unknown init step ${s.argv[0]}`, {code: 'PLAN_INVALID', exitCode: 1})
    await writeFileAtomic(plan.destination, plan.yaml, {mode: 0o600, overwrite: plan.action !== 'create'})
  }
}

function destinationFor(req: InitRequest): string {
  if (!req.output) return activeProfilePath(req.host)
  if (req.host.platform === 'windows') return win32.isAbsolute(req.output) ? req.output : win32.resolve(req.cwd, req.output)
  return isAbsolute(req.output) ? req.output : resolvePath(req.cwd, req.output)
}

async function admitRepo(raw: string, host: HostFacts, cwd: string): Promise<{raw: string; resolved: string; name: string}> {
  const {resolved} = await resolveMountSource(raw, host, realFsDeps(cwd))
  assertMountAllowed(resolved, host)
  const readable = await checkDirectory(resolved)
  if (readable.status === 'not-a-directory') throw usageError('PATH_NOT_DIRECTORY', `--repo ${raw} is not a directory (${resolved}).`, 'pass the repository folder, not a file')
  if (readable.status === 'missing') throw prerequisiteMissing('PATH_MISSING', `--repo ${raw} does not exist (${resolved}).`, 'check the path, or clone the repo first')
  if (readable.status !== 'ok') {
    throw prerequisiteMissing('REPO_UNREADABLE', `--repo ${raw} is not readable (${resolved}${readable.detail ? `: ${readable.detail}` : ''}).`, 'fix its permissions so your user can read and enter it')
  }
  return {raw, resolved, name: repoMountName(resolved)}
}

function defaultMode(profile: AgentMachineProfile): 'rw' | 'ro' {
  return profile.spec.mounts[0]?.mode ?? 'rw'
}

function writeReason(action: InitAction): string {
  if (action === 'add-mount') return 'add the repo mount(s) to the active profile (atomic write, other mounts kept)'
  if (action === 'overwrite') return 'replace the active profile (--force; atomic write)'
  return 'write the active profile (atomic: temp file, then rename)'
}

