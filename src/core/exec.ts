/**
 * The one exec boundary. Every external program (podman, git, nix, …) runs through a Runner.
 * Tests inject a fake Runner; real runs always carry a timeout, and a non-zero exit never throws.
 */
import {readdirSync, readFileSync} from 'node:fs'

export const DEFAULT_TIMEOUT_MS = 15_000

export interface RunOptions {
  /** End the process tree after this many milliseconds (SIGTERM, then SIGKILL; see createRunner). Always set. */
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
  // podman prints warnings before its error: the `Error:` line says what went wrong
  const lines = (result.stderr || result.stdout).trim().split('\n').filter(Boolean)
  const firstLine = lines.find((l) => /^(Error|error|fatal|FATAL)\b/.test(l.trim())) ?? lines[0] ?? ''
  return `${result.command} ${result.args.slice(0, 3).join(' ')} exited ${result.exitCode}${firstLine ? `: ${firstLine}` : ''}`
}

/** After a timeout's SIGTERM, how long the tree has to exit before SIGKILL. */
export const KILL_GRACE_MS = 2000
/**
 * How long the pipes may stay open once the child has exited (on its own, or after SIGKILL): a
 * descendant that escaped the tree (a daemon) can hold them for ever; we stop reading then.
 */
export const PIPE_DRAIN_MS = 500
/** Output kept per stream (as execa's default maxBuffer); beyond it the tree is ended. */
const MAX_OUTPUT_BYTES = 100_000_000

/**
 * The real Runner, backed by execa (imported lazily to keep CLI start-up cheap).
 *
 * On POSIX each child starts in its own process group and session (`detached`), so a timeout ends
 * the WHOLE tree: SIGTERM to the group (and, on Linux, to descendants that left it with setsid
 * while their parent still ran), then SIGKILL after KILL_GRACE_MS. A wrapper (a shell shim,
 * `flatpak-spawn --host`, a `podman` script) therefore cannot leave its real program behind
 * holding our pipes. The call never waits on pipes it has given up on: once the child has exited
 * (or the SIGKILL is sent) the pipes get PIPE_DRAIN_MS, then they are destroyed and the call
 * returns what was read. A daemon that double-forked out of the tree before the timeout is out of
 * reach; it keeps running, but no longer holds the CLI.
 *
 * Side effects of the own session: a terminal's Ctrl-C (sent to the foreground group) no longer
 * reaches these children directly; when the CLI dies of a signal or exits, the groups of children
 * still running get SIGTERM (as execa's `cleanup` did for the child alone). A handler that keeps
 * the CLI alive on a signal (a launch's early-signal handler) lets the running step finish. The
 * children have no controlling terminal: a prompt on /dev/tty fails at once instead of hanging
 * until the timeout.
 *
 * Windows has no process groups: there the child alone is killed (`TerminateProcess`), its own
 * children are not; the bounded wait on the pipes holds the same.
 */
export function createRunner(defaults: {timeoutMs?: number} = {}): Runner {
  return async (command, args, options = {}) => {
    const [{execa}, {onExit}] = await Promise.all([import('execa'), import('signal-exit')])
    const timeout = options.timeoutMs ?? defaults.timeoutMs ?? DEFAULT_TIMEOUT_MS
    const ownGroup = process.platform !== 'win32'
    const started = performance.now()
    const subprocess = execa(command, [...args], {
      cwd: options.cwd,
      env: options.env,
      extendEnv: !options.cleanEnv,
      input: options.input,
      stdin: options.input === undefined ? 'ignore' : undefined,
      reject: false,
      // read here, so the pipes can be let go of (execa would wait for their end)
      buffer: false,
      stripFinalNewline: false,
      windowsHide: true,
      detached: ownGroup,
    })
    const pid = subprocess.pid

    const out = collector()
    const err = collector()
    let killedFor: 'timeout' | 'output' | undefined
    let exited: {code: number | null; signal: NodeJS.Signals | null} | undefined
    let seen: TreeMember[] = []
    const timers: NodeJS.Timeout[] = []
    const after = (ms: number, fn: () => void): void => {
      timers.push(setTimeout(fn, ms))
    }

    const signalTree = (signal: NodeJS.Signals): void => {
      if (pid === undefined) return
      if (!ownGroup) {
        subprocess.kill(signal)
        return
      }
      if (!exited) seen = mergeMembers(seen, linuxDescendants(pid))
      try {
        process.kill(-pid, signal)
      } catch {
        // the group is gone
      }
      for (const member of seen) if (stillSame(member)) trySignal(member.pid, signal)
    }
    // While the child runs, the CLI's exit (or death by a signal) ends its tree too.
    const removeExitHook = ownGroup && pid !== undefined ? onExit(() => signalTree(killedFor ? 'SIGKILL' : 'SIGTERM')) : () => {}

    return new Promise<RunResult>((resolve) => {
      let settled = false
      let killAt = Infinity
      const finish = (result: Omit<RunResult, 'command' | 'args' | 'stdout' | 'stderr' | 'durationMs'>): void => {
        if (settled) return
        settled = true
        for (const t of timers) clearTimeout(t)
        if (killedFor && ownGroup) {
          // the SIGKILL still follows the grace, without holding the CLI; until then the exit hook stays
          const force = setTimeout(() => (signalTree('SIGKILL'), removeExitHook()), Math.max(0, killAt - performance.now()))
          force.unref()
        } else {
          removeExitHook()
        }
        // let go of pipes an escaped descendant may still hold
        subprocess.stdout?.destroy()
        subprocess.stderr?.destroy()
        subprocess.stdin?.destroy()
        resolve({command, args: [...args], stdout: out.text(), stderr: err.text(), durationMs: Math.round(performance.now() - started), ...result})
      }
      const fromExit = (): void => {
        finish({
          exitCode: killedFor || !exited ? null : exited.code,
          notFound: false,
          timedOut: killedFor === 'timeout',
          signal: exited?.signal ?? undefined,
        })
      }

      const endTree = (reason: 'timeout' | 'output'): void => {
        if (killedFor || settled) return
        killedFor = reason
        signalTree('SIGTERM')
        killAt = performance.now() + KILL_GRACE_MS
        after(KILL_GRACE_MS, () => {
          signalTree('SIGKILL')
          // not even SIGKILL made the pipes close (or the child exit): stop waiting
          after(PIPE_DRAIN_MS, fromExit)
        })
      }

      subprocess.stdout?.on('data', (chunk: Buffer | string) => {
        if (!out.add(chunk)) endTree('output')
      })
      subprocess.stderr?.on('data', (chunk: Buffer | string) => {
        if (!err.add(chunk)) endTree('output')
      })
      subprocess.nodeChildProcess.once('exit', (code, signal) => {
        exited = {code, signal}
        // its output is in the pipes now; more can only come from a descendant that outlives it
        after(PIPE_DRAIN_MS, fromExit)
      })
      after(timeout, () => {
        if (!exited) endTree('timeout')
      })

      subprocess.then(
        (result) => {
          const notFound = result.code === 'ENOENT' || (result.failed && /ENOENT/.test(String(result.originalMessage ?? '')))
          finish({
            exitCode: notFound || killedFor ? null : (result.exitCode ?? exited?.code ?? null),
            notFound,
            timedOut: killedFor === 'timeout',
            signal: result.signal ?? exited?.signal ?? undefined,
          })
        },
        () => fromExit(),
      )
    })
  }
}

interface TreeMember {
  pid: number
  /** /proc/<pid>/stat's start time: tells the process apart from a later one with its pid. */
  start: string
}

/**
 * The descendants of `root` (Linux, from /proc), including those that left its process group
 * with setsid/setpgid while their parent still runs. Best effort: empty elsewhere or on error.
 */
function linuxDescendants(root: number): TreeMember[] {
  if (process.platform !== 'linux') return []
  let names: string[]
  try {
    names = readdirSync('/proc')
  } catch {
    return []
  }
  const children = new Map<number, TreeMember[]>()
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue
    const fields = statFields(Number(name))
    if (!fields) continue
    const ppid = Number(fields[1])
    const list = children.get(ppid) ?? []
    list.push({pid: Number(name), start: fields[19] ?? ''})
    children.set(ppid, list)
  }
  const found: TreeMember[] = []
  const queue = [root]
  const visited = new Set<number>([root])
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      if (visited.has(child.pid)) continue
      visited.add(child.pid)
      found.push(child)
      queue.push(child.pid)
    }
  }
  return found
}

/** Fields 3… of /proc/<pid>/stat (after the command name): [state, ppid, …, starttime at 19]. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  } catch {
    return undefined
  }
}

function stillSame(member: TreeMember): boolean {
  return statFields(member.pid)?.[19] === member.start
}

function mergeMembers(known: TreeMember[], more: TreeMember[]): TreeMember[] {
  const merged = [...known]
  for (const m of more) if (!merged.some((k) => k.pid === m.pid && k.start === m.start)) merged.push(m)
  return merged
}

function trySignal(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal)
  } catch {
    // gone meanwhile
  }
}

/** A stream's bytes, decoded once at the end (a multi-byte character may span chunks). */
function collector(): {add: (chunk: Buffer | string) => boolean; text: () => string} {
  const chunks: Buffer[] = []
  let size = 0
  return {
    add(chunk) {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
      if (size + buffer.length > MAX_OUTPUT_BYTES) return false
      chunks.push(buffer)
      size += buffer.length
      return true
    },
    text: () => Buffer.concat(chunks).toString('utf8'),
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
    const signals = forwardSignals(options, (signal) => child.kill(signal))
    options.onSpawn?.(child.pid)
    try {
      const result = await child
      const notFound = result.code === 'ENOENT'
      return {
        exitCode: notFound ? null : (result.exitCode ?? null),
        signal: result.signal ?? undefined,
        notFound,
        interrupted: signals.interrupted(),
        durationMs: Math.round(performance.now() - started),
      }
    } finally {
      signals.stop()
    }
  }
}

/**
 * While an attached child runs: a SIGINT, SIGTERM or SIGHUP this process receives goes to
 * `options.forwardSignal`, else to the child (`kill`); `interrupted()` says whether one came.
 * `stop()` removes the handlers.
 */
function forwardSignals(options: AttachedOptions, kill: (signal: NodeJS.Signals) => void): {interrupted: () => boolean; stop: () => void} {
  let interrupted = false
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((signal) => {
    const handler = () => {
      interrupted = true
      if (options.forwardSignal) options.forwardSignal(signal)
      else kill(signal)
    }
    process.on(signal, handler)
    return [signal, handler] as const
  })
  return {interrupted: () => interrupted, stop: () => handlers.forEach(([signal, handler]) => process.off(signal, handler))}
}

/**
 * A detached copy of this CLI — a session's keeper (sessions/keeper.ts): its own process session,
 * no terminal, stdin /dev/null, stdout and stderr to `logFd`, an IPC channel to this process. Not
 * a Runner: it outlives this process, which lets it go once the keeper reports.
 */
export async function spawnDetached(command: string, args: readonly string[], opts: {logFd: number; env: NodeJS.ProcessEnv}): Promise<import('node:child_process').ChildProcess> {
  const {spawn} = await import('node:child_process')
  return spawn(command, [...args], {detached: true, stdio: ['ignore', opts.logFd, opts.logFd, 'ipc'], env: opts.env})
}

/**
 * createAttachedRunner without execa, for the exec fast path (sessions/exec-fast.ts): execa's
 * import alone takes longer than the `podman exec` it would run. Node's own spawn, the same
 * options and the same result: the terminal inherited, a SIGINT/SIGTERM/SIGHUP received meanwhile
 * forwarded (forwardSignal, else to the child), ENOENT reported as notFound.
 */
export function createLightAttachedRunner(): AttachedRunner {
  return async (command, args, options = {}) => {
    const {spawn} = await import('node:child_process')
    const started = performance.now()
    const child = spawn(command, [...args], {
      cwd: options.cwd,
      env: options.env ? {...process.env, ...options.env} : process.env,
      stdio: ['inherit', options.stdoutToStderr ? 2 : 'inherit', 'inherit'],
      detached: Boolean(options.ownProcessGroup),
    })
    const signals = forwardSignals(options, (signal) => child.kill(signal))
    options.onSpawn?.(child.pid)
    try {
      const outcome = await new Promise<{code: number | null; signal: NodeJS.Signals | null; notFound: boolean}>((resolve) => {
        child.once('error', (error: NodeJS.ErrnoException) => resolve({code: null, signal: null, notFound: error.code === 'ENOENT'}))
        child.once('close', (code, signal) => resolve({code, signal, notFound: false}))
      })
      return {exitCode: outcome.notFound ? null : outcome.code, ...(outcome.signal ? {signal: outcome.signal} : {}), notFound: outcome.notFound, interrupted: signals.interrupted(), durationMs: Math.round(performance.now() - started)}
    } finally {
      signals.stop()
    }
  }
}
