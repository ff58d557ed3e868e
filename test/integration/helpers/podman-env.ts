/**
 * Where and how the integration tests run podman.
 *
 * - `requirePodman()`: is podman installed? With SOURCEOSCTL_TEST_REQUIRE_PODMAN=1 (CI) a missing
 *   podman throws — a failure, never a skip.
 * - `podmanEnv()`: the environment podman needs here (CONTAINERS_CONF, see .ci/containers.conf).
 * - `podmanTarget(mode)`: whether the rootful / rootless variant can run in this process, and as whom.
 * - `podman(args, {mode})`: run podman as that target.
 */
import {spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync, renameSync, writeFileSync} from 'node:fs'
import {createHash} from 'node:crypto'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {runAs, userInfo, type ProcResult} from './proc.js'
import {testCacheDir} from '../../setup/tmp-guard.js'

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')

/** Installed by .ci/run; CI exports CONTAINERS_CONF pointing at it. */
export const CI_CONTAINERS_CONF = '/etc/sourceosctl-ci/containers.conf'
/** The one source of that file's content. */
export const REPO_CONTAINERS_CONF = join(REPO_ROOT, '.ci', 'containers.conf')

const requireFlag = (): boolean => process.env.SOURCEOSCTL_TEST_REQUIRE_PODMAN === '1'

let podmanPresent: boolean | undefined

/**
 * True when `podman --version` runs. Without it, tests `describe.skipIf(!podmanAvailable)`;
 * with SOURCEOSCTL_TEST_REQUIRE_PODMAN=1 this throws instead, so CI fails loudly.
 */
export function requirePodman(): boolean {
  podmanPresent ??= spawnSync('podman', ['--version'], {stdio: 'ignore', timeout: 15_000}).status === 0
  if (!podmanPresent && requireFlag()) {
    throw new Error('podman is not installed or does not run, and SOURCEOSCTL_TEST_REQUIRE_PODMAN=1 (install it: .ci/run does)')
  }
  return podmanPresent
}

let containersConf: string | undefined

/**
 * The containers.conf podman uses in tests: $CONTAINERS_CONF if set; else the CI one if installed;
 * else a world-readable copy of .ci/containers.conf in the temp dir (the rootless user must read it).
 * SOURCEOSCTL_TEST_CONTAINERS_CONF=system leaves podman on its own configuration (a workstation
 * where crun and systemd cgroups work).
 */
export function containersConfPath(): string | undefined {
  if (process.env.SOURCEOSCTL_TEST_CONTAINERS_CONF === 'system') return undefined
  if (containersConf) return containersConf
  if (process.env.CONTAINERS_CONF) return (containersConf = process.env.CONTAINERS_CONF)
  if (existsSync(CI_CONTAINERS_CONF)) return (containersConf = CI_CONTAINERS_CONF)
  const content = readFileSync(REPO_CONTAINERS_CONF, 'utf8')
  const hash = createHash('sha256').update(content).digest('hex').slice(0, 8)
  const cache = testCacheDir(tmpdir())
  const target = join(cache, `sourceosctl-test-containers-${hash}.conf`)
  if (!existsSync(target)) {
    mkdirSync(cache, {recursive: true})
    const staging = `${target}.${process.pid}`
    writeFileSync(staging, content, {mode: 0o644})
    renameSync(staging, target)
  }
  return (containersConf = target)
}

/** Environment variables podman (and the CLI under test, which runs podman) needs here. */
export function podmanEnv(): Record<string, string> {
  const conf = containersConfPath()
  return conf ? {CONTAINERS_CONF: conf} : {}
}

export type PodmanMode = 'rootful' | 'rootless'

export interface PodmanTarget {
  mode: PodmanMode
  /** False: skip this variant (reason says why). */
  runnable: boolean
  reason?: string
  /** The user podman runs as in rootless mode; undefined for rootful. */
  user?: string
  /** Run as `user` through runuser (we are root), rather than as ourselves. */
  switchUser: boolean
}

/**
 * The non-root user rootless tests run as: $SOURCEOSCTL_TEST_ROOTLESS_USER, or undefined (rootless
 * tests skip). A name that does not exist is a configuration error and throws.
 */
export function rootlessUser(): string | undefined {
  const name = process.env.SOURCEOSCTL_TEST_ROOTLESS_USER
  if (!name) return undefined
  if (!userInfo(name)) throw new Error(`SOURCEOSCTL_TEST_ROOTLESS_USER=${name}, but there is no such user (useradd -m ${name})`)
  return name
}

/** Names the halves a run leaves out on purpose (comma-separated: rootful, rootless). */
export const SKIP_MODES_ENV = 'SOURCEOSCTL_TEST_SKIP_MODES'

/**
 * Can the rootful / rootless variant run in this process? With SOURCEOSCTL_TEST_REQUIRE_PODMAN=1 a
 * variant that cannot run throws (the test file fails, it does not skip), unless
 * SOURCEOSCTL_TEST_SKIP_MODES names it (a non-root developer runs the rootless half only; `make
 * test-integration` says so).
 */
export function podmanTarget(mode: PodmanMode): PodmanTarget {
  const target = podmanTargetHere(mode)
  const excused = (process.env[SKIP_MODES_ENV] ?? '').split(',').map((m) => m.trim()).includes(mode)
  if (!target.runnable && requireFlag() && !excused) {
    throw new Error(`the ${mode} half of this test cannot run (${target.reason}) and SOURCEOSCTL_TEST_REQUIRE_PODMAN=1: it fails rather than skips (${SKIP_MODES_ENV}=${mode} leaves it out on purpose)`)
  }
  return target
}

function podmanTargetHere(mode: PodmanMode): PodmanTarget {
  const isRoot = process.getuid?.() === 0
  if (mode === 'rootful') {
    return isRoot
      ? {mode, runnable: true, switchUser: false}
      : {mode, runnable: false, reason: 'rootful podman needs the tests to run as root', switchUser: false}
  }
  const user = rootlessUser()
  if (!user) {
    return {mode, runnable: false, reason: 'set SOURCEOSCTL_TEST_ROOTLESS_USER to run the rootless tests', switchUser: false}
  }
  const info = userInfo(user)
  if (info?.uid === 0) throw new Error(`SOURCEOSCTL_TEST_ROOTLESS_USER=${user} is root`)
  if (info?.uid === process.getuid?.()) return {mode, runnable: true, user, switchUser: false}
  if (!isRoot) throw new Error(`SOURCEOSCTL_TEST_ROOTLESS_USER=${user}: switching to another user needs the tests to run as root`)
  return {mode, runnable: true, user, switchUser: true}
}

/** Run podman as the target (rootful: ourselves as root; rootless: the rootless user). */
export function podman(
  target: PodmanTarget,
  args: string[],
  opts: {input?: string; timeoutMs?: number; env?: Record<string, string>} = {},
): Promise<ProcResult> {
  return runAs('podman', args, {
    asUser: target.switchUser ? target.user : undefined,
    env: {...podmanEnv(), ...opts.env},
    input: opts.input,
    timeoutMs: opts.timeoutMs ?? 120_000,
  })
}

/** Like `podman()`, but throws with podman's stderr unless it exits 0; returns trimmed stdout. */
export async function podmanOk(target: PodmanTarget, args: string[], opts: {input?: string; timeoutMs?: number} = {}): Promise<string> {
  const result = await podman(target, args, opts)
  if (result.exitCode !== 0) {
    throw new Error(`podman ${args.join(' ')} (${target.mode}) exited ${result.exitCode}${result.timedOut ? ' (timed out)' : ''}: ${result.stderr.trim()}`)
  }
  return result.stdout.trim()
}
