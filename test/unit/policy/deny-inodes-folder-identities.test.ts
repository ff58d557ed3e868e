/**
 * The denied folders by (device, inode): a folder two rules name keeps the first rule's name; a
 * folder first seen as holding a denied path and later named by a rule is the denied folder; the
 * folders holding a denied path outside the home are named for what they hold; a denied file is no
 * folder; a home that is missing or is no folder is left out. A rule's `*` matches any name, a line
 * break in it too.
 */
import {mkdirSync, realpathSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {denyDirInodes, expandGlobs, inodeKey} from '../../../src/core/policy/deny-inodes.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'
import {tempDir} from '../../helpers/temp-dirs.js'

const key = (p: string) => inodeKey(statSync(p))

function base() {
  const b = realpathSync(tempDir('deny-folders-'))
  const home = join(b, 'home', 'u')
  mkdirSync(join(home, '.kube'), {recursive: true})
  writeFileSync(join(home, '.git-credentials'), 'x')
  mkdirSync(join(b, 'opt', 'tools', 'bin'), {recursive: true})
  return {b, home}
}

describe('denied folders by identity', () => {
  it('a folder named by two rules keeps the first rule (the catalogue entry before its variable)', () => {
    const {home} = base()
    const host = fakeHostFacts('linux', {homeDir: home, uid: 1000, env: {HOME: home, KUBECONFIG: join(home, '.kube')}})
    expect(denyDirInodes(host).get(key(join(home, '.kube')))).toEqual({path: join(home, '.kube'), display: '~/.kube', relation: 'denied'})
  })

  it('a folder holding a denied folder is named for what it holds; when a later rule names it, it is that denied folder', () => {
    const {b, home} = base()
    const bin = join(b, 'opt', 'tools', 'bin')
    const tools = join(b, 'opt', 'tools')
    const onlyBin = fakeHostFacts('linux', {homeDir: home, uid: 1000, env: {HOME: home, PATH: bin}})
    expect(denyDirInodes(onlyBin).get(key(tools))).toEqual({path: tools, display: `${tools}, which holds ${bin} (on your $PATH)`, relation: 'contains'})
    expect(denyDirInodes(onlyBin).get(key(join(b, 'opt')))).toMatchObject({path: join(b, 'opt'), relation: 'contains'})
    const both = fakeHostFacts('linux', {homeDir: home, uid: 1000, env: {HOME: home, PATH: `${bin}:${tools}`}})
    expect(denyDirInodes(both).get(key(tools))).toEqual({path: tools, display: `${tools} (on your $PATH)`, relation: 'denied'})
  })

  it('a denied file is no denied folder (the folder holding it is listed as such)', () => {
    const {home} = base()
    const host = fakeHostFacts('linux', {homeDir: home, uid: 1000, env: {HOME: home}})
    const inodes = denyDirInodes(host)
    expect(inodes.has(key(join(home, '.git-credentials')))).toBe(false)
    expect(inodes.get(key(home))?.relation).toBe('contains')
  })

  it('a home that does not exist, or is not a folder, is left out (the rest is still listed)', () => {
    const {b, home} = base()
    const missing = fakeHostFacts('linux', {homeDir: join(b, 'nobody'), uid: 1000, env: {HOME: join(b, 'nobody'), PATH: join(b, 'opt', 'tools', 'bin')}})
    expect(denyDirInodes(missing).get(key(join(b, 'opt', 'tools', 'bin')))?.relation).toBe('denied')
    const file = join(b, 'home-file')
    writeFileSync(file, '')
    const notDir = fakeHostFacts('linux', {homeDir: file, uid: 1000, env: {HOME: file}})
    expect(denyDirInodes(notDir).has(key(file))).toBe(false)
    expect(denyDirInodes(fakeHostFacts('linux', {homeDir: home, uid: 1000, env: {HOME: home}})).get(key(home))?.display).toBe(`your home directory ${home}`)
  })
})

describe("a rule's glob on the disk", () => {
  it('* and ? match names with a line break or any other character', () => {
    const {b} = base()
    const dir = join(b, 'agent')
    mkdirSync(dir)
    for (const n of ['s.a\nb', 's.\n']) writeFileSync(join(dir, n), '')
    const host = fakeHostFacts('linux', {homeDir: b, uid: 1000, env: {HOME: b}})
    expect(expandGlobs(`${dir}/s.*`, host).sort()).toEqual([`${dir}/s.\n`, `${dir}/s.a\nb`])
    expect(expandGlobs(`${dir}/s.?`, host)).toEqual([`${dir}/s.\n`])
  })
})
