import {describe, expect, it} from 'vitest'

import {ExitCode} from '../../../src/core/errors.js'
import {
  assertProviderForVersion,
  assertProviderOnPlatform,
  defaultProvider,
  isExclusiveProvider,
  providerEnv,
  supportedProviders,
} from '../../../src/core/machine/providers.js'
import {atLeast, compareVersions} from '../../../src/core/machine/versions.js'
import type {ProfileMachine} from '../../../src/core/profile/schema.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'

const machine = (provider: ProfileMachine['provider']): ProfileMachine => ({name: 'sourceos-agent', provider, cpus: 4, memoryMiB: 8192, diskGiB: 64, rootful: false})
const mac = fakeHostFacts('macos')
const intelMac = fakeHostFacts('macos', {arch: 'x64'})
const win = fakeHostFacts('windows')
const linux = fakeHostFacts('linux')

describe('versions', () => {
  it('compares major.minor.patch, ignoring suffixes', () => {
    expect(compareVersions('5.3.1', '5.3.0')).toBeGreaterThan(0)
    expect(compareVersions('5.3.0-dev', '5.3.0')).toBe(0)
    expect(compareVersions('4.9.5', '5.0.0')).toBeLessThan(0)
    expect(compareVersions('v5.10.0', '5.9.9')).toBeGreaterThan(0)
    expect(atLeast('5.1', '5.1.0')).toBe(true)
  })
})

describe('providers', () => {
  it('has the platform default per Podman version (macOS 4.x qemu, 5.x applehv; Windows wsl; Linux qemu)', () => {
    expect(defaultProvider('macos', '4.9.5')).toBe('qemu')
    expect(defaultProvider('macos', '5.0.0')).toBe('applehv')
    expect(defaultProvider('macos', null)).toBe('applehv')
    expect(defaultProvider('windows', '4.9.5')).toBe('wsl')
    expect(defaultProvider('windows', '5.8.2')).toBe('wsl')
    expect(defaultProvider('linux', '5.8.2')).toBe('qemu')
  })

  it('lists what this host and Podman support', () => {
    expect(supportedProviders(mac, null)).toEqual(['applehv', 'libkrun', 'qemu'])
    expect(supportedProviders(intelMac, null)).toEqual(['applehv', 'qemu'])
    expect(supportedProviders(mac, '4.9.5')).toEqual(['applehv', 'qemu'])
    expect(supportedProviders(mac, '5.3.1')).toEqual(['applehv', 'libkrun'])
    expect(supportedProviders(win, '5.3.1')).toEqual(['wsl', 'hyperv'])
    expect(supportedProviders(linux, '4.3.1')).toEqual(['qemu'])
  })

  it('always sets CONTAINERS_MACHINE_PROVIDER, also for the built-in default (containers.conf may select another)', () => {
    expect(providerEnv('macos', 'applehv', '5.3.1')).toEqual({CONTAINERS_MACHINE_PROVIDER: 'applehv'})
    expect(providerEnv('macos', 'libkrun', '5.3.1')).toEqual({CONTAINERS_MACHINE_PROVIDER: 'libkrun'})
    expect(providerEnv('macos', 'applehv', '4.9.5')).toEqual({CONTAINERS_MACHINE_PROVIDER: 'applehv'})
    expect(providerEnv('macos', 'qemu', '4.9.5')).toEqual({CONTAINERS_MACHINE_PROVIDER: 'qemu'})
    expect(providerEnv('windows', 'hyperv', '5.3.0')).toEqual({CONTAINERS_MACHINE_PROVIDER: 'hyperv'})
    expect(providerEnv('windows', 'wsl', '5.3.0')).toEqual({CONTAINERS_MACHINE_PROVIDER: 'wsl'})
    expect(providerEnv('linux', 'qemu', '4.3.1')).toEqual({CONTAINERS_MACHINE_PROVIDER: 'qemu'})
  })

  it('only WSL runs several machines at once', () => {
    expect(['applehv', 'libkrun', 'qemu', 'hyperv', 'wsl'].filter((p) => isExclusiveProvider(p as ProfileMachine['provider']))).toEqual(['applehv', 'libkrun', 'qemu', 'hyperv'])
  })

  it('refuses a provider the OS does not have with exit 2 and the supported list', () => {
    expect(() => assertProviderOnPlatform(mac, machine('hyperv'), 'p.yaml')).toThrow(expect.objectContaining({code: 'PROVIDER_UNSUPPORTED', exitCode: ExitCode.USAGE}))
    expect(() => assertProviderOnPlatform(linux, machine('applehv'), 'p.yaml')).toThrow(/not supported on Linux; supported here: qemu/)
    expect(() => assertProviderOnPlatform(win, machine('qemu'), 'p.yaml')).toThrow(/supported here: wsl, hyperv/)
    expect(() => assertProviderOnPlatform(intelMac, machine('libkrun'), 'p.yaml')).toThrow(/libkrun needs Apple silicon/)
    expect(() => assertProviderOnPlatform(mac, machine('libkrun'), 'p.yaml')).not.toThrow()
  })

  it('names the minimum Podman version (exit 4) when a newer one would do', () => {
    const tooOld = (host: typeof mac, p: ProfileMachine['provider'], v: string) => {
      try {
        assertProviderForVersion(host, machine(p), v, 'p.yaml')
        return null
      } catch (error) {
        return error as {code: string; exitCode: number; message: string; details: {minimumVersion?: string}}
      }
    }
    expect(tooOld(mac, 'libkrun', '5.0.1')).toMatchObject({code: 'PODMAN_TOO_OLD', exitCode: ExitCode.PREREQUISITE, details: {minimumVersion: '5.1.0'}})
    expect(tooOld(mac, 'applehv', '4.6.2')).toMatchObject({code: 'PODMAN_TOO_OLD', details: {minimumVersion: '4.7.0'}})
    // Hyper-V: 5.0 already parses drive letters in --volume (the floor), not 5.3
    expect(tooOld(win, 'hyperv', '4.9.5')?.message).toMatch(/needs Podman 5\.0\.0 or newer/)
    expect(tooOld(win, 'hyperv', '5.0.0')).toBeNull()
    expect(tooOld(win, 'hyperv', '5.2.5')).toBeNull()
    // Intel Macs: 4.7–4.9 build applehv for Apple silicon only; 5.0 has it on Intel too
    const intel = fakeHostFacts('macos', {arch: 'x64'})
    expect(tooOld(intel, 'applehv', '4.9.5')).toMatchObject({code: 'PODMAN_TOO_OLD', details: {minimumVersion: '5.0.0'}})
    expect(tooOld(intel, 'applehv', '4.9.5')?.message).toMatch(/applehv provider on an Intel Mac/)
    expect(tooOld(mac, 'applehv', '4.9.5')).toBeNull()
    expect(tooOld(intel, 'applehv', '5.0.0')).toBeNull()
    expect(supportedProviders(intel, '4.9.5')).toEqual(['qemu'])
    expect(tooOld(linux, 'qemu', '3.4.4')).toMatchObject({code: 'PODMAN_TOO_OLD', details: {minimumVersion: '4.0.0'}})
    // Podman 5 dropped qemu on macOS: no upgrade helps, so it is a usage error.
    expect(tooOld(mac, 'qemu', '5.0.0')).toMatchObject({code: 'PROVIDER_UNSUPPORTED', exitCode: ExitCode.USAGE})
    expect(tooOld(mac, 'applehv', '5.0.0')).toBeNull()
    expect(tooOld(win, 'hyperv', '5.3.0')).toBeNull()
    expect(tooOld(win, 'wsl', '4.9.5')).toBeNull()
  })
})
