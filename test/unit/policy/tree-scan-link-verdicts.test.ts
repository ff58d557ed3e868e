/**
 * How the hazard scan judges a symlink that leaves the tree, with host facts: a link into a secret,
 * onto a folder that holds one, onto the home or onto / is refused; a link to a broad root, to a
 * program folder or to an ordinary folder outside is a warning. And the scan's glob matching of the
 * catalogue's workspace patterns: `*` and `?` stay within one name, other characters are literal.
 */
import {mkdirSync, realpathSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {globSource, scanTree} from '../../../src/core/policy/tree-scan.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'
import {tempDir} from '../../helpers/temp-dirs.js'

function layout() {
  const base = realpathSync(tempDir('scan-links-'))
  const home = join(base, 'home', 'u')
  const repo = join(home, 'dev', 'repo')
  mkdirSync(repo, {recursive: true})
  mkdirSync(join(home, '.docker'), {recursive: true})
  writeFileSync(join(home, '.docker', 'config.json'), '{}')
  mkdirSync(join(home, '.aws'), {recursive: true})
  mkdirSync(join(home, '.config', 'app'), {recursive: true})
  mkdirSync(join(base, 'srv', 'data'), {recursive: true})
  const host = fakeHostFacts('linux', {homeDir: home, uid: 1000, env: {HOME: home, PATH: '/usr/bin'}})
  return {base, home, repo, host}
}

const listed = (hazards: ReadonlyArray<{kind: string; severity: string; relPath: string}>) => hazards.map((h) => `${h.severity} ${h.kind} ${h.relPath}`)

describe('a symlink leaving the tree', () => {
  it('is refused into a secret, onto a folder holding one, onto the home and onto /', async () => {
    const {home, repo, host} = layout()
    symlinkSync(join(home, '.aws'), join(repo, 'in-secret'))
    symlinkSync(join(home, '.docker'), join(repo, 'holds-secret'))
    symlinkSync(home, join(repo, 'home'))
    symlinkSync('/', join(repo, 'root'))
    const scan = await scanTree(repo, {host, mounts: null})
    expect(listed(scan.hazards)).toEqual(['refuse symlink-sensitive holds-secret', 'refuse symlink-sensitive home', 'refuse symlink-sensitive in-secret', 'refuse symlink-sensitive root'])
    expect(scan.hazards[0]?.detail).toBe(`symlink to ${join(home, '.docker')}: ${join(home, '.docker')} contains ~/.docker/config.json (container_registries: Docker CLI config)`)
  })

  it('is a warning onto a broad root, a program folder or an ordinary folder', async () => {
    const {base, home, repo, host} = layout()
    symlinkSync(join(home, '.config'), join(repo, 'broad'))
    symlinkSync('/usr/bin', join(repo, 'programs'))
    symlinkSync(join(base, 'srv', 'data'), join(repo, 'data'))
    const scan = await scanTree(repo, {host, mounts: null})
    expect(listed(scan.hazards)).toEqual(['warn symlink-outside broad', 'warn symlink-outside data', 'warn symlink-outside programs'])
  })

  it('is judged at the place it leads to through other links', async () => {
    const {home, repo, host} = layout()
    symlinkSync(join(home, '.docker'), join(home, 'dev', 'docker-link'))
    symlinkSync('../docker-link', join(repo, 'via'))
    const scan = await scanTree(repo, {host, mounts: null})
    expect(listed(scan.hazards)).toEqual(['refuse symlink-sensitive via'])
    expect(scan.hazards[0]?.detail.startsWith(`symlink to ${join(home, '.docker')}:`)).toBe(true)
  })

  it('that dangles is judged by where its text points', async () => {
    const {home, repo, host} = layout()
    symlinkSync(join(home, '.aws', 'not-yet'), join(repo, 'later'))
    symlinkSync('../../.ssh/id_rsa', join(repo, 'relative'))
    const scan = await scanTree(repo, {host, mounts: null})
    expect(listed(scan.hazards)).toEqual(['refuse symlink-sensitive later', 'refuse symlink-sensitive relative'])
    expect(scan.hazards.map((h) => h.detail.split(':')[0])).toEqual([`symlink to ${join(home, '.aws', 'not-yet')}`, `symlink to ${join(home, '.ssh', 'id_rsa')}`])
  })
})

describe('workspace glob patterns', () => {
  const re = (glob: string) => new RegExp(`^${globSource(glob)}$`)

  it('* matches any run of characters within one name, ? exactly one', () => {
    expect(re('*.pem').test('server.pem')).toBe(true)
    expect(re('*.pem').test('a/server.pem')).toBe(false)
    expect(re('id_?sa').test('id_rsa')).toBe(true)
    expect(re('id_?sa').test('id_sa')).toBe(false)
    expect(re('id_?sa').test('id_/sa')).toBe(false)
    expect(re('id_?sa').test('id_rrsa')).toBe(false)
  })

  it('every other character stands for itself', () => {
    for (const literal of ['a.b', 'a+b', 'a^b', 'a$b', 'a{1}', 'a(b)', 'a|b', 'a[b]', 'a\\b']) {
      expect(re(literal).test(literal), literal).toBe(true)
    }
    expect(re('a.b').test('axb')).toBe(false)
    expect(re('a+b').test('aab')).toBe(false)
    expect(re('a|b').test('a')).toBe(false)
    expect(re('a[b]').test('ab')).toBe(false)
    expect(re('a{1}').test('a')).toBe(false)
  })
})
