/** The `run --json` / `shell --json` result (schemas/agent-machine-launch-result.schema.json). */
import {z} from 'zod'

import {IntegrityReportSchema} from '../evidence/record.js'
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
        repo: z.string().describe('The user’s checkout the worktree branches off (never mounted, never changed).'),
        path: z.string().describe('The worktree folder (under the state dir), mounted in place of the checkout.'),
        target: z.string().describe('Where the worktree is mounted in the container.'),
        branch: z.string().describe('The new branch.'),
        baseCommit: z.string().describe('The commit the branch starts from.'),
        commonDir: z.string().describe('The git dir shared with the checkout (mounted read-only, objects/refs/logs read-write).'),
        created: z.boolean().describe('Whether the worktree exists now (false under --dry-run, or when the launch stopped before creating it).'),
        review: z
          .object({diff: z.string(), merge: z.string(), remove: z.string()})
          .strict()
          .describe('Shell commands to see, take or throw away the work on the branch.'),
      })
      .strict()
      .optional()
      .describe('Only with --worktree: the worktree made for this run, left for review.'),
    integrity: IntegrityReportSchema.optional().describe('After a real session: what the agent left that the host would run or trust, and what was done (exit 6 when anything was quarantined).'),
  })
  .strict()
  .describe('Result of `sourceosctl agent-machine run|shell --json`.')

export type LaunchResult = z.infer<typeof LaunchResultSchema>
