/**
 * doctor's view of the Secrets Door and the tools' persistent state: which injected secrets are
 * stored (names only) and which tool-state volumes exist. Asks podman only when the profile uses
 * either (door proxy, or toolState volume).
 */
import type {Check} from '../doctor/report.js'
import type {Runner} from '../exec.js'
import type {PodmanContext} from '../podman/context.js'
import type {AgentMachineProfile} from '../profile/schema.js'
import {listSecrets} from './store.js'
import {listStateVolumes} from './tool-state.js'

export async function secretsCheck(profile: AgentMachineProfile, runner: Runner, ctx: Pick<PodmanContext, 'binary' | 'connection'>): Promise<Check> {
  const started = performance.now()
  const base = {id: 'secrets', title: 'Secrets Door and tool logins', required: false}
  const s = profile.spec.secrets
  const inject = s.door === 'proxy' ? (s.inject ?? []) : []
  const persist = s.toolState === 'volume'
  const ms = () => Math.round(performance.now() - started)
  if (inject.length === 0 && !persist) {
    return {...base, status: 'ok', detail: 'no door (spec.secrets.door none) and tool logins last one session (toolState tmpfs)', fix: null, durationMs: ms()}
  }
  try {
    const [stored, volumes] = await Promise.all([inject.length > 0 ? listSecrets(runner, ctx) : Promise.resolve([]), listStateVolumes(runner, ctx, profile.metadata.name)])
    const names = new Set(stored.map((x) => x.name))
    const missing = [...new Set(inject.map((i) => i.secret))].filter((n) => !names.has(n))
    const door = inject.length > 0 ? `door: ${inject.map((i) => `${i.secret} → ${i.host} (${names.has(i.secret) ? 'stored' : 'NOT stored'})`).join(', ')}` : 'no door'
    const state = persist ? `tool-state volumes: ${volumes.length > 0 ? volumes.join(', ') : 'none yet (made at the first session)'}` : `toolState tmpfs${volumes.length > 0 ? `; leftover volumes: ${volumes.join(', ')}` : ''}`
    return {
      ...base,
      required: missing.length > 0,
      status: missing.length > 0 ? 'fail' : 'ok',
      detail: `${door}; ${state}`,
      fix: missing.length > 0 ? missing.map((n) => `sourceosctl agent-machine secret set ${n}`).join('; ') : null,
      durationMs: ms(),
    }
  } catch (error) {
    return {...base, status: 'warn', detail: `cannot ask podman for the secrets and volumes: ${(error as Error).message.split('\n')[0]}`, fix: 'check the podman checks above', durationMs: ms()}
  }
}
