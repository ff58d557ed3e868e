import {mkdirSync, realpathSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {findCheckoutRoot, parseCommonDir, parseGitFile, readGitLayout} from '../../../src/core/git/layout.js'
import {tempDir} from '../../helpers/temp-dirs.js'

/** A main repo's git dir and a linked worktree of it, written by hand the way `git worktree add` does. */
function linkedWorktree(opts: {relative?: boolean} = {}) {
  const base = realpathSync(tempDir('layout-'))
  const common = join(base, 'main', '.git')
  const gitDir = join(common, 'worktrees', 'wt')
  const wt = join(base, 'wt')
  for (const d of ['hooks', 'objects', 'refs/heads', 'worktrees/wt']) mkdirSync(join(common, d), {recursive: true})
  writeFileSync(join(common, 'config'), '[core]\n')
  writeFileSync(join(common, 'HEAD'), 'ref: refs/heads/main\n')
  writeFileSync(join(gitDir, 'commondir'), '../..\n')
  writeFileSync(join(gitDir, 'gitdir'), `${wt}/.git\n`)
  writeFileSync(join(gitDir, 'HEAD'), 'ref: refs/heads/feature\n')
  mkdirSync(wt)
  writeFileSync(join(wt, '.git'), `gitdir: ${opts.relative ? '../main/.git/worktrees/wt' : gitDir}\n`)
  return {base, common, gitDir, wt}
}

describe('parseGitFile / parseCommonDir', () => {
  it.each([
    ['gitdir: /repo/.git/worktrees/x\n', '/repo/.git/worktrees/x'],
    ['gitdir: ../main/.git/worktrees/x', '../main/.git/worktrees/x'],
    ['gitdir: C:/Users/dev/repo/.git/worktrees/x\r\n', 'C:/Users/dev/repo/.git/worktrees/x'],
    ['gitdir:/no/space\n', '/no/space'],
    ['gitdir: /with space/x\n', '/with space/x'],
  ])('reads %j', (content, want) => {
    expect(parseGitFile(content)).toBe(want)
  })

  it.each(['', 'gitdir: \n', 'ref: refs/heads/main\n', 'garbage'])('refuses %j', (content) => {
    expect(parseGitFile(content)).toBeNull()
  })

  it('reads commondir (relative or absolute), not an empty one', () => {
    expect(parseCommonDir('../..\n')).toBe('../..')
    expect(parseCommonDir('/srv/repo.git\n')).toBe('/srv/repo.git')
    expect(parseCommonDir('\n')).toBeNull()
  })
})

describe('readGitLayout', () => {
  it('a folder without .git is none', async () => {
    const dir = realpathSync(tempDir('layout-'))
    expect(await readGitLayout(dir, 'linux')).toEqual({kind: 'none', root: dir})
  })

  it('a normal repo: the .git dir and which internals exist', async () => {
    const {base, common} = linkedWorktree()
    const root = join(base, 'main')
    const layout = await readGitLayout(root, 'linux')
    expect(layout).toEqual({kind: 'repo', root, gitDir: common, dotGitIsSymlink: false, entries: {hooks: 'dir', config: 'file', worktrees: 'dir'}})
  })

  it('a linked worktree: gitdir and the common dir, as written and resolved', async () => {
    const {wt, gitDir, common} = linkedWorktree()
    const layout = await readGitLayout(wt, 'linux')
    expect(layout).toEqual({
      kind: 'linked',
      root: wt,
      dotGit: join(wt, '.git'),
      gitDirWritten: gitDir,
      commonDirWritten: '../..',
      gitDir,
      commonDir: common,
      gitDirEntries: {commondir: 'file', gitdir: 'file'},
      commonDirEntries: {objects: 'dir', refs: 'dir'},
    })
  })

  it('a relative gitdir (worktree.useRelativePaths) resolves against the worktree', async () => {
    const {wt, gitDir, common} = linkedWorktree({relative: true})
    const layout = await readGitLayout(wt, 'linux')
    expect(layout).toMatchObject({kind: 'linked', gitDirWritten: '../main/.git/worktrees/wt', gitDir, commonDir: common})
  })

  it('a gitfile without commondir is a separate git dir', async () => {
    const {base, common} = linkedWorktree()
    const sub = join(base, 'sub')
    mkdirSync(sub)
    writeFileSync(join(sub, '.git'), `gitdir: ${common}\n`)
    expect(await readGitLayout(sub, 'linux')).toMatchObject({kind: 'gitfile', gitDir: common, entries: {hooks: 'dir', config: 'file'}})
  })

  it('a symlinked .git is a repo flagged as such; internals that are symlinks are reported as symlinks', async () => {
    const {base, common} = linkedWorktree()
    const root = join(base, 'linked-repo')
    mkdirSync(root)
    symlinkSync(common, join(root, '.git'))
    expect(await readGitLayout(root, 'linux')).toMatchObject({kind: 'repo', dotGitIsSymlink: true})
  })

  it('a pointer that leads nowhere throws, naming the file', async () => {
    const dir = realpathSync(tempDir('layout-'))
    writeFileSync(join(dir, '.git'), 'gitdir: /nonexistent/.git/worktrees/x\n')
    await expect(readGitLayout(dir, 'linux')).rejects.toThrow(/points at \/nonexistent.*does not exist/)
    writeFileSync(join(dir, '.git'), 'not a pointer\n')
    await expect(readGitLayout(dir, 'linux')).rejects.toThrow(/not a git pointer/)
  })
})

describe('findCheckoutRoot', () => {
  it('walks up to the folder with .git, never above the limit', async () => {
    const {base} = linkedWorktree()
    const root = join(base, 'main')
    const deep = join(root, 'src', 'lib')
    mkdirSync(deep, {recursive: true})
    expect(await findCheckoutRoot(deep, root, 'linux')).toBe(root)
    expect(await findCheckoutRoot(deep, join(root, 'src'), 'linux')).toBeNull()
    expect(await findCheckoutRoot(base, root, 'linux')).toBeNull()
  })
})
