/**
 * Running the BUILT CLI (`node bin/run.js …`, so `npm run build` first) in integration tests,
 * as root or as the rootless user, plus small fixtures (temp homes, git repos).
 */
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join, relative} from 'node:path'
import {REPO_ROOT, podmanEnv, rootlessUser} from './podman-env.js'
import {makeTempHome, runAs, userInfo, type ProcResult} from './proc.js'
import {testCacheDir} from '../../setup/tmp-guard.js'

export {makeTempHome, rootlessUser}

export interface RunCliOptions {
  /**
   * Run as this (non-root) user, from a copy of the build it can read (`prepareRootlessCopy`).
   * HOME defaults to the user's real home, because rootless podman keeps its image store under it
   * (XDG_DATA_HOME or ~/.local/share): to isolate the CLI's own files, set XDG_CONFIG_HOME /
   * XDG_STATE_HOME to a `makeTempHome(user)` rather than HOME.
   */
  asUser?: string
  /** Added to a minimal environment (PATH, HOME, USER, LANG, CONTAINERS_CONF); the test's own env is not inherited. */
  env?: Record<string, string>
  cwd?: string
  /** Written to the CLI's stdin (otherwise stdin is closed/ignored). */
  input?: string
  /** Default 60 s. */
  timeoutMs?: number
}

export type CliResult = ProcResult

/** The files a built CLI needs at run time. */
const RUNTIME_ITEMS = ['bin', 'dist', 'profiles', 'schemas', 'policy', 'package.json', 'oclif.manifest.json', 'node_modules']
const REQUIRED_ITEMS = ['bin', 'dist', 'package.json', 'node_modules']

/** `node <repo>/bin/run.js …args` as root (the test process) or as `opts.asUser`. */
export async function runCli(args: string[], opts: RunCliOptions = {}): Promise<CliResult> {
  const root = opts.asUser ? await prepareRootlessCopy(opts.asUser) : builtRoot()
  return runAs(process.execPath, [join(root, 'bin', 'run.js'), ...args], {
    asUser: opts.asUser,
    cleanEnv: true,
    env: {...podmanEnv(), ...opts.env},
    cwd: opts.cwd,
    input: opts.input,
    timeoutMs: opts.timeoutMs ?? 60_000,
  })
}

function builtRoot(): string {
  const missing = REQUIRED_ITEMS.filter((item) => !existsSync(join(REPO_ROOT, item)))
  if (missing.length > 0) throw new Error(`the CLI is not built (missing ${missing.join(', ')}): run \`npm run build\` first`)
  return REPO_ROOT
}

/** Sizes and mtimes of every runtime file (node_modules: npm's lock file only) — changes with each build. */
function buildFingerprint(): string {
  const hash = createHash('sha256').update(REPO_ROOT)
  const visit = (path: string): void => {
    const stat = statSync(path, {throwIfNoEntry: false})
    if (!stat) return
    hash.update(`\0${relative(REPO_ROOT, path)}\0${stat.size}\0${stat.mtimeMs}`)
    if (stat.isDirectory()) for (const name of readdirSync(path).sort()) visit(join(path, name))
  }
  for (const item of RUNTIME_ITEMS) visit(join(REPO_ROOT, item === 'node_modules' ? 'node_modules/.package-lock.json' : item))
  return hash.digest('hex').slice(0, 12)
}

const COPY_PREFIX = 'sourceosctl-rootless-'
const copies = new Map<string, Promise<string>>()

/**
 * A copy of the built CLI that `user` can read: CI's clone may sit where it cannot (/root/…).
 * `cp -a` of bin/ dist/ profiles/ schemas/ policy/ package.json oclif.manifest.json node_modules/
 * into $TMPDIR/sourceosctl-rootless-<fingerprint> (about 1 s; node_modules is ~110 MB), made
 * world-readable. Reused while the build is unchanged; older copies of this clone are removed.
 */
export function prepareRootlessCopy(user: string): Promise<string> {
  let copy = copies.get(user)
  if (!copy) {
    copy = makeRootlessCopy(user)
    copies.set(user, copy)
    copy.catch(() => copies.delete(user))
  }
  return copy
}

async function makeRootlessCopy(user: string): Promise<string> {
  builtRoot()
  const target = join(testCacheDir(tmpdir()), COPY_PREFIX + buildFingerprint())
  if (!existsSync(join(target, '.complete'))) {
    const started = performance.now()
    const staging = mkdtempSync(join(testCacheDir(tmpdir()), 'sourceosctl-staging-'))
    const items = RUNTIME_ITEMS.filter((item) => existsSync(join(REPO_ROOT, item)))
    const sh = (cmd: string, args: string[]) => {
      const out = spawnSync(cmd, args, {encoding: 'utf8'})
      if (out.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${out.stderr || out.error}`)
    }
    sh('cp', ['-a', ...items.map((item) => join(REPO_ROOT, item)), staging])
    sh('chmod', ['-R', 'a+rX', staging])
    writeFileSync(join(staging, '.source'), REPO_ROOT)
    writeFileSync(join(staging, '.complete'), '')
    rmSync(target, {recursive: true, force: true}) // an incomplete leftover
    try {
      renameSync(staging, target)
    } catch (error) {
      rmSync(staging, {recursive: true, force: true})
      if (!existsSync(join(target, '.complete'))) throw error // else: another run made it meanwhile
    }
    removeStaleCopies(target)
    console.error(`[cli] copied the build for ${user} to ${target} in ${Math.round(performance.now() - started)} ms`)
  }
  const probe = await runAs(process.execPath, ['-e', 'require("node:fs").accessSync(process.argv[1], 4)', join(target, 'bin', 'run.js')], {asUser: user})
  if (probe.exitCode !== 0) {
    throw new Error(`${user} cannot run ${process.execPath} on ${target} (is node installed where ${user} can read it?): ${probe.stderr.trim()}`)
  }
  return target
}

function removeStaleCopies(keep: string): void {
  const dir = testCacheDir(tmpdir())
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (!name.startsWith(COPY_PREFIX) || path === keep) continue
    let source = ''
    try {
      source = readFileSync(join(path, '.source'), 'utf8')
    } catch {
      continue
    }
    if (source === REPO_ROOT) rmSync(path, {recursive: true, force: true})
  }
}

export interface TestRepo {
  dir: string
  /** The commit's full SHA. */
  commit: string
}

/**
 * `git init` + one commit (README.md, plus `files`) in `dir` (created if missing), with the
 * identity given by `-c` flags and no global/system git config. `owner` (a user name) gets the
 * whole tree afterwards.
 */
export function makeRepo(dir: string, opts: {owner?: string; files?: Record<string, string>} = {}): TestRepo {
  mkdirSync(dir, {recursive: true})
  const files = {'README.md': '# test repo\n', ...opts.files}
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), {recursive: true})
    writeFileSync(join(dir, name), content)
  }
  const env = {...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1'}
  const git = (...args: string[]): string => {
    const out = spawnSync('git', ['-C', dir, '-c', 'user.name=sourceosctl test', '-c', 'user.email=test@example.invalid', '-c', 'commit.gpgsign=false', ...args], {encoding: 'utf8', env})
    if (out.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${out.stderr || out.error}`)
    return out.stdout.trim()
  }
  git('init', '--quiet', '--initial-branch=main')
  git('add', '--all')
  git('commit', '--quiet', '--message', 'initial commit')
  const commit = git('rev-parse', 'HEAD')
  if (opts.owner) {
    const info = userInfo(opts.owner)
    if (!info) throw new Error(`makeRepo: no user ${opts.owner}`)
    const out = spawnSync('chown', ['-R', `${info.uid}:${info.gid}`, dir], {encoding: 'utf8'})
    if (out.status !== 0) throw new Error(`chown failed: ${out.stderr}`)
  }
  return {dir, commit}
}
