/**
 * The evidence route of a cluster run, built end to end on this machine (docs/cluster.md): the CLI
 * plays the exported Pod with `podman kube play`, watches the agent container until it exits,
 * reads what the Pod's containers really ran with (inspect), the clone's pinned commit, the
 * proxy's access log and the result bundle, then takes the Pod down. The record is an evidence
 * record of the dir's chain like a local run's (evidence/store.ts: the same in-toto Statement,
 * DSSE envelope, index lines and checkpoint), verb `export`, with the Pod in predicate.kube: it is
 * begun just before the play and completed once the Pod is down — also when the play, the wait
 * or the read-back fails (status incomplete, outcome failed, with the error and every podman
 * command that ran).
 *
 * Everything the Pod wrote is hostile input: logs are parsed strictly (network/proxy-log.ts), the
 * bundle is copied capped, as a regular file only, and checked with host git (bundle.ts); nothing
 * of it is executed.
 */
import {createHash} from 'node:crypto'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {hostname, tmpdir} from 'node:os'
import path from 'node:path'

import {AgentMachineError, prerequisiteMissing, unexpectedFailure} from '../errors.js'
import {describeOutcome, succeeded, type Runner} from '../exec.js'
import type {HostFacts} from '../host/facts.js'
import {probeTool} from '../host/tools.js'
import {resolveEvidenceDir} from '../evidence/location.js'
import type {KubeRun, Outcome, PodmanRun, ResourceDescriptor} from '../evidence/record.js'
import {redactCliArgv} from '../evidence/redact.js'
import {loadOrCreateSigningKey, signingKeyDir} from '../evidence/signing.js'
import {beginRecord, recordHost, type RecordHandle} from '../evidence/store.js'
import {mkdirp} from '../fs-atomic.js'
import {EVIDENCE_BUILDER_ID, cliVersion} from '../launch/evidence.js'
import type {NetworkEvidence} from '../network/evidence.js'
import {parseProxyLog} from '../network/proxy-log.js'
import {MODE_NOTES} from '../network/report.js'
import {podmanArgv} from '../podman/context.js'
import {profilePodmanContext} from '../podman/profile-context.js'
import {stateDir} from '../profile/location.js'
import {getContext} from '../context.js'
import {BundleRefused, keepBundle, precheckBundle, type BundleRefusal, type KeptBundle} from './bundle.js'
import type {KubeExport} from './export.js'
import {agentPodName, KUBE_PREFIX, RESULTS_DIR, WORKSPACE, type KubeObject} from './manifest.js'
import {renderManifest} from './yaml.js'

export interface PlayResult {
  /** The record in the evidence dir's chain (records/<seq>-<runId>.json). */
  recordPath: string
  recordDigest: string
  seq: number
  evidenceDir: string
  agentExitCode: number | null
  bundle: string | null
  /** Why the agent's bundle was not kept (also in the record); null when it was, or there was none. */
  bundleRefused: BundleRefusal | null
  /** The signal that stopped the run (the Pod was taken down, the record completed as interrupted); null otherwise. */
  interrupted: NodeJS.Signals | null
  kube: KubeRun
}

const sha256 = (data: string | Uint8Array): string => `sha256:${createHash('sha256').update(data).digest('hex')}`

/** Podman 4.3 refuses annotation values over 63 characters (a label's limit; fixed in later podman). */
export const PODMAN_ANNOTATION_MAX = 63
export const ELIDED_KEY = `${KUBE_PREFIX}/elided-for-podman`

/**
 * The objects as `podman kube play` 4.3 takes them:
 *   - annotations longer than it accepts (the policy hash, the allowlist hash, a long repo URL) are
 *     left out of the played Pod and named in ELIDED_KEY; the record carries their values;
 *   - every emptyDir is renamed <pod>-<volume>: podman 4.3 makes an emptyDir a *named* volume of the
 *     podman host, shared by every Pod that names it the same — two runs' `work` or `results` would
 *     be one volume, each agent reading and writing the other's clone and bundle;
 *   - with dropResources, the containers' resources are left out (see limitsApply).
 * Everything else is played unchanged (playedDigest in the record is over the result).
 */
export function forPodman43(objects: readonly KubeObject[], opts: {dropResources?: boolean} = {}): KubeObject[] {
  return objects.map((o) => {
    if (o.kind !== 'Pod') return o
    const annotations = (o.metadata.annotations ?? {}) as Record<string, string>
    const long = Object.keys(annotations).filter((k) => annotations[k]!.length > PODMAN_ANNOTATION_MAX)
    const kept = Object.fromEntries(Object.entries(annotations).filter(([k]) => !long.includes(k)))
    const elided = long.map((k) => k.slice(KUBE_PREFIX.length + 1)).join('.')
    const metadata = long.length === 0 ? o.metadata : {...o.metadata, annotations: {...kept, [ELIDED_KEY]: elided.slice(0, PODMAN_ANNOTATION_MAX)}}
    type Container = Record<string, unknown> & {volumeMounts?: Array<Record<string, unknown> & {name: string}>}
    const spec = o.spec as {initContainers?: Container[]; containers: Container[]; volumes?: Array<Record<string, unknown> & {name: string}>}
    const own = new Set((spec.volumes ?? []).filter((v) => 'emptyDir' in v).map((v) => v.name))
    const rename = (n: string): string => (own.has(n) ? `${o.metadata.name}-${n}` : n)
    const fix = (cs: Container[] | undefined): Container[] | undefined =>
      cs?.map((c) => {
        const {resources, ...rest} = c
        return {
          ...(opts.dropResources ? rest : {...rest, ...(resources === undefined ? {} : {resources})}),
          ...(c.volumeMounts ? {volumeMounts: c.volumeMounts.map((m) => ({...m, name: rename(m.name)}))} : {}),
        }
      })
    return {
      ...o,
      metadata,
      spec: {
        ...spec,
        ...(spec.initContainers ? {initContainers: fix(spec.initContainers)} : {}),
        containers: fix(spec.containers)!,
        ...(spec.volumes ? {volumes: spec.volumes.map((v) => ({...v, name: rename(v.name)}))} : {}),
      },
    }
  })
}

/** The podman volumes a played Pod makes (its emptyDirs, renamed by forPodman43). */
export function playedVolumes(played: readonly KubeObject[]): string[] {
  return played.flatMap((o) => (o.kind === 'Pod' ? ((o.spec as {volumes?: Array<Record<string, unknown> & {name: string}>}).volumes ?? []).filter((v) => 'emptyDir' in v).map((v) => v.name) : []))
}

/** Whether this podman can apply resource limits: not rootless on cgroups v1 (as for a local run, execute.ts). */
export function limitsApply(info: {cgroupVersion?: string | undefined; rootless?: boolean | undefined}): boolean {
  return !(info.rootless === true && info.cgroupVersion === 'v1')
}

/** The container names `podman kube play` gives: <pod>-<container>. */
export const playedContainer = (runId: string, container: string): string => `${agentPodName(runId)}-${container}`

interface InspectedContainer {
  Name?: string
  Image?: string
  State?: {ExitCode?: number; StartedAt?: string; FinishedAt?: string; Status?: string}
  Config?: {User?: string}
  HostConfig?: {ReadonlyRootfs?: boolean; CapAdd?: string[] | null; Privileged?: boolean; SecurityOpt?: string[] | null}
  EffectiveCaps?: string[] | null
  Mounts?: Array<{Destination?: string; Source?: string; Type?: string}> | null
}

export function containerFacts(name: string, c: InspectedContainer): KubeRun['containers'][number] {
  const opts = c.HostConfig?.SecurityOpt ?? []
  return {
    name,
    imageId: typeof c.Image === 'string' && /^(sha256:)?[0-9a-f]{64}$/.test(c.Image) ? c.Image.replace(/^sha256:/, '') : null,
    user: c.Config?.User ?? '',
    readOnlyRoot: c.HostConfig?.ReadonlyRootfs === true,
    noNewPrivileges: opts.some((o) => /^no-new-privileges(?:[:=]true)?$/.test(o)),
    capAdd: [...(c.EffectiveCaps ?? c.HostConfig?.CapAdd ?? [])].sort(),
    privileged: c.HostConfig?.Privileged === true,
    seccomp: opts.find((o) => o.startsWith('seccomp'))?.replace(/^seccomp[=:]/, '') ?? 'default',
    exitCode: typeof c.State?.ExitCode === 'number' && c.State.Status !== 'running' ? c.State.ExitCode : null,
  }
}


export interface PlayOptions {
  runner: Runner
  host: HostFacts
  exported: KubeExport
  evidenceDir?: string | undefined
  timeoutMs: number
  profilePath?: string | undefined
  /** The CLI's own arguments (agent-machine export …): the record's argv, the tool's arguments redacted. */
  cliArgv: string[]
  /** The cap on the agent's result bundle (bundle.ts). */
  bundleMaxBytes: number
  now?: () => Date
  info?: (text: string) => void
}

const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']
export const SIGNAL_NUMBERS: Readonly<Record<string, number>> = {SIGHUP: 1, SIGINT: 2, SIGTERM: 15}

/** What a real run of the wrapper prints first (manifest.ts agentScript): the commit the clone is at. */
const STARTING_AT = /^sourceosctl: starting at ([0-9a-f]{40}(?:[0-9a-f]{24})?)$/

export async function playAndRecord(opts: PlayOptions): Promise<PlayResult> {
  const {runner, exported, host} = opts
  const now = opts.now ?? (() => new Date())
  const {context} = await profilePodmanContext(getContext(), opts.profilePath)
  /** Every podman command run once the record is begun, with its exit code (predicate.podmanRan). */
  const ran: PodmanRun[] = []
  let recording = false
  const podman = async (args: string[], timeoutMs = 120_000, what = args.slice(0, 2).join(' ')): Promise<string> => {
    const argv = podmanArgv(context, args)
    const r = await runner(argv[0]!, argv.slice(1), {timeoutMs})
    if (recording) ran.push({argv, exitCode: r.exitCode})
    if (!succeeded(r)) throw unexpectedFailure('KUBE_PLAY_FAILED', `podman ${what} failed: ${describeOutcome(r)}`, 'see docs/cluster.md ("Checked here"); rerun with --verbose')
    return r.stdout
  }
  const evidenceDir = resolveEvidenceDir(host, process.cwd(), opts.evidenceDir)
  await mkdirp(evidenceDir)
  const work = await mkdtemp(path.join(tmpdir(), 'sourceos-kube-'))
  const manifestFile = path.join(work, 'manifest.yaml')
  const pod = agentPodName(exported.runId)
  const name = (c: string): string => playedContainer(exported.runId, c)
  let handle: RecordHandle
  let kube: KubeRun
  try {
    const infoText = await podman(['info', '--format', '{{.Host.CgroupsVersion}} {{.Host.Security.Rootless}}'], 30_000, 'info')
    const [cgroupVersion, rootless] = infoText.trim().split(/\s+/)
    const resourcesApplied = limitsApply({cgroupVersion, rootless: rootless === 'true'})
    if (!resourcesApplied) opts.info?.('Warning: rootless podman on cgroups v1 cannot apply resource limits: the Pod is played without them (a cluster applies them)')
    const playedObjects = forPodman43(exported.objects, {dropResources: !resourcesApplied})
    const played = renderManifest(playedObjects)
    await writeFile(manifestFile, played, {mode: 0o644})
    // the Pod's volumes must be new: an existing one of the name would be shared, with whatever it holds
    const existing = new Set((await podman(['volume', 'ls', '--format', '{{.Name}}'], 30_000, 'volume ls')).split('\n').map((l) => l.trim()))
    const taken = playedVolumes(playedObjects).filter((v) => existing.has(v))
    if (taken.length > 0) {
      throw prerequisiteMissing('KUBE_VOLUME_EXISTS', `the podman host already has volume${taken.length === 1 ? '' : 's'} ${taken.join(', ')}: the played Pod would share ${taken.length === 1 ? 'it' : 'them'}, with whatever ${taken.length === 1 ? 'it holds' : 'they hold'}`, `another run of ${pod} is playing, or one was left: \`podman kube down\` it, or \`podman volume rm ${taken.join(' ')}\` if nothing uses ${taken.length === 1 ? 'it' : 'them'}`)
    }
    const imageId = await agentImageId(podman, exported)
    const [podmanTool, gitTool] = await Promise.all([probeTool(runner, 'podman', {binary: context.binary}), probeTool(runner, 'git')])
    kube = {
      engine: 'podman kube play',
      layout: exported.layout,
      pod: {name: pod, uid: null, node: hostname()},
      manifestDigest: sha256(exported.manifest),
      playedDigest: sha256(played),
      resourcesApplied,
      repo: {url: exported.repo.url, commit: exported.repo.commit, clonedCommit: null},
      containers: [],
      bundle: null,
      bundleRefused: null,
    }
    const {policy, paths, toolArgs} = exported.evidence
    const keyDir = signingKeyDir(stateDir(host))
    const signing = await loadOrCreateSigningKey(keyDir)
    const target = `${WORKSPACE}/${exported.repo.name}`
    const playArgv = podmanArgv(context, ['kube', 'play', '--quiet', manifestFile])
    handle = await beginRecord(
      evidenceDir,
      {
        runId: exported.runId,
        verb: 'export',
        tool: exported.tool,
        argv: redactCliArgv(opts.cliArgv, toolArgs),
        startedAt: now().toISOString(),
        // the Pod mounts no host path: its one checkout is the clone at the pin (policy.mounts)
        mounts: policy.mounts.map((m) => ({...m})),
        image: {ref: exported.image, id: imageId, digest: null},
        git: [{target, ref: null, commit: exported.repo.commit, dirty: null}],
        policy,
        toolVersions: {podman: {client: podmanTool.version ?? 'unknown', server: null}, git: gitTool.version, nix: null, tool: null},
        host: recordHost(host),
        podmanArgv: playArgv,
        paths: paths === 'absolute' ? {style: 'absolute'} : {style: 'home-relative', homeDir: host.homeDir},
        builder: {id: EVIDENCE_BUILDER_ID, version: cliVersion()},
        resolvedDependencies: [
          {name: exported.image, digest: {sha256: imageId}, annotations: {role: 'image'}},
          {name: target, uri: exported.repo.url, digest: {gitCommit: exported.repo.commit}, annotations: {role: 'source'}},
        ],
        kube,
      },
      {signing, now},
    )
  } catch (error) {
    await rm(work, {recursive: true, force: true})
    throw error
  }

  recording = true
  // A signal while the Pod runs: take it down (which ends the wait), then finish as below — the
  // record completed as interrupted, never a Pod left running with its record still "started".
  let signalled: NodeJS.Signals | null = null
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) return
    signalled = signal
    opts.info?.(`${signal}: taking ${pod} down …`)
    void podman(['kube', 'down', manifestFile], 120_000, 'kube down').catch(() => undefined)
  }
  for (const s of STOP_SIGNALS) process.on(s, onSignal)
  let failure: unknown = null
  let network: NetworkEvidence | undefined
  let kept: KeptBundle | null = null
  let refusal: BundleRefusal | null = null
  try {
    opts.info?.(`Playing ${pod} with podman kube play …`)
    await podman(['kube', 'play', '--quiet', manifestFile], 300_000)
    const podInspect = JSON.parse(await podman(['pod', 'inspect', pod])) as {Id?: string} | Array<{Id?: string}>
    kube.pod.uid = (Array.isArray(podInspect) ? podInspect[0]?.Id : podInspect.Id) ?? null
    // the agent's end (its exit code), however long the tool runs
    try {
      await podman(['wait', name('agent')], opts.timeoutMs, 'wait')
    } catch (error) {
      throw unexpectedFailure('KUBE_AGENT_WAIT_FAILED', `waiting for the agent (at most ${Math.round(opts.timeoutMs / 1000)} s) failed: ${(error as Error).message}; the Pod was taken down`, 'if it ran out of time, raise --timeout (seconds); the record names every podman command that ran')
    }
    // podman kube play removes init containers once they ran: the agent and the proxy are what is left to inspect
    const inspected = JSON.parse(await podman(['container', 'inspect', name('proxy'), name('agent')])) as InspectedContainer[]
    kube.containers = ['proxy', 'agent'].map((c, i) => containerFacts(c, inspected[i] ?? {}))
    // the wrapper's first line, written before the tool starts (manifest.ts agentScript)
    const agentLog = await podman(['logs', name('agent')])
    kube.repo.clonedCommit = STARTING_AT.exec(agentLog.split('\n')[0]?.trim() ?? '')?.[1] ?? null
    const proxyLog = await podman(['logs', name('proxy')])
    const summary = parseProxyLog(proxyLog)
    network = {
      mode: 'allowlist',
      allowlist: exported.evidence.allowlist,
      proxy: {network: `pod ${pod}`, subnet: '', address: '127.0.0.1', container: name('proxy'), logDigest: sha256(proxyLog)},
      destinations: summary.destinations,
      unparsedLogLines: summary.unparsed,
      truncatedDestinations: summary.truncated,
      notes: [...MODE_NOTES.allowlist, 'the agent and the proxy share the Pod\'s network namespace: the egress-guard init container leaves the agent\'s uid no route but the Pod\'s own addresses (docs/cluster.md)'],
    }
    // the bundle as it lies in the results volume, when this host sees it: refused before any copy
    const results = (inspected[1]?.Mounts ?? []).find((m) => m.Destination === RESULTS_DIR && m.Type === 'volume')
    const pre = await precheckBundle(context.connection ? null : (results?.Source ?? null), `${exported.runId}.bundle`, opts.bundleMaxBytes)
    const landing = await mkdtemp(path.join(work, 'bundle-'))
    const landed = path.join(landing, 'result.bundle')
    // absent here still tries the copy: the volume path seen here might not be the one podman used
    let copied = pre.kind !== 'refused'
    if (pre.kind === 'refused') {
      refusal = pre.refusal
      kube.bundleRefused = `${pre.refusal.code}: ${pre.refusal.reason}`
    }
    if (copied) {
      try {
        await podman(['cp', `${name('agent')}:${RESULTS_DIR}/${exported.runId}.bundle`, landed], 120_000, 'cp')
      } catch {
        copied = false // no bundle: the agent made no commit, or wrote none
      }
    }
    if (copied) {
      try {
        kept = await keepBundle({runner, source: landed, evidenceDir, runId: exported.runId, maxBytes: opts.bundleMaxBytes, gitDir: work})
        kube.bundle = {...kept}
      } catch (error) {
        if (!(error instanceof BundleRefused)) throw error
        refusal = error.refusal
        kube.bundleRefused = `${error.refusal.code}: ${error.refusal.reason}`
      }
    }
  } catch (error) {
    failure = error
  } finally {
    // torn down whatever happened: nothing of the run is left on the podman host
    await podman(['kube', 'down', manifestFile], 120_000, 'kube down').catch(() => undefined)
    await rm(work, {recursive: true, force: true})
    for (const s of STOP_SIGNALS) process.off(s, onSignal)
  }
  const stoppedBy = signalled as NodeJS.Signals | null
  if (stoppedBy) failure = new AgentMachineError(`${stoppedBy} stopped the run; the Pod was taken down`, {code: 'INTERRUPTED', exitCode: 1})

  const agent = kube.containers.find((c) => c.name === 'agent')
  const exitCode = failure === null ? (agent?.exitCode ?? null) : null
  const outcome: Outcome = stoppedBy
    ? {result: 'interrupted', error: {code: 'INTERRUPTED', message: `${stoppedBy} stopped the run; the Pod was taken down`, exitCode: 128 + (SIGNAL_NUMBERS[stoppedBy] ?? 1)}}
    : failure === null
      ? exitCode === null
        ? {result: 'failed', error: {code: 'KUBE_AGENT_NO_EXIT', message: 'the agent container has no exit code after the wait', exitCode: 1}}
        : {result: 'ran', error: null}
      : {result: 'failed', error: errorOf(failure)}
  const byproducts: ResourceDescriptor[] = kept ? [{name: 'result-bundle', uri: kept.file, digest: {sha256: kept.digest.replace(/^sha256:/, '')}, annotations: {role: 'byproduct', heads: kept.heads.join(' ')}}] : []
  const done = await handle.complete({
    exitCode: outcome.result === 'ran' ? exitCode : null,
    ...(outcome.result === 'ran' ? {} : {status: 'incomplete' as const}),
    finishedAt: now().toISOString(),
    outcome,
    podmanRan: ran,
    kube,
    ...(network ? {network} : {}),
    ...(byproducts.length > 0 ? {byproducts} : {}),
  })
  if (failure !== null && !stoppedBy) throw failure
  return {
    recordPath: done.file,
    recordDigest: done.digest,
    seq: handle.seq,
    evidenceDir,
    agentExitCode: exitCode,
    bundle: kept ? path.join(evidenceDir, kept.file) : null,
    bundleRefused: refusal,
    interrupted: stoppedBy,
    kube: done.record.predicate.kube ?? kube,
  }
}

function errorOf(error: unknown): NonNullable<Outcome['error']> {
  if (error instanceof AgentMachineError) return {code: error.code, message: error.message, exitCode: error.exitCode}
  return {code: 'UNEXPECTED', message: error instanceof Error ? error.message : String(error), exitCode: 1}
}

/**
 * The agent image's ID, known before the Pod is played (the record names it when it begins): the
 * local image, or — when the Pod may pull it (IfNotPresent) — pulled first, as the play would.
 */
async function agentImageId(podman: (args: string[], timeoutMs?: number, what?: string) => Promise<string>, exported: KubeExport): Promise<string> {
  const inspect = async (): Promise<string | null> => {
    try {
      const id = (await podman(['image', 'inspect', '--format', '{{.Id}}', exported.image], 30_000, 'image inspect')).trim()
      return /^(sha256:)?[0-9a-f]{64}$/.test(id) ? id.replace(/^sha256:/, '') : null
    } catch {
      return null
    }
  }
  const local = await inspect()
  if (local) return local
  if (exported.evidence.pullPolicy === 'Never') {
    throw prerequisiteMissing('KUBE_IMAGE_MISSING', `the image ${exported.image} is not in the local store, and the profile's image.pull is never`, `build or load ${exported.image} first, or pass --image with an image the store has`)
  }
  await podman(['pull', exported.image], 600_000, 'pull')
  const pulled = await inspect()
  if (!pulled) throw prerequisiteMissing('KUBE_IMAGE_MISSING', `the image ${exported.image} has no ID after the pull`, `check \`podman image inspect ${exported.image}\``)
  return pulled
}
