/**
 * What the agent tried to reach, read from the proxy's own access log (the sidecar's stdout, one
 * `sourceos-egress-v2` line per request; squid-config.ts). Pure. The agent chooses the host names
 * it asks for, so every field is checked against a strict shape: a line that does not fit is
 * counted as unparsed, never guessed at, and the lists are bounded.
 */
import {LOG_TAG} from './squid-config.js'
import {countWork} from '../util/optimise.js'

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
/** What squid itself writes first: the request's start time and the client's address (IPv4, or IPv6 without brackets). */
const PREFIX = new RegExp(`^${LOG_TAG} ([0-9]{1,12}\\.[0-9]{3}) ([0-9]{1,3}(?:\\.[0-9]{1,3}){3}|[0-9a-f:]{2,39}) (.*)$`)
const REST = /^([A-Za-z_-]{1,20}) (\S{1,260}) ([0-9]{1,5}|-) ([0-9]{1,3}|-) ([A-Z_]{1,40})$/

/**
 * Which lines are this run's (a shared proxy serves the pool's other runs too): those from the
 * agent's own address whose request started at or after the agent's container was created — as
 * podman and squid see time, on the podman host. Another run of the same pool network had its
 * agent gone before this run's lease, so its requests started earlier; concurrent runs are on
 * other networks, other addresses. The client's address and the time are squid's own fields,
 * written before anything the agent chose.
 */
export interface LogSlice {
  client: string
  /** Seconds since the epoch (podman's creation time of the agent's container, whole seconds). */
  since: number
}

/** The run's own lines of a shared proxy's log (the others' are dropped, whatever they hold). */
export function sliceProxyLog(text: string, slice: LogSlice): string {
  const kept: string[] = []
  const lines = text.split('\n')
  countWork(lines.length)
  for (const raw of lines) {
    const p = PREFIX.exec(raw.trim())
    if (p && p[2] === slice.client && Number(p[1]) >= slice.since) kept.push(raw.trim())
  }
  return kept.length > 0 ? `${kept.join('\n')}\n` : ''
}

export function parseProxyLog(text: string): EgressLogSummary {
  const byKey = new Map<string, EgressDestination>()
  let unparsed = 0
  let truncated = 0
  const lines = text.split('\n')
  countWork(lines.length)
  for (const raw of lines) {
    const line = raw.trim()
    if (!line.startsWith(LOG_TAG)) continue
    const p = PREFIX.exec(line)
    const m = p ? REST.exec(p[3]!) : null
    const host = m?.[2]?.toLowerCase()
    if (!m || !host || !HOST.test(host)) {
      unparsed++
      continue
    }
    // '-': a request the proxy could not parse (no host or port); kept, under host '-'
    const port = m[3] === '-' ? 0 : Number(m[3])
    const status = m[4] === '-' ? 0 : Number(m[4])
    const verdict = m[5]!
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
    if (!d.methods.includes(m[1]!) && d.methods.length < 8) d.methods.push(m[1]!)
  }
  const destinations = [...byKey.values()].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : a.port - b.port || (a.decision < b.decision ? -1 : 1)))
  return {destinations, unparsed, truncated}
}

/** "host:port" of every denied destination, for the session's closing summary. */
export function deniedHosts(summary: EgressLogSummary): string[] {
  return summary.destinations.filter((d) => d.decision === 'denied').map((d) => `${d.host}:${d.port}${d.count > 1 ? ` (${d.count}×)` : ''}`)
}
