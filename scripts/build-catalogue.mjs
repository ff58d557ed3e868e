#!/usr/bin/env node
// Compiles policy/sensitive-paths.yaml (the human-maintained deny catalogue, with sources and notes)
// into policy/deny-catalogue.json: only what the mount policy needs at run time. The CLI reads the
// JSON (≈0.3 ms) instead of parsing the YAML (≈100 ms cold, plus ≈40 ms to import `yaml`).
//
//   node scripts/build-catalogue.mjs          write policy/deny-catalogue.json
//   node scripts/build-catalogue.mjs --check  exit 1 when the checked-in JSON is stale
//
// The same functions are imported by test/unit/policy/catalogue.test.ts (drift check).
import {createHash} from 'node:crypto'
import {readFileSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {parse} from 'yaml'

export const CATALOGUE_SCHEMA = 'sourceos.dev/agent-machine/deny-catalogue/v1'
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
export const YAML_PATH = join(REPO_ROOT, 'policy', 'sensitive-paths.yaml')
export const JSON_PATH = join(REPO_ROOT, 'policy', 'deny-catalogue.json')

const PLATFORMS = ['linux', 'macos', 'windows']
const SEVERITIES = new Set(['critical', 'high', 'medium', 'low'])
// secret: reading it leaks something; host-exec: the host later runs (or trusts) what is written there.
const RISKS = new Set(['secret', 'host-exec'])
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
// What a path pattern may start with: ~, an absolute path, a $VAR / %VAR%, a leading ** glob;
// on Windows also a drive letter or a \\ (UNC / device namespace) prefix.
const POSIX_PATTERN = /^(~(\/|$)|\/|\$\{?[A-Za-z_]|\*\*\/)/
const WINDOWS_PATTERN = /^(~([\\/]|$)|%[A-Za-z_][A-Za-z0-9_()]*%|[A-Za-z]:\\|\\\\|\*\*\\|\/)/

function fail(message) {
  throw new Error(`policy/sensitive-paths.yaml: ${message}`)
}

function stringList(value, where) {
  if (value === undefined || value === null) return []
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v.length === 0)) fail(`${where} must be a list of non-empty strings`)
  return value
}

/** "OpenSSH user directory (private keys, …)" → "OpenSSH user directory"; short names keep their parenthesis. */
export function titleOf(name) {
  let title = name.split(' — ')[0].trim()
  const paren = title.indexOf(' (')
  if (paren >= 5) title = title.slice(0, paren).trim()
  return title
}

function slug(text) {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 48)
    .replace(/-+$/g, '')
}

/** Pure: YAML text → the compact catalogue object. Throws on anything the runtime could not use. */
export function buildCatalogue(yamlText) {
  const doc = parse(yamlText, {uniqueKeys: true})
  if (!doc || typeof doc !== 'object') fail('not a mapping')
  if (!Array.isArray(doc.categories)) fail('categories must be a list')

  const entries = []
  const ids = new Set()
  for (const category of doc.categories) {
    if (!category || typeof category.id !== 'string' || !/^[a-z][a-z0-9_]*$/.test(category.id)) fail(`category id ${JSON.stringify(category?.id)} must be snake_case`)
    if (!SEVERITIES.has(category.severity)) fail(`category ${category.id}: severity must be one of ${[...SEVERITIES].join(', ')}`)
    if (!Array.isArray(category.entries) || category.entries.length === 0) fail(`category ${category.id}: entries must be a non-empty list`)
    for (const entry of category.entries) {
      if (!entry || typeof entry.name !== 'string' || entry.name.trim() === '') fail(`category ${category.id}: every entry needs a name`)
      const title = titleOf(entry.name)
      const id = `${category.id}/${slug(title)}`
      if (ids.has(id)) fail(`duplicate entry id ${id} (from name ${JSON.stringify(entry.name)})`)
      ids.add(id)
      const where = `${id}`
      if (!entry.paths || typeof entry.paths !== 'object') fail(`${where}: paths must be a mapping of platform → list`)
      const paths = {}
      for (const key of Object.keys(entry.paths)) {
        if (!PLATFORMS.includes(key)) fail(`${where}: unknown platform ${JSON.stringify(key)}`)
      }
      for (const platform of PLATFORMS) {
        const list = stringList(entry.paths[platform], `${where}.paths.${platform}`)
        const shape = platform === 'windows' ? WINDOWS_PATTERN : POSIX_PATTERN
        for (const pattern of list) {
          if (!shape.test(pattern)) fail(`${where}.paths.${platform}: ${JSON.stringify(pattern)} is not a path pattern (move prose to notes)`)
        }
        if (list.length > 0) paths[platform] = [...new Set(list)]
      }
      const envOverrides = stringList(entry.env_overrides, `${where}.env_overrides`)
      for (const name of envOverrides) if (!ENV_NAME.test(name)) fail(`${where}.env_overrides: ${JSON.stringify(name)} is not an env name`)
      const severity = entry.severity ?? category.severity
      if (!SEVERITIES.has(severity)) fail(`${where}: bad severity`)
      const risk = entry.risk ?? category.risk ?? 'secret'
      if (!RISKS.has(risk)) fail(`${where}: risk must be one of ${[...RISKS].join(', ')}`)
      entries.push({id, category: category.id, title, severity, risk, kind: typeof entry.kind === 'string' ? entry.kind : 'mixed', envOverrides, paths})
    }
  }

  const broad = doc.broad_roots
  if (!broad || typeof broad !== 'object') fail('broad_roots must be a mapping')
  const broadRoots = {all: stringList(broad.all, 'broad_roots.all')}
  for (const platform of PLATFORMS) broadRoots[platform] = stringList(broad[platform], `broad_roots.${platform}`)

  const ws = doc.workspace_secret_patterns ?? {}
  const env = doc.env_denylist ?? {}
  return {
    schema: CATALOGUE_SCHEMA,
    generatedFrom: 'policy/sensitive-paths.yaml',
    generator: 'scripts/build-catalogue.mjs',
    sourceSha256: createHash('sha256').update(yamlText, 'utf8').digest('hex'),
    entries,
    broadRoots,
    workspace: {
      maskByDefault: stringList(ws.mask_by_default, 'workspace_secret_patterns.mask_by_default'),
      writeProtectByDefault: stringList(ws.write_protect_by_default, 'workspace_secret_patterns.write_protect_by_default'),
    },
    envDenylist: {
      exact: stringList(env.exact, 'env_denylist.exact'),
      patterns: stringList(env.patterns, 'env_denylist.patterns'),
    },
  }
}

/** Stable text: one entry per line so reviews see which rule changed. */
export function renderCatalogue(catalogue) {
  const {entries, ...head} = catalogue
  const headJson = JSON.stringify(head, null, 2)
  const lines = entries.map((e) => '    ' + JSON.stringify(e))
  return `${headJson.slice(0, -2)},\n  "entries": [\n${lines.join(',\n')}\n  ]\n}\n`
}

/** Compares the checked-in JSON with a fresh build of the YAML. */
export function checkCatalogueDrift({yamlPath = YAML_PATH, jsonPath = JSON_PATH} = {}) {
  const expected = renderCatalogue(buildCatalogue(readFileSync(yamlPath, 'utf8')))
  let actual = null
  try {
    actual = readFileSync(jsonPath, 'utf8')
  } catch {
    // missing counts as drift
  }
  const ok = actual === expected
  return {ok, message: ok ? 'policy/deny-catalogue.json is up to date' : 'policy/deny-catalogue.json is stale: run `node scripts/build-catalogue.mjs`'}
}

function main(argv) {
  if (argv.includes('--check')) {
    const result = checkCatalogueDrift()
    console.error(result.message)
    return result.ok ? 0 : 1
  }
  const catalogue = buildCatalogue(readFileSync(YAML_PATH, 'utf8'))
  writeFileSync(JSON_PATH, renderCatalogue(catalogue))
  console.error(`catalogue: wrote policy/deny-catalogue.json (${catalogue.entries.length} entries)`)
  return 0
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = main(process.argv.slice(2))
}
