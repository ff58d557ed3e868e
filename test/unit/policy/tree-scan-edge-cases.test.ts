/**
 * Hazard-scan edge cases, each a behaviour: where names are judged (a config.json at the root, other
 * files in .docker), names that only look broken, odd .git entries, the entry and depth limits at
 * their bounds, a subfolder that is another name of a folder holding secrets, links that stay inside
 * through `..` or through a symlinked path, a link climbing out of a deep folder, the mount table's
 * other names of the root (with and without host facts), the alias details, a file as the root, and
 * a rewritten tree cache that keeps the folders it answered.
 */
import {execFileSync} from 'node:child_process'
import {mkdirSync, realpathSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {parseMountinfo} from '../../../src/core/policy/mountinfo.js'
import {scanTree} from '../../../src/core/policy/tree-scan.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'
import {tempDir} from '../../helpers/temp-dirs.js'

function home() {
  const base = realpathSync(tempDir('scan-edges-'))
  const h = join(base, 'home', 'u')
  mkdirSync(join(h, '.ssh'), {recursive: true})
  writeFileSync(join(h, '.ssh', 'id_ed25519'), 'KEY')
  mkdirSync(join(h, '.config', 'gh'), {recursive: true})
  const repo = join(h, 'dev', 'repo')
  mkdirSync(repo, {recursive: true})
  const host = fakeHostFacts('linux', {homeDir: h, uid: 1000, env: {HOME: h}})
  return {base, home: h, repo, host}
}
const listed = (hazards: ReadonlyArray<{kind: string; severity: string; relPath: string}>) => hazards.map((h) => `${h.severity} ${h.kind} ${h.relPath}`)

describe('names', () => {
  it('a config.json at the root or beside .docker is nothing; only .docker/config.json is a credential file', async () => {
    const {repo} = home()
    mkdirSync(join(repo, '.docker'))
    writeFileSync(join(repo, 'config.json'), '{}')
    writeFileSync(join(repo, '.docker', 'daemon.json'), '{}')
    writeFileSync(join(repo, '.docker', 'config.json'), '{}')
    expect(listed((await scanTree(repo, {mounts: null})).hazards)).toEqual(['refuse credential-store .docker/config.json'])
  })

  it('a name that really holds U+FFFD (valid UTF-8) is judged like any other', async () => {
    const {repo} = home()
    writeFileSync(join(repo, 'odd\uFFFDname.txt'), '')
    mkdirSync(join(repo, 'dir\uFFFD', '.aws'), {recursive: true})
    expect(listed((await scanTree(repo, {mounts: null})).hazards)).toEqual(['refuse credential-store dir\uFFFD/.aws'])
  })

  it('a FIFO whose name is not UTF-8 is refused as a FIFO', async () => {
    const {repo} = home()
    execFileSync('sh', ['-c', 'mkfifo "$(printf "p\\377")"'], {cwd: repo})
    expect(listed((await scanTree(repo, {mounts: null})).hazards)).toEqual(['refuse fifo p\uFFFD'])
  })

  it('a .git that is a FIFO is collected as "other" (and refused as a FIFO)', async () => {
    const {repo} = home()
    execFileSync('mkfifo', [join(repo, '.git')])
    const scan = await scanTree(repo, {mounts: null})
    expect(scan.gitEntries).toEqual([{path: join(repo, '.git'), kind: 'other'}])
    expect(listed(scan.hazards)).toEqual(['refuse fifo .git'])
  })
})

describe('limits at their bounds', () => {
  it('exactly as many entries as allowed is no truncation; a depth limit is a warning', async () => {
    const {repo} = home()
    for (const n of ['a', 'b', 'c']) writeFileSync(join(repo, n), '')
    const all = await scanTree(repo, {mounts: null, maxEntries: 3})
    expect(all.hazards).toEqual([])
    expect(all.entries).toBe(3)
    expect(listed((await scanTree(repo, {mounts: null, maxEntries: 2})).hazards)).toEqual(['warn truncated .'])
    mkdirSync(join(repo, 'd', 'e'), {recursive: true})
    expect(listed((await scanTree(repo, {mounts: null, maxDepth: 1})).hazards)).toEqual(['warn truncated .'])
  })
})

describe('another name of a folder holding secrets', () => {
  it('a subfolder that is a folder holding a denied one (the home scanned whole) is refused and not entered', async () => {
    const {home: h, host} = home()
    const scan = await scanTree(h, {host, mounts: null})
    const config = scan.hazards.find((x) => x.relPath === '.config')
    expect(config).toMatchObject({kind: 'alias-sensitive', severity: 'refuse'})
    expect(config?.detail).toBe(`the same directory as ${join(h, '.config')}, which holds \${XDG_CONFIG_HOME}/gh (= ${join(h, '.config', 'gh')}): a bind mount or other alias`)
    expect(scan.hazards.find((x) => x.relPath === '.')?.detail).toBe(`this folder is the same directory as your home directory ${h}: a bind mount or other alias`)
    expect(scan.hazards.some((x) => x.relPath.startsWith('.config/'))).toBe(false)
  })

  it('the root that is a denied folder is named with its rule', async () => {
    const {home: h, host} = home()
    const scan = await scanTree(join(h, '.ssh'), {host, mounts: null})
    expect(scan.hazards.find((x) => x.relPath === '.')?.detail).toBe(`this folder is the same directory as ${join(h, '.ssh')} (~/.ssh): a bind mount or other alias`)
  })
})

describe('links that stay inside', () => {
  it('through .. after a name, or through a symlinked path back into the tree: nothing', async () => {
    const {base, repo, host} = home()
    mkdirSync(join(repo, 'sub'))
    writeFileSync(join(repo, 'file'), '')
    symlinkSync('sub/../file', join(repo, 'dotdot'))
    symlinkSync(join(base, 'home'), join(base, 'alias'))
    symlinkSync(join(base, 'alias', 'u', 'dev', 'repo', 'file'), join(repo, 'via-alias'))
    expect((await scanTree(repo, {host, mounts: null})).hazards).toEqual([])
  })

  it('but a relative link climbing out of a deep folder into ~/.ssh is refused (no other link leaves)', async () => {
    const {repo, host} = home()
    const deep = join(repo, 'a', 'b', 'c')
    mkdirSync(deep, {recursive: true})
    // c → b → a → repo → dev → u: five levels up is the home
    symlinkSync('../../../../../.ssh', join(deep, 'keys'))
    expect(listed((await scanTree(repo, {host, mounts: null})).hazards)).toEqual(['refuse symlink-sensitive a/b/c/keys'])
  })
})

describe('the mount table', () => {
  const table = (lines: string[]) => parseMountinfo(['27 1 254:0 / / rw - ext4 /dev/vda rw', ...lines].join('\n'))

  it('a whole file system mounted below the root is named without a folder', async () => {
    const {repo, host} = home()
    mkdirSync(join(repo, 'data'))
    const scan = await scanTree(repo, {host, mounts: table([`90 27 0:50 / ${repo}/data rw - tmpfs tmpfs rw`])})
    expect(scan.hazards.map((h) => [h.relPath, h.detail])).toEqual([['data', 'a mount point (tmpfs tmpfs): podman binds recursively, so what is mounted there would reach the container']])
  })

  it('the root mounted elsewhere too is refused only when that other name is denied, and only with host facts', async () => {
    const {base, home: h, repo, host} = home()
    const elsewhere = table([`95 27 254:0 ${repo} ${base}/srv/data rw - ext4 /dev/vda rw`])
    expect((await scanTree(repo, {host, mounts: elsewhere})).hazards).toEqual([])
    const onSsh = table([`95 27 254:0 ${repo} ${h}/.ssh/sub rw - ext4 /dev/vda rw`])
    expect(listed((await scanTree(repo, {host, mounts: onSsh})).hazards)).toEqual(['refuse alias-sensitive .'])
    expect((await scanTree(repo, {mounts: onSsh})).hazards).toEqual([])
  })
})

describe('the root', () => {
  it('a file as the root is scanned as nothing to walk', async () => {
    const {repo} = home()
    writeFileSync(join(repo, 'f'), '')
    const scan = await scanTree(join(repo, 'f'), {mounts: null})
    expect(scan.hazards).toEqual([])
    expect(scan.entries).toBe(0)
  })
})

describe('the tree cache, rewritten', () => {
  it('keeps the folders it answered (a later scan reads only what changed)', async () => {
    const {base, repo, host} = home()
    mkdirSync(join(repo, 'x', 'y'), {recursive: true})
    const opts = {host, mounts: null, treeCacheDir: join(base, 'state', 'cache'), treeCacheRacyMs: 0}
    // Wait (for the condition) until the folders changed over 1 ms ago, so that they are cached.
    const settle = (): void => {
      const until = Date.now() + 2
      while (Date.now() < until) {
        // busy: two milliseconds
      }
    }
    settle()
    await scanTree(repo, opts)
    mkdirSync(join(repo, 'new'))
    settle()
    const rewrite = await scanTree(repo, opts)
    expect(rewrite.cache?.written).toBe(true)
    const after = await scanTree(repo, opts)
    expect(after.cache).toEqual({cachedDirs: 4, readDirs: 0, written: false})
  })
})
