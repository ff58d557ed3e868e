/**
 * Runs a prepared launch's plan: create → verify mounts → start attached. The argv executed is the
 * plan's argv, element for element. Whatever happens (tool exit, signal, verification failure), no
 * container is left behind.
 */
import {policyRefusal, prerequisiteMissing, unexpectedFailure} from '../errors.js'
import {describeOutcome, succeeded, type AttachedRunner, type Runner} from '../exec.js'
import type {Step} from '../plan/plan.js'
import {containerName} from './container-spec.js'
import type {PreparedLaunch} from './prepare.js'
import {verifyContainerMounts} from './verify-mounts.js'

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
}

const CREATE_TIMEOUT_MS = 120_000
const SIGNAL_NUMBERS: Record<string, number> = {SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15}

export async function executeLaunch(prepared: PreparedLaunch, deps: ExecuteDeps): Promise<LaunchOutcome> {
  const [create, inspect, start] = prepared.plan.steps as [Step, Step, Step]
  const name = containerName(prepared.runId)
  const binary = prepared.podmanBinary
  const startedAt = deps.now()

  const created = await deps.runner(create.argv[0]!, create.argv.slice(1), {timeoutMs: CREATE_TIMEOUT_MS})
  if (!succeeded(created)) {
    await removeContainer(deps.runner, binary, name)
    if (created.notFound) throw prerequisiteMissing('PODMAN_NOT_INSTALLED', 'podman is not installed or not on PATH.', 'install Podman, then run `sourceosctl agent-machine doctor`')
    throw unexpectedFailure('PODMAN_CREATE_FAILED', `podman create failed: ${describeOutcome(created)}`, 'run the create command from `--dry-run` by hand to see podman’s full error')
  }
  let clean = false
  try {
    const inspected = await deps.runner(inspect.argv[0]!, inspect.argv.slice(1), {timeoutMs: 30_000})
    if (!succeeded(inspected)) throw unexpectedFailure('PODMAN_INSPECT_FAILED', `cannot inspect the new container: ${describeOutcome(inspected)}`, 'check `podman ps -a`')
    const verification = verifyContainerMounts(inspected.stdout, prepared.spec.mounts)
    if (!verification.ok) {
      throw policyRefusal('MOUNT_MISMATCH', `the container's mounts differ from the plan: ${verification.problems.join('; ')}.`, 'check containers.conf (default mounts) and the image (VOLUME); nothing was started')
    }
    await deps.onBeforeStart?.()
    const result = await deps.attachedRunner(start.argv[0]!, start.argv.slice(1), {stdoutToStderr: deps.stdoutToStderr})
    const exitCode = result.exitCode ?? (result.signal ? 128 + (SIGNAL_NUMBERS[result.signal] ?? 1) : 1)
    // A normal exit means podman's --rm already removed the container; skip the extra check.
    clean = result.exitCode !== null && !result.signal && result.exitCode < 125 && !result.interrupted
    return {exitCode, container: name, startedAt, finishedAt: deps.now(), mountsVerified: verification.actual}
  } finally {
    if (!clean) await removeContainer(deps.runner, binary, name)
  }
}

/** `--rm` normally removes the container; this covers interrupts and failures before start. */
async function removeContainer(runner: Runner, binary: string, name: string): Promise<void> {
  const exists = await runner(binary, ['container', 'exists', name], {timeoutMs: 15_000})
  if (exists.exitCode === 0) await runner(binary, ['rm', '--force', '--time=2', name], {timeoutMs: 30_000})
}
