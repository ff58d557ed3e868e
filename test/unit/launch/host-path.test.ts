import {describe, expect, it} from 'vitest'

import {AgentMachineError} from '../../../src/core/errors.js'
import {toPodmanPath} from '../../../src/core/launch/host-path.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'

const machine = (provider: string, podmanVersion: string | null = '5.3.1', sharedVolumes: string[] | null = null) => ({provider, podmanVersion, sharedVolumes, machineName: 'sourceos-agent'})
const native = {provider: null, podmanVersion: null, sharedVolumes: null, machineName: null}

function errorOf(fn: () => unknown): AgentMachineError {
  try {
    fn()
  } catch (error) {
    return error as AgentMachineError
  }
  throw new Error('expected an error')
}

describe('toPodmanPath', () => {
  it('keeps native Linux paths as they are', () => {
    expect(toPodmanPath('/home/dev/app', fakeHostFacts('linux'), native)).toBe('/home/dev/app')
  })

  it.each([
    ['C:\\Users\\dev\\repo', '/mnt/c/Users/dev/repo'],
    ['D:\\work\\my repo', '/mnt/d/work/my repo'],
    ['\\\\?\\C:\\Users\\dev\\repo', '/mnt/c/Users/dev/repo'],
    ['c:/Users/dev/repo', '/mnt/c/Users/dev/repo'],
  ])('Windows WSL: %s → %s', (input, expected) => {
    expect(toPodmanPath(input, fakeHostFacts('windows'), machine('wsl', '4.9.5'))).toBe(expected)
  })

  it('Windows Hyper-V maps drives from Podman 5.0 (it parses `--volume C:\\x:/mnt/c/x`) and refuses older versions, naming the minimum', () => {
    expect(toPodmanPath('C:\\Users\\dev\\repo', fakeHostFacts('windows'), machine('hyperv', '5.0.0'))).toBe('/mnt/c/Users/dev/repo')
    const e = errorOf(() => toPodmanPath('C:\\Users\\dev\\repo', fakeHostFacts('windows'), machine('hyperv', '4.9.5')))
    expect(e.code).toBe('PODMAN_TOO_OLD')
    expect(e.exitCode).toBe(4)
    expect(e.message).toMatch(/5\.0/)
  })

  it('macOS with the machine\'s shares unknown: Podman\'s default for the version (4.1–4.3 $HOME, 4.4+ /Users, /private, /var/folders)', () => {
    const mac = fakeHostFacts('macos', {homeDir: '/Users/dev'})
    expect(toPodmanPath('/private/tmp/x', mac, machine('qemu', '4.4.0'))).toBe('/private/tmp/x')
    expect(errorOf(() => toPodmanPath('/private/tmp/x', mac, machine('qemu', '4.3.1'))).code).toBe('PATH_NOT_SHARED')
    expect(toPodmanPath('/Users/dev/app', mac, machine('qemu', '4.3.1'))).toBe('/Users/dev/app')
    expect(errorOf(() => toPodmanPath('/Users/dev/app', mac, machine('qemu', '4.0.3'))).code).toBe('PATH_NOT_SHARED')
  })

  it('macOS, Podman < 5.5: a repo shared only through a volume whose path has a space is missing in the VM → MACHINE_VOLUME_SPACES naming 5.5.0', () => {
    const spaced = '/Users/dev/My Projects/app'
    const e = errorOf(() => toPodmanPath(spaced, fakeHostFacts('macos'), machine('applehv', '5.4.2', [spaced])))
    expect(e).toMatchObject({code: 'MACHINE_VOLUME_SPACES', exitCode: 4})
    expect(e.message).toMatch(/Podman 5\.4\.2 does not mount such a machine volume \(fixed in 5\.5\.0\)/)
    expect(toPodmanPath(spaced, fakeHostFacts('macos'), machine('applehv', '5.5.0', [spaced]))).toBe(spaced)
    // a space below a plain share is fine: the share itself mounts
    expect(toPodmanPath(spaced, fakeHostFacts('macos'), machine('applehv', '5.4.2', ['/Users']))).toBe(spaced)
  })

  it.each(['\\\\server\\share\\repo', '//server/share/repo'])('refuses the UNC path %s with exit 3', (input) => {
    const e = errorOf(() => toPodmanPath(input, fakeHostFacts('windows'), machine('wsl')))
    expect(e.code).toBe('PATH_UNC')
    expect(e.exitCode).toBe(3)
  })

  it('macOS: a path under the shared volumes is used as is (case-insensitively)', () => {
    const mac = fakeHostFacts('macos')
    expect(toPodmanPath('/Users/dev/app', mac, machine('applehv'))).toBe('/Users/dev/app')
    expect(toPodmanPath('/users/dev/app', mac, machine('applehv', '5.3.1', ['/Users/dev/app']))).toBe('/users/dev/app')
  })

  it('macOS: a path outside the shared volumes is a clear error', () => {
    const e = errorOf(() => toPodmanPath('/opt/src/app', fakeHostFacts('macos'), machine('applehv')))
    expect(e.code).toBe('PATH_NOT_SHARED')
    expect(e.exitCode).toBe(4)
    expect(e.fix).toMatch(/--volume \/opt\/src\/app:\/opt\/src\/app/)
    const narrowed = errorOf(() => toPodmanPath('/Users/dev/other', fakeHostFacts('macos'), machine('libkrun', '5.3.1', ['/Users/dev/app'])))
    expect(narrowed.code).toBe('PATH_NOT_SHARED')
  })
})
