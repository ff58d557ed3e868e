/**
 * The tool's own version, read inside the image (`<tool command> --version`) and cached per image
 * ID in the state dir, so only the first run on a new image pays for the extra container start.
 */
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'

import {succeeded, type Runner} from '../exec.js'
import {writeFileAtomic} from '../fs-atomic.js'
import {AGENT_HOME, hardeningArgs} from './container-spec.js'

type Cache = Record<string, Record<string, string>>

export async function toolVersionInImage(opts: {
  runner: Runner
  binary: string
  imageId: string
  tool: string
  command: string[]
  rootless: boolean
  stateDir: string
}): Promise<string | null> {
  const cachePath = join(opts.stateDir, 'tool-versions.json')
  const cache = await readCache(cachePath)
  const cached = cache[opts.imageId]?.[opts.tool]
  if (cached) return cached
  const probe = await opts.runner(
    opts.binary,
    ['run', ...hardeningArgs(opts.rootless), '--network=none', `--env=HOME=${AGENT_HOME}`, opts.imageId, ...opts.command, '--version'],
    {timeoutMs: 60_000},
  )
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
