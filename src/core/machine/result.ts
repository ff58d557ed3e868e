/** The `start --json` result (schemas/agent-machine-start-result.schema.json is generated from it). */
import {z} from 'zod'

import {PlanSchema} from '../plan/schema.js'
import {ProviderSchema} from '../profile/schema.js'

export const MachineRunStateSchema = z
  .enum(['running', 'stopped', 'starting', 'not-applicable'])
  .describe('not-applicable: a native Linux profile, which has no machine.')

export const StartResultSchema = z
  .object({
    dryRun: z.boolean().describe('True under --dry-run: the plan was printed and nothing that changes anything ran.'),
    profile: z
      .object({path: z.string().describe('Profile file used.'), name: z.string().describe('metadata.name of the profile.')})
      .strict(),
    platform: z.enum(['linux', 'macos', 'windows']).describe('Host platform.'),
    podman: z
      .object({
        version: z.string().nullable().describe('Podman client version (`podman --version`).'),
        rootless: z.boolean().nullable().describe('Native Linux only: whether Podman runs rootless; null when not checked.'),
      })
      .strict(),
    machine: z
      .object({
        name: z.string().nullable().describe('The profile’s machine; null on native Linux.'),
        provider: ProviderSchema.nullable(),
        env: z.record(z.string(), z.string()).describe('Environment given to every machine command: CONTAINERS_MACHINE_PROVIDER=<the profile\'s provider>, always (containers.conf may select another).'),
        before: MachineRunStateSchema.describe('State found before start did anything.'),
        after: MachineRunStateSchema.describe('State afterwards (under --dry-run: unchanged).'),
        action: z
          .enum(['started', 'waited', 'already-running', 'none', 'would-start', 'would-wait'])
          .describe('started: ran `podman machine start`; waited: it was starting (Starting, even with Running) and start waited until it was ready; none: native Linux; would-*: --dry-run.'),
      })
      .strict(),
    image: z
      .object({
        ref: z.string().describe('The profile’s image reference.'),
        pull: z.enum(['never', 'missing']).describe('The profile’s pull policy.'),
        status: z
          .enum(['present', 'pulled', 'would-pull', 'built', 'would-build', 'unknown'])
          .describe('built: start built it from the Containerfile shipped with sourceosctl (a localhost/ image that was missing); would-*: --dry-run; unknown: under --dry-run with the machine not running yet, local storage could not be asked.'),
        id: z.string().nullable().describe('Local image ID (64 hex) when known.'),
        pinMatches: z.boolean().nullable().describe('Whether the image matches the profile’s digest pin; null without a pin or an image.'),
      })
      .strict(),
    plan: PlanSchema,
    notes: z.array(z.string()).describe('Things worth knowing (also printed on stderr).'),
  })
  .strict()
  .describe('Result of `sourceosctl agent-machine start --json`. Failures print the error document instead (agent-machine-error.schema.json); MACHINE_ABSENT carries details.initCommand.')

export type StartResult = z.infer<typeof StartResultSchema>
export type MachineRunStateValue = z.infer<typeof MachineRunStateSchema>
