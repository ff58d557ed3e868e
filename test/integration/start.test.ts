// `start` end to end: the BUILT CLI against REAL podman (Debian's 4.3.1 here).
//  - a machine profile as the non-root user (SOURCEOSCTL_TEST_ROOTLESS_USER): no such machine →
//    the exact `podman machine init` and exit 4, and no machine is created;
//  - the same profile as root: podman machine does not run as root → exit 4;
//  - a native Linux profile, rootful and rootless: podman works, nothing to start, the image is
//    there (exit 0) or how to build it (exit 4).
import {rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {schemaErrors} from '../helpers/json-schema.js'
import {makeRepo, makeTempHome, runCli, type CliResult} from './helpers/cli.js'
import {podman, podmanTarget, requirePodman, type PodmanMode} from './helpers/podman-env.js'
import {ensureTestImage, type TestImage} from './helpers/test-image.js'

// Throws (a failure, not a skip) when podman is missing and SOURCEOSCTL_TEST_REQUIRE_PODMAN=1.
const podmanAvailable = requirePodman()

const START_SCHEMA = 'agent-machine-start-result.schema.json'
const ERROR_SCHEMA = 'agent-machine-error.schema.json'
const MACHINE = 'sourceosctl-it-absent'

interface ErrorDoc {
  error: {code: string; message: string; exitCode: number; fix: string | null; details?: {initCommand?: {argv: string[]; env: Record<string, string>; text: string; notes: string[]}}}
}

function parseJson<T>(result: CliResult, what: string): T {
  try {
    return JSON.parse(result.stdout) as T
  } catch {
    throw new Error(`${what}: stdout is not JSON (exit ${result.exitCode}${result.timedOut ? ', timed out' : ''})\nstdout: ${result.stdout}\nstderr: ${result.stderr}`)
  }
}

function profileYaml(opts: {repo: string; machine: boolean; imageRef: string}): string {
  return `apiVersion: sourceos.dev/v1alpha1
kind: AgentMachineProfile
metadata: {name: start-it}
spec:
  platform: linux
${opts.machine ? `  machine: {name: ${MACHINE}, provider: qemu, cpus: 4, memoryMiB: 8192, diskGiB: 64, rootful: false}\n` : ''}  image: {ref: ${opts.imageRef}, digest: null, pull: never}
  mounts:
    - {source: ${opts.repo}, target: /workspace/app, mode: rw}
  tools:
    codex: {enabled: true, command: [codex]}
  env: {passthrough: [TERM], set: {}}
  network: {mode: default}
  resources: {cpus: 2, memory: 4g, pidsLimit: 1024}
  secrets: {door: none}
`
}

/** A temp dir owned by `user` (or root) holding a git repo and a profile; the CLI's state in it too. */
function workspace(user: string | undefined, opts: {machine: boolean; imageRef: string}) {
  const dir = makeTempHome(user)
  const repo = join(dir, 'app')
  makeRepo(repo, {owner: user})
  const profile = join(dir, 'profile.yaml')
  writeFileSync(profile, profileYaml({repo, machine: opts.machine, imageRef: opts.imageRef}), {mode: 0o644})
  const env = {SOURCEOSCTL_PROFILE: profile, XDG_CONFIG_HOME: join(dir, 'config'), XDG_STATE_HOME: join(dir, 'state')}
  return {dir, repo, profile, env}
}

const rootless = podmanTarget('rootless')
const rootful = podmanTarget('rootful')

describe.skipIf(!podmanAvailable)('start against real podman', () => {
  const dirs: string[] = []
  afterAll(() => {
    for (const d of dirs) rmSync(d, {recursive: true, force: true})
  })

  describe.skipIf(!rootless.runnable)(rootless.reason ? `skipped: ${rootless.reason}` : `machine profile as ${rootless.user}`, () => {
    it('no such machine → prints the exact `podman machine init` and exits 4, creating nothing', async () => {
      const user = rootless.user as string
      const ws = workspace(user, {machine: true, imageRef: 'localhost/sourceos/agent:latest'})
      dirs.push(ws.dir)
      const before = await podman(rootless, ['machine', 'list', '--format', 'json'])
      expect(before.exitCode, before.stderr).toBe(0)

      const human = await runCli(['agent-machine', 'start'], {asUser: user, env: ws.env})
      expect(human.exitCode, human.stderr).toBe(4)
      // the provider is always named; the state dir's --worktree clones folder is shared too (and created)
      const clones = join(ws.dir, 'state', 'sourceosctl', 'worktrees')
      const init = `CONTAINERS_MACHINE_PROVIDER=qemu podman machine init --cpus 4 --memory 8192 --disk-size 64 --volume ${ws.repo}:${ws.repo} --volume ${clones}:${clones} ${MACHINE}`
      expect(human.stdout).toContain(`  ${init}\n`)
      expect(human.stderr).toMatch(new RegExp(`Error: Podman machine "${MACHINE}" does not exist, and start never creates one`))
      expect(human.stderr).toMatch(/replace Podman's default share of your home folder/)

      const json = await runCli(['agent-machine', 'start', '--json'], {asUser: user, env: ws.env})
      expect(json.exitCode).toBe(4)
      const doc = parseJson<ErrorDoc>(json, 'start --json')
      expect(schemaErrors(ERROR_SCHEMA, doc)).toEqual([])
      expect(doc.error.code).toBe('MACHINE_ABSENT')
      expect(doc.error.details?.initCommand?.text).toBe(init)
      expect(doc.error.details?.initCommand?.env).toEqual({CONTAINERS_MACHINE_PROVIDER: 'qemu'})

      const dry = await runCli(['agent-machine', 'start', '--dry-run'], {asUser: user, env: ws.env})
      expect(dry.exitCode).toBe(4)

      // Nothing was created: podman lists exactly what it listed before.
      const after = await podman(rootless, ['machine', 'list', '--format', 'json'])
      expect(after.stdout).toBe(before.stdout)
      expect(after.stdout).not.toContain(MACHINE)
    })

    it('--machine naming another machine → exit 2 before podman is asked', async () => {
      const user = rootless.user as string
      const ws = workspace(user, {machine: true, imageRef: 'localhost/sourceos/agent:latest'})
      dirs.push(ws.dir)
      const result = await runCli(['agent-machine', 'start', '--machine', 'other', '--json'], {asUser: user, env: ws.env})
      expect(result.exitCode).toBe(2)
      expect(parseJson<ErrorDoc>(result, 'start --machine').error.code).toBe('MACHINE_NOT_IN_PROFILE')
    })
  })

  describe.skipIf(!rootful.runnable)(rootful.reason ? `skipped: ${rootful.reason}` : 'machine profile as root', () => {
    it('podman machine does not run as root → exit 4 with the explanation', async () => {
      const ws = workspace(undefined, {machine: true, imageRef: 'localhost/sourceos/agent:latest'})
      dirs.push(ws.dir)
      const result = await runCli(['agent-machine', 'start', '--json'], {env: ws.env})
      expect(result.exitCode).toBe(4)
      const doc = parseJson<ErrorDoc>(result, 'start as root')
      expect(schemaErrors(ERROR_SCHEMA, doc)).toEqual([])
      expect(doc.error.code).toBe('MACHINE_AS_ROOT')
      expect(doc.error.message).toMatch(/podman machine does not run as root/)
    })
  })

  describe.each(['rootful', 'rootless'] as PodmanMode[])('native Linux profile (%s)', (mode) => {
    const target = podmanTarget(mode)
    describe.skipIf(!target.runnable)(target.reason ? `skipped: ${target.reason}` : 'podman works', () => {
      let image: TestImage
      beforeAll(async () => {
        image = await ensureTestImage({rootless: mode === 'rootless'})
      })

      it('nothing to start: checks podman, finds the image, exits 0', async () => {
        const ws = workspace(target.user, {machine: false, imageRef: image.ref})
        dirs.push(ws.dir)
        const result = await runCli(['agent-machine', 'start', '--json'], {asUser: target.user, env: ws.env})
        expect(result.exitCode, result.stderr).toBe(0)
        const doc = parseJson<{machine: {name: string | null; action: string}; podman: {version: string; rootless: boolean}; image: {status: string; id: string}; notes: string[]; plan: {steps: unknown[]}}>(result, 'start native')
        expect(schemaErrors(START_SCHEMA, doc)).toEqual([])
        expect(doc.machine).toMatchObject({name: null, action: 'none'})
        expect(doc.podman.rootless).toBe(mode === 'rootless')
        expect(doc.image).toMatchObject({status: 'present', id: image.id})
        expect(doc.plan.steps).toEqual([])
        expect(doc.notes[0]).toMatch(new RegExp(`Native Podman \\S+ works \\(${mode}\\).*nothing to start`))

        const human = await runCli(['agent-machine', 'start'], {asUser: target.user, env: ws.env})
        expect(human.exitCode).toBe(0)
        expect(human.stdout).toMatch(/Podman: native .*no machine to start/)
      })

      it('the image missing → start plans its build from the Containerfile shipped in the package, in this store', async () => {
        const ws = workspace(target.user, {machine: false, imageRef: 'localhost/sourceosctl-test/nosuch:1'})
        dirs.push(ws.dir)
        const result = await runCli(['agent-machine', 'start', '--json', '--dry-run'], {asUser: target.user, env: ws.env})
        expect(result.exitCode, result.stderr).toBe(0)
        const doc = parseJson<{image: {status: string}; plan: {steps: Array<{argv: string[]}>}}>(result, 'start image missing')
        expect(schemaErrors(START_SCHEMA, doc)).toEqual([])
        expect(doc.image.status).toBe('would-build')
        expect(doc.plan.steps.map((s) => s.argv.slice(1, 2).concat(s.argv.slice(-3)))).toEqual([['build', '--tag', 'localhost/sourceosctl-test/nosuch:1', expect.stringMatching(/images\/agent$/)]])
      })
    })
  })
})
