/**
 * Collects an AgentMachineFingerprint. The digest covers only what stays the same from run to run
 * on an unchanged setup (not the time, not the machine's running state).
 */
import {machineNameFor, readActiveProfile} from '../active-profile.js'
import {podmanValue, probeEnvironment, valueOf} from '../environment.js'
import type {Runner} from '../exec.js'
import type {HostFacts} from '../host/facts.js'
import {inspectMounts} from '../mounts.js'
import {PodmanAdapter} from '../podman/adapter.js'
import {podmanContext} from '../podman/context.js'
import {buildEffectivePolicy, canonicalJson, policyHash} from '../policy/hash.js'
import {sha256Prefixed} from '../util/digest.js'
import {withDeadline} from '../util/timeout.js'
import {FINGERPRINT_API_VERSION, FINGERPRINT_KIND, type AgentMachineFingerprint} from './schema.js'

export interface FingerprintOptions {
  runner: Runner
  host: HostFacts
  cwd: string
  profilePath?: string
  timeoutMs: number
  now: () => Date
}

export async function collectFingerprint(opts: FingerprintOptions): Promise<AgentMachineFingerprint> {
  const {host, runner} = opts
  const active = await readActiveProfile(host, opts.profilePath, opts.cwd)
  const profile = active.status === 'loaded' ? active.profile : undefined
  const machineName = machineNameFor(host, active)
  // The launch's machine context: the image, info and version of the machine that runs the containers.
  const context = podmanContext({host, machine: profile?.spec.machine ?? null, connection: profile?.spec.connection ?? null})
  const podman = new PodmanAdapter(runner, host, {timeoutMs: opts.timeoutMs, context})
  const imageRef = profile?.spec.image.ref ?? null

  const [probes, mounts, image] = await Promise.all([
    probeEnvironment({runner, host, machineName, timeoutMs: opts.timeoutMs, context}),
    // A remote Podman host's sources are paths on the server: not resolved here (a launch uses them as written).
    profile && !context.remote ? inspectMounts(profile.spec.mounts, host, opts.cwd) : Promise.resolve([]),
    imageRef ? withDeadline(() => podman.imageInspect(imageRef), opts.timeoutMs) : Promise.resolve(null),
  ])

  const version = podmanValue(probes.podmanVersion)
  const info = podmanValue(probes.podmanInfo)
  const imageDetails = image && image.status === 'done' && image.value.ok ? image.value.value : undefined

  let hash: string | null = null
  if (profile && mounts.every((m) => m.resolved !== null)) {
    const resolved = context.remote
      ? profile.spec.mounts.map((m) => ({source: m.source, target: m.target, mode: m.mode}))
      : mounts.map((m) => ({source: m.resolved as string, target: m.target, mode: m.mode}))
    hash = policyHash(buildEffectivePolicy(profile, resolved, {rootless: info?.rootless ?? null}))
  }

  const stable: Omit<AgentMachineFingerprint, 'fingerprint' | 'generatedAt'> = {
    apiVersion: FINGERPRINT_API_VERSION,
    kind: FINGERPRINT_KIND,
    host: {platform: host.platform, os: host.osName, osVersion: host.osVersion, kernel: host.kernel, arch: host.arch},
    podman: {
      client: version ? version.client : null,
      server: version?.server ?? null,
      remote: info?.remote ?? version?.remote ?? null,
      rootless: info?.rootless ?? null,
    },
    machine: {
      name: machineName ?? null,
      provider: profile?.spec.machine?.provider ?? null,
      rootful: profile?.spec.machine?.rootful ?? null,
      state: machineName === undefined ? 'not-applicable' : (valueOf(probes.machine)?.state ?? 'unknown'),
    },
    tools: {
      podman: valueOf(probes.podmanCli)?.version ?? null,
      git: valueOf(probes.git)?.version ?? null,
      nix: valueOf(probes.nix)?.version ?? null,
    },
    profile: {name: profile?.metadata.name ?? null, path: active.path, status: active.status, policyHash: hash},
    image: {ref: imageRef, present: Boolean(imageDetails), id: imageDetails?.id ?? null, digest: imageDetails?.digest ?? null},
  }
  const {apiVersion, kind, ...body} = stable
  return {apiVersion, kind, fingerprint: fingerprintDigest(stable), generatedAt: opts.now().toISOString(), ...body}
}

/** The stable digest: everything but the volatile fields, canonicalised with RFC 8785. */
export function fingerprintDigest(doc: Omit<AgentMachineFingerprint, 'fingerprint' | 'generatedAt'>): string {
  // The machine's running state changes between runs; the profile's location is not what it is made
  // of (its content is covered by the policy hash).
  const {machine, profile, ...rest} = doc
  const {state: _state, ...stableMachine} = machine
  const {path: _path, ...stableProfile} = profile
  return sha256Prefixed(canonicalJson({...rest, machine: stableMachine, profile: stableProfile}))
}
