/**
 * Mount pins: the (device, inode) of each mount source, taken right after the source was resolved
 * and judged. The policy judges a path; the container gets whatever the path leads to when the OCI
 * runtime mounts it. Before the agent runs, the container's view is compared with these pins
 * (container-view.ts), so a source swapped in between (a symlink into ~/.ssh, another folder) is
 * refused instead of mounted.
 *
 * Numbers are decimal strings from bigint stats: 64-bit inode numbers (btrfs, XFS, NFS) do not fit
 * a JavaScript number.
 */
import {lstat} from 'node:fs/promises'

import {policyRefusal} from '../errors.js'

export interface MountPin {
  /** st_dev as a decimal string. */
  dev: string
  /** st_ino as a decimal string. */
  ino: string
  /**
   * st_ctime in nanoseconds: a rename (and RENAME_EXCHANGE) sets it on the moved inode, so a folder
   * swapped away and back shows here. Compared only to explain a failure (it also moves when files
   * are added to the folder).
   */
  ctime?: string
}

/** What a pinned source may be: a mount source is a folder, or (git internals) a regular file. */
export type PinnedKind = 'directory' | 'file'

export interface PinDeps {
  lstat: (path: string) => Promise<{dev: bigint; ino: bigint; ctimeNs: bigint; isDirectory(): boolean; isFile(): boolean; isSymbolicLink(): boolean}>
}

export const realPinDeps: PinDeps = {lstat: (p) => lstat(p, {bigint: true})}

/**
 * The pin of a resolved (realpath) source. A symlink here means the path changed after it was
 * resolved: refused as a swap. Anything but a folder or a regular file is refused as well.
 */
export async function pinSource(resolved: string, deps: PinDeps = realPinDeps): Promise<MountPin> {
  let s
  try {
    s = await deps.lstat(resolved)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message
    throw policyRefusal('MOUNT_SWAPPED', `mount source ${resolved} disappeared after it was checked (${code}).`, 'something is changing the folder while the launch checks it; nothing was started. Stop it, then try again')
  }
  if (s.isSymbolicLink()) {
    throw policyRefusal('MOUNT_SWAPPED', `mount source ${resolved} became a symlink after it was checked.`, 'something replaced the folder while the launch checked it; nothing was started. Find what changes it, then try again')
  }
  if (!s.isDirectory() && !s.isFile()) {
    throw policyRefusal('MOUNT_SOURCE_KIND', `mount source ${resolved} is neither a folder nor a regular file.`, 'mount a folder')
  }
  return {dev: s.dev.toString(), ino: s.ino.toString(), ctime: s.ctimeNs.toString()}
}

/** The pin of a source that may not exist yet (a plan step creates it): null when it is missing. */
export async function pinIfExists(resolved: string, deps: PinDeps = realPinDeps): Promise<MountPin | null> {
  try {
    await deps.lstat(resolved)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
  }
  return pinSource(resolved, deps)
}

export function samePin(a: MountPin, b: {dev: string | bigint; ino: string | bigint}): boolean {
  return a.dev === b.dev.toString() && a.ino === b.ino.toString()
}

/**
 * Every pinned mount must still be what it was when it was pinned (after the tree scans, before
 * anything is created): a folder swapped while it was scanned is refused here already.
 * `moved`: also refuse a pinned folder that was renamed away and back meanwhile (its ctime moved) —
 * used to explain a failure (podman refusing a vanished source, a file "missing" under a folder
 * mid-check), where a folder that merely gained a file costs nothing but the error's name.
 */
export async function assertPinsHold(mounts: ReadonlyArray<{hostSource: string; pin?: MountPin}>, deps: PinDeps = realPinDeps, opts: {moved?: boolean} = {}): Promise<void> {
  for (const m of mounts) {
    if (!m.pin) continue
    const now = await pinSource(m.hostSource, deps)
    if (opts.moved && m.pin.ctime !== undefined && now.ctime !== m.pin.ctime && samePin(m.pin, now)) {
      throw policyRefusal('MOUNT_SWAPPED', `mount source ${m.hostSource} was moved or changed while the launch checked it.`, 'nothing was started; find what moves the folder (a swap back and forth?), then try again')
    }
    if (!samePin(m.pin, now)) {
      throw policyRefusal(
        'MOUNT_SWAPPED',
        `mount source ${m.hostSource} was replaced while the launch checked it (device/inode ${m.pin.dev}/${m.pin.ino}, now ${now.dev}/${now.ino}).`,
        'nothing was started; find what replaces the folder, then try again',
      )
    }
  }
}
