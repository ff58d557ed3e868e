/**
 * Profile loading: YAML text → validated AgentMachineProfile. Every error names the file, line and
 * column (`source:line:col: what is wrong`) and says how to fix it, so a typo is one glance away.
 */
import {readFile, stat} from 'node:fs/promises'

import {isAlias, isMap, isNode, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Alias, type Document, type Node, type Pair} from 'yaml'
import {z} from 'zod'

import {AgentMachineError, prerequisiteMissing, usageError} from '../errors.js'
import {AgentMachineProfileSchema, type AgentMachineProfile} from './schema.js'

export interface ProfileIssue {
  /** Dotted path into the profile, e.g. `spec.mounts[0].mode`; `(root)` for the document itself. */
  path: string
  line: number
  col: number
  message: string
  fix: string
}

type PathSegment = string | number

const MAX_PROFILE_BYTES = 1024 * 1024
const INIT_FIX = 'run `sourceosctl agent-machine init --profile <template> --repo <path>`'

/** Parses and validates profile YAML; throws PROFILE_INVALID pointing at the first problem. */
export function parseProfile(text: string, source: string): AgentMachineProfile {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, {prettyErrors: true, uniqueKeys: true, lineCounter})
  const at = (offset: number) => lineCounter.linePos(Math.max(0, Math.min(offset, text.length)))

  if (doc.errors.length > 0) {
    throw invalid(source, doc.errors.map((error) => {
      const pos = error.linePos?.[0] ?? at(error.pos[0])
      return {path: '(root)', line: pos.line, col: pos.col, message: `YAML syntax error: ${yamlMessage(error.message)}`, fix: yamlFix(error.code)}
    }))
  }
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
    const pos = at(doc.contents?.range?.[0] ?? 0)
    throw invalid(source, [{path: '(root)', line: pos.line, col: pos.col, message: 'the profile is empty', fix: INIT_FIX}])
  }

  let data: unknown
  try {
    data = doc.toJS()
  } catch (error) {
    // The document parsed but cannot become plain data: an alias to a missing anchor, or the alias-bomb guard.
    const alias = unresolvedAlias(doc)
    const pos = at(alias?.range?.[0] ?? 0)
    const message = alias ? `unknown alias '*${alias.source}'` : `cannot read the YAML: ${(error as Error).message}`
    throw invalid(source, [{path: '(root)', ...pos, message, fix: alias ? `define the anchor '&${alias.source}' before using it` : 'use plain mappings, sequences and scalars'}])
  }

  const result = AgentMachineProfileSchema.safeParse(data)
  if (result.success) {
    // A remote Podman host (spec.connection) has no machine of ours: naming both is ambiguous.
    if (result.data.spec.machine && result.data.spec.connection !== undefined) {
      const pos = at(valueOffset(doc, ['spec', 'connection']))
      throw invalid(source, [{path: 'spec.connection', ...pos, message: 'spec.connection and spec.machine exclude each other: a remote Podman host is reached through its connection, with no machine of ours', fix: 'keep spec.machine for a local machine, or spec.connection for a remote Podman host, not both'}])
    }
    return result.data
  }
  const issues = result.error.issues.flatMap((issue) => describeIssue(issue, data, doc, at))
  throw invalid(source, issues)
}

/** Reads and validates a profile file. Missing → PROFILE_MISSING, unreadable → PROFILE_UNREADABLE (both exit 4). */
export async function loadProfileFile(path: string): Promise<{profile: AgentMachineProfile; text: string}> {
  let text: string
  try {
    // Only regular files of sane size: a FIFO or /dev/zero named by SOURCEOSCTL_PROFILE must not hang us.
    const info = await stat(path)
    if (info.isDirectory()) throw Object.assign(new Error('it is a directory'), {code: 'EISDIR'})
    if (!info.isFile()) throw Object.assign(new Error('it is not a regular file'), {code: 'ENOTREG'})
    if (info.size > MAX_PROFILE_BYTES) {
      throw usageError('PROFILE_INVALID', `${path}:1:1: the profile is ${info.size} bytes; the limit is ${MAX_PROFILE_BYTES}`, 'a profile is a short YAML file: check that this is the right path', {source: path, issues: []})
    }
    text = await readFile(path, 'utf8')
  } catch (error) {
    if (error instanceof AgentMachineError) throw error
    throw readError(path, error as NodeJS.ErrnoException)
  }
  return {profile: parseProfile(text, path), text}
}

function readError(path: string, error: NodeJS.ErrnoException): AgentMachineError {
  if (error.code === 'ENOENT' || error.code === 'ENOTDIR') {
    return prerequisiteMissing('PROFILE_MISSING', `no profile at ${path}`, INIT_FIX, {path})
  }
  const reason = error.code === 'EACCES' || error.code === 'EPERM' ? 'permission denied' : error.code === 'EISDIR' ? 'it is a directory' : error.code === 'ENOTREG' ? 'it is not a regular file' : error.message
  return prerequisiteMissing('PROFILE_UNREADABLE', `cannot read the profile ${path}: ${reason}`, 'make it a readable file, or point SOURCEOSCTL_PROFILE at a readable profile', {path, errno: error.code ?? null})
}

/** One error for the whole profile: the earliest issue in the file is the headline; all are in details. */
function invalid(source: string, issues: ProfileIssue[]): AgentMachineError {
  // A missing key points at its (earlier) mapping; a misspelt key next to it is the better headline.
  const rank = (i: ProfileIssue) => (i.message.startsWith('missing required key') ? 1 : 0)
  const sorted = [...issues].sort((a, b) => rank(a) - rank(b) || a.line - b.line || a.col - b.col)
  const first = sorted[0] ?? {path: '(root)', line: 1, col: 1, message: 'invalid profile', fix: INIT_FIX}
  return usageError('PROFILE_INVALID', `${source}:${first.line}:${first.col}: ${oneLine(first.message)}`, first.fix, {source, issues: sorted})
}

/** prettyErrors appends " at line L, column C:" and a code excerpt; the position is reported separately. */
function yamlMessage(message: string): string {
  return oneLine(message.replace(/ at line \d+, column \d+:[\s\S]*$/, ''))
}

function yamlFix(code: string): string {
  if (code === 'DUPLICATE_KEY') return 'keep only one of the duplicated keys'
  if (code === 'MULTIPLE_DOCS') return 'keep a single YAML document (remove the extra `---`)'
  if (code === 'TAB_AS_INDENT') return 'indent with spaces, not tabs'
  return 'fix the YAML syntax at that position (check indentation, quotes and brackets)'
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim()
}

// ---- zod issue → position and human message ------------------------------------------------------

type Issue = z.core.$ZodIssue

function describeIssue(issue: Issue, data: unknown, doc: Document, at: (offset: number) => {line: number; col: number}): ProfileIssue[] {
  const path = issue.path.filter((s): s is PathSegment => typeof s !== 'symbol')

  if (issue.code === 'unrecognized_keys') {
    const allowed = allowedKeys(path)
    return issue.keys.map((key) => {
      const pos = at(keyOffset(doc, [...path, key]))
      const where = path.length === 0 ? 'at the top level' : `in ${formatPath(path)}`
      const suggestion = closest(key, allowed)
      const hint = suggestion ? `did you mean '${suggestion}'? ` : ''
      return {
        path: formatPath([...path, key]),
        ...pos,
        message: `unknown key '${key}' ${where}`,
        fix: `${hint}remove the key; allowed keys here are: ${allowed.join(', ')}`,
      }
    })
  }

  if (issue.code === 'invalid_key') {
    // A record key (e.g. an env name) is bad: point at the key itself.
    const pos = at(keyOffset(doc, path))
    const reason = issue.issues[0]?.message ?? issue.message
    return [{path: formatPath(path), ...pos, message: `invalid key '${String(path[path.length - 1])}' in ${formatPath(path.slice(0, -1))}`, fix: reason}]
  }

  const present = hasPath(data, path)
  const label = formatPath(path)
  if (!present) {
    // A required key is missing: point at the mapping that should contain it.
    const key = String(path[path.length - 1])
    const pos = at(valueOffset(doc, path.slice(0, -1)))
    const description = schemaAt(path)?.description
    return [{
      path: label,
      ...pos,
      message: `missing required key '${key}'${path.length > 1 ? ` in ${formatPath(path.slice(0, -1))}` : ''}`,
      fix: `add '${key}'${description ? ` (${description.replace(/\.$/, '')})` : ''}`,
    }]
  }

  const value = getPath(data, path)
  const pos = at(valueOffset(doc, path))
  const {message, fix} = explain(issue, value, schemaAt(path) instanceof z.ZodOptional)
  return [{path: label, ...pos, message: `${label}: ${message}`, fix}]
}

function explain(issue: Issue, value: unknown, optional: boolean): {message: string; fix: string} {
  switch (issue.code) {
    case 'invalid_type': {
      const expected = expectedNoun(String(issue.expected))
      return {message: `expected ${expected}, got ${describeType(value)}`, fix: `write ${expected} here${optional ? ', or remove the key' : ''}`}
    }
    case 'invalid_value': {
      const values = issue.values.map((v) => String(v))
      return {
        message: `invalid value ${describeValue(value)}`,
        fix: values.length === 1 ? `expected: ${values[0]}` : `expected one of: ${values.join(', ')}`,
      }
    }
    case 'too_small':
      return {message: Array.isArray(value) && value.length === 0 ? 'the list is empty' : `${describeValue(value)} is too small`, fix: boundFix(issue.origin, 'at least', issue.minimum, issue.inclusive)}
    case 'too_big':
      return {message: `${describeValue(value)} is too big`, fix: boundFix(issue.origin, 'at most', issue.maximum, issue.inclusive)}
    case 'invalid_format':
      return {message: `invalid value ${describeValue(value)}`, fix: issue.message}
    default:
      return {message: oneLine(issue.message), fix: 'see schemas/agent-machine-profile.schema.json for the allowed values'}
  }
}

function boundFix(origin: string, word: 'at least' | 'at most', bound: number | bigint, inclusive: boolean | undefined): string {
  const n = Number(bound)
  if (origin === 'string') return n === 1 && word === 'at least' ? 'must not be empty' : `must be ${word} ${n} characters long`
  if (origin === 'array') return `must have ${word} ${n} item${n === 1 ? '' : 's'}`
  const op = word === 'at least' ? (inclusive === false ? '>' : '>=') : inclusive === false ? '<' : '<='
  return `must be ${op} ${n}`
}

/** zod's type names in YAML words. */
function expectedNoun(expected: string): string {
  const nouns: Record<string, string> = {object: 'a mapping', array: 'a list', int: 'an integer', number: 'a number', string: 'a string', boolean: 'true or false'}
  return nouns[expected] ?? `a ${expected}`
}

/** A value as the user wrote it: `'rx'`, `4.5`, `a list`. */
function describeValue(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'object') return 'a mapping'
  if (typeof value === 'string') return `'${value.length > 60 ? `${value.slice(0, 57)}...` : value}'`
  return String(value)
}

/** For type errors the type matters: `the string '8192'` tells the user to drop the quotes. */
function describeType(value: unknown): string {
  if (typeof value === 'string') return `the string ${describeValue(value)}`
  if (typeof value === 'number' || typeof value === 'boolean') return `the ${typeof value} ${String(value)}`
  if (value === null) return 'an empty value (null)'
  return describeValue(value)
}

/** `spec.mounts[0].mode` */
export function formatPath(path: readonly PathSegment[]): string {
  if (path.length === 0) return '(root)'
  return path.reduce<string>((out, seg) => (typeof seg === 'number' ? `${out}[${seg}]` : out ? `${out}.${seg}` : seg), '')
}

function hasPath(data: unknown, path: readonly PathSegment[]): boolean {
  let cur: unknown = data
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object' || !Object.prototype.hasOwnProperty.call(cur, seg)) return false
    cur = (cur as Record<PathSegment, unknown>)[seg]
  }
  return cur !== undefined
}

function getPath(data: unknown, path: readonly PathSegment[]): unknown {
  return path.reduce<unknown>((cur, seg) => (cur !== null && typeof cur === 'object' ? (cur as Record<PathSegment, unknown>)[seg] : undefined), data)
}

// ---- YAML node lookup --------------------------------------------------------------------------

interface Found {
  node: Node | null
  /** The pair that holds the last segment, when the parent is a mapping. */
  pair: Pair | null
}

/** Walks the YAML tree along a data path as far as it goes; aliases are followed. */
function walk(doc: Document, path: readonly PathSegment[]): Found[] {
  const trail: Found[] = [{node: deref(doc, doc.contents), pair: null}]
  for (const seg of path) {
    const cur = trail[trail.length - 1]?.node
    let next: Found | undefined
    if (isMap(cur)) {
      const pair = cur.items.find((p) => keyText(p.key) === String(seg))
      if (pair) next = {node: isNode(pair.value) ? deref(doc, pair.value) : null, pair}
    } else if (isSeq(cur) && typeof seg === 'number') {
      const item = cur.items[seg]
      if (isNode(item)) next = {node: deref(doc, item), pair: null}
      else if (isPair(item)) next = {node: isNode(item.value) ? deref(doc, item.value) : null, pair: item}
    }
    if (!next) break
    trail.push(next)
  }
  return trail
}

function deref(doc: Document, node: unknown): Node | null {
  if (isAlias(node)) return (node.resolve(doc) as Node | undefined) ?? node
  return isNode(node) ? node : null
}

function unresolvedAlias(doc: Document): Alias | undefined {
  let found: Alias | undefined
  visit(doc, {
    Alias(_, node) {
      if (node.resolve(doc) === undefined) {
        found = node
        return visit.BREAK
      }
      return undefined
    },
  })
  return found
}

function keyText(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key)
}

function nodeStart(node: unknown): number | undefined {
  return isNode(node) ? node.range?.[0] : undefined
}

/** Offset of the value at `path` (or of its key, when the value is empty), else the nearest ancestor. */
function valueOffset(doc: Document, path: readonly PathSegment[]): number {
  const trail = walk(doc, path)
  for (let i = trail.length - 1; i >= 0; i--) {
    const found = trail[i]
    if (!found) continue
    const {node, pair} = found
    const emptyValue = !node || (isScalar(node) && node.range !== undefined && node.range !== null && node.range[0] === node.range[1])
    const offset = emptyValue ? nodeStart(pair?.key) ?? nodeStart(node) : nodeStart(node)
    if (offset !== undefined) return offset
  }
  return 0
}

/** Offset of the key at the end of `path` (for unknown keys), else of its mapping. */
function keyOffset(doc: Document, path: readonly PathSegment[]): number {
  const trail = walk(doc, path)
  const last = trail[trail.length - 1]
  if (trail.length === path.length + 1 && last?.pair) {
    const offset = nodeStart(last.pair.key)
    if (offset !== undefined) return offset
  }
  return valueOffset(doc, path.slice(0, -1))
}

// ---- schema lookup (allowed keys, descriptions) ------------------------------------------------

/** The schema that validates the value at `path`, following objects, arrays, records and optionals. */
function schemaAt(path: readonly PathSegment[]): z.ZodType | undefined {
  let cur: z.ZodType | undefined = AgentMachineProfileSchema
  for (const seg of path) {
    cur = unwrap(cur)
    if (cur instanceof z.ZodObject) cur = (cur.shape as Record<string, z.ZodType>)[String(seg)]
    else if (cur instanceof z.ZodArray) cur = cur.element as z.ZodType
    else if (cur instanceof z.ZodRecord) cur = cur.valueType as z.ZodType
    else return undefined
  }
  return cur
}

function unwrap(schema: z.ZodType | undefined): z.ZodType | undefined {
  let cur = schema
  while (cur instanceof z.ZodOptional || cur instanceof z.ZodNullable) cur = cur.unwrap() as z.ZodType
  return cur
}

function allowedKeys(path: readonly PathSegment[]): string[] {
  const schema = unwrap(schemaAt(path))
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : []
}

/** A close spelling (edit distance ≤ 2, case-insensitive) among the allowed keys, for "did you mean". */
function closest(key: string, candidates: readonly string[]): string | undefined {
  let best: {name: string; d: number} | undefined
  for (const name of candidates) {
    const d = editDistance(key.toLowerCase(), name.toLowerCase())
    if (d <= 2 && d < key.length && (!best || d < best.d)) best = {name, d}
  }
  return best?.name
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({length: b.length + 1}, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const cur = [i]
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    prev = cur
  }
  return prev[b.length] ?? 0
}
