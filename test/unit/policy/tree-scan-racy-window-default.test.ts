/**
 * The tree cache's racy window by default: a folder changed less than 2 seconds before the scan
 * started is not written to the cache (a change right after the read could keep the same times);
 * one changed 2 seconds or more before is. The scan's clock is set here relative to the folder's
 * ctime (no waiting), so the bound is checked on both sides.
 */
import {lstatSync, mkdirSync, realpathSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it, vi} from 'vitest'
import {cacheableFileSystem} from '../../../src/core/policy/tree-cache.js'
import {scanTree} from '../../../src/core/policy/tree-scan.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'
import {tempDir} from '../../helpers/temp-dirs.js'

afterEach(() => {
  vi.restoreAllMocks()
})

describe('the racy window by default (2 s)', () => {
  it('a folder changed 1.999 s before the scan is not cached; one changed 2.001 s before is', async () => {
    const base = realpathSync(tempDir('scan-racy-default-'))
    expect(cacheableFileSystem(base)).toBe(true)
    const home = join(base, 'home')
    const host = fakeHostFacts('linux', {homeDir: home, uid: process.getuid?.() ?? 1000, env: {HOME: home}})
    // An empty root: one folder, whose ctime is the only one that counts.
    const repo = join(base, 'repo')
    mkdirSync(repo)
    const ctime = lstatSync(repo).ctimeMs
    const opts = {host, mounts: null, treeCacheDir: join(base, 'state')}
    const clock = vi.spyOn(Date, 'now')

    clock.mockReturnValue(Math.floor(ctime) + 1999)
    expect((await scanTree(repo, opts)).cache).toEqual({cachedDirs: 0, readDirs: 1, written: false})

    clock.mockReturnValue(Math.ceil(ctime) + 2001)
    expect((await scanTree(repo, opts)).cache).toEqual({cachedDirs: 0, readDirs: 1, written: true})
    expect((await scanTree(repo, opts)).cache).toEqual({cachedDirs: 1, readDirs: 0, written: false})
  })
})
