/** The `evidence inspect --json` result (schemas/agent-machine-evidence-inspect-result.schema.json is generated from it). */
import {z} from 'zod'
import {NetworkEvidenceSchema} from '../network/evidence.js'

import {DigestSchema, GitStateSchema, ImageInfoSchema, KubeRunSchema, OutcomeSchema, PodmanRunSchema, RecordHostSchema, RecordStatusSchema, ToolVersionsSchema, UserRefsSchema, WorkspaceChangeSchema} from './record.js'

export const FindingSchema = z
  .object({
    file: z.string().describe('The exact file that fails: a record file, or index.jsonl.'),
    field: z
      .string()
      .nullable()
      .describe('The failing field, as a path into the record (e.g. predicate.chain.prev) or an index line (e.g. "line 3: prevLine"); null when the whole file fails (missing, not JSON, altered).'),
    problem: z.string().describe('What is wrong, one line.'),
  })
  .strict()

export const RecordSummarySchema = z
  .object({
    verb: z.enum(['run', 'shell', 'export']).describe('The verb that started the session (export: a cluster run, `export --kube --play`).'),
    tool: z.string().nullable().describe('The agent tool run; null for shell.'),
    argv: z.array(z.string()).describe('The CLI’s own arguments.'),
    startedAt: z.string().describe('When the session began.'),
    finishedAt: z.string().nullable().describe('When it ended; null when it never completed.'),
    exitCode: z.number().int().nullable().describe('The tool’s exit code; null when none was recorded.'),
    host: RecordHostSchema.describe('Where it ran.'),
    mounts: z
      .array(z.object({source: z.string(), target: z.string(), mode: z.enum(['rw', 'ro'])}).strict())
      .describe('What the container saw: resolved source, target, mode.'),
    image: ImageInfoSchema.describe('The image run.'),
    git: z.array(GitStateSchema).describe('Each mounted repo’s ref, commit and dirty flag.'),
    policyHash: z.string().describe('The recorded policy hash.'),
    toolVersions: ToolVersionsSchema.describe('podman, git, nix and tool versions.'),
    podmanArgv: z.array(z.string()).describe('The exact podman argv.'),
    workspace: z.array(WorkspaceChangeSchema).optional().describe('What the agent changed in each mounted checkout (absent in records of older CLIs).'),
    network: NetworkEvidenceSchema.optional().describe('Network egress: the mode, the allowlist and every destination the agent tried (absent while started and in records of older CLIs).'),
    outcome: OutcomeSchema.optional().describe('How the launch ended: the tool ran, or the launch failed or was interrupted before it (and why). Absent while started and in records of older CLIs.'),
    podmanRan: z.array(PodmanRunSchema).optional().describe('Every podman command the launch ran, with its exit code (absent while started and in records of older CLIs).'),
    userRefs: UserRefsSchema.pick({repo: true, changes: true, error: true}).optional().describe('--worktree runs: what changed in the user’s refs (the record holds the full lists before and after).'),
    kube: KubeRunSchema.optional().describe('Cluster runs: the Pod (UID, node), the manifest digest, the pinned and cloned commits, the containers and the result bundle.'),
  })
  .strict()

export const RecordReportSchema = z
  .object({
    file: z.string().describe('The record file (as found, or as the index names it when it is missing).'),
    seq: z.number().int().nullable().describe('predicate.chain.seq (or the index’s seq when the file is missing/unreadable).'),
    runId: z.string().nullable().describe('predicate.runId, when readable.'),
    status: RecordStatusSchema.nullable().describe('The recorded status; null when the record is missing or unreadable.'),
    incomplete: z
      .boolean()
      .describe('True when the session never completed (status started: still running, or the CLI was killed) or ended without an exit code. Not an integrity failure.'),
    valid: z.boolean().describe('True when no finding names this file.'),
    digest: DigestSchema.nullable().describe('sha256 over the file’s bytes without the trailing newline (the JCS text); null when missing.'),
    policyHashVerified: z.boolean().nullable().describe('True when policyHash was recomputed from predicate.policy and matches; null when it could not be recomputed.'),
    signed: z
      .boolean()
      .nullable()
      .describe('True when <file>.dsse is a DSSE envelope of exactly this record, signed by a trusted key; false when it is missing or does not verify; null when signatures were not checked (an unsigned dir).'),
    note: z.string().nullable().describe('Something worth knowing that is not a failure (e.g. a started record whose writer was killed before indexing it); null when none.'),
    summary: RecordSummarySchema.nullable().describe('What ran, where, with what; null when the record fails its schema or is missing.'),
  })
  .strict()

export const InspectResultSchema = z
  .object({
    valid: z.boolean().describe('True only when verdict is "valid" (exit 0); false means exit 5. Incomplete records do not make it false.'),
    verdict: z
      .enum(['valid', 'invalid', 'unverified'])
      .describe('valid: every record, the chain, the signatures and the checkpoint verify against a trusted key; invalid: at least one finding (tampering or damage); unverified: nothing is wrong, but nothing anchors it either (unsigned, signed only by the key stored beside the records, or a loose folder) — see `unverified`.'),
    unverified: z.array(z.string()).describe('Why the evidence is UNVERIFIED (empty unless verdict is "unverified", and also listed when invalid).'),
    signatures: z
      .object({
        trust: z
          .enum(['trusted-key', 'local-key', 'dir-keys', 'none'])
          .describe('Which keys were trusted: trusted-key (--trusted-key), local-key (this host’s own signing key in the state dir), dir-keys (only the keys stored beside the records: proves nothing against whoever can write the dir), none.'),
        keyids: z.array(z.string()).describe('The trusted key ids (hex SHA-256 of the SPKI DER).'),
        signed: z.number().int().min(0).describe('Records whose envelope verified.'),
      })
      .strict()
      .describe('Signature checking.'),
    checkpoint: z
      .object({
        file: z.string().describe('Path of checkpoint.dsse.'),
        present: z.boolean(),
        verified: z.boolean().describe('Signed by a trusted key.'),
        lines: z.number().int().nullable().describe('The index line count it signed.'),
        head: DigestSchema.nullable().describe('The index head it signed.'),
        signedAt: z.string().nullable(),
      })
      .strict()
      .nullable()
      .describe('The signed checkpoint of an evidence dir; null for a loose record or folder.'),
    path: z.string().describe('The path inspected, as given.'),
    kind: z.enum(['file', 'dir']).describe('A single record file, or an evidence dir.'),
    evidenceDir: z.string().nullable().describe('The evidence dir whose index was used (a file inside records/ is checked against it); null when there is none.'),
    index: z
      .object({
        file: z.string().describe('Path of index.jsonl.'),
        present: z.boolean().describe('Whether index.jsonl exists.'),
        lines: z.number().int().min(0).describe('Number of lines read.'),
        head: DigestSchema.nullable().describe('sha256 of the last index line: anchor this to pin the whole history.'),
      })
      .strict()
      .nullable()
      .describe('The index of the evidence dir; null for a loose record file or folder without one.'),
    chain: z
      .object({
        checked: z.boolean().describe('Whether prev links were checked (a dir, or a file inside an evidence dir).'),
        length: z.number().int().min(0).describe('Number of records in the chain (present or missing).'),
        head: z
          .object({seq: z.number().int().describe('Highest seq.'), digest: DigestSchema.nullable().describe('Its current digest; null when missing.')})
          .strict()
          .nullable()
          .describe('The last record of the chain.'),
      })
      .strict()
      .describe('The chain of records.'),
    records: z.array(RecordReportSchema).describe('One entry per record, in seq order.'),
    incomplete: z.number().int().min(0).describe('How many records never completed.'),
    findings: z.array(FindingSchema).describe('Every failure, each naming the exact file and field; empty when valid.'),
  })
  .strict()
  .describe('Result of `sourceosctl agent-machine evidence inspect --json`.')

export type Finding = z.infer<typeof FindingSchema>
export type RecordSummary = z.infer<typeof RecordSummarySchema>
export type RecordReport = z.infer<typeof RecordReportSchema>
export type InspectResult = z.infer<typeof InspectResultSchema>
