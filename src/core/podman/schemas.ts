/**
 * Lenient zod schemas for Podman's JSON output. Podman adds, renames and drops fields between
 * releases (4.x ConfigPath/Image vs 5.x ConfigDir/Rosetta, Swap from 5.6, Client in info from 5.5),
 * so every object is loose (extra keys kept, not refused) and every field we do not strictly need is
 * optional. Only the shape we read is described here; see PODMAN-FACTS.md for the full structs.
 */
import {z} from 'zod'

/** libpod define.Version, as in `podman version` (Client/Server) and `podman info` (.version, .Client). */
export const RawBuildSchema = z.looseObject({
  APIVersion: z.string().optional(),
  Version: z.string(),
  OsArch: z.string().optional(),
  Os: z.string().optional(),
})

/** `podman version --format json`: Server appears only when the client is remote. */
export const RawVersionReportSchema = z.looseObject({
  Client: RawBuildSchema,
  Server: RawBuildSchema.nullish(),
})

/** `podman info --format json` (define.Info), only the keys a governed workspace needs. */
export const RawInfoSchema = z.looseObject({
  host: z.looseObject({
    arch: z.string().optional(),
    os: z.string().optional(),
    cgroupVersion: z.string().optional(),
    ociRuntime: z.looseObject({name: z.string().optional(), version: z.string().optional()}).nullish(),
    // 4.x omits `exists` when false (omitempty); 5.3+ machines report a unix:// URL.
    remoteSocket: z.looseObject({path: z.string().optional(), exists: z.boolean().optional()}).nullish(),
    serviceIsRemote: z.boolean().optional(),
    security: z.looseObject({rootless: z.boolean().optional(), selinuxEnabled: z.boolean().optional()}).optional(),
  }),
  store: z.looseObject({graphDriverName: z.string().optional()}).nullish(),
  version: RawBuildSchema.nullish(),
  /** Top-level client build, remote clients only, v5.5.0+. */
  Client: RawBuildSchema.nullish(),
})

/** Memory/DiskSize in `machine list` are decimal strings of bytes; accept numbers too. */
const ByteCount = z.union([z.string(), z.number()])

/** One entry of `podman machine list --format json` (entities.ListReporter). */
export const RawMachineListEntrySchema = z.looseObject({
  Name: z.string(),
  Default: z.boolean().optional(),
  Running: z.boolean().optional(),
  Starting: z.boolean().optional(),
  LastUp: z.string().optional(),
  VMType: z.string().optional(),
  CPUs: z.number().optional(),
  Memory: ByteCount.optional(),
  DiskSize: ByteCount.optional(),
  /** The SSH port on the host; machine connections' URIs carry it (ssh://core@127.0.0.1:<Port>/…). */
  Port: z.number().optional(),
})

export const RawMachineListSchema = z.array(RawMachineListEntrySchema)

const PathHolder = z.looseObject({Path: z.string()})

/** One entry of `podman machine inspect` (machine.InspectInfo, 4.x and 5.x). */
export const RawMachineInspectEntrySchema = z.looseObject({
  Name: z.string(),
  State: z.string().optional(),
  Rootful: z.boolean().optional(),
  UserModeNetworking: z.boolean().optional(),
  Resources: z
    .looseObject({CPUs: z.number().optional(), DiskSize: z.number().optional(), Memory: z.number().optional()})
    .optional(),
  // 4.x WSL: PodmanSocket is null. PodmanPipe is set only on Windows.
  ConnectionInfo: z.looseObject({PodmanSocket: PathHolder.nullish(), PodmanPipe: PathHolder.nullish()}).nullish(),
})

export const RawMachineInspectSchema = z.array(RawMachineInspectEntrySchema)

/** One entry of `podman image inspect --format json` (pkg/inspect ImageData). */
export const RawImageInspectEntrySchema = z.looseObject({
  Id: z.string(),
  Digest: z.string().optional(),
  RepoTags: z.array(z.string()).nullish(),
  RepoDigests: z.array(z.string()).nullish(),
  Created: z.string().optional(),
  Architecture: z.string().optional(),
  Os: z.string().optional(),
  Labels: z.record(z.string(), z.string()).nullish(),
  Config: z.looseObject({Env: z.array(z.string()).nullish()}).nullish(),
})

export const RawImageInspectSchema = z.array(RawImageInspectEntrySchema)

export type RawBuild = z.infer<typeof RawBuildSchema>
export type RawVersionReport = z.infer<typeof RawVersionReportSchema>
export type RawInfo = z.infer<typeof RawInfoSchema>
export type RawMachineListEntry = z.infer<typeof RawMachineListEntrySchema>
export type RawMachineInspectEntry = z.infer<typeof RawMachineInspectEntrySchema>
export type RawImageInspectEntry = z.infer<typeof RawImageInspectEntrySchema>
