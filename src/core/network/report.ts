/**
 * The network section of a run's evidence and result, and the session's closing summary of it.
 * Pure: built from the spec (mode, allowlist, proxy) and the proxy's log as read at teardown.
 */
import {sha256Prefixed} from '../util/digest.js'
import type {NetworkEvidence} from './evidence.js'
import {deniedHosts, parseProxyLog} from './proxy-log.js'
import type {EgressSetup} from './sidecar.js'

/** What each mode leaves open, said in the record (docs/network.md has the detail). */
export const MODE_NOTES: Record<NetworkEvidence['mode'], string[]> = {
  none: ['no network at all: the tool cannot reach its model API'],
  allowlist: [
    'an allowed host is reached with whatever the agent sends it: an allowlisted host that stores data (a git host, a paste site) can receive the repo',
    'only HTTP and HTTPS (CONNECT) pass the proxy; other protocols have no route out',
  ],
  open: [
    'full egress: the agent can reach any host, the LAN and services on the host (host.containers.internal), and send the repo anywhere; nothing is logged',
  ],
}

export function networkEvidence(mode: NetworkEvidence['mode'], egress: EgressSetup | undefined, log: string | null): NetworkEvidence {
  if (mode !== 'allowlist' || !egress) {
    return {mode, allowlist: null, proxy: null, destinations: null, unparsedLogLines: 0, truncatedDestinations: 0, notes: MODE_NOTES[mode]}
  }
  const summary = log === null ? null : parseProxyLog(log)
  return {
    mode,
    allowlist: {entries: egress.allowlist.entries, origins: egress.allowlist.origins, hash: egress.allowlist.hash},
    proxy: {network: egress.network, subnet: egress.subnet, address: egress.proxyAddress, container: egress.sidecar, logDigest: log === null ? null : sha256Prefixed(log)},
    destinations: summary?.destinations ?? null,
    unparsedLogLines: summary?.unparsed ?? 0,
    truncatedDestinations: summary?.truncated ?? 0,
    notes: [
      ...MODE_NOTES.allowlist,
      ...(egress.shared
        ? [
            `the proxy is shared by the runs of this allowlist and image (${egress.sidecar}), each on its own network of its pool: these destinations are its log's lines from this run's agent address (${egress.shared.agentAddress}${egress.shared.holder ? `, the network holder ${egress.shared.holder.name} whose network namespace the agent joined` : ''}) since its container was created`,
          ]
        : []),
      ...(log === null ? ['the proxy’s log could not be read: the destinations are unknown (the session still ran behind the proxy)'] : []),
    ],
  }
}

/** Lines for the end of the session (stderr): the denied hosts, and how to allow one. */
export function describeNetwork(n: NetworkEvidence | undefined): string[] {
  if (!n || n.mode !== 'allowlist' || !n.destinations) return []
  const denied = deniedHosts({destinations: n.destinations, unparsed: 0, truncated: 0})
  if (denied.length === 0) return []
  const shown = denied.slice(0, 12)
  return [
    `the egress proxy refused ${denied.length} destination${denied.length === 1 ? '' : 's'}: ${shown.join(', ')}${denied.length > shown.length ? `, and ${denied.length - shown.length} more (see the evidence)` : ''}`,
    'to allow one, add it under spec.network.allow in the profile, or: sourceosctl agent-machine init --allow-host <host[:port]>',
  ]
}
