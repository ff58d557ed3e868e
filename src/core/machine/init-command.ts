/**
 * The exact `podman machine init` command recommended for a profile's machine. `start` prints it
 * when the machine does not exist (and never runs it); `doctor` shows it to narrow a machine that
 * shares too much. Pure: host facts, the machine spec, the resolved roots and the Podman version in;
 * argv, environment and ready-to-paste text out.
 */
import type {HostFacts} from '../host/facts.js'
import {formatArgv} from '../plan/plan.js'
import type {ProfileMachine} from '../profile/schema.js'
import {defaultProvider, HOME_SHARE_VERSION, MACOS_BROAD_SHARES_VERSION, PROVIDER_ENV, providerEnv} from './providers.js'
import {atLeast} from './versions.js'
import type {MachineRoot} from './vm-paths.js'

export interface InitVolume {
  hostPath: string
  vmPath: string
  /** The `--volume` value: `SRC:DST`. */
  spec: string
}

export interface InitRecommendation {
  /** argv without the environment, e.g. ['podman', 'machine', 'init', '--cpus', '4', …, 'sourceos-agent']. */
  argv: string[]
  /** Environment the command needs (the provider selection), possibly empty. */
  env: Record<string, string>
  /** POSIX shell form: `CONTAINERS_MACHINE_PROVIDER=libkrun podman machine init …`. */
  text: string
  /** PowerShell form on Windows hosts, else null. */
  powershell: string | null
  /** The folders the VM will share (empty on WSL, which ignores --volume). */
  volumes: InitVolume[]
  /** What the user should know about this command, one sentence each. */
  notes: string[]
}

export interface InitRequest {
  host: Pick<HostFacts, 'platform' | 'homeDir'>
  machine: ProfileMachine
  roots: readonly MachineRoot[]
  /** Podman client version; decides which provider is the default. */
  podmanVersion: string | null
  /** The podman program (SOURCEOSCTL_PODMAN or `podman`). */
  binary?: string
}

/** What Podman shares when init gets no --volume, by platform and version (providers.ts). */
export function defaultShareText(platform: HostFacts['platform'], home: string, podmanVersion: string | null): string {
  if (platform === 'windows') return `your home folder (${home}) and, from Podman 5.3, the whole drive`
  if (podmanVersion !== null && !atLeast(podmanVersion, HOME_SHARE_VERSION)) return 'nothing (Podman 4.0 shares no folder by default)'
  if (platform === 'macos' && (podmanVersion === null || atLeast(podmanVersion, MACOS_BROAD_SHARES_VERSION))) return '/Users, /private and /var/folders'
  return `your home folder (${home})`
}

export function recommendInit(req: InitRequest): InitRecommendation {
  const {host, machine} = req
  const binary = req.binary ?? 'podman'
  const env = providerEnv(host.platform, machine.provider, req.podmanVersion)
  const wsl = machine.provider === 'wsl'
  const volumes: InitVolume[] = wsl ? [] : req.roots.map((r) => ({hostPath: r.hostPath, vmPath: r.vmPath, spec: `${r.hostPath}:${r.vmPath}`}))

  const argv = [
    binary, 'machine', 'init',
    // WSL ignores all three (WSL 2 sizes every distribution from .wslconfig; pkg/machine/wsl), so
    // they are not printed for it: a flag that does nothing would read as a promise.
    ...(wsl ? [] : ['--cpus', String(machine.cpus), '--memory', String(machine.memoryMiB), '--disk-size', String(machine.diskGiB)]),
    ...(machine.rootful ? ['--rootful'] : []),
    ...volumes.flatMap((v) => ['--volume', v.spec]),
    machine.name,
  ]
  const text = commandText(argv, env)
  const powershell = host.platform === 'windows' ? powershellText(argv, env) : null

  const notes: string[] = []
  if (wsl) {
    notes.push(
      `WSL ignores --cpus, --memory and --disk-size (every WSL 2 distribution shares the limits in %USERPROFILE%\\.wslconfig), so the profile's cpus: ${machine.cpus}, memoryMiB: ${machine.memoryMiB} and diskGiB: ${machine.diskGiB} are not passed; set processors= and memory= under [wsl2] in .wslconfig instead.`,
    )
    notes.push(
      'WSL ignores --volume: every Windows drive is visible inside the VM under /mnt/<drive>. The container still gets only the allowlisted mounts, but the VM layer narrows nothing; for a VM that shares only the allowlisted folders use provider: hyperv (Podman 5.0+, 5.5+ for folders with spaces; administrator terminal).',
    )
  } else if (volumes.length > 0) {
    notes.push(`The --volume flags replace Podman's default share of ${defaultShareText(host.platform, host.homeDir, req.podmanVersion)}: the VM sees only the allowlisted folders${host.platform === 'windows' ? ' (C:\\x appears at /mnt/c/x, where `podman run -v` looks)' : ', at the same paths'}.`)
  } else {
    notes.push(`The profile allowlists no folders, so Podman would share its default ${defaultShareText(host.platform, host.homeDir, req.podmanVersion)}; add a repo first (\`sourceosctl agent-machine init --repo <path>\`).`)
  }
  if (env[PROVIDER_ENV]) {
    const builtIn = defaultProvider(host.platform, req.podmanVersion)
    notes.push(
      `${PROVIDER_ENV}=${machine.provider} selects the ${machine.provider} provider${builtIn === machine.provider ? ` (Podman's built-in default here, but a containers.conf [machine] provider setting, as Podman Desktop and the Windows installer write, would override it)` : ` (the default here is ${builtIn})`}; use it for every \`podman machine\` command on this machine.`,
    )
  }
  if (machine.provider === 'hyperv') notes.push('Hyper-V needs an administrator terminal for every `podman machine` command on Podman 5.1 to 5.8 (list and inspect too, so also for `sourceosctl agent-machine start` and `doctor`).')
  return {argv, env, text, powershell, volumes, notes}
}

/** The shell text of a command with its environment, POSIX form (as plans print it). */
export function commandText(argv: readonly string[], env: Record<string, string>): string {
  return [...Object.entries(env).map(([k, v]) => `${k}=${v}`), formatArgv(argv)].join(' ')
}

/** The same in PowerShell: `$env:NAME = 'value'; podman …`. */
export function powershellText(argv: readonly string[], env: Record<string, string>): string {
  return [...Object.entries(env).map(([k, v]) => `$env:${k} = '${v.replace(/'/g, "''")}';`), argv.map(psQuote).join(' ')].join(' ')
}

/** A command for the user to type in this host's usual shell (PowerShell on Windows). */
export function hostCommandText(host: Pick<HostFacts, 'platform'>, argv: readonly string[], env: Record<string, string>): string {
  return host.platform === 'windows' ? powershellText(argv, env) : commandText(argv, env)
}

/** PowerShell single-quoting for display. */
export function psQuote(arg: string): string {
  if (/^[A-Za-z0-9_@%+=:,./\\-]+$/.test(arg)) return arg
  return `'${arg.replace(/'/g, "''")}'`
}
