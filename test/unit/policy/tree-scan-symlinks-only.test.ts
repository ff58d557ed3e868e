/**
 * The after-session check (`symlinksOnly`: the agent, which sees no host file, cannot have made a
 * hard link or an alias) judges symlink targets and nothing of the host's inodes: a hard link to
 * ~/.ssh/id_ed25519, refused by the launch scan, is not reported by it — while a symlink into
 * ~/.ssh is. Neither it nor a scan without host facts
 * keeps the tree cache. And a folder holding a name that is not valid UTF-8 is read afresh every
 * time (its listing cannot name the entry), while the rest of the tree comes from the cache.
 */
import {execFileSync} from 'node:child_process'
import {existsSync, linkSync, mkdirSync, readdirSync, realpathSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {scanTree} from '../../../src/core/policy/tree-scan.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'
import {tempDir} from '../../helpers/temp-dirs.js'

function layout() {
  const base = realpathSync(tempDir('scan-symlinks-only-'))
  const home = join(base, 'home')
  mkdirSync(join(home, '.ssh'), {recursive: true})
  writeFileSync(join(home, '.ssh', 'id_ed25519'), 'KEY')
  const repo = join(home, 'dev', 'repo')
  mkdirSync(join(repo, 'src'), {recursive: true})
  const host = fakeHostFacts('linux', {homeDir: home, uid: process.getuid?.() ?? 1000, env: {HOME: home}})
  return {base, home, repo, host, cacheDir: join(base, 'state', 'scan-cache')}
}
const listed = (hazards: ReadonlyArray<{kind: string; severity: string; relPath: string}>) => hazards.map((h) => `${h.severity} ${h.kind} ${h.relPath}`)

describe('the after-session check (symlinksOnly)', () => {
  it('reports a symlink into ~/.ssh, not a hard link to a key the launch scan refuses', async () => {
    const {home, repo, host} = layout()
    linkSync(join(home, '.ssh', 'id_ed25519'), join(repo, 'src', 'innocent'))
    symlinkSync(join(home, '.ssh'), join(repo, 'keys'))
    expect(listed((await scanTree(repo, {host, mounts: null})).hazards)).toEqual(['refuse symlink-sensitive keys', 'refuse hardlink-sensitive src/innocent'])
    expect(listed((await scanTree(repo, {host, mounts: null, symlinksOnly: true})).hazards)).toEqual(['refuse symlink-sensitive keys'])
  })
})

describe('the tree cache', () => {
  it('is not kept by the after-session check, nor by a scan without host facts', async () => {
    const {repo, host, cacheDir} = layout()
    expect((await scanTree(repo, {host, mounts: null, symlinksOnly: true, treeCacheDir: cacheDir, treeCacheRacyMs: 0})).cache).toBeUndefined()
    expect((await scanTree(repo, {mounts: null, treeCacheDir: cacheDir, treeCacheRacyMs: 0})).cache).toBeUndefined()
    expect(existsSync(cacheDir) ? readdirSync(cacheDir) : []).toEqual([])
  })

  it('does not keep a folder holding a name that is not valid UTF-8; the others it keeps', async () => {
    const {repo, host, cacheDir} = layout()
    execFileSync('sh', ['-c', 'printf x > "$(printf "odd\\377")"'], {cwd: join(repo, 'src')})
    const opts = {host, mounts: null, treeCacheDir: cacheDir, treeCacheRacyMs: 0}
    const first = await scanTree(repo, opts)
    // (A file whose name cannot be followed is refused.)
    expect(listed(first.hazards)).toEqual(['refuse unreadable src/odd\uFFFD'])
    expect(first.cache).toEqual({cachedDirs: 0, readDirs: 2, written: true})
    // The root comes from the cache; src is read again, and judged the same.
    const second = await scanTree(repo, opts)
    expect(second.cache).toEqual({cachedDirs: 1, readDirs: 1, written: false})
    expect(second.hazards).toEqual(first.hazards)
  })
})
