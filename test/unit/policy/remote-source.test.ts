// A remote Podman host (spec.connection, issue 11 deliver 5): the profile field, the context it
// gives every podman call, and the judgement of remote mount sources as strings.
import {describe, expect, it} from 'vitest'
import {AgentMachineError} from '../../../src/core/errors.js'
import {remoteSourceCheckArgs} from '../../../src/core/doctor/remote-mounts.js'
import {podmanArgv, podmanContext} from '../../../src/core/podman/context.js'
import {judgeRemoteSource} from '../../../src/core/policy/remote-source.js'
import {parseProfile} from '../../../src/core/profile/loader.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'

const linux = fakeHostFacts('linux', {homeDir: '/home/u', env: {HOME: '/home/u'}})
const macos = fakeHostFacts('macos', {homeDir: '/Users/u', env: {HOME: '/Users/u'}})

function refusal(source: string, host = linux): AgentMachineError {
  try {
    judgeRemoteSource(source, host)
  } catch (error) {
    expect(error).toBeInstanceOf(AgentMachineError)
    expect((error as AgentMachineError).exitCode).toBe(3)
    return error as AgentMachineError
  }
  throw new Error(`expected ${source} to be refused`)
}

const PROFILE = (extra: string) => `apiVersion: sourceos.dev/v1alpha1
kind: AgentMachineProfile
metadata: {name: test}
spec:
  platform: linux
${extra}  image: {ref: localhost/a:b, digest: null, pull: never}
  mounts: [{source: /srv/work/app, target: /workspace/app, mode: rw}]
  tools: {codex: {enabled: true, command: [codex]}}
  env: {passthrough: [], set: {}}
  network: {mode: none}
  resources: {cpus: 2, memory: 4g, pidsLimit: 1024}
  secrets: {door: none}
`

describe('spec.connection', () => {
  it('is accepted alone and gives a context with the connection on every container-side call and no machine', () => {
    const profile = parseProfile(PROFILE('  connection: build-server\n'), 'p.yaml')
    expect(profile.spec.connection).toBe('build-server')
    const ctx = podmanContext({host: macos, machine: profile.spec.machine ?? null, connection: profile.spec.connection})
    expect(ctx).toMatchObject({connection: 'build-server', machine: null, machineEnv: {}, remote: true})
    expect(podmanArgv(ctx, ['create', 'x'])).toEqual(['podman', '--connection', 'build-server', 'create', 'x'])
  })

  it('excludes spec.machine, with the position and a fix', () => {
    const machine = '  machine: {name: m, provider: qemu, cpus: 2, memoryMiB: 2048, diskGiB: 10, rootful: false}\n'
    try {
      parseProfile(PROFILE(`${machine}  connection: build-server\n`), 'p.yaml')
      throw new Error('expected a refusal')
    } catch (error) {
      const e = error as AgentMachineError
      expect(e.code).toBe('PROFILE_INVALID')
      expect(e.message).toMatch(/^p\.yaml:7:\d+: spec\.connection and spec\.machine exclude each other/)
      expect(e.fix).toContain('not both')
    }
  })

  it('refuses a name that podman would read as an option', () => {
    expect(() => parseProfile(PROFILE('  connection: --remote\n'), 'p.yaml')).toThrow(/spec.connection: invalid value '--remote'/)
  })

  it('doctor checks a source there with a throw-away, read-only, networkless container through the connection', () => {
    expect(remoteSourceCheckArgs({connection: 'srv'}, '/srv/work/app', 'localhost/a:b')).toEqual([
      '--connection', 'srv', 'run', '--rm', '--pull=never', '--network=none', '--read-only', '--cap-drop=all', '--security-opt=no-new-privileges',
      '-v', '/srv/work/app:/m:ro', '--entrypoint=test', 'localhost/a:b', '-d', '/m',
    ])
  })
})

describe('judgeRemoteSource', () => {
  it('allows an absolute, normal project path on any host platform', () => {
    expect(judgeRemoteSource('/srv/work/app', linux)).toBe('/srv/work/app')
    expect(judgeRemoteSource('/home/ci/dev/app', macos)).toBe('/home/ci/dev/app')
  })

  it.each([
    ['~/dev/app', 'REMOTE_SOURCE_NOT_ABSOLUTE', 'remote user'],
    ['$HOME/dev/app', 'REMOTE_SOURCE_NOT_ABSOLUTE', '$VARS'],
    ['dev/app', 'REMOTE_SOURCE_NOT_ABSOLUTE', 'relative'],
    ['/srv/work/../../root/.ssh', 'REMOTE_SOURCE_NOT_NORMAL', 'normal'],
    ['/srv/work/./app', 'REMOTE_SOURCE_NOT_NORMAL', 'normal'],
    ['/srv//work', 'REMOTE_SOURCE_NOT_NORMAL', 'normal'],
    ['/srv/work/app/', 'REMOTE_SOURCE_NOT_NORMAL', 'normal'],
    ['/home/ci/.ssh', 'REMOTE_SOURCE_DENIED', '.ssh'],
    ['/srv/x/.AWS/creds', 'REMOTE_SOURCE_DENIED', '.AWS'],
    ['/home/ci/.config/gh', 'REMOTE_SOURCE_DENIED', '.config'],
    ['/home/ci', 'REMOTE_SOURCE_DENIED', 'home'],
    ['/root', 'REMOTE_SOURCE_DENIED', 'home'],
    ['/etc', 'REMOTE_SOURCE_DENIED', 'top-level'],
    ['/', 'REMOTE_SOURCE_DENIED', 'top-level'],
  ])('refuses %s (%s)', (source, code, part) => {
    const e = refusal(source)
    expect(e.code).toBe(code)
    expect(e.message).toContain(part)
    expect(e.fix).toContain('absolute')
  })

  it('applies the local deny catalogue to the string too (this host’s home, system folders)', () => {
    expect(refusal('/home/u').code).toBe('REMOTE_SOURCE_DENIED')
    expect(refusal('/etc/ssl').code).not.toBe('REMOTE_SOURCE_NOT_NORMAL')
    expect(refusal('/srv/a,b').code).toBe('POLICY_UNSAFE_CHARS')
  })
})
