import {describe, expect, it} from 'vitest'
import type {HostPlatform} from '../../../src/core/host/facts.js'
import {
  DEFAULT_PODMAN_TIMEOUT_MS,
  PodmanAdapter,
  type PodmanFailure,
  type PodmanResult,
} from '../../../src/core/podman/adapter.js'
import {fakeRunner, NOT_FOUND, type FakeRoute} from '../../helpers/fake-runner.js'
import {podmanFixture} from '../../helpers/fixtures.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'

function adapter(routes: FakeRoute[], platform: HostPlatform = 'linux', opts: {binary?: string; timeoutMs?: number; env?: Record<string, string>} = {}) {
  const runner = fakeRunner(routes)
  const host = fakeHostFacts(platform, opts.env ? {env: opts.env} : {})
  return {runner, podman: new PodmanAdapter(runner, host, {binary: opts.binary, timeoutMs: opts.timeoutMs})}
}

function value<T>(result: PodmanResult<T>): T {
  if (!result.ok) throw new Error(`expected ok, got ${result.failure.kind}: ${result.failure.message}`)
  return result.value
}

function failure<T>(result: PodmanResult<T>): PodmanFailure {
  if (result.ok) throw new Error('expected a failure')
  return result.failure
}

/** Podman's own failure: exit 125, the given stderr (and stdout). */
const podmanError = (stderr: string, stdout = ''): FakeRoute['result'] => ({exitCode: 125, stderr, stdout})

const CONNECTION_FAILED_5 = podmanError(podmanFixture('podman5-connection-failed.stderr.txt'), podmanFixture('podman5-info-connection-failed.stdout.yaml'))

describe('PodmanAdapter: invocation', () => {
  it('passes the exact argv and a timeout on every call', async () => {
    const {runner, podman} = adapter([
      {match: 'podman --version', result: {stdout: podmanFixture('podman431-version.txt')}},
      {match: 'podman version', result: {stdout: podmanFixture('podman431-version-native-linux.json')}},
      {match: 'podman info', result: {stdout: podmanFixture('podman431-info-rootful.json')}},
      {match: 'podman machine list', result: {stdout: podmanFixture('podman5-machine-list-running.json')}},
      {match: 'podman machine inspect', result: {stdout: podmanFixture('podman5-machine-inspect-running.json')}},
      {match: 'podman image inspect', result: {stdout: podmanFixture('podman431-image-inspect.json')}},
    ])
    await podman.cliVersion()
    await podman.version()
    await podman.info()
    await podman.machineList()
    await podman.machineInspect('podman-machine-default')
    await podman.imageInspect('localhost/test-bb:1')
    expect(runner.commandLines()).toEqual([
      'podman --version',
      'podman version --format json',
      'podman info --format json',
      'podman machine list --format json',
      'podman machine inspect -- podman-machine-default',
      'podman image inspect --format json -- localhost/test-bb:1',
    ])
    expect(runner.calls.every((call) => call.options?.timeoutMs === DEFAULT_PODMAN_TIMEOUT_MS)).toBe(true)
    expect(DEFAULT_PODMAN_TIMEOUT_MS).toBe(10_000)
  })

  it('uses the configured timeout', async () => {
    const {runner, podman} = adapter([{match: 'podman info', result: {stdout: podmanFixture('podman431-info-rootful.json')}}], 'linux', {timeoutMs: 2500})
    await podman.info()
    expect(runner.calls[0]?.options?.timeoutMs).toBe(2500)
  })

  it('honours SOURCEOSCTL_PODMAN, and an explicit binary over it', async () => {
    const viaEnv = adapter([{match: '/opt/podman/bin/podman --version', result: {stdout: 'podman version 5.8.2\n'}}], 'macos', {env: {SOURCEOSCTL_PODMAN: '/opt/podman/bin/podman'}})
    expect(value(await viaEnv.podman.cliVersion())).toBe('5.8.2')
    expect(viaEnv.runner.calls[0]?.command).toBe('/opt/podman/bin/podman')

    const explicit = adapter([{match: 'podman-next --version', result: {stdout: 'podman version 6.0.0-dev\n'}}], 'linux', {binary: 'podman-next', env: {SOURCEOSCTL_PODMAN: '/elsewhere/podman'}})
    expect(explicit.podman.binary).toBe('podman-next')
    expect(value(await explicit.podman.cliVersion())).toBe('6.0.0-dev')
  })
})

describe('PodmanAdapter: reads', () => {
  it('cliVersion', async () => {
    const {podman} = adapter([{match: 'podman --version', result: {stdout: podmanFixture('podman431-version.txt')}}])
    expect(await podman.cliVersion()).toEqual({ok: true, value: '4.3.1'})
  })

  it('cliVersion with an unknown banner is unparseable', async () => {
    const {podman} = adapter([{match: 'podman --version', result: {stdout: 'hello\n'}}])
    expect(failure(await podman.cliVersion()).kind).toBe('unparseable')
  })

  it('version: native Linux (real 4.3.1) vs remote macOS (4.x, 5.x)', async () => {
    const linux = adapter([{match: 'podman version', result: {stdout: podmanFixture('podman431-version-native-linux.json')}}])
    expect(value(await linux.podman.version())).toMatchObject({remote: false, server: null, client: {version: '4.3.1'}})
    for (const name of ['podman4-version-remote-macos.json', 'podman5-version-remote-macos.json']) {
      const mac = adapter([{match: 'podman version', result: {stdout: podmanFixture(name)}}], 'macos')
      expect(value(await mac.podman.version())).toMatchObject({remote: true, client: {os: 'darwin'}, server: {os: 'linux'}})
    }
  })

  it('info: rootful and rootless 4.3.1 (real), remote 5.x', async () => {
    const rootful = adapter([{match: 'podman info', result: {stdout: podmanFixture('podman431-info-rootful.json')}}])
    expect(value(await rootful.podman.info())).toMatchObject({rootless: false, remote: false, cgroupVersion: 'v1'})
    const rootless = adapter([{match: 'podman info', result: {stdout: podmanFixture('podman431-info-rootless.json')}}])
    expect(value(await rootless.podman.info())).toMatchObject({rootless: true, graphDriver: 'vfs'})
    const mac = adapter([{match: 'podman info', result: {stdout: podmanFixture('podman5-info-remote-macos.json')}}], 'macos')
    expect(value(await mac.podman.info())).toMatchObject({remote: true, remoteSocket: {path: '/run/user/501/podman/podman.sock', exists: true}})
  })

  it('machineList: none (real 4.3.1 rootless, no trailing newline) and running', async () => {
    const none = adapter([{match: 'podman machine list', result: {stdout: podmanFixture('podman431-machine-list-none.json')}}])
    expect(value(await none.podman.machineList())).toEqual([])
    const one = adapter([{match: 'podman machine list', result: {stdout: podmanFixture('podman4-machine-list-running.json')}}], 'macos')
    expect(value(await one.podman.machineList())).toMatchObject([{name: 'podman-machine-default', running: true}])
  })

  it('machineInspect picks the named machine, 4.x and 5.x', async () => {
    for (const name of ['podman4-machine-inspect-running.json', 'podman5-machine-inspect-running.json', 'podman5-wsl-machine-inspect-running.json']) {
      const {podman} = adapter([{match: 'podman machine inspect', result: {stdout: podmanFixture(name)}}], 'macos')
      expect(value(await podman.machineInspect('podman-machine-default'))).toMatchObject({name: 'podman-machine-default', state: 'running'})
    }
  })

  it('machineInspect on 4.x WSL: null socket', async () => {
    const {podman} = adapter([{match: 'podman machine inspect', result: {stdout: podmanFixture('podman4-wsl-machine-inspect-running.json')}}], 'windows')
    expect(value(await podman.machineInspect('podman-machine-default'))).toMatchObject({socketPath: null, pipe: '\\\\.\\pipe\\podman-machine-default'})
  })

  it('imageInspect (real 4.3.1)', async () => {
    const {podman} = adapter([{match: 'podman image inspect', result: {stdout: podmanFixture('podman431-image-inspect.json')}}])
    expect(value(await podman.imageInspect('localhost/test-bb:1'))).toMatchObject({
      id: 'c5dfba5b96b2cb22bb23c916ced44b72220612a436458c757ed5664075c44cb2',
      repoTags: ['localhost/test-bb:1'],
    })
  })
})

describe('PodmanAdapter: failures', () => {
  it('not installed: the fix names the platform\'s way', async () => {
    const fixes: Record<HostPlatform, RegExp> = {macos: /brew install podman/, windows: /winget install RedHat\.Podman/, linux: /apt-get install podman/}
    for (const platform of ['linux', 'macos', 'windows'] as const) {
      const {podman} = adapter([{match: 'podman', result: NOT_FOUND}], platform)
      const f = failure(await podman.info())
      expect(f).toMatchObject({kind: 'not-installed', exitCode: null})
      expect(f.fix).toMatch(fixes[platform])
    }
  })

  it('timeout', async () => {
    const {podman} = adapter([{match: 'podman machine list', hangs: true}], 'macos', {timeoutMs: 300})
    const f = failure(await podman.machineList())
    expect(f.kind).toBe('timeout')
    expect(f.message).toMatch(/timed out after 300 ms/)
  })

  it('connection failure with YAML on stdout: no throw, connection-failed, fix names the machine start', async () => {
    const {podman} = adapter([{match: 'podman info', result: CONNECTION_FAILED_5}], 'macos')
    const f = failure(await podman.info())
    expect(f.kind).toBe('connection-failed')
    expect(f.exitCode).toBe(125)
    expect(f.message).toBe('cannot connect to Podman: unable to connect to Podman socket: failed to connect: dial tcp 127.0.0.1:53298: connect: connection refused')
    expect(f.message).not.toContain('\n')
    expect(f.fix).toMatch(/podman machine start/)
    expect(f.fix).toMatch(/sourceosctl agent-machine start/)
  })

  it('connection failure of version too (it needs the service)', async () => {
    const {podman} = adapter([{match: 'podman version', result: CONNECTION_FAILED_5}], 'windows')
    expect(failure(await podman.version()).kind).toBe('connection-failed')
  })

  it('real 4.3.1 remote failure (unix socket missing) on Linux: connection-failed with a connection fix', async () => {
    const {podman} = adapter([{match: 'podman info', result: podmanError(podmanFixture('podman431-remote-connection-failed.stderr.txt'), podmanFixture('podman431-remote-connection-failed.stdout.txt'))}])
    const f = failure(await podman.info())
    expect(f.kind).toBe('connection-failed')
    expect(f.fix).toMatch(/podman system connection list/)
  })

  it.each([
    ['ssh: handshake failed: ssh: unable to authenticate'],
    ['Error: unable to connect to Podman socket: dial tcp 127.0.0.1:61425: connectex: No connection could be made because the target machine actively refused it.'],
  ])('connection-failed variant: %s', async (stderr) => {
    const {podman} = adapter([{match: 'podman info', result: podmanError(stderr)}], 'windows')
    expect(failure(await podman.info()).kind).toBe('connection-failed')
  })

  it('machine commands as root (real 4.3.1 refusal)', async () => {
    const {podman} = adapter([
      {match: 'podman machine list', result: podmanError(podmanFixture('podman431-machine-list-root-refused.stderr.txt'), podmanFixture('podman431-machine-list-root-refused.stdout.txt'))},
      {match: 'podman machine inspect', result: podmanError(podmanFixture('podman431-machine-inspect-root-refused.stderr.txt'))},
    ])
    const list = failure(await podman.machineList())
    expect(list.kind).toBe('machine-root-refused')
    expect(list.message).toContain('cannot run command "podman machine list" as root')
    expect(list.fix).toMatch(/not root/)
    expect(failure(await podman.machineInspect('nosuch')).kind).toBe('machine-root-refused')
  })

  it.each([
    ['podman4-machine-inspect-missing', 'podman-machine-default'],
    ['podman5-machine-inspect-missing', 'podman-machine-default'],
    ['podman431-machine-inspect-missing', 'nosuch'],
  ])('missing machine (%s): exit 125, stdout [] not used', async (prefix, name) => {
    const {podman} = adapter([{match: 'podman machine inspect', result: podmanError(podmanFixture(`${prefix}.stderr.txt`), podmanFixture(`${prefix}.stdout.json`))}], 'macos')
    const f = failure(await podman.machineInspect(name))
    expect(f).toMatchObject({kind: 'machine-missing', exitCode: 125, message: `Podman machine "${name}" does not exist`})
    expect(f.fix).toContain(`podman machine init ${name}`)
  })

  it('missing machine with exit 0 and []', async () => {
    const {podman} = adapter([{match: 'podman machine inspect', result: {stdout: '[]\n'}}], 'macos')
    expect(failure(await podman.machineInspect('gone')).kind).toBe('machine-missing')
  })

  it('missing image (real 4.3.1)', async () => {
    const {podman} = adapter([{match: 'podman image inspect', result: podmanError(podmanFixture('podman431-image-inspect-missing.stderr.txt'), podmanFixture('podman431-image-inspect-missing.stdout.json'))}])
    const f = failure(await podman.imageInspect('localhost/nosuch:1'))
    expect(f).toMatchObject({kind: 'image-missing', exitCode: 125, message: 'image localhost/nosuch:1 is not in local storage'})
    expect(f.fix).toMatch(/podman build -t localhost\/nosuch:1/)
  })

  it.each(['Error: failed to find image nosuch', 'Error: no such image: nosuch'])('missing image variant: %s', async (stderr) => {
    const {podman} = adapter([{match: 'podman image inspect', result: podmanError(stderr)}])
    expect(failure(await podman.imageInspect('nosuch')).kind).toBe('image-missing')
  })

  it('an image ID that is not 64 hex is unparseable', async () => {
    const {podman} = adapter([{match: 'podman image inspect', result: {stdout: '[{"Id":"abc"}]'}}])
    expect(failure(await podman.imageInspect('x')).kind).toBe('unparseable')
  })

  it('invalid JSON on success is unparseable, never a throw', async () => {
    const {podman} = adapter([{match: 'podman info', result: {stdout: podmanFixture('podman5-info-connection-failed.stdout.yaml')}}])
    const f = failure(await podman.info())
    expect(f.kind).toBe('unparseable')
    expect(f.message).toContain('podman info --format json')
  })

  it('anything else is failed, with podman\'s own error line', async () => {
    const {podman} = adapter([{match: 'podman image inspect', result: podmanError('Error: inspecting object: invalid reference format\n')}])
    const f = failure(await podman.imageInspect('--help'))
    expect(f.kind).toBe('failed')
    expect(f.message).toContain('invalid reference format')
    expect(f.fix).toContain('podman image inspect --format json -- --help')
  })
})

describe('PodmanAdapter.machineState', () => {
  const listing = (name: string): FakeRoute[] => [{match: 'podman machine list', result: {stdout: podmanFixture(name)}}]

  it('not-applicable without a machine name, and runs nothing', async () => {
    const {runner, podman} = adapter([])
    expect(await podman.machineState(undefined)).toMatchObject({state: 'not-applicable', fix: null, machine: null})
    expect(runner.calls).toEqual([])
  })

  it.each([
    ['podman5-machine-list-running.json', 'running', null],
    ['podman4-machine-list-running.json', 'running', null],
    ['podman5-machine-list-stopped.json', 'stopped', /podman machine start podman-machine-default/],
    ['podman4-machine-list-stopped.json', 'stopped', /podman machine start podman-machine-default/],
    ['podman5-machine-list-stopped-never-started.json', 'stopped', /podman machine start/],
    ['podman5-machine-list-starting.json', 'starting', /Wait/],
  ] as const)('%s → %s', async (fixture, state, fix) => {
    const {podman} = adapter(listing(fixture), 'macos')
    const result = await podman.machineState('podman-machine-default')
    expect(result.state).toBe(state)
    expect(result.machine?.name).toBe('podman-machine-default')
    if (fix === null) expect(result.fix).toBeNull()
    else expect(result.fix).toMatch(fix)
  })

  it('absent when the list lacks it (including an empty list)', async () => {
    for (const name of ['podman5-machine-list-running.json', 'podman431-machine-list-none.json']) {
      const {podman} = adapter(listing(name), 'macos')
      const result = await podman.machineState('sourceos-agent')
      expect(result).toMatchObject({state: 'absent', machine: null})
      expect(result.fix).toContain('podman machine init sourceos-agent')
    }
  })

  it('unsupported-root when podman refuses machine commands as root (real 4.3.1)', async () => {
    const {podman} = adapter([{match: 'podman machine list', result: podmanError(podmanFixture('podman431-machine-list-root-refused.stderr.txt'))}])
    const result = await podman.machineState('sourceos-agent')
    expect(result).toMatchObject({state: 'unsupported-root', machine: null})
    expect(result.detail).toContain('as root')
    expect(result.fix).toBe('Run as your normal user, not root or sudo (Podman machines are per-user), or use a native Linux profile, which needs no machine.')
  })

  it.each([
    ['hung', {match: 'podman machine list', hangs: true}, 'a hung machine may need `podman machine stop` and a fresh start'],
    ['not installed', {match: 'podman', result: NOT_FOUND}, 'Install Podman (`brew install podman`'],
    ['garbage', {match: 'podman machine list', result: {stdout: 'NAME  VM TYPE\n'}}, 'if Podman\'s output format changed, report it together with `podman --version`'],
  ] as const)('unknown when the list cannot be read (%s), with the fix for that cause', async (_label, route, fix) => {
    const {podman} = adapter([route], 'macos')
    const result = await podman.machineState('podman-machine-default')
    expect(result.state).toBe('unknown')
    expect(result.fix).toContain(fix)
    expect(result.machine).toBeNull()
  })

  it('a starred name still matches', async () => {
    const {podman} = adapter([{match: 'podman machine list', result: {stdout: '[{"Name":"dev*","Running":true}]'}}], 'macos')
    expect(await podman.machineState('dev')).toMatchObject({state: 'running', machine: {name: 'dev', default: true}})
  })
})
