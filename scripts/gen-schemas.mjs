#!/usr/bin/env node
// Generates schemas/*.schema.json from the zod schemas (via the built dist/), or with --check
// fails when the checked-in files differ from what the code would generate.
import {existsSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {z} from 'zod'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const registryPath = join(root, 'dist/core/schema-registry.js')
if (!existsSync(registryPath)) {
  console.error('schemas: dist/ is missing — run `make build` first')
  process.exit(1)
}
const {SCHEMAS, ERROR_SCHEMA_FILE} = await import(registryPath)
const check = process.argv.includes('--check')

const errorSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: `https://sourceos.dev/schemas/${ERROR_SCHEMA_FILE}`,
  title: 'Error document printed by any verb under --json when it fails',
  type: 'object',
  required: ['error'],
  additionalProperties: false,
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'exitCode', 'fix'],
      additionalProperties: false,
      properties: {
        code: {type: 'string', description: 'Stable machine-readable error code, e.g. PROFILE_INVALID.'},
        message: {type: 'string', description: 'What went wrong, one line.'},
        exitCode: {type: 'integer', description: 'The process exit code (see the exit-code table).'},
        fix: {type: ['string', 'null'], description: 'What to do about it.'},
        details: {type: 'object', description: 'Structured details, e.g. every profile issue with line and column.'},
      },
    },
  },
}

const wanted = new Map()
for (const entry of SCHEMAS) {
  const generated = z.toJSONSchema(entry.schema, {target: 'draft-2020-12', io: 'output', unrepresentable: 'throw'})
  const {$schema, ...rest} = generated
  wanted.set(entry.file, {$schema, $id: entry.id, title: entry.title, ...rest})
}
wanted.set(ERROR_SCHEMA_FILE, errorSchema)

const dir = join(root, 'schemas')
let drift = 0
for (const [file, schema] of wanted) {
  const text = JSON.stringify(schema, null, 2) + '\n'
  const path = join(dir, file)
  const current = existsSync(path) ? readFileSync(path, 'utf8') : null
  if (current === text) continue
  if (check) {
    console.error(`schemas: ${file} is out of date with the zod schema — run \`make schemas\` and commit the result`)
    drift++
  } else {
    writeFileSync(path, text)
    console.error(`schemas: wrote ${file}`)
  }
}
for (const file of readdirSync(dir)) {
  if (file.endsWith('.schema.json') && !wanted.has(file)) {
    console.error(`schemas: ${file} has no zod source in src/core/schema-registry.ts`)
    if (check) drift++
  }
}
if (drift) process.exit(1)
if (check) console.error(`schemas: ${wanted.size} schemas match the code`)
