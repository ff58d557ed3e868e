/** A real JSON Schema validator (Ajv, draft 2020-12) over the checked-in schemas/. */
import {readFileSync, readdirSync} from 'node:fs'
import {join} from 'node:path'

import {Ajv2020} from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'

import {REPO_ROOT} from './run-command.js'

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => void

let ajv: Ajv2020 | undefined

function validator(): Ajv2020 {
  if (ajv) return ajv
  ajv = new Ajv2020({allErrors: true, strict: false})
  addFormats(ajv)
  const dir = join(REPO_ROOT, 'schemas')
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.schema.json'))) {
    ajv.addSchema(JSON.parse(readFileSync(join(dir, file), 'utf8')), file)
  }
  return ajv
}

/** Returns the validation errors (empty when valid) of `data` against schemas/<file>. */
export function schemaErrors(file: string, data: unknown): string[] {
  const validate = validator().getSchema(file)
  if (!validate) throw new Error(`no schema ${file} in schemas/`)
  if (validate(data)) return []
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`)
}
