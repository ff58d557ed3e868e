/** The host as reported in --json results and the fingerprint (one definition for all of them). */
import {z} from 'zod'

export const HostReportSchema = z
  .object({
    platform: z.enum(['linux', 'macos', 'windows']).describe('Host platform.'),
    os: z.string().describe('OS name.'),
    osVersion: z.string().describe('OS version.'),
    kernel: z.string().describe('Kernel release.'),
    arch: z.string().describe('CPU architecture (Node naming: x64, arm64).'),
  })
  .strict()
