/**
 * The evidence record's `network` section: the mode, the allowlist the proxy enforced (its hash is
 * also in the policy, so the policy hash covers it) and every destination the agent tried, read
 * from the proxy's own log (proxy-log.ts).
 */
import {z} from 'zod'

export const NetworkModeSchema = z.enum(['none', 'allowlist', 'open']).describe('none: no network; allowlist: only the allowlisted hosts, through the proxy sidecar; open: podman\'s default network.')

export const EgressDestinationSchema = z
  .object({
    host: z.string().describe('The host name (or address) the agent asked for; "-" for a request the proxy could not parse.'),
    port: z.number().int().min(0).max(65535).describe('The port asked for (0 when the request had none).'),
    decision: z.enum(['allowed', 'denied']).describe('What the proxy did.'),
    count: z.number().int().min(1).describe('Requests with this host, port and decision.'),
    upstreamFailed: z.number().int().min(0).describe('Of the allowed ones: how many the upstream did not answer (the proxy returned a 5xx).'),
    methods: z.array(z.string()).describe('HTTP methods seen (CONNECT for HTTPS).'),
  })
  .strict()

export const NetworkEvidenceSchema = z
  .object({
    mode: NetworkModeSchema,
    allowlist: z
      .object({
        entries: z.array(z.string()).describe('The canonical host:port rules the proxy enforced, sorted.'),
        origins: z.record(z.string(), z.array(z.string())).describe('Where each entry came from: "profile" or "tool <name>".'),
        hash: z.string().regex(/^sha256:[a-f0-9]{64}$/).describe('sha256 of the entries joined by newlines (also in the policy).'),
      })
      .strict()
      .nullable()
      .describe('The allowlist (mode allowlist only).'),
    proxy: z
      .object({
        network: z.string().describe('The run\'s internal network.'),
        subnet: z.string(),
        address: z.string().describe('The proxy\'s address the agent\'s HTTP(S)_PROXY named.'),
        container: z.string().describe('The sidecar container.'),
        logDigest: z.string().regex(/^sha256:[a-f0-9]{64}$/).nullable().describe('sha256 of the proxy\'s access log as read (null when it could not be read).'),
      })
      .strict()
      .nullable(),
    destinations: z.array(EgressDestinationSchema).nullable().describe('Every destination the agent tried, from the proxy\'s log; null when the log could not be read (the session still ran behind the proxy).'),
    unparsedLogLines: z.number().int().min(0),
    truncatedDestinations: z.number().int().min(0),
    notes: z.array(z.string()).describe('What the enforcement leaves open in this mode (docs/network.md).'),
  })
  .strict()
  .describe('Network egress: the mode, the allowlist and what the agent tried to reach.')

export type NetworkEvidence = z.infer<typeof NetworkEvidenceSchema>
