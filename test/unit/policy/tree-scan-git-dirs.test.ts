/**
 * Which folders the hazard scan collects as git directories (git would take them as its git dir
 * when run inside): HEAD as a file or a symlink, with objects and refs as folders or symlinks, or
 * HEAD with a commondir. HEAD as a folder, or objects/refs as files, are not, nor a folder missing
 * HEAD or missing both objects/refs and a commondir; a folder inside a .git is not collected again. And a scan of / names its entries /x, not //x.
 */
import {mkdirSync, realpathSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {scanTree} from '../../../src/core/policy/tree-scan.js'
import {tempDir} from '../../helpers/temp-dirs.js'

function tree(layout: Record<string, 'file' | 'dir' | {link: string}>): string {
  const root = realpathSync(tempDir('scan-gitdirs-'))
  for (const [rel, what] of Object.entries(layout)) {
    const abs = join(root, rel)
    mkdirSync(join(abs, '..'), {recursive: true})
    if (what === 'file') writeFileSync(abs, '')
    else if (what === 'dir') mkdirSync(abs, {recursive: true})
    else symlinkSync(what.link, abs)
  }
  return root
}

describe('folders laid out as a git dir', () => {
  it('HEAD as a symlink, objects and refs as symlinks: collected', async () => {
    const root = tree({'store/real-objects': 'dir', 'store/real-refs': 'dir', 'linked/HEAD': {link: 'refs/heads/main'}, 'linked/objects': {link: '../store/real-objects'}, 'linked/refs': {link: '../store/real-refs'}})
    const scan = await scanTree(root, {mounts: null})
    expect(scan.gitEntries).toEqual([{path: join(root, 'linked'), kind: 'dir'}])
  })

  it('HEAD as a folder, or objects or refs as files: not collected', async () => {
    const root = tree({'a/HEAD': 'dir', 'a/objects': 'dir', 'a/refs': 'dir', 'b/HEAD': 'file', 'b/objects': 'file', 'b/refs': 'dir', 'c/HEAD': 'file', 'c/objects': 'dir', 'c/refs': 'file'})
    expect((await scanTree(root, {mounts: null})).gitEntries).toEqual([])
  })

  it('without HEAD, or with HEAD and only some of objects, refs and commondir (beside other entries): not collected', async () => {
    const root = tree({'nohead/objects': 'dir', 'nohead/refs': 'dir', 'nohead/commondir': 'file', 'noobj/HEAD': 'file', 'noobj/refs': 'dir', 'noobj/config': 'file', 'norefs/HEAD': 'file', 'norefs/objects': 'dir', 'norefs/index': 'file'})
    expect((await scanTree(root, {mounts: null})).gitEntries).toEqual([])
  })

  it('a git dir inside a .git (a submodule’s, under .git/modules) is not collected on its own', async () => {
    const root = tree({'.git/HEAD': 'file', '.git/objects': 'dir', '.git/refs': 'dir', '.git/modules/sub/HEAD': 'file', '.git/modules/sub/objects': 'dir', '.git/modules/sub/refs': 'dir'})
    expect((await scanTree(root, {mounts: null})).gitEntries).toEqual([{path: join(root, '.git'), kind: 'dir'}])
  })
})

describe('a scan of /', () => {
  it.runIf(process.platform === 'linux')('names its entries /x (its other file systems are mount points)', async () => {
    const scan = await scanTree('/', {mounts: null, maxDepth: 0})
    expect(scan.root).toBe('/')
    expect(scan.hazards.find((h) => h.relPath === 'proc')).toMatchObject({path: '/proc', kind: 'mount-point', severity: 'refuse'})
    expect(scan.hazards.filter((h) => h.path.startsWith('//'))).toEqual([])
  })
})
