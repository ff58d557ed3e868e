/**
 * Host path → the path Podman sees. On native Linux they are the same. On macOS and Windows the
 * container runs inside a Podman machine, so a bind source is a path *inside the VM*: macOS shares
 * host folders at the same path (only those under the machine's volumes exist there); Windows maps
 * `C:\x` to `/mnt/c/x` (WSL always; Hyper-V from Podman 5.0 for folders shared with `--volume C:\x:/mnt/c/x`,
 * and by default from 5.3, when `C:\` became a volume).
 */
import {posix, win32} from 'node:path'

import {policyRefusal, prerequisiteMissing} from '../errors.js'
import type {HostFacts} from '../host/facts.js'
import {HOME_SHARE_VERSION, MACOS_BROAD_SHARES_VERSION, SPACES_IN_VOLUMES_VERSION} from '../machine/providers.js'
import {compareVersions} from '../machine/versions.js'

/** The default volumes a macOS machine shares (containers/common default_darwin.go). */
export const MACOS_DEFAULT_VOLUMES = ['/Users', '/private', '/var/folders']

export interface PodmanPathContext {
  /** Provider of the machine, or null for native Linux. */
  provider: string | null
  /** Podman client version, for version-gated behaviour (Hyper-V drive mounts from 5.0). */
  podmanVersion: string | null
  /** Host folders the machine shares; null when unknown (the platform defaults are assumed). */
  sharedVolumes: readonly string[] | null
  machineName: string | null
}

/** Translates a resolved host path into the source path `podman --mount` needs. Throws when impossible. */
export function toPodmanPath(hostPath: string, host: HostFacts, ctx: PodmanPathContext): string {
  if (host.platform === 'windows') return windowsToMachinePath(hostPath, ctx)
  if (host.platform === 'macos') {
    const volumes = ctx.sharedVolumes ?? macosDefaultVolumes(host, ctx.podmanVersion)
    const fold = (p: string) => (host.caseInsensitivePaths ? p.normalize('NFC').toLowerCase() : p)
    const covering = volumes.filter((v) => {
      const rel = posix.relative(fold(v), fold(hostPath))
      return rel === '' || (!rel.startsWith('..') && !posix.isAbsolute(rel))
    })
    // Before Podman 5.5 a machine volume whose path has a space is silently not mounted in the VM
    // (podman#25500): a share that exists only in the config covers nothing.
    const spaced = spacesBreakVolumes(ctx) ? covering.filter((v) => /\s/.test(v)) : []
    if (covering.length > 0 && spaced.length === covering.length) {
      throw prerequisiteMissing(
        'MACHINE_VOLUME_SPACES',
        `${hostPath} is shared with the Podman machine${ctx.machineName ? ` ${ctx.machineName}` : ''} only through ${spaced.map((v) => `"${v}"`).join(', ')}, whose path has a space, and Podman ${ctx.podmanVersion} does not mount such a machine volume (fixed in ${SPACES_IN_VOLUMES_VERSION}), so it is missing in the VM.`,
        `upgrade Podman to ${SPACES_IN_VOLUMES_VERSION} or newer, or move the repo to a path without spaces, allow it with \`sourceosctl agent-machine init --repo <new path>\` and recreate the machine with the init \`sourceosctl agent-machine start\` prints`,
      )
    }
    const inside = covering.length > 0
    if (!inside) {
      throw prerequisiteMissing(
        'PATH_NOT_SHARED',
        `${hostPath} is not shared with the Podman machine${ctx.machineName ? ` ${ctx.machineName}` : ''} (it shares ${volumes.join(', ')}).`,
        `move the repo under a shared folder, or recreate the machine with \`podman machine init --volume ${hostPath}:${hostPath}\` (see \`sourceosctl agent-machine start\`)`,
      )
    }
    return hostPath
  }
  return hostPath
}

/**
 * What a macOS machine shares when nothing narrowed it, by the version that created it (assumed to
 * be this client's): 4.0 nothing, 4.1–4.3 `$HOME`, 4.4+ /Users, /private, /var/folders
 * (containers/common default_darwin.go as vendored by each Podman tag).
 */
function macosDefaultVolumes(host: HostFacts, podmanVersion: string | null): readonly string[] {
  if (podmanVersion === null || compareVersions(podmanVersion, MACOS_BROAD_SHARES_VERSION) >= 0) return MACOS_DEFAULT_VOLUMES
  return compareVersions(podmanVersion, HOME_SHARE_VERSION) >= 0 ? [host.homeDir] : []
}

function spacesBreakVolumes(ctx: PodmanPathContext): boolean {
  return ctx.provider !== null && ctx.provider !== 'wsl' && ctx.podmanVersion !== null && compareVersions(ctx.podmanVersion, SPACES_IN_VOLUMES_VERSION) < 0
}

function windowsToMachinePath(hostPath: string, ctx: PodmanPathContext): string {
  let p = hostPath
  if (p.startsWith('\\\\?\\')) p = p.slice(4)
  if (p.startsWith('\\\\') || p.startsWith('//')) {
    throw policyRefusal('PATH_UNC', `${hostPath} is a UNC (network) path; Podman machines cannot mount it.`, 'clone the repo onto a local drive, e.g. C:\\Users\\<you>\\dev\\<repo>')
  }
  const drive = /^([A-Za-z]):[\\/]?(.*)$/.exec(p)
  if (!drive) throw policyRefusal('PATH_NOT_LOCAL', `${hostPath} is not a drive path like C:\\...`, 'use a path on a local drive')
  // 5.0 parses `--volume C:\x:/mnt/c/x`, which the narrowed init uses (Podman's own default C:\
  // share arrives in 5.3; doctor's machine-shares check tells a machine without it).
  if (ctx.provider === 'hyperv' && ctx.podmanVersion && compareVersions(ctx.podmanVersion, '5.0.0') < 0) {
    throw prerequisiteMissing(
      'PODMAN_TOO_OLD',
      `Hyper-V machines share drive folders at /mnt/<drive> from Podman 5.0; this is Podman ${ctx.podmanVersion}.`,
      'upgrade Podman to 5.0 or newer (5.5 for folders with spaces in their path), or use the WSL provider',
    )
  }
  const letter = drive[1]!.toLowerCase()
  const rest = win32.normalize(drive[2] ?? '').split('\\').filter((s) => s && s !== '.')
  return posix.join('/mnt', letter, ...rest)
}
