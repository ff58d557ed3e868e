/**
 * One governed-launch setup per podman mode (rootful / rootless) for test/integration/launch.test.ts:
 * a temp HOME owned by the invoking user with planted fake credentials, two allowlisted folders
 * (a git repo rw, a docs folder ro), a profile made by `init` and pointed at the test image, and
 * helpers to run the CLI, write profile variants and find the containers of a run id.
 *
 * Rootless podman keeps its store under the user's real home, while the CLI must see the temp HOME
 * (so `~/.ssh` is the planted one): XDG_DATA_HOME / XDG_CONFIG_HOME point podman at the real store.
 */
import {spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {chownSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {parse, stringify} from 'yaml'
import {makeRepo, makeTempHome, runCli, type CliResult} from './cli.js'
import {podman, podmanOk, podmanTarget, type PodmanMode, type PodmanTarget} from './podman-env.js'
import {homeOf, userInfo} from './proc.js'
import {spawnCli, type SpawnedCli} from './spawn-cli.js'
import {ensureTestImage, type TestImage} from './test-image.js'

export const RUN_ID_LABEL = 'dev.sourceos.agent-machine.run-id'

/** The fake tool's one-line report (test/images/fake-tools/fake-tool.sh). */
export interface FakeToolReport {
  tool: string
  argv: string[]
  uid: number
  gid: number
  cwd: string
  tty: boolean
  pid1: string
  capEff: string
  noNewPrivs: number
  envNames: string[]
  env: Record<string, string>
  mounts: string[]
  touched: {path: string; uid: number; gid: number} | null
}

/** The report line in `text` (stdout, or stderr under --json); throws when there is none. */
export function findReport(text: string): FakeToolReport {
  const line = text.split('\n').find((l) => l.startsWith('{"tool":'))
  if (!line) throw new Error(`no fake-tool report in:\n${text}`)
  return JSON.parse(line) as FakeToolReport
}

/** A profile as plain data (enough structure for the edits the tests make). */
export interface ProfileDoc {
  spec: {
    image: {ref: string; digest: string | null; pull: string}
    mounts: Array<{source: string; target: string; mode: 'rw' | 'ro'}>
    tools: Record<string, {enabled: boolean; command: string[]}>
    env: {passthrough: string[]; set: Record<string, string>}
    [key: string]: unknown
  }
  [key: string]: unknown
}

export interface LaunchFixture {
  mode: PodmanMode
  target: PodmanTarget
  /** The rootless user, or undefined (root). */
  user: string | undefined
  /** The invoking user on the host. */
  uid: number
  gid: number
  image: TestImage
  /** The CLI's HOME: a temp dir holding .ssh/id_ed25519 and .aws/credentials. */
  home: string
  /** <home>/dev/repo, a git repo: mounted rw at /workspace/repo. */
  repo: string
  /** <home>/dev/docs: mounted ro at /workspace/docs. */
  docs: string
  /** <home>/dev/docs-link → <home>/dev/docs: what `init --repo` was given for docs. */
  docsLink: string
  /** <home>/dev/other: exists, but no mount allows it. */
  other: string
  configDir: string
  stateDir: string
  /** The active profile: init's output, pointed at the test image and pinned to its ID, docs made ro, network none. */
  profilePath: string
  /** Unique strings inside the planted credential files. */
  secrets: {ssh: string; aws: string}
  /** The environment every CLI run of this fixture gets. */
  env: Record<string, string>
  /** A fresh run id whose first 12 characters (the container name) are random. */
  runId(tag: string): string
  cli(args: string[], opts?: {env?: Record<string, string>; input?: string; timeoutMs?: number}): Promise<CliResult>
  spawn(args: string[], opts?: {env?: Record<string, string>}): Promise<SpawnedCli>
  /** Write the active profile with `edit` applied to <configDir>/variants/<name>.yaml; returns its path. */
  profileVariant(name: string, edit: (doc: ProfileDoc) => void): string
  /** Names of the containers (any state) labelled with this run id. */
  containersOf(runId: string): Promise<string[]>
  /** Names of containers labelled with this run id that podman created since `sinceMs` (epoch ms). */
  createdSince(runId: string, sinceMs: number): Promise<string[]>
  /** Make `path` (created by root) belong to the invoking user. */
  own(path: string): void
  /** Removes the temp HOME and any container left by a run id of this fixture; returns their names. */
  cleanup(): Promise<string[]>
}

export async function makeLaunchFixture(mode: PodmanMode): Promise<LaunchFixture> {
  const target = podmanTarget(mode)
  if (!target.runnable) throw new Error(`cannot run the ${mode} launch tests: ${target.reason}`)
  const image = await ensureTestImage({rootless: mode === 'rootless'})

  const home = makeTempHome(target.user)
  try {
    return await populate(mode, target, image, home)
  } catch (error) {
    rmSync(home, {recursive: true, force: true})
    throw error
  }
}

async function populate(mode: PodmanMode, target: PodmanTarget, image: TestImage, home: string): Promise<LaunchFixture> {
  const user = target.user
  const info = user ? userInfo(user)! : {uid: 0, gid: 0}
  const own = (path: string): void => {
    if (user) chownSync(path, info.uid, info.gid)
  }
  const put = (path: string, content: string, fileMode = 0o644): void => {
    mkdirSync(dirname(path), {recursive: true, mode: 0o700})
    writeFileSync(path, content, {mode: fileMode})
  }
  const nonce = randomBytes(6).toString('hex')
  const secrets = {ssh: `fake-ssh-private-key-${nonce}`, aws: `fake-aws-credential-${nonce}`}
  put(join(home, '.ssh', 'id_ed25519'), `-----BEGIN OPENSSH PRIVATE KEY-----\n${secrets.ssh}\n-----END OPENSSH PRIVATE KEY-----\n`, 0o600)
  put(join(home, '.aws', 'credentials'), `[default]\naws_access_key_id = AKIAFAKE\naws_secret_access_key = ${secrets.aws}\n`, 0o600)
  const repo = join(home, 'dev', 'repo')
  const docs = join(home, 'dev', 'docs')
  const docsLink = join(home, 'dev', 'docs-link')
  const other = join(home, 'dev', 'other')
  makeRepo(repo, {files: {'src/main.txt': 'hello\n'}})
  put(join(docs, 'guide.md'), '# guide\n')
  symlinkSync(docs, docsLink)
  put(join(other, 'README.md'), '# not allowlisted\n')
  const configDir = join(home, '.config', 'sourceosctl')
  const stateDir = join(home, '.local', 'state', 'sourceosctl')
  mkdirSync(join(configDir, 'variants'), {recursive: true})
  mkdirSync(stateDir, {recursive: true})
  if (user) spawnOk('chown', ['-R', `${info.uid}:${info.gid}`, home])

  const env: Record<string, string> = {HOME: home, SOURCEOSCTL_CONFIG_DIR: configDir, SOURCEOSCTL_STATE_DIR: stateDir}
  if (user) {
    const real = homeOf(user)
    Object.assign(env, {XDG_DATA_HOME: join(real, '.local', 'share'), XDG_CONFIG_HOME: join(real, '.config')})
  }
  const cli: LaunchFixture['cli'] = (args, opts = {}) =>
    runCli(args, {asUser: user, env: {...env, ...opts.env}, input: opts.input, timeoutMs: opts.timeoutMs})

  const init = await cli(['agent-machine', 'init', '--profile', 'linux-podman-native', '--repo', repo, '--repo', docsLink])
  if (init.exitCode !== 0) throw new Error(`init failed (${init.exitCode}): ${init.stderr}${init.stdout}`)
  const profilePath = join(configDir, 'agent-machine', 'profile.yaml')
  const editProfile = (path: string, edit: (doc: ProfileDoc) => void): ProfileDoc => {
    const doc = parse(readFileSync(path, 'utf8')) as ProfileDoc
    edit(doc)
    writeFileSync(path, stringify(doc)) // an existing file keeps its owner
    return doc
  }
  const base = editProfile(profilePath, (doc) => {
    doc.spec.image.ref = image.ref
    doc.spec.image.digest = `sha256:${image.id}`
    // no network: hermetic, and ~0.6 s less per launch (no netavark / slirp4netns setup)
    doc.spec.network = {mode: 'none'}
    const docsMount = doc.spec.mounts.find((m) => m.source === docs)
    if (!docsMount || doc.spec.mounts.length !== 2) throw new Error(`unexpected mounts after init: ${JSON.stringify(doc.spec.mounts)}`)
    docsMount.mode = 'ro'
  })

  const runIds: string[] = []
  const podmanLines = async (args: string[]): Promise<string[]> => (await podmanOk(target, args)).split('\n').filter(Boolean)

  return {
    mode, target, user, uid: info.uid, gid: info.gid, image, home, repo, docs, docsLink, other, configDir, stateDir, profilePath, secrets, env, own,
    runId(tag) {
      const id = `${randomBytes(6).toString('hex')}-${tag}`
      runIds.push(id)
      return id
    },
    cli,
    spawn: (args, opts = {}) => spawnCli(args, {asUser: user, env: {...env, ...opts.env}, cwd: home}),
    profileVariant(name, edit) {
      const doc = structuredClone(base)
      edit(doc)
      const path = join(configDir, 'variants', `${name}.yaml`)
      writeFileSync(path, stringify(doc))
      own(path)
      return path
    },
    containersOf: (runId) => podmanLines(['ps', '--all', '--filter', `label=${RUN_ID_LABEL}=${runId}`, '--format', '{{.Names}}']),
    createdSince: (runId, sinceMs) =>
      podmanLines(['events', '--stream=false', '--since', String(Math.floor(sinceMs / 1000) - 1), '--filter', 'event=create',
        '--filter', `label=${RUN_ID_LABEL}=${runId}`, '--format', '{{.Name}}']),
    async cleanup() {
      const ours = new Set(runIds)
      const leftovers: string[] = []
      // one listing of every agent-machine container, then only ours are touched
      for (const line of await podmanLines(['ps', '--all', '--filter', `label=${RUN_ID_LABEL}`, '--format', `{{.Names}} {{index .Labels "${RUN_ID_LABEL}"}}`])) {
        const [name, runId] = line.split(' ')
        if (!name || !runId || !ours.has(runId)) continue
        leftovers.push(name)
        await podman(target, ['rm', '--force', '--time=0', name])
      }
      rmSync(home, {recursive: true, force: true})
      return leftovers
    },
  }
}

function spawnOk(cmd: string, args: string[]): void {
  const out = spawnSync(cmd, args, {encoding: 'utf8'})
  if (out.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${out.stderr || out.error}`)
}
