/** The `init --json` result (schemas/agent-machine-init-result.schema.json is generated from it). */
import {z} from 'zod'

import {PlanSchema} from '../plan/schema.js'
import {AgentMachineProfileSchema, MountSchema} from '../profile/schema.js'

export const InitResultSchema = z
  .object({
    action: z.enum(['create', 'overwrite', 'add-mount', 'add-allow', 'remove-mount', 'unchanged']).describe('What init did (or, under --dry-run, would do); add-allow: only --allow-host entries were added; remove-mount: --remove-repo took mounts off.'),
    dryRun: z.boolean().describe('True under --dry-run: nothing was written.'),
    written: z.boolean().describe('Whether the profile file was written.'),
    destination: z.string().describe('Path of the profile file.'),
    addedMounts: z.array(MountSchema).describe('Mounts this run added to the allowlist.'),
    addedAllow: z.array(z.string()).describe('--allow-host entries this run added to spec.network.allow.'),
    removedMounts: z.array(MountSchema).optional().describe('Mounts --remove-repo took off the allowlist.'),
    profile: AgentMachineProfileSchema.describe('The resulting profile.'),
    plan: PlanSchema,
    warnings: z.array(z.string()).describe('Things to know about what was allowlisted (e.g. a folder that holds several repositories).'),
  })
  .strict()
  .describe('Result of `sourceosctl agent-machine init --json`.')

export type InitResult = z.infer<typeof InitResultSchema>
