import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import Doctor from '../../src/commands/agent-machine/doctor.js'
import {fakeRunner, type FakeRoute} from '../helpers/fake-runner.js'
import {podmanFixture} from '../helpers/fixtures.js'
import {fakeHostFacts} from '../helpers/host-facts.js'
import {schemaErrors} from '../helpers/json-schema.js'
import {linuxNativeRoutes, macosRoutes} from '../helpers/podman-scenarios.js'
import {runCommand} from '../helpers/run-command.js'
import {tempDir} from '../helpers/temp-dirs.js'

interface DoctorJson {
  ready: boolean
  podman: {version: string | null; rootless: boolean | null; remote: boolean | null}
  machine: {name: string | null; state: string}
  checks: Array<{id: string; status: string; fix: string | null; required: boolean}>
}

function tempHome(): string {
  return tempDir('doctor-home-')
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

  it('on macOS with the profile\'s machine running reports it running, and podman remote and rootless', async () => {
    const home = tempHome()
    const profile = writeProfile(home, nativeProfile(home).replace('platform: linux', 'platform: macos\n  machine: {name: podman-machine-default, provider: applehv, cpus: 2, memoryMiB: 2048, diskGiB: 20, rootful: false}'))
    const out = await runCommand(Doctor, ['--json'], {
      runner: fakeRunner([...macosRoutes('running')]),
      hostFacts: async () => fakeHostFacts('macos', {homeDir: '/Users/dev', env: {HOME: '/Users/dev', SOURCEOSCTL_PROFILE: profile}}),
    })
    const report = out.json as DoctorJson
    expect(report.machine).toEqual({name: 'podman-machine-default', state: 'running'})
    expect(report.podman.remote).toBe(true)
    expect(report.podman.rootless).toBe(true)
    expect(report.checks.find((c) => c.id === 'machine')?.status).toBe('ok')
  })

  it('on macOS without a profile looks for the templates\' machine name: absent, though another machine runs', async () => {
    const home = tempHome()
    const out = await runCommand(Doctor, ['--json'], {
      runner: fakeRunner([...macosRoutes('running')]),
      hostFacts: async () => fakeHostFacts('macos', {env: {HOME: '/Users/dev', SOURCEOSCTL_CONFIG_DIR: home}}),
    })
    const report = out.json as DoctorJson
    expect(report.machine).toEqual({name: 'sourceos-agent', state: 'absent'})
    expect(report.checks.find((c) => c.id === 'machine')?.fix).toBe('Create it with `podman machine init sourceos-agent`.')
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

  it('checks every allowlisted mount and --repo: each that is there passes, a missing one or a missing --repo fails', async () => {
    const home = tempHome()
    const repo = join(home, 'dev', 'app')
    const docs = join(home, 'dev', 'docs')
    mkdirSync(repo, {recursive: true})
    mkdirSync(docs, {recursive: true})
    const twoMounts = (docsSource: string) => nativeProfile(repo).replace('mode: rw}', `mode: rw}\n    - {source: ${docsSource}, target: /workspace/docs, mode: ro}`)
    const profile = writeProfile(home, twoMounts(docs))
    const facts = linuxFacts(home, {SOURCEOSCTL_PROFILE: profile})
    const ok = await runCommand(Doctor, ['--json', '--repo', repo], {runner: fakeRunner(linuxNativeRoutes()), hostFacts: async () => facts})
    const checks = (ok.json as DoctorJson).checks
    expect(checks.filter((c) => c.id.startsWith('mount:')).map((c) => [c.id, c.status])).toEqual([['mount:/workspace/app', 'ok'], ['mount:/workspace/docs', 'ok']])
    expect(checks.find((c) => c.id === 'repo')?.status).toBe('ok')
    expect(ok.exitCode).toBe(0)

    writeProfile(home, twoMounts(join(home, 'dev', 'gone')))
    const second = await runCommand(Doctor, ['--json'], {runner: fakeRunner(linuxNativeRoutes()), hostFacts: async () => facts})
    const after = (second.json as DoctorJson).checks
    expect(after.find((c) => c.id === 'mount:/workspace/app')?.status).toBe('ok')
    expect(after.find((c) => c.id === 'mount:/workspace/docs')?.status).toBe('fail')
    expect(second.exitCode).toBe(4)

    const missing = await runCommand(Doctor, ['--json', '--repo', join(home, 'nope')], {runner: fakeRunner(linuxNativeRoutes()), hostFacts: async () => facts})
    expect((missing.json as DoctorJson).checks.find((c) => c.id === 'repo')?.status).toBe('fail')
    expect(missing.exitCode).toBe(4)
  })

  it('the profile\'s image is a required check: missing → not ready, with the fix `sourceosctl agent-machine start` naming the tag', async () => {
    const home = tempHome()
    const profile = writeProfile(home, nativeProfile(home).replace('localhost/sourceos/agent:latest', 'localhost/team/agent:7'))
    const routes: FakeRoute[] = [
      {match: 'podman image inspect', result: {exitCode: 125, stdout: '[]\n', stderr: 'Error: localhost/team/agent:7: image not known\n'}},
      ...linuxNativeRoutes({rootless: true}),
    ]
    const runner = fakeRunner(routes)
    const out = await runCommand(Doctor, [], {runner, hostFacts: async () => linuxFacts(home, {SOURCEOSCTL_PROFILE: profile})})
    expect(out.exitCode).toBe(4)
    expect(runner.commandLines()).toContain('podman image inspect --format json -- localhost/team/agent:7')
    expect(out.stdout).toMatch(/Image localhost\/team\/agent:7: not in your rootless podman store/)
    expect(out.stdout).toMatch(/fix: run `sourceosctl agent-machine start` \(it builds localhost\/team\/agent:7 from the Containerfile/)
    expect(out.stdout).toContain('build-debootstrap.sh --tag localhost/team/agent:7')
    expect(out.stdout).not.toMatch(/Ready\./)
    const json = await runCommand(Doctor, ['--json'], {runner: fakeRunner(routes), hostFacts: async () => linuxFacts(home, {SOURCEOSCTL_PROFILE: profile})})
    const image = (json.json as DoctorJson).checks.find((c) => c.id === 'image')
    expect(image).toMatchObject({status: 'fail', required: true})
    expect((json.json as DoctorJson).ready).toBe(false)
  })

  it('--repo: says whether it is allowlisted (a mount, inside one, or not: with the init command)', async () => {
    const home = tempHome()
    const repo = join(home, 'dev', 'app')
    const other = join(home, 'dev', 'other')
    mkdirSync(join(repo, 'sub'), {recursive: true})
    mkdirSync(other, {recursive: true})
    const facts = linuxFacts(home, {SOURCEOSCTL_PROFILE: writeProfile(home, nativeProfile(repo))})
    const allowed = async (path: string) => {
      const out = await runCommand(Doctor, ['--json', '--repo', path], {runner: fakeRunner(linuxNativeRoutes()), hostFacts: async () => facts})
      return {out, check: (out.json as DoctorJson).checks.find((c) => c.id === 'repo-allowlisted') as DoctorJson['checks'][number] & {detail: string}}
    }
    expect((await allowed(repo)).check.status).toBe('ok')
    const inside = await allowed(join(repo, 'sub'))
    expect(inside.check.status).toBe('ok')
    expect(inside.check.detail).toContain(`inside the allowlisted mount ${repo}`)
    const no = await allowed(other)
    expect(no.check.status).toBe('fail')
    expect(no.check.detail).toMatch(/is not an allowlisted mount/)
    expect(no.check.fix).toBe(`allow it: \`sourceosctl agent-machine init --repo ${other}\``)
    expect(no.out.exitCode).toBe(4)
  })

  it('reports an invalid profile with its line and column', async () => {
    const home = tempHome()
    const profile = writeProfile(home, nativeProfile(home).replace('network: {mode: default}', 'network: {mode: default, bogus: 1}'))
    const out = await runCommand(Doctor, [], {runner: fakeRunner(linuxNativeRoutes()), hostFacts: async () => linuxFacts(home, {SOURCEOSCTL_PROFILE: profile})})
    expect(out.exitCode).toBe(4)
    expect(out.stdout).toMatch(/profile\.yaml:\d+:\d+/)
  })
})

describe('doctor: the connection of the machine in use (issue 11, defect 3)', () => {
  // A Podman Desktop user's Mac: podman-machine-default-root is the default connection, the
  // profile's machine is sourceos-agent (test/fixtures/podman/README.md, "Connections").
  function macProfile(rootful: boolean) {
    const home = tempHome()
    const profile = writeProfile(home, nativeProfile(home).replace('platform: linux', `platform: macos\n  machine: {name: sourceos-agent, provider: applehv, cpus: 2, memoryMiB: 2048, diskGiB: 20, rootful: ${rootful}}`))
    return fakeHostFacts('macos', {homeDir: '/Users/jdoe', env: {HOME: '/Users/jdoe', SOURCEOSCTL_PROFILE: profile}})
  }
  const list = JSON.parse(podmanFixture('podman5-machine-list-running.json')) as Array<{Name: string; Default: boolean; Port: number}>
  list[0]!.Name = 'sourceos-agent'
  list[0]!.Default = false
  list[0]!.Port = 61022 // the port in the fixture's sourceos-agent connection URIs
  const via = (connection: string, verb: string) => (cmd: string, args: readonly string[]) => cmd === 'podman' && args[0] === '--connection' && args[1] === connection && args[2] === verb
  function routes(connection: string, info: string, connections = podmanFixture('podman58-system-connection-list-desktop-default.json')): FakeRoute[] {
    return [
      {match: (cmd, args) => cmd === 'podman' && args[0] === '--version', result: {stdout: 'podman version 5.3.1\n'}},
      {match: via(connection, 'info'), result: {stdout: podmanFixture(info)}},
      {match: via(connection, 'version'), result: {stdout: podmanFixture('podman5-version-remote-macos.json')}},
      // plain podman (the default connection) is another VM: any call that lands there fails loudly
      {match: (cmd, args) => cmd === 'podman' && (args[0] === 'info' || args[0] === 'version'), result: {exitCode: 125, stderr: 'Error: this is podman-machine-default-root, not the profile’s machine\n'}},
      {match: (cmd, args) => cmd === 'podman' && args[0] === 'machine' && args[1] === 'list', result: {stdout: JSON.stringify(list)}},
      {match: (cmd, args) => cmd === 'podman' && args[0] === 'machine' && args[1] === 'inspect', result: {stdout: podmanFixture('podman5-machine-inspect-running.json').replace(/podman-machine-default/g, 'sourceos-agent')}},
      {match: (cmd, args) => cmd === 'podman' && args.join(' ') === 'system connection list --format json', result: {stdout: connections}},
      {match: 'git --version', result: {stdout: 'git version 2.39.3 (Apple Git-145)\n'}},
      {match: 'nix --version', result: {exitCode: null, notFound: true}},
    ]
  }
  const find = (report: DoctorJson, id: string) => report.checks.find((c) => c.id === id) as (DoctorJson['checks'][number] & {detail: string}) | undefined

  it.each([
    [false, 'sourceos-agent', 'podman5-info-remote-macos.json', 'ssh://core@127.0.0.1:61022/run/user/501/podman/podman.sock', 'rootless'],
    [true, 'sourceos-agent-root', 'podman58-info-connection-sourceos-agent-root.json', 'ssh://root@127.0.0.1:61022/run/podman/podman.sock', 'rootful'],
  ])('rootful %s: info and version go through --connection %s, the connection exists and answers, and doctor warns that the default differs', async (rootful, connection, info, uri, mode) => {
    const runner = fakeRunner(routes(connection, info))
    const out = await runCommand(Doctor, ['--json'], {runner, hostFacts: async () => macProfile(rootful)})
    const report = out.json as DoctorJson
    expect(schemaErrors('agent-machine-doctor-result.schema.json', report)).toEqual([])
    const calls = runner.calls.filter((c) => c.command === 'podman')
    for (const c of calls.filter((x) => ['info', 'version'].includes(x.args[2] ?? x.args[0]!))) expect(c.args.slice(0, 2)).toEqual(['--connection', connection])
    for (const c of calls.filter((x) => x.args[0] === 'machine' || x.args[0] === 'system' || x.args[0] === '--version')) expect(c.args).not.toContain('--connection')
    expect(report.podman.remote).toBe(true)
    const conn = find(report, 'podman-connection')
    expect(conn?.status).toBe('ok')
    expect(conn?.detail).toContain(`${connection} → ${uri}`)
    expect(conn?.detail).toContain(mode)
    const def = find(report, 'podman-default-connection')
    expect(def?.status).toBe('warn')
    expect(def?.detail).toMatch(new RegExp(`default connection is podman-machine-default-root .* not ${connection}`))
    expect(def?.fix).toContain(`podman system connection default ${connection}`)
    expect(def?.required).toBe(false)
  })

  it('the default is the profile’s machine: ok, no warning', async () => {
    const desk = JSON.parse(podmanFixture('podman58-system-connection-list-desktop-default.json')) as Array<{Name: string; Default: boolean}>
    for (const c of desk) c.Default = c.Name === 'sourceos-agent'
    const runner = fakeRunner(routes('sourceos-agent', 'podman5-info-remote-macos.json', JSON.stringify(desk)))
    const report = (await runCommand(Doctor, ['--json'], {runner, hostFacts: async () => macProfile(false)})).json as DoctorJson
    expect(find(report, 'podman-default-connection')?.status).toBe('ok')
  })

  it('a connection that does not exist fails with the init that creates it (4.x list shape)', async () => {
    const old = JSON.parse(podmanFixture('podman49-system-connection-list-desktop-default.json')) as Array<{Name: string}>
    const runner = fakeRunner(routes('sourceos-agent', 'podman5-info-remote-macos.json', JSON.stringify(old.filter((c) => !c.Name.startsWith('sourceos-agent')))))
    const out = await runCommand(Doctor, ['--json'], {runner, hostFacts: async () => macProfile(false)})
    const conn = find(out.json as DoctorJson, 'podman-connection')
    expect(conn?.status).toBe('fail')
    expect(conn?.detail).toMatch(/no connection named sourceos-agent \(there are: podman-machine-default, podman-machine-default-root\)/)
    expect(conn?.fix).toContain('podman machine init sourceos-agent')
    expect(out.exitCode).toBe(4)
  })

  it('a connection that answers as a local service (containers on this host, not in the VM) fails', async () => {
    const runner = fakeRunner(routes('sourceos-agent', 'podman431-info-rootless.json'))
    const out = await runCommand(Doctor, ['--json'], {runner, hostFacts: async () => macProfile(false)})
    const conn = find(out.json as DoctorJson, 'podman-connection')
    expect(conn?.status).toBe('fail')
    expect(conn?.detail).toMatch(/local service .*not in machine sourceos-agent/)
  })

  it('a connection that exists but does not answer (machine stopped) fails with how to start it', async () => {
    const r = routes('sourceos-agent', 'podman5-info-remote-macos.json')
    r.unshift({match: via('sourceos-agent', 'info'), result: {exitCode: 125, stdout: podmanFixture('podman5-info-connection-failed.stdout.yaml'), stderr: podmanFixture('podman5-connection-failed.stderr.txt')}})
    const out = await runCommand(Doctor, ['--json'], {runner: fakeRunner(r), hostFacts: async () => macProfile(false)})
    const conn = find(out.json as DoctorJson, 'podman-connection')
    expect(conn?.status).toBe('fail')
    expect(conn?.detail).toMatch(/exists but does not answer/)
    expect(conn?.fix).toContain('sourceosctl agent-machine start')
  })

  it('a connection whose URI leads to another VM’s port fails: the audited machine would not be the one running the containers', async () => {
    const r = routes('sourceos-agent', 'podman5-info-remote-macos.json')
    const other = structuredClone(list)
    other[0]!.Port = 53298 // podman-machine-default's port: the connection and the machine disagree
    r.unshift({match: (cmd, args) => cmd === 'podman' && args[0] === 'machine' && args[1] === 'list', result: {stdout: JSON.stringify(other)}})
    const out = await runCommand(Doctor, ['--json'], {runner: fakeRunner(r), hostFacts: async () => macProfile(false)})
    const conn = find(out.json as DoctorJson, 'podman-connection')
    expect(conn?.status).toBe('fail')
    expect(conn?.detail).toMatch(/leads to port 61022, but machine sourceos-agent listens on port 53298/)
    expect(conn?.fix).toContain('podman machine rm sourceos-agent')
    expect(out.exitCode).toBe(4)
  })

  it('a Linux-native profile: no --connection on any call, no connection list, both connection checks skipped', async () => {
    const home = tempHome()
    const profile = writeProfile(home, nativeProfile(home))
    const runner = fakeRunner([...linuxNativeRoutes({rootless: true}), {match: 'nix --version', result: {exitCode: null, notFound: true}}])
    const out = await runCommand(Doctor, ['--json'], {runner, hostFacts: async () => linuxFacts(home, {SOURCEOSCTL_PROFILE: profile})})
    const report = out.json as DoctorJson
    expect(runner.calls.flatMap((c) => c.args).some((a) => a.startsWith('--connection'))).toBe(false)
    expect(runner.commandLines().some((l) => l.includes('system connection'))).toBe(false)
    expect(find(report, 'podman-connection')?.status).toBe('skip')
    expect(find(report, 'podman-default-connection')?.status).toBe('skip')
  })
})
