/**
 * doctor's two machine-layer checks (the VM is the first wall between the agent and the host):
 *
 *  - machine-shares:   do the machine's shared folders cover every allowlisted repo path, at the
 *                      path `podman run -v` will name inside the VM? (fail: run cannot mount it)
 *  - machine-exposure: does the machine share more than the allowlist — the whole home folder,
 *                      /Users, a drive root (Podman's defaults)? (warn, with the init command that
 *                      narrows it)
 *
 * Unknown shares (unreadable config, an inspect failure, a timeout) are a warning that says why.
 */
import type {Check, CheckStatus} from '../doctor/report.js'
import type {Runner} from '../exec.js'
import type {HostFacts} from '../host/facts.js'
import {PodmanAdapter} from '../podman/adapter.js'
import {MachineLifecycle} from '../podman/machine-lifecycle.js'
import type {AgentMachineProfile, ProfileMachine} from '../profile/schema.js'
import type {Timed} from '../util/timeout.js'
import {hostCommandText, recommendInit} from './init-command.js'
import {defaultProvider, hasSpace, providerEnv, SPACES_IN_VOLUMES_VERSION, spacesInVolumesWork, volumeSpacesRefusal, type Provider} from './providers.js'
import {coverage, exposedShares, readMachineShares, type SharesInfo} from './shares.js'
import {machineRoots, realRootsDeps, worktreeClonesRoot, type MachineRoot, type RootsDeps, type RootsResult} from './vm-paths.js'

export interface SharesProbe {
  name: string
  provider: Provider
  machine: ProfileMachine | null
  podmanVersion: string | null
  shares: SharesInfo
  /** The folders the profile needs shared; null without a profile, or with the reason they could not be resolved. */
  roots: RootsResult | null
  rootsError: string | null
  /** Set when the shares were not looked at, e.g. as root on Linux (podman machine refuses root). */
  skipped: string | null
  /** The state dir's folder for `--worktree` clones, which the machine should share too (null: not applicable). */
  clones?: MachineRoot | null
}

export interface SharesProbeOptions {
  runner: Runner
  host: HostFacts
  profile: AgentMachineProfile | null
  machineName: string
  timeoutMs: number
  rootsDeps?: RootsDeps
  cwd: string
  readFile?: (path: string) => Promise<string>
}

export async function probeMachineShares(opts: SharesProbeOptions): Promise<SharesProbe> {
  const {host} = opts
  const machine = opts.profile?.spec.machine ?? null
  if (host.platform === 'linux' && host.isRoot) {
    const provider = machine?.provider ?? 'qemu'
    return {name: opts.machineName, provider, machine, podmanVersion: null, shares: {status: 'unknown', reason: 'not read as root'}, roots: null, rootsError: null, skipped: 'podman machine does not run as root (see the machine check)'}
  }
  const cli = await new PodmanAdapter(opts.runner, host, {timeoutMs: opts.timeoutMs}).cliVersion()
  const podmanVersion = cli.ok ? cli.value : null
  const provider = machine?.provider ?? defaultProvider(host.platform, podmanVersion)
  const lifecycle = new MachineLifecycle(opts.runner, host, {env: providerEnv(host.platform, provider, podmanVersion), timeoutMs: opts.timeoutMs})
  let roots: RootsResult | null = null
  let rootsError: string | null = null
  const readRoots = async (): Promise<void> => {
    if (!opts.profile) return
    try {
      roots = await machineRoots(opts.profile.spec.mounts, host, opts.rootsDeps ?? realRootsDeps(opts.cwd))
    } catch (error) {
      rootsError = error instanceof Error ? error.message : String(error)
    }
  }
  const readClones = async (): Promise<MachineRoot | null> => {
    if (!opts.profile || provider === 'wsl') return null
    return worktreeClonesRoot(host, opts.rootsDeps ?? realRootsDeps(opts.cwd)).catch(() => null)
  }
  // Together, so a failing shares read is never a rejection nobody is listening to yet.
  const [shares, , clones] = await Promise.all([readMachineShares({lifecycle, name: opts.machineName, provider, readFile: opts.readFile}), readRoots(), readClones()])
  return {name: opts.machineName, provider, machine, podmanVersion, shares, roots, rootsError, skipped: null, clones}
}

function check(id: string, title: string, status: CheckStatus, required: boolean, detail: string, fix: string | null, durationMs: number): Check {
  return {id, title, status, required, detail, fix: status === 'ok' || status === 'skip' ? null : fix, durationMs}
}

/** `podman machine rm <name>` then the narrowed init command, or how to get one. */
function recreateFix(p: SharesProbe, host: HostFacts, provider: Provider = p.provider): string {
  if (!p.machine || !p.roots) {
    return 'create a profile that allowlists your repos (`sourceosctl agent-machine init --repo <path>`); `sourceosctl agent-machine start` then prints the narrowed `podman machine init` command'
  }
  const clones = p.clones && provider !== 'wsl' && (spacesInVolumesWork(p.podmanVersion) || !hasSpace(p.clones.hostPath)) ? [p.clones] : []
  const rec = recommendInit({host, machine: {...p.machine, provider}, roots: [...p.roots.roots, ...clones], podmanVersion: p.podmanVersion})
  const init = host.platform === 'windows' && rec.powershell ? rec.powershell : rec.text
  const rm = hostCommandText(host, ['podman', 'machine', 'rm', p.name], rec.env)
  return provider === p.provider
    ? `recreate the machine (this deletes its disk and images, not your files): \`${rm}\`, then \`${init}\``
    : `create a ${provider} machine instead: \`${init}\``
}

function notProbed(id: string, title: string, probe: Timed<SharesProbe> | null): Check | null {
  if (probe === null) return check(id, title, 'skip', false, 'not applicable: native Linux runs containers without a machine', null, 0)
  if (probe.status === 'timeout') return check(id, title, 'warn', false, 'could not read the machine\'s shared folders within the deadline', 'rerun with a longer --timeout', probe.durationMs)
  if (probe.status === 'error') return check(id, title, 'warn', false, `could not read the machine's shared folders: ${probe.error.message}`, 'check `podman machine inspect` by hand', probe.durationMs)
  if (probe.value.skipped) return check(id, title, 'skip', false, probe.value.skipped, null, probe.durationMs)
  if (probe.value.shares.status === 'absent') {
    return check(id, title, 'skip', false, 'the machine does not exist yet; `sourceosctl agent-machine start` prints the init command that shares only the allowlisted folders', null, probe.durationMs)
  }
  return null
}

function list(paths: readonly string[]): string {
  return paths.length === 0 ? 'nothing' : paths.join(', ')
}

export function machineSharesCheck(probe: Timed<SharesProbe> | null, host: HostFacts): Check {
  const id = 'machine-shares'
  const title = 'Machine shares cover the allowlisted repos'
  const early = notProbed(id, title, probe)
  if (early || probe === null || probe.status !== 'done') return early as Check
  const p = probe.value
  const ms = probe.durationMs
  if (p.rootsError) return check(id, title, 'warn', false, `cannot resolve the allowlisted mounts: ${p.rootsError}`, 'fix the mount checks above first', ms)
  if (!p.roots || p.roots.roots.length === 0) return check(id, title, 'skip', false, 'no allowlisted mounts to check', null, ms)
  const needed = p.roots.roots
  if (p.shares.status === 'all-drives') {
    return check(id, title, 'ok', true, `WSL mounts every drive under /mnt/<drive>, so ${list(needed.map((r) => r.vmPath))} ${needed.length === 1 ? 'is' : 'are'} visible to the VM`, null, ms)
  }
  if (p.shares.status === 'unknown') {
    return check(id, title, 'warn', false, `cannot tell which folders machine ${p.name} shares: ${p.shares.reason}`, `look at \`podman machine inspect ${p.name}\` and its config file; if a repo is not shared, ${recreateFix(p, host)}`, ms)
  }
  if (p.shares.status !== 'known') return check(id, title, 'skip', false, 'no machine', null, ms)
  // Before Podman 5.5 a share whose path has a space is silently not mounted (Hyper-V: the machine
  // does not start): it covers nothing, whatever the config says.
  const spaced = p.provider !== 'wsl' && !spacesInVolumesWork(p.podmanVersion) ? p.shares.shares.filter((s) => hasSpace(s.source) || hasSpace(s.target)) : []
  const working = p.shares.shares.filter((s) => !spaced.includes(s))
  const {uncovered} = coverage(needed, working, host)
  const shared = p.shares.shares.map((s) => (s.source === s.target ? s.source : `${s.source} → ${s.target}`))
  const lostToSpaces = uncovered.filter((r) => coverage([r], p.shares.status === 'known' ? p.shares.shares : [], host).uncovered.length === 0)
  if (lostToSpaces.length > 0) {
    const refusal = volumeSpacesRefusal(host, p.provider, p.podmanVersion, spaced.map((s) => s.source))
    return check(
      id,
      title,
      'fail',
      true,
      `machine ${p.name} shares ${list(spaced.map((s) => `"${s.source}"`))}, but Podman ${p.podmanVersion} does not mount a machine volume whose path has a space (fixed in ${SPACES_IN_VOLUMES_VERSION}), so ${list(lostToSpaces.map((r) => r.hostPath))} ${lostToSpaces.length === 1 ? 'is' : 'are'} missing in the VM`,
      refusal?.fix ?? `upgrade Podman to ${SPACES_IN_VOLUMES_VERSION} or newer`,
      ms,
    )
  }
  if (uncovered.length === 0) {
    // `run/shell --worktree` mount a clone from the state dir's worktrees folder: without that share
    // only --worktree fails, so it is a warning.
    if (p.clones && coverage([p.clones], working, host).uncovered.length > 0) {
      const why = hasSpace(p.clones.hostPath) && !spacesInVolumesWork(p.podmanVersion)
        ? `; that path has a space, which Podman ${p.podmanVersion} cannot share (fixed in ${SPACES_IN_VOLUMES_VERSION}): upgrade Podman, or set SOURCEOSCTL_STATE_DIR to a folder without spaces`
        : ''
      return check(
        id,
        title,
        'warn',
        false,
        `machine ${p.name} shares ${list(shared)}, which covers every allowlisted repo, but not ${p.clones.hostPath}, where run/shell --worktree put their clones: --worktree will fail on this machine${why}`,
        why ? `upgrade Podman to ${SPACES_IN_VOLUMES_VERSION} or newer, or set SOURCEOSCTL_STATE_DIR to a folder without spaces; then ${recreateFix(p, host)}` : recreateFix(p, host),
        ms,
      )
    }
    return check(id, title, 'ok', true, `machine ${p.name} shares ${list(shared)}, which covers every allowlisted repo${p.clones ? ' and the --worktree clones folder' : ''}`, null, ms)
  }
  return check(
    id,
    title,
    'fail',
    true,
    `machine ${p.name} does not share ${list(uncovered.map((r) => (r.hostPath === r.vmPath ? r.hostPath : `${r.hostPath} at ${r.vmPath}`)))} (it shares ${list(shared)}), so the container cannot mount ${uncovered.length === 1 ? 'it' : 'them'}`,
    recreateFix(p, host),
    ms,
  )
}

export function machineExposureCheck(probe: Timed<SharesProbe> | null, host: HostFacts): Check {
  const id = 'machine-exposure'
  const title = 'Machine shares no more than the allowlist (not home or /Users)'
  const early = notProbed(id, title, probe)
  if (early || probe === null || probe.status !== 'done') return early as Check
  const p = probe.value
  const ms = probe.durationMs
  if (p.shares.status === 'all-drives') {
    const fix = p.machine && p.roots
      ? `WSL cannot narrow this (it ignores --volume); the container still gets only the allowlisted mounts. For a VM that shares only them, ${recreateFix(p, host, 'hyperv')} (Podman 5.0+, 5.5+ for folders with spaces; administrator terminal)`
      : 'WSL cannot narrow this (it ignores --volume); a Hyper-V machine created with --volume for each repo shares only those'
    return check(id, title, 'warn', false, `WSL machine ${p.name} sees every Windows drive under /mnt/<drive>, your whole home folder included`, fix, ms)
  }
  if (p.shares.status === 'unknown') {
    return check(id, title, 'warn', false, `cannot tell which folders machine ${p.name} shares: ${p.shares.reason}`, 'look at `podman machine inspect` and the machine\'s config file; Podman\'s default shares the whole home folder', ms)
  }
  if (p.shares.status !== 'known') return check(id, title, 'skip', false, 'no machine', null, ms)
  // The --worktree clones folder is shared on purpose (each clone is a mountable folder by policy).
  const exposed = exposedShares(p.shares.shares, host).filter((e) => !(p.clones && e.share.source === p.clones.hostPath))
  if (exposed.length === 0) {
    return check(id, title, 'ok', false, `machine ${p.name} shares only ${list(p.shares.shares.map((s) => s.source))}`, null, ms)
  }
  return check(
    id,
    title,
    'warn',
    false,
    `machine ${p.name} shares ${exposed.map((e) => `${e.share.source} (${e.reason})`).join('; ')}: the VM, and anything that escapes the container, can read it`,
    `narrow it to the allowlisted folders: ${recreateFix(p, host)}`,
    ms,
  )
}
