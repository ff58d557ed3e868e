import os from 'node:os'
import {describe, expect, it} from 'vitest'
import {nodeHostSource, parseOsRelease, probeHostFacts, type HostSource} from '../../../src/core/host/probe.js'
import {fakeRunner} from '../../helpers/fake-runner.js'

const DEBIAN_OS_RELEASE = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
`

function source(overrides: Partial<HostSource> = {}): HostSource {
  return {
    nodePlatform: 'linux',
    release: '6.1.0-28-amd64',
    version: '#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1',
    arch: 'x64',
    homeDir: '/home/dev',
    uid: 1000,
    env: {HOME: '/home/dev'},
    readTextFile: async (path) => {
      if (path === '/etc/os-release') return DEBIAN_OS_RELEASE
      throw Object.assign(new Error(`ENOENT: ${path}`), {code: 'ENOENT'})
    },
    ...overrides,
  }
}

const noFiles = async (path: string): Promise<string> => {
  throw Object.assign(new Error(`ENOENT: ${path}`), {code: 'ENOENT'})
}

describe('parseOsRelease', () => {
  it('reads double-quoted, single-quoted and bare values', () => {
    expect(parseOsRelease(`A="x y"\nB='z'\nC=bare\n# comment\n\nD="say \\"hi\\""`)).toEqual({A: 'x y', B: 'z', C: 'bare', D: 'say "hi"'})
  })

  it('reads the Debian file', () => {
    const fields = parseOsRelease(DEBIAN_OS_RELEASE)
    expect(fields.PRETTY_NAME).toBe('Debian GNU/Linux 12 (bookworm)')
    expect(fields.VERSION_ID).toBe('12')
  })
})

describe('probeHostFacts', () => {
  it('on Linux reads os-release and spawns nothing', async () => {
    const runner = fakeRunner([])
    const facts = await probeHostFacts(runner, source())
    expect(facts).toEqual({
      platform: 'linux',
      osName: 'Debian GNU/Linux 12 (bookworm)',
      osVersion: '12',
      kernel: '6.1.0-28-amd64',
      arch: 'x64',
      homeDir: '/home/dev',
      uid: 1000,
      isRoot: false,
      env: {HOME: '/home/dev'},
      caseInsensitivePaths: false,
    })
    expect(runner.calls).toEqual([])
  })

  it('on Linux falls back to /usr/lib/os-release, then to the kernel release', async () => {
    const lib = await probeHostFacts(undefined, source({readTextFile: async (path) => {
      if (path === '/usr/lib/os-release') return 'NAME="Fedora Linux"\nVERSION_ID=40\n'
      return noFiles(path)
    }}))
    expect([lib.osName, lib.osVersion]).toEqual(['Fedora Linux', '40'])

    const none = await probeHostFacts(undefined, source({readTextFile: noFiles}))
    expect([none.osName, none.osVersion]).toEqual(['Linux', '6.1.0-28-amd64'])
  })

  it('marks root', async () => {
    const facts = await probeHostFacts(undefined, source({uid: 0}))
    expect(facts.isRoot).toBe(true)
  })

  it('on macOS asks sw_vers through the runner', async () => {
    const runner = fakeRunner([{match: 'sw_vers -productVersion', result: {stdout: '14.5\n'}}])
    const facts = await probeHostFacts(runner, source({nodePlatform: 'darwin', release: '23.5.0', arch: 'arm64', uid: 501, readTextFile: noFiles}))
    expect(facts).toMatchObject({platform: 'macos', osName: 'macOS', osVersion: '14.5', kernel: '23.5.0', caseInsensitivePaths: true, isRoot: false})
    expect(runner.calls[0]?.options?.timeoutMs).toBeGreaterThan(0)
  })

  it('on macOS without a runner, or when sw_vers fails, uses the Darwin release', async () => {
    const mac = source({nodePlatform: 'darwin', release: '23.5.0', readTextFile: noFiles})
    expect((await probeHostFacts(undefined, mac)).osVersion).toBe('23.5.0')
    const failing = fakeRunner([{match: 'sw_vers', result: {exitCode: null, notFound: true}}])
    expect((await probeHostFacts(failing, mac)).osVersion).toBe('23.5.0')
    const hung = fakeRunner([{match: 'sw_vers', hangs: true}])
    expect((await probeHostFacts(hung, mac)).osVersion).toBe('23.5.0')
  })

  it('on Windows takes the product name from os.version() and the build from os.release()', async () => {
    const runner = fakeRunner([])
    const facts = await probeHostFacts(runner, source({nodePlatform: 'win32', release: '10.0.22631', version: 'Windows 11 Pro', uid: null, readTextFile: noFiles}))
    expect(facts).toMatchObject({platform: 'windows', osName: 'Windows 11 Pro', osVersion: '10.0.22631', uid: null, isRoot: false, caseInsensitivePaths: true})
    expect(runner.calls).toEqual([])
  })

  it('probes this real host cheaply', async () => {
    const facts = await probeHostFacts()
    expect(facts.arch).toBe(os.arch())
    expect(facts.kernel).toBe(os.release())
    expect(facts.homeDir).toBe(os.homedir())
    expect(facts.env).toBe(process.env)
    expect(nodeHostSource().uid).toBe(process.getuid?.() ?? null)
  })
})
