/**
 * AgentMachineProfile (contract, ARCHITECTURE §3). Strict: unknown keys are errors.
 * JSON Schema in schemas/ is generated from this file (scripts/gen-schemas.mjs).
 */
import {z} from 'zod'

import {parseAllowEntry} from '../network/allowlist.js'

export const PROFILE_API_VERSION = 'sourceos.dev/v1alpha1'
export const PROFILE_KIND = 'AgentMachineProfile'
export const PROFILE_SCHEMA_ID = 'https://sourceos.dev/schemas/agent-machine-profile.schema.json'

export const PlatformSchema = z.enum(['macos', 'linux', 'windows']).describe('Host platform this profile is for.')
export const ProviderSchema = z
  .enum(['applehv', 'libkrun', 'qemu', 'wsl', 'hyperv'])
  .describe('Podman machine provider (virtualization backend).')

export const MachineSchema = z
  .object({
    name: z
      .string()
      .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/, 'machine name: letters, digits, _ . - (max 63), starting with a letter or digit')
      .describe('Podman machine name.'),
    provider: ProviderSchema,
    cpus: z.number().int().min(1).max(256).describe('Virtual CPUs for `podman machine init --cpus`.'),
    memoryMiB: z.number().int().min(512).describe('Memory in MiB for `podman machine init --memory`.'),
    diskGiB: z.number().int().min(5).describe('Disk size in GiB for `podman machine init --disk-size`.'),
    rootful: z.boolean().describe('Run the machine rootful (containers run as root in the VM). Rootless is safer.'),
  })
  .strict()
  .describe('The Podman machine (Linux VM) that hosts containers. Absent on native Linux.')

export const ConnectionSchema = z
  .string()
  .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.@-]{0,127}$/, 'connection name: letters, digits, _ . @ - (max 128), starting with a letter or digit')
  .describe(
    'A remote Podman host: the name of an existing Podman connection (`podman system connection list`) to a Linux server. Every container-side call names it (`--connection`); no machine is used, so it excludes spec.machine. Mount sources are then absolute paths on that host, checked there through podman; no hazard scan, inode pin or after-session integrity check is possible (README, "Remote Podman host").',
  )

export const ImageSchema = z
  .object({
    // A ref starting with '-' would be read by podman as an option (argv injection); no whitespace either.
    ref: z
      .string()
      .regex(/^[^\s-]\S*$/, 'image ref: no spaces, and it must not start with -')
      .describe('Image reference, e.g. localhost/sourceos/agent:latest.'),
    digest: z
      .string()
      .regex(/^sha256:[a-f0-9]{64}$/, 'digest must look like sha256:<64 hex>')
      .nullable()
      .describe('Pin: the image ID/digest the local image must have, or null for no pin.'),
    pull: z.enum(['never', 'missing']).describe('never: only use a local image; missing: pull when absent.'),
  })
  .strict()
  .describe('The agent container image.')

/** A relax pattern: relative, '/'-separated, `*`/`?` within a segment, a trailing `/**` for a whole folder. */
const RelaxPatternSchema = z
  .string()
  .min(1)
  .max(256)
  .regex(/^(?![/\\])(?!.*(?:^|\/)\.\.?(?:\/|$))(?!.*\/\/)(?!.*\/$)[^\\\0:]+$/, 'a relative pattern such as .vscode/settings.json or .idea/** (no leading /, no . or .. segments, no \\ or :)')

export const WriteProtectSchema = z
  .union([
    z.boolean(),
    z
      .object({relax: z.array(RelaxPatternSchema).min(1).describe('Patterns (relative, matched at any depth like the catalogue list; `dir/**` for a whole folder) that stay writable.')})
      .strict(),
  ])
  .describe(
    'Write-protected files in this mount (read-write mounts only): the files your tools run or trust without asking (.envrc, .vscode/, .claude/settings*.json, .mcp.json, .husky/, …; the catalogue list) are mounted read-only when they exist. Default true; false turns it off for this mount; {relax: [...]} leaves the matching ones writable.',
  )

export const MountSchema = z
  .object({
    source: z.string().min(1).describe('Host path; `~` and $VARS are expanded, then resolved with realpath.'),
    // No `.`/`..` segments (they would escape /workspace) and no `:` or `,` (podman -v/--mount separators).
    target: z
      .string()
      .regex(/^\/workspace(\/(?!\.\.?(?:\/|$))[^/\0:,]+)+$/, 'target must be a path under /workspace, e.g. /workspace/<repo> (no . or .. segments, no : or ,)')
      .describe('Path inside the container, under /workspace.'),
    mode: z.enum(['rw', 'ro']).describe('rw: read-write; ro: read-only.'),
    writeProtect: WriteProtectSchema.optional(),
  })
  .strict()
  .describe('One allowlisted bind mount.')

export const ToolSchema = z
  .object({
    enabled: z.boolean().describe('Whether `run --tool` may start this tool.'),
    command: z.array(z.string().min(1)).min(1).describe('Command (argv) run inside the container.'),
  })
  .strict()

export const EnvSchema = z
  .object({
    passthrough: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'env names are letters, digits and _')).describe('Host variables copied into the container when set. Secret-like names are refused.'),
    set: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'env names are letters, digits and _'), z.string()).describe('Fixed variables set in the container. Secret-like names are refused.'),
  })
  .strict()
  .describe('Environment allowlist: nothing else from the host reaches the container.')

/** One `spec.network.allow` entry, checked by the same parser the launch uses (network/allowlist.ts). */
const AllowEntrySchema = z
  .string()
  .max(300)
  .superRefine((value, ctx) => {
    const parsed = parseAllowEntry(value)
    if (!parsed.ok) ctx.addIssue({code: z.ZodIssueCode.custom, message: `allow entry '${value.replace(/[^\x20-\x7e]/g, '?')}' is refused: ${parsed.reason}`})
  })
  .describe('host[:port] (port 443 unless given); *.example.com for the names below example.com (not example.com itself); ip:ADDR[:port] for an address written as one ([…] for IPv6).')

export const NetworkSchema = z
  .object({
    mode: z
      .enum(['none', 'allowlist', 'open', 'default'])
      .default('allowlist')
      .describe('none: no network; allowlist (default): only the hosts in `allow` and those the enabled tools need, through a proxy sidecar outside the agent container; open: podman\'s default network, unfiltered (`default` is its old, deprecated name).'),
    allow: z.array(AllowEntrySchema).max(500).default([]).describe('Egress allowlist (mode allowlist): host[:port] patterns.'),
    proxy: z
      .enum(['per-run', 'shared'])
      .default('per-run')
      .describe('Mode allowlist: per-run (default): the proxy and its network live and die with the run, nothing is left after it; shared: one long-lived proxy per allowlist, each run on a network of its own from its pool — faster to start, but the proxy and its networks stay between runs (docs/network.md).'),
  })
  .strict()

/** The network mode a launch enforces: the deprecated `default` is `open`. */
export function networkMode(network: {mode: 'none' | 'allowlist' | 'open' | 'default'}): 'none' | 'allowlist' | 'open' {
  return network.mode === 'default' ? 'open' : network.mode
}

export const ResourcesSchema = z
  .object({
    cpus: z.number().positive().max(256).describe('CPU limit for the container (--cpus).'),
    memory: z.string().regex(/^[0-9]+[bkmg]?$/i, 'memory like 4g or 512m').describe('Memory limit (--memory).'),
    pidsLimit: z.number().int().min(16).describe('Process limit (--pids-limit).'),
  })
  .strict()

/** A secret's name in the CLI's store (`secret set <name>`); also the podman secret's suffix. */
export const SecretNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, 'secret name: lower-case letters, digits, _ . - (max 63), starting with a letter or digit')
  .describe('The name the secret was stored under (`sourceosctl agent-machine secret set <name>`).')

/** One header the door adds (secrets/door.ts; docs/secrets.md). */
export const SecretInjectSchema = z
  .object({
    secret: SecretNameSchema,
    host: z
      .string()
      .max(300)
      .superRefine((value, ctx) => {
        const parsed = parseAllowEntry(value)
        if (!parsed.ok) ctx.addIssue({code: z.ZodIssueCode.custom, message: `inject host '${value.replace(/[^\x20-\x7e]/g, '?')}' is refused: ${parsed.reason}`})
        else if (parsed.rule.kind === 'subdomains') ctx.addIssue({code: z.ZodIssueCode.custom, message: `inject host '${value}' is refused: the door forwards to one host, not a *. pattern`})
      })
      .describe('The upstream the door forwards to and adds the header for: host[:port] (443 unless given), or ip:ADDR[:port].'),
    header: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/, 'header name: letters, digits and - (max 64)')
      .refine((h) => !/^(host|content-length|transfer-encoding|connection|upgrade|te|trailer|keep-alive|via|forwarded|x-forwarded-for|proxy-.*)$/i.test(h), 'header: a credential header such as x-api-key or Authorization, not one that frames or routes the request (Host, Content-Length, Transfer-Encoding, Connection, Upgrade, Proxy-*, …)')
      .describe('The request header the door sets, e.g. x-api-key or Authorization (any such header the tool sent is replaced).'),
    format: z
      .string()
      .max(64)
      .regex(/^[A-Za-z0-9 ._:-]*\{value\}[A-Za-z0-9 ._:-]*$/, 'format: {value} once, with letters, digits, space and . _ : - around it, e.g. "Bearer {value}"')
      .default('{value}')
      .describe('The header value, {value} standing for the secret, e.g. "{value}" or "Bearer {value}".'),
    tool: z
      .enum(['codex', 'claude-code'])
      .optional()
      .describe('Point this tool\'s base-URL variables at this door (policy/tool-door.json) although the host is not its API host: a gateway, a local stand-in. Without it, the tool whose API host this is.'),
    upstream: z
      .enum(['https', 'http'])
      .optional()
      .describe('https (the default for a named host, the only choice there): the door connects with TLS and checks the certificate. http (the default for an ip: literal host, whose certificate could not name it anyway): plain HTTP, for a local stand-in; the secret then travels unencrypted to that address.'),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.upstream === 'http' && !v.host.startsWith('ip:')) ctx.addIssue({code: z.ZodIssueCode.custom, path: ['upstream'], message: 'upstream http is only for an ip: literal host (a local stand-in); a named host is reached with TLS'})
  })

export const SecretsSchema = z
  .object({
    door: z
      .enum(['none', 'proxy'])
      .describe('none: no secret enters the session. proxy: the egress proxy sidecar (network mode allowlist) adds each `inject` header to requests the tool sends to it; the value never enters the agent container (docs/secrets.md).'),
    inject: z.array(SecretInjectSchema).max(16).optional().describe('door proxy (default none): which stored secret goes, as which header, to which host.'),
    toolState: z
      .enum(['tmpfs', 'volume'])
      .optional()
      .describe('tmpfs (default): the tools\' home state (~/.codex, ~/.claude) is gone after each session. volume: a named Podman volume per profile and tool keeps it, so a login persists (`secret logout` removes them).'),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.door === 'none' && (v.inject ?? []).length > 0) ctx.addIssue({code: z.ZodIssueCode.custom, path: ['inject'], message: 'inject needs door: proxy'})
    const seen = new Set<string>()
    for (const [i, inj] of (v.inject ?? []).entries()) {
      const key = inj.host.toLowerCase()
      if (seen.has(key)) ctx.addIssue({code: z.ZodIssueCode.custom, path: ['inject', i, 'host'], message: `a second injection for ${inj.host}: one door per host`})
      seen.add(key)
    }
  })
  .describe('The Secrets Door: how credentials reach the model APIs without entering the agent container.')

export const EvidenceSettingsSchema = z
  .object({
    paths: z
      .enum(['absolute', 'home-relative'])
      .default('home-relative')
      .describe('How evidence records write host paths: home-relative (default) writes the home dir as ~, so records do not name the user; absolute keeps them as they are.'),
  })
  .strict()
  .describe('What evidence records hold (docs/evidence.md).')

export const ProfileSpecSchema = z
  .object({
    platform: PlatformSchema,
    machine: MachineSchema.optional(),
    connection: ConnectionSchema.optional(),
    image: ImageSchema,
    mounts: z.array(MountSchema).describe('THE allowlist: nothing else is ever mounted.'),
    tools: z
      .object({codex: ToolSchema.optional(), 'claude-code': ToolSchema.optional()})
      .strict()
      .describe('Agent tools that `run --tool` may start.'),
    env: EnvSchema,
    network: NetworkSchema,
    resources: ResourcesSchema,
    secrets: SecretsSchema,
    evidence: EvidenceSettingsSchema.optional(),
  })
  .strict()

export const AgentMachineProfileSchema = z
  .object({
    apiVersion: z.literal(PROFILE_API_VERSION),
    kind: z.literal(PROFILE_KIND),
    metadata: z
      .object({
        name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'name: lower-case letters, digits and -'),
        description: z.string().optional(),
      })
      .strict(),
    spec: ProfileSpecSchema,
  })
  .strict()
  .describe('AgentMachineProfile: what the governed agent container may see and do.')

export type AgentMachineProfile = z.infer<typeof AgentMachineProfileSchema>
export type ProfileMount = z.infer<typeof MountSchema>
export type ProfileMachine = z.infer<typeof MachineSchema>
export type ToolName = 'codex' | 'claude-code'
export const TOOL_NAMES: readonly ToolName[] = ['codex', 'claude-code']
