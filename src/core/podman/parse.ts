/**
 * Pure conversions from Podman's raw JSON (validated by schemas.ts) to the adapter's own types.
 * Unit mix-ups between versions are resolved here, in one place.
 */
import type {z} from 'zod'
import type {
  RawBuild,
  RawImageInspectEntry,
  RawInfo,
  RawMachineInspectEntry,
  RawMachineListEntry,
  RawVersionReport,
} from './schemas.js'
import type {
  ImageDetails,
  MachineDetails,
  MachineRunState,
  MachineSummary,
  PodmanBuild,
  PodmanInfo,
  PodmanVersionInfo,
} from './types.js'

const MIB = 1024 * 1024
const GIB = 1024 * MIB
/** No machine has a million MiB of memory or a million GiB of disk: above this, 4.x WSL sent bytes. */
const BYTES_THRESHOLD = 1_000_000
/** Go's zero time.Time: "never". */
const ZERO_TIME_PREFIX = '0001-01-01'
const IMAGE_ID = /^[a-f0-9]{64}$/

export type JsonParse<T> = {ok: true; value: T} | {ok: false; reason: string}

/** JSON.parse + schema check; never throws. */
export function parseJsonOutput<S extends z.ZodType>(stdout: string, schema: S): JsonParse<z.infer<S>> {
  const text = stdout.trim()
  if (!text) return {ok: false, reason: 'empty output'}
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (error) {
    return {ok: false, reason: `not JSON (${error instanceof Error ? error.message : String(error)})`}
  }
  const checked = schema.safeParse(data)
  if (checked.success) return {ok: true, value: checked.data}
  const issue = checked.error.issues[0]
  const where = issue?.path.length ? issue.path.join('.') : '(root)'
  return {ok: false, reason: `unexpected shape at ${where}: ${issue?.message ?? 'invalid'}`}
}

/** Podman 4.x/5.x report 0 for values they cannot read (e.g. 4.x WSL while stopped): that is "unknown". */
function positiveOrNull(value: number | null | undefined): number | null {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : null
}

function byteCount(value: string | number | undefined): number | null {
  if (value === undefined) return null
  const n = typeof value === 'number' ? value : /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN
  return positiveOrNull(n)
}

function timeOrNull(value: string | undefined): string | null {
  return value && !value.startsWith(ZERO_TIME_PREFIX) ? value : null
}

export function toBuild(raw: RawBuild): PodmanBuild {
  const [osFromPair, archFromPair] = raw.OsArch?.split('/') ?? []
  return {
    version: raw.Version,
    apiVersion: raw.APIVersion || null,
    os: raw.Os || osFromPair || null,
    arch: archFromPair || null,
  }
}

export function toVersionInfo(raw: RawVersionReport): PodmanVersionInfo {
  const client = toBuild(raw.Client)
  const server = raw.Server ? toBuild(raw.Server) : null
  // macOS and Windows clients always talk to a machine; on Linux only a Server block says so.
  const remote = server !== null || (client.os !== null && client.os !== 'linux')
  return {client, server, remote}
}

/** "runc version 1.1.5+ds1\ncommit: …" → "1.1.5+ds1"; "crun version 1.24\n…" → "1.24". */
export function runtimeVersion(text: string | undefined): string | null {
  const first = text?.split('\n')[0]?.trim()
  if (!first) return null
  return /\bversion\s+(\S+)/i.exec(first)?.[1] ?? first
}

export function stripUnixScheme(path: string): string {
  return path.replace(/^unix:\/\//, '')
}

export function toInfo(raw: RawInfo): PodmanInfo {
  const {host} = raw
  const socketPath = host.remoteSocket?.path
  const runtimeName = host.ociRuntime?.name
  return {
    rootless: host.security?.rootless ?? false,
    remote: host.serviceIsRemote ?? Boolean(raw.Client),
    os: host.os || 'unknown',
    arch: host.arch || 'unknown',
    cgroupVersion: host.cgroupVersion || null,
    ociRuntime: runtimeName ? {name: runtimeName, version: runtimeVersion(host.ociRuntime?.version)} : null,
    remoteSocket: socketPath ? {path: stripUnixScheme(socketPath), exists: host.remoteSocket?.exists ?? false} : null,
    selinuxEnabled: host.security?.selinuxEnabled ?? false,
    graphDriver: raw.store?.graphDriverName || null,
    serverVersion: raw.version?.Version || null,
  }
}

export function toMachineSummary(raw: RawMachineListEntry): MachineSummary {
  // Some versions mark the default machine with a trailing "*" on its name.
  const starred = raw.Name.endsWith('*')
  return {
    name: starred ? raw.Name.slice(0, -1) : raw.Name,
    default: Boolean(raw.Default) || starred,
    running: Boolean(raw.Running),
    starting: Boolean(raw.Starting),
    vmType: raw.VMType || null,
    cpus: positiveOrNull(raw.CPUs),
    memoryBytes: byteCount(raw.Memory),
    diskBytes: byteCount(raw.DiskSize),
    lastUp: timeOrNull(raw.LastUp),
    port: positiveOrNull(raw.Port),
  }
}

function toRunState(state: string | undefined): MachineRunState {
  return state === 'running' || state === 'stopped' || state === 'starting' ? state : 'unknown'
}

/** Inspect memory is MiB, except 4.x WSL which sends bytes. */
export function memoryMiB(value: number | undefined): number | null {
  const n = positiveOrNull(value)
  if (n === null) return null
  return n > BYTES_THRESHOLD ? Math.round(n / MIB) : n
}

/** Inspect disk size is GiB, except 4.x WSL which sends bytes (rounded to 0.1 GiB). */
export function diskGiB(value: number | undefined): number | null {
  const n = positiveOrNull(value)
  if (n === null) return null
  return n > BYTES_THRESHOLD ? Math.round((n / GIB) * 10) / 10 : n
}

export function toMachineDetails(raw: RawMachineInspectEntry): MachineDetails {
  const socket = raw.ConnectionInfo?.PodmanSocket?.Path
  return {
    name: raw.Name,
    state: toRunState(raw.State),
    rootful: raw.Rootful ?? false,
    cpus: positiveOrNull(raw.Resources?.CPUs),
    memoryMiB: memoryMiB(raw.Resources?.Memory),
    diskGiB: diskGiB(raw.Resources?.DiskSize),
    socketPath: socket ? stripUnixScheme(socket) : null,
    pipe: raw.ConnectionInfo?.PodmanPipe?.Path || null,
    userModeNetworking: raw.UserModeNetworking ?? null,
  }
}

/** Normalises the image ID to 64 bare hex characters, or null when it is not one. */
export function bareImageId(id: string): string | null {
  const bare = id.replace(/^sha256:/, '').toLowerCase()
  return IMAGE_ID.test(bare) ? bare : null
}

export function toImageDetails(raw: RawImageInspectEntry, id: string): ImageDetails {
  return {
    id,
    digest: raw.Digest || null,
    repoTags: raw.RepoTags ?? [],
    repoDigests: raw.RepoDigests ?? [],
    created: raw.Created || null,
    architecture: raw.Architecture || null,
    os: raw.Os || null,
    labels: raw.Labels ?? {},
    env: raw.Config?.Env ?? [],
  }
}
