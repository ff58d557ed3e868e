/**
 * Runs a prepared launch's plan: create → verify mounts → start attached. The argv executed is the
 * plan's argv, element for element. Whatever happens (tool exit, signal, verification failure), no
 * container is left behind.
 */
import {policyRefusal, prerequisiteMissing, unexpectedFailure} from '../errors.js'
import {describeOutcome, succeeded, type AttachedRunner, type Runner} from '../exec.js'
import type {HostFacts} from '../host/facts.js'
import type {Step} from '../plan/plan.js'
import {LABEL_PREFIX, containerName} from './container-spec.js'
import {ENSURE_DIR, ensureDir} from './git-mounts.js'
import type {PreparedLaunch} from './prepare.js'
import {verifyContainerMounts} from './verify-mounts.js'
import {checkCreatedWorktree} from './worktree-check.js'
import {hostGitEnv} from '../git/host-git.js'
import {trace} from '../util/trace.js'

export interface LaunchOutcome {
  /** The tool's (or podman's own 125/126/127) exit code; 128+N when it died of signal N. */
  exitCode: number
  container: string
  startedAt: Date
  finishedAt: Date
  mountsVerified: Array<{type: string; source: string; destination: string; rw: boolean}>
}

export interface ExecuteDeps {
  runner: Runner
  attachedRunner: AttachedRunner
  now: () => Date
  /** Send the container's stdout to stderr (under --json, stdout carries only the result). */
  stdoutToStderr: boolean
  /** Called after the container is verified and just before it starts (evidence: "started"). */
  onBeforeStart?: () => Promise<void>
  /** Called once `git worktree add` has created the worktree (it stays, whatever happens next). */
  onWorktreeCreated?: () => void
  /** For the hazard scan of a new worktree (symlinks into denied paths). */
  host?: HostFacts
}

const CREATE_TIMEOUT_MS = 120_000
const SIGNAL_NUMBERS: Record<string, number> = {SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15}

export async function executeLaunch(prepared: PreparedLaunch, deps: ExecuteDeps): Promise<LaunchOutcome> {
  const steps = prepared.plan.steps
  const hostSteps = steps.slice(0, -3)
  const [create, inspect, start] = steps.slice(-3) as [Step, Step, Step]
  const name = containerName(prepared.runId)
  const binary = prepared.podmanBinary
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
    exitCode: 128 + (SIGNAL_NUMBERS[early!] ?? 1), container: name, startedAt, finishedAt: deps.now(), mountsVerified: [],
  })
  // Signals reach the tool through podman itself (`podman kill`): see AttachedOptions.forwardSignal.
  const killContainer = (signal: NodeJS.Signals): void => {
    void deps.runner(binary, ['kill', `--signal=${signal}`, name], {timeoutMs: 15_000})
  }

  try {
    await runHostSteps(prepared, hostSteps, deps)
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
  try {
    const created = await deps.runner(create.argv[0]!, create.argv.slice(1), {timeoutMs: CREATE_TIMEOUT_MS})
    if (!succeeded(created)) {
      clean = created.exitCode !== null
      if (created.notFound) throw prerequisiteMissing('PODMAN_NOT_INSTALLED', 'podman is not installed or not on PATH.', 'install Podman, then run `sourceosctl agent-machine doctor`')
      throw unexpectedFailure('PODMAN_CREATE_FAILED', `podman create failed: ${describeOutcome(created)}`, 'run the create command from `--dry-run` by hand to see podman’s full error')
    }
    trace('execute: created')
    if (early) return interruptedBeforeStart()
    const inspected = await deps.runner(inspect.argv[0]!, inspect.argv.slice(1), {timeoutMs: 30_000})
    if (!succeeded(inspected)) throw unexpectedFailure('PODMAN_INSPECT_FAILED', `cannot inspect the new container: ${describeOutcome(inspected)}`, 'check `podman ps -a`')
    const verification = verifyContainerMounts(inspected.stdout, prepared.spec.mounts)
    if (!verification.ok) {
      throw policyRefusal('MOUNT_MISMATCH', `the container's mounts differ from the plan: ${verification.problems.join('; ')}.`, 'check containers.conf (default mounts) and the image (VOLUME); nothing was started')
    }
    trace('execute: inspected')
    await deps.onBeforeStart?.()
    trace('execute: starting')
    if (early) return interruptedBeforeStart()
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
    const exitCode = result.exitCode ?? (result.signal ? 128 + (SIGNAL_NUMBERS[result.signal] ?? 1) : 1)
    // A normal exit means podman's --rm already removed the container; skip the extra check.
    clean = result.exitCode !== null && !result.signal && result.exitCode < 125 && !result.interrupted && !early
    return {exitCode, container: name, startedAt, finishedAt: deps.now(), mountsVerified: verification.actual}
  } finally {
    stopEarly()
    if (!clean) await removeContainer(deps.runner, binary, name, prepared.runId)
  }
}

/**
 * The plan's host steps, in order: `git worktree add` (then the new worktree is checked against the
 * plan), creating missing git dirs. Nothing here starts a container.
 */
async function runHostSteps(prepared: PreparedLaunch, steps: readonly Step[], deps: ExecuteDeps): Promise<void> {
  for (const s of steps) {
    const [program, ...args] = s.argv as [string, ...string[]]
    if (program === ENSURE_DIR) {
      await ensureDir(args[0]!)
      continue
    }
    // Host git steps run with the hardened environment their argv was planned with.
    const result = await deps.runner(program, args, {timeoutMs: 120_000, ...(program === 'git' ? {env: hostGitEnv()} : {})})
    if (!succeeded(result)) {
      if (result.notFound) throw prerequisiteMissing('GIT_NOT_INSTALLED', `${program} is not installed or not on PATH.`, 'install git')
      throw unexpectedFailure('HOST_STEP_FAILED', `${describeOutcome(result)}`, 'nothing was started; fix what the command reports and try again')
    }
    if (prepared.worktree && program === 'git' && args.includes('worktree')) {
      deps.onWorktreeCreated?.()
      await checkCreatedWorktree(prepared, deps.host)
    }
  }
}

/**
 * `--rm` normally removes the container; this covers interrupts and failures before start. Only a
 * container with our name AND our run-id label is removed, never another run's.
 */
async function removeContainer(runner: Runner, binary: string, name: string, runId: string): Promise<void> {
  const found = await runner(binary, ['ps', '--all', '--quiet', '--no-trunc', `--filter=name=^${name}$`, `--filter=label=${LABEL_PREFIX}.run-id=${runId}`], {timeoutMs: 15_000})
  const ids = found.stdout.split('\n').map((line) => line.trim()).filter(Boolean)
  if (ids.length > 0) await runner(binary, ['rm', '--force', '--time=2', ...ids], {timeoutMs: 30_000})
}
