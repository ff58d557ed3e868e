/**
 * The tool's own version, read inside the image (`<tool command> --version`) and cached per image
 * ID in the state dir, so only the first run on a new image pays for the extra container start.
 * That probe container is a plan step (prepare.ts): planned when the cache has no version for the
 * image, run only when planned, with exactly the planned argv.
 *
 * The host's tools (git, nix, the podman client) are cached too, by the identity of the binary
 * PATH resolves to (hostToolVersion): a launch runs `<tool> --version` only when that binary
 * changed since the last one.
 */
import {accessSync, constants, statSync, type BigIntStats} from 'node:fs'
import {readFile} from 'node:fs/promises'
import {delimiter, isAbsolute, join, resolve} from 'node:path'

import {succeeded, type Runner} from '../exec.js'
import {probeTool, type ToolName} from '../host/tools.js'
import {writeFileAtomic} from '../fs-atomic.js'
import {podmanArgv} from '../podman/context.js'
import {AGENT_HOME, hardeningArgs, type PodmanTarget} from './container-spec.js'

type Cache = Record<string, Record<string, string>>

/** The probe: the image with no mounts, no network, the launch's hardening, `<command> --version`. */
export function toolVersionProbeArgv(opts: {podman: PodmanTarget; imageId: string; command: readonly string[]; rootless: boolean}): string[] {
  return podmanArgv(opts.podman, ['run', ...hardeningArgs(opts.rootless), '--network=none', `--env=HOME=${AGENT_HOME}`, opts.imageId, ...opts.command, '--version'])
}

/** The cached version of `tool` in the image, or null (read-only: a dry run may ask). */
export async function cachedToolVersion(stateDir: string, imageId: string, tool: string): Promise<string | null> {
  const cache = await readCache(join(stateDir, 'tool-versions.json'))
  const cached = cache[imageId]?.[tool]
  return typeof cached === 'string' && cached !== '' ? cached : null
}

export async function toolVersionInImage(opts: {
  runner: Runner
  imageId: string
  tool: string
  stateDir: string
  /** The planned probe argv (the plan step's), or null when the plan has none: then only the cache answers. */
  probe: readonly string[] | null
}): Promise<string | null> {
  const cachePath = join(opts.stateDir, 'tool-versions.json')
  const cached = await cachedToolVersion(opts.stateDir, opts.imageId, opts.tool)
  if (cached || !opts.probe) return cached
  const [binary, ...args] = opts.probe as [string, ...string[]]
  const probe = await opts.runner(binary, args, {timeoutMs: 60_000})
  if (!succeeded(probe)) return null
  const version = probe.stdout.trim().split('\n').find(Boolean)?.trim() ?? null
  if (!version) return null
  const fresh = await readCache(cachePath)
  fresh[opts.imageId] = {...fresh[opts.imageId], [opts.tool]: version}
  // A cache that cannot be written only costs the next run a container start.
  await writeFileAtomic(cachePath, `${JSON.stringify(fresh, null, 2)}\n`, {overwrite: true, mode: 0o600}).catch(() => {})
  return version
}

async function readCache(path: string): Promise<Cache> {
  try {
    const parsed: unknown = JSON.parse(await readFile(path, 'utf8'))
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Cache) : {}
  } catch {
    return {}
  }
}

/**
 * The program a spawn of `command` runs, as execvp finds it: a name with a slash as it is, else the
 * first PATH entry (an empty one is the working dir) holding a regular file this process may
 * execute; null when there is none (the spawn would fail with ENOENT).
 */
export function resolveOnPath(command: string, pathVar: string): string | null {
  const candidates = command.includes('/') ? [command] : pathVar.split(delimiter).map((dir) => join(dir === '' ? '.' : dir, command))
  for (const candidate of candidates) {
    try {
      if (!statSync(candidate).isFile()) continue
      accessSync(candidate, constants.X_OK)
      return isAbsolute(candidate) ? candidate : resolve(candidate)
    } catch {
      // not here (or not executable): the next entry, as execvp does
    }
  }
  return null
}

/** What identifies a binary's content without reading it: a replaced or rewritten file changes one of these (ctime cannot be set back from user space). */
function identity(file: string): string | null {
  let st: BigIntStats
  try {
    st = statSync(file, {bigint: true})
  } catch {
    return null
  }
  return [st.dev, st.ino, st.size, st.mtimeNs, st.ctimeNs, st.mode].join(':')
}

interface HostToolEntry {
  path: string
  identity: string
  version: string | null
}

const HOST_CACHE_FILE = 'host-tool-versions.json'
/** What execvp searches when PATH is unset (glibc's _CS_PATH). */
const DEFAULT_PATH = '/bin:/usr/bin'

/**
 * `<tool> --version` of the host's binary, as the evidence records it (the bare version, or null
 * when the tool is missing, failed or printed no version). Cached in the state dir by the resolved
 * path and the binary's (dev, inode, size, mtime, ctime, mode): a binary replaced, rewritten,
 * touched or re-linked is probed again. A tool PATH does not hold is missing without a spawn (no
 * failed exec per PATH entry). The probe runs the resolved path, and its answer is kept only when
 * the binary was the same before and after it.
 */
export async function hostToolVersion(opts: {runner: Runner; tool: ToolName; binary?: string; stateDir: string; pathVar?: string}): Promise<string | null> {
  const resolved = resolveOnPath(opts.binary ?? opts.tool, opts.pathVar ?? process.env.PATH ?? DEFAULT_PATH)
  if (!resolved) return null
  const before = identity(resolved)
  const cachePath = join(opts.stateDir, HOST_CACHE_FILE)
  const key = opts.binary ?? opts.tool
  const cached = (await readHostCache(cachePath))[key]
  if (before && cached && cached.path === resolved && cached.identity === before) return cached.version
  const probe = await probeTool(opts.runner, opts.tool, {binary: resolved})
  const version = probe.status === 'ok' ? probe.version : null
  // Only an answer that belongs to the binary as it was identified, and a clear one (not a timeout, not a failure), is kept.
  if (probe.status === 'ok' && before && identity(resolved) === before) {
    const fresh = await readHostCache(cachePath)
    fresh[key] = {path: resolved, identity: before, version}
    // A cache that cannot be written only costs the next launch a probe.
    await writeFileAtomic(cachePath, `${JSON.stringify(fresh, null, 2)}\n`, {overwrite: true, mode: 0o600}).catch(() => {})
  }
  return version
}

async function readHostCache(file: string): Promise<Record<string, HostToolEntry>> {
  // no prototype: a key named __proto__ in the file is a plain key
  const entries = Object.create(null) as Record<string, HostToolEntry>
  let parsed: unknown
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'))
  } catch {
    return entries
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return entries
  for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
    const e = value as Partial<HostToolEntry> | null
    if (e && typeof e.path === 'string' && typeof e.identity === 'string' && (typeof e.version === 'string' || e.version === null)) entries[name] = {path: e.path, identity: e.identity, version: e.version}
  }
  return entries
}
