/**
 * Runs a prepared launch's plan: host steps → pin what they created → create → init (mounts and
 * namespaces set up, nothing of the agent running) → inspect → verify the effective configuration
 * and the container's real view against the plan and the pins → start attached. The argv executed
 * is the plan's argv, element for element. Whatever happens (tool exit, signal, verification
 * failure), no container is left behind.
 */
import {policyRefusal, prerequisiteMissing, unexpectedFailure, type AgentMachineError} from '../errors.js'
import {describeOutcome, succeeded, type AttachedRunner, type Runner} from '../exec.js'
import type {HostFacts} from '../host/facts.js'
import type {Step} from '../plan/plan.js'
import {podmanArgs, type PodmanContext} from '../podman/context.js'
import {AGENT_HOME, LABEL_PREFIX, containerName, plannedUserNamespace} from './container-spec.js'
import {checkContainerView, readContainerView, type ViewProblem} from './container-view.js'
import type {VerificationInfo} from '../evidence/record.js'
import {assertPinsHold, pinSource} from './pin.js'
import {ENSURE_DIR, ensureDir} from './git-mounts.js'
import {REMOTE_UNVERIFIED, type PreparedLaunch} from './prepare.js'
import {checkEffectiveConfig, type ActualMount} from './verify-mounts.js'
import {checkCreatedWorktree} from './worktree-check.js'
import {describeGit, runGitStep, worktreeHostSteps} from './bring-back.js'
import {checkCleanBase, reviewCommands} from '../git/worktree.js'
import {trace} from '../util/trace.js'
import {createEgressNetwork, createLinkLocalGuard, egressNamespaceProvider, removeLinkLocalGuard, repairSharedHolder, repairSharedNetwork, startCreatedGuard, startEgressProxy, tearDownEgress, waitForGuardRoutes, waitForProxy} from '../network/lifecycle.js'
import {stateDir} from '../profile/location.js'
import {runDetached} from '../sessions/detached-run.js'

export interface LaunchOutcome {
  /** The tool's (or podman's own 125/126/127) exit code; 128+N when it died of signal N. */
  exitCode: number
  container: string
  startedAt: Date
  finishedAt: Date
  mountsVerified: ActualMount[]
  /** How the container was verified before start (null when it never got that far). */
  verification: VerificationInfo | null
}

export interface ExecuteDeps {
  runner: Runner
  attachedRunner: AttachedRunner
  now: () => Date
  /** Send the container's stdout to stderr (under --json, stdout carries only the result). */
  stdoutToStderr: boolean
  /** Called after the host steps, before the first podman command that creates anything (evidence: the record is begun). */
  onBeforeMutation?: () => Promise<void>
  /** Called after the container is verified and just before it starts (the integrity baseline). */
  onBeforeStart?: (verification: VerificationInfo) => Promise<void>
  /** --detach: called once the container runs, before the keeper waits for its end (sessions/detached-run.ts). */
  onStarted?: () => Promise<void>
  /** Called once --worktree's clone exists (it stays, whatever happens next). */
  onWorktreeCreated?: () => void
  /** A warning found while executing (a dirty base under --worktree); also added to prepared.warnings. */
  onWarning?: (message: string) => void
  /** For the hazard scan of a new worktree (symlinks into denied paths); its state dir holds the egress markers. */
  host?: HostFacts
  /** The egress proxy's log (null when unreadable) and teardown problems, once it is removed. */
  onEgressDone?: (down: {log: string | null; problems: string[]}) => void
  /**
   * When given, the proxy's teardown (its log read, then the proxy and network removed) — or, in
   * network mode open, the link-local guard's removal — is handed over as it starts instead of
   * awaited here, so the caller overlaps it with the after-session checks; the caller must await
   * it before it returns (launch.ts does, in its finally).
   */
  onEgressTeardown?: (down: Promise<{log: string | null; problems: string[]}>) => void
}

const CREATE_TIMEOUT_MS = 120_000
const SIGNAL_NUMBERS: Record<string, number> = {SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15}

export async function executeLaunch(prepared: PreparedLaunch, deps: ExecuteDeps): Promise<LaunchOutcome> {
  // The plan without the tool-version probe (first; run by the evidence facts), the steps after the session (launch.ts) and the evidence's reads (last; evidence.ts).
  // The plan's own Step objects (prepare.ts assemblePlan): what runs is what the plan printed.
  const hostSteps = prepared.hostSteps
  const {create, init, inspect, start} = prepared.containerSteps
  const egress = prepared.egress
  const guard = prepared.guard
  let guardUp = false
  let guardId: string | undefined
  if ((egress || guard) && !deps.host) throw new Error('executeLaunch: the egress proxy needs the host facts (its marker lives in the state dir)')
  const state = deps.host ? stateDir(deps.host) : ''
  const name = containerName(prepared.runId)
  // kill, ps and rm go through the launch's connection like every step of the plan (context.ts).
  const podman = prepared.podman
  const startedAt = deps.now()

  // Until the tool runs, a signal must not kill the CLI between `podman create` and the cleanup
  // (that leaves a created container behind): note it, finish the step, clean up, exit 128+N.
  let early: NodeJS.Signals | undefined
  const onEarly = (signal: NodeJS.Signals): void => {
    early ??= signal
  }
  const earlySignals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']
  for (const s of earlySignals) process.on(s, onEarly)
  const stopEarly = (): void => {
    for (const s of earlySignals) process.off(s, onEarly)
  }
  const interruptedBeforeStart = (): LaunchOutcome => ({
    exitCode: 128 + (SIGNAL_NUMBERS[early!] ?? 1), container: name, startedAt, finishedAt: deps.now(), mountsVerified: [], verification: null,
  })
  // Signals reach the tool through podman itself (`podman kill`): see AttachedOptions.forwardSignal.
  const killContainer = (signal: NodeJS.Signals): void => {
    void deps.runner(podman.binary, podmanArgs(podman, ['kill', `--signal=${signal}`, name]), {timeoutMs: 15_000})
  }

  try {
    await runHostSteps(prepared, hostSteps, deps)
    await pinCreated(prepared)
    await deps.onBeforeMutation?.()
  } catch (error) {
    stopEarly()
    throw error
  }
  if (early) {
    stopEarly()
    return interruptedBeforeStart()
  }

  // Cleanup is skipped when podman itself refused the create (e.g. the name is taken by another
  // run's container: removing "our" name would kill that run).
  let clean = false
  let egressUp = false
  let proxyUp: Promise<void> = Promise.resolve()
  // network open: the guard is started, and its routes awaited, while the agent's container is
  // created, initialised and checked; the agent's init waits for the start (it joins the guard's
  // namespaces), its start for the routes
  let guardStarted: Promise<void> = Promise.resolve()
  let guardReady: Promise<void> = Promise.resolve()
  const agentInitialized = deferred<boolean>()
  try {
    if (egress) {
      egressUp = true
      await createEgressNetwork(egress, deps.runner, state, podman)
      // the proxy is created alongside the agent's container and started while it is checked
      proxyUp = startEgressProxy(egress, deps.runner, agentInitialized.promise)
      proxyUp.catch(() => {}) // awaited before the start; a failure meanwhile must not crash the process
      if (early) return interruptedBeforeStart()
    }
    if (guard) {
      guardUp = true
      guardId = await createLinkLocalGuard(guard, deps.runner, state, podman, prepared.runId)
      guardStarted = startCreatedGuard(guard, deps.runner)
      guardReady = guardStarted.then(() => waitForGuardRoutes(guard, deps.runner))
      guardReady.catch(() => {}) // awaited before the agent's init and start; a failure meanwhile must not crash the process
      trace('execute: link-local guard created')
      if (early) return interruptedBeforeStart()
    }
    let created = await deps.runner(create.argv[0]!, create.argv.slice(1), {timeoutMs: CREATE_TIMEOUT_MS})
    // the shared egress proxy's network removed by hand since this host last used it: set up again, created once more
    if (!succeeded(created) && egress && (await repairSharedNetwork(egress, deps.runner, state, podman, created.stderr))) created = await deps.runner(create.argv[0]!, create.argv.slice(1), {timeoutMs: CREATE_TIMEOUT_MS})
    if (!succeeded(created)) {
      clean = created.exitCode !== null
      if (created.notFound) throw prerequisiteMissing('PODMAN_NOT_INSTALLED', 'podman is not installed or not on PATH.', 'install Podman, then run `sourceosctl agent-machine doctor`')
      // podman refuses a source that vanished (a folder swapped after its check): that is the swap, not a podman fault
      await refuseChangedPins(prepared)
      throw unexpectedFailure('PODMAN_CREATE_FAILED', `podman create failed: ${describeOutcome(created)}`, 'run the create command from `--dry-run` by hand to see podman’s full error')
    }
    trace('execute: created')
    // podman says so on stderr and goes on: the profile's limits are then promises it does not keep
    if (/Resource limits are not supported and ignored/i.test(created.stderr)) {
      const warning = 'podman ignores the profile\'s resource limits here (rootless podman on cgroups v1 cannot apply --cpus, --memory or --pids-limit): the agent is not limited; use cgroups v2 (systemd.unified_cgroup_hierarchy=1) or rootful podman'
      prepared.warnings.push(warning)
      deps.onWarning?.(warning)
    }
    if (early) return interruptedBeforeStart()
    if (guard) {
      await guardStarted
      trace('execute: link-local guard started')
    }
    // The runtime mounts everything now; its init process then waits for start, so nothing of
    // the agent has run when the view is checked.
    let initialized = await deps.runner(init.argv[0]!, init.argv.slice(1), {timeoutMs: CREATE_TIMEOUT_MS})
    // the shared egress pool's network holder stopped since this host last used it: started again, init once more
    if (!succeeded(initialized) && egress && (await repairSharedHolder(egress, deps.runner, state, podman, initialized.stderr))) initialized = await deps.runner(init.argv[0]!, init.argv.slice(1), {timeoutMs: CREATE_TIMEOUT_MS})
    if (!succeeded(initialized)) await refuseChangedPins(prepared)
    agentInitialized.resolve(succeeded(initialized))
    if (!succeeded(initialized)) throw unexpectedFailure('PODMAN_INIT_FAILED', `podman init failed: ${describeOutcome(initialized)}`, 'run the create and init commands from `--dry-run` by hand to see podman’s full error')
    trace('execute: initialized')
    if (early) return interruptedBeforeStart()
    const inspected = await deps.runner(inspect.argv[0]!, inspect.argv.slice(1), {timeoutMs: 30_000})
    if (!succeeded(inspected)) throw unexpectedFailure('PODMAN_INSPECT_FAILED', `cannot inspect the new container: ${describeOutcome(inspected)}`, 'check `podman ps -a`')
    // open: the link-local guard's namespace; allowlist with a shared pool's network holder: the holder's (by ID)
    trace('execute: inspected')
    const {verification, mounts} = await verifyContainer(prepared, inspected.stdout, deps, guardId ?? egressNamespaceProvider(egress))
    trace('execute: verified')
    if (early) return interruptedBeforeStart()
    if (guard) {
      await guardReady
      trace('execute: link-local guard in place')
    }
    if (egress) {
      await proxyUp
      await waitForProxy(egress, deps.runner)
      trace('execute: egress proxy listening')
    }
    if (early) return interruptedBeforeStart()
    await deps.onBeforeStart?.(verification)
    trace('execute: starting')
    if (early) return interruptedBeforeStart()
    // --detach: the keeper starts it unattached and waits; the kept container is removed below (clean stays false)
    if (prepared.containerSteps.wait) {
      const exitCode = await runDetached({start, wait: prepared.containerSteps.wait, saveLog: prepared.containerSteps.saveLog}, deps.runner, {kill: killContainer, stopEarly, early: () => early, state, ...(deps.onStarted ? {onStarted: deps.onStarted} : {})})
      return {exitCode, container: name, startedAt, finishedAt: deps.now(), mountsVerified: mounts, verification}
    }
    const result = await deps.attachedRunner(start.argv[0]!, start.argv.slice(1), {
      stdoutToStderr: deps.stdoutToStderr,
      forwardSignal: killContainer,
      ownProcessGroup: !prepared.spec.tty,
      // the attached runner now forwards signals; one that came in meanwhile is relayed now
      onSpawn: () => {
        stopEarly()
        if (early) killContainer(early)
      },
    })
    trace('execute: start returned')
    const exitCode = result.exitCode ?? (result.signal ? 128 + (SIGNAL_NUMBERS[result.signal] ?? 1) : 1)
    // A normal exit means podman's --rm already removed the container; skip the extra check.
    clean = result.exitCode !== null && !result.signal && result.exitCode < 125 && !result.interrupted && !early
    return {exitCode, container: name, startedAt, finishedAt: deps.now(), mountsVerified: mounts, verification}
  } finally {
    stopEarly()
    if (!clean) await removeContainer(deps.runner, podman, name, prepared.runId)
    if (egress && egressUp) {
      agentInitialized.resolve(false) // (no effect once resolved) a launch that stopped earlier never starts the proxy
      // never tear down under a create that is still running
      const down = proxyUp.catch(() => {}).then(() => tearDownEgress(egress, deps.runner, state, {readLog: true}))
      if (deps.onEgressTeardown) deps.onEgressTeardown(down.catch((error: Error) => ({log: null, problems: [`teardown failed: ${error.message}`]})))
      else deps.onEgressDone?.(await down)
    }
    if (guard && guardUp) {
      // never removed under its own start or route check; then removed while the caller runs its after-session checks (as the proxy's teardown)
      const down = guardReady.catch(() => {}).then(async () => {
        const problems = await removeLinkLocalGuard(guard, deps.runner, state, prepared.runId)
        trace('execute: link-local guard removed')
        return {log: null, problems}
      })
      if (deps.onEgressTeardown && !egress) deps.onEgressTeardown(down.catch((error: Error) => ({log: null, problems: [`the link-local guard's removal failed: ${error.message}`]})))
      else {
        const {problems} = await down
        if (problems.length > 0) deps.onEgressDone?.({log: null, problems})
      }
    }
  }
}

function deferred<T>(): {promise: Promise<T>; resolve: (value: T) => void} {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => (resolve = r))
  return {promise, resolve}
}

/**
 * The plan's host steps, in order: --worktree's status read (a dirty checkout is refused here under
 * --clean-base, warned about otherwise), clone and checkout — each through the hardened host git —
 * then creating missing git dirs; finally the new clone is checked against the plan. Nothing here
 * starts a container, and nothing runs that the plan does not list.
 */
async function runHostSteps(prepared: PreparedLaunch, steps: readonly Step[], deps: ExecuteDeps): Promise<void> {
  const wts = prepared.worktreeSteps
  for (const s of steps) {
    const [program, ...args] = s.argv as [string, ...string[]]
    if (program === ENSURE_DIR) {
      await ensureDir(args[0]!)
      continue
    }
    const git = wts ? worktreeHostSteps(wts).find((g) => g.step === s) : undefined
    if (!git || !wts || !prepared.worktree) throw unexpectedFailure('HOST_STEP_UNKNOWN', `the plan has a host step this CLI does not run: ${program}.`, 'report this; nothing was started')
    const result = await runGitStep(deps.runner, git)
    if (!succeeded(result)) {
      const fix = git === wts.status ? 'check the repository with git status; nothing was created' : `nothing was started; fix what git reports, remove what was made (${reviewCommands(prepared.worktree).remove}) and try again`
      throw unexpectedFailure('HOST_STEP_FAILED', `${describeGit(git, result)}.`, fix)
    }
    if (git === wts.status) {
      const dirty = result.stdout.trim() !== ''
      checkCleanBase({toplevel: prepared.worktree.repo, dirty}, wts.cleanBase)
      if (dirty) {
        const warning = `${prepared.worktree.repo} has uncommitted changes: the clone starts from the last commit (${prepared.worktree.baseCommit.slice(0, 12)}) without them`
        prepared.warnings.push(warning)
        deps.onWarning?.(warning)
      }
    }
    if (git === wts.clone) deps.onWorktreeCreated?.()
  }
  if (prepared.worktree) await checkCreatedWorktree(prepared, deps.host)
}

/**
 * Pins the mount sources a host step created (a new worktree, a missing hooks folder): they did
 * not exist when the rest were pinned at judgement. Linux only (other hosts verify by path).
 */
async function pinCreated(prepared: PreparedLaunch): Promise<void> {
  if (prepared.spec.verification !== 'proc-root-inode') return
  for (const m of prepared.spec.mounts) m.pin ??= await pinSource(m.hostSource)
}

/** After podman failed: a pinned source that changed meanwhile is the reason (MOUNT_SWAPPED). */
async function refuseChangedPins(prepared: PreparedLaunch): Promise<void> {
  if (prepared.spec.verification === 'proc-root-inode') await assertPinsHold(prepared.spec.mounts, undefined, {moved: true})
}

/** What cannot be checked when podman runs in a VM: said in the evidence and docs/threat-model.md. */
export const INSPECT_PATHS_LIMITS = [
  'mount identity: inspect reports source paths, so a source swapped for another folder between the check and the mount (inside the VM’s view of the host) is not detected',
  'mounts podman adds without listing them in inspect (mounts.conf secrets) are not detected',
  'the init process’s capabilities and seccomp filter are taken from inspect, not read from /proc',
]

/**
 * The initialized container against the plan: its effective configuration (inspect) and, where
 * podman runs on this host, its real view (/proc/<pid>). Any difference refuses the launch.
 */
async function verifyContainer(prepared: PreparedLaunch, inspectStdout: string, deps: ExecuteDeps, guardContainerId?: string): Promise<{verification: VerificationInfo; mounts: ActualMount[]}> {
  const {spec} = prepared
  // A remote host's keep-id maps the server's user, whose uid this host does not know.
  const userns = plannedUserNamespace(spec, prepared.podman.remote ? null : (deps.host?.uid ?? null))
  const effective = checkEffectiveConfig(inspectStdout, {
    mounts: spec.mounts,
    tmpfs: [AGENT_HOME],
    volumes: spec.volumes ?? [],
    env: spec.env,
    imageEnv: prepared.image.details.env,
    network: spec.network,
    ...(spec.egress ? {egressNetwork: spec.egress.network} : {}),
    ...(guardContainerId ? {guardContainerId} : {}),
    userns,
  })
  const problems = [...effective.problems]
  if (spec.verification === 'inspect-paths') {
    refuseIfAny(problems)
    const unverified = prepared.podman.remote ? [...INSPECT_PATHS_LIMITS, 'the user namespace (keep-id maps the remote user, whose uid this host does not know)', ...REMOTE_UNVERIFIED] : INSPECT_PATHS_LIMITS
    return {verification: {method: 'inspect-paths', via: null, mounts: [], unverified}, mounts: effective.mounts}
  }
  if (effective.status !== 'initialized' || effective.pid <= 0) {
    problems.push({code: 'MOUNT_MISMATCH', message: `the container is ${effective.status || 'in an unknown state'} (pid ${effective.pid}), not initialized, so its view cannot be checked`})
    refuseIfAny(problems)
  }
  let raw
  try {
    raw = await readContainerView({
      pid: effective.pid,
      targets: spec.mounts.map((m) => m.target),
      ociConfigPath: effective.ociConfigPath,
      runtime: effective.runtime,
      runner: deps.runner,
      // `podman unshare` runs only where podman is local (proc-root-inode: no machine, no connection).
      podmanBinary: prepared.podman.binary,
    })
  } catch (error) {
    throw policyRefusal('MOUNT_UNVERIFIABLE', `cannot read the container’s view of its mounts: ${(error as Error).message.split('\n')[0]}.`, 'nothing was started; check that podman runs on this host (not a remote connection), then try again')
  }
  problems.push(...checkContainerView(raw, {planned: spec.mounts, tmpfs: [AGENT_HOME], volumes: spec.volumes ?? [], containerId: effective.id, ...(guardContainerId ? {networkProviderId: guardContainerId} : {}), runtime: effective.runtime, readOnlyRoot: true, userns}))
  refuseIfAny(problems)
  const mounts = spec.mounts.map((m) => ({target: m.target, dev: m.pin!.dev, ino: m.pin!.ino}))
  return {verification: {method: 'proc-root-inode', via: raw.via, mounts, unverified: []}, mounts: effective.mounts}
}

const REFUSALS: Record<ViewProblem['code'], {lead: string; fix: string}> = {
  MOUNT_SWAPPED: {
    lead: 'a mount source changed between its check and the container',
    fix: 'nothing was started; something replaced a mounted folder (or a folder on the way to it) while the launch ran: find what, then try again',
  },
  MOUNT_MISMATCH: {
    lead: 'the container’s mounts differ from the plan',
    fix: 'nothing was started; check containers.conf (volumes, mounts), mounts.conf and the image (VOLUME)',
  },
  CONTAINER_CONFIG_MISMATCH: {
    lead: 'the container’s configuration differs from the plan',
    fix: 'nothing was started; check containers.conf (env, devices, capabilities, seccomp_profile, security options) and CONTAINERS_CONF',
  },
}

/** One refusal for all problems; its code is the gravest kind found. */
function refuseIfAny(problems: readonly ViewProblem[]): void {
  if (problems.length === 0) return
  const code = (['MOUNT_SWAPPED', 'MOUNT_MISMATCH', 'CONTAINER_CONFIG_MISMATCH'] as const).find((c) => problems.some((p) => p.code === c))!
  const {lead, fix} = REFUSALS[code]
  const shown = problems.slice(0, 6).map((p) => p.message)
  const more = problems.length > shown.length ? ` (and ${problems.length - shown.length} more)` : ''
  const error: AgentMachineError = policyRefusal(code, `${lead}: ${shown.join('; ')}${more}.`, fix, {problems: problems.map((p) => ({code: p.code, message: p.message}))})
  throw error
}

/**
 * `--rm` normally removes the container; this covers interrupts and failures before start. Only a
 * container with our name AND our run-id label is removed, never another run's.
 */
async function removeContainer(runner: Runner, podman: PodmanContext, name: string, runId: string): Promise<void> {
  const found = await runner(podman.binary, podmanArgs(podman, ['ps', '--all', '--quiet', '--no-trunc', `--filter=name=^${name}$`, `--filter=label=${LABEL_PREFIX}.run-id=${runId}`]), {timeoutMs: 15_000})
  const ids = found.stdout.split('\n').map((line) => line.trim()).filter(Boolean)
  if (ids.length > 0) await runner(podman.binary, podmanArgs(podman, ['rm', '--force', '--time=2', ...ids]), {timeoutMs: 30_000})
}
