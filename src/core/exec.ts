/**
 * The one exec boundary. Every external program (podman, git, nix, …) runs through a Runner.
 * Tests inject a fake Runner; real runs always carry a timeout, and a non-zero exit never throws.
 */

export const DEFAULT_TIMEOUT_MS = 15_000

export interface RunOptions {
  /** Kill the process after this many milliseconds (SIGTERM, then SIGKILL). Always set. */
  timeoutMs?: number
  cwd?: string
  /** Extra environment. With `cleanEnv`, this is the whole environment. */
  env?: Record<string, string | undefined>
  /** Start from an empty environment instead of inheriting the CLI's own. */
  cleanEnv?: boolean
  /** Text written to the child's stdin. */
  input?: string
}

export interface RunResult {
  command: string
  args: string[]
  /** null when the process did not exit on its own (timeout, signal, not found). */
  exitCode: number | null
  stdout: string
  stderr: string
  /** The program is not installed / not on PATH (ENOENT), as opposed to failing. */
  notFound: boolean
  timedOut: boolean
  /** The signal that ended the process, if any. */
  signal?: string
  durationMs: number
}

export type Runner = (command: string, args: readonly string[], options?: RunOptions) => Promise<RunResult>

/** True when the process ran and exited 0. */
export function succeeded(result: RunResult): boolean {
  return !result.notFound && !result.timedOut && result.exitCode === 0
}

/** A short human description of how a run ended, for error messages. */
export function describeOutcome(result: RunResult): string {
  if (result.notFound) return `${result.command} is not installed or not on PATH`
  if (result.timedOut) return `${result.command} ${result.args.join(' ')} timed out after ${result.durationMs} ms`
  if (result.signal) return `${result.command} was killed by ${result.signal}`
  const firstLine = (result.stderr || result.stdout).trim().split('\n').find(Boolean) ?? ''
  return `${result.command} ${result.args.slice(0, 3).join(' ')} exited ${result.exitCode}${firstLine ? `: ${firstLine}` : ''}`
}

/** The real Runner, backed by execa (imported lazily to keep CLI start-up cheap). */
export function createRunner(defaults: {timeoutMs?: number} = {}): Runner {
  return async (command, args, options = {}) => {
    const {execa} = await import('execa')
    const timeout = options.timeoutMs ?? defaults.timeoutMs ?? DEFAULT_TIMEOUT_MS
    const started = performance.now()
    const result = await execa(command, [...args], {
      cwd: options.cwd,
      env: options.env,
      extendEnv: !options.cleanEnv,
      input: options.input,
      stdin: options.input === undefined ? 'ignore' : undefined,
      reject: false,
      timeout,
      forceKillAfterDelay: 2000,
      stripFinalNewline: false,
      encoding: 'utf8',
      windowsHide: true,
    })
    const notFound = result.code === 'ENOENT' || (result.failed && /ENOENT/.test(String(result.originalMessage ?? '')))
    return {
      command,
      args: [...args],
      exitCode: notFound || result.timedOut ? null : (result.exitCode ?? null),
      stdout: typeof result.stdout === 'string' ? result.stdout : '',
      stderr: typeof result.stderr === 'string' ? result.stderr : '',
      notFound,
      timedOut: Boolean(result.timedOut),
      signal: result.signal ?? undefined,
      durationMs: Math.round(performance.now() - started),
    }
  }
}

export interface AttachedOptions {
  cwd?: string
  env?: Record<string, string | undefined>
  /** Called once the child is spawned, e.g. to register signal forwarding. */
  onSpawn?: (pid: number | undefined) => void
  /** Send the child's stdout to our stderr (keeps stdout for a --json document). */
  stdoutToStderr?: boolean
  /**
   * How a SIGINT/SIGTERM/SIGHUP received by the CLI reaches the work; default: the same signal to
   * the child. (Rootless podman's re-exec parent does not proxy signals: `podman start --attach`
   * returns at once and the container gets SIGTERM, so launches relay via `podman kill` instead.)
   */
  forwardSignal?: (signal: NodeJS.Signals) => void
  /**
   * Start the child in its own process group, so a terminal's Ctrl-C (sent to the whole
   * foreground group) reaches only the CLI, which relays it with forwardSignal. Not for TTY
   * sessions: there Ctrl-C travels in-band, and the child must stay in the foreground group.
   */
  ownProcessGroup?: boolean
}

export interface AttachedResult {
  exitCode: number | null
  signal?: string
  notFound: boolean
  /** The CLI received SIGINT/SIGTERM/SIGHUP while the child ran (and forwarded it). */
  interrupted: boolean
  durationMs: number
}

/**
 * Runs a program attached to the terminal (stdin/stdout/stderr inherited), for interactive
 * sessions. SIGINT/SIGTERM received by the CLI are forwarded to the child, and the CLI
 * waits for it, so the child decides how to clean up (podman run --rm removes the container).
 */
export type AttachedRunner = (command: string, args: readonly string[], options?: AttachedOptions) => Promise<AttachedResult>

export function createAttachedRunner(): AttachedRunner {
  return async (command, args, options = {}) => {
    const {execa} = await import('execa')
    const started = performance.now()
    const child = execa(command, [...args], {
      cwd: options.cwd,
      env: options.env,
      stdin: 'inherit',
      stdout: options.stdoutToStderr ? 2 : 'inherit',
      stderr: 'inherit',
      reject: false,
      windowsHide: false,
      detached: Boolean(options.ownProcessGroup),
    })
    let interrupted = false
    const forward = (signal: NodeJS.Signals) => () => {
      interrupted = true
      if (options.forwardSignal) options.forwardSignal(signal)
      else child.kill(signal)
    }
    const onInt = forward('SIGINT')
    const onTerm = forward('SIGTERM')
    const onHup = forward('SIGHUP')
    process.on('SIGINT', onInt)
    process.on('SIGTERM', onTerm)
    process.on('SIGHUP', onHup)
    options.onSpawn?.(child.pid)
    try {
      const result = await child
      const notFound = result.code === 'ENOENT'
      return {
        exitCode: notFound ? null : (result.exitCode ?? null),
        signal: result.signal ?? undefined,
        notFound,
        interrupted,
        durationMs: Math.round(performance.now() - started),
      }
    } finally {
      process.off('SIGINT', onInt)
      process.off('SIGTERM', onTerm)
      process.off('SIGHUP', onHup)
    }
  }
}
