import {describe, expect, it} from 'vitest'
import {compareSurfaces, judgeNewConfig} from '../../../src/core/integrity/compare.js'
import type {Surface, SurfaceItem} from '../../../src/core/integrity/surface.js'

const R = '/home/dev/repo'
const file = (text: string): SurfaceItem => ({kind: 'file', digest: `d:${text}`, content: Buffer.from(text).toString('base64'), mode: 0o644})
const dir: SurfaceItem = {kind: 'dir'}
const INIT_CONFIG = '[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n\tlogallrefupdates = true\n'

function surface(items: Record<string, SurfaceItem>, gitEntries = [`${R}/.git`]): Surface {
  return {root: R, items: {[`${R}/.git`]: dir, [`${R}/.git/config`]: file(INIT_CONFIG), [`${R}/.git/hooks`]: dir, ...items}, gitEntries}
}

describe('compareSurfaces', () => {
  it('nothing changed → no findings', () => {
    expect(compareSurfaces(surface({}), surface({}))).toEqual([])
  })

  it('a commondir planted in an existing .git is quarantined', () => {
    const f = compareSurfaces(surface({}), surface({[`${R}/.git/commondir`]: file('/tmp/evil\n')}))
    expect(f).toMatchObject([{path: `${R}/.git/commondir`, change: 'new', action: 'quarantine'}])
    expect(f[0]!.reason).toMatch(/another directory/)
  })

  it('config.worktree, gitdir, a new hook and an interrupted rebase are each plants', () => {
    const after = surface({
      [`${R}/.git/config.worktree`]: file('[core]\nfsmonitor=x\n'),
      [`${R}/.git/gitdir`]: file('/x\n'),
      [`${R}/.git/hooks/pre-commit`]: file('#!/bin/sh\n'),
      [`${R}/.git/rebase-merge`]: dir,
      [`${R}/.git/rebase-merge/git-rebase-todo`]: file('exec sh -c x\n'),
    })
    const f = compareSurfaces(surface({}), after)
    expect(f.map((x) => [x.path.slice(R.length), x.action])).toEqual([
      ['/.git/config.worktree', 'quarantine'],
      ['/.git/gitdir', 'quarantine'],
      ['/.git/hooks/pre-commit', 'quarantine'],
      // the todo moves with its folder
      ['/.git/rebase-merge', 'quarantine'],
    ])
  })

  it('a changed config is restored from the baseline; a changed file without kept bytes is quarantined', () => {
    const big: SurfaceItem = {kind: 'file', digest: 'big-1'}
    const f = compareSurfaces(surface({[`${R}/.git/hooks/x`]: big}), surface({[`${R}/.git/config`]: file(`${INIT_CONFIG}[core]\nfsmonitor = evil\n`), [`${R}/.git/hooks/x`]: {kind: 'file', digest: 'big-2'}}))
    expect(f.map((x) => [x.path.slice(R.length), x.change, x.action])).toEqual([
      ['/.git/config', 'changed', 'restore'],
      ['/.git/hooks/x', 'changed', 'quarantine'],
    ])
  })

  it('a file swapped for a symlink is a change', () => {
    const f = compareSurfaces(surface({}), surface({[`${R}/.git/config`]: {kind: 'symlink', digest: '/tmp/evil-config'}}))
    expect(f).toMatchObject([{path: `${R}/.git/config`, change: 'changed', action: 'restore'}])
  })

  it('a plain `git init` made during the session is kept; one with fsmonitor or a live hook is quarantined whole', () => {
    const sub = `${R}/sub/.git`
    const plain = surface({[sub]: dir, [`${sub}/config`]: file(`${INIT_CONFIG}[remote "origin"]\n\turl = https://x/y.git\n`), [`${sub}/hooks`]: dir, [`${sub}/hooks/pre-commit.sample`]: file('#')}, [`${R}/.git`, sub])
    expect(compareSurfaces(surface({}), plain)).toEqual([])

    const evil = surface({[sub]: dir, [`${sub}/config`]: file(`${INIT_CONFIG}\tfsmonitor = "touch /tmp/pwned"\n`), [`${sub}/hooks`]: dir}, [`${R}/.git`, sub])
    expect(compareSurfaces(surface({}), evil)).toMatchObject([{path: sub, change: 'new', action: 'quarantine'}])
    const hooked = surface({[sub]: dir, [`${sub}/config`]: file(INIT_CONFIG), [`${sub}/hooks`]: dir, [`${sub}/hooks/post-checkout`]: file('#!/bin/sh')}, [`${R}/.git`, sub])
    expect(compareSurfaces(surface({}), hooked)[0]!.reason).toMatch(/hook/)
  })

  it('a new .git pointer file or symlink anywhere is quarantined', () => {
    const after = surface({[`${R}/a/.git`]: file('gitdir: /home/dev/other/.git\n'), [`${R}/b/.git`]: {kind: 'symlink', digest: '/home/dev/other/.git'}}, [`${R}/.git`, `${R}/a/.git`, `${R}/b/.git`])
    const f = compareSurfaces(surface({}), after)
    expect(f.map((x) => [x.path.slice(R.length), x.action])).toEqual([
      ['/a/.git', 'quarantine'],
      ['/b/.git', 'quarantine'],
    ])
    expect(f[0]!.reason).toMatch(/other\/\.git/)
  })

  it('a .git that existed but could not be read into the baseline is never moved as new', () => {
    const before: Surface = {root: R, items: {}, gitEntries: [`${R}/.git`]}
    expect(compareSurfaces(before, surface({})).filter((f) => f.path === `${R}/.git`)).toEqual([])
  })

  it('removals are named, not acted on', () => {
    const f = compareSurfaces(surface({[`${R}/.git/hooks/pre-push`]: file('x')}), surface({}))
    expect(f).toMatchObject([{path: `${R}/.git/hooks/pre-push`, change: 'removed', action: 'report'}])
  })
})

describe('judgeNewConfig', () => {
  it('allows what init, clone, remote and branch write; refuses everything that can run a program', () => {
    expect(judgeNewConfig(`${INIT_CONFIG}[user]\n\tname = A\n[branch "main"]\n\tremote = origin\n\tmerge = refs/heads/main\n`)).toBeNull()
    for (const bad of [
      '[core]\n\tfsmonitor = x\n',
      '[core]\n\thooksPath = .h\n',
      '[core]\n\tpager = x\n',
      '[core]\n\tsshCommand = x\n',
      '[include]\n\tpath = ../x\n',
      '[includeIf "gitdir:/"]\n\tpath = x\n',
      '[filter "a"]\n\tclean = x\n',
      '[alias]\n\tst = !x\n',
      '[diff "a"]\n\ttextconv = x\n',
      '[remote "o"]\n\turl = ext::sh -c x\n',
      '[remote "o"]\n\turl = -uxploit\n',
      '[remote "o"]\n\tuploadpack = x\n',
      '[core]\n\tbare = true\n',
      '[core\n',
    ]) {
      expect(judgeNewConfig(bad), bad).not.toBeNull()
    }
  })
})
