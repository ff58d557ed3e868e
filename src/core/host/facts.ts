/**
 * Host facts: everything about the host that policy and planning depend on. Pure code takes a
 * HostFacts value instead of reading `process`, so macOS and Windows behaviour is testable on Linux.
 */

export type HostPlatform = 'linux' | 'macos' | 'windows'

export interface HostFacts {
  platform: HostPlatform
  /** Human OS name, e.g. "Debian GNU/Linux 12 (bookworm)", "macOS", "Windows". */
  osName: string
  /** OS version: the distribution/product version where known, else the kernel release. */
  osVersion: string
  /** Kernel release (os.release()). */
  kernel: string
  /** Node-style architecture: x64, arm64, … */
  arch: string
  homeDir: string
  /** POSIX uid; null on Windows. */
  uid: number | null
  isRoot: boolean
  /** The environment used for expansion ($VAR, %VAR%) and passthrough. */
  env: Readonly<Record<string, string | undefined>>
  /** macOS (APFS/HFS+ default) and Windows (NTFS) compare paths case-insensitively. */
  caseInsensitivePaths: boolean
  /**
   * Run as root only: the home directories of the host's accounts (/etc/passwd), so the deny
   * catalogue covers every user's home, not only root's. Absent otherwise.
   */
  userHomes?: readonly string[]
}

export function platformFromNode(nodePlatform: string): HostPlatform {
  if (nodePlatform === 'darwin') return 'macos'
  if (nodePlatform === 'win32') return 'windows'
  return 'linux'
}
