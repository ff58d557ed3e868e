import {describe, expect, it} from 'vitest'

import {ExitCode} from '../../../src/core/errors.js'
import {machineRoots, vmPathFor, worktreeCommonDir} from '../../../src/core/machine/vm-paths.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'
import {fakeRootsDeps, mount} from './helpers.js'

const mac = fakeHostFacts('macos')
const win = fakeHostFacts('windows')
const linux = fakeHostFacts('linux')

describe('vmPathFor', () => {
  it('is the same path on macOS and Linux, /mnt/<drive>/… on Windows', () => {
    expect(vmPathFor('/Users/dev/dev/app', mac)).toBe('/Users/dev/dev/app')
    expect(vmPathFor('/home/dev/app', linux)).toBe('/home/dev/app')
    expect(vmPathFor('C:\\Users\\dev\\dev\\app', win)).toBe('/mnt/c/Users/dev/dev/app')
    expect(vmPathFor('d:\\src\\x\\', win)).toBe('/mnt/d/src/x')
    expect(vmPathFor('\\\\?\\E:\\work', win)).toBe('/mnt/e/work')
  })
})

describe('machineRoots', () => {
  it('collapses nested and duplicate mounts into their ancestor, keeping every target', async () => {
    const deps = fakeRootsDeps(mac, {dirs: ['/Users/dev/dev/app', '/Users/dev/dev/app/sub', '/Users/dev/dev/lib']})
    const {roots, warnings} = await machineRoots(
      [mount('/Users/dev/dev/app/sub', '/workspace/sub'), mount('/Users/dev/dev/app', '/workspace/app'), mount('/users/DEV/dev/app', '/workspace/again'), mount('/Users/dev/dev/lib', '/workspace/lib')],
      mac,
      // macOS realpath returns the on-disk case
      {...deps, realpath: async (p) => (p.toLowerCase() === '/users/dev/dev/app' ? '/Users/dev/dev/app' : deps.realpath(p))},
    )
    expect(warnings).toEqual([])
    expect(roots.map((r) => [r.hostPath, r.targets])).toEqual([
      ['/Users/dev/dev/app', ['/workspace/app', '/workspace/sub', '/workspace/again']],
      ['/Users/dev/dev/lib', ['/workspace/lib']],
    ])
  })

  it('resolves symlinks first: the VM must share the real folder', async () => {
    const deps = fakeRootsDeps(mac, {dirs: ['/Volumes/work/app'], links: {'/Users/dev/dev/app': '/Volumes/work/app'}})
    const {roots} = await machineRoots([mount('~/dev/app')], mac, deps)
    expect(roots[0]).toMatchObject({hostPath: '/Volumes/work/app', vmPath: '/Volumes/work/app', reason: 'mount'})
  })

  it('plans a folder that does not exist yet by its absolute path, with a warning', async () => {
    const {roots, warnings} = await machineRoots([mount('~/dev/new')], mac, fakeRootsDeps(mac))
    expect(roots[0]?.hostPath).toBe('/Users/dev/dev/new')
    expect(warnings[0]).toMatch(/does not exist yet/)
  })

  it('refuses (exit 3) a mount the policy refuses: the machine must never share it either', async () => {
    await expect(machineRoots([mount('~')], mac, fakeRootsDeps(mac, {dirs: ['/Users/dev']}))).rejects.toMatchObject({exitCode: ExitCode.POLICY})
  })

  it('adds the main git dir of a worktree that lives elsewhere', async () => {
    const deps = fakeRootsDeps(mac, {
      dirs: ['/Users/dev/wt/feature', '/Users/dev/dev/main/.git', '/Users/dev/dev/main/.git/worktrees/feature'],
      files: {
        '/Users/dev/wt/feature/.git': 'gitdir: /Users/dev/dev/main/.git/worktrees/feature\n',
        '/Users/dev/dev/main/.git/worktrees/feature/commondir': '../..\n',
      },
    })
    expect(await worktreeCommonDir('/Users/dev/wt/feature', mac, deps)).toBe('/Users/dev/dev/main/.git')
    const {roots} = await machineRoots([mount('/Users/dev/wt/feature')], mac, deps)
    expect(roots.map((r) => [r.hostPath, r.reason])).toEqual([
      ['/Users/dev/wt/feature', 'mount'],
      ['/Users/dev/dev/main/.git', 'worktree-git-dir'],
    ])
  })

  it('works on Windows paths (fake file system)', async () => {
    const deps = fakeRootsDeps(win, {dirs: ['C:\\Users\\dev\\dev\\app']})
    const {roots} = await machineRoots([mount('%USERPROFILE%\\dev\\app')], win, deps)
    expect(roots).toEqual([{hostPath: 'C:\\Users\\dev\\dev\\app', vmPath: '/mnt/c/Users/dev/dev/app', reason: 'mount', targets: ['/workspace/app']}])
  })
})
