/**
 * Linux /proc/self/mountinfo: which paths are mount points, and which other names a mounted folder
 * has. The tree scan refuses a mount point strictly under a mount source (binds are recursive in
 * podman, so a bind of ~/.ssh onto repo/vendor would reach the container; it has the same st_dev
 * as the repo, so only mountinfo sees it), and judges the other names of the source itself (a
 * source that is a bind mount of a denied folder is the denied folder).
 *
 * Parsing is pure; readMountinfo() is the only I/O here.
 */
import {readFileSync} from 'node:fs'
import path from 'node:path'

export interface MountInfoEntry {
  mountId: number
  parentId: number
  /** `major:minor` of the file system (st_dev of its root, for most file systems). */
  device: string
  /** The path inside the file system that is mounted here (`/` for a whole file system; the bound folder for a bind). */
  root: string
  /** Where it is mounted, in this process's mount namespace. */
  mountPoint: string
  fsType: string
  source: string
}

/**
 * Decodes the kernel's octal escapes (`\040` space, `\011` tab, `\012` newline, `\134` backslash;
 * any `\ooo` byte) in one mountinfo field. The field arrives as latin1 text so that each escape and
 * each raw byte stays one char; the result is the UTF-8 reading of those bytes.
 */
export function decodeMountinfoField(field: string): string {
  const bytes = field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8) & 0xff))
  return Buffer.from(bytes, 'latin1').toString('utf8')
}

/**
 * Parses mountinfo text (see proc(5)): `id parent major:minor root mountpoint options [optional…] -
 * fstype source superoptions`. Pass the file's bytes as a latin1 string (readMountinfo does) so that
 * non-ASCII names decode exactly; plain UTF-8 text of ASCII names parses the same. Malformed lines
 * are skipped.
 */
export function parseMountinfo(text: string): MountInfoEntry[] {
  const out: MountInfoEntry[] = []
  for (const line of text.split('\n')) {
    // (a blank line has fewer than 8 fields)
    const fields = line.split(' ')
    const sep = fields.indexOf('-', 6)
    if (fields.length < 8 || sep === -1) continue
    const [id, parent, device, root, mountPoint] = fields as [string, string, string, string, string]
    if (!/^\d+$/.test(id) || !/^\d+$/.test(parent) || !/^\d+:\d+$/.test(device)) continue
    out.push({
      mountId: Number(id),
      parentId: Number(parent),
      device,
      root: decodeMountinfoField(root),
      mountPoint: decodeMountinfoField(mountPoint),
      fsType: decodeMountinfoField(fields[sep + 1] ?? ''),
      source: decodeMountinfoField(fields[sep + 2] ?? ''),
    })
  }
  return out
}

/** a is b or an ancestor of b (POSIX, lexical; both absolute and normalised). */
function isInsideOrSame(parent: string, child: string): boolean {
  if (parent === child) return true
  const prefix = parent.endsWith('/') ? parent : parent + '/'
  return child.startsWith(prefix)
}

/** Mount points strictly under `root` (a realpath), sorted, without duplicates. */
export function mountPointsUnder(root: string, mounts: readonly MountInfoEntry[]): string[] {
  const out = new Set<string>()
  for (const m of mounts) if (m.mountPoint !== root && isInsideOrSame(root, m.mountPoint)) out.add(m.mountPoint)
  return [...out].sort()
}

/** The mount whose mount point is the longest prefix of `p` (the last one mounted wins a tie). */
export function mountOf(p: string, mounts: readonly MountInfoEntry[]): MountInfoEntry | null {
  let best: MountInfoEntry | null = null
  for (const m of mounts) {
    if (!isInsideOrSame(m.mountPoint, p)) continue
    if (!best || m.mountPoint.length >= best.mountPoint.length) best = m
  }
  return best
}

/**
 * The other names of the folder `p` (a realpath) in this mount namespace: the same place of the same
 * file system reached through another mount of it. For a folder inside `mount --bind ~/.ssh /srv/x`,
 * that is the matching path under ~/.ssh (through the mount of / that shows the home). Sorted.
 */
export function otherNamesOf(p: string, mounts: readonly MountInfoEntry[]): string[] {
  const m = mountOf(p, mounts)
  if (!m) return []
  const fsPath = path.posix.join(m.root, path.posix.relative(m.mountPoint, p))
  const out = new Set<string>()
  for (const n of mounts) {
    if (n.device !== m.device || !isInsideOrSame(n.root, fsPath)) continue
    const name = path.posix.join(n.mountPoint, path.posix.relative(n.root, fsPath))
    if (name !== p) out.add(name)
  }
  return [...out].sort()
}

/** This process's mount table, or null where there is none to read (macOS, Windows, no /proc). */
export function readMountinfo(file = '/proc/self/mountinfo'): MountInfoEntry[] | null {
  // Stryker disable next-line ConditionalExpression: the tests run on Linux, where this is always false
  if (process.platform !== 'linux') return null
  try {
    return parseMountinfo(readFileSync(file, 'latin1'))
  } catch {
    return null
  }
}
