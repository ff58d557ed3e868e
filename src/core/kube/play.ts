/**
 * The evidence route of a cluster run, built end to end on this machine (docs/cluster.md): the CLI
 * plays the exported Pod with `podman kube play`, watches the agent container until it exits,
 * reads what the Pod's containers really ran with (inspect), the clone's pinned commit, the
 * proxy's access log and the result bundle, and writes a cluster-run record locally — with the
 * Pod's UID and node, the policy hash and the manifest's digest — then takes the Pod down.
 *
 * Everything the Pod wrote is hostile input: logs are parsed strictly (network/proxy-log.ts), the
 * bundle is copied into a fresh folder and must be a regular file, and nothing of it is executed.
 */
import {createHash} from 'node:crypto'
import {lstat, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {hostname, tmpdir} from 'node:os'
import path from 'node:path'

import {z} from 'zod'

import {unexpectedFailure} from '../errors.js'
import {describeOutcome, succeeded, type Runner} from '../exec.js'
import type {HostFacts} from '../host/facts.js'
import {resolveEvidenceDir} from '../evidence/location.js'
import {mkdirp, writeFileAtomic} from '../fs-atomic.js'
import {parseProxyLog} from '../network/proxy-log.js'
import {podmanArgv} from '../podman/context.js'
import {profilePodmanContext} from '../podman/profile-context.js'
import {canonicalJson} from '../policy/hash.js'
import {getContext} from '../context.js'
import type {KubeExport} from './export.js'
import {agentPodName, KUBE_PREFIX, RESULTS_DIR, type KubeObject} from './manifest.js'
import {renderManifest} from './yaml.js'

export const KUBE_RUN_SCHEMA = 'sourceos.dev/agent-machine/kube-run/v1alpha1'

const ContainerFactsSchema = z
  .object({
    name: z.string(),
    user: z.string(),
    readOnlyRoot: z.boolean(),
    noNewPrivileges: z.boolean(),
    capAdd: z.array(z.string()),
    privileged: z.boolean(),
    seccomp: z.string(),
    exitCode: z.number().int().nullable(),
  })
  .strict()

export const KubeRunRecordSchema = z
  .object({
    schema: z.literal(KUBE_RUN_SCHEMA),
    runId: z.string(),
    profile: z.string(),
    policyHash: z.string(),
    allowlistHash: z.string(),
    manifestDigest: z.string().describe('sha256 of the exported manifest.'),
    playedDigest: z.string().describe('sha256 of what podman kube play was given (forPodman43).'),
    resourcesApplied: z.boolean().describe('false: rootless podman on cgroups v1 played the Pod without its resource limits.'),
    pod: z.object({name: z.string(), uid: z.string(), node: z.string(), engine: z.string()}).strict(),
    repo: z.object({url: z.string(), commit: z.string(), clonedCommit: z.string().nullable()}).strict(),
    tool: z.string().nullable(),
    agent: z.object({exitCode: z.number().int().nullable(), startedAt: z.string().nullable(), finishedAt: z.string().nullable()}).strict(),
    containers: z.array(ContainerFactsSchema),
    network: z
      .object({
        destinations: z.array(z.object({host: z.string(), port: z.number().int(), decision: z.enum(['allowed', 'denied']), count: z.number().int(), upstreamFailed: z.number().int(), methods: z.array(z.string())}).strict()),
        unparsed: z.number().int(),
        truncated: z.number().int(),
        logDigest: z.string(),
      })
      .strict(),
    bundle: z.object({file: z.string(), digest: z.string(), bytes: z.number().int()}).strict().nullable(),
    recordedAt: z.string(),
  })
  .strict()
  .describe('What the CLI saw of one exported run it played and watched (docs/cluster.md).')

export type KubeRunRecord = z.infer<typeof KubeRunRecordSchema>

export interface PlayResult {
  recordPath: string
  recordDigest: string
  agentExitCode: number | null
  bundle: string | null
  record: KubeRunRecord
}

const sha256 = (data: string | Uint8Array): string => `sha256:${createHash('sha256').update(data).digest('hex')}`

/** Podman 4.3 refuses annotation values over 63 characters (a label's limit; fixed in later podman). */
export const PODMAN_ANNOTATION_MAX = 63
export const ELIDED_KEY = `${KUBE_PREFIX}/elided-for-podman`

/**
 * The objects as `podman kube play` 4.3 takes them: annotations longer than it accepts (the
 * policy hash, the allowlist hash, a long repo URL) are left out of the played Pod and named in
 * ELIDED_KEY; the record carries their values. Everything else is played unchanged.
 */
export function forPodman43(objects: readonly KubeObject[], opts: {dropResources?: boolean} = {}): KubeObject[] {
  return objects.map((o) => {
    if (o.kind !== 'Pod') return o
    const annotations = (o.metadata.annotations ?? {}) as Record<string, string>
    const long = Object.keys(annotations).filter((k) => annotations[k]!.length > PODMAN_ANNOTATION_MAX)
    const kept = Object.fromEntries(Object.entries(annotations).filter(([k]) => !long.includes(k)))
    const elided = long.map((k) => k.slice(KUBE_PREFIX.length + 1)).join('.')
    const metadata = long.length === 0 ? o.metadata : {...o.metadata, annotations: {...kept, [ELIDED_KEY]: elided.slice(0, PODMAN_ANNOTATION_MAX)}}
    if (!opts.dropResources) return {...o, metadata}
    // rootless podman on cgroups v1 cannot apply limits (runc fails the Pod): played without them, and said so
    const spec = o.spec as {initContainers?: Array<Record<string, unknown>>; containers: Array<Record<string, unknown>>}
    const strip = (cs: Array<Record<string, unknown>> | undefined) => cs?.map(({resources: _resources, ...rest}) => rest)
    return {...o, metadata, spec: {...spec, ...(spec.initContainers ? {initContainers: strip(spec.initContainers)} : {}), containers: strip(spec.containers)!}}
  })
}

/** Whether this podman can apply resource limits: not rootless on cgroups v1 (as for a local run, execute.ts). */
export function limitsApply(info: {cgroupVersion?: string | undefined; rootless?: boolean | undefined}): boolean {
  return !(info.rootless === true && info.cgroupVersion === 'v1')
}

/** The container names `podman kube play` gives: <pod>-<container>. */
export const playedContainer = (runId: string, container: string): string => `${agentPodName(runId)}-${container}`

interface InspectedContainer {
  Name?: string
  State?: {ExitCode?: number; StartedAt?: string; FinishedAt?: string; Status?: string}
  Config?: {User?: string}
  HostConfig?: {ReadonlyRootfs?: boolean; CapAdd?: string[] | null; Privileged?: boolean; SecurityOpt?: string[] | null}
  EffectiveCaps?: string[] | null
}

export function containerFacts(name: string, c: InspectedContainer): z.infer<typeof ContainerFactsSchema> {
  const opts = c.HostConfig?.SecurityOpt ?? []
  return {
    name,
    user: c.Config?.User ?? '',
    readOnlyRoot: c.HostConfig?.ReadonlyRootfs === true,
    noNewPrivileges: opts.some((o) => /^no-new-privileges(?:[:=]true)?$/.test(o)),
    capAdd: [...(c.EffectiveCaps ?? c.HostConfig?.CapAdd ?? [])].sort(),
    privileged: c.HostConfig?.Privileged === true,
    seccomp: opts.find((o) => o.startsWith('seccomp'))?.replace(/^seccomp[=:]/, '') ?? 'default',
    exitCode: typeof c.State?.ExitCode === 'number' && c.State.Status !== 'running' ? c.State.ExitCode : null,
  }
}

export async function playAndRecord(opts: {
  runner: Runner
  host: HostFacts
  exported: KubeExport
  evidenceDir?: string | undefined
  timeoutMs: number
  profilePath?: string | undefined
  now?: () => Date
  info?: (text: string) => void
}): Promise<PlayResult> {
  const {runner, exported} = opts
  const {context} = await profilePodmanContext(getContext(), opts.profilePath)
  const podman = async (args: string[], timeoutMs = 120_000, what = args.slice(0, 2).join(' ')): Promise<string> => {
    const argv = podmanArgv(context, args)
    const r = await runner(argv[0]!, argv.slice(1), {timeoutMs})
    if (!succeeded(r)) throw unexpectedFailure('KUBE_PLAY_FAILED', `podman ${what} failed: ${describeOutcome(r)}${r.stderr ? ` (${r.stderr.trim().split('\n').slice(-1)[0]})` : ''}`, 'see docs/cluster.md ("Checked here"); rerun with --verbose')
    return r.stdout
  }
  const work = await mkdtemp(path.join(tmpdir(), 'sourceos-kube-'))
  const manifestFile = path.join(work, 'manifest.yaml')
  const infoText = await podman(['info', '--format', '{{.Host.CgroupsVersion}} {{.Host.Security.Rootless}}'], 30_000, 'info')
  const [cgroupVersion, rootless] = infoText.trim().split(/\s+/)
  const resourcesApplied = limitsApply({cgroupVersion, rootless: rootless === 'true'})
  if (!resourcesApplied) opts.info?.('Warning: rootless podman on cgroups v1 cannot apply resource limits: the Pod is played without them (a cluster applies them)')
  const played = renderManifest(forPodman43(exported.objects, {dropResources: !resourcesApplied}))
  await writeFile(manifestFile, played, {mode: 0o644})
  const pod = agentPodName(exported.runId)
  const name = (c: string): string => playedContainer(exported.runId, c)
  try {
    opts.info?.(`Playing ${pod} with podman kube play …`)
    await podman(['kube', 'play', '--quiet', manifestFile], 300_000)
    // the agent's end (its exit code), however long the tool runs
    await podman(['wait', name('agent')], opts.timeoutMs, 'wait')
    const podInspect = JSON.parse(await podman(['pod', 'inspect', pod])) as {Id?: string; Hostname?: string} | Array<{Id?: string}>
    const podId = (Array.isArray(podInspect) ? podInspect[0]?.Id : podInspect.Id) ?? ''
    // podman kube play removes init containers once they ran: the agent and the proxy are what is left to inspect
    const inspected = JSON.parse(await podman(['container', 'inspect', name('proxy'), name('agent')])) as InspectedContainer[]
    const containers = ['proxy', 'agent'].map((c, i) => containerFacts(c, inspected[i] ?? {}))
    const agent = inspected[1] ?? {}
    // the wrapper's first line, written before the tool starts (manifest.ts agentScript)
    const agentLog = await podman(['logs', name('agent')])
    const cloned = /^sourceosctl: starting at ([0-9a-f]{40}(?:[0-9a-f]{24})?)$/.exec(agentLog.split('\n')[0]?.trim() ?? '')?.[1] ?? null
    const proxyLog = await podman(['logs', name('proxy')])
    const summary = parseProxyLog(proxyLog)
    const evidenceDir = resolveEvidenceDir(opts.host, process.cwd(), opts.evidenceDir)
    await mkdirp(evidenceDir)
    const bundle = await copyBundle(podman, name('agent'), exported.runId, work, evidenceDir)
    const now = opts.now?.() ?? new Date()
    const record: KubeRunRecord = KubeRunRecordSchema.parse({
      schema: KUBE_RUN_SCHEMA,
      runId: exported.runId,
      profile: exported.profile,
      policyHash: exported.policyHash,
      allowlistHash: (exported.objects.find((o) => o.kind === 'Pod')?.metadata.annotations as Record<string, string> | undefined)?.['dev.sourceos.agent-machine/allowlist-hash'] ?? '',
      manifestDigest: sha256(exported.manifest),
      playedDigest: sha256(played),
      resourcesApplied,
      pod: {name: pod, uid: podId, node: hostname(), engine: 'podman kube play'},
      repo: {url: exported.repo.url, commit: exported.repo.commit, clonedCommit: cloned},
      tool: exported.tool,
      agent: {exitCode: containers[1]!.exitCode, startedAt: agent.State?.StartedAt ?? null, finishedAt: agent.State?.FinishedAt ?? null},
      containers,
      network: {...summary, logDigest: sha256(proxyLog)},
      bundle,
      recordedAt: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    })
    const text = canonicalJson(record)
    const recordPath = path.join(evidenceDir, `kube-${exported.runId}.json`)
    await writeFileAtomic(recordPath, `${text}\n`, {overwrite: false})
    return {recordPath, recordDigest: sha256(text), agentExitCode: record.agent.exitCode, bundle: bundle ? path.join(evidenceDir, bundle.file) : null, record}
  } finally {
    const down = podmanArgv(context, ['kube', 'down', manifestFile])
    await runner(down[0]!, down.slice(1), {timeoutMs: 120_000})
    await rm(work, {recursive: true, force: true})
  }
}

/** The agent-written bundle: copied into a fresh folder, a regular file or nothing, then moved beside the record. */
async function copyBundle(podman: (args: string[], timeoutMs?: number, what?: string) => Promise<string>, container: string, runId: string, work: string, evidenceDir: string): Promise<KubeRunRecord['bundle']> {
  const landing = await mkdtemp(path.join(work, 'bundle-'))
  try {
    await podman(['cp', `${container}:${RESULTS_DIR}/${runId}.bundle`, path.join(landing, 'result.bundle')], 120_000, 'cp')
  } catch {
    return null
  }
  const file = path.join(landing, 'result.bundle')
  const st = await lstat(file).catch(() => null)
  if (!st?.isFile()) return null
  const bytes = await readFile(file)
  const out = `kube-${runId}.bundle`
  await writeFileAtomic(path.join(evidenceDir, out), bytes, {overwrite: false})
  return {file: out, digest: sha256(bytes), bytes: bytes.length}
}
