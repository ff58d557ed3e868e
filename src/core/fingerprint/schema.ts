/** AgentMachineFingerprint (schemas/agent-machine-fingerprint.schema.json is generated from it). */
import {z} from 'zod'

import {HostReportSchema} from '../host/schema.js'

export const FINGERPRINT_KIND = 'AgentMachineFingerprint'
export const FINGERPRINT_API_VERSION = 'sourceos.dev/v1alpha1'
export const FINGERPRINT_SCHEMA_ID = 'https://sourceos.dev/schemas/agent-machine-fingerprint.schema.json'

const nullableString = (description: string) => z.string().nullable().describe(description)

export const PodmanBuildSchema = z
  .object({
    version: z.string().describe('Podman version.'),
    apiVersion: nullableString('Podman API version.'),
    os: nullableString('OS the build runs on (darwin, windows, linux).'),
    arch: nullableString('Architecture the build runs on.'),
  })
  .strict()

export const AgentMachineFingerprintSchema = z
  .object({
    apiVersion: z.literal(FINGERPRINT_API_VERSION).describe('Document API version.'),
    kind: z.literal(FINGERPRINT_KIND).describe('Document kind.'),
    fingerprint: z
      .string()
      .regex(/^sha256:[a-f0-9]{64}$/)
      .describe('sha256 over the RFC 8785 canonical JSON of every field except fingerprint, generatedAt, machine.state and profile.path: equal for two runs on an unchanged setup.'),
    generatedAt: z.string().describe('When this document was produced (RFC 3339, UTC). Not part of the fingerprint.'),
    host: HostReportSchema
      .describe('The host.'),
    podman: z
      .object({
        client: PodmanBuildSchema.nullable().describe('The podman client; null when podman is missing or does not answer.'),
        server: PodmanBuildSchema.nullable().describe('The podman server when the client is remote (macOS/Windows machine); null when native or unreachable.'),
        remote: z.boolean().nullable().describe('True when podman talks to a machine/VM; null when unknown.'),
        rootless: z.boolean().nullable().describe('True when containers run rootless; null when unknown.'),
      })
      .strict()
      .describe('Podman client and server.'),
    machine: z
      .object({
        name: nullableString('Podman machine of the profile; null on native Linux.'),
        provider: nullableString('Machine provider from the profile (applehv, libkrun, qemu, wsl, hyperv).'),
        rootful: z.boolean().nullable().describe('Whether the profile asks for a rootful machine.'),
        state: z.string().describe('Machine state when probed (running, stopped, absent, not-applicable, …). Not part of the fingerprint.'),
      })
      .strict()
      .describe('The Podman machine.'),
    tools: z
      .object({
        podman: nullableString('podman --version, null when missing.'),
        git: nullableString('git --version, null when missing.'),
        nix: nullableString('nix --version, null when missing.'),
      })
      .strict()
      .describe('Tool versions on the host.'),
    profile: z
      .object({
        name: nullableString('metadata.name of the active profile; null when there is none.'),
        path: z.string().describe('Where the active profile is read from.'),
        status: z.enum(['loaded', 'missing', 'invalid']).describe('Whether the profile could be read.'),
        policyHash: z
          .string()
          .regex(/^sha256:[a-f0-9]{64}$/)
          .nullable()
          .describe('sha256 over the RFC 8785 canonical JSON of the effective policy; null when the profile is missing or a mount cannot be resolved.'),
      })
      .strict()
      .describe('The active profile and its policy hash.'),
    image: z
      .object({
        ref: nullableString('Image reference from the profile.'),
        present: z.boolean().describe('Whether the image exists in the local store.'),
        id: nullableString('Image ID (64 hex) when present.'),
        digest: nullableString('Image manifest digest when present.'),
      })
      .strict()
      .describe('The agent image.'),
  })
  .strict()
  .describe('AgentMachineFingerprint: what this agent machine is made of, with a stable digest.')

export type AgentMachineFingerprint = z.infer<typeof AgentMachineFingerprintSchema>
