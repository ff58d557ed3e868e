/**
 * After `podman create`, before anything runs in the container: the container's mounts must be
 * exactly the planned binds — nothing added (an image VOLUME, a containers.conf default mount),
 * nothing missing, no source or mode changed. Pure, over `podman container inspect` JSON.
 */
import {z} from 'zod'

import type {LaunchMount} from './container-spec.js'

const InspectMountSchema = z.looseObject({
  Type: z.string(),
  Source: z.string().optional().default(''),
  Destination: z.string(),
  RW: z.boolean().optional().default(true),
})

const InspectSchema = z.array(z.looseObject({Mounts: z.array(InspectMountSchema).nullish()})).min(1)

export interface MountVerification {
  ok: boolean
  problems: string[]
  /** The mounts as Podman reports them. */
  actual: Array<{type: string; source: string; destination: string; rw: boolean}>
}

export function verifyContainerMounts(inspectStdout: string, planned: readonly LaunchMount[]): MountVerification {
  let parsed: z.infer<typeof InspectSchema>
  try {
    parsed = InspectSchema.parse(JSON.parse(inspectStdout))
  } catch (error) {
    return {ok: false, problems: [`cannot read podman container inspect output: ${(error as Error).message.split('\n')[0]}`], actual: []}
  }
  const actual = (parsed[0]?.Mounts ?? []).map((m) => ({type: m.Type, source: m.Source, destination: m.Destination, rw: m.RW}))
  const problems: string[] = []
  for (const m of actual) {
    const want = planned.find((p) => p.target === m.destination)
    if (!want) {
      problems.push(`unexpected ${m.type} mount at ${m.destination} (source ${m.source || 'n/a'})`)
      continue
    }
    if (m.type !== 'bind') problems.push(`${m.destination} is a ${m.type} mount, planned a bind`)
    if (m.source !== want.podmanSource) problems.push(`${m.destination} comes from ${m.source}, planned ${want.podmanSource}`)
    if (m.rw !== (want.mode === 'rw')) problems.push(`${m.destination} is ${m.rw ? 'read-write' : 'read-only'}, planned ${want.mode}`)
  }
  for (const p of planned) {
    if (!actual.some((m) => m.destination === p.target)) problems.push(`planned mount ${p.target} is missing`)
  }
  return {ok: problems.length === 0, problems, actual}
}
