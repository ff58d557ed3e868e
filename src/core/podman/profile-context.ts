/** The podman context of the verbs that act on the store or on running sessions (secret, ps, exec, logs, stop): the active profile's (machine or connection), else the host's. */
import {readActiveProfile} from '../active-profile.js'
import type {CoreContext} from '../context.js'
import {podmanContext, type PodmanContext} from './context.js'
import type {AgentMachineProfile} from '../profile/schema.js'

export async function profilePodmanContext(ctx: CoreContext, profileFile: string | undefined): Promise<{context: PodmanContext; profile: AgentMachineProfile | null; platform: 'linux' | 'macos' | 'windows'}> {
  const host = await ctx.hostFacts()
  const active = await readActiveProfile(host, profileFile, process.cwd())
  if (active.status === 'invalid') throw active.error
  const profile = active.status === 'loaded' ? active.profile : null
  return {context: podmanContext({host, machine: profile?.spec.machine ?? null, connection: profile?.spec.connection ?? null}), profile, platform: host.platform}
}
