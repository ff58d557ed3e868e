/**
 * The mount judgement asks only the rules that can decide about a path's parent folder
 * (candidatesFor in mount-policy.ts; test/unit/policy/perf-index-judge.test.ts compares it with the
 * full list on thousands of generated paths). These verdicts go through it: other users' homes
 * (also one-segment homes such as /bin), relocated XDG dirs, $PATH dirs and their ancestors, a
 * relative glob (`**` first, asked for every path), and another case spelling on macOS.
 */
import {describe, expect, it} from 'vitest'
import type {HostFacts} from '../../../src/core/host/facts.js'
import {denyPatternsFor} from '../../../src/core/policy/catalogue.js'
import {candidatesFor, judgeMountSource} from '../../../src/core/policy/mount-policy.js'
import {toKey, type PathKey} from '../../../src/core/policy/path-key.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'

const root: HostFacts = fakeHostFacts('linux', {
  homeDir: '/root',
  uid: 0,
  isRoot: true,
  env: {HOME: '/root', PATH: '/usr/local/bin:/usr/bin:/opt/tool/bin:/root/bin', XDG_CONFIG_HOME: '/srv/xdg'},
  userHomes: ['/home/ann', '/var/lib/postgresql', '/bin', '/nonexistent', '/srv/Bob'],
})
const mac: HostFacts = fakeHostFacts('macos', {homeDir: '/var/root', uid: 0, isRoot: true, env: {HOME: '/var/root', PATH: '/opt/homebrew/bin:/usr/bin'}, userHomes: ['/Users/Ann']})

describe('verdicts through the candidates', () => {
  it.each([
    ['/home/ann/.ssh/keys', 'POLICY_SENSITIVE'],
    ['/bin/.ssh', 'POLICY_SENSITIVE'],
    ['/home', 'POLICY_BROAD_ROOT'],
    ['/srv/Bob/.config', 'POLICY_BROAD_ROOT'],
    ['/srv/xdg/gh', 'POLICY_SENSITIVE'],
    ['/opt/tool/bin', 'POLICY_HOST_EXEC'],
    ['/opt/tool', 'POLICY_HOST_EXEC'],
    ['/work/db.kdbx', 'POLICY_SENSITIVE'],
  ])('as root, %s is refused (%s), found among the candidates of its first segment', (path, code) => {
    expect(judgeMountSource(path, root)).toMatchObject({allowed: false, code})
  })

  it('as root, a project folder outside every rule is allowed', () => {
    expect(judgeMountSource('/work/repo', root)).toEqual({allowed: true})
    expect(judgeMountSource('/home/ann/dev/repo', root)).toEqual({allowed: true})
  })

  it('macOS: another spelling of a denied folder is refused as the folder', () => {
    expect(judgeMountSource('/USERS/ann/.SSH', mac)).toMatchObject({allowed: false, code: 'POLICY_SENSITIVE'})
    expect(judgeMountSource('/users/ann/dev', mac)).toEqual({allowed: true})
  })

  it('the same first segment asked again gets the same verdicts (the candidates are kept per segment)', () => {
    for (let i = 0; i < 2; i++) {
      expect(judgeMountSource('/home/ann/.aws', root)).toMatchObject({allowed: false, code: 'POLICY_SENSITIVE'})
      expect(judgeMountSource('/home/ann/src', root)).toEqual({allowed: true})
      expect(judgeMountSource('/srv/Bob/.config/gh', root)).toMatchObject({allowed: false})
    }
  })

  it("the rules asked for a path are its first segment's: no rule of another folder, every relative glob", () => {
    const deny = denyPatternsFor(root)
    const asked = candidatesFor(deny, toKey('/work/repo', root) as PathKey)
    expect(asked.length).toBeGreaterThan(0)
    expect(asked.filter((d) => d.matcher.root !== null)).toEqual([])
    expect(asked).toEqual(deny.filter((d) => d.matcher.root === null))
    const etc = candidatesFor(deny, toKey('/etc/x', root) as PathKey)
    expect(etc.some((d) => d.path.startsWith('/etc/'))).toBe(true)
    expect(etc.some((d) => d.path.startsWith('/home/') || d.path.startsWith('/root/'))).toBe(false)
  })
})
