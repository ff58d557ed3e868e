/**
 * What the expanded deny list says about each rule — its id (entry, platform, index; or entry and
 * variable), where it came from, how it is named — and that it lists each rule's path once, is
 * computed once per host, never holds a path that is not absolute, and keeps a catalogue path
 * written without a variable even when the home lies inside it. Exceptions cut holes into a rule.
 */
import {describe, expect, it} from 'vitest'
import type {HostFacts} from '../../../src/core/host/facts.js'
import {compileDenyMatcher, denyPatternsFor, expandExtraDeny, hostDerivedRules} from '../../../src/core/policy/catalogue.js'
import {judgeMountSource} from '../../../src/core/policy/mount-policy.js'
import {toKey} from '../../../src/core/policy/path-key.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'

const linux = (env: Record<string, string> = {}, more: Partial<HostFacts> = {}): HostFacts =>
  fakeHostFacts('linux', {homeDir: '/home/u', uid: 1000, env: {HOME: '/home/u', ...env}, ...more})
const linuxKey = (p: string) => toKey(p, {platform: 'linux', caseInsensitivePaths: false})!
const verdict = (p: string, host: HostFacts): string => {
  const d = judgeMountSource(p, host)
  return d.allowed ? 'allowed' : d.code
}

describe('each expanded rule says where it came from', () => {
  it('a catalogue pattern is <entry>:<platform>:<index>, from the catalogue, named as written', () => {
    const host = linux({PATH: '/usr/bin:/opt/tools/bin'})
    const kube = denyPatternsFor(host).filter((d) => d.rule.pattern === '~/.kube')
    expect(kube.map((d) => [d.rule.id, d.origin, d.path, d.display])).toEqual([['kubernetes/kubeconfig:linux:0', 'catalogue', '/home/u/.kube', '~/.kube']])
    const agent = denyPatternsFor(host).find((d) => d.rule.pattern === '/tmp/ssh-*/agent.*')
    expect(agent?.rule.id).toBe('ssh/ssh-agent-socket:linux:1')
  })

  it('an env override is <entry>:env:<VAR>, from the environment, one rule per listed file', () => {
    const host = linux({KUBECONFIG: '/srv/k/a.yaml:/srv/k/b.yaml'})
    const env = denyPatternsFor(host).filter((d) => d.origin === 'env' && d.rule.pattern === '$KUBECONFIG')
    expect(env.map((d) => [d.rule.id, d.path, d.display])).toEqual([
      ['kubernetes/kubeconfig:env:KUBECONFIG', '/srv/k/a.yaml', '$KUBECONFIG (= /srv/k/a.yaml)'],
      ['kubernetes/kubeconfig:env:KUBECONFIG', '/srv/k/b.yaml', '$KUBECONFIG (= /srv/k/b.yaml)'],
    ])
  })

  it('a $PATH folder is a critical host-exec rule from the host', () => {
    const host = linux({PATH: '/usr/bin:/opt/tools/bin'})
    const tools = denyPatternsFor(host).filter((d) => d.path === '/opt/tools/bin')
    expect(tools.map((d) => [d.origin, d.rule.severity, d.rule.risk, d.rule.pattern])).toEqual([['host', 'critical', 'host-exec', '$PATH']])
  })

  it("a caller's extra pattern is titled as the caller's deny list", () => {
    const [extra] = expandExtraDeny(['/srv/secrets'], linux())
    expect(extra?.rule).toMatchObject({id: 'extra:0', category: 'extra', title: 'caller deny list', severity: 'critical', risk: 'secret'})
    expect(extra?.origin).toBe('extra')
  })

  it('a macOS /tmp path is shown with the /private path it stands for, whatever it holds', () => {
    const macos = fakeHostFacts('macos', {homeDir: '/Users/u', env: {HOME: '/Users/u'}})
    expect(expandExtraDeny(['/tmp/~/x'], macos).map((d) => d.display)).toEqual(['/tmp/~/x', '/tmp/~/x (= /private/tmp/~/x)'])
  })
})

describe('the list itself', () => {
  it("lists each rule's path once (a ~/.config rule and its ${XDG_CONFIG_HOME} form meet at the same place)", () => {
    const host = linux()
    const deny = denyPatternsFor(host)
    const keys = deny.map((d) => `${d.rule.id} ${d.path}`)
    expect(new Set(keys).size).toBe(keys.length)
    // A variable naming the same file twice: one rule.
    const twice = denyPatternsFor(linux({KUBECONFIG: '/srv/k/a.yaml:/srv/k/a.yaml'})).filter((d) => d.rule.id === 'kubernetes/kubeconfig:env:KUBECONFIG')
    expect(twice.map((d) => d.path)).toEqual(['/srv/k/a.yaml'])
    const gh = deny.filter((d) => d.path === '/home/u/.config/gh').map((d) => d.rule.id)
    expect(gh.length).toBeGreaterThan(0)
    expect(new Set(gh).size).toBe(gh.length)
  })

  it('is computed once per host (the same list for every question about one launch)', () => {
    const host = linux()
    expect(denyPatternsFor(host)).toBe(denyPatternsFor(host))
    expect(denyPatternsFor(linux())).not.toBe(denyPatternsFor(host))
  })

  it('holds no path below a home that is not an absolute path, and a variable set to / is still skipped', () => {
    const host = linux({SSH_AUTH_SOCK: '/', KUBECONFIG: '/'}, {homeDir: 'home/u'})
    const deny = denyPatternsFor(host)
    expect(deny.length).toBeGreaterThan(50)
    for (const d of deny) {
      expect(d.path.startsWith('home/u'), d.path).toBe(false)
      expect(typeof d.matcher.covers, d.path).toBe('function')
    }
    expect(deny.filter((d) => d.path === '/')).toEqual([])
    expect(verdict('/srv/repo', host)).toBe('allowed')
  })

  it('a variable that names the home is skipped (the home is refused as such); a catalogue path written without one is kept even when the home is inside it', () => {
    const host = linux({SSH_AUTH_SOCK: '/home/u'})
    expect(verdict('/home/u/dev/repo', host)).toBe('allowed')
    expect(verdict('/home/u', host)).toBe('POLICY_HOME')
    // A home below /etc does not open /etc.
    const inEtc = linux({}, {homeDir: '/etc/home/u', env: {HOME: '/etc/home/u'}})
    expect(denyPatternsFor(inEtc).filter((d) => d.path === '/etc').map((d) => d.origin)).toEqual(['catalogue'])
    expect(verdict('/etc/home/u/dev/repo', inEtc)).not.toBe('allowed')
  })

  it("this CLI's folders named by a variable are denied as written ($ in a folder name is not expanded)", () => {
    const host = linux({SOURCEOSCTL_STATE_DIR: '/srv/$HOME/state'})
    const state = hostDerivedRules(host).find((r) => r.rule.id === 'host:cli:state')
    expect(state?.path).toBe('/srv/$HOME/state')
    expect(state?.except).toEqual(['/srv/$HOME/state/worktrees/*'])
  })
})

describe('exceptions in a deny rule', () => {
  const host = {platform: 'linux' as const, caseInsensitivePaths: false}

  it('inside any of the exceptions is allowed; the rest of the rule is denied', () => {
    const m = compileDenyMatcher('/srv/state', ['/srv/state/worktrees/*', '/srv/state/scratch'], host)!
    expect(m.covers(linuxKey('/srv/state/worktrees/run1'))).toBe(false)
    expect(m.covers(linuxKey('/srv/state/scratch/x'))).toBe(false)
    expect(m.covers(linuxKey('/srv/state/evidence'))).toBe(true)
    expect(m.equals(linuxKey('/srv/state'))).toBe(true)
    expect(m.isAncestorOfMatch(linuxKey('/srv'))).toBe(true)
  })

  it('an exception that is not an absolute path opens nothing', () => {
    const m = compileDenyMatcher('/srv/state', ['worktrees/*'], host)!
    expect(m.covers(linuxKey('/srv/state/worktrees/run1'))).toBe(true)
    expect(m.covers(linuxKey('/srv/state/x'))).toBe(true)
  })
})
