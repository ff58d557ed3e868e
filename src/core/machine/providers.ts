/**
 * Podman machine providers per host and Podman version (PODMAN-FACTS §2; pkg/machine/provider/
 * platform_*.go at v4.9.5 and v5.x):
 *
 *   macOS    4.x: qemu (default), applehv (from 4.7)   5.x: applehv (default), libkrun (5.1+, arm64 only)
 *   Windows  wsl (default), hyperv (needs an administrator terminal)
 *   Linux    qemu only
 *
 * Podman picks the provider from containers.conf `[machine] provider`, overridden by the
 * CONTAINERS_MACHINE_PROVIDER environment variable (no 5.x release has a `--provider` flag), and
 * lists or starts only the current provider's machines. So every machine command this CLI runs
 * (or prints) carries that variable, whatever the provider (see providerEnv).
 */
import {prerequisiteMissing, usageError, type AgentMachineError} from '../errors.js'
import type {HostFacts, HostPlatform} from '../host/facts.js'
import type {ProfileMachine} from '../profile/schema.js'
import {atLeast, majorOf} from './versions.js'

export type Provider = ProfileMachine['provider']

export const PROVIDER_ENV = 'CONTAINERS_MACHINE_PROVIDER'

/** Oldest Podman whose `machine init` has everything the init command uses (--volume, --rootful). */
export const MIN_MACHINE_VERSION = '4.0.0'

const PLATFORM_NAMES: Record<HostPlatform, string> = {macos: 'macOS', windows: 'Windows', linux: 'Linux'}

/** Providers a platform can have at all, in the order they are offered. */
const BY_PLATFORM: Record<HostPlatform, readonly Provider[]> = {
  macos: ['applehv', 'libkrun', 'qemu'],
  windows: ['wsl', 'hyperv'],
  linux: ['qemu'],
}

/** The lowest Podman version a provider needs, and why (for the PODMAN_TOO_OLD message). */
const MINIMUM: Record<Provider, {version: string; reason: string}> = {
  qemu: {version: MIN_MACHINE_VERSION, reason: '`podman machine init --volume` and `--rootful`'},
  wsl: {version: MIN_MACHINE_VERSION, reason: '`podman machine init` with --rootful'},
  applehv: {version: '4.7.0', reason: 'the applehv provider (CONTAINERS_MACHINE_PROVIDER=applehv)'},
  libkrun: {version: '5.1.0', reason: 'the libkrun provider'},
  // 5.0 already parses a drive letter in `--volume C:\x:/mnt/c/x` (pkg/specgen/winpath.go), which
  // is how the narrowed init shares each repo where `podman run -v C:\…` points. (Podman's own
  // default `C:\` → /mnt/c share arrives only in 5.3, so a 5.0–5.2 machine created without
  // --volume does not cover the repos: doctor's machine-shares check says so.) Folders with a
  // space in their path need 5.5 (SPACES_IN_VOLUMES_VERSION).
  hyperv: {version: '5.0.0', reason: 'Hyper-V machines that share drive folders with `--volume C:\\…:/mnt/c/…`'},
}

/**
 * Machine volumes whose host path has a space break before Podman 5.5.0 (podman commit
 * 8e6ecb97c9, backported as d358e91817 into v5.5.0; issue #25500): Hyper-V fails to start, and on
 * macOS and Linux the share silently goes missing. WSL ignores volumes altogether.
 */
export const SPACES_IN_VOLUMES_VERSION = '5.5.0'

/** Podman 4.7–4.9 have applehv on Apple silicon only; Intel Macs get it from 5.0. */
const INTEL_APPLEHV_VERSION = '5.0.0'

/**
 * Podman's default machine share (containers/common pkg/config, as vendored by each Podman tag):
 * 4.0 shares nothing (`Volumes: []string{}`); 4.1 to 4.3 share `$HOME:$HOME`; from 4.4 macOS
 * shares /Users, /private and /var/folders (default_darwin.go), Linux still `$HOME`.
 */
export const HOME_SHARE_VERSION = '4.1.0'
export const MACOS_BROAD_SHARES_VERSION = '4.4.0'

export function platformName(platform: HostPlatform): string {
  return PLATFORM_NAMES[platform]
}

/** The provider Podman uses when nothing selects one, for this platform and Podman version. */
export function defaultProvider(platform: HostPlatform, podmanVersion: string | null): Provider {
  if (platform === 'windows') return 'wsl'
  if (platform === 'linux') return 'qemu'
  return podmanVersion !== null && majorOf(podmanVersion) < 5 ? 'qemu' : 'applehv'
}

/**
 * Providers this host can run with this Podman (version null: any version). libkrun is arm64-only
 * (Podman refuses it on Intel Macs); Podman 5 on macOS has no qemu.
 */
export function supportedProviders(host: Pick<HostFacts, 'platform' | 'arch'>, podmanVersion: string | null): Provider[] {
  return BY_PLATFORM[host.platform].filter((p) => {
    if (p === 'libkrun' && host.arch !== 'arm64') return false
    if (podmanVersion === null || host.platform !== 'macos') return true
    const five = majorOf(podmanVersion) >= 5
    if (p === 'applehv' && host.arch !== 'arm64' && !five) return false // 4.7–4.9: Apple silicon only
    return p === 'qemu' ? !five : p === 'libkrun' ? five : true
  })
}

/** Only WSL lets several machines run at once (shim/host.go RequireExclusiveActive). */
export function isExclusiveProvider(provider: Provider): boolean {
  return provider !== 'wsl'
}

/**
 * Exit 2 when the provider cannot run on this host at all (wrong OS, libkrun on Intel), with the
 * list that can.
 */
export function assertProviderOnPlatform(host: Pick<HostFacts, 'platform' | 'arch'>, machine: ProfileMachine, profilePath: string): void {
  const supported = supportedProviders(host, null)
  if (supported.includes(machine.provider)) return
  const why = machine.provider === 'libkrun' && host.platform === 'macos' ? ' (libkrun needs Apple silicon, arm64)' : ''
  throw usageError(
    'PROVIDER_UNSUPPORTED',
    `provider '${machine.provider}' is not supported on ${platformName(host.platform)}${why}; supported here: ${supported.join(', ')}.`,
    `set spec.machine.provider in ${profilePath} to one of: ${supported.join(', ')}`,
    {provider: machine.provider, platform: host.platform, arch: host.arch, supported},
  )
}

/**
 * With the Podman version known: exit 4 (PODMAN_TOO_OLD, naming the minimum) when a newer Podman
 * would support the provider, exit 2 when this Podman line dropped it (qemu on macOS from 5.0).
 */
export function assertProviderForVersion(host: Pick<HostFacts, 'platform' | 'arch'>, machine: ProfileMachine, podmanVersion: string, profilePath: string): void {
  const intelApplehv = machine.provider === 'applehv' && host.platform === 'macos' && host.arch !== 'arm64'
  const need = intelApplehv && !atLeast(podmanVersion, INTEL_APPLEHV_VERSION)
    ? {version: INTEL_APPLEHV_VERSION, reason: 'the applehv provider on an Intel Mac (Podman 4.7 to 4.9 have it on Apple silicon only)'}
    : MINIMUM[machine.provider]
  if (!atLeast(podmanVersion, need.version)) {
    throw prerequisiteMissing(
      'PODMAN_TOO_OLD',
      `Podman ${podmanVersion} is too old for ${need.reason}: it needs Podman ${need.version} or newer.`,
      `upgrade Podman to ${need.version} or newer${host.platform === 'macos' ? ' (`brew upgrade podman` or the installer from podman.io)' : host.platform === 'windows' ? ' (`winget upgrade RedHat.Podman`)' : ''}`,
      {minimumVersion: need.version, podmanVersion, provider: machine.provider},
    )
  }
  const supported = supportedProviders(host, podmanVersion)
  if (!supported.includes(machine.provider)) {
    throw usageError(
      'PROVIDER_UNSUPPORTED',
      `Podman ${podmanVersion} on ${platformName(host.platform)} has no '${machine.provider}' provider; supported: ${supported.join(', ')}.`,
      `set spec.machine.provider in ${profilePath} to one of: ${supported.join(', ')}`,
      {provider: machine.provider, platform: host.platform, podmanVersion, supported},
    )
  }
}

/**
 * The environment that selects the profile's provider: always CONTAINERS_MACHINE_PROVIDER=<provider>,
 * also when it is the platform's built-in default. Podman reads containers.conf `[machine] provider`
 * first (pkg/machine/provider/platform_*.go), and real setups write it: Podman Desktop writes
 * `provider = "libkrun"` on Apple silicon, the Windows installer writes
 * 99-podman-machine-provider.conf, and Podman 6 makes libkrun the macOS default. Without the
 * variable `podman machine list` would not show the profile's machine and the printed `init` would
 * create it on another provider. The platform and version are kept in the signature for callers;
 * they no longer change the answer.
 */
export function providerEnv(_platform: HostPlatform, provider: Provider, _podmanVersion: string | null): Record<string, string> {
  return {[PROVIDER_ENV]: provider}
}

/** Does this Podman mount machine volumes whose path has a space (see SPACES_IN_VOLUMES_VERSION)? */
export function spacesInVolumesWork(podmanVersion: string | null): boolean {
  return podmanVersion === null || atLeast(podmanVersion, SPACES_IN_VOLUMES_VERSION)
}

/** A share or --volume path Podman before 5.5 mangles: any whitespace in it. */
export function hasSpace(path: string): boolean {
  return /\s/.test(path)
}

/**
 * The refusal for machine volumes with a space on Podman < 5.5 (null when fine): Hyper-V would
 * fail to start and macOS/Linux would silently lose the share, so the repo would be missing in
 * the VM while everything looked fine. WSL ignores volumes, so it is never affected.
 */
export function volumeSpacesRefusal(host: Pick<HostFacts, 'platform'>, provider: Provider, podmanVersion: string | null, paths: readonly string[]): AgentMachineError | null {
  if (provider === 'wsl' || spacesInVolumesWork(podmanVersion)) return null
  const bad = paths.filter(hasSpace)
  if (bad.length === 0) return null
  const upgrade = host.platform === 'macos' ? ' (`brew upgrade podman` or the installer from podman.io)' : host.platform === 'windows' ? ' (`winget upgrade RedHat.Podman`)' : ''
  return prerequisiteMissing(
    'MACHINE_VOLUME_SPACES',
    `Podman ${podmanVersion} cannot share ${bad.map((p) => `"${p}"`).join(', ')} with the machine: a machine volume whose path has a space ${provider === 'hyperv' ? 'makes the Hyper-V machine fail to start' : 'silently goes missing in the VM'} before Podman ${SPACES_IN_VOLUMES_VERSION} (podman#25500).`,
    `upgrade Podman to ${SPACES_IN_VOLUMES_VERSION} or newer${upgrade}, or move the repo to a path without spaces and allow it with \`sourceosctl agent-machine init --repo <new path> --force\``,
    {paths: bad, podmanVersion, minimumVersion: SPACES_IN_VOLUMES_VERSION, provider},
  )
}
