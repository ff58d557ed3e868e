// doctor's podman calls (core/doctor/early-probes.ts): on native podman one `podman info` answers both
// the service check and the CLI check, and it starts before the profile is read; `podman --version`
// runs only when info did not answer (to tell "not installed" from "not answering"); a profile with a
// machine gets its own `podman --connection … info`, never the native one's answer.
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import Doctor from '../../src/commands/agent-machine/doctor.js'
import {fakeRunner, type FakeRoute} from '../helpers/fake-runner.js'
import {podmanFixture} from '../helpers/fixtures.js'
import {fakeHostFacts} from '../helpers/host-facts.js'
import {linuxNativeRoutes} from '../helpers/podman-scenarios.js'
import {runCommand} from '../helpers/run-command.js'
import {tempDir} from '../helpers/temp-dirs.js'

interface DoctorJson {
  ready: boolean
  podman: {version: string | null; serverVersion: string | null}
  tools: {podman: string | null}
  checks: Array<{id: string; status: string; detail: string; fix: string | null}>
}

function home(profile?: (h: string) => string) {
  const h = tempDir('doctor-probes-')
  const app = join(h, 'dev', 'app')
  mkdirSync(app, {recursive: true})
  const env: Record<string, string> = {HOME: h}
  if (profile) {
    env.SOURCEOSCTL_PROFILE = join(h, 'profile.yaml')
    writeFileSync(env.SOURCEOSCTL_PROFILE, profile(app))
  }
  return fakeHostFacts('linux', {homeDir: h, env})
}

const profileYaml = (machine: string, secrets = '{door: none}') => (app: string) => `apiVersion: sourceos.dev/v1alpha1
kind: AgentMachineProfile
metadata: {name: probes}
spec:
  platform: linux
${machine}  image: {ref: localhost/sourceos/agent:latest, digest: null, pull: never}
  mounts:
    - {source: ${app}, target: /workspace/app, mode: rw}
  tools:
    codex: {enabled: true, command: [codex]}
  env: {passthrough: [TERM], set: {}}
  network: {mode: none}
  resources: {cpus: 2, memory: 4g, pidsLimit: 1024}
  secrets: ${secrets}
`
const native = profileYaml('')
const withMachine = profileYaml('  machine: {name: sourceos-agent, provider: qemu, cpus: 2, memoryMiB: 4096, diskGiB: 20, rootful: false}\n')

const check = (report: DoctorJson, id: string) => report.checks.find((c) => c.id === id)

describe('doctor: one podman info on native podman', () => {
  it.each([
    ['no profile', undefined],
    ['a native profile', native],
  ])('%s: podman info runs once and answers the CLI check too; no podman --version', async (_name, profile) => {
    const runner = fakeRunner(linuxNativeRoutes())
    const out = await runCommand(Doctor, ['--json'], {runner, hostFacts: async () => home(profile)})
    const report = out.json as DoctorJson
    const lines = runner.commandLines()
    expect(lines.filter((l) => l.startsWith('podman info'))).toEqual(['podman info --format json'])
    expect(lines.filter((l) => l === 'podman --version')).toEqual([])
    expect(check(report, 'podman-cli')).toMatchObject({status: 'ok', detail: 'podman 4.3.1'})
    expect(report.podman.version).toBe('4.3.1')
    expect(report.tools.podman).toBe('4.3.1')
    expect(check(report, 'podman-service')?.status).toBe('ok')
  })

  it('podman info is the first call, before the profile is read (it is slow; the rest runs beside it)', async () => {
    const runner = fakeRunner(linuxNativeRoutes())
    await runCommand(Doctor, ['--json'], {runner, hostFacts: async () => home(native)})
    expect(runner.commandLines()[0]).toBe('podman info --format json')
  })

  it('info does not answer: podman --version still tells the installed CLI from the failing service', async () => {
    const routes: FakeRoute[] = [
      {match: 'podman info', result: {exitCode: 125, stderr: 'Error: cannot open the storage: database is locked\n'}},
      ...linuxNativeRoutes(),
    ]
    const runner = fakeRunner(routes)
    const out = await runCommand(Doctor, ['--json'], {runner, hostFacts: async () => home(native)})
    const report = out.json as DoctorJson
    expect(runner.commandLines()).toContain('podman --version')
    expect(check(report, 'podman-cli')).toMatchObject({status: 'ok', detail: 'podman 4.3.1'})
    expect(check(report, 'podman-service')?.status).toBe('fail')
    expect(out.exitCode).toBe(4)
  })

  it('podman not installed: the CLI check fails with the install fix', async () => {
    const runner = fakeRunner([{match: 'git --version', result: {stdout: 'git version 2.39.5\n'}}], {unmatched: 'not-found'})
    const out = await runCommand(Doctor, ['--json'], {runner, hostFacts: async () => home(native)})
    const report = out.json as DoctorJson
    expect(check(report, 'podman-cli')?.status).toBe('fail')
    expect(check(report, 'podman-cli')?.fix).toMatch(/install Podman/)
    expect(out.exitCode).toBe(4)
  })

  it('a profile with a machine: its connection answers (podman --connection … info), not the native podman started early', async () => {
    const routes: FakeRoute[] = [
      // The native service would say "local"; only the machine's connection is remote.
      {match: (cmd, args) => cmd === 'podman' && args[0] === '--connection' && args.includes('info'), result: {stdout: podmanFixture('podman5-info-remote-macos.json')}},
      {match: 'podman machine list', result: {stdout: podmanFixture('podman5-machine-list-running.json')}},
      {match: 'podman machine inspect', result: {stdout: podmanFixture('podman5-machine-inspect-running.json')}},
      {match: 'podman system connection list', result: {stdout: podmanFixture('podman58-system-connection-list-desktop-default.json')}},
      ...linuxNativeRoutes(),
    ]
    const runner = fakeRunner(routes, {unmatched: 'not-found'})
    const out = await runCommand(Doctor, ['--json'], {runner, hostFacts: async () => home(withMachine)})
    const report = out.json as DoctorJson
    const lines = runner.commandLines()
    expect(lines).toContain('podman --connection sourceos-agent info --format json')
    expect(lines, 'the CLI probed on its own').toContain('podman --version')
    // The service check is the machine's (remote), not the native podman's (local, rootful).
    expect(check(report, 'podman-service')?.detail).toMatch(/^remote client → server/)
  })

  it('the tool-state volumes are listed while podman info runs, not after it', async () => {
    // podman info answers only once the volume list was asked for: run after info, it would wait
    // for info's deadline (1 s here) and the service check would time out.
    let listed: () => void = () => {}
    const volumesAsked = new Promise<void>((resolve) => (listed = resolve))
    const routes: FakeRoute[] = [
      {match: 'podman volume ls', result: () => (listed(), {stdout: 'sourceos-state-probes-codex\n'})},
      {match: 'podman info', result: async () => (await volumesAsked, {stdout: podmanFixture('podman431-info-rootful.json')})},
      ...linuxNativeRoutes(),
    ]
    const runner = fakeRunner(routes)
    const out = await runCommand(Doctor, ['--json', '--timeout', '1'], {runner, hostFacts: async () => home(profileYaml('', '{door: none, toolState: volume}'))})
    const report = out.json as DoctorJson
    expect(check(report, 'podman-service')?.status).toBe('ok')
    expect(check(report, 'secrets')).toMatchObject({status: 'ok'})
    expect(check(report, 'secrets')?.detail).toContain('sourceos-state-probes-codex')
  })
})
