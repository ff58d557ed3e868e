/**
 * Which host folders a Podman machine must share, and where they appear inside the VM.
 *
 * On macOS and Windows (and a Linux machine profile) podman is a remote client: a bind source in
 * `podman run -v SRC:…` is a path *inside the VM*. macOS and Linux clients pass the path as is, so
 * the machine must share each folder at the same path; the Windows client rewrites `C:\x` to
 * `/mnt/c/x` (pkg/specgen/winpath.go), so a Hyper-V machine must share `C:\x` at `/mnt/c/x`
 * (WSL mounts every drive there by itself).
 *
 * The roots are the profile's allowlisted mount sources, resolved exactly as the container will
 * get them, plus the main git dir of any mount that is a git worktree (git inside the container
 * needs it at the same absolute path). Nested roots collapse into their ancestor.
 */
import {promises as fsp} from 'node:fs'

import {AgentMachineError} from '../errors.js'
import type {HostFacts} from '../host/facts.js'
import {assertMountAllowed, judgeMountSource} from '../policy/mount-policy.js'
import {keyEquals, keyIsAncestor, pathApi, showPath, toKey} from '../policy/path-key.js'
import {realFsDeps, resolveMountSource, type FsDeps} from '../policy/paths.js'
import {stateDir} from '../profile/location.js'
import type {ProfileMount} from '../profile/schema.js'

export interface RootsDeps extends FsDeps {
  readFile: (p: string) => Promise<string>
}

export function realRootsDeps(cwd: string = process.cwd()): RootsDeps {
  return {...realFsDeps(cwd), readFile: (p) => fsp.readFile(p, 'utf8')}
}

export interface MachineRoot {
  /** Resolved host folder (what the container's bind source is on the host). */
  hostPath: string
  /** The same folder inside the VM (what `podman run -v` will name). */
  vmPath: string
  /**
   * Why it must be shared. `worktree-clones`: the state dir's folder where `run --worktree` puts
   * its clones (only that flag needs it, so a machine without it is a warning, not a failure).
   */
  reason: 'mount' | 'worktree-git-dir' | 'worktree-clones'
  /** Container targets of the allowlisted mounts under this root. */
  targets: string[]
}

export interface RootsResult {
  roots: MachineRoot[]
  /** Things the user should know (a missing folder used unresolved, a worktree dir refused). */
  warnings: string[]
}

/** A resolved host path → the path podman names inside the VM (see the module comment). */
export function vmPathFor(hostPath: string, host: Pick<HostFacts, 'platform'>): string {
  if (host.platform !== 'windows') return hostPath
  const p = hostPath.replace(/^\\\\\?\\/, '')
  const drive = /^([A-Za-z]):[\\/]?(.*)$/.exec(p)
  if (!drive) return p.replace(/\\/g, '/')
  const rest = (drive[2] ?? '').split(/[\\/]+/).filter((s) => s && s !== '.')
  return pathApi({platform: 'linux'}).join('/mnt', (drive[1] as string).toLowerCase(), ...rest)
}

/** Resolves the profile's mounts (and worktree git dirs) into the folders the machine must share. */
export async function machineRoots(mounts: readonly ProfileMount[], host: HostFacts, deps: RootsDeps): Promise<RootsResult> {
  const warnings: string[] = []
  const found: MachineRoot[] = []
  for (const m of mounts) {
    const hostPath = await resolveOrAbsolute(m, host, deps, warnings)
    found.push({hostPath, vmPath: vmPathFor(hostPath, host), reason: 'mount', targets: [m.target]})
    const gitDir = await worktreeCommonDir(hostPath, host, deps)
    if (gitDir) {
      const decision = judgeMountSource(gitDir, host)
      if (decision.allowed) {
        found.push({hostPath: gitDir, vmPath: vmPathFor(gitDir, host), reason: 'worktree-git-dir', targets: [m.target]})
      } else {
        warnings.push(`${showPath(hostPath)} is a git worktree whose main git dir ${showPath(gitDir)} is refused by policy (${decision.reason}); it is not shared`)
      }
    }
  }
  return {roots: collapse(found, host), warnings}
}

async function resolveOrAbsolute(m: ProfileMount, host: HostFacts, deps: RootsDeps, warnings: string[]): Promise<string> {
  try {
    const {resolved} = await resolveMountSource(m.source, host, deps)
    assertMountAllowed(resolved, host)
    return resolved
  } catch (error) {
    // A folder that does not exist yet can still be planned: share its absolute path.
    if (error instanceof AgentMachineError && error.code === 'PATH_MISSING' && typeof error.details?.path === 'string') {
      const absolute = error.details.path
      assertMountAllowed(absolute, host)
      warnings.push(`${showPath(m.source)} does not exist yet; the machine shares its unresolved path ${showPath(absolute)}`)
      return absolute
    }
    throw error
  }
}

/**
 * A worktree's `.git` is a file `gitdir: <main>/.git/worktrees/<name>`; that dir's `commondir`
 * names the main git dir. Returns the resolved main git dir when it lies outside `repo`, else null.
 */
export async function worktreeCommonDir(repo: string, host: HostFacts, deps: RootsDeps): Promise<string | null> {
  const api = pathApi(host)
  let text: string
  try {
    text = await deps.readFile(api.join(repo, '.git'))
  } catch {
    return null // no .git, or a directory: an ordinary repo (or none)
  }
  const gitdir = /^gitdir:\s*(.+?)\s*$/m.exec(text)?.[1]
  if (!gitdir) return null
  const worktreeGitDir = api.resolve(repo, gitdir)
  let common = worktreeGitDir
  try {
    common = api.resolve(worktreeGitDir, (await deps.readFile(api.join(worktreeGitDir, 'commondir'))).trim())
  } catch {
    // no commondir file: the gitdir itself is the git dir
  }
  let resolved: string
  try {
    resolved = await deps.realpath(common)
  } catch {
    return null
  }
  const repoKey = toKey(repo, host)
  const commonKey = toKey(resolved, host)
  if (!repoKey || !commonKey || keyEquals(repoKey, commonKey) || keyIsAncestor(repoKey, commonKey)) return null
  return resolved
}

/** Drops roots inside (or equal to) another root, merging their targets into the kept ancestor. */
function collapse(roots: MachineRoot[], host: Pick<HostFacts, 'platform' | 'caseInsensitivePaths'>): MachineRoot[] {
  const keyed = roots.map((r) => ({root: {...r, targets: [...r.targets]}, key: toKey(r.hostPath, host)}))
  const covers = (a: (typeof keyed)[number], b: (typeof keyed)[number]) =>
    a.key !== null && b.key !== null && (keyIsAncestor(a.key, b.key) || keyEquals(a.key, b.key))
  const kept = keyed.filter((item, i) =>
    !keyed.some((other, j) => other.key && item.key && (keyIsAncestor(other.key, item.key) || (j < i && keyEquals(other.key, item.key)))))
  for (const item of keyed) {
    if (kept.includes(item)) continue
    const home = kept.find((k) => covers(k, item))
    if (home) for (const t of item.root.targets) if (!home.root.targets.includes(t)) home.root.targets.push(t)
  }
  return kept.map((k) => k.root)
}

/** The folder under the state dir that holds `--worktree` clones (launch/prepare.ts planWorktree). */
export const WORKTREES_DIR = 'worktrees'

/**
 * Where `run --worktree` / `shell --worktree` create their clones, as the machine must share it:
 * `<state dir>/worktrees`, resolved through its nearest existing ancestor exactly as the launch
 * resolves it. Null on Windows, where --worktree is not supported, and when policy would refuse it
 * (the launch refuses it then too).
 */
export async function worktreeClonesRoot(host: HostFacts, deps: RootsDeps): Promise<MachineRoot | null> {
  if (host.platform === 'windows') return null
  const api = pathApi(host)
  const hostPath = await realpathOfNearest(api.resolve(deps.cwd, stateDir(host), WORKTREES_DIR), deps)
  // The folder itself lies in sourceosctl's own dirs (on macOS the state dir is inside the config
  // dir); what the policy lets a launch mount is each clone in it (catalogue STATE_DIR_MOUNTABLE).
  if (!judgeMountSource(api.join(hostPath, 'clone'), host).allowed) return null
  return {hostPath, vmPath: vmPathFor(hostPath, host), reason: 'worktree-clones', targets: []}
}

async function realpathOfNearest(p: string, deps: Pick<RootsDeps, 'realpath'>): Promise<string> {
  try {
    return await deps.realpath(p)
  } catch {
    const parent = pathApi({platform: 'linux'}).dirname(p)
    if (parent === p) return p
    return pathApi({platform: 'linux'}).join(await realpathOfNearest(parent, deps), pathApi({platform: 'linux'}).basename(p))
  }
}
