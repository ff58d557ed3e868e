import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import ImageBuild from '../../src/commands/agent-machine/image/build.js'
import ImageLs from '../../src/commands/agent-machine/image/ls.js'
import {agentImageDir, agentImagesOf, baseImageOf, repositoryOf} from '../../src/core/image/agent-image.js'
import {fakeRunner} from '../helpers/fake-runner.js'
import {podmanFixture} from '../helpers/fixtures.js'
import {fakeHostFacts} from '../helpers/host-facts.js'
import {runCommand} from '../helpers/run-command.js'
import {tempDir} from '../helpers/temp-dirs.js'

const DIR = agentImageDir()

function profileFacts(ref: string, machine = '') {
  const home = tempDir('image-home-')
  const profile = join(home, 'profile.yaml')
  writeFileSync(profile, `apiVersion: sourceos.dev/v1alpha1
kind: AgentMachineProfile
metadata: {name: img}
spec:
  platform: ${machine ? 'macos' : 'linux'}
${machine}  image: {ref: ${ref}, digest: null, pull: never}
  mounts: []
  tools:
    codex: {enabled: true, command: [codex]}
  env: {passthrough: [TERM], set: {}}
  network: {mode: none}
  resources: {cpus: 2, memory: 4g, pidsLimit: 1024}
  secrets: {door: none}
`)
  return fakeHostFacts(machine ? 'macos' : 'linux', {homeDir: home, uid: 1000, env: {HOME: home, SOURCEOSCTL_PROFILE: profile}})
}

const missing = {match: 'podman image inspect', result: {exitCode: 125, stdout: '[]\n', stderr: 'Error: x: image not known\n'}}

interface BuildJson {ref: string; built: boolean; id: string | null; plan: {steps: Array<{argv: string[]}>}}

describe('image build', () => {
  it('--dry-run: the podman build of the shipped Containerfile, tagged with the profile’s ref; runs nothing', async () => {
    const runner = fakeRunner([missing])
    const out = await runCommand(ImageBuild, ['--dry-run', '--json'], {runner, hostFacts: async () => profileFacts('localhost/team/agent:7')})
    expect(out.exitCode).toBe(0)
    expect((out.json as BuildJson).plan.steps.map((s) => s.argv)).toEqual([['podman', 'build', '--file', join(DIR, 'Containerfile'), '--tag', 'localhost/team/agent:7', DIR]])
    expect(runner.commandLines()).toEqual(['podman image inspect --format json -- localhost/team/agent:7']) // read-only
  })

  it('with a machine: the build goes through the machine’s connection (its store, not the host’s)', async () => {
    const machine = '  machine: {name: sourceos-agent, provider: applehv, cpus: 2, memoryMiB: 2048, diskGiB: 20, rootful: false}\n'
    const out = await runCommand(ImageBuild, ['--dry-run', '--json', '--tag', 'localhost/me/agent:dev'], {runner: fakeRunner([missing]), hostFacts: async () => profileFacts('localhost/team/agent:7', machine)})
    expect((out.json as BuildJson).plan.steps[0]!.argv.slice(0, 4)).toEqual(['podman', '--connection', 'sourceos-agent', 'build'])
    expect((out.json as BuildJson).ref).toBe('localhost/me/agent:dev')
  })

  it('a build whose base image no registry can give: exit 4, the offline build named with the right tag', async () => {
    const runner = fakeRunner([missing, {match: 'podman build', result: {exitCode: 125, stderr: 'Error: creating build container: initializing source docker://node:22-bookworm-slim: pinging container registry registry-1.docker.io: dial tcp: lookup registry-1.docker.io: no such host\n'}}])
    const out = await runCommand(ImageBuild, ['--json'], {runner, hostFacts: async () => profileFacts('localhost/team/agent:7')})
    expect(out.exitCode).toBe(4)
    const error = (out.json as {error: {code: string; message: string; fix: string}}).error
    expect(error.code).toBe('IMAGE_BUILD_FAILED')
    expect(error.message).toMatch(/base image docker\.io\/library\/node:\S+ could not be pulled \(no registry reachable\)/)
    expect(error.fix).toContain(`sudo ${join(DIR, 'build-debootstrap.sh')} --tag localhost/team/agent:7`)
    expect(error.fix).toMatch(/loads the image into your rootless store/)
  })

  it('a rebuild removes the image the name had before (a planned step), so no unnamed image is left', async () => {
    const old = JSON.parse(podmanFixture('podman431-image-inspect.json')) as Array<{Id: string}>
    const oldId = old[0]!.Id.replace(/^sha256:/, '')
    const fresh = structuredClone(old)
    fresh[0]!.Id = 'f'.repeat(64)
    const runner = fakeRunner([
      {match: 'podman image inspect', result: {stdout: JSON.stringify(old)}, times: 1},
      {match: 'podman build', result: {stdout: 'COMMIT\n'}},
      {match: 'podman image inspect', result: {stdout: JSON.stringify(fresh)}},
      {match: 'podman rmi', result: {}},
    ])
    const out = await runCommand(ImageBuild, ['--json'], {runner, hostFacts: async () => profileFacts('localhost/sourceos/agent:latest')})
    expect(out.exitCode, out.stderr).toBe(0)
    expect((out.json as BuildJson).plan.steps.map((s) => s.argv.slice(0, 3))).toEqual([['podman', 'build', '--file'], ['podman', 'rmi', oldId]])
    expect(runner.commandLines()).toContain(`podman rmi ${oldId}`)
  })

  it('a build that works: built, with the image ID', async () => {
    const runner = fakeRunner([
      {match: 'podman build', result: {stdout: 'COMMIT localhost/sourceos/agent:latest\n'}},
      {match: 'podman image inspect', result: {stdout: podmanFixture('podman431-image-inspect.json')}},
    ])
    const out = await runCommand(ImageBuild, ['--json'], {runner, hostFacts: async () => profileFacts('localhost/sourceos/agent:latest')})
    expect(out.exitCode).toBe(0)
    expect(out.json).toMatchObject({built: true, id: expect.stringMatching(/^[0-9a-f]{64}$/)})
  })
})

describe('image ls', () => {
  const listed = JSON.stringify([
    {Id: 'a'.repeat(64), Names: ['localhost/sourceos/agent:latest'], Size: 900_000_000, CreatedAt: '2026-12-01T10:00:00Z'},
    {Id: 'b'.repeat(64), Names: ['localhost/other/thing:1'], Size: 1, CreatedAt: '2026-12-01T10:00:00Z'},
    {Id: 'c'.repeat(64), Names: ['localhost/me/agent:dev'], Labels: {'dev.sourceos.agent-machine.codex.version': '0.1'}, Size: 5, CreatedAt: '2026-12-01T10:00:00Z'},
  ])

  it('lists the agent images and says the profile’s is present', async () => {
    const runner = fakeRunner([{match: 'podman images', result: {stdout: listed}}])
    const out = await runCommand(ImageLs, [], {runner, hostFacts: async () => profileFacts('localhost/sourceos/agent:latest')})
    expect(out.exitCode).toBe(0)
    expect(out.stdout).toMatch(/localhost\/sourceos\/agent:latest\s+aaaaaaaaaaaa .*900 MB\s+profile/)
    expect(out.stdout).toContain('localhost/me/agent:dev')
    expect(out.stdout).not.toContain('localhost/other/thing')
    expect(out.stdout).toMatch(/The profile's image localhost\/sourceos\/agent:latest is present\./)
  })

  it('a missing profile image: says so with the fix (start builds it)', async () => {
    const runner = fakeRunner([{match: 'podman images', result: {stdout: '[]'}}])
    const out = await runCommand(ImageLs, ['--json'], {runner, hostFacts: async () => profileFacts('localhost/team/agent:7')})
    expect(out.json).toMatchObject({present: false, images: []})
    const human = await runCommand(ImageLs, [], {runner, hostFacts: async () => profileFacts('localhost/team/agent:7')})
    expect(human.stdout).toMatch(/localhost\/team\/agent:7 is missing: run `sourceosctl agent-machine start`/)
  })
})

describe('agent image helpers', () => {
  it('reads the base image from the shipped Containerfile', () => {
    expect(baseImageOf(readFileSync(join(DIR, 'Containerfile'), 'utf8'))).toMatch(/^docker\.io\/library\/node:/)
    expect(baseImageOf('FROM x\n')).toBeNull()
  })

  it('repositoryOf drops the tag and digest, not a registry port', () => {
    expect(repositoryOf('localhost/sourceos/agent:latest')).toBe('localhost/sourceos/agent')
    expect(repositoryOf('localhost:5000/a/b')).toBe('localhost:5000/a/b')
    expect(repositoryOf(`quay.io/x/y:1@sha256:${'0'.repeat(64)}`)).toBe('quay.io/x/y')
    expect(agentImagesOf('null', 'localhost/a:1')).toEqual([])
  })
})
