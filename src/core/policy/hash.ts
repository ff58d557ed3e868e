/**
 * The effective policy of a launch and its hash (ARCHITECTURE §6, contract): `sha256:` over the
 * UTF-8 bytes of the RFC 8785 (JCS) canonical JSON of the effective policy, so anyone can
 * recompute it from an evidence record. Pure.
 */
import {createHash} from 'node:crypto'
import canonicalizeModule from 'canonicalize'
import {unexpectedFailure} from '../errors.js'
import type {HostPlatform} from '../host/facts.js'
import {effectiveAllowlist} from '../network/allowlist.js'
import {networkMode, type AgentMachineProfile, type ToolName} from '../profile/schema.js'
import {stateVolumeName} from '../secrets/tool-state.js'
import {injectUpstream} from '../secrets/door.js'

export const EFFECTIVE_POLICY_SCHEMA = 'sourceos.dev/agent-machine/policy/v1alpha1'

export interface EffectivePolicy {
  schema: typeof EFFECTIVE_POLICY_SCHEMA
  /** Profile name (metadata.name). */
  profile: string
  platform: HostPlatform
  /** Resolved (realpath) sources, sorted by target then source (podman orders mounts itself). */
  mounts: Array<{source: string; target: string; mode: 'rw' | 'ro'}>
  image: {ref: string; digest: string | null; pull: 'never' | 'missing'}
  /** Sorted by name. */
  tools: Array<{name: string; enabled: boolean; command: string[]}>
  env: {passthrough: string[]; set: Record<string, string>}
  /**
   * allowlist: the effective entries (profile + enabled tools, network/allowlist.ts) and their hash.
   * `default` appears only in records written before the allowlist (it is `open` now).
   */
  network: {mode: 'none' | 'allowlist' | 'open' | 'default'; allow?: string[]; allowHash?: string}
  resources: {cpus: number; memory: string; pidsLimit: number}
  hardening: {
    capDrop: 'all'
    noNewPrivileges: true
    readOnlyRoot: true
    init: true
    /** keep-id when rootless, host-root when rootful, n/a when unknown (no podman reached). */
    userns: 'keep-id' | 'host-root' | 'n/a'
    envHost: false
    httpProxy: false
  }
  /** Injected secrets by name and host (never values); toolState only when not the default tmpfs. */
  secrets: {door: 'none' | 'proxy'; inject?: Array<{secret: string; host: string; header: string; upstream: 'https' | 'http'}>; toolState?: 'volume'; volumes?: string[]}
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/** Builds the effective policy from a profile and its resolved mounts. Pure. */
export function buildEffectivePolicy(
  profile: AgentMachineProfile,
  resolvedMounts: ReadonlyArray<{source: string; target: string; mode: 'rw' | 'ro'}>,
  opts: {rootless: boolean | null},
): EffectivePolicy {
  const {spec} = profile
  const tools = Object.entries(spec.tools)
    .filter((e): e is [string, NonNullable<(typeof e)[1]>] => e[1] !== undefined)
    .map(([name, t]) => ({name, enabled: t.enabled, command: [...t.command]}))
    .sort((a, b) => byString(a.name, b.name))
  const mounts = resolvedMounts
    .map((m) => ({source: m.source, target: m.target, mode: m.mode}))
    .sort((a, b) => byString(a.target, b.target) || byString(a.source, b.source) || byString(a.mode, b.mode))
  return {
    schema: EFFECTIVE_POLICY_SCHEMA,
    profile: profile.metadata.name,
    platform: spec.platform,
    mounts,
    image: {ref: spec.image.ref, digest: spec.image.digest, pull: spec.image.pull},
    tools,
    env: {passthrough: [...new Set(spec.env.passthrough)].sort(byString), set: {...spec.env.set}},
    network: networkPolicy(spec),
    resources: {cpus: spec.resources.cpus, memory: spec.resources.memory, pidsLimit: spec.resources.pidsLimit},
    hardening: {
      capDrop: 'all',
      noNewPrivileges: true,
      readOnlyRoot: true,
      init: true,
      userns: opts.rootless === true ? 'keep-id' : opts.rootless === false ? 'host-root' : 'n/a',
      envHost: false,
      httpProxy: false,
    },
    secrets: {
      door: spec.secrets.door,
      ...(spec.secrets.door === 'proxy' ? {inject: (spec.secrets.inject ?? []).map((i) => ({secret: i.secret, host: i.host, header: i.header, upstream: injectUpstream(i)}))} : {}),
      ...(spec.secrets.toolState === 'volume' ? {toolState: 'volume' as const, volumes: enabledTools(spec).sort().map((t) => stateVolumeName(profile.metadata.name, t))} : {}),
    },
  }
}

/** The tools a launch may start (a shell may start either): their hosts join the allowlist. */
export function enabledTools(spec: AgentMachineProfile['spec']): ToolName[] {
  return (Object.entries(spec.tools) as Array<[ToolName, {enabled: boolean} | undefined]>).filter(([, t]) => t?.enabled).map(([name]) => name)
}

function networkPolicy(spec: AgentMachineProfile['spec']): EffectivePolicy['network'] {
  const mode = networkMode(spec.network)
  if (mode !== 'allowlist') return {mode}
  const list = effectiveAllowlist(spec.network.allow, enabledTools(spec))
  return {mode, allow: list.entries, allowHash: list.hash}
}

// `canonicalize` is CommonJS (module.exports = fn) with an ESM-style d.ts; Node's ESM default
// import yields the function itself.
type Canonicalize = (input: unknown) => string | undefined
const canonicalize: Canonicalize =
  // Stryker disable next-line ConditionalExpression: this runtime's interop gives the function itself; the other branch is for bundlers that wrap it
  typeof canonicalizeModule === 'function' ? (canonicalizeModule as unknown as Canonicalize) : (canonicalizeModule as unknown as {default: Canonicalize}).default

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

function invalid(where: string, what: string): never {
  throw unexpectedFailure('JCS_INVALID', `cannot canonicalise ${where}: ${what} (RFC 8785 accepts I-JSON only)`)
}

/** Rejects what JCS cannot represent instead of letting JSON.stringify coerce it silently. */
function assertIJson(value: unknown, where: string, ancestors: Set<object>): void {
  switch (typeof value) {
    case 'string':
      if (LONE_SURROGATE.test(value)) invalid(where, 'a lone UTF-16 surrogate')
      return
    case 'number':
      if (!Number.isFinite(value)) invalid(where, `the non-finite number ${value}`)
      return
    case 'boolean':
      return
    case 'object': {
      if (value === null) return
      if (ancestors.has(value)) invalid(where, 'a cycle')
      ancestors.add(value)
      if (Array.isArray(value)) {
        value.forEach((v, i) => {
          // Stryker disable next-line ConditionalExpression: equivalent: an undefined element is refused at the same place by the recursive call (`a undefined`); only the wording differs
          if (v === undefined) invalid(`${where}[${i}]`, 'undefined')
          assertIJson(v, `${where}[${i}]`, ancestors)
        })
      } else {
        const proto = Object.getPrototypeOf(value)
        if (proto !== Object.prototype && proto !== null) invalid(where, `a ${proto?.constructor?.name ?? 'non-plain'} object`)
        for (const [k, v] of Object.entries(value)) {
          if (LONE_SURROGATE.test(k)) invalid(where, 'a member name with a lone surrogate')
          if (v !== undefined) assertIJson(v, `${where}.${k}`, ancestors)
        }
      }
      ancestors.delete(value)
      return
    }
    default:
      invalid(where, `a ${typeof value}`)
  }
}

/**
 * RFC 8785 canonical JSON text (via the `canonicalize` library listed by the RFC). Throws on
 * non-finite numbers, lone surrogates, cycles, bigint/function/symbol/undefined values and
 * non-plain objects. Object members whose value is undefined are omitted (as in JSON).
 */
export function canonicalJson(value: unknown): string {
  assertIJson(value, '$', new Set())
  const text = canonicalize(value)
  // Stryker disable next-line all: unreachable: assertIJson has refused everything canonicalize cannot encode
  if (text === undefined) invalid('$', 'undefined')
  return text
}

/** `sha256:<64 hex>` over the UTF-8 bytes of canonicalJson(policy). */
export function policyHash(policy: EffectivePolicy): string {
  // Stryker disable next-line StringLiteral: equivalent: utf8 is update()'s default encoding for a string
  return `sha256:${createHash('sha256').update(canonicalJson(policy), 'utf8').digest('hex')}`
}
