/**
 * Run as root, every other user's home gets the home-relative rules (`~/.ssh`, `~/.docker/config.json`,
 * XDG locations…) through one matcher per rule: each such rule matches the secret in every other
 * home, covers what is inside it, and is contained by the home, the folders above it and `/`. A
 * folder in another home that holds a secret (but is no broad root) is refused for what it contains.
 * Rules for other homes exist only when run as root, and only for home-relative patterns.
 */
import {describe, expect, it} from 'vitest'
import type {HostFacts} from '../../../src/core/host/facts.js'
import {broadRootsFor, denyPatternsFor, otherHomes, type ExpandedDeny} from '../../../src/core/policy/catalogue.js'
import {judgeMountSource} from '../../../src/core/policy/mount-policy.js'
import {toKey} from '../../../src/core/policy/path-key.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'

const rootHost = (more: Partial<HostFacts> = {}): HostFacts =>
  fakeHostFacts('linux', {homeDir: '/root', uid: 0, isRoot: true, env: {HOME: '/root'}, userHomes: ['/srv/ann'], ...more})

const key = (p: string) => toKey(p, {platform: 'linux', caseInsensitivePaths: false})!
const otherRule = (host: HostFacts, pattern: string): ExpandedDeny => {
  const found = denyPatternsFor(host).filter((d) => d.rule.pattern === pattern && d.display.endsWith("in another user's home"))
  expect(found).toHaveLength(1)
  return found[0]!
}

describe("the rule for a home-relative secret in other users' homes", () => {
  it('matches that secret in each other home (from /etc/passwd or /home/*), and nothing in the own home or outside a home', () => {
    const ssh = otherRule(rootHost(), '~/.ssh')
    expect(ssh.matcher.equals(key('/srv/ann/.ssh'))).toBe(true)
    expect(ssh.matcher.equals(key('/home/bob/.ssh'))).toBe(true)
    expect(ssh.matcher.equals(key('/srv/ann/.ssh/id_rsa'))).toBe(false)
    expect(ssh.matcher.equals(key('/srv/ann/dev/.ssh'))).toBe(false)
    expect(ssh.matcher.equals(key('/srv/.ssh'))).toBe(false)
    expect(ssh.matcher.equals(key('/root/.ssh'))).toBe(false)
  })

  it('covers what is inside that secret in each other home', () => {
    const ssh = otherRule(rootHost(), '~/.ssh')
    expect(ssh.matcher.covers(key('/srv/ann/.ssh/id_rsa'))).toBe(true)
    expect(ssh.matcher.covers(key('/home/bob/.ssh/keys/id_ed25519'))).toBe(true)
    expect(ssh.matcher.covers(key('/srv/ann/dev/repo'))).toBe(false)
    expect(ssh.matcher.covers(key('/srv/ann'))).toBe(false)
  })

  it('is contained by the home, by folders between the home and the secret, by the folders holding the homes, and by /', () => {
    const docker = otherRule(rootHost(), '~/.docker/config.json')
    for (const p of ['/srv/ann/.docker', '/home/bob/.docker', '/srv/ann', '/home/bob', '/srv', '/home', '/']) {
      expect(docker.matcher.isAncestorOfMatch(key(p)), p).toBe(true)
    }
    for (const p of ['/srv/ann/dev', '/srv/ann/.docker/config.json', '/srv/other', '/opt', '/root/.docker']) {
      expect(docker.matcher.isAncestorOfMatch(key(p)), p).toBe(false)
    }
  })

  it("a folder of another home that holds a secret file is refused for what it contains (it is no broad root)", () => {
    const host = rootHost()
    for (const p of ['/srv/ann/.docker', '/home/bob/.docker']) {
      const d = judgeMountSource(p, host)
      expect(d.allowed ? 'allowed' : [d.code, d.rule], p).toEqual(['POLICY_CONTAINS_SENSITIVE', {category: 'container_registries', title: 'Docker CLI config'}])
      expect(d.allowed ? '' : d.reason).toContain("contains ~/.docker/config.json in another user's home")
    }
    // The own home's .docker is judged by the own rule, not the rule for other homes.
    const own = judgeMountSource('/root/.docker', host)
    expect(own.allowed ? null : own.reason).toBe('/root/.docker contains ~/.docker/config.json (container_registries: Docker CLI config)')
  })

  it("is listed as the pattern in another user's home, from the host, once per pattern; only home-relative patterns get one", () => {
    const host = rootHost()
    const others = denyPatternsFor(host).filter((d) => d.display.endsWith("in another user's home"))
    expect(others.length).toBeGreaterThan(20)
    for (const d of others) {
      expect(d.origin).toBe('host')
      expect(d.display).toBe(`${d.rule.pattern} in another user's home`)
      expect(d.rule.pattern).toMatch(/^(~\/|\$\{XDG_(CONFIG|DATA|STATE|CACHE)_HOME\})/)
    }
    const ids = others.map((d) => `${d.rule.id} ${d.path}`)
    expect(new Set(ids).size).toBe(ids.length)
    // /etc/ssh is no home-relative pattern: its own rule only, and /srv/ann/etc/ssh is nothing special.
    expect(denyPatternsFor(host).filter((d) => d.rule.pattern === '/etc/ssh').map((d) => d.origin)).toEqual(['catalogue'])
    expect(judgeMountSource('/srv/ann/etc/ssh', host)).toEqual({allowed: true})
  })

  it('exists only when run as root', () => {
    const user = fakeHostFacts('linux', {homeDir: '/home/u', uid: 1000, env: {HOME: '/home/u'}, userHomes: ['/srv/ann']})
    expect(denyPatternsFor(user).filter((d) => d.display.endsWith("in another user's home"))).toEqual([])
    expect(judgeMountSource('/srv/ann/.docker', user)).toEqual({allowed: true})
  })
})

describe("other users' homes as broad roots", () => {
  it("each other home and its home-relative broad roots, named for the home they are in", () => {
    const roots = broadRootsFor(rootHost())
    const shown = (p: string) => roots.filter((r) => r.path === p).map((r) => r.display)
    expect(shown('/srv/ann')).toEqual(["/srv/ann (another user's home)"])
    expect(shown('/srv/ann/.config')).toEqual(['~/.config in the home /srv/ann (= /srv/ann/.config)'])
    expect(shown('/srv/ann/.local/share')).toEqual(['~/.local/share in the home /srv/ann (= /srv/ann/.local/share)'])
    const paths = roots.map((r) => r.path)
    expect(new Set(paths).size).toBe(paths.length)
  })

  it('Windows has no root account: no other homes, even with user homes known', () => {
    const win = fakeHostFacts('windows', {isRoot: true, uid: null, userHomes: ['C:\\Users\\ann', 'D:\\Users\\bob']})
    expect(otherHomes(win)).toEqual([])
  })
})
