/**
 * The deny catalogue follows the host: relocated XDG dirs, credential caches named by variables
 * (Kerberos FILE: and DIR: caches, KUBECONFIG lists), macOS /private spellings, PATH entries and
 * this CLI's own folders; and a catalogue file that is not a catalogue is refused.
 */
import {describe, expect, it} from 'vitest'
import type {HostFacts} from '../../../src/core/host/facts.js'
import {denyPatternsFor, expandPattern, hostDerivedRules, otherHomes, pathEntries} from '../../../src/core/policy/catalogue.js'
import {judgeMountSource} from '../../../src/core/policy/mount-policy.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'

const linux = (env: Record<string, string> = {}, more: Partial<HostFacts> = {}): HostFacts =>
  fakeHostFacts('linux', {homeDir: '/home/u', uid: 1000, env: {HOME: '/home/u', ...env}, ...more})
const macos = fakeHostFacts('macos', {homeDir: '/Users/u', env: {HOME: '/Users/u'}})
const windows = (env: Record<string, string> = {}): HostFacts => fakeHostFacts('windows', {homeDir: 'C:\\Users\\Me', env: {USERPROFILE: 'C:\\Users\\Me', ...env}})

const code = (p: string, host: HostFacts) => {
  const d = judgeMountSource(p, host)
  return d.allowed ? 'allowed' : d.code
}

describe('relocated XDG base dirs keep their rules', () => {
  it.each([
    ['XDG_CONFIG_HOME', '/srv/cfg', '/srv/cfg/gh', '/home/u/.config/gh'],
    ['XDG_CONFIG_HOME', '/srv/cfg', '/srv/cfg/git/credentials', '/home/u/.config/git/credentials'],
  ])('%s=%s: %s is denied, and so is the default %s', (name, value, relocated, standard) => {
    const host = linux({[name]: value})
    expect(code(relocated, host)).toBe('POLICY_SENSITIVE')
    expect(code(standard, host)).toBe('POLICY_SENSITIVE')
    expect(code(relocated, linux())).toBe('allowed')
  })

  it('every written ~/.config, ~/.local/share, ~/.local/state and ~/.cache pattern also expands through its variable, and back', () => {
    const host = linux({XDG_CONFIG_HOME: '/x/config', XDG_DATA_HOME: '/x/data', XDG_STATE_HOME: '/x/state', XDG_CACHE_HOME: '/x/cache'})
    expect(expandPattern('~/.config/a', host)).toEqual(['/home/u/.config/a', '/x/config/a'])
    expect(expandPattern('~/.local/share/a', host)).toEqual(['/home/u/.local/share/a', '/x/data/a'])
    expect(expandPattern('~/.local/state/a', host)).toEqual(['/home/u/.local/state/a', '/x/state/a'])
    expect(expandPattern('~/.cache/a', host)).toEqual(['/home/u/.cache/a', '/x/cache/a'])
    expect(expandPattern('~/.cache', host)).toEqual(['/home/u/.cache', '/x/cache'])
    expect(expandPattern('${XDG_DATA_HOME}/a', host)).toEqual(['/x/data/a', '/home/u/.local/share/a'])
    expect(expandPattern('$XDG_STATE_HOME/a', host)).toEqual(['/x/state/a', '/home/u/.local/state/a'])
    expect(expandPattern('${XDG_CACHE_HOME}', host)).toEqual(['/x/cache', '/home/u/.cache'])
    // not a prefix of a longer name, not inside another folder
    expect(expandPattern('~/.configx/a', host)).toEqual(['/home/u/.configx/a'])
    expect(expandPattern('~/.local/sharex', host)).toEqual(['/home/u/.local/sharex'])
    expect(expandPattern('/a/~/.config', host)).toEqual(['/a/~/.config'])
  })

  it('with the defaults, both spellings are one path; Windows has no XDG', () => {
    expect(expandPattern('~/.config/a', linux())).toEqual(['/home/u/.config/a'])
    expect(expandPattern('~/.config/a', windows())).toEqual(['C:\\Users\\Me/.config/a'])
  })

  it('macOS: /tmp, /var and /etc are denied in their /private spelling too, and back', () => {
    expect(expandPattern('/etc/ssh', macos)).toEqual(['/etc/ssh', '/private/etc/ssh'])
    expect(expandPattern('/private/var/db/x', macos)).toEqual(['/private/var/db/x', '/var/db/x'])
    expect(expandPattern('/tmp', macos)).toEqual(['/tmp', '/private/tmp'])
    expect(expandPattern('/etcx/a', macos)).toEqual(['/etcx/a'])
    expect(expandPattern('/etc/ssh', linux())).toEqual(['/etc/ssh'])
  })
})

describe('locations named by variables (env overrides)', () => {
  const envRules = (host: HostFacts) => denyPatternsFor(host).filter((d) => d.origin === 'env').map((d) => `${d.rule.pattern}=${d.path}`)

  it('a Kerberos FILE: or DIR: cache is denied by its path; a KEYRING: or KCM: cache names no file', () => {
    expect(envRules(linux({KRB5CCNAME: 'DIR:/srv/krb/cc'}))).toContain('$KRB5CCNAME=/srv/krb/cc')
    expect(code('/srv/krb/cc', linux({KRB5CCNAME: 'DIR:/srv/krb/cc'}))).toBe('POLICY_SENSITIVE')
    expect(envRules(linux({KRB5CCNAME: 'FILE:/srv/krb5cc_1'}))).toContain('$KRB5CCNAME=/srv/krb5cc_1')
    expect(envRules(linux({KRB5CCNAME: '/srv/krb5cc_2'}))).toContain('$KRB5CCNAME=/srv/krb5cc_2')
    for (const v of ['KEYRING:persistent:1000', 'KCM:1000', 'MEMORY:x']) expect(envRules(linux({KRB5CCNAME: v})).filter((r) => r.startsWith('$KRB5CCNAME')), v).toEqual([])
    // one capital letter is a drive, not a cache type
    expect(envRules(windows({KRB5CCNAME: 'D:\\krb\\cc'}))).toContain('$KRB5CCNAME=D:\\krb\\cc')
  })

  it('KUBECONFIG is a list (":" on POSIX, ";" on Windows), empty elements skipped; other variables are one path', () => {
    expect(envRules(linux({KUBECONFIG: '/k/a::/k/b'})).filter((r) => r.startsWith('$KUBECONFIG'))).toEqual(['$KUBECONFIG=/k/a', '$KUBECONFIG=/k/b'])
    expect(envRules(windows({KUBECONFIG: 'D:\\k\\a;D:\\k\\b'})).filter((r) => r.startsWith('$KUBECONFIG'))).toEqual(['$KUBECONFIG=D:\\k\\a', '$KUBECONFIG=D:\\k\\b'])
    expect(envRules(linux({GNUPGHOME: '/g/a:/g/b'})).filter((r) => r.startsWith('$GNUPGHOME'))).toEqual(['$GNUPGHOME=/g/a:/g/b'])
  })

  it('a variable that names /, the home dir or an ancestor of it adds no rule (it would refuse every mount)', () => {
    for (const v of ['/', '/home/u', '/home', '~', 'relative/dir']) expect(envRules(linux({GNUPGHOME: v})).filter((r) => r.startsWith('$GNUPGHOME')), v).toEqual([])
    expect(envRules(linux({GNUPGHOME: '~/g'}))).toContain('$GNUPGHOME=/home/u/g')
    expect(envRules(linux({GNUPGHOME: '/home/u/g'}))).toContain('$GNUPGHOME=/home/u/g')
  })
})

describe('PATH entries are denied (the host runs what is written there)', () => {
  it('absolute entries and ~ entries; not empty, relative, broad or node_modules/.bin ones; each once', () => {
    const host = linux({PATH: '/usr/local/bin::bin:~/bin:~:/:/home:/home/u/proj/node_modules/.bin:/usr/local/bin:/opt/node_modules/x:~bob/bin'})
    expect(pathEntries(host)).toEqual(['/usr/local/bin', '/home/u/bin', '/opt/node_modules/x'])
    expect(code('/usr/local/bin/sub', host)).toBe('POLICY_HOST_EXEC')
    expect(pathEntries(linux())).toEqual([])
  })

  it('Windows: ";" separated, quotes and %VAR% understood', () => {
    const host = windows({PATH: '"C:\\Tools\\bin";%USERPROFILE%\\bin;;C:\\Tools\\bin;%NOPE%\\x;C:\\a"b'})
    expect(pathEntries(host)).toEqual(['C:\\Tools\\bin', 'C:\\Users\\Me\\bin', 'C:\\a"b'])
  })

  it("this CLI's config, profile, state and evidence dirs are denied; a --worktree checkout in the state dir is not", () => {
    const host = linux({SOURCEOSCTL_CONFIG_DIR: '/srv/cfg', SOURCEOSCTL_STATE_DIR: '/srv/state', SOURCEOSCTL_EVIDENCE_DIR: '/srv/ev', SOURCEOSCTL_PROFILE: '/srv/p.yaml'})
    const rules = hostDerivedRules(host).map((r) => [r.rule.id, r.path, r.rule.pattern])
    expect(rules).toEqual([
      ['host:cli:config', '/srv/cfg', '$SOURCEOSCTL_CONFIG_DIR'],
      ['host:cli:profile', '/srv/p.yaml', '$SOURCEOSCTL_PROFILE'],
      ['host:cli:state', '/srv/state', '$SOURCEOSCTL_STATE_DIR'],
      ['host:cli:evidence', '/srv/ev', '$SOURCEOSCTL_EVIDENCE_DIR'],
    ])
    expect(code('/srv/state', host)).toBe('POLICY_HOST_EXEC')
    expect(code('/srv/state/runs', host)).toBe('POLICY_HOST_EXEC')
    expect(code('/srv/state/worktrees/run-1', host)).toBe('allowed')
    expect(code('/srv/ev/x', host)).toBe('POLICY_HOST_EXEC')
    expect(code('/srv/cfg', host)).toBe('POLICY_HOST_EXEC')
  })

  it('a state dir inside the config dir leaves its worktrees mountable', () => {
    const host = linux({SOURCEOSCTL_CONFIG_DIR: '/srv/cfg', SOURCEOSCTL_STATE_DIR: '/srv/cfg/state'})
    const config = hostDerivedRules(host).find((r) => r.rule.id === 'host:cli:config')
    expect(config?.except).toEqual(['/srv/cfg/state/worktrees/*'])
    expect(code('/srv/cfg/state/worktrees/run-1', host)).toBe('allowed')
    expect(code('/srv/cfg/other', host)).toBe('POLICY_HOST_EXEC')
    expect(hostDerivedRules(linux({SOURCEOSCTL_CONFIG_DIR: '/srv/cfg', SOURCEOSCTL_STATE_DIR: '/srv/cfgx'})).find((r) => r.rule.id === 'host:cli:config')?.except).toBeUndefined()
  })

  it("the default locations are named as defaults, and a relative or overly broad setting is left out", () => {
    const rules = hostDerivedRules(linux({SOURCEOSCTL_STATE_DIR: 'rel/state', SOURCEOSCTL_EVIDENCE_DIR: '/home'}))
    expect(rules.map((r) => r.rule.id)).toEqual(['host:cli:config', 'host:cli:profile'])
    expect(rules.map((r) => r.rule.pattern)).toEqual(['the default config dir', '<config>/agent-machine/profile.yaml'])
    expect(rules[0]?.rule).toMatchObject({category: 'cli_own_dirs', risk: 'host-exec', severity: 'critical'})
  })
})

describe("as root, other users' homes are protected like one's own", () => {
  it('homes from /etc/passwd and /home/* (Linux) or /Users/* (macOS), not the own home, each once', () => {
    const root = linux({}, {homeDir: '/root', uid: 0, isRoot: true, userHomes: ['/home/ann', '/home//ann', '/root', '/', 'rel']})
    expect(otherHomes(root).map((o) => [o.pattern, o.home])).toEqual([['/etc/passwd', '/home/ann'], ['/home/*', '/home/*']])
    expect(otherHomes({...macos, uid: 0, isRoot: true, homeDir: '/var/root'}).map((o) => o.home)).toEqual(['/Users/*'])
    expect(otherHomes(linux())).toEqual([])
    expect(otherHomes({...windows(), isRoot: true})).toEqual([])
  })

  it("another user's home, its secrets and its broad roots are refused", () => {
    const root = linux({}, {homeDir: '/root', uid: 0, isRoot: true, userHomes: ['/srv/ann']})
    expect(code('/srv/ann', root)).toBe('POLICY_BROAD_ROOT')
    expect(code('/srv/ann/.ssh', root)).toBe('POLICY_SENSITIVE')
    expect(code('/srv/ann/.config', root)).toBe('POLICY_BROAD_ROOT')
    expect(code('/srv', root)).toBe('POLICY_BROAD_ROOT')
    expect(code('/home/bob/.aws/x', root)).toBe('POLICY_SENSITIVE')
    expect(code('/srv/ann/dev/repo', root)).toBe('allowed')
    expect(code('/root/dev/repo', root)).toBe('allowed')
  })
})
