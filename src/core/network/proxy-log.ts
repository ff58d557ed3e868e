/**
 * What the agent tried to reach, read from the proxy's own access log (the sidecar's stdout, one
 * `sourceos-egress-v1` line per request; squid-config.ts). Pure. The agent chooses the host names
 * it asks for, so every field is checked against a strict shape: a line that does not fit is
 * counted as unparsed, never guessed at, and the lists are bounded.
 */
import {LOG_TAG} from './squid-config.js'

export type EgressDecision = 'allowed' | 'denied'

export interface EgressDestination {
  host: string
  port: number
  decision: EgressDecision
  /** Requests (CONNECTs and plain HTTP) with this host, port and decision. */
  count: number
  /** Of the allowed ones: how many the upstream did not answer (DNS failure, refused, timed out: a 5xx from the proxy). */
  upstreamFailed: number
  /** HTTP methods seen (CONNECT for HTTPS). */
  methods: string[]
}

export interface EgressLogSummary {
  destinations: EgressDestination[]
  /** Lines with the tag that did not parse (a sign of tampering or a format change). */
  unparsed: number
  /** Destinations past MAX_DESTINATIONS, counted but not listed. */
  truncated: number
}

export const MAX_DESTINATIONS = 500
const HOST = /^-$|^(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$|^[0-9a-f:.]{2,45}$|^\[[0-9a-f:.]{2,45}\]$/
const LINE = new RegExp(`^${LOG_TAG} ([0-9]+\\.[0-9]{3}) ([A-Za-z_-]{1,20}) (\\S{1,260}) ([0-9]{1,5}|-) ([0-9]{1,3}|-) ([A-Z_]{1,40})$`)

export function parseProxyLog(text: string): EgressLogSummary {
  const byKey = new Map<string, EgressDestination>()
  let unparsed = 0
  let truncated = 0
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (!line.startsWith(LOG_TAG)) continue
    const m = LINE.exec(line)
    const host = m?.[3]?.toLowerCase()
    if (!m || !host || !HOST.test(host)) {
      unparsed++
      continue
    }
    // '-': a request the proxy could not parse (no host or port); kept, under host '-'
    const port = m[4] === '-' ? 0 : Number(m[4])
    const status = m[5] === '-' ? 0 : Number(m[5])
    const verdict = m[6]!
    const decision: EgressDecision = verdict.startsWith('TCP_DENIED') || verdict.startsWith('NONE_DENIED') ? 'denied' : 'allowed'
    const key = `${host}\0${port}\0${decision}`
    let d = byKey.get(key)
    if (!d) {
      if (byKey.size >= MAX_DESTINATIONS) {
        truncated++
        continue
      }
      d = {host, port, decision, count: 0, upstreamFailed: 0, methods: []}
      byKey.set(key, d)
    }
    d.count++
    // the proxy's own 5xx (or no status at all): it was allowed, but the upstream never answered
    if (decision === 'allowed' && (status === 0 || status >= 500)) d.upstreamFailed++
    if (!d.methods.includes(m[2]!) && d.methods.length < 8) d.methods.push(m[2]!)
  }
  const destinations = [...byKey.values()].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : a.port - b.port || (a.decision < b.decision ? -1 : 1)))
  return {destinations, unparsed, truncated}
}

/** "host:port" of every denied destination, for the session's closing summary. */
export function deniedHosts(summary: EgressLogSummary): string[] {
  return summary.destinations.filter((d) => d.decision === 'denied').map((d) => `${d.host}:${d.port}${d.count > 1 ? ` (${d.count}×)` : ''}`)
}
