/**
 * Every checked-in JSON Schema and the zod schema it is generated from. scripts/gen-schemas.mjs
 * writes schemas/ from this list; `make validate` fails when the files drift from the code.
 */
import type {z} from 'zod'

import {DoctorReportSchema} from './doctor/report.js'
import {AgentMachineFingerprintSchema, FINGERPRINT_SCHEMA_ID} from './fingerprint/schema.js'
import {InitResultSchema} from './init/result.js'
import {LaunchResultSchema} from './launch/result.js'
import {AgentMachineProfileSchema, PROFILE_SCHEMA_ID} from './profile/schema.js'

export interface SchemaEntry {
  file: string
  id: string
  title: string
  schema: z.ZodType
}

const BASE = 'https://sourceos.dev/schemas/'

export const SCHEMAS: SchemaEntry[] = [
  {file: 'agent-machine-profile.schema.json', id: PROFILE_SCHEMA_ID, title: 'AgentMachineProfile', schema: AgentMachineProfileSchema},
  {file: 'agent-machine-fingerprint.schema.json', id: FINGERPRINT_SCHEMA_ID, title: 'AgentMachineFingerprint', schema: AgentMachineFingerprintSchema},
  {file: 'agent-machine-doctor-result.schema.json', id: `${BASE}agent-machine-doctor-result.schema.json`, title: 'doctor --json result', schema: DoctorReportSchema},
  {file: 'agent-machine-init-result.schema.json', id: `${BASE}agent-machine-init-result.schema.json`, title: 'init --json result', schema: InitResultSchema},
  {file: 'agent-machine-launch-result.schema.json', id: `${BASE}agent-machine-launch-result.schema.json`, title: 'run/shell --json result', schema: LaunchResultSchema},
]

/** The JSON error document every verb prints under --json when it fails. */
export const ERROR_SCHEMA_FILE = 'agent-machine-error.schema.json'
