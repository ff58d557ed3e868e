/**
 * Profile rendering and the pure edits `init` makes: fill a template's `<repo>` placeholder, add a
 * mount without clobbering existing ones. Output is deterministic: keys in schema order.
 */
import {parseAllowEntry, ruleText} from '../network/allowlist.js'
import {Document, isScalar, isSeq, visit} from 'yaml'
import {z} from 'zod'

import {AgentMachineProfileSchema, PROFILE_SCHEMA_ID, type AgentMachineProfile, type ProfileMount} from './schema.js'

export const REPO_PLACEHOLDER = '<repo>'
const WORKSPACE = '/workspace'

export interface RenderOptions {
  /** `$schema` for the yaml-language-server modeline; defaults to the public schema `$id`. */
  schemaUrl?: string
  /** Extra comment lines after the modeline (without the leading `#`). */
  header?: string[]
}

/** YAML text for a profile: modeline, optional header comments, then keys in schema order. */
export function renderProfile(profile: AgentMachineProfile, opts: RenderOptions = {}): string {
  const doc = new Document(orderBySchema(profile, AgentMachineProfileSchema))
  // Short lists of scalars (command, passthrough) read best inline: `command: [codex]`.
  visit(doc, {
    Seq(_, node) {
      if (isSeq(node) && node.items.length > 0 && node.items.every((item) => isScalar(item))) node.flow = true
    },
  })
  const lines = [
    `# yaml-language-server: $schema=${opts.schemaUrl ?? PROFILE_SCHEMA_ID}`,
    ...(opts.header ?? []).flatMap((line) => line.split('\n')).map((line) => (line ? `# ${line}` : '#')),
  ]
  return `${lines.join('\n')}\n${doc.toString({lineWidth: 0, flowCollectionPadding: false})}`
}

/** Re-creates objects with keys in the order their zod object schema declares them. */
function orderBySchema(value: unknown, schema: z.ZodType | undefined): unknown {
  const inner = unwrap(schema)
  if (Array.isArray(value)) {
    const element = inner instanceof z.ZodArray ? (inner.element as z.ZodType) : undefined
    return value.map((item) => orderBySchema(item, element))
  }
  if (value === null || typeof value !== 'object') return value
  const record = value as Record<string, unknown>
  if (inner instanceof z.ZodObject) {
    const shape = inner.shape as Record<string, z.ZodType>
    const declared = Object.keys(shape).filter((k) => record[k] !== undefined)
    const extra = Object.keys(record).filter((k) => !(k in shape) && record[k] !== undefined).sort()
    return Object.fromEntries([...declared, ...extra].map((k) => [k, orderBySchema(record[k], shape[k])]))
  }
  // Records (env.set) have no declared order: sort for a stable diff.
  const valueSchema = inner instanceof z.ZodRecord ? (inner.valueType as z.ZodType) : undefined
  return Object.fromEntries(Object.keys(record).filter((k) => record[k] !== undefined).sort().map((k) => [k, orderBySchema(record[k], valueSchema)]))
}

function unwrap(schema: z.ZodType | undefined): z.ZodType | undefined {
  let cur = schema
  while (cur instanceof z.ZodOptional || cur instanceof z.ZodNullable) cur = cur.unwrap() as z.ZodType
  return cur
}

const isPlaceholder = (m: ProfileMount) => m.source.includes(REPO_PLACEHOLDER) || m.target.includes(REPO_PLACEHOLDER)

/**
 * Fills a template for one repository: its `<repo>` placeholder mount(s) become a single mount of
 * `repo.source` at `/workspace/<name>`, keeping the template's mode and position. A template
 * without a placeholder gets the repo added (read-write) next to its own mounts.
 */
export function instantiateTemplate(template: AgentMachineProfile, repo: {source: string; name: string}): AgentMachineProfile {
  const profile = structuredClone(template)
  const mounts = profile.spec.mounts
  const index = mounts.findIndex(isPlaceholder)
  if (index === -1) return addMount(profile, {source: repo.source, target: `${WORKSPACE}/${repo.name}`, mode: 'rw'}).profile
  const kept = mounts.filter((m) => !isPlaceholder(m))
  const mode = mounts[index]?.mode ?? 'rw'
  // Everything before the first placeholder is kept, so `index` is also its slot in `kept`.
  const repoMount = {source: repo.source, target: uniqueTarget(kept, `${WORKSPACE}/${repo.name}`), mode}
  const next = kept.some((m) => sameSource(m.source, repo.source)) ? kept : [...kept.slice(0, index), repoMount, ...kept.slice(index)]
  return {...profile, spec: {...profile.spec, mounts: next}}
}

/**
 * Adds a mount, keeping the existing ones. Same source already mounted → unchanged (added=false).
 * A target already used by another source gets a `-2`, `-3`, … suffix so nothing is shadowed.
 */
export function addMount(profile: AgentMachineProfile, mount: ProfileMount): {profile: AgentMachineProfile; added: boolean} {
  const mounts = profile.spec.mounts
  if (mounts.some((m) => sameSource(m.source, mount.source))) return {profile, added: false}
  const next = {...mount, target: uniqueTarget(mounts, mount.target)}
  return {profile: {...profile, spec: {...profile.spec, mounts: [...mounts, next]}}, added: true}
}

/**
 * Adds egress allowlist entries (init --allow-host), keeping the existing ones; an entry already
 * there (the same rule however it is spelled: `x.com` is `x.com:443`) is not added again.
 */
export function addAllowEntries(profile: AgentMachineProfile, entries: readonly string[]): {profile: AgentMachineProfile; added: string[]} {
  const canonical = (e: string): string => {
    const parsed = parseAllowEntry(e)
    return parsed.ok ? ruleText(parsed.rule) : e
  }
  const have = new Set(profile.spec.network.allow.map(canonical))
  const added: string[] = []
  for (const entry of entries) {
    const key = canonical(entry)
    if (have.has(key)) continue
    have.add(key)
    added.push(entry.trim())
  }
  if (added.length === 0) return {profile, added}
  return {profile: {...profile, spec: {...profile.spec, network: {...profile.spec.network, allow: [...profile.spec.network.allow, ...added]}}}, added}
}

function uniqueTarget(mounts: readonly ProfileMount[], target: string): string {
  const taken = new Set(mounts.map((m) => trimTrailingSeparators(m.target)))
  const wanted = trimTrailingSeparators(target)
  let candidate = wanted
  for (let n = 2; taken.has(candidate); n++) candidate = `${wanted}-${n}`
  return candidate
}

function sameSource(a: string, b: string): boolean {
  return trimTrailingSeparators(a) === trimTrailingSeparators(b)
}

/** `/a/b/` → `/a/b`, but `/` and `C:\` stay roots. */
function trimTrailingSeparators(p: string): string {
  const trimmed = p.replace(/[\\/]+$/, '')
  return trimmed === '' || /^[A-Za-z]:$/.test(trimmed) ? p : trimmed
}

/**
 * The mount name for a repo path: its last path component (either separator), reduced to
 * `[A-Za-z0-9._-]`; `repo` when nothing usable is left (e.g. `~`, `/`, `..`).
 */
export function repoMountName(path: string): string {
  const base = path.split(/[\\/]+/).filter(Boolean).pop() ?? ''
  const name = base
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '') // é → e: keep letters recognisable
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^-+|-+$/g, '')
  return name === '' || /^\.+$/.test(name) ? 'repo' : name.slice(0, 100)
}
