/**
 * Host-derived deny rules and variable-named locations, at their edges: PATH entries (quotes on
 * Windows only, npm's .bin folders only, each folder once), this CLI's folders given with ~, how
 * rules are named, Kerberos cache types, and other users' homes on macOS.
 */
import {describe, expect, it} from 'vitest'
import type {HostFacts} from '../../../src/core/host/facts.js'
import {broadRootsFor, denyPatternsFor, expandPattern, hostDerivedRules, otherHomes, pathEntries} from '../../../src/core/policy/catalogue.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'

const linux = (env: Record<string, string> = {}): HostFacts => fakeHostFacts('linux', {homeDir: '/home/u', uid: 1000, env: {HOME: '/home/u', ...env}})
const windows = (env: Record<string, string> = {}): HostFacts => fakeHostFacts('windows', {homeDir: 'C:\\Users\\Me', env: {USERPROFILE: 'C:\\Users\\Me', ...env}})
const macos = fakeHostFacts('macos', {homeDir: '/Users/u', env: {HOME: '/Users/u'}})

describe('PATH entries at their edges', () => {
  it('quotes are stripped on Windows only, and only around the whole entry', () => {
    expect(pathEntries(linux({PATH: '"/opt/x"'}))).toEqual([])
    expect(pathEntries(windows({PATH: 'C:\\p"q";"C:\\a"b'}))).toEqual(['C:\\p"q"'])
  })

  it("only a node_modules/.bin folder is npm's; every folder is kept once, /ab and /a/b being two", () => {
    expect(pathEntries(linux({PATH: '/node_modules/.bin:/opt/x/.bin:/opt/node_modules/bin:/ab:/a/b:/a//b'}))).toEqual(['/opt/x/.bin', '/opt/node_modules/bin', '/ab', '/a/b'])
  })

  it('each PATH folder is a host-exec rule named for what it is', () => {
    const rules = hostDerivedRules(linux({PATH: '/opt/bin:/usr/local/bin'})).filter((r) => r.rule.category === 'path_env')
    expect(rules.map((r) => [r.rule.id, r.path, r.display, r.rule.title, r.rule.pattern, r.rule.risk])).toEqual([
      ['host:path:0', '/opt/bin', '/opt/bin (on your $PATH)', 'a directory on your $PATH', '$PATH', 'host-exec'],
      ['host:path:1', '/usr/local/bin', '/usr/local/bin (on your $PATH)', 'a directory on your $PATH', '$PATH', 'host-exec'],
    ])
  })
})

describe("this CLI's folders", () => {
  it('are named for what they are, and a ~ setting is expanded', () => {
    const rules = hostDerivedRules(linux({SOURCEOSCTL_CONFIG_DIR: '~/cfg', SOURCEOSCTL_STATE_DIR: '/srv/state', SOURCEOSCTL_EVIDENCE_DIR: '/srv/ev', SOURCEOSCTL_PROFILE: '/srv/p.yaml'}))
    expect(rules.map((r) => [r.rule.id, r.path, r.rule.title, r.display])).toEqual([
      ['host:cli:config', '/home/u/cfg', "sourceosctl's config dir", "sourceosctl's config dir /home/u/cfg"],
      ['host:cli:profile', '/srv/p.yaml', 'the active profile', 'the active profile /srv/p.yaml'],
      ['host:cli:state', '/srv/state', "sourceosctl's state dir", "sourceosctl's state dir /srv/state"],
      ['host:cli:evidence', '/srv/ev', 'the evidence dir', 'the evidence dir /srv/ev'],
    ])
    expect(hostDerivedRules(linux()).find((r) => r.rule.id === 'host:cli:state')?.rule.pattern).toBe('the default state dir')
  })
})

describe('naming and spelling', () => {
  it('macOS firmlinks only for /tmp, /var and /etc at the start', () => {
    expect(expandPattern('/srv/etc', macos)).toEqual(['/srv/etc'])
    expect(expandPattern('/srv/private/tmp', macos)).toEqual(['/srv/private/tmp'])
  })

  it('a rule reached through a firmlink is named with the path it stands for; ~ alone is named as written', () => {
    const displays = new Set(denyPatternsFor(macos).map((d) => d.display))
    expect(displays).toContain('/etc/ssh (= /private/etc/ssh)')
    expect(broadRootsFor(linux()).find((b) => b.pattern === '~')?.display).toBe('~')
  })
})

describe('Kerberos caches and unset variables', () => {
  const krb = (v: string) => denyPatternsFor(linux({KRB5CCNAME: v})).filter((d) => d.rule.pattern === '$KRB5CCNAME').map((d) => d.path)
  it('only FILE: and DIR: name a file; an upper-case word later in a path is no type', () => {
    expect(krb('KCM:/srv/kcm')).toEqual([])
    expect(krb('MEMORY:/srv/m')).toEqual([])
    expect(krb('/srv/KRB:x')).toEqual(['/srv/KRB:x'])
  })
  it('an override naming an unset variable adds nothing', () => {
    expect(denyPatternsFor(linux({GNUPGHOME: '$NOPE/g'})).filter((d) => d.rule.pattern === '$GNUPGHOME')).toEqual([])
  })
})

describe("other users' homes on macOS", () => {
  it('are /Users/*, named as such', () => {
    expect(otherHomes({...macos, uid: 0, isRoot: true, homeDir: '/var/root'}).map((o) => [o.pattern, o.home])).toEqual([['/Users/*', '/Users/*']])
    expect(otherHomes({...linux(), uid: 0, isRoot: true, homeDir: '/root'}).map((o) => [o.pattern, o.home])).toEqual([['/home/*', '/home/*']])
  })
})
