/** What changed (issue 14, item 4): a content tree hash git's index flags and exclude files cannot fool. */
import {execFileSync} from 'node:child_process'
import {appendFileSync, mkdirSync, statSync, symlinkSync, utimesSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {clearContentHashCache, contentTree, diffTrees} from '../../../src/core/evidence/content-hash.js'
import {tempDir} from './helpers.js'

const git = (dir: string, ...args: string[]) => execFileSync('git', ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args], {encoding: 'utf8'})

function repo(): string {
  const dir = tempDir('content-hash-')
  git(dir, 'init', '-q')
  writeFileSync(join(dir, 'a.txt'), 'a\n')
  writeFileSync(join(dir, 'b.txt'), 'b\n')
  mkdirSync(join(dir, 'src'))
  writeFileSync(join(dir, 'src', 'main.ts'), 'export {}\n')
  git(dir, 'add', '.')
  git(dir, 'commit', '-qm', 'init')
  return dir
}

describe('contentTree', () => {
  it('skip-worktree, assume-unchanged and info/exclude hide changes from git status, not from the tree hash', async () => {
    const dir = repo()
    const before = await contentTree(dir)
    writeFileSync(join(dir, 'a.txt'), 'changed by the agent\n')
    git(dir, 'update-index', '--skip-worktree', 'a.txt')
    writeFileSync(join(dir, 'b.txt'), 'also changed\n')
    git(dir, 'update-index', '--assume-unchanged', 'b.txt')
    writeFileSync(join(dir, 'hidden.txt'), 'new\n')
    appendFileSync(join(dir, '.git', 'info', 'exclude'), 'hidden.txt\n')
    writeFileSync(join(dir, '.gitignore'), 'ignored.bin\n')
    writeFileSync(join(dir, 'ignored.bin'), 'build output\n')
    // git sees nothing but the new .gitignore
    expect(git(dir, 'status', '--porcelain').trim()).toBe('?? .gitignore')
    const after = await contentTree(dir)
    expect(after.tree).not.toBe(before.tree)
    expect(diffTrees(before, after)).toEqual({added: ['.gitignore', 'hidden.txt', 'ignored.bin'], modified: ['a.txt', 'b.txt'], removed: [], omitted: 0})
  })

  it('is stable, ignores the top .git dir, and sees the executable bit', async () => {
    const dir = repo()
    const one = await contentTree(dir)
    git(dir, 'commit', '--allow-empty', '-qm', 'only .git changes')
    clearContentHashCache()
    const two = await contentTree(dir)
    expect(two.tree).toBe(one.tree)
    execFileSync('chmod', ['+x', join(dir, 'src', 'main.ts')])
    const three = await contentTree(dir)
    expect(diffTrees(two, three).modified).toEqual(['src/main.ts'])
  })

  it('a content change with size and mtime put back is still found (the cache keys on ctime too)', async () => {
    const dir = repo()
    const file = join(dir, 'a.txt')
    const before = await contentTree(dir)
    const {atime, mtime} = statSync(file)
    writeFileSync(file, 'A\n')
    utimesSync(file, atime, mtime)
    const after = await contentTree(dir)
    expect(diffTrees(before, after).modified).toEqual(['a.txt'])
  })

  it('never follows a symlink and never blocks on a FIFO', async () => {
    const dir = repo()
    symlinkSync('/dev/zero', join(dir, 'zero'))
    execFileSync('mkfifo', [join(dir, 'pipe')])
    const tree = await contentTree(dir)
    expect(tree.entries.get('zero')?.kind).toBe('symlink')
    expect(tree.entries.get('pipe')).toEqual({kind: 'other', mode: '-', digest: 'fifo'})
  }, 5000)

  it('stops at the file limit with a reason, never a partial hash', async () => {
    const dir = repo()
    const tree = await contentTree(dir, {maxFiles: 2})
    expect(tree).toMatchObject({tree: null, truncated: 'more than 2 files'})
  })
})

describe('the digest cache between launches', () => {
  it('the next launch reads only what changed since; a damaged cache only costs reads', async () => {
    const {loadDigestCache, saveDigestCache} = await import('../../../src/core/evidence/content-hash.js')
    const dir = repo()
    const cacheFile = join(tempDir('content-cache-'), 'state', 'content-hash', 'x.json')
    clearContentHashCache()
    const first = await contentTree(dir)
    expect(first.read).toBe(3)
    await saveDigestCache(cacheFile, dir)
    expect(statSync(cacheFile).mode & 0o777).toBe(0o600)
    // A new process: nothing in memory, the cache from the state dir.
    clearContentHashCache()
    await loadDigestCache(cacheFile, dir)
    writeFileSync(join(dir, 'b.txt'), 'edited between launches\n')
    const next = await contentTree(dir)
    expect(next.read).toBe(1)
    expect(diffTrees(first, next).modified).toEqual(['b.txt'])
    // Damaged or for another folder: ignored, every file read again, the same tree.
    writeFileSync(cacheFile, '{"v":1,"root":"/elsewhere","entries":[]}')
    clearContentHashCache()
    await loadDigestCache(cacheFile, dir)
    const again = await contentTree(dir)
    expect(again).toMatchObject({read: 3, tree: next.tree})
  })
})
