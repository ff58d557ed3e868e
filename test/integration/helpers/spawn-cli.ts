/**
 * The BUILT CLI as a long-running child, for signal tests. Unlike `runCli` (which waits for the
 * exit, and goes through runuser), the caller holds the CLI's own process: it can wait for a line
 * of output, then signal exactly that pid.
 *
 * As another user, node is spawned with that uid/gid directly (we are root), not through runuser:
 * runuser's watching parent would turn any signal into SIGTERM for its child.
 */
import {spawn} from 'node:child_process'
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {prepareRootlessCopy} from './cli.js'
import {REPO_ROOT, podmanEnv} from './podman-env.js'
import {baseEnv, homeOf, userInfo} from './proc.js'

export interface SpawnCliOptions {
  /** Run as this (non-root) user, from `prepareRootlessCopy(user)`. */
  asUser?: string
  /** Added to the minimal environment (as runCli: PATH, HOME, USER, LOGNAME, LANG, CONTAINERS_CONF). */
  env?: Record<string, string>
  cwd?: string
}

export interface SpawnedExit {
  exitCode: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  /** The CLI did not exit within the deadline and was SIGKILLed. */
  timedOut: boolean
}

export interface SpawnedCli {
  /** The CLI's (node's) own pid. */
  pid: number
  stdout(): string
  stderr(): string
  /**
   * Resolves with the output so far once `pattern` matches stdout + stderr; rejects when the CLI
   * exits first or after `timeoutMs` (default 60 s).
   */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>
  /** Send `signal` to the CLI process only (not its children); throws if it has exited. */
  signal(signal: NodeJS.Signals): void
  /** SIGKILL the CLI if it is still running (its children may live on). */
  kill(): void
  /** Waits for the exit; after `timeoutMs` (default 60 s) SIGKILLs the CLI and reports timedOut. */
  exited(timeoutMs?: number): Promise<SpawnedExit>
}

export async function spawnCli(args: string[], opts: SpawnCliOptions = {}): Promise<SpawnedCli> {
  let root = REPO_ROOT
  let ids: {uid: number; gid: number} | undefined
  if (opts.asUser) {
    root = await prepareRootlessCopy(opts.asUser)
    const info = userInfo(opts.asUser)
    if (!info) throw new Error(`spawnCli: no user ${opts.asUser}`)
    ids = {uid: info.uid, gid: info.gid}
  } else if (!existsSync(join(REPO_ROOT, 'dist'))) {
    throw new Error('the CLI is not built: run `npm run build` first')
  }
  const child = spawn(process.execPath, [join(root, 'bin', 'run.js'), ...args], {
    ...ids,
    cwd: opts.cwd ?? (opts.asUser ? homeOf(opts.asUser) : undefined),
    env: {...baseEnv(opts.asUser), ...podmanEnv(), ...opts.env},
    // stdin stays an open, silent pipe: like a terminal nobody types into
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  const listeners = new Set<() => void>()
  const changed = () => {
    for (const listener of listeners) listener()
  }
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => ((stdout += chunk), changed()))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => ((stderr += chunk), changed()))
  child.stdin.on('error', () => {}) // EPIPE once the CLI is gone

  let done = false // exited, and its output is complete
  let gone = false // exited (its pid may be reused: never signal it again)
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()))
  const exit = new Promise<{exitCode: number | null; signal: NodeJS.Signals | null}>((resolve, reject) => {
    child.once('error', reject)
    // 'exit', then the rest of the output: 'close' follows unless a leftover child holds the pipes.
    child.once('exit', (exitCode, signal) => {
      gone = true
      const grace = setTimeout(() => resolve({exitCode, signal}), 2000)
      void closed.then(() => (clearTimeout(grace), resolve({exitCode, signal})))
    })
  })
  void exit.then(() => ((done = true), changed()), () => ((done = true), changed()))

  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve)
    child.once('error', reject)
  })

  return {
    pid: child.pid!,
    stdout: () => stdout,
    stderr: () => stderr,
    waitFor(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const all = `${stdout}\n${stderr}`
          if (pattern.test(all)) finish(() => resolve(all))
          else if (done) finish(() => reject(new Error(`the CLI exited before its output matched ${pattern}:\n${all}`)))
        }
        const timer = setTimeout(() => finish(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${stdout}\n${stderr}`))), timeoutMs)
        const finish = (settle: () => void) => {
          clearTimeout(timer)
          listeners.delete(check)
          settle()
        }
        listeners.add(check)
        check()
      })
    },
    signal(signal) {
      if (gone) throw new Error(`cannot send ${signal}: the CLI has exited`)
      process.kill(child.pid!, signal)
    },
    kill() {
      if (!gone) child.kill('SIGKILL')
    },
    async exited(timeoutMs = 60_000) {
      let timedOut = false
      const timer = setTimeout(() => {
        timedOut = true
        child.kill('SIGKILL')
      }, timeoutMs)
      try {
        const result = await exit
        child.stdin.destroy()
        return {...result, stdout, stderr, timedOut}
      } finally {
        clearTimeout(timer)
      }
    },
  }
}
