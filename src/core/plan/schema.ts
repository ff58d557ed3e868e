/** JSON shape of a Plan, shared by every mutating verb's --json result. */
import {z} from 'zod'

export const StepSchema = z
  .object({
    argv: z.array(z.string()).min(1).describe('Exact argv that runs; `sourceosctl:*` programs are actions the CLI performs itself (e.g. an atomic file write).'),
    why: z.string().describe('Why the step exists.'),
    mutates: z.boolean().describe('Whether the step changes anything; under --dry-run these do not run.'),
  })
  .strict()

export const PlanSchema = z
  .object({
    verb: z.string().describe('The verb that built the plan.'),
    steps: z.array(StepSchema).describe('Ordered steps.'),
  })
  .strict()
  .describe('The plan: under --dry-run it is printed and nothing mutating runs; otherwise exactly these steps run.')
