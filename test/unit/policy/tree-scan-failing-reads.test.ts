/**
 * What the scan does when the file system will not answer it: a folder it cannot list (its own: the
 * agent can open it up, so refused; another user's: closed to the container's user too, so a
 * warning), a folder, file or link whose lstat, readdir or readlink fails with something else (refused:
 * the container could still reach it), and an entry gone between the listing and the look at it
 * (raced away: nothing to judge). Run as root every folder is readable and nothing races, so the
 * failures are injected: `node:fs`'s readdirSync, lstatSync and readlinkSync fail for the one path a
 * test names, with the errno it names; everything else is the real file system.
 */
import {execFileSync} from 'node:child_process'
import {mkdirSync, realpathSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it, vi} from 'vitest'
import {parseMountinfo} from '../../../src/core/policy/mountinfo.js'
import {scanTree} from '../../../src/core/policy/tree-scan.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'
import {tempDir} from '../../helpers/temp-dirs.js'

type Call = 'readdirSync' | 'lstatSync' | 'readlinkSync' | 'realpathSync.native'
const failing = vi.hoisted(() => new Map<string, {code: string; after: number}>())
/** lstat of a key answers with the lstat of its value: the entry was swapped for that one. */
const swapped = vi.hoisted(() => new Map<string, string>())
/** Descriptors opened through openSync and not closed yet. */
const open = vi.hoisted(() => new Set<number>())

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>()
  /** Throws the injected errno for `p`, or (ENOENT with throwIfNoEntry: false) says "nothing there". */
  const inject = (call: Call, p: unknown, opts: unknown): {gone: true} | undefined => {
    const f = failing.get(`${call} ${String(p)}`)
    if (!f) return undefined
    if (f.after > 0) {
      f.after--
      return undefined
    }
    if (f.code === 'ENOENT' && call === 'lstatSync' && (opts as {throwIfNoEntry?: boolean} | undefined)?.throwIfNoEntry === false) return {gone: true}
    throw Object.assign(new Error(`${f.code}: injected, ${call} '${String(p)}'`), {code: f.code})
  }
  const readdirSync = ((p: string, o?: unknown) => (inject('readdirSync', p, o), fs.readdirSync(p, o as never))) as typeof fs.readdirSync
  const lstatSync = ((p: string, o?: unknown) => (inject('lstatSync', p, o) ? undefined : fs.lstatSync(swapped.get(String(p)) ?? p, o as never))) as typeof fs.lstatSync
  const readlinkSync = ((p: string, o?: unknown) => (inject('readlinkSync', p, o), fs.readlinkSync(p, o as never))) as typeof fs.readlinkSync
  const realpathSync = Object.assign((p: string, o?: unknown) => fs.realpathSync(p, o as never), {
    native: (p: string, o?: unknown) => (inject('realpathSync.native', p, o), fs.realpathSync.native(p, o as never)),
  }) as typeof fs.realpathSync
  const openSync = ((...args: Parameters<typeof fs.openSync>) => {
    const fd = fs.openSync(...args)
    open.add(fd)
    return fd
  }) as typeof fs.openSync
  const closeSync = ((fd: number) => {
    open.delete(fd)
    fs.closeSync(fd)
  }) as typeof fs.closeSync
  const mocked = {...fs, readdirSync, lstatSync, readlinkSync, realpathSync, openSync, closeSync}
  return {...mocked, default: mocked}
})

/** Makes `call` fail with `code` for the absolute path `p` (until the test ends; after `after` calls that succeed). */
const fail = (call: Call, p: string, code: string, after = 0): void => void failing.set(`${call} ${p}`, {code, after})

afterEach(() => {
  failing.clear()
  swapped.clear()
  vi.restoreAllMocks()
})

function tree() {
  const base = realpathSync(tempDir('scan-failing-'))
  const home = join(base, 'home')
  mkdirSync(join(home, '.ssh'), {recursive: true})
  writeFileSync(join(home, '.ssh', 'id_ed25519'), 'KEY')
  const repo = join(home, 'dev', 'repo')
  mkdirSync(join(repo, 'locked', 'inner'), {recursive: true})
  writeFileSync(join(repo, 'locked', 'inner', 'file.txt'), '')
  // Found only when `locked` is read: shows whether the scan went in.
  execFileSync('mkfifo', [join(repo, 'locked', 'pipe')])
  writeFileSync(join(repo, 'plain.txt'), '')
  const host = fakeHostFacts('linux', {homeDir: home, uid: process.getuid?.() ?? 1000, env: {HOME: home}})
  return {base, home, repo, host}
}

type Row = [kind: string, severity: string, relPath: string, detail: string]
const rows = (hazards: ReadonlyArray<{kind: string; severity: string; relPath: string; detail: string}>): Row[] => hazards.map((h) => [h.kind, h.severity, h.relPath, h.detail])

describe('a folder the scan cannot list', () => {
  it.each(['EACCES', 'EPERM'])('its own (%s): refused, as the agent runs as its owner and can open it', async (code) => {
    const {repo} = tree()
    fail('readdirSync', join(repo, 'locked'), code)
    const scan = await scanTree(repo, {mounts: null})
    expect(rows(scan.hazards)).toEqual([
      [
        'unreadable',
        'refuse',
        'locked',
        `a folder the scan cannot read (${code}) but its owner can open up, and the agent runs as its owner: chmod u+rx it so it can be checked, or remove it`,
      ],
    ])
  })

  it.each(['EACCES', 'EPERM'])("another user's (%s): a warning that its contents were not checked", async (code) => {
    const {repo} = tree()
    fail('readdirSync', join(repo, 'locked'), code)
    // The scan runs as someone other than the folder's owner.
    const owner = process.getuid!()
    vi.spyOn(process, 'getuid').mockReturnValue(owner + 1)
    const scan = await scanTree(repo, {mounts: null})
    expect(rows(scan.hazards)).toEqual([['unreadable', 'warn', 'locked', `cannot read directory (${code}): its contents were not checked`]])
  })

  it("another user's, failing with another errno (EIO): refused as one that cannot be examined, not a warning", async () => {
    const {repo} = tree()
    fail('readdirSync', join(repo, 'locked'), 'EIO')
    vi.spyOn(process, 'getuid').mockReturnValue(process.getuid!() + 1)
    expect(rows((await scanTree(repo, {mounts: null})).hazards)).toEqual([['unreadable', 'refuse', 'locked', 'it cannot be examined (EIO): rename, flatten or remove it']])
  })

  it('the root itself, its own: refused at "."', async () => {
    const {repo} = tree()
    fail('readdirSync', repo, 'EACCES')
    const scan = await scanTree(repo, {mounts: null})
    expect(rows(scan.hazards).map((r) => r.slice(0, 3))).toEqual([['unreadable', 'refuse', '.']])
    expect(scan.entries).toBe(0)
  })

  it('failing with another errno (EIO): refused as a folder that cannot be examined', async () => {
    const {repo} = tree()
    fail('readdirSync', join(repo, 'locked'), 'EIO')
    expect(rows((await scanTree(repo, {mounts: null})).hazards)).toEqual([['unreadable', 'refuse', 'locked', 'it cannot be examined (EIO): rename, flatten or remove it']])
  })

  it('with a path too long for the system: refused, saying so', async () => {
    const {repo} = tree()
    fail('readdirSync', join(repo, 'locked'), 'ENAMETOOLONG')
    expect(rows((await scanTree(repo, {mounts: null})).hazards)).toEqual([
      ['unreadable', 'refuse', 'locked', 'its path is longer than the system allows (a tree nested that deep can still be reached from inside): rename, flatten or remove it'],
    ])
  })

  it.each(['ENOENT', 'ENOTDIR'])('gone or replaced by a file between its lstat and its listing (%s): nothing to judge, the rest is', async (code) => {
    const {repo} = tree()
    mkdirSync(join(repo, 'other'))
    execFileSync('mkfifo', [join(repo, 'other', 'pipe2')])
    fail('readdirSync', join(repo, 'locked'), code)
    expect(rows((await scanTree(repo, {mounts: null})).hazards).map((r) => r.slice(0, 3))).toEqual([['fifo', 'refuse', 'other/pipe2']])
  })

  it('not cached when it could not be listed: a later scan reads it (and finds what is in it)', async () => {
    const {base, repo, host} = tree()
    const opts = {host, mounts: null, treeCacheDir: join(base, 'state'), treeCacheRacyMs: 0}
    fail('readdirSync', join(repo, 'locked'), 'EIO')
    expect(rows((await scanTree(repo, opts)).hazards).map((r) => r.slice(0, 3))).toEqual([['unreadable', 'refuse', 'locked']])
    failing.clear()
    expect(rows((await scanTree(repo, opts)).hazards).map((r) => r.slice(0, 3))).toEqual([['fifo', 'refuse', 'locked/pipe']])
  })
})

describe('an entry listed as a folder whose lstat fails', () => {
  it('with an errno (EACCES): refused as one that cannot be examined, and not entered', async () => {
    const {repo} = tree()
    fail('lstatSync', join(repo, 'locked'), 'EACCES')
    expect(rows((await scanTree(repo, {mounts: null})).hazards)).toEqual([['unreadable', 'refuse', 'locked', 'it cannot be examined (EACCES): rename, flatten or remove it']])
  })

  it('because it is gone (raced away): nothing, and not entered', async () => {
    const {repo} = tree()
    fail('lstatSync', join(repo, 'locked'), 'ENOENT')
    const scan = await scanTree(repo, {mounts: null})
    expect(scan.hazards).toEqual([])
    // locked, plain.txt: its two entries were not visited.
    expect(scan.entries).toBe(2)
  })
})

describe('a name that is not valid UTF-8 (holds U+FFFD) and cannot be looked at', () => {
  it('whose lstat fails: refused as a name that cannot be examined', async () => {
    const {repo} = tree()
    const odd = join(repo, 'odd\uFFFD.txt')
    writeFileSync(odd, '')
    fail('lstatSync', odd, 'EACCES')
    expect(rows((await scanTree(repo, {mounts: null})).hazards).filter((r) => r[2] !== 'locked/pipe')).toEqual([
      ['unreadable', 'refuse', 'odd\uFFFD.txt', 'its name is not valid UTF-8, so it cannot be examined by name: rename, flatten or remove it'],
    ])
  })
})

describe('a regular file whose lstat (for its link count) fails', () => {
  it('with an errno (EIO): refused as one that cannot be examined', async () => {
    const {repo, host} = tree()
    fail('lstatSync', join(repo, 'plain.txt'), 'EIO')
    expect(rows((await scanTree(repo, {host, mounts: null})).hazards).filter((r) => r[0] === 'unreadable')).toEqual([
      ['unreadable', 'refuse', 'plain.txt', 'it cannot be examined (EIO): rename, flatten or remove it'],
    ])
  })
})

describe('a symlink that cannot be read', () => {
  it('with an errno (EACCES): refused', async () => {
    const {repo, home, host} = tree()
    symlinkSync(join(home, 'elsewhere'), join(repo, 'link'))
    fail('readlinkSync', join(repo, 'link'), 'EACCES')
    expect(rows((await scanTree(repo, {host, mounts: null})).hazards).filter((r) => r[2] === 'link')).toEqual([
      ['unreadable', 'refuse', 'link', 'a symlink that cannot be read (EACCES): rename, flatten or remove it'],
    ])
  })

  it.each(['ENOENT', 'EINVAL'])('gone, or no longer a link (%s): nothing', async (code) => {
    const {repo, home, host} = tree()
    symlinkSync(join(home, '.ssh'), join(repo, 'keys'))
    // Control: read, it is refused.
    expect(rows((await scanTree(repo, {host, mounts: null})).hazards).filter((r) => r[2] === 'keys').map((r) => r[0])).toEqual(['symlink-sensitive'])
    fail('readlinkSync', join(repo, 'keys'), code)
    expect(rows((await scanTree(repo, {host, mounts: null})).hazards).filter((r) => r[2] === 'keys')).toEqual([])
  })
})

describe('an entry listed as a folder that is a file when it is looked at (swapped meanwhile)', () => {
  it('without host facts (no hard-link check): nothing, and the scan goes on', async () => {
    const {repo} = tree()
    swapped.set(join(repo, 'locked'), join(repo, 'plain.txt'))
    const scan = await scanTree(repo, {mounts: null})
    expect(scan.hazards).toEqual([])
    expect(scan.entries).toBe(2)
  })
})

describe('a link inside the tree that vanishes while the links are resolved', () => {
  it('is nothing (it is gone), and the scan goes on to judge the link that leaves', async () => {
    const {repo, home, host} = tree()
    symlinkSync('plain.txt', join(repo, 'inside'))
    symlinkSync(join(home, '.ssh'), join(repo, 'keys'))
    // A link leaving the tree makes every link be resolved for real; this one is gone by then.
    fail('realpathSync.native', join(repo, 'inside'), 'ENOENT')
    // Read once when the links are listed, gone when it is resolved.
    fail('readlinkSync', join(repo, 'inside'), 'ENOENT', 1)
    expect(rows((await scanTree(repo, {host, mounts: null})).hazards).filter((r) => r[2] !== 'locked/pipe').map((r) => r.slice(0, 3))).toEqual([['symlink-sensitive', 'refuse', 'keys']])
  })
})

describe('files the scan opens', () => {
  it('are all closed again (.git/config, the tree cache)', async () => {
    const {base, repo, host} = tree()
    mkdirSync(join(repo, '.git'))
    writeFileSync(join(repo, '.git', 'config'), '[remote "o"]\n\turl = https://me:tok@host/r\n')
    open.clear()
    const opts = {host, mounts: null, treeCacheDir: join(base, 'state'), treeCacheRacyMs: 0}
    const first = await scanTree(repo, opts)
    expect(rows(first.hazards).filter((r) => r[0] === 'secret-file').map((r) => r[2])).toEqual(['.git/config'])
    await scanTree(repo, opts)
    expect([...open]).toEqual([])
  })
})

describe('two refusals of the root', () => {
  it('another name of it that is denied, and its listing failing: both, ordered by kind', async () => {
    const {home, repo, host} = tree()
    const mounts = parseMountinfo(['27 1 254:0 / / rw - ext4 /dev/vda rw', `95 27 254:0 ${repo} ${join(home, '.ssh', 'sub')} rw - ext4 /dev/vda rw`].join('\n'))
    fail('readdirSync', repo, 'EACCES')
    expect(rows((await scanTree(repo, {host, mounts})).hazards).map((r) => r.slice(0, 3))).toEqual([
      ['alias-sensitive', 'refuse', '.'],
      ['unreadable', 'refuse', '.'],
    ])
  })
})
