/**
 * The git-internal mounts of a launch (src/core/git/mount-plan.ts says which), judged like every
 * other mount: each host path is realpath-resolved and must pass the mount policy, each target must
 * be a plain absolute path, and no git mount may contradict what a checkout mount already shows.
 */
import {mkdir} from 'node:fs/promises'
import path from 'node:path'

import {AgentMachineError, policyRefusal, prerequisiteMissing} from '../errors.js'
import type {HostFacts} from '../host/facts.js'
import {GitLayoutError, readGitLayout, type GitLayout} from '../git/layout.js'
import {GitMountRefusal, planGitMounts} from '../git/mount-plan.js'
import {assertMountAllowed, findUnsafeChar} from '../policy/mount-policy.js'
import {resolvePolicyAliases, type FsDeps} from '../policy/paths.js'
import {showPath} from '../policy/path-key.js'
import type {LaunchMount} from './container-spec.js'
import {toPodmanPath, type PodmanPathContext} from './host-path.js'

/** A pseudo-program of the launch plan: create an empty directory (mode 0755) unless it exists. */
export const ENSURE_DIR = 'sourceosctl:mkdir'

export type Checkout =
  | {
      /** A layout read from disk, or (for a worktree the plan creates) the layout it will have. */
      layout: GitLayout
      rootTarget: string
      mode: 'rw' | 'ro'
    }
  | {
      /** A `.git` pointer that leads nowhere: only the pointer itself is mounted (read-only). */
      brokenPointer: string
      rootTarget: string
    }

export interface GitMountsResult {
  mounts: LaunchMount[]
  /** Host directories to create before the container (missing .git/hooks, <common>/logs). */
  ensureDirs: string[]
  warnings: string[]
}

/** Container paths a git mount may never cover. */
const FORBIDDEN_TARGET_ROOTS = ['/proc', '/sys', '/dev']

/** A git-internal mount target: an absolute, normalized POSIX path that podman can carry. */
export function judgeGitTarget(target: string): string | null {
  const unsafe = findUnsafeChar(target, {platform: 'linux'})
  if (unsafe) return `${showPath(target)} contains ${unsafe}`
  if (!target.startsWith('/') || target.includes('\\')) return `${showPath(target)} is not an absolute POSIX path`
  const segs = target.split('/').slice(1)
  if (segs.some((s) => s === '' || s === '.' || s === '..')) return `${showPath(target)} has an empty, '.' or '..' segment`
  if (FORBIDDEN_TARGET_ROOTS.some((r) => target === r || target.startsWith(`${r}/`))) return `${showPath(target)} is under ${target.split('/').slice(0, 2).join('/')}`
  return null
}

/** Reads the layout at a checkout root; a broken `.git` pointer becomes a warning. */
export async function readCheckout(root: string, rootTarget: string, mode: 'rw' | 'ro', host: HostFacts, warnings: string[]): Promise<Checkout | null> {
  try {
    return {layout: await readGitLayout(root, host.platform), rootTarget, mode}
  } catch (error) {
    if (!(error instanceof GitLayoutError)) throw error
    warnings.push(`${error.message}: git will not work in the container for ${root}`)
    // Still pinned read-only: a rewritten pointer would send the host's git to the agent's config.
    return mode === 'rw' ? {brokenPointer: error.path, rootTarget} : null
  }
}

export interface GitMountContext {
  host: HostFacts
  deps: Pick<FsDeps, 'realpath'>
  pathCtx: PodmanPathContext
  /** The checkout mounts (profile mounts, with a worktree in place of the repo). */
  primaries: ReadonlyArray<Pick<LaunchMount, 'hostSource' | 'target'>>
  /** Host paths a plan step creates before the container (the new worktree and its gitdir). */
  pending: (hostPath: string) => boolean
}

export async function gitMountsFor(checkouts: readonly Checkout[], ctx: GitMountContext, warnings: string[]): Promise<GitMountsResult> {
  const {host} = ctx
  const planned: Array<{source: string; target: string; mode: 'rw' | 'ro'; create: boolean}> = []
  for (const c of checkouts) {
    if ('brokenPointer' in c) {
      planned.push({source: c.brokenPointer, target: path.posix.join(c.rootTarget, '.git'), mode: 'ro', create: false})
      continue
    }
    let plan
    try {
      plan = planGitMounts({layout: c.layout, rootTarget: c.rootTarget, mode: c.mode, platform: host.platform})
    } catch (error) {
      if (!(error instanceof GitMountRefusal)) throw error
      throw error.kind === 'policy' ? policyRefusal(error.code, error.message, error.fix) : prerequisiteMissing(error.code, error.message, error.fix)
    }
    warnings.push(...plan.warnings)
    planned.push(...plan.mounts)
  }

  // One mount per target: the same source twice is merged (read-only wins), different sources clash.
  const byTarget = new Map<string, (typeof planned)[number]>()
  for (const m of planned) {
    const prev = byTarget.get(m.target)
    if (!prev) byTarget.set(m.target, {...m})
    else if (prev.source !== m.source) {
      throw policyRefusal('GIT_MOUNT_CONFLICT', `two git dirs need the container path ${m.target}: ${prev.source} and ${m.source}.`, 'mount only one of the checkouts that share this path')
    } else if (m.mode === 'ro') prev.mode = 'ro'
  }

  const aliases = await resolvePolicyAliases(host, ctx.deps)
  const mounts: LaunchMount[] = []
  const ensureDirs: string[] = []
  for (const m of byTarget.values()) {
    const why = judgeGitTarget(m.target)
    if (why) throw policyRefusal('GIT_MOUNT_TARGET', `cannot mount the git dir ${m.source} at ${why}.`, 'move the repository to a plain path (no : , or control characters)')
    checkAgainstPrimaries(m, ctx.primaries, host)
    const resolved = await resolveExisting(m.source, ctx, m.create)
    if (resolved !== m.source) {
      throw policyRefusal('GIT_DIR_SYMLINK', `${m.source} leads through a symlink (to ${resolved}), so it cannot be mounted where git expects it.`, 'replace the symlink with the real folder')
    }
    assertMountAllowed(m.source, host, {aliases})
    if (m.create) ensureDirs.push(m.source)
    mounts.push({hostSource: m.source, podmanSource: toPodmanPath(m.source, host, ctx.pathCtx), target: m.target, mode: m.mode, role: 'git'})
  }
  // Parents first (podman orders by depth as well); stable for plans and evidence.
  mounts.sort((a, b) => depth(a.target) - depth(b.target) || (a.target < b.target ? -1 : a.target > b.target ? 1 : 0))
  return {mounts, ensureDirs, warnings}
}

function depth(p: string): number {
  return p.split('/').length
}

/**
 * A git mount inside a checkout mount must show what that checkout has at the same place
 * (`<repo>/.git/hooks` at `<target>/.git/hooks`): otherwise it would hide part of it. And it may
 * never cover a checkout mount.
 */
function checkAgainstPrimaries(m: {source: string; target: string}, primaries: GitMountContext['primaries'], host: HostFacts): void {
  const api = host.platform === 'windows' ? path.win32 : path.posix
  let deepest: {hostSource: string; target: string} | undefined
  for (const p of primaries) {
    if (p.target === m.target || p.target.startsWith(`${m.target}/`)) {
      throw policyRefusal('GIT_MOUNT_CONFLICT', `the git dir ${m.source} would be mounted at ${m.target}, over the mount ${p.target}.`, 'change the mount target in the profile')
    }
    if (m.target.startsWith(`${p.target}/`) && (!deepest || p.target.length > deepest.target.length)) deepest = p
  }
  if (!deepest) return
  const rel = m.target.slice(deepest.target.length + 1).split('/')
  const expected = api.join(deepest.hostSource, ...rel)
  const fold = (s: string) => (host.caseInsensitivePaths ? s.normalize('NFC').toLowerCase() : s)
  if (fold(expected) !== fold(m.source)) {
    throw policyRefusal(
      'GIT_MOUNT_CONFLICT',
      `the git dir ${m.source} would be mounted at ${m.target}, inside the mount of ${deepest.hostSource} → ${deepest.target}, hiding ${expected}.`,
      'change the mount target in the profile so it does not contain the path of the git dir',
    )
  }
}

/** realpath of an existing path; of the nearest existing ancestor (plus the rest) for one a step creates. */
async function resolveExisting(p: string, ctx: GitMountContext, create: boolean): Promise<string> {
  try {
    return await ctx.deps.realpath(p)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code !== 'ENOENT') throw error
    if (!create && !ctx.pending(p)) {
      throw prerequisiteMissing('GIT_DIR_MISSING', `${p} does not exist (it did a moment ago?).`, 'check the repository with git status, then try again')
    }
    const api = ctx.host.platform === 'windows' ? path.win32 : path.posix
    const parent = api.dirname(p)
    if (parent === p) return p
    return api.join(await resolveExisting(parent, ctx, true), api.basename(p))
  }
}

/** Runs an ENSURE_DIR step. */
export async function ensureDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, {mode: 0o755})
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new AgentMachineError(`cannot create ${dir}: ${(error as Error).message}`, {code: 'GIT_DIR_UNWRITABLE', exitCode: 4, fix: 'fix the permissions of the git dir'})
    }
  }
}
