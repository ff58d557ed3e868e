/**
 * Which files of the deny catalogue a wanted inode is: a file below a denied folder, the file a
 * symlink inside a denied folder names, a denied file itself. The walk stops after the first rule
 * with a hit, reports a rule it could not finish (per-rule and overall budget), and its cache is
 * believed only when it is one of ours.
 */
import {existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {findDenyAliases, inodeKey} from '../../../src/core/policy/deny-inodes.js'
import type {MountInfoEntry} from '../../../src/core/policy/mountinfo.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'
import {tempDir} from '../../helpers/temp-dirs.js'

const key = (p: string): string => inodeKey(statSync(p))

/**
 * Waits (for the condition: a few ms at most) until every folder under `dir` last changed at least
 * 1 ms before now, so that a walk with racyMs: 0, whose clock has whole milliseconds, keeps them.
 */
function settle(dir: string): void {
  const latest = (p: string): number => {
    const st = lstatSync(p)
    if (!st.isDirectory()) return 0
    return Math.max(st.ctimeMs, ...readdirSync(p).map((n) => latest(join(p, n))))
  }
  const t = latest(dir)
  while (Date.now() - t < 1) {
    // busy: at most a millisecond or two
  }
}

function setup() {
  const base = realpathSync(tempDir('deny-walk-'))
  const home = join(base, 'home')
  mkdirSync(join(home, '.ssh', 'keys'), {recursive: true})
  writeFileSync(join(home, '.ssh', 'keys', 'id_ed25519'), 'KEY')
  mkdirSync(join(home, '.aws'), {recursive: true})
  writeFileSync(join(home, '.aws', 'credentials'), 'AWS')
  mkdirSync(join(home, 'dotfiles'), {recursive: true})
  writeFileSync(join(home, 'dotfiles', 'ssh-config'), 'Host *')
  symlinkSync(join(home, 'dotfiles', 'ssh-config'), join(home, '.ssh', 'config'))
  writeFileSync(join(home, '.git-credentials'), 'https://me:tok@host')
  const host = fakeHostFacts('linux', {homeDir: home, uid: 1000, env: {HOME: home}})
  const devices = new Set([statSync(base).dev])
  settle(home)
  return {base, home, host, devices}
}

describe('what a wanted inode is found as', () => {
  it('the file below a denied folder, the file a symlink in a denied folder names (by the link), or a denied file itself', () => {
    const {home, host, devices} = setup()
    const roots = [
      {path: join(home, '.ssh'), display: '~/.ssh'},
      {path: join(home, '.git-credentials'), display: '~/.git-credentials'},
    ]
    const wanted = [key(join(home, '.ssh', 'keys', 'id_ed25519')), key(join(home, 'dotfiles', 'ssh-config')), key(join(home, '.git-credentials'))]
    // One at a time: the walk stops after the first rule with a hit.
    expect(findDenyAliases(host, new Set([wanted[0]!]), {devices, roots}).hits.get(wanted[0]!)).toEqual({path: join(home, '.ssh', 'keys', 'id_ed25519'), display: '~/.ssh'})
    expect(findDenyAliases(host, new Set([wanted[1]!]), {devices, roots}).hits.get(wanted[1]!)).toEqual({path: join(home, '.ssh', 'config'), display: '~/.ssh'})
    expect(findDenyAliases(host, new Set([wanted[2]!]), {devices, roots}).hits.get(wanted[2]!)).toEqual({path: join(home, '.git-credentials'), display: '~/.git-credentials'})
  })

  it('a rule path that is a symlink to a folder is walked at the folder it names', () => {
    const {base, home, host, devices} = setup()
    mkdirSync(join(base, 'real-gnupg'))
    writeFileSync(join(base, 'real-gnupg', 'secring'), 'S')
    symlinkSync(join(base, 'real-gnupg'), join(home, '.gnupg'))
    const r = findDenyAliases(host, new Set([key(join(base, 'real-gnupg', 'secring'))]), {devices, roots: [{path: join(home, '.gnupg'), display: '~/.gnupg'}]})
    expect([...r.hits.values()]).toEqual([{path: join(base, 'real-gnupg', 'secring'), display: '~/.gnupg'}])
  })

  it('stops after the first rule with a hit: a later rule is not walked', () => {
    const {home, host, devices} = setup()
    const roots = [
      {path: join(home, '.ssh'), display: '~/.ssh'},
      {path: join(home, '.aws'), display: '~/.aws'},
    ]
    const both = new Set([key(join(home, '.ssh', 'keys', 'id_ed25519')), key(join(home, '.aws', 'credentials'))])
    const r = findDenyAliases(host, both, {devices, roots})
    expect([...r.hits.values()].map((h) => h.display)).toEqual(['~/.ssh'])
    // Without a hit in the first, the second is walked.
    const r2 = findDenyAliases(host, new Set([key(join(home, '.aws', 'credentials'))]), {devices, roots})
    expect([...r2.hits.values()].map((h) => h.path)).toEqual([join(home, '.aws', 'credentials')])
  })

  it('nothing is looked up when nothing is wanted, or on Windows', () => {
    const {home, host, devices} = setup()
    const roots = [{path: join(home, '.ssh'), display: '~/.ssh'}]
    expect(findDenyAliases(host, new Set(), {devices, roots})).toEqual({hits: new Map(), incomplete: [], entriesRead: 0, cachedDirs: 0})
    const win = fakeHostFacts('windows')
    expect(findDenyAliases(win, new Set([key(join(home, '.ssh', 'keys', 'id_ed25519'))]), {devices, roots}).entriesRead).toBe(0)
  })
})

describe('budgets', () => {
  it('a rule with more entries than its budget is reported incomplete (by its display and the folder walked), and its files past the budget are not found', () => {
    const {base, home, host, devices} = setup()
    const big = join(base, 'big')
    mkdirSync(big)
    for (let i = 0; i < 30; i++) writeFileSync(join(big, `f${i}`), '')
    const wanted = new Set([key(join(big, 'f7'))])
    const r = findDenyAliases(host, wanted, {devices, roots: [{path: big, display: '~/big'}], perRootBudget: 10})
    expect(r.incomplete).toEqual([`~/big (${big})`])
    expect(r.hits.size).toBe(0)
    // Named by its path alone when the display is the path.
    expect(findDenyAliases(host, wanted, {devices, roots: [{path: big, display: big}], perRootBudget: 10}).incomplete).toEqual([big])
    // The overall budget counts over every rule.
    const overall = findDenyAliases(host, new Set(['0:0']), {devices, roots: [{path: join(home, '.ssh'), display: '~/.ssh'}, {path: big, display: '~/big'}], budget: 20})
    expect(overall.incomplete).toEqual([`~/big (${big})`])
    // Exactly at the overall budget is complete.
    const total = findDenyAliases(host, new Set(['0:0']), {devices, roots: [{path: join(home, '.ssh'), display: '~/.ssh'}, {path: big, display: '~/big'}]}).entriesRead
    expect(findDenyAliases(host, new Set(['0:0']), {devices, roots: [{path: join(home, '.ssh'), display: '~/.ssh'}, {path: big, display: '~/big'}], budget: total}).incomplete).toEqual([])
    // Exactly at the budget is complete.
    expect(findDenyAliases(host, wanted, {devices, roots: [{path: big, display: '~/big'}], perRootBudget: 30}).incomplete).toEqual([])
    expect(findDenyAliases(host, wanted, {devices, roots: [{path: big, display: '~/big'}], perRootBudget: 30}).hits.size).toBe(1)
  })
})

describe('the cache file', () => {
  it('is written with the folders walked and keeps those not walked this time; a file that is not ours is ignored', () => {
    const {base, home, host, devices} = setup()
    const cacheFile = join(base, 'state', 'deny.json')
    const roots = [
      {path: join(home, '.ssh'), display: '~/.ssh'},
      {path: join(home, '.aws'), display: '~/.aws'},
    ]
    findDenyAliases(host, new Set(['0:0']), {devices, roots, cacheFile, racyMs: 0})
    const doc = JSON.parse(readFileSync(cacheFile, 'utf8')) as {schema: string; dirs: Record<string, {files: unknown[]; subdirs: string[]; links: string[]}>}
    expect(doc.schema).toBe('sourceosctl/deny-inodes/v1')
    expect(Object.keys(doc.dirs).sort()).toEqual([join(home, '.aws'), join(home, '.ssh'), join(home, '.ssh', 'keys')])
    expect(doc.dirs[join(home, '.ssh')]).toMatchObject({subdirs: ['keys'], links: ['config'], files: []})
    expect(statSync(cacheFile).mode & 0o777).toBe(0o600)

    // A hit in ~/.ssh stops the walk before ~/.aws: its cached entry is kept.
    const hit = findDenyAliases(host, new Set([key(join(home, '.ssh', 'keys', 'id_ed25519'))]), {devices, roots, cacheFile, racyMs: 0})
    expect(hit.cachedDirs).toBe(2)
    writeFileSync(join(home, '.ssh', 'new'), '')
    findDenyAliases(host, new Set([key(join(home, '.ssh', 'keys', 'id_ed25519'))]), {devices, roots, cacheFile, racyMs: 0})
    expect(Object.keys(JSON.parse(readFileSync(cacheFile, 'utf8')).dirs)).toContain(join(home, '.aws'))

    // The same folders under another schema: read afresh.
    const good = readFileSync(cacheFile, 'utf8')
    expect(findDenyAliases(host, new Set(['0:0']), {devices, roots, cacheFile, racyMs: 0}).cachedDirs).toBeGreaterThan(0)
    writeFileSync(cacheFile, good.replace('sourceosctl/deny-inodes/v1', 'sourceosctl/deny-inodes/v0'))
    const r = findDenyAliases(host, new Set(['0:0']), {devices, roots, cacheFile, racyMs: 0})
    expect(r.cachedDirs).toBe(0)
    expect(r.entriesRead).toBeGreaterThan(0)
  })

  it('records regular files by inode and symlinks by name', () => {
    const {base, home, host, devices} = setup()
    const cacheFile = join(base, 'state', 'deny.json')
    findDenyAliases(host, new Set(['0:0']), {devices, roots: [{path: join(home, '.ssh'), display: '~/.ssh'}], cacheFile, racyMs: 0})
    const doc = JSON.parse(readFileSync(cacheFile, 'utf8')) as {dirs: Record<string, unknown>}
    expect(doc.dirs[join(home, '.ssh', 'keys')]).toMatchObject({files: [statSync(join(home, '.ssh', 'keys', 'id_ed25519')).ino], subdirs: [], links: []})
  })

  it('is rewritten only when something changed, and then holds what the walk saw, not the old record', () => {
    const {base, home, host, devices} = setup()
    const cacheFile = join(base, 'state', 'deny.json')
    const opts = {devices, roots: [{path: join(home, '.ssh'), display: '~/.ssh'}], cacheFile, racyMs: 0}
    findDenyAliases(host, new Set(['0:0']), opts)
    const before = statSync(cacheFile)
    expect(findDenyAliases(host, new Set(['0:0']), opts).cachedDirs).toBe(2)
    expect(statSync(cacheFile).ino).toBe(before.ino) // written through a temp file and a rename: a new inode when rewritten
    writeFileSync(join(home, '.ssh', 'keys', 'id_rsa'), 'RSA')
    settle(home)
    findDenyAliases(host, new Set(['0:0']), opts)
    const doc = JSON.parse(readFileSync(cacheFile, 'utf8')) as {dirs: Record<string, {files: number[]}>}
    expect(doc.dirs[join(home, '.ssh', 'keys')]?.files.sort()).toEqual([statSync(join(home, '.ssh', 'keys', 'id_ed25519')).ino, statSync(join(home, '.ssh', 'keys', 'id_rsa')).ino].sort())
  })

  it('keeps only folders that changed longer ago than the racy window (by their ctime, whatever their mtime says)', async () => {
    const {base, home, host, devices} = setup()
    const cacheFile = join(base, 'state', 'deny.json')
    const aws = join(home, '.aws')
    // Wait (for the condition, not a fixed time) until the folder changed over 5 ms ago.
    while (Date.now() - statSync(aws).ctimeMs < 5) await new Promise((resolve) => setTimeout(resolve, 2))
    findDenyAliases(host, new Set(['0:0']), {devices, roots: [{path: aws, display: '~/.aws'}], cacheFile, racyMs: 5})
    expect(Object.keys((JSON.parse(readFileSync(cacheFile, 'utf8')) as {dirs: object}).dirs)).toEqual([aws])
    // An hour-old mtime put back on a folder just changed: its ctime is recent, so it is not kept.
    const gnupg = join(home, '.gnupg')
    mkdirSync(gnupg)
    const hourAgo = new Date(Date.now() - 3_600_000)
    utimesSync(gnupg, hourAgo, hourAgo)
    findDenyAliases(host, new Set(['0:0']), {devices, roots: [{path: gnupg, display: '~/.gnupg'}], cacheFile, racyMs: 60_000})
    expect(Object.keys((JSON.parse(readFileSync(cacheFile, 'utf8')) as {dirs: object}).dirs)).toEqual([aws])
  })

  it('a cached folder listing a subfolder that is gone is walked without it', () => {
    const {base, home, host, devices} = setup()
    const cacheFile = join(base, 'state', 'deny.json')
    const roots = [{path: join(home, '.ssh'), display: '~/.ssh'}]
    findDenyAliases(host, new Set(['0:0']), {devices, roots, cacheFile, racyMs: 0})
    const doc = JSON.parse(readFileSync(cacheFile, 'utf8')) as {dirs: Record<string, {subdirs: string[]}>}
    doc.dirs[join(home, '.ssh')]!.subdirs.unshift('gone')
    writeFileSync(cacheFile, JSON.stringify(doc))
    const r = findDenyAliases(host, new Set([key(join(home, '.ssh', 'keys', 'id_ed25519'))]), {devices, roots, cacheFile, racyMs: 0})
    expect([...r.hits.values()].map((h) => h.path)).toEqual([join(home, '.ssh', 'keys', 'id_ed25519')])
  })

  it('a cached folder is believed only with the same identity and times', () => {
    const {base, home, host, devices} = setup()
    const cacheFile = join(base, 'state', 'deny.json')
    const roots = [{path: join(home, '.aws'), display: '~/.aws'}]
    findDenyAliases(host, new Set(['0:0']), {devices, roots, cacheFile, racyMs: 0})
    // The cache claims ~/.aws holds the inode of a repo file: believed only while the id matches.
    const repoFile = join(base, 'repo-file')
    writeFileSync(repoFile, '')
    const st = statSync(repoFile)
    const doc = JSON.parse(readFileSync(cacheFile, 'utf8')) as {dirs: Record<string, {id: string; files: unknown[]}>}
    doc.dirs[join(home, '.aws')]!.files = [st.ino]
    writeFileSync(cacheFile, JSON.stringify(doc))
    expect(findDenyAliases(host, new Set([key(repoFile)]), {devices, roots, cacheFile, racyMs: 0}).hits.size).toBe(1)
    doc.dirs[join(home, '.aws')]!.id += '1'
    writeFileSync(cacheFile, JSON.stringify(doc))
    expect(findDenyAliases(host, new Set([key(repoFile)]), {devices, roots, cacheFile, racyMs: 0}).hits.size).toBe(0)
  })

  it('a file of a denied folder on another device (overlayfs) is kept with its device and found by it', () => {
    const {base, home, host, devices} = setup()
    const cacheFile = join(base, 'state', 'deny.json')
    const roots = [{path: join(home, '.aws'), display: '~/.aws'}]
    findDenyAliases(host, new Set(['0:0']), {devices, roots, cacheFile, racyMs: 0})
    const doc = JSON.parse(readFileSync(cacheFile, 'utf8')) as {dirs: Record<string, {files: unknown[]}>}
    doc.dirs[join(home, '.aws')]!.files = [[4242, 77]]
    writeFileSync(cacheFile, JSON.stringify(doc))
    const r = findDenyAliases(host, new Set(['4242:77']), {devices, roots, cacheFile, racyMs: 0})
    expect([...r.hits.values()]).toEqual([{path: `${join(home, '.aws')}/(inode 77)`, display: '~/.aws'}])
  })
})

describe('the walk', () => {
  it('names the file with the wanted inode among its neighbours', () => {
    const {home, host, devices} = setup()
    const keys = join(home, '.ssh', 'keys')
    for (const n of ['a', 'b', 'c', 'd']) writeFileSync(join(keys, n), n)
    for (const n of ['a', 'b', 'c', 'd', 'id_ed25519']) {
      const r = findDenyAliases(host, new Set([key(join(keys, n))]), {devices, roots: [{path: join(home, '.ssh'), display: '~/.ssh'}]})
      expect([...r.hits.values()].map((h) => h.path)).toEqual([join(keys, n)])
    }
  })

  it('reads a folder once when two rules reach it', () => {
    const {home, host, devices} = setup()
    const ssh = {path: join(home, '.ssh'), display: '~/.ssh'}
    const keys = {path: join(home, '.ssh', 'keys'), display: '~/.ssh/keys'}
    const once = findDenyAliases(host, new Set(['0:0']), {devices, roots: [ssh]}).entriesRead
    expect(findDenyAliases(host, new Set(['0:0']), {devices, roots: [ssh, keys]}).entriesRead).toBe(once)
    expect(findDenyAliases(host, new Set(['0:0']), {devices, roots: [ssh, ssh]}).entriesRead).toBe(once)
  })

  it('skips a rule path that does not exist, and a dangling symlink inside a denied folder', () => {
    const {home, host, devices} = setup()
    symlinkSync(join(home, 'nowhere'), join(home, '.ssh', 'dangling'))
    const wanted = key(join(home, '.ssh', 'keys', 'id_ed25519'))
    const r = findDenyAliases(host, new Set([wanted]), {devices, roots: [{path: join(home, '.missing'), display: '~/.missing'}, {path: join(home, '.ssh'), display: '~/.ssh'}]})
    expect([...r.hits.values()].map((h) => h.path)).toEqual([join(home, '.ssh', 'keys', 'id_ed25519')])
  })

  it('walks the devices it is given, and with a mount table skips the others; without one it looks anyway', () => {
    const {home, host, devices} = setup()
    const roots = [{path: join(home, '.ssh'), display: '~/.ssh'}]
    const wanted = new Set([key(join(home, '.ssh', 'keys', 'id_ed25519'))])
    expect(findDenyAliases(host, wanted, {devices, roots, mounts: []}).hits.size).toBe(1)
    expect(findDenyAliases(host, wanted, {devices: new Set([-1]), roots, mounts: []}).hits.size).toBe(0)
    expect(findDenyAliases(host, wanted, {devices: new Set([-1]), roots}).hits.size).toBe(1)
  })

  it('does not index a package link store, but does a folder whose name only starts like one', () => {
    const {home, host, devices} = setup()
    const share = join(home, '.local', 'share')
    for (const d of ['pnpm/store/v3', 'pnpm/stores', '.pnpm-store/v3', '.bun/install/cache/x', '.bun/install/cached']) mkdirSync(join(share, d), {recursive: true})
    const files = {store: join(share, 'pnpm/store/v3/f'), stores: join(share, 'pnpm/stores/f'), dotStore: join(share, '.pnpm-store/v3/f'), bun: join(share, '.bun/install/cache/x/f'), bunLike: join(share, '.bun/install/cached/f')}
    for (const f of Object.values(files)) writeFileSync(f, '')
    const found = (f: string) => findDenyAliases(host, new Set([key(f)]), {devices, roots: [{path: share, display: '~/.local/share'}]}).hits.size
    expect([found(files.store), found(files.dotStore), found(files.bun)]).toEqual([0, 0, 0])
    expect([found(files.stores), found(files.bunLike)]).toEqual([1, 1])
  })
})

describe('a denied folder on a device no wanted file is on', () => {
  // /dev/shm is a tmpfs of its own where there is one: the rule folder is made there, the files the
  // scan asks about live in the temp dir (another device), reached below the folder through a link.
  const shm = '/dev/shm'
  const otherDevice = existsSync(shm) && statSync(shm).dev !== statSync(realpathSync(tmpdir())).dev

  it.runIf(otherDevice)('with a mount table, only the mount points below it are walked', () => {
    const {base, host, devices} = setup()
    const rule = mkdtempSync(join(shm, 'deny-walk-'))
    try {
      mkdirSync(join(base, 'real', 'sub'), {recursive: true})
      writeFileSync(join(base, 'real', 'sub', 'f'), '')
      mkdirSync(join(base, 'elsewhere'))
      writeFileSync(join(base, 'elsewhere', 'g'), '')
      symlinkSync(join(base, 'real'), join(rule, 'link'))
      const mount = (mountPoint: string): MountInfoEntry => ({mountId: 1, parentId: 0, device: '0:0', root: '/', mountPoint, fsType: 'ext4', source: '/dev/x'})
      const mounts = [mount(rule), mount(join(rule, 'link', 'sub')), mount(join(base, 'elsewhere'))]
      const wanted = new Set([key(join(base, 'real', 'sub', 'f')), key(join(base, 'elsewhere', 'g'))])
      const r = findDenyAliases(host, wanted, {devices, roots: [{path: rule, display: '/dev/shm/x'}], mounts})
      expect([...r.hits.values()]).toEqual([{path: join(rule, 'link', 'sub', 'f'), display: '/dev/shm/x'}])
    } finally {
      rmSync(rule, {recursive: true, force: true})
    }
  })
})

describe('hard links found by the tree scan', () => {
  it('a second name of a denied file found anywhere below the rule', () => {
    const {base, home, host, devices} = setup()
    linkSync(join(home, '.ssh', 'keys', 'id_ed25519'), join(base, 'planted'))
    const r = findDenyAliases(host, new Set([key(join(base, 'planted'))]), {devices, roots: [{path: join(home, '.ssh'), display: '~/.ssh'}]})
    expect([...r.hits.values()]).toEqual([{path: join(home, '.ssh', 'keys', 'id_ed25519'), display: '~/.ssh'}])
    expect(r.entriesRead).toBe(3)
  })
})
