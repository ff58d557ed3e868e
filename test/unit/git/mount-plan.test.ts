import {describe, expect, it} from 'vitest'

import type {GitLayout} from '../../../src/core/git/layout.js'
import {containerPath, GitMountRefusal, planGitMounts, type GitMount} from '../../../src/core/git/mount-plan.js'

const repo: GitLayout = {
  kind: 'repo',
  root: '/home/dev/app',
  gitDir: '/home/dev/app/.git',
  dotGitIsSymlink: false,
  entries: {hooks: 'dir', config: 'file'},
}

const linked: GitLayout = {
  kind: 'linked',
  root: '/home/dev/app-wt',
  dotGit: '/home/dev/app-wt/.git',
  gitDirWritten: '/home/dev/app/.git/worktrees/app-wt',
  commonDirWritten: '../..',
  gitDir: '/home/dev/app/.git/worktrees/app-wt',
  commonDir: '/home/dev/app/.git',
  gitDirEntries: {commondir: 'file', gitdir: 'file'},
  commonDirEntries: {objects: 'dir', refs: 'dir', logs: 'dir'},
}

/** "target mode [<- source]" lines: compact and order-preserving. */
function lines(mounts: GitMount[]): string[] {
  return mounts.map((m) => `${m.target} ${m.mode}${m.source === m.target ? '' : ` <- ${m.source}`}${m.create ? ' (create)' : ''}`)
}

describe('planGitMounts: a normal repo', () => {
  it('rw: .git is its own mount point; hooks and config read-only on top', () => {
    const plan = planGitMounts({layout: repo, rootTarget: '/workspace/app', mode: 'rw', platform: 'linux'})
    expect(lines(plan.mounts)).toEqual([
      '/workspace/app/.git rw <- /home/dev/app/.git',
      '/workspace/app/.git/hooks ro <- /home/dev/app/.git/hooks',
      '/workspace/app/.git/config ro <- /home/dev/app/.git/config',
    ])
    expect(plan.mounts.map((m) => m.type)).toEqual(['dir', 'dir', 'file'])
  })

  it('protects config.worktree, the other worktrees’ pointers and submodules when present', () => {
    const layout = {...repo, entries: {hooks: 'dir', config: 'file', 'config.worktree': 'file', worktrees: 'dir', modules: 'dir'}} as GitLayout
    const plan = planGitMounts({layout, rootTarget: '/workspace/app', mode: 'rw', platform: 'linux'})
    expect(lines(plan.mounts).slice(3)).toEqual([
      '/workspace/app/.git/config.worktree ro <- /home/dev/app/.git/config.worktree',
      '/workspace/app/.git/worktrees ro <- /home/dev/app/.git/worktrees',
      '/workspace/app/.git/modules ro <- /home/dev/app/.git/modules',
    ])
  })

  it('a missing hooks folder is created first (else the agent could create it)', () => {
    const plan = planGitMounts({layout: {...repo, entries: {config: 'file'}} as GitLayout, rootTarget: '/workspace/app', mode: 'rw', platform: 'linux'})
    expect(lines(plan.mounts)).toContain('/workspace/app/.git/hooks ro <- /home/dev/app/.git/hooks (create)')
  })

  it('ro: nothing to add', () => {
    expect(planGitMounts({layout: repo, rootTarget: '/workspace/app', mode: 'ro', platform: 'linux'}).mounts).toEqual([])
  })

  it.each([
    ['a symlinked .git', {...repo, dotGitIsSymlink: true}, 'GIT_DIR_SYMLINK'],
    ['a symlinked hooks folder', {...repo, entries: {hooks: 'symlink', config: 'file'}}, 'GIT_DIR_SYMLINK'],
    ['a symlinked config', {...repo, entries: {hooks: 'dir', config: 'symlink'}}, 'GIT_DIR_SYMLINK'],
    ['a missing config', {...repo, entries: {hooks: 'dir'}}, 'GIT_CONFIG_MISSING'],
    ['hooks that is a file', {...repo, entries: {hooks: 'file', config: 'file'}}, 'GIT_DIR_INCOMPLETE'],
  ])('refuses %s', (_what, layout, code) => {
    try {
      planGitMounts({layout: layout as GitLayout, rootTarget: '/workspace/app', mode: 'rw', platform: 'linux'})
      expect.unreachable()
    } catch (error) {
      expect(error).toBeInstanceOf(GitMountRefusal)
      expect((error as GitMountRefusal).code).toBe(code)
    }
  })

  it('Windows: targets follow the container path of the mount', () => {
    const layout: GitLayout = {...repo, root: 'C:\\Users\\dev\\app', gitDir: 'C:\\Users\\dev\\app\\.git'} as GitLayout
    const plan = planGitMounts({layout, rootTarget: '/workspace/app', mode: 'rw', platform: 'windows'})
    expect(lines(plan.mounts)[1]).toBe('/workspace/app/.git/hooks ro <- C:\\Users\\dev\\app\\.git\\hooks')
  })
})

describe('planGitMounts: a linked worktree', () => {
  it('rw: common dir read-only at the same path; this worktree’s gitdir, objects, refs and logs read-write', () => {
    const plan = planGitMounts({layout: linked, rootTarget: '/workspace/app', mode: 'rw', platform: 'linux'})
    expect(lines(plan.mounts)).toEqual([
      '/workspace/app/.git ro <- /home/dev/app-wt/.git',
      '/home/dev/app/.git ro',
      '/home/dev/app/.git/worktrees/app-wt rw',
      '/home/dev/app/.git/worktrees/app-wt/commondir ro',
      '/home/dev/app/.git/worktrees/app-wt/gitdir ro',
      '/home/dev/app/.git/objects rw',
      '/home/dev/app/.git/refs rw',
      '/home/dev/app/.git/logs rw',
    ])
    // hooks and config are under the read-only common dir: nothing mounts them writable
    expect(plan.mounts.some((m) => m.mode === 'rw' && /hooks|config$/.test(m.target))).toBe(false)
    expect(plan.warnings).toEqual([])
  })

  it('logs is created first when missing: a commit writes the branch reflog there', () => {
    const layout = {...linked, commonDirEntries: {objects: 'dir', refs: 'dir'}} as GitLayout
    expect(lines(planGitMounts({layout, rootTarget: '/workspace/app', mode: 'rw', platform: 'linux'}).mounts)).toContain('/home/dev/app/.git/logs rw (create)')
  })

  it('config.worktree and submodules of the worktree stay read-only', () => {
    const layout = {...linked, gitDirEntries: {commondir: 'file', gitdir: 'file', 'config.worktree': 'file', modules: 'dir'}} as GitLayout
    const got = lines(planGitMounts({layout, rootTarget: '/workspace/app', mode: 'rw', platform: 'linux'}).mounts)
    expect(got).toContain('/home/dev/app/.git/worktrees/app-wt/config.worktree ro')
    expect(got).toContain('/home/dev/app/.git/worktrees/app-wt/modules ro')
  })

  it('ro: only the common dir (the gitdir is inside it)', () => {
    expect(lines(planGitMounts({layout: linked, rootTarget: '/workspace/app', mode: 'ro', platform: 'linux'}).mounts)).toEqual(['/home/dev/app/.git ro'])
  })

  it('a relative gitdir: targets resolve against the container path of the worktree', () => {
    const layout = {...linked, gitDirWritten: '../app/.git/worktrees/app-wt'} as GitLayout
    const got = lines(planGitMounts({layout, rootTarget: '/workspace/x/app-wt', mode: 'rw', platform: 'linux'}).mounts)
    expect(got[1]).toBe('/workspace/x/app/.git ro <- /home/dev/app/.git')
    expect(got[2]).toBe('/workspace/x/app/.git/worktrees/app-wt rw <- /home/dev/app/.git/worktrees/app-wt')
  })

  it('refuses a missing commondir pointer, and a symlinked one', () => {
    for (const commondir of [undefined, 'symlink'] as const) {
      const layout = {...linked, gitDirEntries: {commondir, gitdir: 'file'}} as GitLayout
      expect(() => planGitMounts({layout, rootTarget: '/workspace/app', mode: 'rw', platform: 'linux'})).toThrow(GitMountRefusal)
    }
  })

  it('Windows absolute gitdir: no git in the container (a warning), but the pointer is pinned read-only', () => {
    const layout = {...linked, root: 'C:\\dev\\wt', dotGit: 'C:\\dev\\wt\\.git', gitDirWritten: 'C:/dev/app/.git/worktrees/wt'} as GitLayout
    const plan = planGitMounts({layout, rootTarget: '/workspace/wt', mode: 'rw', platform: 'windows'})
    expect(lines(plan.mounts)).toEqual(['/workspace/wt/.git ro <- C:\\dev\\wt\\.git'])
    expect(plan.warnings[0]).toMatch(/Windows path git inside the container cannot follow/)
  })
})

describe('planGitMounts: a separate git dir (gitfile without commondir)', () => {
  it('rw: the git dir read-write where git expects it, with hooks and config read-only', () => {
    const layout: GitLayout = {kind: 'gitfile', root: '/home/dev/app', dotGit: '/home/dev/app/.git', gitDirWritten: '/srv/git/app.git', gitDir: '/srv/git/app.git', entries: {hooks: 'dir', config: 'file'}}
    expect(lines(planGitMounts({layout, rootTarget: '/workspace/app', mode: 'rw', platform: 'linux'}).mounts)).toEqual([
      '/workspace/app/.git ro <- /home/dev/app/.git',
      '/srv/git/app.git rw',
      '/srv/git/app.git/hooks ro',
      '/srv/git/app.git/config ro',
    ])
  })
})

describe('containerPath', () => {
  it.each([
    ['/home/dev/app/.git', '/workspace/x', 'linux', '/home/dev/app/.git'],
    ['/home/dev//app/./.git', '/workspace/x', 'linux', '/home/dev/app/.git'],
    ['../app/.git', '/workspace/x/wt', 'macos', '/workspace/x/app/.git'],
    ['..\\app\\.git', '/workspace/wt', 'windows', '/workspace/app/.git'],
    ['C:/dev/app/.git', '/workspace/wt', 'windows', null],
  ] as const)('%s from %s (%s) → %s', (written, root, platform, want) => {
    expect(containerPath(written, root, platform)).toBe(want)
  })
})
