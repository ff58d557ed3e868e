/**
 * A reader for git's config-file syntax (git-config(1), "CONFIGURATION FILE"), enough to judge a
 * config the agent may have written without asking git (which could run what it names). Pure.
 * Anything it cannot read is reported as unreadable, never guessed.
 */

export interface ConfigEntry {
  /** `section.subsection.key` with section and key lower-cased (git's own canonical form). */
  name: string
  /** The section (lower case), the subsection as written (case-sensitive), the key (lower case). */
  section: string
  subsection: string | null
  key: string
  /** null for a bare key (`[core] bare` means true). */
  value: string | null
  line: number
}

export type ParsedConfig = {ok: true; entries: ConfigEntry[]} | {ok: false; line: number; reason: string}

const SECTION = /^\[\s*([A-Za-z0-9.-]+)(?:\s+"((?:[^"\\\n]|\\.)*)")?\s*\]/
const KEY = /^([A-Za-z][A-Za-z0-9-]*)\s*(=)?/

export function parseGitConfig(text: string): ParsedConfig {
  const entries: ConfigEntry[] = []
  const lines = text.replace(/^\uFEFF/, '').split('\n')
  let section: string | null = null
  let subsection: string | null = null
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1
    let rest = lines[i]!.replace(/\r$/, '').trimStart()
    if (rest === '' || rest.startsWith('#') || rest.startsWith(';')) continue
    if (rest.startsWith('[')) {
      const m = SECTION.exec(rest)
      if (!m) return {ok: false, line: lineNo, reason: 'a section header git would reject or read differently'}
      const name = m[1]!.toLowerCase()
      if (m[2] !== undefined) {
        section = name
        subsection = m[2].replace(/\\(.)/g, '$1')
      } else {
        // Deprecated `[section.sub]`: the subsection is lower-cased by git.
        const dot = name.indexOf('.')
        section = dot < 0 ? name : name.slice(0, dot)
        subsection = dot < 0 ? null : name.slice(dot + 1)
      }
      rest = rest.slice(m[0].length).trimStart()
      if (rest === '' || rest.startsWith('#') || rest.startsWith(';')) continue
    }
    const k = KEY.exec(rest)
    if (!k || section === null) return {ok: false, line: lineNo, reason: 'a line that is not a key or section'}
    const key = k[1]!.toLowerCase()
    if (!k[2]) {
      const after = rest.slice(k[0].length).trim()
      if (after !== '' && !after.startsWith('#') && !after.startsWith(';')) return {ok: false, line: lineNo, reason: 'text after a key without ='}
      entries.push(entry(section, subsection, key, null, lineNo))
      continue
    }
    // The value may continue over lines ending in a backslash; quotes and escapes as git reads them.
    let raw = rest.slice(k[0].length)
    while (/(^|[^\\])(\\\\)*\\$/.test(raw) && i + 1 < lines.length) {
      raw = raw.slice(0, -1) + lines[++i]!.replace(/\r$/, '')
    }
    const value = readValue(raw)
    if (value === null) return {ok: false, line: lineNo, reason: 'a value with an unterminated quote or a bad escape'}
    entries.push(entry(section, subsection, key, value, lineNo))
  }
  return {ok: true, entries}
}

function entry(section: string, subsection: string | null, key: string, value: string | null, line: number): ConfigEntry {
  return {name: subsection === null ? `${section}.${key}` : `${section}.${subsection}.${key}`, section, subsection, key, value, line}
}

function readValue(raw: string): string | null {
  let out = ''
  let quoted = false
  let pendingSpace = ''
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!
    if (!quoted && (ch === '#' || ch === ';')) break
    if (ch === '"') {
      quoted = !quoted
      continue
    }
    if (ch === '\\') {
      const next = raw[++i]
      const map: Record<string, string> = {n: '\n', t: '\t', b: '\b', '"': '"', '\\': '\\'}
      if (next === undefined || !(next in map)) return null
      out += pendingSpace + map[next]!
      pendingSpace = ''
      continue
    }
    if (!quoted && (ch === ' ' || ch === '\t')) {
      if (out !== '') pendingSpace += ch
      continue
    }
    out += pendingSpace + ch
    pendingSpace = ''
  }
  return quoted ? null : out
}
