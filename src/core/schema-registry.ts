/**
 * Every checked-in JSON Schema and the zod schema it is generated from. scripts/gen-schemas.mjs
 * writes schemas/ from this list; `make validate` fails when the files drift from the code.
 */
import type {z} from 'zod'

import {DoctorReportSchema} from './doctor/report.js'
import {AgentMachineFingerprintSchema, FINGERPRINT_SCHEMA_ID} from './fingerprint/schema.js'
import {INDEX_ENTRY_SCHEMA_ID, IndexEntrySchema} from './evidence/index-log.js'
import {InspectResultSchema} from './evidence/inspect-result.js'
import {EVIDENCE_RECORD_SCHEMA_ID, EvidenceRecordSchema} from './evidence/record.js'
import {InitResultSchema} from './init/result.js'
import {StartResultSchema} from './machine/result.js'
import {LaunchResultSchema} from './launch/result.js'
import {AgentMachineProfileSchema, PROFILE_SCHEMA_ID} from './profile/schema.js'
import {SessionsResultSchema} from './sessions/sessions.js'

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
  {file: 'agent-machine-start-result.schema.json', id: `${BASE}agent-machine-start-result.schema.json`, title: 'start --json result', schema: StartResultSchema},
  {file: 'agent-machine-evidence-record.schema.json', id: EVIDENCE_RECORD_SCHEMA_ID, title: 'Agent-machine evidence record (in-toto Statement v1)', schema: EvidenceRecordSchema},
  {file: 'agent-machine-evidence-index-entry.schema.json', id: INDEX_ENTRY_SCHEMA_ID, title: 'One line of an evidence dir’s index.jsonl', schema: IndexEntrySchema},
  {
    file: 'agent-machine-evidence-inspect-result.schema.json',
    id: `${BASE}agent-machine-evidence-inspect-result.schema.json`,
    title: 'evidence inspect --json result',
    schema: InspectResultSchema,
  },
  {file: 'agent-machine-launch-result.schema.json', id: `${BASE}agent-machine-launch-result.schema.json`, title: 'run/shell --json result', schema: LaunchResultSchema},
  {file: 'agent-machine-ps-result.schema.json', id: `${BASE}agent-machine-ps-result.schema.json`, title: 'ps --json result', schema: SessionsResultSchema},
]

/** The JSON error document every verb prints under --json when it fails. */
export const ERROR_SCHEMA_FILE = 'agent-machine-error.schema.json'
