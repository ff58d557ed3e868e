/**
 * The egress allowlist as data: `spec.network.allow` patterns parsed into rules, the hosts each
 * enabled tool needs (policy/tool-egress.json), and the effective list a launch enforces. Pure.
 *
 * Pattern grammar (README, "Network egress"):
 *   host[:port]         exactly that DNS name (lower-cased); port 1-65535, default 443
 *   *.domain[:port]     any name BELOW domain (not domain itself); domain needs two labels or more
 *   ip:ADDR[:port]      an IP address written explicitly as one (IPv6 in brackets: ip:[::1]:8080);
 *                       the only way to reach a private, loopback or link-local address
 * Refused: a bare `*`, `*` anywhere but a leading `*.`, an IP written as a host, control or
 * non-ASCII characters (write an IDN in its xn-- form), URLs, paths, user info.
 */
import {createHash} from 'node:crypto'
import {readFileSync} from 'node:fs'
import {isIP} from 'node:net'
import {join} from 'node:path'

import {unexpectedFailure} from '../errors.js'
import type {ToolName} from '../profile/schema.js'
import {packageRoot} from '../util/package-root.js'

export const DEFAULT_EGRESS_PORT = 443

export type AllowRule =
  | {kind: 'host'; host: string; port: number}
  | {kind: 'subdomains'; domain: string; port: number}
  | {kind: 'ip'; address: string; port: number}

export type ParsedAllow = {ok: true; rule: AllowRule} | {ok: false; reason: string}

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/

function parsePort(text: string | undefined): number | string {
  if (text === undefined) return DEFAULT_EGRESS_PORT
  if (!/^[0-9]{1,5}$/.test(text)) return `the port '${text}' is not a number`
  const port = Number(text)
  if (port < 1 || port > 65535) return `the port ${port} is outside 1-65535`
  return port
}

function hostProblem(host: string): string | null {
  if (host.length > 253) return 'the name is longer than 253 characters'
  if (host.endsWith('.')) return 'write the name without its trailing dot'
  const labels = host.split('.')
  const bad = labels.find((l) => !LABEL.test(l))
  if (bad !== undefined) return bad === '' ? 'the name has an empty label (..)' : `'${bad}' is not a DNS label (letters, digits and -, at most 63, not starting or ending with -)`
  if (/^[0-9]+$/.test(labels.at(-1)!)) return 'an all-digit top-level label looks like an IP address: write an address as ip:ADDR[:port]'
  return null
}

/** One `spec.network.allow` entry → a rule, or why it is refused (with how to write it). */
export function parseAllowEntry(raw: string): ParsedAllow {
  const fail = (reason: string): ParsedAllow => ({ok: false, reason})
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(raw)) return fail('it contains a control character')
  if (/[^\u0020-\u007e]/.test(raw)) return fail('it contains a non-ASCII character (write an internationalised name in its xn-- form)')
  const entry = raw.trim().toLowerCase()
  if (entry === '') return fail('it is empty')
  if (/^\*(?::[0-9]*)?$/.test(entry)) return fail('a bare * would allow every host: name the hosts, or use network mode open')
  // a URL (scheme://), a path, user info, a query or fragment, whitespace, a backslash
  if (/[/@?#\s\\]/.test(entry)) return fail('write host[:port], not a URL or path (e.g. api.example.com or api.example.com:8443)')
  if (entry.startsWith('ip:')) {
    const rest = entry.slice(3)
    // an unbracketed IPv6 address, with or without a port (a bracketed one is never isIP)
    if (isIP(rest) === 6 || isIP(rest.replace(/:[0-9]+$/, '')) === 6) return fail(`write an IPv6 address in brackets: ip:[${rest}]:443`)
    const m = /^\[([0-9a-f:.]+)\](?::([^:]*))?$/.exec(rest) ?? /^([0-9.]+)(?::([^:]*))?$/.exec(rest)
    if (!m || isIP(m[1]!) === 0) return fail(`'${rest}' is not an IP address (ip:203.0.113.7:8080, ip:[2001:db8::1]:443)`)
    const port = parsePort(m[2])
    if (typeof port === 'string') return fail(port)
    return {ok: true, rule: {kind: 'ip', address: m[1]!, port}}
  }
  const colon = entry.lastIndexOf(':')
  const hostPart = colon === -1 ? entry : entry.slice(0, colon)
  const port = parsePort(colon === -1 ? undefined : entry.slice(colon + 1))
  if (typeof port === 'string') return fail(port)
  if (hostPart.includes(':') || hostPart.startsWith('[') || isIP(hostPart) !== 0) {
    return fail(`an IP address is allowed only when written as one: ip:${hostPart.includes(':') && !hostPart.startsWith('[') ? `[${hostPart}]` : hostPart}:${port}`)
  }
  if (hostPart.startsWith('*.')) {
    const domain = hostPart.slice(2)
    if (domain.includes('*')) return fail('* may only lead the pattern, as in *.example.com')
    const problem = hostProblem(domain)
    if (problem) return fail(problem)
    if (!domain.includes('.')) return fail(`*.${domain} would allow a whole top-level domain: name a domain with two labels or more, e.g. *.example.com`)
    return {ok: true, rule: {kind: 'subdomains', domain, port}}
  }
  if (hostPart.includes('*')) return fail('* may only lead the pattern, as in *.example.com')
  const problem = hostProblem(hostPart)
  if (problem) return fail(problem)
  return {ok: true, rule: {kind: 'host', host: hostPart, port}}
}

/** The canonical text of a rule (what the evidence, the hash and the log comparison use). */
export function ruleText(rule: AllowRule): string {
  switch (rule.kind) {
    case 'host':
      return `${rule.host}:${rule.port}`
    case 'subdomains':
      return `*.${rule.domain}:${rule.port}`
    case 'ip':
      return `ip:${rule.address.includes(':') ? `[${rule.address}]` : rule.address}:${rule.port}`
  }
}

/** Whether host:port (a name or an address as the agent asked for it) is allowed by the rules. */
export function ruleAllows(rules: readonly AllowRule[], host: string, port: number): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1')
  return rules.some((r) => {
    if (r.port !== port) return false
    if (r.kind === 'host') return r.host === h
    if (r.kind === 'subdomains') return h.endsWith(`.${r.domain}`)
    return r.address === h
  })
}

export interface ToolEgress {
  hosts: string[]
  why: string
  sources: string[]
}

export const TOOL_EGRESS_SCHEMA = 'sourceos.dev/agent-machine/tool-egress/v1'
let toolEgressCache: Record<ToolName, ToolEgress> | undefined

/** The hosts a tool needs to sign in and reach its model API (policy/tool-egress.json, read once). */
export function toolEgress(tool: ToolName): ToolEgress {
  // Stryker disable next-line ConditionalExpression: a cache only; reading the file every time gives the same entries
  if (!toolEgressCache) {
    const file = join(packageRoot(), 'policy', 'tool-egress.json')
    let doc: {schema?: string; tools?: Record<ToolName, ToolEgress>}
    try {
      doc = JSON.parse(readFileSync(file, 'utf8')) as typeof doc
    } catch (error) {
      throw unexpectedFailure('TOOL_EGRESS_UNREADABLE', `cannot read ${file}: ${(error as Error).message}`, 'reinstall sourceosctl (policy/tool-egress.json is part of the package)')
    }
    if (doc.schema !== TOOL_EGRESS_SCHEMA || !doc.tools) throw unexpectedFailure('TOOL_EGRESS_INVALID', `${file} is not a ${TOOL_EGRESS_SCHEMA} document`, 'reinstall sourceosctl')
    toolEgressCache = doc.tools
  }
  const entry = toolEgressCache[tool]
  if (!entry) throw unexpectedFailure('TOOL_EGRESS_INVALID', `policy/tool-egress.json has no entry for ${tool}`, 'reinstall sourceosctl')
  return entry
}

export interface EffectiveAllowlist {
  /** Canonical rule texts, sorted and unique: what the proxy enforces. */
  entries: string[]
  rules: AllowRule[]
  /** Where each entry came from: the profile, or the tools that need it. */
  origins: Record<string, string[]>
  /** sha256 over the JCS-free canonical form: the sorted entries joined by \n. */
  hash: string
}

/**
 * The profile's own entries plus those of every enabled tool (whichever tool runs: a shell may
 * start either). Entries are validated by the profile schema already; an invalid one here is a bug.
 */
export function effectiveAllowlist(allow: readonly string[], enabledTools: readonly ToolName[]): EffectiveAllowlist {
  const origins = new Map<string, string[]>()
  const rules = new Map<string, AllowRule>()
  const add = (raw: string, origin: string): void => {
    const parsed = parseAllowEntry(raw)
    if (!parsed.ok) throw new Error(`invalid allowlist entry '${raw}' from ${origin}: ${parsed.reason}`)
    const text = ruleText(parsed.rule)
    rules.set(text, parsed.rule)
    origins.set(text, [...(origins.get(text) ?? []), origin])
  }
  for (const raw of allow) add(raw, 'profile')
  for (const tool of [...enabledTools].sort()) for (const raw of toolEgress(tool).hosts) add(raw, `tool ${tool}`)
  const entries = [...rules.keys()].sort()
  return {
    entries,
    rules: entries.map((e) => rules.get(e)!),
    origins: Object.fromEntries(entries.map((e) => [e, origins.get(e)!])),
    hash: `sha256:${createHash('sha256').update(entries.join('\n')).digest('hex')}`,
  }
}
