/**
 * Running programs in the integration tests, as ourselves or (from root) as another user.
 * Built on the project's one Runner (src/core/exec.ts): a timeout always, a non-zero exit never throws.
 */
import {spawnSync} from 'node:child_process'
import {chownSync, existsSync, mkdtempSync} from 'node:fs'
import {tmpdir, userInfo as userInfoOfProcess} from 'node:os'
import {dirname, join} from 'node:path'
import {createRunner} from '../../../src/core/exec.js'

export interface ProcResult {
  /** null when the process did not exit on its own (timeout, signal, not found). */
  exitCode: number | null
  stdout: string
  stderr: string
  timedOut: boolean
}

export interface RunAsOptions {
  /** Run as this user through `runuser -u <user> -- env -i …` (needs root); the env starts empty. */
  asUser?: string
  /** Extra environment; with `asUser` (or `cleanEnv`), added to a minimal base instead of ours. */
  env?: Record<string, string>
  /** Start from the minimal base environment even when running as ourselves. */
  cleanEnv?: boolean
  cwd?: string
  input?: string
  timeoutMs?: number
}

const runner = createRunner()

export interface UserInfo {
  name: string
  uid: number
  gid: number
  home: string
}

const users = new Map<string, UserInfo | undefined>()

/** The passwd entry of `name` (getent), or undefined. */
export function userInfo(name: string): UserInfo | undefined {
  if (!users.has(name)) {
    const out = spawnSync('getent', ['passwd', name], {encoding: 'utf8', timeout: 10_000})
    const fields = out.status === 0 ? out.stdout.trim().split(':') : []
    users.set(name, fields.length >= 6
      ? {name, uid: Number(fields[2]), gid: Number(fields[3]), home: fields[5] ?? ''}
      : undefined)
  }
  return users.get(name)
}

/** PATH for clean environments: node's own directory first, so the same node runs the CLI. */
export const BASE_PATH = [dirname(process.execPath), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']
  .filter((dir, i, all) => all.indexOf(dir) === i)
  .join(':')

/**
 * A fresh directory under the temp dir, mode 0700, owned by `owner` (a user name) when given —
 * use it as HOME or as XDG_CONFIG_HOME / XDG_STATE_HOME of a CLI run.
 */
export function makeTempHome(owner?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'sourceosctl-home-'))
  if (owner) {
    const info = userInfo(owner)
    if (!info) throw new Error(`makeTempHome: no user ${owner}`)
    chownSync(dir, info.uid, info.gid)
  }
  return dir
}

const homes = new Map<string, string>()

/** The user's real home (rootless podman keeps its image store there), or a temp one it owns. */
export function homeOf(user: string): string {
  let home = homes.get(user)
  if (!home) {
    const info = userInfo(user)
    if (!info) throw new Error(`no user ${user}`)
    home = info.home && existsSync(info.home) ? info.home : makeTempHome(user)
    homes.set(user, home)
  }
  return home
}

/** The minimal environment a clean run starts from (plus `env`). */
export function baseEnv(user?: string): Record<string, string> {
  const name = user ?? userInfoOfProcess().username
  return {
    PATH: BASE_PATH,
    HOME: user ? homeOf(user) : (process.env.HOME ?? tmpdir()),
    USER: name,
    LOGNAME: name,
    LANG: 'C.UTF-8',
  }
}

/** Run `command args`, as ourselves or as `opts.asUser`. */
export async function runAs(command: string, args: string[], opts: RunAsOptions = {}): Promise<ProcResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000
  let result
  if (opts.asUser) {
    const env = {...baseEnv(opts.asUser), ...opts.env}
    const assignments = Object.entries(env).map(([name, value]) => `${name}=${value}`)
    result = await runner('runuser', ['-u', opts.asUser, '--', 'env', '-i', ...assignments, command, ...args], {
      // The caller's cwd may be unreadable for the user (a clone in /root): default to its home.
      cwd: opts.cwd ?? homeOf(opts.asUser), input: opts.input, timeoutMs, cleanEnv: true, env: {PATH: BASE_PATH},
    })
  } else {
    const env = opts.cleanEnv ? {...baseEnv(), ...opts.env} : opts.env
    result = await runner(command, args, {cwd: opts.cwd, input: opts.input, timeoutMs, env, cleanEnv: opts.cleanEnv})
  }
  if (result.notFound) throw new Error(`${opts.asUser ? 'runuser' : command} is not installed or not on PATH`)
  return {exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr, timedOut: result.timedOut}
}
