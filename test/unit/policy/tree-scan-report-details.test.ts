/**
 * What the scan reports about itself: the tree cache's counts (folders read, answered, whether the
 * cache was rewritten — also when folders were only dropped) and none without a cache; and how much of
 * .git/config it reads (up to 1 MB: a bigger one is not read).
 */
import {mkdirSync, realpathSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {scanTree} from '../../../src/core/policy/tree-scan.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'
import {tempDir} from '../../helpers/temp-dirs.js'

/** Waits (for the condition: two milliseconds) until what was just changed is past a racy window of 0 ms. */
function settle(): void {
  const until = Date.now() + 2
  while (Date.now() < until) {
    // busy
  }
}

function repo() {
  const base = realpathSync(tempDir('scan-report-'))
  const home = join(base, 'home')
  const root = join(home, 'dev', 'repo')
  mkdirSync(join(root, 'a', 'b'), {recursive: true})
  mkdirSync(join(root, 'c'), {recursive: true})
  const host = fakeHostFacts('linux', {homeDir: home, uid: 1000, env: {HOME: home}})
  return {base, root, host}
}

describe('the tree cache counts', () => {
  it('a cold scan reads every folder; a warm one none; a folder gone makes the cache rewritten', async () => {
    const {base, root, host} = repo()
    const opts = {host, mounts: null, treeCacheDir: join(base, 'state'), treeCacheRacyMs: 0}
    settle()
    expect((await scanTree(root, opts)).cache).toEqual({cachedDirs: 0, readDirs: 4, written: true})
    expect((await scanTree(root, opts)).cache).toEqual({cachedDirs: 4, readDirs: 0, written: false})
    rmSync(join(root, 'c'), {recursive: true})
    settle()
    expect((await scanTree(root, opts)).cache).toEqual({cachedDirs: 2, readDirs: 1, written: true})
    expect((await scanTree(root, opts)).cache).toEqual({cachedDirs: 3, readDirs: 0, written: false})
    // Nothing new to keep (every folder inside a long racy window), but folders dropped: rewritten.
    expect((await scanTree(root, {...opts, treeCacheRacyMs: 60_000})).cache).toEqual({cachedDirs: 0, readDirs: 3, written: true})
  })

  it('are not reported without a cache', async () => {
    const {root, host} = repo()
    expect((await scanTree(root, {host, mounts: null})).cache).toBeUndefined()
  })
})

describe('.git/config', () => {
  it('is read up to 1 MB: credentials in one of exactly 1 MB are seen, in a bigger one not', async () => {
    const {root} = repo()
    mkdirSync(join(root, '.git'))
    const head = '[remote "o"]\n\turl = https://me:tok@host/r\n'
    writeFileSync(join(root, '.git', 'config'), head + '#'.repeat(1_000_000 - head.length))
    expect((await scanTree(root, {mounts: null})).hazards.map((h) => h.kind)).toEqual(['secret-file'])
    writeFileSync(join(root, '.git', 'config'), head + '#'.repeat(1_000_001 - head.length))
    expect((await scanTree(root, {mounts: null})).hazards).toEqual([])
  })
})
