import {readFile} from 'node:fs/promises'

import {describe, expect, it} from 'vitest'

import {ExitCode} from '../../../src/core/errors.js'
import {parseProfile} from '../../../src/core/profile/loader.js'
import {listTemplates, loadTemplate, templatesDir} from '../../../src/core/profile/templates.js'

const SHIPPED = ['linux-podman-machine', 'linux-podman-native', 'macos-podman', 'windows-podman-wsl']

describe('templates', () => {
  it('lists the shipped templates, sorted', async () => {
    expect(await listTemplates()).toEqual(SHIPPED)
  })

  it.each(SHIPPED)('%s parses, is self-consistent and device-neutral', async (name) => {
    const {profile, text, path} = await loadTemplate(name)
    expect(path.startsWith(templatesDir())).toBe(true)
    expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=../schemas/agent-machine-profile.schema.json')
    expect(profile.metadata.name).toBe(name)
    expect(profile.spec.mounts).toEqual([{source: '~/dev/<repo>', target: '/workspace/<repo>', mode: 'rw'}])
    expect(profile.spec.image).toEqual({ref: 'localhost/sourceos/agent:latest', digest: null, pull: 'never'})
    expect(profile.spec.tools).toEqual({codex: {enabled: true, command: ['codex']}, 'claude-code': {enabled: true, command: ['claude']}})
    expect(profile.spec.env).toEqual({passthrough: ['TERM', 'LANG', 'LC_ALL', 'TZ', 'COLORTERM'], set: {}})
    expect(profile.spec.network).toEqual({mode: 'allowlist', allow: [], proxy: 'per-run'})
    expect(profile.spec.resources).toEqual({cpus: 2, memory: '4g', pidsLimit: 1024})
    expect(profile.spec.secrets).toEqual({door: 'none'})
    // No device-specific values: no absolute home paths, user names or drive letters.
    expect(text).not.toMatch(/\/Users\/|\/home\/|[A-Za-z]:\\|\/root\b/)
  })

  it('matches each platform', async () => {
    const mac = (await loadTemplate('macos-podman')).profile.spec
    expect(mac.platform).toBe('macos')
    expect(mac.machine).toEqual({name: 'sourceos-agent', provider: 'applehv', cpus: 4, memoryMiB: 8192, diskGiB: 64, rootful: false})
    const linux = (await loadTemplate('linux-podman-native')).profile.spec
    expect(linux.platform).toBe('linux')
    expect(linux.machine).toBeUndefined()
    const win = (await loadTemplate('windows-podman-wsl')).profile.spec
    expect(win.platform).toBe('windows')
    expect(win.machine?.provider).toBe('wsl')
  })

  it('accepts the file name too', async () => {
    expect((await loadTemplate('macos-podman.yaml')).profile.metadata.name).toBe('macos-podman')
  })

  it('refuses unknown names with the list of valid ones', async () => {
    await expect(loadTemplate('beos')).rejects.toMatchObject({
      code: 'TEMPLATE_UNKNOWN',
      exitCode: ExitCode.USAGE,
      message: "unknown template 'beos'",
      fix: `use one of: ${SHIPPED.join(', ')}`,
    })
  })

  it.each(['../package', '../../etc/passwd', 'a/b', 'a\\b', '/etc/passwd', '..', '.hidden', ''])('refuses the path-like name %j', async (name) => {
    await expect(loadTemplate(name)).rejects.toMatchObject({code: 'TEMPLATE_UNKNOWN', exitCode: ExitCode.USAGE})
  })

  it('can be read straight from disk with the same result', async () => {
    const {path, profile} = await loadTemplate('linux-podman-native')
    expect(parseProfile(await readFile(path, 'utf8'), path)).toEqual(profile)
  })
})
