import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import Doctor from '../../src/commands/agent-machine/doctor.js'
import {fakeRunner} from '../helpers/fake-runner.js'
import {fakeHostFacts} from '../helpers/host-facts.js'
import {schemaErrors} from '../helpers/json-schema.js'
import {linuxNativeRoutes, macosRoutes} from '../helpers/podman-scenarios.js'
import {runCommand} from '../helpers/run-command.js'

interface DoctorJson {
  ready: boolean
  podman: {version: string | null; rootless: boolean | null; remote: boolean | null}
  machine: {name: string | null; state: string}
  checks: Array<{id: string; status: string; fix: string | null; required: boolean}>
}

function tempHome(): string {
  return mkdtempSync(join(tmpdir(), 'doctor-home-'))
}

function linuxFacts(home: string, extra: Record<string, string> = {}) {
  return fakeHostFacts('linux', {homeDir: home, env: {HOME: home, ...extra}})
}

function writeProfile(home: string, yaml: string): string {
  const path = join(home, 'profile.yaml')
  writeFileSync(path, yaml)
  return path
}

const nativeProfile = (mountSource: string) => `apiVersion: sourceos.dev/v1alpha1
kind: AgentMachineProfile
metadata: {name: linux-podman-native}
spec:
  platform: linux
  image: {ref: localhost/sourceos/agent:latest, digest: null, pull: never}
  mounts:
    - {source: ${mountSource}, target: /workspace/app, mode: rw}
  tools:
    codex: {enabled: true, command: [codex]}
  env: {passthrough: [TERM], set: {}}
  network: {mode: default}
  resources: {cpus: 2, memory: 4g, pidsLimit: 1024}
  secrets: {door: none}
`

describe('doctor', () => {
  it('reports a ready native Linux host and validates against its schema', async () => {
    const home = tempHome()
    const out = await runCommand(Doctor, ['--json'], {runner: fakeRunner(linuxNativeRoutes({nix: true})), hostFacts: async () => linuxFacts(home)})
    expect(out.exitCode).toBe(0)
    expect(schemaErrors('agent-machine-doctor-result.schema.json', out.json)).toEqual([])
    const report = out.json as DoctorJson
    expect(report.ready).toBe(true)
    expect(report.podman.version).toBe('4.3.1')
    expect(report.podman.rootless).toBe(false)
    expect(report.podman.remote).toBe(false)
    expect(report.machine).toEqual({name: null, state: 'not-applicable'})
    expect(report.checks.find((c) => c.id === 'profile')?.status).toBe('warn')
  })

  it('exits 4 with a fix when podman is missing', async () => {
    const home = tempHome()
    const runner = fakeRunner([{match: 'git --version', result: {stdout: 'git version 2.39.5\n'}}], {unmatched: 'not-found'})
    const out = await runCommand(Doctor, ['--json'], {runner, hostFacts: async () => linuxFacts(home)})
    expect(out.exitCode).toBe(4)
    expect(schemaErrors('agent-machine-doctor-result.schema.json', out.json)).toEqual([])
    const cli = (out.json as DoctorJson).checks.find((c) => c.id === 'podman-cli')
    expect(cli?.status).toBe('fail')
    expect(cli?.fix).toMatch(/install Podman/)
  })

  it('turns a hung podman into a timed-out check instead of hanging', async () => {
    const home = tempHome()
    const routes = linuxNativeRoutes().filter((r) => r.match !== 'podman info')
    const runner = fakeRunner([{match: 'podman info', result: () => new Promise(() => {})}, ...routes])
    const started = Date.now()
    const out = await runCommand(Doctor, ['--json', '--timeout', '1'], {runner, hostFacts: async () => linuxFacts(home)})
    expect(Date.now() - started).toBeLessThan(5000)
    expect(out.exitCode).toBe(4)
    expect((out.json as DoctorJson).checks.find((c) => c.id === 'podman-service')?.status).toBe('timeout')
  })

  it('prints one line per check and a fix for each failure', async () => {
    const home = tempHome()
    const runner = fakeRunner([{match: 'git --version', result: {stdout: 'git version 2.39.5\n'}}], {unmatched: 'not-found'})
    const out = await runCommand(Doctor, [], {runner, hostFacts: async () => linuxFacts(home)})
    expect(out.exitCode).toBe(4)
    expect(out.stdout).toMatch(/Podman CLI: podman is not installed/)
    expect(out.stdout).toMatch(/fix: install Podman/)
    expect(out.stdout).toMatch(/Not ready/)
  })

  it('on macOS reports a stopped machine, with the start command', async () => {
    const home = tempHome()
    const profile = writeProfile(home, nativeProfile(home).replace('platform: linux', 'platform: macos\n  machine: {name: podman-machine-default, provider: applehv, cpus: 2, memoryMiB: 2048, diskGiB: 20, rootful: false}'))
    const facts = fakeHostFacts('macos', {homeDir: '/Users/dev', env: {HOME: '/Users/dev', SOURCEOSCTL_PROFILE: profile}})
    const out = await runCommand(Doctor, ['--json'], {runner: fakeRunner(macosRoutes('stopped')), hostFacts: async () => facts})
    const report = out.json as DoctorJson
    expect(report.machine).toEqual({name: 'podman-machine-default', state: 'stopped'})
    expect(out.exitCode).toBe(4)
    const machine = report.checks.find((c) => c.id === 'machine')
    expect(machine?.fix).toMatch(/start/)
    expect(report.checks.find((c) => c.id === 'podman-service')?.status).toBe('fail')
  })

  it('on macOS with the machine running reports a remote, rootless podman', async () => {
    const home = tempHome()
    const out = await runCommand(Doctor, ['--json'], {
      runner: fakeRunner([...macosRoutes('running')]),
      hostFacts: async () => fakeHostFacts('macos', {env: {HOME: '/Users/dev', SOURCEOSCTL_CONFIG_DIR: home}}),
    })
    const report = out.json as DoctorJson
    expect(report.podman.remote).toBe(true)
    // Without a profile doctor looks for the templates' machine name.
    expect(report.machine.name).toBe('sourceos-agent')
    expect(report.machine.state).toBe('absent')
  })

  it('as root on Linux with a machine profile reports that podman machine does not run as root', async () => {
    const home = tempHome()
    const profile = writeProfile(home, nativeProfile(home).replace('platform: linux', 'platform: linux\n  machine: {name: vm1, provider: qemu, cpus: 2, memoryMiB: 2048, diskGiB: 20, rootful: false}'))
    const runner = fakeRunner([
      {match: 'podman machine list', result: {exitCode: 125, stderr: 'Error: cannot run command "podman machine list" as root\n'}},
      ...linuxNativeRoutes(),
    ])
    const facts = fakeHostFacts('linux', {homeDir: '/root', uid: 0, isRoot: true, env: {HOME: '/root', SOURCEOSCTL_PROFILE: profile}})
    const out = await runCommand(Doctor, ['--json'], {runner, hostFacts: async () => facts})
    expect((out.json as DoctorJson).machine.state).toBe('unsupported-root')
    expect(out.exitCode).toBe(4)
  })

  it('checks every allowlisted mount and --repo for readability', async () => {
    const home = tempHome()
    const repo = join(home, 'dev', 'app')
    mkdirSync(repo, {recursive: true})
    const profile = writeProfile(home, nativeProfile(repo))
    const facts = linuxFacts(home, {SOURCEOSCTL_PROFILE: profile})
    const ok = await runCommand(Doctor, ['--json', '--repo', repo], {runner: fakeRunner(linuxNativeRoutes()), hostFacts: async () => facts})
    const checks = (ok.json as DoctorJson).checks
    expect(checks.find((c) => c.id === 'mount:/workspace/app')?.status).toBe('ok')
    expect(checks.find((c) => c.id === 'repo')?.status).toBe('ok')
    expect(ok.exitCode).toBe(0)

    const missing = await runCommand(Doctor, ['--json', '--repo', join(home, 'nope')], {runner: fakeRunner(linuxNativeRoutes()), hostFacts: async () => facts})
    expect((missing.json as DoctorJson).checks.find((c) => c.id === 'repo')?.status).toBe('fail')
    expect(missing.exitCode).toBe(4)
  })

  it('reports an invalid profile with its line and column', async () => {
    const home = tempHome()
    const profile = writeProfile(home, nativeProfile(home).replace('network: {mode: default}', 'network: {mode: default, bogus: 1}'))
    const out = await runCommand(Doctor, [], {runner: fakeRunner(linuxNativeRoutes()), hostFacts: async () => linuxFacts(home, {SOURCEOSCTL_PROFILE: profile})})
    expect(out.exitCode).toBe(4)
    expect(out.stdout).toMatch(/profile\.yaml:\d+:\d+/)
  })
})
