/**
 * The catalogue's rules as the judge uses them: ids and risk per platform, how a rule is named in a
 * refusal, exceptions carved out of a rule, the caller's extra patterns, variables that would
 * refuse every mount, and which mount holds a given file.
 */
import {describe, expect, it} from 'vitest'
import type {HostFacts} from '../../../src/core/host/facts.js'
import {compileDenyMatcher, denyPatternsFor, denyRules, expandExtraDeny, loadCatalogue, mountHolding} from '../../../src/core/policy/catalogue.js'
import {judgeMountSource} from '../../../src/core/policy/mount-policy.js'
import {toKey} from '../../../src/core/policy/path-key.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'

const linux = (env: Record<string, string> = {}): HostFacts => fakeHostFacts('linux', {homeDir: '/home/u', uid: 1000, env: {HOME: '/home/u', ...env}})
const key = (p: string, host: HostFacts = linux()) => toKey(p, host)!

describe('catalogue rules', () => {
  it('every entry path of every platform is a rule, with its own id, a secret risk unless said otherwise', () => {
    const rules = denyRules()
    const entries = loadCatalogue().entries
    const expected = entries.reduce((n, e) => n + (e.paths.linux?.length ?? 0) + (e.paths.macos?.length ?? 0) + (e.paths.windows?.length ?? 0), 0)
    expect(rules.length).toBe(expected)
    expect(new Set(rules.map((r) => r.id)).size).toBe(rules.length)
    const ssh = rules.filter((r) => r.pattern === '~/.ssh')
    expect(ssh.map((r) => r.platform).sort()).toEqual(['linux', 'macos'])
    expect(ssh[0]?.id).toMatch(/^[\w/-]+:(linux|macos):\d+$/)
    expect(ssh[0]?.risk).toBe('secret')
    const synthetic = {...loadCatalogue(), entries: [
      {id: 'a', category: 'c', title: 't', severity: 'critical', kind: 'dir', envOverrides: [], paths: {linux: ['/a', '/b'], windows: ['C:\\a']}},
      {id: 'x', category: 'c', title: 't', severity: 'high', risk: 'host-exec', kind: 'dir', envOverrides: [], paths: {macos: ['/x']}},
    ]} as unknown as ReturnType<typeof loadCatalogue>
    expect(denyRules(synthetic).map((r) => [r.id, r.pattern, r.platform, r.risk, r.severity])).toEqual([
      ['a:linux:0', '/a', 'linux', 'secret', 'critical'],
      ['a:linux:1', '/b', 'linux', 'secret', 'critical'],
      ['a:windows:0', 'C:\\a', 'windows', 'secret', 'critical'],
      ['x:macos:0', '/x', 'macos', 'host-exec', 'high'],
    ])
  })

  it('a rule is named as written, with its expansion when a variable is involved', () => {
    const host = linux({XDG_CONFIG_HOME: '/x/cfg'})
    const displays = new Set(denyPatternsFor(host).map((d) => d.display))
    expect(displays).toContain('~/.ssh')
    expect(displays).toContain('/etc/ssh')
    expect(displays).toContain('${XDG_CONFIG_HOME}/gh (= /x/cfg/gh)')
    expect(displays).toContain('${XDG_CONFIG_HOME}/gh (= /home/u/.config/gh)')
  })

  it('a variable that points at the home directory adds no rule there (it would refuse every mount)', () => {
    const host = linux({XDG_RUNTIME_DIR: '/home/u'})
    expect(denyPatternsFor(host).some((d) => d.path === '/home/u' || d.path === '/home/u/')).toBe(false)
    expect(judgeMountSource('/home/u/dev/repo', host)).toEqual({allowed: true})
    expect(judgeMountSource('/home/u/bus', host)).not.toMatchObject({allowed: true})
  })

  it('each rule is kept once per path', () => {
    const deny = denyPatternsFor(linux())
    const seen = new Set(deny.filter((d) => d.origin === 'catalogue').map((d) => `${d.rule.id} ${d.path}`))
    expect(seen.size).toBe(deny.filter((d) => d.origin === 'catalogue').length)
  })
})

describe('a rule with exceptions', () => {
  const m = compileDenyMatcher('/srv/state', ['/srv/state/worktrees/*'], linux())!
  it('covers the folder and what is inside, except the exceptions', () => {
    expect(m.covers(key('/srv/state'))).toBe(true)
    expect(m.covers(key('/srv/state/runs'))).toBe(true)
    expect(m.covers(key('/srv/state/worktrees'))).toBe(true)
    expect(m.covers(key('/srv/state/worktrees/run-1'))).toBe(false)
    expect(m.covers(key('/srv/state/worktrees/run-1/src'))).toBe(false)
    expect(m.equals(key('/srv/state'))).toBe(true)
    expect(m.isAncestorOfMatch(key('/srv'))).toBe(true)
    expect(m.root).toBe('/')
    expect(m.hasGlob).toBe(false)
  })
  it('without exceptions it is the plain pattern', () => {
    const plain = compileDenyMatcher('/srv/state', [], linux())!
    expect(plain.covers(key('/srv/state/worktrees/run-1'))).toBe(true)
    expect(compileDenyMatcher('rel', undefined, linux())).toBeNull()
  })
  it('equals respects the exceptions too', () => {
    const g = compileDenyMatcher('/srv/*', ['/srv/ok'], linux())!
    expect(g.equals(key('/srv/x'))).toBe(true)
    expect(g.equals(key('/srv/ok'))).toBe(false)
  })
})

describe("the caller's extra deny patterns", () => {
  it('are expanded like catalogue entries, named as written, unexpandable ones dropped', () => {
    const extra = expandExtraDeny(['~/secret', '$NOPE/x', '/srv/*.key'], linux())
    expect(extra.map((d) => [d.rule.id, d.path, d.display, d.origin])).toEqual([
      ['extra:0', '/home/u/secret', '~/secret', 'extra'],
      ['extra:2', '/srv/*.key', '/srv/*.key', 'extra'],
    ])
    expect(extra[0]?.rule).toMatchObject({category: 'extra', risk: 'secret', severity: 'critical', pattern: '~/secret', platform: 'linux'})
    expect(expandExtraDeny(['relative'], linux())).toEqual([])
  })
})

describe('the mount that holds a file', () => {
  const mounts = [{hostSource: '/srv/a'}, {hostSource: '/srv/b'}]
  it('is the mount whose source is the file or contains it', () => {
    expect(mountHolding('/srv/b/profile.yaml', mounts, linux())).toBe(mounts[1])
    expect(mountHolding('/srv/a', mounts, linux())).toBe(mounts[0])
    expect(mountHolding('/srv/ab/x', mounts, linux())).toBeUndefined()
    expect(mountHolding('rel/x', mounts, linux())).toBeUndefined()
    expect(mountHolding('/srv/a/x', [{hostSource: 'rel'}], linux())).toBeUndefined()
    const mac = fakeHostFacts('macos', {homeDir: '/Users/u', env: {}})
    expect(mountHolding('/SRV/A/x', mounts, mac)).toBe(mounts[0])
  })
})
