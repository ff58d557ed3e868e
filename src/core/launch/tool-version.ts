/**
 * The tool's own version, read inside the image (`<tool command> --version`) and cached per image
 * ID in the state dir, so only the first run on a new image pays for the extra container start.
 * That probe container is a plan step (prepare.ts): planned when the cache has no version for the
 * image, run only when planned, with exactly the planned argv.
 */
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'

import {succeeded, type Runner} from '../exec.js'
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
