// fingerprint in-process with the fake Runner: what the document says about a setup, which parts its
// digest covers (equal for two runs on an unchanged setup, different when the setup changes), and that
// it only reads (version, info and inspect calls, nothing that changes the machine or the store).
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import Fingerprint from '../../src/commands/agent-machine/fingerprint.js'
import type {AgentMachineFingerprint} from '../../src/core/fingerprint/schema.js'
import {fakeRunner, NOT_FOUND, type FakeRoute} from '../helpers/fake-runner.js'
import {podmanFixture} from '../helpers/fixtures.js'
import {fakeHostFacts} from '../helpers/host-facts.js'
import {schemaErrors} from '../helpers/json-schema.js'
import {linuxNativeRoutes, macosRoutes} from '../helpers/podman-scenarios.js'
import {runCommand} from '../helpers/run-command.js'
import {tempDir} from '../helpers/temp-dirs.js'

const T1 = new Date('2025-01-31T12:00:00Z')
const T2 = new Date('2025-02-01T08:30:00Z')
const IMAGE_ID = 'c5dfba5b96b2cb22bb23c916ced44b72220612a436458c757ed5664075c44cb2'
const IMAGE_DIGEST = 'sha256:0d1b5eb03eb2e30a39950c2801dd3de4bc4f4e5da308b24df3fd345557a31400'
const SHA = /^sha256:[a-f0-9]{64}$/

const linuxProfile = (source: string, mode = 'rw') => `apiVersion: sourceos.dev/v1alpha1
kind: AgentMachineProfile
metadata: {name: linux-podman-native}
spec:
  platform: linux
  image: {ref: localhost/test-bb:1, digest: null, pull: never}
  mounts:
    - {source: ${source}, target: /workspace/app, mode: ${mode}}
  tools:
    codex: {enabled: true, command: [codex]}
  env: {passthrough: [TERM], set: {}}
  network: {mode: default}
  resources: {cpus: 2, memory: 4g, pidsLimit: 1024}
  secrets: {door: none}
`

/** A temp home with a repo folder and a native Linux profile mounting it (the file name is free). */
function setup(profileName = 'profile.yaml') {
  const home = tempDir('fp-home-')
  const repo = join(home, 'dev', 'app')
  mkdirSync(repo, {recursive: true})
  const profile = writeProfile(home, linuxProfile(repo), profileName)
  return {home, repo, profile}
}

function writeProfile(home: string, yaml: string, name = 'profile.yaml'): string {
  const path = join(home, name)
  writeFileSync(path, yaml)
  return path
}

const linuxFacts = (home: string, profile?: string) =>
  fakeHostFacts('linux', {homeDir: home, env: {HOME: home, ...(profile ? {SOURCEOSCTL_PROFILE: profile} : {SOURCEOSCTL_CONFIG_DIR: home})}})

async function fingerprint(routes: FakeRoute[], facts: ReturnType<typeof fakeHostFacts>, argv: string[] = [], now = T1) {
  const runner = fakeRunner(routes)
  const out = await runCommand(Fingerprint, argv, {runner, hostFacts: async () => facts, now: () => now})
  expect(out.exitCode, out.stderr).toBe(0)
  return {doc: out.json as AgentMachineFingerprint, runner, out}
}

describe('fingerprint', () => {
  it('describes a native Linux setup: host, podman, tools, profile with its policy hash, the image; valid against its schema', async () => {
    const {home, profile} = setup()
    const {doc} = await fingerprint(linuxNativeRoutes({nix: true}), linuxFacts(home, profile))
    expect(schemaErrors('agent-machine-fingerprint.schema.json', doc)).toEqual([])
    expect(doc).toEqual({
      apiVersion: 'sourceos.dev/v1alpha1',
      kind: 'AgentMachineFingerprint',
      fingerprint: expect.stringMatching(SHA),
      generatedAt: '2025-01-31T12:00:00.000Z',
      host: {platform: 'linux', os: 'Debian GNU/Linux 12 (bookworm)', osVersion: '12', kernel: '6.1.0-28-amd64', arch: 'x64'},
      podman: {client: {version: '4.3.1', apiVersion: '4.3.1', os: 'linux', arch: 'amd64'}, server: null, remote: false, rootless: false},
      machine: {name: null, provider: null, rootful: null, state: 'not-applicable'},
      tools: {podman: '4.3.1', git: '2.39.5', nix: '2.18.1'},
      profile: {name: 'linux-podman-native', path: profile, status: 'loaded', policyHash: expect.stringMatching(SHA)},
      image: {ref: 'localhost/test-bb:1', present: true, id: IMAGE_ID, digest: IMAGE_DIGEST},
    })
  })

  it('only reads: version, info and inspect calls, each within the --timeout deadline', async () => {
    const {home, profile} = setup()
    const {runner} = await fingerprint(linuxNativeRoutes({nix: true}), linuxFacts(home, profile), ['--timeout', '3'])
    expect(runner.commandLines().sort()).toEqual([
      'git --version',
      'nix --version',
      'podman --version',
      'podman image inspect --format json -- localhost/test-bb:1',
      'podman info --format json',
      'podman version --format json',
    ])
    // each probe runs within the 3 s deadline (a probe keeps a few ms for itself), not the 10 s default
    for (const call of runner.calls) expect(call.options?.timeoutMs, call.args.join(' ')).toBeGreaterThan(2500)
    for (const call of runner.calls) expect(call.options?.timeoutMs, call.args.join(' ')).toBeLessThanOrEqual(3000)
  })

  it('prints the same JSON document with and without --json', async () => {
    const {home, profile} = setup()
    const plain = await fingerprint(linuxNativeRoutes(), linuxFacts(home, profile))
    const json = await fingerprint(linuxNativeRoutes(), linuxFacts(home, profile), ['--json'])
    expect(plain.out.stdout.trimStart().startsWith('{')).toBe(true)
    expect(json.doc).toEqual(plain.doc)
  })

  it('gives the same digest for two runs on an unchanged setup: the time and the profile file’s location are not part of it', async () => {
    const {home, repo, profile} = setup()
    const first = await fingerprint(linuxNativeRoutes(), linuxFacts(home, profile), [], T1)
    const later = await fingerprint(linuxNativeRoutes(), linuxFacts(home, profile), [], T2)
    expect(later.doc.generatedAt).toBe('2025-02-01T08:30:00.000Z')
    expect(later.doc.fingerprint).toBe(first.doc.fingerprint)
    // the same profile content under another file name
    const moved = writeProfile(home, linuxProfile(repo), 'elsewhere.yaml')
    const elsewhere = await fingerprint(linuxNativeRoutes(), linuxFacts(home, moved))
    expect(elsewhere.doc.profile.path).toBe(moved)
    expect(elsewhere.doc.profile.policyHash).toBe(first.doc.profile.policyHash)
    expect(elsewhere.doc.fingerprint).toBe(first.doc.fingerprint)
  })

  it('gives a different digest when the setup changes: a mount’s mode, the git version, the image gone', async () => {
    const {home, repo, profile} = setup()
    const base = (await fingerprint(linuxNativeRoutes(), linuxFacts(home, profile))).doc

    writeProfile(home, linuxProfile(repo, 'ro'), 'ro.yaml')
    const ro = (await fingerprint(linuxNativeRoutes(), linuxFacts(home, join(home, 'ro.yaml')))).doc
    expect(ro.profile.policyHash).toMatch(SHA)
    expect(ro.profile.policyHash).not.toBe(base.profile.policyHash)
    expect(ro.fingerprint).not.toBe(base.fingerprint)

    const newerGit = (await fingerprint([{match: 'git --version', result: {stdout: 'git version 2.47.1\n'}}, ...linuxNativeRoutes()], linuxFacts(home, profile))).doc
    expect(newerGit.tools.git).toBe('2.47.1')
    expect(newerGit.fingerprint).not.toBe(base.fingerprint)

    const missingImage: FakeRoute = {
      match: 'podman image inspect',
      result: {exitCode: 125, stdout: podmanFixture('podman431-image-inspect-missing.stdout.json'), stderr: podmanFixture('podman431-image-inspect-missing.stderr.txt')},
    }
    const gone = (await fingerprint([missingImage, ...linuxNativeRoutes()], linuxFacts(home, profile))).doc
    expect(gone.image).toEqual({ref: 'localhost/test-bb:1', present: false, id: null, digest: null})
    expect(gone.fingerprint).not.toBe(base.fingerprint)
  })

  it('without a profile: status missing, no policy hash, no image looked up', async () => {
    const home = tempDir('fp-home-')
    const {doc, runner} = await fingerprint(linuxNativeRoutes(), linuxFacts(home))
    expect(doc.profile).toEqual({name: null, path: join(home, 'agent-machine', 'profile.yaml'), status: 'missing', policyHash: null})
    expect(doc.image).toEqual({ref: null, present: false, id: null, digest: null})
    expect(runner.commandLines().some((l) => l.includes('image'))).toBe(false)
    expect(schemaErrors('agent-machine-fingerprint.schema.json', doc)).toEqual([])
  })

  it('an invalid profile is reported as invalid, with no policy hash', async () => {
    const home = tempDir('fp-home-')
    const profile = writeProfile(home, 'apiVersion: sourceos.dev/v1alpha1\nkind: AgentMachineProfile\nspec: {platform: linux}\n')
    const {doc} = await fingerprint(linuxNativeRoutes(), linuxFacts(home, profile))
    expect(doc.profile).toEqual({name: null, path: profile, status: 'invalid', policyHash: null})
  })

  it('a mount whose source does not exist leaves the policy hash null (it cannot be resolved)', async () => {
    const home = tempDir('fp-home-')
    const profile = writeProfile(home, linuxProfile(join(home, 'dev', 'gone')))
    const {doc} = await fingerprint(linuxNativeRoutes(), linuxFacts(home, profile))
    expect(doc.profile).toMatchObject({name: 'linux-podman-native', status: 'loaded', policyHash: null})
  })

  it('podman, git and nix missing: their fields are null, and the command still answers', async () => {
    const home = tempDir('fp-home-')
    const {doc} = await fingerprint([{match: 'podman', result: NOT_FOUND}, {match: 'git', result: NOT_FOUND}, {match: 'nix', result: NOT_FOUND}], linuxFacts(home))
    expect(doc.podman).toEqual({client: null, server: null, remote: null, rootless: null})
    expect(doc.tools).toEqual({podman: null, git: null, nix: null})
    expect(schemaErrors('agent-machine-fingerprint.schema.json', doc)).toEqual([])
  })

  it('a rootless podman changes rootless and the digest (the policy hash records it)', async () => {
    const {home, profile} = setup()
    const rootful = (await fingerprint(linuxNativeRoutes(), linuxFacts(home, profile))).doc
    const rootless = (await fingerprint(linuxNativeRoutes({rootless: true}), linuxFacts(home, profile))).doc
    expect(rootless.podman.rootless).toBe(true)
    expect(rootless.profile.policyHash).not.toBe(rootful.profile.policyHash)
    expect(rootless.fingerprint).not.toBe(rootful.fingerprint)
  })
})

describe('fingerprint on macOS', () => {
  const macosProfile = (home: string) =>
    writeProfile(
      home,
      linuxProfile(home)
        .replace('platform: linux', 'platform: macos\n  machine: {name: podman-machine-default, provider: applehv, cpus: 2, memoryMiB: 2048, diskGiB: 20, rootful: false}')
        .replace('metadata: {name: linux-podman-native}', 'metadata: {name: macos-podman-machine}'),
    )
  const macFacts = (home: string, profile: string) => fakeHostFacts('macos', {homeDir: home, env: {HOME: home, SOURCEOSCTL_PROFILE: profile}})

  it('reports the profile’s machine, a remote rootless podman with its server, and the machine state', async () => {
    const home = tempDir('fp-mac-')
    mkdirSync(join(home, 'dev', 'app'), {recursive: true})
    const profile = macosProfile(join(home, 'dev', 'app'))
    const {doc} = await fingerprint(macosRoutes('running'), macFacts(home, profile))
    expect(schemaErrors('agent-machine-fingerprint.schema.json', doc)).toEqual([])
    expect(doc.machine).toEqual({name: 'podman-machine-default', provider: 'applehv', rootful: false, state: 'running'})
    expect(doc.podman).toMatchObject({remote: true, rootless: true, server: {os: 'linux'}, client: {os: 'darwin'}})
    expect(doc.host.platform).toBe('macos')
  })

  it('the machine’s running state is not part of the digest: running and stopped give the same one', async () => {
    const home = tempDir('fp-mac-')
    mkdirSync(join(home, 'dev', 'app'), {recursive: true})
    const profile = macosProfile(join(home, 'dev', 'app'))
    const running = (await fingerprint(macosRoutes('running'), macFacts(home, profile))).doc
    const stopped = (await fingerprint([...macosRoutes('stopped').filter((r) => r.match !== 'podman version' && r.match !== 'podman info'), ...macosRoutes('running')], macFacts(home, profile))).doc
    expect(stopped.machine.state).toBe('stopped')
    expect(running.machine.state).toBe('running')
    expect(stopped.fingerprint).toBe(running.fingerprint)
  })
})
