import {describe, expect, it} from 'vitest'

import {loadTemplate} from '../../../src/core/profile/templates.js'

describe('linux-podman-machine template', () => {
  it('is a Linux profile with a qemu machine, otherwise like the native one', async () => {
    const {profile, text} = await loadTemplate('linux-podman-machine')
    const native = (await loadTemplate('linux-podman-native')).profile
    expect(profile.metadata.name).toBe('linux-podman-machine')
    expect(profile.spec.platform).toBe('linux')
    expect(profile.spec.machine).toEqual({name: 'sourceos-agent', provider: 'qemu', cpus: 4, memoryMiB: 8192, diskGiB: 64, rootful: false})
    const {machine: _machine, ...rest} = profile.spec
    expect(rest).toEqual(native.spec)
    expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=../schemas/agent-machine-profile.schema.json')
    expect(text).not.toMatch(/\/Users\/|\/home\/|[A-Za-z]:\\|\/root\b/)
  })
})
