/**
 * Neutralising plants: each is moved (rename, never copied while live) into the run's quarantine
 * folder under the CLI's state dir, where no git looks; a changed file that existed before the
 * session gets its original bytes back. The user's repo stays usable; nothing is deleted.
 */
import {promises as fsp} from 'node:fs'
import path from 'node:path'

import type {Finding} from './compare.js'
import type {SurfaceItem} from './surface.js'

export interface Neutralised extends Finding {
  /** Where the item now is (quarantine and restore), or null (report, or the move failed). */
  quarantinedAt: string | null
  /** Why it could not be moved (it is then still in place: the user must look at it). */
  error?: string
}

/** `<quarantine>/<root index>-<root name>/<path under the root>`. */
function quarantinePath(quarantineDir: string, rootIndex: number, root: string, p: string): string {
  const rel = path.relative(root, p)
  const label = `${rootIndex}-${path.basename(root).replace(/[^A-Za-z0-9._-]+/g, '_') || 'root'}`
  return path.join(quarantineDir, label, rel)
}

async function move(from: string, to: string): Promise<void> {
  await fsp.mkdir(path.dirname(to), {recursive: true, mode: 0o700})
  try {
    await fsp.rename(from, to)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error
    // Another file system: copy as it is (symlinks as symlinks), then remove the original.
    await fsp.cp(from, to, {recursive: true, verbatimSymlinks: true, errorOnExist: true, force: false})
    await fsp.rm(from, {recursive: true, force: true})
  }
}

/** The parent must still be the real directory judged (no symlink swapped in on the way). */
async function parentIsReal(p: string): Promise<boolean> {
  const parent = path.dirname(p)
  return (await fsp.realpath(parent).catch(() => null)) === parent
}

export async function neutralise(
  findings: readonly Finding[],
  opts: {quarantineDir: string; rootIndex: number; root: string; before: Readonly<Record<string, SurfaceItem>>},
): Promise<Neutralised[]> {
  const out: Neutralised[] = []
  for (const f of findings) {
    if (f.action === 'report') {
      out.push({...f, quarantinedAt: null})
      continue
    }
    const dest = quarantinePath(opts.quarantineDir, opts.rootIndex, opts.root, f.path)
    try {
      if (!(await parentIsReal(f.path))) throw new Error('its folder is no longer the one that was checked')
      await move(f.path, dest)
      if (f.action === 'restore') {
        const original = opts.before[f.path]!
        const tmp = `${f.path}.sourceosctl-restore-${process.pid}`
        await fsp.writeFile(tmp, Buffer.from(original.content!, 'base64'), {mode: original.mode ?? 0o644, flag: 'wx'})
        await fsp.rename(tmp, f.path)
      }
      out.push({...f, quarantinedAt: dest})
    } catch (error) {
      out.push({...f, quarantinedAt: null, error: (error as Error).message})
    }
  }
  return out
}
