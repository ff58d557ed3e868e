/**
 * Which files of the deny catalogue a wanted inode is: a file below a denied folder, the file a
 * symlink inside a denied folder names, a denied file itself. The walk stops after the first rule
 * with a hit, reports a rule it could not finish (per-rule and overall budget), and its cache is
 * believed only when it is one of ours.
 */
import {linkSync, mkdirSync, readFileSync, realpathSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {findDenyAliases, inodeKey} from '../../../src/core/policy/deny-inodes.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'
import {tempDir} from '../../helpers/temp-dirs.js'

const key = (p: string): string => inodeKey(statSync(p))

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

    // Another schema, or no folder map: read afresh.
    for (const doc of [{schema: 'other', dirs: {}}, {schema: 'sourceosctl/deny-inodes/v1', dirs: null}, {schema: 'sourceosctl/deny-inodes/v1'}]) {
      writeFileSync(cacheFile, JSON.stringify(doc))
      const r = findDenyAliases(host, new Set(['0:0']), {devices, roots, cacheFile, racyMs: 0})
      expect(r.cachedDirs, JSON.stringify(doc)).toBe(0)
      expect(r.entriesRead).toBeGreaterThan(0)
    }
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

describe('hard links found by the tree scan', () => {
  it('a second name of a denied file found anywhere below the rule', () => {
    const {base, home, host, devices} = setup()
    linkSync(join(home, '.ssh', 'keys', 'id_ed25519'), join(base, 'planted'))
    const r = findDenyAliases(host, new Set([key(join(base, 'planted'))]), {devices, roots: [{path: join(home, '.ssh'), display: '~/.ssh'}]})
    expect([...r.hits.values()]).toEqual([{path: join(home, '.ssh', 'keys', 'id_ed25519'), display: '~/.ssh'}])
    expect(r.entriesRead).toBe(3)
  })
})
