// The read-only verbs (doctor, fingerprint) and init, end to end: the BUILT CLI against real
// podman, rootful (root) and rootless (SOURCEOSCTL_TEST_ROOTLESS_USER), with the CLI's own config
// and state in temp dirs (XDG_CONFIG_HOME / XDG_STATE_HOME).
//
// The two modes run concurrently (separate podman stores, separate temp dirs; rootful never
// touches the rootless user's HOME), the tests inside one mode in order.
import {chownSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, it} from 'vitest'
import {parseDocument} from 'yaml'
import {schemaErrors} from '../helpers/json-schema.js'
import {makeRepo, makeTempHome, runCli, type CliResult} from './helpers/cli.js'
import {podmanEnv, podmanTarget, requirePodman, type PodmanMode} from './helpers/podman-env.js'
import {homeOf, runAs, userInfo, type ProcResult} from './helpers/proc.js'
import {ensureTestImage, type TestImage} from './helpers/test-image.js'

// Throws (a failure, not a skip) when podman is missing and SOURCEOSCTL_TEST_REQUIRE_PODMAN=1.
const podmanAvailable = requirePodman()

const DOCTOR_SCHEMA = 'agent-machine-doctor-result.schema.json'
const FINGERPRINT_SCHEMA = 'agent-machine-fingerprint.schema.json'
const INIT_SCHEMA = 'agent-machine-init-result.schema.json'
const ERROR_SCHEMA = 'agent-machine-error.schema.json'
const TEMPLATE = 'linux-podman-native'

interface DoctorJson {
  ready: boolean
  host: {platform: string; isRoot: boolean}
  profile: {path: string; status: string; name: string | null}
  podman: {version: string | null; rootless: boolean | null; remote: boolean | null}
  machine: {name: string | null; state: string}
  evidenceDir: string
  checks: Array<{id: string; status: string}>
}

interface FingerprintJson {
  fingerprint: string
  podman: {rootless: boolean | null}
  machine: {state: string}
  tools: {podman: string | null}
  profile: {name: string | null; status: string; policyHash: string | null}
  image: {ref: string | null; present: boolean; id: string | null}
}

interface InitJson {
  action: string
  dryRun: boolean
  written: boolean
  destination: string
  addedMounts: Array<{source: string; target: string; mode: string}>
}

/** stdout as JSON; a readable failure (exit code, stderr) when it is not. */
function parseJson<T>(result: CliResult, what: string): T {
  try {
    return JSON.parse(result.stdout) as T
  } catch {
    throw new Error(`${what}: stdout is not JSON (exit ${result.exitCode}${result.timedOut ? ', timed out' : ''})\nstdout: ${result.stdout}\nstderr: ${result.stderr}`)
  }
}

function failureText(result: ProcResult): string {
  return `exit ${result.exitCode}${result.timedOut ? ' (timed out)' : ''}\nstderr: ${result.stderr.trim()}\nstdout: ${result.stdout.slice(0, 2000)}`
}

// ---------------------------------------------------------------------------------------------
// File-system snapshots: every entry under the roots, lstat'ed (type, mode, owner, size, mtime).

interface Entry {
  type: 'file' | 'dir' | 'link' | 'other'
  mode: number
  uid: number
  gid: number
  size: bigint
  mtimeNs: bigint
  link?: string
}

type Snapshot = Map<string, Entry>

interface Change {
  path: string
  change: 'added' | 'removed' | 'changed'
  before?: string
  after?: string
  /** Only the mtime differs (same type, mode, owner, size). */
  mtimeOnly: boolean
}

function snapshot(roots: string[]): Snapshot {
  const out: Snapshot = new Map()
  const visit = (path: string): void => {
    const s = lstatSync(path, {bigint: true})
    const type = s.isFile() ? 'file' : s.isDirectory() ? 'dir' : s.isSymbolicLink() ? 'link' : 'other'
    out.set(path, {
      type, mode: Number(s.mode & 0o7777n), uid: Number(s.uid), gid: Number(s.gid), size: s.size, mtimeNs: s.mtimeNs,
      ...(type === 'link' ? {link: readlinkSync(path)} : {}),
    })
    if (type === 'dir') for (const name of readdirSync(path).sort()) visit(join(path, name))
  }
  for (const root of roots) visit(root)
  return out
}

const show = (e: Entry): string => `${e.type} ${e.mode.toString(8)} ${e.uid}:${e.gid} size=${e.size} mtime=${e.mtimeNs}${e.link ? ` -> ${e.link}` : ''}`

function diffSnapshots(before: Snapshot, after: Snapshot): Change[] {
  const changes: Change[] = []
  for (const [path, a] of before) {
    const b = after.get(path)
    if (!b) changes.push({path, change: 'removed', before: show(a), mtimeOnly: false})
    else if (show(a) !== show(b)) {
      const mtimeOnly = a.type === b.type && a.mode === b.mode && a.uid === b.uid && a.gid === b.gid && a.size === b.size && a.link === b.link
      changes.push({path, change: 'changed', before: show(a), after: show(b), mtimeOnly})
    }
  }
  for (const [path, b] of after) if (!before.has(path)) changes.push({path, change: 'added', after: show(b), mtimeOnly: false})
  return changes
}

// ---------------------------------------------------------------------------------------------

describe.concurrent.each(['rootful', 'rootless'] as PodmanMode[])('doctor, fingerprint and init (%s)', (mode) => {
  const target = podmanTarget(mode)
  const rootless = mode === 'rootless'

  describe.skipIf(!podmanAvailable || !target.runnable)(target.reason ? `skipped: ${target.reason}` : 'built CLI, real podman', {concurrent: false}, () => {
    const owner = target.user ? userInfo(target.user) : undefined
    let work: string
    /** The HOME the CLI and podman see: rootless podman keeps its store in the user's real one. */
    let home: string
    let env: Record<string, string>
    let configDir: string
    let stateDir: string
    let cwd: string
    let alpha: string
    let beta: string
    let podmanVersion: string
    let image: TestImage

    /** A directory owned by the user under test (its parent must exist and be theirs, or root's). */
    const ownedDir = (path: string, perms = 0o755): string => {
      mkdirSync(path, {mode: perms})
      if (owner) chownSync(path, owner.uid, owner.gid)
      return path
    }
    const ownedFile = (path: string, content: string): string => {
      writeFileSync(path, content, {mode: 0o600})
      if (owner) chownSync(path, owner.uid, owner.gid)
      return path
    }

    /** `sourceosctl agent-machine …` as the user under test, with the temp config/state dirs. */
    const cli = (args: string[], extra: {env?: Record<string, string>; cwd?: string} = {}): Promise<CliResult> =>
      runCli(['agent-machine', ...args], {asUser: target.switchUser ? target.user : undefined, env: {...env, ...extra.env}, cwd: extra.cwd ?? cwd})

    /** podman as the same user, in the same environment the CLI gets. */
    const podmanAsUser = async (args: string[]): Promise<string> => {
      const result = await runAs('podman', args, {asUser: target.switchUser ? target.user : undefined, cleanEnv: true, env: {...podmanEnv(), ...env}, cwd})
      if (result.exitCode !== 0) throw new Error(`podman ${args.join(' ')} (${mode}): ${failureText(result)}`)
      return result.stdout.trim()
    }

    const activeProfile = (): string => join(configDir, 'sourceosctl', 'agent-machine', 'profile.yaml')

    beforeAll(async () => {
      work = makeTempHome(target.user)
      home = rootless ? (target.switchUser ? homeOf(target.user!) : process.env.HOME!) : ownedDir(join(work, 'home'))
      configDir = ownedDir(join(work, 'config'))
      stateDir = ownedDir(join(work, 'state'))
      cwd = ownedDir(join(work, 'repos'))
      alpha = makeRepo(join(cwd, 'alpha'), {owner: target.user}).dir
      beta = makeRepo(join(cwd, 'beta'), {owner: target.user}).dir
      // rootful: a temp HOME (root's real one is shared with everything else running here).
      env = {XDG_CONFIG_HOME: configDir, XDG_STATE_HOME: stateDir, ...(rootless ? {} : {HOME: home})}

      const [version, built, init] = await Promise.all([
        podmanAsUser(['--version']),
        ensureTestImage({rootless}),
        // The profile doctor and fingerprint use, as a user would create it.
        cli(['init', '--profile', TEMPLATE, '--repo', alpha]),
      ])
      podmanVersion = /^podman version (\S+)$/m.exec(version)?.[1] ?? ''
      if (!podmanVersion) throw new Error(`cannot parse \`podman --version\`: ${version}`)
      image = built
      if (init.exitCode !== 0) throw new Error(`init (fixture) failed: ${failureText(init)}`)
      // The profile's image is a required check: point it at the locally built test image.
      writeFileSync(activeProfile(), readFileSync(activeProfile(), 'utf8').replace(/ref: \S+/, `ref: ${image.ref}`))
    })

    afterAll(() => {
      if (work) rmSync(work, {recursive: true, force: true})
    })

    it('doctor --json: exit 0 with a profile whose image is there; without a profile, not ready only for the image (fix: start); the real podman version, rootless as expected, no machine', async ({expect}) => {
      const emptyConfig = ownedDir(join(work, 'config-empty'))
      const [bare, withProfile] = await Promise.all([
        cli(['doctor', '--json'], {env: {XDG_CONFIG_HOME: emptyConfig}}),
        cli(['doctor', '--json']),
      ])
      for (const [result, profileStatus, profilePath] of [
        [bare, 'missing', join(emptyConfig, 'sourceosctl', 'agent-machine', 'profile.yaml')],
        [withProfile, 'loaded', activeProfile()],
      ] as const) {
        const report = parseJson<DoctorJson>(result, 'doctor --json')
        expect(schemaErrors(DOCTOR_SCHEMA, report)).toEqual([])
        if (profileStatus === 'loaded') {
          expect(result.exitCode, failureText(result)).toBe(0)
          expect(report.ready).toBe(true)
        } else {
          // no profile: the templates' image (localhost/sourceos/agent:latest), usually not in this store
          const checks = report.checks as Array<{id: string; status: string; required: boolean; fix: string | null}>
          const failing = checks.filter((c) => c.required && c.status !== 'ok' && c.status !== 'skip')
          if (checks.find((c) => c.id === 'image')?.status === 'ok') {
            expect(result.exitCode, failureText(result)).toBe(0)
            expect(failing).toEqual([])
          } else {
            expect(result.exitCode, failureText(result)).toBe(4)
            expect(failing.map((c) => c.id)).toEqual(['image'])
            expect(failing[0]!.fix).toContain('sourceosctl agent-machine start')
          }
        }
        expect(report.host).toMatchObject({platform: 'linux', isRoot: !rootless})
        expect(report.podman.version).toBe(podmanVersion)
        expect(report.podman.rootless).toBe(rootless)
        expect(report.podman.remote).toBe(false)
        expect(report.machine).toEqual({name: null, state: 'not-applicable'})
        expect(report.profile).toMatchObject({status: profileStatus, path: profilePath})
        expect(report.evidenceDir).toBe(join(stateDir, 'sourceosctl', 'evidence'))
      }
      const report = parseJson<DoctorJson>(withProfile, 'doctor --json')
      expect(report.profile.name).toBe(TEMPLATE)
      expect(report.checks.find((c) => c.id === 'mount:/workspace/alpha')?.status).toBe('ok')
    })

    it('doctor writes nothing: HOME, config, state and cwd are unchanged (doctor; doctor --json --repo)', async ({expect}) => {
      const roots = rootless ? [home, work] : [work] // rootful: HOME is inside work
      await podmanAsUser(['info']) // pre-warm: podman's own storage initialisation is not doctor's
      const s0 = snapshot(roots)
      // Control: what a bare `podman info` (which doctor runs) changes by itself.
      await podmanAsUser(['info'])
      const s1 = snapshot(roots)
      const podmanItself = diffSnapshots(s0, s1)

      const [human, withRepo] = await Promise.all([
        cli(['doctor']),
        cli(['doctor', '--json', '--repo', beta]),
      ])
      const s2 = snapshot(roots)
      const byDoctor = diffSnapshots(s1, s2)

      expect(human.exitCode, failureText(human)).toBe(0)
      expect(human.stdout).toMatch(/^Ready\.$/m)
      // beta is readable but not allowlisted: doctor says so (run would refuse it)
      expect(withRepo.exitCode, failureText(withRepo)).toBe(4)
      const repoReport = parseJson<DoctorJson>(withRepo, 'doctor --json --repo')
      expect(schemaErrors(DOCTOR_SCHEMA, repoReport)).toEqual([])
      expect(repoReport.checks.find((c) => c.id === 'repo')?.status).toBe('ok')
      expect(repoReport.checks.find((c) => c.id === 'repo-allowlisted')?.status).toBe('fail')

      // podman (4.3.1 here) rewrites its own storage lock files (storage.lock, <driver>-layers/layers.lock:
      // a 64-byte "last writer" record, same size, new mtime) on every command that opens the store,
      // `podman info` and `podman version` included. Exactly those — changed the same way by the bare
      // `podman info` above — are allowed, and printed rather than hidden. Everything else must not move.
      const storage = join(home, '.local', 'share', 'containers', 'storage') + '/'
      const ownLocks = new Set(podmanItself.filter((c) => c.mtimeOnly).map((c) => c.path))
      const isPodmanLock = (c: Change): boolean => c.mtimeOnly && ownLocks.has(c.path) && c.path.startsWith(storage) && c.path.endsWith('.lock')
      for (const c of [...podmanItself, ...byDoctor].filter(isPodmanLock)) {
        console.info(`[doctor-no-writes ${mode}] podman itself touched ${c.path} (${c.before} => ${c.after})`)
      }
      expect(podmanItself.filter((c) => !isPodmanLock(c)), 'a bare `podman info` changed more than its lock files').toEqual([])
      expect(byDoctor.filter((c) => !isPodmanLock(c))).toEqual([])
      if (!rootless) expect(byDoctor).toEqual([]) // rootful podman's store is in /var/lib/containers: nothing at all
    })

    it('fingerprint: valid JSON by default, stable digest and policy hash, the real podman and the local image', async ({expect}) => {
      const text = readFileSync(activeProfile(), 'utf8')
      const withImage = parseDocument(text)
      withImage.setIn(['spec', 'image', 'ref'], image.ref)
      const readOnly = withImage.clone()
      readOnly.setIn(['spec', 'mounts', 0, 'mode'], 'ro')
      const profiles = ownedDir(join(work, 'profiles'))
      const imageProfile = ownedFile(join(profiles, 'image.yaml'), String(withImage))
      const readOnlyProfile = ownedFile(join(profiles, 'image-ro.yaml'), String(readOnly))

      const [[first, second], ro, inspectedId] = await Promise.all([
        // two runs in a row
        cli(['fingerprint', '--profile-file', imageProfile]).then(async (one): Promise<[CliResult, CliResult]> => [one, await cli(['fingerprint', '--profile-file', imageProfile])]),
        cli(['fingerprint', '--profile-file', readOnlyProfile]),
        podmanAsUser(['image', 'inspect', '--format', '{{.Id}}', image.ref]),
      ])
      const docs = [first, second, ro].map((result) => {
        expect(result.exitCode, failureText(result)).toBe(0)
        const doc = parseJson<FingerprintJson>(result, 'fingerprint')
        expect(schemaErrors(FINGERPRINT_SCHEMA, doc)).toEqual([])
        expect(doc.tools.podman).toBe(podmanVersion)
        expect(doc.podman.rootless).toBe(rootless)
        expect(doc.machine.state).toBe('not-applicable')
        expect(doc.profile).toMatchObject({name: TEMPLATE, status: 'loaded'})
        expect(doc.profile.policyHash).toMatch(/^sha256:[0-9a-f]{64}$/)
        expect(doc.image).toMatchObject({ref: image.ref, present: true, id: inspectedId})
        return doc
      })
      const [a, b, r] = docs as [FingerprintJson, FingerprintJson, FingerprintJson]
      expect(inspectedId).toBe(image.id)
      expect(a.fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/)
      expect(b.fingerprint).toBe(a.fingerprint)
      expect(b.profile.policyHash).toBe(a.profile.policyHash)
      // rw -> ro on the one mount: a different policy, so a different machine fingerprint
      expect(r.profile.policyHash).not.toBe(a.profile.policyHash)
      expect(r.fingerprint).not.toBe(a.fingerprint)
    })

    it('init: writes an owner-only profile, adds a second repo, --dry-run writes nothing, refuses a repo under ~/.ssh (exit 3)', async ({expect}) => {
      const initConfig = ownedDir(join(work, 'init-config'))
      const dryConfig = ownedDir(join(work, 'dry-config'))
      const fakeHome = ownedDir(join(work, 'fake-home'))
      ownedDir(join(fakeHome, '.ssh'), 0o700)
      makeRepo(join(fakeHome, '.ssh', 'project'), {owner: target.user})
      const destination = join(initConfig, 'sourceosctl', 'agent-machine', 'profile.yaml')

      const [create, dryRun, refused] = await Promise.all([
        cli(['init', '--profile', TEMPLATE, '--repo', alpha, '--json'], {env: {XDG_CONFIG_HOME: initConfig}}),
        cli(['init', '--profile', TEMPLATE, '--repo', alpha, '--dry-run', '--json'], {env: {XDG_CONFIG_HOME: dryConfig}}),
        // `~` is expanded by the CLI (no shell here), against the planted HOME
        cli(['init', '--profile', TEMPLATE, '--repo', '~/.ssh/project', '--json'], {env: {HOME: fakeHome, XDG_CONFIG_HOME: join(fakeHome, '.config')}, cwd: fakeHome}),
      ])

      expect(create.exitCode, failureText(create)).toBe(0)
      const created = parseJson<InitJson>(create, 'init')
      expect(schemaErrors(INIT_SCHEMA, created)).toEqual([])
      expect(created).toMatchObject({action: 'create', dryRun: false, written: true, destination, addedMounts: [{source: alpha, target: '/workspace/alpha', mode: 'rw'}]})
      const file = statSync(destination)
      expect((file.mode & 0o777).toString(8)).toBe('600')
      expect([file.uid, file.gid]).toEqual(owner ? [owner.uid, owner.gid] : [0, 0])
      expect(readdirSync(join(initConfig, 'sourceosctl', 'agent-machine'))).toEqual(['profile.yaml']) // no temp file left

      const add = await cli(['init', '--repo', beta, '--json'], {env: {XDG_CONFIG_HOME: initConfig}})
      expect(add.exitCode, failureText(add)).toBe(0)
      const added = parseJson<InitJson>(add, 'init (second repo)')
      expect(schemaErrors(INIT_SCHEMA, added)).toEqual([])
      expect(added).toMatchObject({action: 'add-mount', written: true, destination, addedMounts: [{source: beta, target: '/workspace/beta', mode: 'rw'}]})
      const mounts = parseDocument(readFileSync(destination, 'utf8')).toJS().spec.mounts
      expect(mounts).toEqual([
        {source: alpha, target: '/workspace/alpha', mode: 'rw'},
        {source: beta, target: '/workspace/beta', mode: 'rw'},
      ])
      expect((statSync(destination).mode & 0o777).toString(8)).toBe('600')

      expect(dryRun.exitCode, failureText(dryRun)).toBe(0)
      const planned = parseJson<InitJson>(dryRun, 'init --dry-run')
      expect(schemaErrors(INIT_SCHEMA, planned)).toEqual([])
      expect(planned).toMatchObject({action: 'create', dryRun: true, written: false, destination: join(dryConfig, 'sourceosctl', 'agent-machine', 'profile.yaml')})
      expect(readdirSync(dryConfig)).toEqual([]) // not even the directory

      expect(refused.exitCode, failureText(refused)).toBe(3)
      const error = parseJson<{error: {code: string; exitCode: number}}>(refused, 'init ~/.ssh')
      expect(schemaErrors(ERROR_SCHEMA, error)).toEqual([])
      expect(error.error).toMatchObject({code: 'POLICY_SENSITIVE', exitCode: 3})
      expect(readdirSync(fakeHome).sort()).toEqual(['.ssh']) // no profile, no config dir
    })
  })
})
