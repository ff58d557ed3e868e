/**
 * Turns a failed podman run into a PodmanFailure: what happened (one line) and what to do (one
 * sentence). Classification reads stderr, never stdout — on a connection failure podman 4.8+
 * prints YAML client info on stdout even with --format json.
 */
import {describeOutcome, type RunResult} from '../exec.js'
import type {HostPlatform} from '../host/facts.js'
import type {PodmanFailure, PodmanFailureKind} from './types.js'

export interface FailureContext {
  platform: HostPlatform
  /** The machine the call was about, if any (for fixes such as `podman machine start <name>`). */
  machine?: string
  /** The image reference the call was about, if any. */
  imageRef?: string
}

// `rootlessOnly` in cmd/podman/machine (4.x to 6.x): `cannot run command "podman machine list" as root`.
const ROOT_REFUSED = /cannot run command "[^"]*\bmachine\b[^"]*" as root/i
// Hyper-V without elevation: pkg/machine/provider/platform_windows.go `Get()` returns
// `hyperv machines require admin authority` for EVERY machine command (list and inspect too) from
// v5.1.0 to v5.8.x; main (6.0-dev) words it `Hyper-V machines require … admin rights …`.
const NEEDS_ADMIN = /hyperv machines require admin authority|Hyper-V machines require (?:Hyper-V )?admin rights/i
const MACHINE_MISSING = /VM does not exist/i
const CONNECTION_FAILED = [
  /Cannot connect to Podman/i,
  /unable to connect to Podman socket/i,
  /connection refused/i,
  /ssh: handshake failed/i,
  /connectex/i,
]
const IMAGE_MISSING = /image not known|failed to find image|no such image/i

function commandLine(result: RunResult): string {
  return [result.command, ...result.args].join(' ')
}

/** The most telling stderr line: podman's own `Error: …` (prefix dropped), else the first line. */
export function errorLine(stderr: string): string | null {
  const lines = stderr.split(/\r?\n/).map((line) => line.trim()).filter(Boolean)
  const error = [...lines].reverse().find((line) => line.startsWith('Error:'))
  return error ? error.replace(/^Error:\s*/, '') : (lines[0] ?? null)
}

export function installFix(platform: HostPlatform): string {
  if (platform === 'macos') return 'Install Podman (`brew install podman`, or the installer from https://podman.io), then run `podman machine init`.'
  if (platform === 'windows') return 'Install Podman (`winget install RedHat.Podman`, or the installer from https://podman.io), then run `podman machine init`.'
  return 'Install Podman with the distribution\'s package manager (e.g. `sudo apt-get install podman` or `sudo dnf install podman`).'
}

function connectionFix(ctx: FailureContext): string {
  if (ctx.platform === 'linux' && !ctx.machine) {
    return 'Check the Podman connection (`podman system connection list`, CONTAINER_HOST, CONTAINER_CONNECTION), or unset them to use local Podman.'
  }
  const name = ctx.machine ? ` ${ctx.machine}` : ''
  return `Start the Podman machine: \`podman machine start${name}\` (or \`sourceosctl agent-machine start\`).`
}

function failure(kind: PodmanFailureKind, message: string, fix: string, result: RunResult): PodmanFailure {
  return {kind, message, fix, stderr: result.stderr, exitCode: result.exitCode}
}

/** Classifies a run that did not succeed (not found, timed out, or a non-zero exit). */
export function classifyFailure(result: RunResult, ctx: FailureContext): PodmanFailure {
  if (result.notFound) {
    return failure('not-installed', `${result.command} is not installed or not on PATH`, installFix(ctx.platform), result)
  }
  if (result.timedOut) {
    const fix = ctx.machine || ctx.platform !== 'linux'
      ? 'Check that Podman answers (`podman info`); a hung machine may need `podman machine stop` and a fresh start.'
      : 'Check that Podman answers (`podman info`) and that no other podman process holds its lock.'
    return failure('timeout', describeOutcome(result), fix, result)
  }

  const stderr = result.stderr
  const line = errorLine(stderr) ?? describeOutcome(result)
  if (ROOT_REFUSED.test(stderr)) {
    const fix = ctx.platform === 'linux'
      ? 'Run as your normal user, not root or sudo (Podman machines are per-user), or use a native Linux profile, which needs no machine.'
      : 'Run as your normal user, not root or sudo: Podman machines are per-user.'
    return failure('machine-root-refused', `podman refuses machine commands as root: ${line}`, fix, result)
  }
  if (NEEDS_ADMIN.test(stderr)) return needsAdminFailure(result, line)
  if (MACHINE_MISSING.test(stderr)) return machineMissingFailure(result, ctx)
  if (CONNECTION_FAILED.some((pattern) => pattern.test(stderr))) {
    return failure('connection-failed', `cannot connect to Podman: ${line}`, connectionFix(ctx), result)
  }
  if (IMAGE_MISSING.test(stderr)) return imageMissingFailure(result, ctx)
  return failure('failed', `${commandLine(result)} failed (exit ${result.exitCode ?? 'none'}): ${line}`, `Run \`${commandLine(result)}\` yourself to see the full error.`, result)
}

/**
 * The exact command to repeat in an administrator terminal, in PowerShell form with the provider
 * (the error only comes from the hyperv provider, so the variable is always hyperv).
 */
export function adminCommand(result: Pick<RunResult, 'command' | 'args'>): string {
  const words = [result.command, ...result.args].map((w) => (/^[A-Za-z0-9_@%+=:,./\\-]+$/.test(w) ? w : `'${w.replace(/'/g, "''")}'`))
  return `$env:CONTAINERS_MACHINE_PROVIDER = 'hyperv'; ${words.join(' ')}`
}

function needsAdminFailure(result: RunResult, line: string): PodmanFailure {
  return failure(
    'machine-needs-admin',
    `Hyper-V machines need an administrator terminal for every \`podman machine\` command on Podman 5.1 to 5.8, list and inspect too (podman: ${line})`,
    `run from an administrator terminal (right-click Windows Terminal or PowerShell → Run as administrator): \`${adminCommand(result)}\``,
    result,
  )
}

export function machineMissingFailure(result: RunResult, ctx: FailureContext): PodmanFailure {
  const name = ctx.machine ?? '<name>'
  return failure('machine-missing', `Podman machine "${name}" does not exist`, `Create it with \`podman machine init ${name}\`.`, result)
}

export function imageMissingFailure(result: RunResult, ctx: FailureContext): PodmanFailure {
  const ref = ctx.imageRef ?? '<image>'
  return failure(
    'image-missing',
    `image ${ref} is not in local storage`,
    `Build or load it (\`podman build -t ${ref} …\` or \`podman load\`), or point the profile's image.ref at a local image.`,
    result,
  )
}

/** The command ran fine but its output could not be read. */
export function unparseableFailure(result: RunResult, reason: string): PodmanFailure {
  const line = commandLine(result)
  return failure(
    'unparseable',
    `${line} printed output that could not be read: ${reason}`,
    `Run \`${line}\` yourself; if Podman's output format changed, report it together with \`podman --version\`.`,
    result,
  )
}
