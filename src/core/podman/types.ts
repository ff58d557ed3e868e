/**
 * What the Podman adapter returns. Failures are values, not exceptions: `doctor` reports every one
 * of them, and commands turn the ones they cannot live with into an AgentMachineError.
 */

export type PodmanFailureKind =
  | 'not-installed'
  | 'timeout'
  | 'machine-root-refused'
  /** Hyper-V on Podman 5.1–5.8: every `podman machine` command needs an administrator terminal. */
  | 'machine-needs-admin'
  | 'connection-failed'
  | 'machine-missing'
  | 'image-missing'
  | 'failed'
  | 'unparseable'

export interface PodmanFailure {
  kind: PodmanFailureKind
  /** What happened, one line. */
  message: string
  /** What to do about it, one sentence. */
  fix: string
  stderr: string
  exitCode: number | null
}

export type PodmanResult<T> = {ok: true; value: T} | {ok: false; failure: PodmanFailure}

export interface PodmanBuild {
  version: string
  apiVersion: string | null
  os: string | null
  arch: string | null
}

export interface PodmanVersionInfo {
  client: PodmanBuild
  /** The service's build; present only when the client talks to a remote service (machine). */
  server: PodmanBuild | null
  remote: boolean
}

export interface PodmanInfo {
  rootless: boolean
  /** The client talks to a service elsewhere (a machine, CONTAINER_HOST, --remote). */
  remote: boolean
  /** The service's OS and arch (inside the machine when remote). */
  os: string
  arch: string
  cgroupVersion: string | null
  ociRuntime: {name: string; version: string | null} | null
  /** The service's API socket, without any unix:// prefix. */
  remoteSocket: {path: string; exists: boolean} | null
  selinuxEnabled: boolean
  graphDriver: string | null
  serverVersion: string | null
}

export interface MachineSummary {
  name: string
  default: boolean
  running: boolean
  starting: boolean
  vmType: string | null
  cpus: number | null
  memoryBytes: number | null
  diskBytes: number | null
  /** RFC 3339; null when the machine has never been up (Podman's zero time). */
  lastUp: string | null
  /** The machine's SSH port on the host (its connections' URIs name it); null when not reported. */
  port?: number | null
}

export type MachineRunState = 'running' | 'stopped' | 'starting' | 'unknown'

export interface MachineDetails {
  name: string
  state: MachineRunState
  rootful: boolean
  cpus: number | null
  memoryMiB: number | null
  diskGiB: number | null
  /** The API socket on the host side; null when Podman does not say (4.x WSL). */
  socketPath: string | null
  /** Windows named pipe, e.g. \\.\pipe\podman-machine-default. */
  pipe: string | null
  userModeNetworking: boolean | null
}

export interface ImageDetails {
  /** 64 hex characters, no algorithm prefix. */
  id: string
  digest: string | null
  repoTags: string[]
  repoDigests: string[]
  created: string | null
  architecture: string | null
  os: string | null
  /** Image labels (OCI annotations such as the tools' sandbox settings). */
  labels: Record<string, string>
  /** The image's own environment (Config.Env, "NAME=value"): the only variables a container may have beyond the plan's. */
  env: string[]
}

export type MachineStateKind =
  | 'running'
  | 'stopped'
  | 'starting'
  | 'absent'
  | 'not-applicable'
  | 'unsupported-root'
  | 'unknown'

export interface MachineState {
  state: MachineStateKind
  /** One line for humans. */
  detail: string
  /** One sentence, or null when nothing needs doing. */
  fix: string | null
  machine: MachineSummary | null
}
