/** The `doctor --json` result (schemas/agent-machine-doctor-result.schema.json is generated from it). */
import {z} from 'zod'

import {HostReportSchema} from '../host/schema.js'

export const CheckStatusSchema = z
  .enum(['ok', 'warn', 'fail', 'timeout', 'skip'])
  .describe('ok: fine; warn: works but worth fixing; fail: a prerequisite is missing; timeout: the probe did not answer in time; skip: not applicable here.')

export const CheckSchema = z
  .object({
    id: z.string().describe('Stable check id, e.g. podman-cli, machine, git, mount:/workspace/app, repo.'),
    title: z.string().describe('What was checked, for humans.'),
    status: CheckStatusSchema,
    required: z.boolean().describe('Whether a fail/timeout of this check makes the host not ready (exit 4).'),
    detail: z.string().describe('What was found, one line.'),
    fix: z.string().nullable().describe('How to fix a failure or warning, one line; null when ok.'),
    durationMs: z.number().int().min(0).describe('How long the probe took.'),
  })
  .strict()

export const DoctorReportSchema = z
  .object({
    ready: z.boolean().describe('True when every required check passed (exit 0); false means exit 4.'),
    host: HostReportSchema.extend({isRoot: z.boolean().describe('Whether the CLI runs as root/uid 0.')})
      .strict()
      .describe('The host the CLI runs on.'),
    profile: z
      .object({
        path: z.string().describe('Where the active profile is (or would be) read from.'),
        status: z.enum(['loaded', 'missing', 'invalid']).describe('Whether the active profile could be read.'),
        name: z.string().nullable().describe('metadata.name of the loaded profile.'),
      })
      .strict()
      .describe('The active profile.'),
    podman: z
      .object({
        version: z.string().nullable().describe('Version printed by `podman --version` (the client).'),
        serverVersion: z.string().nullable().describe('Version of the Podman service answering (the VM on macOS/Windows).'),
        remote: z.boolean().nullable().describe('True when podman is a remote client of a machine/VM (macOS, Windows).'),
        rootless: z.boolean().nullable().describe('True when containers run rootless.'),
      })
      .strict()
      .describe('Podman as found.'),
    machine: z
      .object({
        name: z.string().nullable().describe('Podman machine checked; null on native Linux.'),
        state: z
          .enum(['running', 'stopped', 'starting', 'absent', 'not-applicable', 'unsupported-root', 'unknown', 'timeout'])
          .describe('Machine state.'),
      })
      .strict()
      .describe('The profile’s Podman machine.'),
    tools: z
      .object({
        podman: z.string().nullable().describe('podman version, null when missing.'),
        git: z.string().nullable().describe('git version, null when missing.'),
        nix: z.string().nullable().describe('nix version, null when missing.'),
      })
      .strict()
      .describe('Tool versions.'),
    evidenceDir: z.string().describe('Where evidence records are written by default.'),
    checks: z.array(CheckSchema).describe('One entry per check, in display order.'),
  })
  .strict()
  .describe('Result of `sourceosctl agent-machine doctor --json`.')

export type Check = z.infer<typeof CheckSchema>
export type CheckStatus = z.infer<typeof CheckStatusSchema>
export type DoctorReport = z.infer<typeof DoctorReportSchema>
