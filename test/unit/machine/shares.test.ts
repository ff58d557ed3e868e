import {describe, expect, it} from 'vitest'

import {MachineLifecycle} from '../../../src/core/podman/machine-lifecycle.js'
import {coverage, exposedShares, parseMachineConfig, readMachineShares, type MachineShare} from '../../../src/core/machine/shares.js'
import type {MachineRoot} from '../../../src/core/machine/vm-paths.js'
import {fakeRunner} from '../../helpers/fake-runner.js'
import {podmanFixture} from '../../helpers/fixtures.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'

const mac = fakeHostFacts('macos', {homeDir: '/Users/jdoe', env: {HOME: '/Users/jdoe'}})
const win = fakeHostFacts('windows', {homeDir: 'C:\\Users\\jdoe', env: {USERPROFILE: 'C:\\Users\\jdoe'}})

const sharesOf = (file: string): MachineShare[] => {
  const parsed = parseMachineConfig(podmanFixture(file))
  if (!parsed.ok) throw new Error(parsed.reason)
  return parsed.shares
}
const root = (hostPath: string, vmPath = hostPath): MachineRoot => ({hostPath, vmPath, reason: 'mount', targets: ['/workspace/app']})

describe('parseMachineConfig (the machine\'s own JSON config)', () => {
  it('reads 5.x Mounts (applehv, libkrun, hyperv) and 4.x qemu Mounts', () => {
    expect(sharesOf('podman5-machine-config-applehv-default.json').map((s) => s.source)).toEqual(['/Users', '/private', '/var/folders'])
    expect(sharesOf('podman5-machine-config-libkrun-default.json').map((s) => s.target)).toEqual(['/Users', '/private', '/var/folders'])
    expect(sharesOf('podman5-machine-config-applehv-narrow.json')).toEqual([{source: '/Users/jdoe/dev/app', target: '/Users/jdoe/dev/app', readOnly: false}])
    expect(sharesOf('podman5-machine-config-hyperv-default.json')).toEqual([
      {source: 'C:\\Users\\jdoe', target: '/Users/jdoe', readOnly: false},
      {source: 'C:\\', target: '/mnt/c', readOnly: false},
    ])
    expect(sharesOf('podman4-machine-config-qemu.json').map((s) => `${s.source}:${s.target}`)).toEqual(['/Users:/Users', '/private:/private', '/var/folders:/var/folders'])
  })

  it('treats "Mounts": null as no shares (WSL, or created with no volumes), and a missing field as unreadable', () => {
    expect(parseMachineConfig(podmanFixture('podman5-machine-config-wsl.json'))).toEqual({ok: true, shares: []})
    expect(parseMachineConfig('{"Name":"x"}')).toEqual({ok: false, reason: 'the config has no Mounts field'})
    expect(parseMachineConfig('not json').ok).toBe(false)
  })
})

describe('coverage: is each allowlisted root visible at the path podman run will name?', () => {
  it('macOS default /Users share covers repos under home; a repo elsewhere is not covered', () => {
    const shares = sharesOf('podman5-machine-config-applehv-default.json')
    const c = coverage([root('/Users/jdoe/dev/app'), root('/Volumes/data/repo')], shares, mac)
    expect(c.covered.map((r) => r.hostPath)).toEqual(['/Users/jdoe/dev/app'])
    expect(c.uncovered.map((r) => r.hostPath)).toEqual(['/Volumes/data/repo'])
  })

  it('compares host paths case-insensitively on macOS, but the VM path exactly', () => {
    expect(coverage([root('/Users/jdoe/dev/app')], [{source: '/USERS', target: '/Users', readOnly: false}], mac).covered).toHaveLength(1)
    expect(coverage([root('/Users/jdoe/dev/app')], [{source: '/Users', target: '/users', readOnly: false}], mac).covered).toHaveLength(0)
  })

  it('a narrowed machine covers exactly its repo', () => {
    const shares = sharesOf('podman5-machine-config-applehv-narrow.json')
    expect(coverage([root('/Users/jdoe/dev/app'), root('/Users/jdoe/dev/other')], shares, mac).uncovered.map((r) => r.hostPath)).toEqual(['/Users/jdoe/dev/other'])
  })

  it('Hyper-V: C:\\ → /mnt/c (5.3+) covers C:\\x at /mnt/c/x; the home share at /Users/<u> does not', () => {
    const all = sharesOf('podman5-machine-config-hyperv-default.json')
    const homeOnly = all.filter((s) => s.target === '/Users/jdoe')
    const r = root('C:\\Users\\jdoe\\dev\\app', '/mnt/c/Users/jdoe/dev/app')
    expect(coverage([r], all, win).covered).toHaveLength(1)
    expect(coverage([r], homeOnly, win).uncovered).toHaveLength(1)
    expect(coverage([r], sharesOf('podman5-machine-config-hyperv-narrow.json'), win).covered).toHaveLength(1)
  })
})

describe('exposedShares: what the container policy would refuse', () => {
  it('flags Podman\'s defaults: /Users, /private, /var/folders; the home folder and C:\\ on Windows', () => {
    expect(exposedShares(sharesOf('podman5-machine-config-applehv-default.json'), mac).map((e) => e.share.source)).toEqual(['/Users', '/private', '/var/folders'])
    expect(exposedShares(sharesOf('podman5-machine-config-hyperv-default.json'), win).map((e) => [e.share.source, e.reason])).toEqual([
      ['C:\\Users\\jdoe', 'C:\\Users\\jdoe is your home directory'],
      ['C:\\', 'C:\\ is a drive root'],
    ])
  })

  it('passes a narrowed machine', () => {
    expect(exposedShares(sharesOf('podman5-machine-config-applehv-narrow.json'), mac)).toEqual([])
    expect(exposedShares(sharesOf('podman5-machine-config-hyperv-narrow.json'), win)).toEqual([])
  })
})

describe('readMachineShares', () => {
  const files = (map: Record<string, string>) => async (p: string) => {
    if (p in map) return map[p] as string
    throw Object.assign(new Error('ENOENT'), {code: 'ENOENT'})
  }

  it('5.x: <ConfigDir>/<name>.json from `podman machine inspect`', async () => {
    const runner = fakeRunner([{match: 'podman machine inspect', result: {stdout: podmanFixture('podman5-machine-inspect-stopped.json')}}])
    const lifecycle = new MachineLifecycle(runner, mac)
    const path = '/Users/jdoe/.config/containers/podman/machine/applehv/podman-machine-default.json'
    const info = await readMachineShares({lifecycle, name: 'podman-machine-default', provider: 'applehv', readFile: files({[path]: podmanFixture('podman5-machine-config-applehv-default.json')})})
    expect(info).toMatchObject({status: 'known', configFile: path})
    expect(runner.commandLines()).toEqual(['podman machine inspect -- podman-machine-default'])
  })

  it('4.x: the file named by ConfigPath', async () => {
    const runner = fakeRunner([{match: 'podman machine inspect', result: {stdout: podmanFixture('podman4-machine-inspect-stopped.json')}}])
    const path = '/Users/jdoe/.config/containers/podman/machine/qemu/podman-machine-default.json'
    const info = await readMachineShares({lifecycle: new MachineLifecycle(runner, mac), name: 'podman-machine-default', provider: 'qemu', readFile: files({[path]: podmanFixture('podman4-machine-config-qemu.json')})})
    expect(info.status === 'known' && info.shares.length).toBe(3)
  })

  it('Windows Hyper-V: joins ConfigDir with win32 paths', async () => {
    const runner = fakeRunner([{match: 'podman machine inspect', result: {stdout: podmanFixture('podman5-hyperv-machine-inspect-stopped.json')}}])
    const path = 'C:\\Users\\jdoe\\.config\\containers\\podman\\machine\\hyperv\\podman-machine-default.json'
    const info = await readMachineShares({lifecycle: new MachineLifecycle(runner, win), name: 'podman-machine-default', provider: 'hyperv', readFile: files({[path]: podmanFixture('podman5-machine-config-hyperv-default.json')})})
    expect(info).toMatchObject({status: 'known', configFile: path})
  })

  it('WSL: every drive, without asking podman', async () => {
    const runner = fakeRunner([])
    expect(await readMachineShares({lifecycle: new MachineLifecycle(runner, win), name: 'x', provider: 'wsl'})).toEqual({status: 'all-drives'})
    expect(runner.calls).toEqual([])
  })

  it('absent machine → absent; unreadable config → unknown with the reason', async () => {
    const missing = fakeRunner([{match: 'podman machine inspect', result: {exitCode: 125, stdout: podmanFixture('podman5-machine-inspect-missing.stdout.json'), stderr: podmanFixture('podman5-machine-inspect-missing.stderr.txt')}}])
    expect(await readMachineShares({lifecycle: new MachineLifecycle(missing, mac), name: 'podman-machine-default', provider: 'applehv'})).toEqual({status: 'absent'})
    const ok = fakeRunner([{match: 'podman machine inspect', result: {stdout: podmanFixture('podman5-machine-inspect-stopped.json')}}])
    const info = await readMachineShares({lifecycle: new MachineLifecycle(ok, mac), name: 'podman-machine-default', provider: 'applehv', readFile: files({})})
    expect(info).toMatchObject({status: 'unknown', reason: expect.stringMatching(/cannot read the machine config .*podman-machine-default\.json \(ENOENT\)/)})
  })
})
