/** The `run --json` / `shell --json` result (schemas/agent-machine-launch-result.schema.json). */
import {z} from 'zod'

import {IntegrityReportSchema} from '../evidence/record.js'
import {NetworkEvidenceSchema} from '../network/evidence.js'
import {PlanSchema} from '../plan/schema.js'

export const LaunchResultSchema = z
  .object({
    runId: z.string().describe('Run id: also the container label dev.sourceos.agent-machine.run-id and the evidence record id.'),
    verb: z.enum(['run', 'shell']).describe('Which verb ran.'),
    tool: z.string().nullable().describe('The tool for run; null for shell.'),
    dryRun: z.boolean().describe('True under --dry-run: only the plan was produced, nothing mutating ran.'),
    exitCode: z.number().int().nullable().describe('The tool’s exit code (also the CLI’s); null under --dry-run.'),
    container: z.string().describe('Container name.'),
    profile: z.object({name: z.string(), path: z.string()}).strict().describe('The active profile.'),
    policyHash: z.string().regex(/^sha256:[a-f0-9]{64}$/).describe('sha256 over the RFC 8785 canonical JSON of the effective policy.'),
    image: z.object({ref: z.string(), id: z.string(), digest: z.string().nullable()}).strict().describe('The image that runs (by ID).'),
    mounts: z
      .array(
        z
          .object({
            source: z.string().describe('realpath-resolved host path.'),
            podmanSource: z.string().describe('The path Podman mounts (inside the machine on macOS/Windows).'),
            target: z.string(),
            mode: z.enum(['rw', 'ro']),
          })
          .strict(),
      )
      .describe('Exactly the mounts the container gets.'),
    workdir: z.string().describe('Working directory in the container (the --repo mount).'),
    plan: PlanSchema,
    evidence: z.string().nullable().describe('Path of the evidence record; null under --dry-run.'),
    warnings: z.array(z.string()).describe('Non-fatal findings (e.g. a .env file in a mounted repo).'),
    worktree: z
      .object({
        repo: z.string().describe('The user’s checkout the branch starts from. Never mounted: only its objects dir is, read-only.'),
        path: z.string().describe('The agent’s own clone (under the state dir), mounted in place of the checkout and left for review.'),
        target: z.string().describe('Where the clone is mounted in the container.'),
        branch: z.string().describe('The new branch: made in the clone, brought back into the repo after the session.'),
        baseCommit: z.string().describe('The commit the branch starts from.'),
        commonDir: z.string().describe('The repo’s common git dir; only its objects dir is mounted (read-only, at the same path: the clone borrows it).'),
        created: z.boolean().describe('Whether the clone exists now (false under --dry-run, or when the launch stopped before making it).'),
        review: z
          .object({diff: z.string(), merge: z.string(), remove: z.string()})
          .strict()
          .describe('Shell commands to see, take or throw away the work on the branch.'),
        broughtBack: z
          .object({
            commit: z.string().nullable().describe('What refs/heads/<branch> points at in the repo now (the agent’s last commit on it); null when nothing was brought back.'),
            error: z
              .object({code: z.string(), message: z.string(), fix: z.string().nullable(), exitCode: z.number().int()})
              .strict()
              .nullable()
              .describe('Why the branch was not brought back (the CLI exits with this code): e.g. WORKTREE_CLONE_TAMPERED, WORKTREE_BRANCH_TAKEN.'),
          })
          .strict()
          .nullable()
          .describe('After the session: the one branch fetched back into the repo. Null under --dry-run, or when the session never ran.'),
      })
      .strict()
      .optional()
      .describe('Only with --worktree: the clone made for this run (left for review) and its branch.'),
    integrity: IntegrityReportSchema.optional().describe('After a real session: what the agent left that the host would run or trust, and what was done (exit 6 when anything was quarantined).'),
    network: NetworkEvidenceSchema.optional().describe('After a real session: the network mode, the allowlist and every destination the agent tried (from the egress proxy’s log), as in the evidence.'),
  })
  .strict()
  .describe('Result of `sourceosctl agent-machine run|shell --json`.')

export type LaunchResult = z.infer<typeof LaunchResultSchema>
