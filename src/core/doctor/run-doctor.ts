/**
 * doctor: read-only readiness checks. Probes run concurrently, each under its own deadline; the
 * report lists one check per line with a fix for each failure. Nothing is written anywhere.
 */
import {machineNameFor, readActiveProfile, type ActiveProfile} from '../active-profile.js'
import {mayBeRemote, podmanValue, probeEnvironment, valueOf, type EnvironmentProbes} from '../environment.js'
import type {Runner} from '../exec.js'
import type {HostFacts} from '../host/facts.js'
import type {ToolProbe} from '../host/tools.js'
import {machineExposureCheck, machineSharesCheck, probeMachineShares} from '../machine/doctor-checks.js'
import {inspectHostPath, inspectMounts, pathProblem, type InspectedPath} from '../mounts.js'
import {PodmanAdapter, type ImageDetails, type PodmanFailure, type PodmanResult} from '../podman/adapter.js'
import {DEFAULT_IMAGE_REF, imageFix} from '../image/agent-image.js'
import {egressCheck} from '../network/doctor.js'
import {secretsCheck} from '../secrets/doctor.js'
import {podmanContext, type PodmanContext} from '../podman/context.js'
import {judgeRemoteSource} from '../policy/remote-source.js'
import {AgentMachineError} from '../errors.js'
import {startedProbes, startNativeInfo} from './early-probes.js'
import {remoteMountChecks} from './remote-mounts.js'
import {stateDir} from '../profile/location.js'
import {withDeadline, type Timed} from '../util/timeout.js'
import {shellQuote} from '../plan/plan.js'
import type {Check, CheckStatus, DoctorReport} from './report.js'

export interface DoctorOptions {
  runner: Runner
  host: HostFacts
  cwd: string
  profilePath?: string
  repo?: string
  timeoutMs: number
}

export async function runDoctor(opts: DoctorOptions): Promise<DoctorReport> {
  const {host} = opts
  // The slowest probe first, before the profile is read (early-probes.ts).
  const early = startNativeInfo(opts.runner, host, opts.timeoutMs)
  const profileStarted = performance.now()
  const active = await readActiveProfile(host, opts.profilePath, opts.cwd)
  const profileMs = Math.round(performance.now() - profileStarted)
  const machineName = machineNameFor(host, active)
  // The same machine context a launch uses: info and version go through the profile's machine
  // connection, so doctor checks the service that would run the containers (podman/context.ts).
  const loaded = active.status === 'loaded' ? active.profile : null
  const context = podmanContext({host, machine: loaded?.spec.machine ?? null, connection: loaded?.spec.connection ?? null})
  // A remote Podman host's mount sources are folders there: checked through podman, not stat'ed here.
  const remote = loaded && context.remote ? loaded : null

  const mountsStarted = performance.now()
  // The image the runs use (the templates' default without a profile), in the store they use.
  const imageRef = active.status === 'loaded' ? active.profile.spec.image.ref : active.status === 'missing' ? DEFAULT_IMAGE_REF : null
  const [probes, mounts, repo, shares, image, secrets] = await Promise.all([
    probeEnvironment({
      runner: opts.runner, host, machineName, context, timeoutMs: opts.timeoutMs, versionReport: mayBeRemote(host) || context.connection !== null,
      machineProvider: active.status === 'loaded' ? active.profile.spec.machine?.provider : undefined,
      connections: mayBeRemote(host) || context.connection !== null,
      started: startedProbes(early, context, opts.runner, opts.timeoutMs),
    }),
    active.status === 'loaded' && !remote ? inspectMounts(active.profile.spec.mounts, host, opts.cwd) : Promise.resolve([]),
    opts.repo === undefined || remote ? Promise.resolve(undefined) : inspectHostPath(opts.repo, host, opts.cwd),
    // The machine's shared folders (read from its config; `podman machine inspect` has none).
    machineName === undefined
      ? Promise.resolve(null)
      : withDeadline(() => probeMachineShares({
        runner: opts.runner, host, cwd: opts.cwd, machineName, timeoutMs: Math.max(100, opts.timeoutMs - 50),
        profile: active.status === 'loaded' ? active.profile : null,
      }), opts.timeoutMs),
    imageRef === null ? Promise.resolve(null) : withDeadline(() => new PodmanAdapter(opts.runner, host, {timeoutMs: opts.timeoutMs, context}).imageInspect(imageRef), opts.timeoutMs),
    // The door's secrets and the tool-state volumes (podman calls only when the profile uses them).
    active.status === 'loaded' ? secretsCheck(active.profile, opts.runner, context) : Promise.resolve(null),
  ])
  const pathsMs = Math.round(performance.now() - mountsStarted)
  const remoteChecks = remote
    ? [
      ...(await remoteMountChecks({runner: opts.runner, host, ctx: context, mounts: remote.spec.mounts, imageRef: remote.spec.image.ref, timeoutMs: opts.timeoutMs})),
      ...(opts.repo === undefined ? [] : [remoteRepoCheck(opts.repo, remote.spec.mounts, host)]),
    ]
    : []

  const checks: Check[] = [
    hostCheck(host),
    profileCheck(active, profileMs),
    toolCheck('podman-cli', 'Podman CLI', probes.podmanCli, true, podmanInstallFix(host)),
    podmanServiceCheck(probes, host),
    connectionCheck(probes, context),
    defaultConnectionCheck(probes, context),
    machineCheck(probes, machineName, host),
    machineSharesCheck(shares, host),
    machineExposureCheck(shares, host),
    toolCheck('git', 'git', probes.git, true, gitInstallFix(host)),
    toolCheck('nix', 'nix (optional, for devshells)', probes.nix, false, 'optional: install Nix from https://nixos.org/download if you use Nix devshells'),
    ...mounts.map((m) => pathCheck(`mount:${m.target}`, `mount ${m.raw} → ${m.target}`, m, pathsMs)),
    ...(imageRef && image ? [imageCheck(imageRef, image, active, probes, context)] : []),
    ...(active.status === 'loaded' ? [egressCheck(active.profile, image?.status === 'done' && image.value.ok ? image.value.value : null, image?.durationMs ?? 0)] : []),
    ...(secrets ? [secrets] : []),
    ...(repo ? [pathCheck('repo', `--repo ${repo.raw}`, repo, pathsMs), allowlistCheck(repo, mounts, active, host)] : []),
    ...remoteChecks,
  ]

  const info = podmanValue(probes.podmanInfo)
  const version = podmanValue(probes.podmanVersion)
  const machine = valueOf(probes.machine)
  return {
    ready: checks.every((c) => !c.required || c.status === 'ok' || c.status === 'warn' || c.status === 'skip'),
    host: {platform: host.platform, os: host.osName, osVersion: host.osVersion, kernel: host.kernel, arch: host.arch, isRoot: host.isRoot},
    profile: {path: active.path, status: active.status, name: active.status === 'loaded' ? active.profile.metadata.name : null},
    podman: {
      version: valueOf(probes.podmanCli)?.version ?? null,
      // Only a remote client has a separate server; natively the client is the service.
      serverVersion: version?.server?.version ?? (info?.remote ? info.serverVersion : null),
      remote: info?.remote ?? version?.remote ?? null,
      rootless: info?.rootless ?? null,
    },
    machine: {
      name: machineName ?? null,
      state: machineName === undefined ? 'not-applicable' : probes.machine?.status === 'timeout' ? 'timeout' : (machine?.state ?? 'unknown'),
    },
    tools: {
      podman: valueOf(probes.podmanCli)?.version ?? null,
      git: valueOf(probes.git)?.version ?? null,
      nix: valueOf(probes.nix)?.version ?? null,
    },
    evidenceDir: evidenceDirFor(host),
    checks,
  }
}

/** Default evidence location; the evidence writer uses the same rule. */
export function evidenceDirFor(host: HostFacts): string {
  return host.env.SOURCEOSCTL_EVIDENCE_DIR || joinFor(host, stateDir(host), 'evidence')
}

function joinFor(host: HostFacts, a: string, b: string): string {
  const sep = host.platform === 'windows' ? '\\' : '/'
  return a.endsWith(sep) ? `${a}${b}` : `${a}${sep}${b}`
}

function check(id: string, title: string, status: CheckStatus, required: boolean, detail: string, fix: string | null, durationMs: number): Check {
  return {id, title, status, required, detail, fix: status === 'ok' || status === 'skip' ? null : fix, durationMs}
}

function hostCheck(host: HostFacts): Check {
  return check('host', 'Host OS and architecture', 'ok', false, `${host.osName} ${host.osVersion} (${host.platform}, kernel ${host.kernel}, ${host.arch})`, null, 0)
}

function profileCheck(active: ActiveProfile, durationMs: number): Check {
  if (active.status === 'loaded') {
    return check('profile', 'Active profile', 'ok', false, `${active.profile.metadata.name} from ${active.path}`, null, durationMs)
  }
  if (active.status === 'missing') {
    return check('profile', 'Active profile', 'warn', false, `no profile at ${active.path}`, 'run `sourceosctl agent-machine init --profile <template> --repo <path>`', durationMs)
  }
  return check('profile', 'Active profile', 'fail', true, active.message, active.fix, durationMs)
}

function toolCheck(id: string, title: string, probe: Timed<ToolProbe>, required: boolean, installFix: string): Check {
  const missingStatus: CheckStatus = required ? 'fail' : 'warn'
  if (probe.status === 'timeout') return check(id, title, 'timeout', required, `no answer from \`${id.replace('-cli', '')} --version\` within the deadline`, 'check that the program is not hung; rerun with a longer --timeout', probe.durationMs)
  if (probe.status === 'error') return check(id, title, missingStatus, required, probe.error.message, installFix, probe.durationMs)
  const t = probe.value
  if (t.status === 'ok') return check(id, title, 'ok', required, `${t.name} ${t.version ?? t.raw ?? ''}`.trim(), null, probe.durationMs)
  if (t.status === 'missing') return check(id, title, missingStatus, required, `${t.name} is not installed (not on PATH)`, installFix, probe.durationMs)
  if (t.status === 'timeout') return check(id, title, 'timeout', required, `${t.name} --version timed out`, 'check that the program is not hung; rerun with a longer --timeout', probe.durationMs)
  return check(id, title, missingStatus, required, t.detail ?? `${t.name} --version failed`, installFix, probe.durationMs)
}

function podmanServiceCheck(probes: EnvironmentProbes, host: HostFacts): Check {
  const id = 'podman-service'
  const title = 'Podman service (client/server, rootless)'
  const p = probes.podmanInfo
  if (p.status === 'timeout') return check(id, title, 'timeout', true, 'no answer from `podman info` within the deadline', host.platform === 'linux' ? 'check `podman info` by hand; a stuck storage lock or hung machine is the usual cause' : 'check the machine with `podman machine list`; restart it with `podman machine stop` then `sourceosctl agent-machine start`', p.durationMs)
  if (p.status === 'error') return check(id, title, 'fail', true, p.error.message, 'rerun with DEBUG=1 and report it', p.durationMs)
  if (!p.value.ok) return failureCheck(id, title, p.value.failure, p.durationMs)
  const info = p.value.value
  const mode = info.remote ? 'remote client → server' : 'native (local service)'
  const server = info.serverVersion ? `, server ${info.serverVersion}` : ''
  return check(id, title, 'ok', true, `${mode}${server}, ${info.rootless ? 'rootless' : 'rootful'}`, null, p.durationMs)
}

/**
 * The connection the profile's machine runs its containers through (`<machine>`, or
 * `<machine>-root` when rootful): it must exist (`podman system connection list`) and answer
 * (`podman --connection <it> info`, remote). Every container-side call of a launch names it.
 */
function connectionCheck(probes: EnvironmentProbes, ctx: PodmanContext): Check {
  const id = 'podman-connection'
  const conn = ctx.connection
  if (conn && ctx.remote) return remoteConnectionCheck(probes, conn)
  if (!conn || !ctx.machine) return check(id, 'Podman connection of the machine', 'skip', false, 'not applicable: no machine in the profile, so no connection is named (podman’s own choice)', null, 0)
  const title = `Podman connection ${conn}`
  const machine = ctx.machine.name
  const listed = listedConnection(probes, id, title, conn, {
    missing: `run and shell cannot reach machine ${machine}`,
    fix: `\`podman machine init ${machine}\` creates ${machine} and ${machine}-root (\`sourceosctl agent-machine start\` prints the init command); if the machine exists but its connections were removed, recreate it (\`podman machine rm ${machine}\`, then init)`,
  })
  if ('check' in listed) return listed.check
  const {found, ms} = listed
  // The connection must lead to this machine, not another VM: machine connections name the
  // machine's SSH port in their URI (pkg/machine/connection/add.go), so the two must agree.
  const machinePort = probes.machine?.status === 'done' ? (probes.machine.value.machine?.port ?? null) : null
  const uriPort = sshPort(found.uri)
  if (machinePort !== null && uriPort !== null && machinePort !== uriPort) {
    return check(
      id,
      title,
      'fail',
      true,
      `${conn} → ${found.uri} leads to port ${uriPort}, but machine ${machine} listens on port ${machinePort}: the containers would run in another VM than the one whose shares doctor audits`,
      `recreate the machine so its connections are written again: \`podman machine rm ${machine}\`, then \`sourceosctl agent-machine start\` for the init command (or fix the connection: \`podman system connection rm ${conn}\` and add it back with the machine's port from \`podman machine inspect ${machine}\`)`,
      ms,
    )
  }
  const info = probes.podmanInfo
  if (info.status === 'timeout') return check(id, title, 'timeout', true, `${conn} → ${found.uri} exists but did not answer \`podman --connection ${conn} info\` within the deadline`, `check machine ${machine} with \`podman machine list\`; restart it with \`podman machine stop ${machine}\` then \`sourceosctl agent-machine start\``, ms)
  if (info.status === 'error') return check(id, title, 'fail', true, info.error.message, 'rerun with DEBUG=1 and report it', ms)
  if (!info.value.ok) {
    return check(id, title, info.value.failure.kind === 'timeout' ? 'timeout' : 'fail', true, `${conn} → ${found.uri} exists but does not answer: ${info.value.failure.message}`, `start machine ${machine}: \`sourceosctl agent-machine start\` (${info.value.failure.fix})`, ms)
  }
  const answered = info.value.value
  if (!answered.remote) {
    return check(id, title, 'fail', true, `${conn} → ${found.uri} answers, but as a local service (serviceIsRemote false): containers would run on this host, not in machine ${machine}`, `point ${conn} at the machine again: \`podman system connection rm ${conn}\`, then recreate machine ${machine} (\`podman machine rm ${machine}\`, then \`sourceosctl agent-machine start\` for the init command)`, ms)
  }
  const server = answered.serverVersion ? `, server ${answered.serverVersion}` : ''
  return check(id, title, 'ok', true, `${conn} → ${found.uri} answers (remote${server}, ${answered.rootless ? 'rootless' : 'rootful'}); every container-side call names it`, null, ms)
}

/**
 * The named connection in `podman system connection list`, or the check that says why it is not
 * there (list unread, timed out, failed, or no such name). `ms` adds the info probe's time.
 */
function listedConnection(
  probes: EnvironmentProbes,
  id: string,
  title: string,
  conn: string,
  ifMissing: {missing: string; fix: string},
): {check: Check} | {found: {name: string; uri: string}; ms: number} {
  const listed = probes.connections
  if (!listed) return {check: check(id, title, 'skip', false, 'the connection list was not read', null, 0)}
  if (listed.status === 'timeout') return {check: check(id, title, 'timeout', true, 'no answer from `podman system connection list` within the deadline', 'check `podman system connection list` by hand; rerun with a longer --timeout', listed.durationMs)}
  if (listed.status === 'error') return {check: check(id, title, 'fail', true, listed.error.message, 'rerun with DEBUG=1 and report it', listed.durationMs)}
  if (!listed.value.ok) return {check: failureCheck(id, title, listed.value.failure, listed.durationMs)}
  const found = listed.value.value.find((c) => c.name === conn)
  if (!found) {
    const names = listed.value.value.map((c) => c.name)
    const there = names.length > 0 ? `there are: ${names.join(', ')}` : 'there are none'
    return {check: check(id, title, 'fail', true, `no connection named ${conn} (${there}): every container-side call of a launch names it, so ${ifMissing.missing}`, ifMissing.fix, listed.durationMs)}
  }
  return {found, ms: listed.durationMs + probes.podmanInfo.durationMs}
}

/** The profile's remote Podman host (spec.connection): listed, and answering through it. */
function remoteConnectionCheck(probes: EnvironmentProbes, conn: string): Check {
  const id = 'podman-connection'
  const title = `Podman connection ${conn} (remote host)`
  const listed = listedConnection(probes, id, title, conn, {
    missing: 'the launch cannot reach the remote host',
    fix: `add it: \`podman system connection add ${conn} ssh://<user>@<server>/run/user/<uid>/podman/podman.sock\` (or fix spec.connection)`,
  })
  if ('check' in listed) return listed.check
  const {found, ms} = listed
  const info = probes.podmanInfo
  if (info.status === 'timeout') return check(id, title, 'timeout', true, `${conn} → ${found.uri} did not answer \`podman --connection ${conn} info\` within the deadline`, 'check the server and its podman service; rerun with a longer --timeout', ms)
  if (info.status === 'error') return check(id, title, 'fail', true, info.error.message, 'rerun with DEBUG=1 and report it', ms)
  if (!info.value.ok) return check(id, title, info.value.failure.kind === 'timeout' ? 'timeout' : 'fail', true, `${conn} → ${found.uri} does not answer: ${info.value.failure.message}`, `check \`podman --connection ${conn} info\` by hand (${info.value.failure.fix})`, ms)
  const answered = info.value.value
  if (!answered.remote) return check(id, title, 'fail', true, `${conn} → ${found.uri} answers as a local service (serviceIsRemote false)`, `point ${conn} at the server's podman service`, ms)
  if (answered.os !== 'linux') return check(id, title, 'fail', true, `${conn} → ${found.uri} is a ${answered.os} podman service; a remote host must be a Linux server`, 'name a connection to a Linux server', ms)
  const server = answered.serverVersion ? `, server ${answered.serverVersion}` : ''
  return check(id, title, 'ok', true, `${conn} → ${found.uri} answers (remote linux/${answered.arch}${server}, ${answered.rootless ? 'rootless' : 'rootful'}); every container-side call names it, no machine is used`, null, ms)
}

/** --repo on a remote host: a path there, judged as a string and matched against the mounts. */
function remoteRepoCheck(repo: string, mounts: ReadonlyArray<{source: string}>, host: HostFacts): Check {
  try {
    judgeRemoteSource(repo, host, '--repo')
  } catch (error) {
    if (!(error instanceof AgentMachineError)) throw error
    return check('repo', `--repo ${repo}`, 'fail', true, error.message, error.fix ?? null, 0)
  }
  const inside = mounts.some((m) => repo === m.source || repo.startsWith(`${m.source}/`))
  return inside
    ? check('repo', `--repo ${repo}`, 'ok', true, `${repo} is an allowlisted mount (or inside one) on the remote host`, null, 0)
    : check('repo', `--repo ${repo}`, 'fail', true, `${repo} is not an allowlisted mount of the profile`, 'add it to spec.mounts as an absolute path on the remote host', 0)
}

/** The port of an ssh:// connection URI on the local host (a machine's), else null. */
function sshPort(uri: string): number | null {
  const m = /^ssh:\/\/[^/@]*@?(?:127\.0\.0\.1|localhost|\[::1\]):(\d+)\//i.exec(uri)
  return m ? Number(m[1]) : null
}

/**
 * Which connection plain `podman` uses, and whether it differs from the profile's machine (a Podman
 * Desktop user's default is `podman-machine-default-root`): this CLI names its own connection on
 * every call, so a different default only matters for the podman commands a user types.
 */
function defaultConnectionCheck(probes: EnvironmentProbes, ctx: PodmanContext): Check {
  const id = 'podman-default-connection'
  const title = 'Default Podman connection'
  const listed = probes.connections
  if (!listed) return check(id, title, 'skip', false, 'not applicable: native podman, no connection is named', null, 0)
  if (listed.status !== 'done' || !listed.value.ok) return check(id, title, 'skip', false, 'the connection list could not be read (see the connection check)', null, listed.durationMs)
  const all = listed.value.value
  const def = all.find((c) => c.default) ?? null
  const conn = ctx.connection
  if (!conn) {
    const detail = def ? `${def.name} → ${def.uri}` : all.length === 0 ? 'no connections' : 'none of the connections is the default'
    return check(id, title, 'ok', false, `${detail}; no machine in the profile, so plain podman’s choice is used`, null, listed.durationMs)
  }
  if (def?.name === conn) return check(id, title, 'ok', false, `${conn} (the profile’s machine) is the default`, null, listed.durationMs)
  return check(
    id,
    title,
    'warn',
    false,
    `the default connection is ${def ? `${def.name} → ${def.uri}` : 'not set'}, not ${conn} (machine ${ctx.machine?.name ?? conn}): sourceosctl names ${conn} on every call, but a plain \`podman\` you type (podman ps, podman images) goes to ${def ? def.name : 'podman’s fallback'}`,
    `nothing to do for sourceosctl; to make plain podman match, \`podman system connection default ${conn}\` (Podman Desktop may set its own default again), or pass \`--connection ${conn}\` to podman`,
    listed.durationMs,
  )
}

function failureCheck(id: string, title: string, failure: PodmanFailure, durationMs: number): Check {
  const status: CheckStatus = failure.kind === 'timeout' ? 'timeout' : 'fail'
  return check(id, title, status, true, failure.message, failure.fix, durationMs)
}

function machineCheck(probes: EnvironmentProbes, machineName: string | undefined, host: HostFacts): Check {
  const id = 'machine'
  if (machineName === undefined || probes.machine === null) {
    return check(id, 'Podman machine', 'skip', false, host.platform === 'linux' ? 'not applicable: native Linux runs containers without a machine' : 'no machine in the profile', null, 0)
  }
  const title = `Podman machine ${machineName}`
  const p = probes.machine
  if (p.status === 'timeout') return check(id, title, 'timeout', true, '`podman machine list` did not answer within the deadline', 'a hung machine: try `podman machine stop ' + machineName + '` then `sourceosctl agent-machine start`', p.durationMs)
  if (p.status === 'error') return check(id, title, 'fail', true, p.error.message, 'rerun with DEBUG=1 and report it', p.durationMs)
  const m = p.value
  switch (m.state) {
    case 'running':
      return check(id, title, 'ok', true, m.detail, null, p.durationMs)
    case 'starting':
      return check(id, title, 'warn', true, m.detail, m.fix ?? 'wait for it to finish starting', p.durationMs)
    case 'not-applicable':
      return check(id, title, 'skip', false, m.detail, null, p.durationMs)
    default:
      return check(id, title, 'fail', true, m.detail, m.fix ?? `run \`sourceosctl agent-machine start\``, p.durationMs)
  }
}

/**
 * The profile's image in the store the runs use: required (a run without it fails). Missing →
 * `start` builds it; a store that cannot be asked (podman or the machine down) fails with start too.
 */
function imageCheck(ref: string, probe: Timed<PodmanResult<ImageDetails>>, active: ActiveProfile, probes: EnvironmentProbes, ctx: PodmanContext): Check {
  const id = 'image'
  const title = `Image ${ref}`
  const info = podmanValue(probes.podmanInfo)
  const rootless = info?.rootless ?? null
  const where = ctx.connection ? `the store of connection ${ctx.connection}` : `${rootless === null ? 'the' : rootless ? 'your rootless' : 'the rootful'} podman store`
  const how = imageFix(ref, {rootless, connection: ctx.remote ? null : ctx.connection})
  const fix = active.status === 'loaded' ? how : `create a profile first (\`sourceosctl agent-machine init --profile <template> --repo <path>\`), then ${how}`
  if (probe.status === 'timeout') return check(id, title, 'timeout', true, `\`podman image inspect ${ref}\` did not answer within the deadline`, 'check `podman info` by hand; rerun with a longer --timeout', probe.durationMs)
  if (probe.status === 'error') return check(id, title, 'fail', true, probe.error.message, fix, probe.durationMs)
  if (probe.value.ok) {
    const img = probe.value.value
    const pin = active.status === 'loaded' ? active.profile.spec.image.digest : null
    if (pin && pin !== `sha256:${img.id}` && pin !== img.digest && !img.repoDigests.some((d) => d.endsWith(`@${pin}`))) {
      return check(id, title, 'fail', true, `${ref} (ID ${img.id.slice(0, 12)}) in ${where} does not match the profile's pin ${pin}`, 'rebuild or pull the pinned image, or update spec.image.digest after reviewing the new image', probe.durationMs)
    }
    return check(id, title, 'ok', true, `present in ${where} (ID ${img.id.slice(0, 12)})`, null, probe.durationMs)
  }
  const failure = probe.value.failure
  if (failure.kind === 'image-missing') return check(id, title, 'fail', true, `not in ${where}`, fix, probe.durationMs)
  return check(id, title, 'fail', true, `cannot look in ${where}: ${failure.message}`, `get podman answering (see the checks above), then ${fix.replace(/^run /, '')}`, probe.durationMs)
}

/** doctor --repo: is it an allowlisted mount, or inside one? (run and shell refuse it otherwise). */
function allowlistCheck(repo: InspectedPath, mounts: readonly InspectedPath[], active: ActiveProfile, host: HostFacts): Check {
  const id = 'repo-allowlisted'
  const title = `--repo ${repo.raw} allowlisted`
  const init = `sourceosctl agent-machine init --repo ${shellQuote(repo.resolved ?? repo.raw)}`
  if (active.status !== 'loaded') return check(id, title, 'fail', true, 'no active profile, so nothing is allowlisted yet', `allow it: \`sourceosctl agent-machine init --profile <template> --repo ${shellQuote(repo.resolved ?? repo.raw)}\``, 0)
  if (!repo.resolved) return check(id, title, 'skip', false, 'the path could not be resolved (see the check above)', null, 0)
  const holder = mounts.find((m) => m.resolved && pathWithin(repo.resolved!, m.resolved, host))
  if (holder) {
    const exact = holder.resolved === repo.resolved
    return check(id, title, 'ok', true, `${exact ? 'an allowlisted mount' : `inside the allowlisted mount ${holder.resolved}`} of profile '${active.profile.metadata.name}'`, null, 0)
  }
  return check(id, title, 'fail', true, `${repo.resolved} is not an allowlisted mount (or inside one) of profile '${active.profile.metadata.name}': run and shell refuse it`, `allow it: \`${init}\``, 0)
}

function pathWithin(child: string, parent: string, host: HostFacts): boolean {
  const fold = (p: string) => (host.caseInsensitivePaths ? p.normalize('NFC').toLowerCase() : p)
  const sep = host.platform === 'windows' ? '\\' : '/'
  const c = fold(child)
  const p = fold(parent)
  return c === p || c.startsWith(p.endsWith(sep) ? p : p + sep)
}

function pathCheck(id: string, title: string, p: InspectedPath, durationMs: number): Check {
  const problem = pathProblem(p)
  if (!problem) return check(id, title, 'ok', true, `${p.resolved} is readable`, null, durationMs)
  return check(id, title, 'fail', true, problem.message, problem.fix, durationMs)
}

function podmanInstallFix(host: HostFacts): string {
  if (host.platform === 'macos') return 'install Podman: `brew install podman` or the installer from podman.io'
  if (host.platform === 'windows') return 'install Podman: `winget install RedHat.Podman` or Podman Desktop'
  return 'install Podman from your distribution, e.g. `sudo apt-get install podman` or `sudo dnf install podman`'
}

function gitInstallFix(host: HostFacts): string {
  if (host.platform === 'macos') return 'install git: `xcode-select --install` or `brew install git`'
  if (host.platform === 'windows') return 'install git: `winget install Git.Git`'
  return 'install git from your distribution, e.g. `sudo apt-get install git`'
}
