import {describe, expect, it} from 'vitest'
import {
  bareImageId,
  diskGiB,
  memoryMiB,
  parseJsonOutput,
  runtimeVersion,
  toImageDetails,
  toInfo,
  toMachineDetails,
  toMachineSummary,
  toVersionInfo,
} from '../../../src/core/podman/parse.js'
import {
  RawImageInspectSchema,
  RawInfoSchema,
  RawMachineInspectSchema,
  RawMachineListSchema,
  RawVersionReportSchema,
} from '../../../src/core/podman/schemas.js'
import {podmanFixture} from '../../helpers/fixtures.js'

function parsed<T>(result: {ok: true; value: T} | {ok: false; reason: string}): T {
  if (!result.ok) throw new Error(result.reason)
  return result.value
}

const version = (name: string) => toVersionInfo(parsed(parseJsonOutput(podmanFixture(name), RawVersionReportSchema)))
const info = (name: string) => toInfo(parsed(parseJsonOutput(podmanFixture(name), RawInfoSchema)))
const list = (name: string) => parsed(parseJsonOutput(podmanFixture(name), RawMachineListSchema)).map(toMachineSummary)
const inspect = (name: string) => parsed(parseJsonOutput(podmanFixture(name), RawMachineInspectSchema)).map(toMachineDetails)

describe('parseJsonOutput', () => {
  it('never throws: empty, not JSON, wrong shape', () => {
    expect(parseJsonOutput('', RawMachineListSchema)).toEqual({ok: false, reason: 'empty output'})
    const yaml = parseJsonOutput(podmanFixture('podman5-info-connection-failed.stdout.yaml'), RawInfoSchema)
    expect(yaml.ok).toBe(false)
    expect(!yaml.ok && yaml.reason).toMatch(/^not JSON/)
    const shape = parseJsonOutput('{"Client": {"Version": 5}}', RawVersionReportSchema)
    expect(!shape.ok && shape.reason).toMatch(/Client\.Version/)
  })

  it('keeps unknown fields (loose objects)', () => {
    const value = parsed(parseJsonOutput('[{"Name": "m", "NewIn7": true}]', RawMachineListSchema))
    expect(value[0]).toMatchObject({Name: 'm', NewIn7: true})
  })
})

describe('version', () => {
  it('native Linux 4.3.1 (real): local, no server', () => {
    expect(version('podman431-version-native-linux.json')).toEqual({
      client: {version: '4.3.1', apiVersion: '4.3.1', os: 'linux', arch: 'amd64'},
      server: null,
      remote: false,
    })
  })

  it('native Linux 5.x: local', () => {
    expect(version('podman5-version-native-linux.json')).toMatchObject({server: null, remote: false, client: {version: '5.8.2'}})
  })

  it.each(['podman4-version-remote-macos.json', 'podman5-version-remote-macos.json'])('remote macOS %s: client darwin, server linux', (name) => {
    const v = version(name)
    expect(v.remote).toBe(true)
    expect(v.client).toMatchObject({os: 'darwin', arch: 'arm64'})
    expect(v.server).toMatchObject({os: 'linux', arch: 'arm64'})
  })

  it('a non-Linux client is remote even without a Server block', () => {
    expect(toVersionInfo({Client: {Version: '5.0.0', OsArch: 'windows/amd64'}}).remote).toBe(true)
    expect(toVersionInfo({Client: {Version: '5.0.0', OsArch: 'windows/amd64'}}).client).toEqual({version: '5.0.0', apiVersion: null, os: 'windows', arch: 'amd64'})
  })
})

describe('info', () => {
  it('4.3.1 rootful on Linux (real)', () => {
    expect(info('podman431-info-rootful.json')).toEqual({
      rootless: false,
      remote: false,
      os: 'linux',
      arch: 'amd64',
      cgroupVersion: 'v1',
      ociRuntime: {name: 'runc', version: '1.1.5+ds1'},
      // 4.3.1 omits `exists` when false.
      remoteSocket: {path: '/run/podman/podman.sock', exists: false},
      selinuxEnabled: false,
      graphDriver: 'overlay',
      serverVersion: '4.3.1',
    })
  })

  it('4.3.1 rootless on Linux (real)', () => {
    expect(info('podman431-info-rootless.json')).toMatchObject({
      rootless: true,
      remote: false,
      graphDriver: 'vfs',
      remoteSocket: {path: '/tmp/podman-run-1001/podman/podman.sock', exists: false},
    })
  })

  it('5.x remote macOS machine: unix:// stripped, selinux, crun', () => {
    expect(info('podman5-info-remote-macos.json')).toEqual({
      rootless: true,
      remote: true,
      os: 'linux',
      arch: 'arm64',
      cgroupVersion: 'v2',
      ociRuntime: {name: 'crun', version: '1.24'},
      remoteSocket: {path: '/run/user/501/podman/podman.sock', exists: true},
      selinuxEnabled: true,
      graphDriver: 'overlay',
      serverVersion: '5.8.2',
    })
  })

  it('tolerates a sparse document', () => {
    const sparse = toInfo(parsed(parseJsonOutput('{"host": {}}', RawInfoSchema)))
    expect(sparse).toEqual({
      rootless: false, remote: false, os: 'unknown', arch: 'unknown', cgroupVersion: null, ociRuntime: null,
      remoteSocket: null, selinuxEnabled: false, graphDriver: null, serverVersion: null,
    })
  })

  it('runtimeVersion reads the first line', () => {
    expect(runtimeVersion('runc version 1.1.5+ds1\ncommit: x')).toBe('1.1.5+ds1')
    expect(runtimeVersion('odd-runtime 3')).toBe('odd-runtime 3')
    expect(runtimeVersion(undefined)).toBeNull()
  })
})

describe('machine list', () => {
  it.each([
    'podman4-machine-list-none.json',
    'podman5-machine-list-none.json',
    'podman431-machine-list-none.json',
  ])('%s is empty', (name) => {
    expect(list(name)).toEqual([])
  })

  it('4.x qemu running', () => {
    expect(list('podman4-machine-list-running.json')).toEqual([{
      name: 'podman-machine-default',
      default: true,
      running: true,
      starting: false,
      vmType: 'qemu',
      cpus: 4,
      memoryBytes: 2147483648,
      diskBytes: 107374182400,
      lastUp: '2024-06-03T18:04:51.117301-04:00',
      port: 50139,
    }])
  })

  it('4.x stopped and 5.x stopped', () => {
    expect(list('podman4-machine-list-stopped.json')[0]).toMatchObject({running: false, starting: false})
    expect(list('podman5-machine-list-stopped.json')[0]).toMatchObject({running: false, starting: false, vmType: 'applehv'})
  })

  it('5.x applehv running, with Swap', () => {
    expect(list('podman5-machine-list-running.json')[0]).toMatchObject({running: true, vmType: 'applehv', cpus: 5, memoryBytes: 2147483648})
  })

  it('5.x starting', () => {
    expect(list('podman5-machine-list-starting.json')[0]).toMatchObject({running: false, starting: true})
  })

  it('never started: zero LastUp becomes null', () => {
    expect(list('podman5-machine-list-stopped-never-started.json')[0]?.lastUp).toBeNull()
  })

  it('WSL 4.x and 5.x', () => {
    expect(list('podman4-wsl-machine-list-running.json')[0]).toMatchObject({vmType: 'wsl', cpus: 8, memoryBytes: 632623104})
    expect(list('podman5-wsl-machine-list-running.json')[0]).toMatchObject({vmType: 'wsl', cpus: 4})
  })

  it('strips a trailing * and treats it as default; zeros are unknown', () => {
    const [m] = parsed(parseJsonOutput('[{"Name":"dev*","Default":false,"CPUs":0,"Memory":"0","DiskSize":"x"}]', RawMachineListSchema)).map(toMachineSummary)
    expect(m).toMatchObject({name: 'dev', default: true, cpus: null, memoryBytes: null, diskBytes: null, vmType: null, lastUp: null})
  })
})

describe('machine inspect', () => {
  it('4.x qemu running (ConfigPath, Image)', () => {
    expect(inspect('podman4-machine-inspect-running.json')).toEqual([{
      name: 'podman-machine-default',
      state: 'running',
      rootful: false,
      cpus: 4,
      memoryMiB: 2048,
      diskGiB: 100,
      socketPath: '/Users/jdoe/.local/share/containers/podman/machine/qemu/podman.sock',
      pipe: null,
      userModeNetworking: true,
    }])
  })

  it('4.x and 5.x stopped', () => {
    expect(inspect('podman4-machine-inspect-stopped.json')[0]?.state).toBe('stopped')
    expect(inspect('podman5-machine-inspect-stopped.json')[0]?.state).toBe('stopped')
  })

  it('5.x applehv running (ConfigDir, Rosetta)', () => {
    expect(inspect('podman5-machine-inspect-running.json')[0]).toEqual({
      name: 'podman-machine-default',
      state: 'running',
      rootful: false,
      cpus: 5,
      memoryMiB: 2048,
      diskGiB: 100,
      socketPath: '/var/folders/9r/n3056v597wv2cq8s2j80bdnw0000gn/T/podman/podman-machine-default-api.sock',
      pipe: null,
      userModeNetworking: true,
    })
  })

  it('4.x WSL: null socket, pipe set, resources in bytes', () => {
    expect(inspect('podman4-wsl-machine-inspect-running.json')[0]).toMatchObject({
      socketPath: null,
      pipe: '\\\\.\\pipe\\podman-machine-default',
      cpus: 8,
      memoryMiB: 603,
      diskGiB: 0.7,
      userModeNetworking: false,
    })
  })

  it('5.x WSL: socket and pipe', () => {
    expect(inspect('podman5-wsl-machine-inspect-running.json')[0]).toMatchObject({
      socketPath: 'C:\\Users\\jdoe\\AppData\\Local\\Temp\\podman\\podman-machine-default-api.sock',
      pipe: '\\\\.\\pipe\\podman-machine-default',
      memoryMiB: 2048,
    })
  })

  it('older 4.x without ConnectionInfo, unknown state, rootful', () => {
    const [m] = parsed(parseJsonOutput('[{"Name":"old","State":"paused","Rootful":true}]', RawMachineInspectSchema)).map(toMachineDetails)
    expect(m).toEqual({name: 'old', state: 'unknown', rootful: true, cpus: null, memoryMiB: null, diskGiB: null, socketPath: null, pipe: null, userModeNetworking: null})
  })

  it('unit helpers', () => {
    expect(memoryMiB(8192)).toBe(8192)
    expect(memoryMiB(8 * 1024 * 1024 * 1024)).toBe(8192)
    expect(memoryMiB(0)).toBeNull()
    expect(diskGiB(64)).toBe(64)
    expect(diskGiB(64 * 1024 ** 3)).toBe(64)
  })
})

describe('image inspect', () => {
  it('4.3.1 locally imported image (real)', () => {
    const [raw] = parsed(parseJsonOutput(podmanFixture('podman431-image-inspect.json'), RawImageInspectSchema))
    if (!raw) throw new Error('fixture has no entry')
    const id = bareImageId(raw.Id)
    expect(id).toBe('c5dfba5b96b2cb22bb23c916ced44b72220612a436458c757ed5664075c44cb2')
    expect(toImageDetails(raw, id as string)).toEqual({
      id: 'c5dfba5b96b2cb22bb23c916ced44b72220612a436458c757ed5664075c44cb2',
      digest: 'sha256:0d1b5eb03eb2e30a39950c2801dd3de4bc4f4e5da308b24df3fd345557a31400',
      repoTags: ['localhost/test-bb:1'],
      repoDigests: ['localhost/test-bb@sha256:0d1b5eb03eb2e30a39950c2801dd3de4bc4f4e5da308b24df3fd345557a31400'],
      created: '2026-11-30T09:56:45.153887829Z',
      architecture: 'amd64',
      os: 'linux',
      labels: {},
      env: [],
    })
  })

  it('bareImageId strips sha256: and refuses anything else', () => {
    expect(bareImageId(`sha256:${'A'.repeat(64)}`)).toBe('a'.repeat(64))
    expect(bareImageId('c5dfba5b96b2')).toBeNull()
  })

  it('untagged image: null tags become empty lists', () => {
    const [raw] = parsed(parseJsonOutput(`[{"Id":"${'b'.repeat(64)}","RepoTags":null,"RepoDigests":null}]`, RawImageInspectSchema))
    expect(raw && toImageDetails(raw, 'b'.repeat(64))).toMatchObject({repoTags: [], repoDigests: [], digest: null, created: null})
  })
})
