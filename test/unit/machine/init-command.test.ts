import {describe, expect, it} from 'vitest'

import {recommendInit} from '../../../src/core/machine/init-command.js'
import {machineRoots} from '../../../src/core/machine/vm-paths.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'
import {fakeRootsDeps, machineSpec, mount} from './helpers.js'

const mac = fakeHostFacts('macos')
const win = fakeHostFacts('windows')
const linux = fakeHostFacts('linux')

async function rootsFor(host: typeof mac, sources: string[]) {
  return (await machineRoots(sources.map((s, i) => mount(s, `/workspace/r${i}`)), host, fakeRootsDeps(host, {dirs: sources}))).roots
}

describe('recommendInit: the exact `podman machine init`', () => {
  it('macOS applehv on Podman 5: the provider variable although applehv is the default, --volume at the same path for each allowlisted root', async () => {
    const roots = await rootsFor(mac, ['/Users/dev/dev/app', '/Users/dev/dev/lib'])
    const rec = recommendInit({host: mac, machine: machineSpec(), roots, podmanVersion: '5.3.1'})
    expect(rec.env).toEqual({CONTAINERS_MACHINE_PROVIDER: 'applehv'})
    expect(rec.argv).toEqual([
      'podman', 'machine', 'init', '--cpus', '4', '--memory', '8192', '--disk-size', '64',
      '--volume', '/Users/dev/dev/app:/Users/dev/dev/app', '--volume', '/Users/dev/dev/lib:/Users/dev/dev/lib', 'sourceos-agent',
    ])
    expect(rec.text).toBe('CONTAINERS_MACHINE_PROVIDER=applehv podman machine init --cpus 4 --memory 8192 --disk-size 64 --volume /Users/dev/dev/app:/Users/dev/dev/app --volume /Users/dev/dev/lib:/Users/dev/dev/lib sourceos-agent')
    // Podman Desktop writes provider = "libkrun" into containers.conf: the note says why the variable is there
    expect(rec.notes.some((n) => /built-in default here, but a containers.conf \[machine\] provider setting/.test(n))).toBe(true)
    expect(rec.powershell).toBeNull()
    expect(rec.notes[0]).toMatch(/replace Podman's default share of \/Users, \/private and \/var\/folders/)
  })

  it('macOS libkrun (5.1+): CONTAINERS_MACHINE_PROVIDER prefix, and --rootful when the profile says so', async () => {
    const roots = await rootsFor(mac, ['/Users/dev/dev/app'])
    const rec = recommendInit({host: mac, machine: machineSpec({provider: 'libkrun', rootful: true}), roots, podmanVersion: '5.3.1'})
    expect(rec.env).toEqual({CONTAINERS_MACHINE_PROVIDER: 'libkrun'})
    expect(rec.text).toBe('CONTAINERS_MACHINE_PROVIDER=libkrun podman machine init --cpus 4 --memory 8192 --disk-size 64 --rootful --volume /Users/dev/dev/app:/Users/dev/dev/app sourceos-agent')
    expect(rec.notes.some((n) => n.startsWith('CONTAINERS_MACHINE_PROVIDER=libkrun selects the libkrun provider (the default here is applehv)'))).toBe(true)
  })

  it('macOS on Podman 4.x: qemu (the default) and applehv both carry the variable', async () => {
    const roots = await rootsFor(mac, ['/Users/dev/dev/app'])
    expect(recommendInit({host: mac, machine: machineSpec({provider: 'qemu'}), roots, podmanVersion: '4.9.5'}).env).toEqual({CONTAINERS_MACHINE_PROVIDER: 'qemu'})
    expect(recommendInit({host: mac, machine: machineSpec({provider: 'applehv'}), roots, podmanVersion: '4.9.5'}).text).toMatch(/^CONTAINERS_MACHINE_PROVIDER=applehv podman machine init /)
  })

  it('Windows Hyper-V: C:\\x is shared at /mnt/c/x (where `podman run -v` looks), with the provider variable and a PowerShell form', async () => {
    const roots = await rootsFor(win, ['C:\\Users\\dev\\dev\\app', 'D:\\src\\My Repo'])
    const rec = recommendInit({host: win, machine: machineSpec({provider: 'hyperv'}), roots, podmanVersion: '5.3.0'})
    expect(rec.env).toEqual({CONTAINERS_MACHINE_PROVIDER: 'hyperv'})
    expect(rec.volumes.map((v) => v.spec)).toEqual(['C:\\Users\\dev\\dev\\app:/mnt/c/Users/dev/dev/app', 'D:\\src\\My Repo:/mnt/d/src/My Repo'])
    expect(rec.powershell).toBe(
      "$env:CONTAINERS_MACHINE_PROVIDER = 'hyperv'; podman machine init --cpus 4 --memory 8192 --disk-size 64 --volume C:\\Users\\dev\\dev\\app:/mnt/c/Users/dev/dev/app --volume 'D:\\src\\My Repo:/mnt/d/src/My Repo' sourceos-agent",
    )
    expect(rec.text).toContain("'D:\\src\\My Repo:/mnt/d/src/My Repo'")
    expect(rec.notes.some((n) => /administrator terminal/.test(n))).toBe(true)
  })

  it('Windows WSL: no --volume (WSL ignores it), and says so', async () => {
    const roots = await rootsFor(win, ['C:\\Users\\dev\\dev\\app'])
    const rec = recommendInit({host: win, machine: machineSpec({provider: 'wsl'}), roots, podmanVersion: '5.3.0'})
    // WSL ignores --cpus, --memory and --disk-size too: not printed, and the note says so
    expect(rec.argv).toEqual(['podman', 'machine', 'init', 'sourceos-agent'])
    expect(rec.volumes).toEqual([])
    expect(rec.env).toEqual({CONTAINERS_MACHINE_PROVIDER: 'wsl'})
    expect(rec.notes[0]).toMatch(/^WSL ignores --cpus, --memory and --disk-size .*cpus: 4, memoryMiB: 8192 and diskGiB: 64 are not passed; set processors= and memory= under \[wsl2\] in \.wslconfig/)
    expect(rec.notes.some((n) => /^WSL ignores --volume/.test(n))).toBe(true)
  })

  it('the default-share text follows the Podman version: 4.0 shares nothing, 4.1–4.3 $HOME (macOS too), 4.4+ /Users, /private, /var/folders on macOS', async () => {
    const roots = await rootsFor(mac, ['/Users/dev/dev/app'])
    const note = (v: string) => recommendInit({host: mac, machine: machineSpec({provider: 'qemu'}), roots, podmanVersion: v}).notes[0]
    expect(note('4.0.3')).toMatch(/default share of nothing/)
    expect(note('4.3.1')).toMatch(/default share of your home folder \(\/Users\/dev\)/)
    expect(note('4.4.0')).toMatch(/default share of \/Users, \/private and \/var\/folders/)
  })

  it('Linux qemu: same-path volumes in place of the default $HOME share', async () => {
    const roots = await rootsFor(linux, ['/home/dev/dev/app'])
    const rec = recommendInit({host: linux, machine: machineSpec({provider: 'qemu'}), roots, podmanVersion: '4.3.1'})
    expect(rec.text).toBe('CONTAINERS_MACHINE_PROVIDER=qemu podman machine init --cpus 4 --memory 8192 --disk-size 64 --volume /home/dev/dev/app:/home/dev/dev/app sourceos-agent')
    expect(rec.notes[0]).toMatch(/default share of your home folder \(\/home\/dev\)/)
  })

  it('uses SOURCEOSCTL_PODMAN\'s program when given', async () => {
    const rec = recommendInit({host: linux, machine: machineSpec({provider: 'qemu'}), roots: [], podmanVersion: '4.3.1', binary: '/opt/podman/bin/podman'})
    expect(rec.argv[0]).toBe('/opt/podman/bin/podman')
    expect(rec.notes[0]).toMatch(/allowlists no folders/)
  })
})
