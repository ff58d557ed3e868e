/**
 * doctor's view of the profile's network: the mode, the allowlist it enforces (the profile's
 * entries and the hosts each enabled tool needs, with where they come from) and whether the image
 * carries the egress proxy. Pure: from the profile and the image's labels.
 */
import type {Check} from '../doctor/report.js'
import {enabledTools} from '../policy/hash.js'
import {networkMode, type AgentMachineProfile} from '../profile/schema.js'
import type {ImageDetails} from '../podman/types.js'
import {effectiveAllowlist} from './allowlist.js'

/** Set by images/agent (Containerfile and the offline build): the image has Squid for the sidecar. */
export const EGRESS_PROXY_LABEL = 'dev.sourceos.agent-machine.egress-proxy'

/** Where the long-lived proxy is, and how it goes (network/pool.ts; docs/network.md "Removing the shared proxy"). */
export const SHARED_PROXY_NOTE =
  'the proxy is shared by the runs of this allowlist and image and stays running between them (podman ps: sourceos-proxy.<hash>), with a network holder per network of its pool whose namespace a run\'s agent joins (sourceos-netholder.<hash>.<slot>); to remove the idle ones with their networks: sourceosctl agent-machine stop --all --egress (or by hand: podman rm --force $(podman ps -aq --filter label=dev.sourceos.agent-machine.role=egress-shared-proxy) $(podman ps -aq --filter label=dev.sourceos.agent-machine.role=egress-netholder); podman network rm $(podman network ls -q --filter label=dev.sourceos.agent-machine.role=egress-pool-network))'

/** The default lifetime (spec.network.proxy: per-run). */
export const PER_RUN_PROXY_NOTE = 'each run gets a proxy and network of its own, removed with it (spec.network.proxy: shared keeps one running between runs: faster starts)'

export function egressCheck(profile: AgentMachineProfile, image: ImageDetails | null, durationMs: number): Check {
  const base = {id: 'network', title: 'Network egress', durationMs}
  const mode = networkMode(profile.spec.network)
  const renamed = profile.spec.network.mode === 'default' ? ' (`default` is the deprecated name of open)' : ''
  if (mode === 'none') return {...base, status: 'ok', required: false, detail: 'none: the container has no network (the tools cannot reach their model APIs)', fix: null}
  if (mode === 'open') {
    return {
      ...base,
      status: 'warn',
      required: false,
      detail: `open${renamed}: the agent can reach any host, your LAN and services on this host, unlogged`,
      fix: 'set spec.network.mode: allowlist in the profile (the templates\' default): only the hosts you list and those the tools need, through a logging proxy',
    }
  }
  const list = effectiveAllowlist(profile.spec.network.allow, enabledTools(profile.spec))
  const bySource = new Map<string, string[]>()
  for (const entry of list.entries) for (const origin of list.origins[entry]!) bySource.set(origin, [...(bySource.get(origin) ?? []), entry])
  const listed = [...bySource.entries()].map(([origin, entries]) => `${origin}: ${entries.join(', ')}`).join('; ')
  const detail = `allowlist, ${list.entries.length} host:port rule${list.entries.length === 1 ? '' : 's'} (${listed || 'none: nothing is reachable'})`
  if (image && image.labels[EGRESS_PROXY_LABEL] !== 'squid') {
    return {
      ...base,
      status: 'fail',
      required: true,
      detail: `${detail}; but the image ${image.id.slice(0, 12)} does not carry the egress proxy (no label ${EGRESS_PROXY_LABEL}=squid), so runs would fail`,
      fix: 'rebuild the image from images/agent (it installs squid): `sourceosctl agent-machine image build`; or set spec.network.mode: none',
    }
  }
  const lifetime = profile.spec.network.proxy === 'shared' ? SHARED_PROXY_NOTE : PER_RUN_PROXY_NOTE
  return {...base, status: 'ok', required: true, detail: `${detail}${image ? '; the image carries the egress proxy (squid)' : ''}; ${lifetime}`, fix: null}
}
