/**
 * The denied folders as (device, inode): each existing denied folder (through a symlinked rule path
 * too), every folder that holds one, and the home directory, so that the same folder under another
 * name (a bind mount) is recognised. And the glob expansion that finds the denied files on disk.
 */
import {mkdirSync, realpathSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {denyDirInodes, expandGlobs, inodeKey} from '../../../src/core/policy/deny-inodes.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'
import {tempDir} from '../../helpers/temp-dirs.js'

function home(): string {
  const h = join(realpathSync(tempDir('deny-inodes-')), 'home', 'u')
  mkdirSync(join(h, '.ssh', 'agent'), {recursive: true})
  writeFileSync(join(h, '.ssh', 'id_ed25519'), 'k')
  writeFileSync(join(h, '.ssh', 'agent', 's.one'), '')
  writeFileSync(join(h, '.ssh', 'agent', 's.two'), '')
  writeFileSync(join(h, '.ssh', 'agent', 'other'), '')
  mkdirSync(join(h, 'dotfiles', 'aws'), {recursive: true})
  symlinkSync(join(h, 'dotfiles', 'aws'), join(h, '.aws'))
  mkdirSync(join(h, 'dev'), {recursive: true})
  return h
}
const key = (p: string) => inodeKey(statSync(p))

describe('glob expansion over the disk', () => {
  it('lists the existing names a glob segment matches; a literal pattern is itself', () => {
    const h = home()
    const linux = fakeHostFacts('linux', {homeDir: h, env: {HOME: h}})
    expect(expandGlobs(`${h}/.ssh/agent/s.*`, linux).sort()).toEqual([`${h}/.ssh/agent/s.one`, `${h}/.ssh/agent/s.two`])
    expect(expandGlobs(`${h}/.ssh/agent/s.???`, linux).sort()).toEqual([`${h}/.ssh/agent/s.one`, `${h}/.ssh/agent/s.two`])
    expect(expandGlobs(`${h}/.ssh/agent/S.*`, linux)).toEqual([])
    expect(expandGlobs(`${h}/.ssh/agent/s.o?e`, linux)).toEqual([`${h}/.ssh/agent/s.one`])
    // literal segments after a glob are joined, not looked up (callers stat what they get)
    expect(expandGlobs(`${h}/*/agent/s.one`, linux).sort()).toEqual(['.aws', '.ssh', 'dev', 'dotfiles'].map((d) => `${h}/${d}/agent/s.one`))
    expect(expandGlobs(`${h}/nope/*`, linux)).toEqual([])
    expect(expandGlobs(`${h}/literal/x`, linux)).toEqual([`${h}/literal/x`])
    expect(expandGlobs(`${h}/.ssh/agent/s.(one)*`, linux)).toEqual([])
  })

  it('a ** segment stops there: its folder is walked whole later', () => {
    const h = home()
    const linux = fakeHostFacts('linux', {homeDir: h, env: {HOME: h}})
    expect(expandGlobs(`${h}/.ssh/**`, linux)).toEqual([`${h}/.ssh`])
    expect(expandGlobs(`${h}/.s*/**/x`, linux)).toEqual([`${h}/.ssh`])
  })

  it('case-insensitive hosts match names in any case', () => {
    const h = home()
    const mac = fakeHostFacts('macos', {homeDir: h, env: {HOME: h}})
    expect(expandGlobs(`${h}/.ssh/agent/S.*`, mac).sort()).toEqual([`${h}/.ssh/agent/s.one`, `${h}/.ssh/agent/s.two`])
  })
})

describe('denied folders by identity', () => {
  it('each denied folder, the real folder behind a symlinked rule, the folders holding them and the home', () => {
    const h = home()
    const host = fakeHostFacts('linux', {homeDir: h, uid: 1000, env: {HOME: h}})
    const inodes = denyDirInodes(host)
    expect(inodes.get(key(`${h}/.ssh`))).toEqual({path: `${h}/.ssh`, display: '~/.ssh', relation: 'denied'})
    expect(inodes.get(key(`${h}/dotfiles/aws`))).toMatchObject({path: `${h}/.aws`, relation: 'denied'})
    expect(inodes.get(key(`${h}/dotfiles`))).toMatchObject({path: `${h}/dotfiles`, relation: 'contains'})
    expect(inodes.get(key(h))).toEqual({path: h, display: `your home directory ${h}`, relation: 'contains'})
    expect(inodes.get(key(join(h, '..')))).toMatchObject({path: join(h, '..'), relation: 'contains'})
    expect(inodes.get(key('/'))).toMatchObject({path: '/', relation: 'contains'})
    expect(inodes.has(key(`${h}/dev`))).toBe(false)
    expect(denyDirInodes(host)).toBe(inodes)
  })

  it('Windows paths are not looked up', () => {
    expect(denyDirInodes(fakeHostFacts('windows')).size).toBe(0)
  })
})
