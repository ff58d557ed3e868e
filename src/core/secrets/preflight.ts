/** Before a launch with the Secrets Door: every injected secret must be stored (names only are read). */
import {prerequisiteMissing} from '../errors.js'
import type {Runner} from '../exec.js'
import type {PodmanContext} from '../podman/context.js'
import type {AgentMachineProfile} from '../profile/schema.js'
import {listSecrets} from './store.js'

export async function assertDoorSecretsStored(profile: AgentMachineProfile, runner: Runner, ctx: Pick<PodmanContext, 'binary' | 'connection'>): Promise<void> {
  if (profile.spec.secrets.door !== 'proxy') return
  const wanted = [...new Set((profile.spec.secrets.inject ?? []).map((i) => i.secret))]
  if (wanted.length === 0) return
  const stored = new Set((await listSecrets(runner, ctx)).map((s) => s.name))
  const missing = wanted.filter((n) => !stored.has(n))
  if (missing.length === 0) return
  throw prerequisiteMissing(
    'SECRET_NOT_STORED',
    `profile '${profile.metadata.name}' injects ${missing.length === 1 ? 'the secret' : 'the secrets'} ${missing.join(', ')} (spec.secrets.inject), but ${missing.length === 1 ? 'it is' : 'they are'} not stored${ctx.connection ? ` in the store of connection ${ctx.connection}` : ''}`,
    `store ${missing.length === 1 ? 'it' : 'them'}: ${missing.map((n) => `sourceosctl agent-machine secret set ${n}`).join('; ')} (secret ls lists what is stored); nothing was started`,
    {missing},
  )
}
