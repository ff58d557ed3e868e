import {describe, expect, it} from 'vitest'
import {AgentMachineError} from '../../../src/core/errors.js'
import type {HostFacts} from '../../../src/core/host/facts.js'
import {assertMountAllowed, findUnsafeChar, judgeMountSource, judgeMountTarget, type MountRefusalCode} from '../../../src/core/policy/mount-policy.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'

const linux = fakeHostFacts('linux', {homeDir: '/home/u', env: {HOME: '/home/u'}})
const macos = fakeHostFacts('macos', {homeDir: '/Users/u', env: {HOME: '/Users/u', TMPDIR: '/var/folders/xy/abc123/T/'}})
const windows = fakeHostFacts('windows', {homeDir: 'C:\\Users\\Me', env: {USERPROFILE: 'C:\\Users\\Me', APPDATA: 'C:\\Users\\Me\\AppData\\Roaming'}})

type Row = [label: string, host: HostFacts, path: string, expected: MountRefusalCode | 'allowed']

const rows: Row[] = [
  // linux
  ['linux /', linux, '/', 'POLICY_ROOT'],
  ['linux ~', linux, '/home/u', 'POLICY_HOME'],
  ['linux ~/ (trailing slash)', linux, '/home/u/', 'POLICY_HOME'],
  ['linux ~/.ssh', linux, '/home/u/.ssh', 'POLICY_SENSITIVE'],
  ['linux ~/.ssh/keys (below)', linux, '/home/u/.ssh/keys', 'POLICY_SENSITIVE'],
  ['linux ~/dev/../.ssh (lexical ..)', linux, '/home/u/dev/../.ssh', 'POLICY_SENSITIVE'],
  ['linux ~/.config', linux, '/home/u/.config', 'POLICY_BROAD_ROOT'],
  ['linux ~/.config/gcloud/x', linux, '/home/u/.config/gcloud/x', 'POLICY_SENSITIVE'],
  ['linux ~/.config/gh', linux, '/home/u/.config/gh', 'POLICY_SENSITIVE'],
  ['linux ~/.aws', linux, '/home/u/.aws', 'POLICY_SENSITIVE'],
  ['linux ~/.codex', linux, '/home/u/.codex', 'POLICY_SENSITIVE'],
  ['linux ~/.claude', linux, '/home/u/.claude', 'POLICY_SENSITIVE'],
  ['linux ~/.claude.json.backup (glob)', linux, '/home/u/.claude.json.backup', 'POLICY_SENSITIVE'],
  ['linux ~/.docker (contains config.json)', linux, '/home/u/.docker', 'POLICY_CONTAINS_SENSITIVE'],
  ['linux ~/.cargo (contains credentials)', linux, '/home/u/.cargo', 'POLICY_CONTAINS_SENSITIVE'],
  ['linux ~/.mozilla/firefox', linux, '/home/u/.mozilla/firefox', 'POLICY_SENSITIVE'],
  ['linux /tmp', linux, '/tmp', 'POLICY_BROAD_ROOT'],
  ['linux /tmp/ssh-XYZ (contains agent socket)', linux, '/tmp/ssh-XYZ', 'POLICY_CONTAINS_SENSITIVE'],
  ['linux /tmp/myrepo', linux, '/tmp/myrepo', 'allowed'],
  ['linux /home', linux, '/home', 'POLICY_BROAD_ROOT'],
  ['linux /etc', linux, '/etc', 'POLICY_BROAD_ROOT'],
  ['linux /etc/ssh', linux, '/etc/ssh', 'POLICY_SENSITIVE'],
  ['linux /proc', linux, '/proc', 'POLICY_BROAD_ROOT'],
  ['linux /proc/self', linux, '/proc/self', 'POLICY_SENSITIVE'],
  ['linux /run/user/1000 ($XDG_RUNTIME_DIR default)', linux, '/run/user/1000', 'POLICY_BROAD_ROOT'],
  ['linux /var/lib/docker', linux, '/var/lib/docker', 'POLICY_SENSITIVE'],
  ['linux /var/lib (contains docker storage)', linux, '/var/lib', 'POLICY_CONTAINS_SENSITIVE'],
  ['linux /srv/data', linux, '/srv/data', 'allowed'],
  ['linux ~/.SSH is a different path', linux, '/home/u/.SSH', 'allowed'],
  ['linux ~/dev/repo', linux, '/home/u/dev/repo', 'allowed'],
  ['linux ~/dev', linux, '/home/u/dev', 'allowed'],
  ['linux repo with a colon', linux, '/home/u/dev/a:b', 'POLICY_UNSAFE_CHARS'],
  ['linux repo with a comma', linux, '/home/u/dev/a,b', 'POLICY_UNSAFE_CHARS'],
  ['linux repo with a newline', linux, '/home/u/dev/a\nb', 'POLICY_UNSAFE_CHARS'],
  ['linux repo with NUL', linux, '/home/u/dev/a\0b', 'POLICY_UNSAFE_CHARS'],
  ['linux repo with a tab', linux, '/home/u/dev/a\tb', 'POLICY_UNSAFE_CHARS'],
  ['linux repo with a quote', linux, '/home/u/dev/a"b', 'POLICY_UNSAFE_CHARS'],
  ['linux repo with RLO', linux, '/home/u/dev/a\u202eb', 'POLICY_UNSAFE_CHARS'],
  ['linux repo named *.kdbx is a KeePass file path', linux, '/home/u/dev/vault.kdbx', 'POLICY_SENSITIVE'],
  // macos
  ['macos /', macos, '/', 'POLICY_ROOT'],
  ['macos ~', macos, '/Users/u', 'POLICY_HOME'],
  ['macos /Users', macos, '/Users', 'POLICY_BROAD_ROOT'],
  ['macos ~/.ssh', macos, '/Users/u/.ssh', 'POLICY_SENSITIVE'],
  ['macos ~/.SSH (case)', macos, '/Users/u/.SSH', 'POLICY_SENSITIVE'],
  ['macos ~/.Ssh/x (case, below)', macos, '/Users/u/.Ssh/x', 'POLICY_SENSITIVE'],
  ['macos /USERS/U (case of home)', macos, '/USERS/U', 'POLICY_HOME'],
  ['macos ~/Library', macos, '/Users/u/Library', 'POLICY_BROAD_ROOT'],
  ['macos ~/Library/Keychains', macos, '/Users/u/Library/Keychains', 'POLICY_SENSITIVE'],
  ['macos ~/Library/KEYCHAINS (case)', macos, '/Users/u/Library/KEYCHAINS', 'POLICY_SENSITIVE'],
  ['macos Chrome profile', macos, '/Users/u/Library/Application Support/Google/Chrome/Default', 'POLICY_SENSITIVE'],
  ['macos ~/Library/Application Support/Google (contains Chrome)', macos, '/Users/u/Library/Application Support/Google', 'POLICY_CONTAINS_SENSITIVE'],
  ['macos /tmp', macos, '/tmp', 'POLICY_BROAD_ROOT'],
  ['macos /private/tmp', macos, '/private/tmp', 'POLICY_BROAD_ROOT'],
  ['macos $TMPDIR resolved under /private', macos, '/private/var/folders/xy/abc123/T', 'POLICY_BROAD_ROOT'],
  ['macos /private/var/folders/xy (contains $TMPDIR)', macos, '/private/var/folders/xy', 'POLICY_BROAD_ROOT'],
  ['macos /private/etc/ssh', macos, '/private/etc/ssh', 'POLICY_SENSITIVE'],
  ['macos ~/dev/repo', macos, '/Users/u/dev/repo', 'allowed'],
  ['macos ~/Dev/Repo', macos, '/Users/u/Dev/Repo', 'allowed'],
  // windows
  ['windows C:\\', windows, 'C:\\', 'POLICY_ROOT'],
  ['windows D:\\', windows, 'D:\\', 'POLICY_ROOT'],
  ['windows home', windows, 'C:\\Users\\Me', 'POLICY_HOME'],
  ['windows home (case)', windows, 'c:\\users\\me', 'POLICY_HOME'],
  ['windows C:\\Users', windows, 'C:\\Users', 'POLICY_BROAD_ROOT'],
  ['windows %APPDATA%', windows, 'C:\\Users\\Me\\AppData\\Roaming', 'POLICY_BROAD_ROOT'],
  ['windows %LOCALAPPDATA% (default)', windows, 'C:\\Users\\Me\\AppData\\Local', 'POLICY_BROAD_ROOT'],
  ['windows .aws', windows, 'C:\\Users\\Me\\.aws', 'POLICY_SENSITIVE'],
  ['windows .AWS (case)', windows, 'C:\\Users\\Me\\.AWS', 'POLICY_SENSITIVE'],
  ['windows .aws. (trailing dot)', windows, 'C:\\Users\\Me\\.aws.', 'POLICY_SENSITIVE'],
  ['windows forward slashes', windows, 'C:/Users/Me/.ssh', 'POLICY_SENSITIVE'],
  ['windows \\\\?\\ prefix', windows, '\\\\?\\C:\\Users\\Me\\.ssh', 'POLICY_SENSITIVE'],
  ['windows gh config', windows, 'C:\\Users\\Me\\AppData\\Roaming\\GitHub CLI', 'POLICY_SENSITIVE'],
  ['windows UNC', windows, '\\\\server\\share\\repo', 'POLICY_NOT_LOCAL'],
  ['windows pipe', windows, '\\\\.\\pipe\\docker_engine', 'POLICY_NOT_LOCAL'],
  ['windows dev repo', windows, 'C:\\Users\\Me\\dev\\repo', 'allowed'],
  ['windows D:\\src\\repo', windows, 'D:\\src\\repo', 'allowed'],
  ['windows comma', windows, 'C:\\Users\\Me\\dev\\a,b', 'POLICY_UNSAFE_CHARS'],
  ['windows second colon', windows, 'C:\\Users\\Me\\dev\\a:b', 'POLICY_UNSAFE_CHARS'],
]

describe('judgeMountSource', () => {
  it.each(rows)('%s', (_label, host, path, expected) => {
    const d = judgeMountSource(path, host)
    if (expected === 'allowed') expect(d).toEqual({allowed: true})
    else expect(d.allowed ? 'allowed' : `${d.code}: ${d.reason}`).toMatch(new RegExp(`^${expected}: `))
  })

  it('names the rule and the matched path in one line', () => {
    const d = judgeMountSource('/home/u/.ssh', linux)
    expect(d).toEqual({
      allowed: false,
      code: 'POLICY_SENSITIVE',
      reason: '/home/u/.ssh is inside ~/.ssh (ssh: OpenSSH user directory)',
      rule: {category: 'ssh', title: 'OpenSSH user directory'},
    })
    const c = judgeMountSource('/home/u/.cargo', linux)
    expect(c.allowed === false && c.reason).toBe('/home/u/.cargo contains ~/.cargo/credentials.toml (package_registries: Cargo registry tokens)')
  })

  it('says which character is unsafe, escaped so the message stays one line', () => {
    const d = judgeMountSource('/home/u/dev/a\nb', linux)
    expect(d.allowed).toBe(false)
    if (d.allowed) return
    expect(d.reason).toBe('/home/u/dev/a\\u000ab contains a newline (U+000A), which cannot be passed safely to podman as a mount source')
    expect(d.reason).not.toContain('\n')
    expect(findUnsafeChar('/x/a:b', linux)).toContain("':'")
    expect(findUnsafeChar('/x/a,b', linux)).toContain("','")
    expect(findUnsafeChar('C:\\x', windows)).toBeNull()
  })

  it('folds NFD and NFC on macOS, compares exactly on Linux', () => {
    const nfc = '/Users/u/Library/Application Support/Café/x'.normalize('NFC')
    const nfd = nfc.normalize('NFD')
    expect(nfc).not.toBe(nfd)
    const extra = {extraDeny: ['~/Library/Application Support/Café']}
    expect(judgeMountSource(nfd, macos, extra).allowed).toBe(false)
    expect(judgeMountSource(nfc, macos, {extraDeny: ['~/Library/Application Support/Café'.normalize('NFD')]}).allowed).toBe(false)
    const linuxNfd = '/home/u/dev/Café'.normalize('NFD')
    expect(judgeMountSource(linuxNfd, linux, {extraDeny: ['~/dev/Café'.normalize('NFC')]})).toEqual({allowed: true})
    expect(judgeMountSource(linuxNfd, linux, {extraDeny: ['~/dev/Café'.normalize('NFD')]}).allowed).toBe(false)
  })

  it('lets root work in its own home (/root is denied only as another user\'s home)', () => {
    const root = fakeHostFacts('linux', {homeDir: '/root', uid: 0, isRoot: true, env: {HOME: '/root'}})
    expect(judgeMountSource('/root/dev/repo', root)).toEqual({allowed: true})
    expect(judgeMountSource('/root', root)).toMatchObject({code: 'POLICY_HOME'})
    expect(judgeMountSource('/root/.ssh', root)).toMatchObject({code: 'POLICY_SENSITIVE'})
    expect(judgeMountSource('/root/dev/repo', linux)).toMatchObject({code: 'POLICY_SENSITIVE'})
  })

  it('folds an NFD home path on macOS (accented user names)', () => {
    const host = fakeHostFacts('macos', {homeDir: '/Users/José'.normalize('NFC'), env: {}})
    expect(judgeMountSource('/Users/José/.ssh'.normalize('NFD'), host)).toMatchObject({code: 'POLICY_SENSITIVE'})
    expect(judgeMountSource('/Users/JOSÉ'.normalize('NFD'), host)).toMatchObject({code: 'POLICY_HOME'})
  })

  it('treats an ancestor of the home directory as a broad root', () => {
    const host = fakeHostFacts('linux', {homeDir: '/data/users/u', env: {HOME: '/data/users/u'}})
    const d = judgeMountSource('/data/users', host)
    expect(d.allowed === false && d.reason).toBe('/data/users contains your home directory /data/users/u')
    expect(judgeMountSource('/data/projects/repo', host)).toEqual({allowed: true})
  })

  it('denies env-relocated stores (CODEX_HOME, KUBECONFIG list, GNUPGHOME, AWS_SHARED_CREDENTIALS_FILE)', () => {
    const host = fakeHostFacts('linux', {
      homeDir: '/home/u',
      env: {
        HOME: '/home/u',
        CODEX_HOME: '/srv/codex-home',
        KUBECONFIG: '/srv/kube/a.yaml:/home/u/dev/proj/kubeconfig.yaml',
        GNUPGHOME: '~/keys/gpg',
        AWS_SHARED_CREDENTIALS_FILE: '/srv/aws/creds',
      },
    })
    const codex = judgeMountSource('/srv/codex-home', host)
    expect(codex.allowed === false && codex.reason).toBe('/srv/codex-home is inside $CODEX_HOME (= /srv/codex-home) (ai_tools: OpenAI Codex CLI home)')
    expect(judgeMountSource('/srv/kube', host).allowed === false && judgeMountSource('/srv/kube', host)).toMatchObject({code: 'POLICY_CONTAINS_SENSITIVE'})
    expect(judgeMountSource('/home/u/dev/proj', host)).toMatchObject({code: 'POLICY_CONTAINS_SENSITIVE'})
    expect(judgeMountSource('/home/u/keys/gpg/private-keys-v1.d', host)).toMatchObject({code: 'POLICY_SENSITIVE'})
    expect(judgeMountSource('/srv/aws', host)).toMatchObject({code: 'POLICY_CONTAINS_SENSITIVE'})
    expect(judgeMountSource('/srv/other', host)).toEqual({allowed: true})
  })

  it('ignores an env override that would cover the whole home (it would refuse everything)', () => {
    const host = fakeHostFacts('linux', {homeDir: '/home/u', env: {HOME: '/home/u', HF_HOME: '/home/u'}})
    expect(judgeMountSource('/home/u/dev/repo', host)).toEqual({allowed: true})
  })

  it('honours a relocated XDG_CONFIG_HOME for ~/.config rules, and keeps the defaults', () => {
    const host = fakeHostFacts('linux', {homeDir: '/home/u', env: {HOME: '/home/u', XDG_CONFIG_HOME: '/home/u/cfg'}})
    expect(judgeMountSource('/home/u/cfg/gcloud', host)).toMatchObject({code: 'POLICY_SENSITIVE'})
    expect(judgeMountSource('/home/u/cfg/gh', host)).toMatchObject({code: 'POLICY_SENSITIVE'})
    expect(judgeMountSource('/home/u/.config/gh', host)).toMatchObject({code: 'POLICY_SENSITIVE'})
    expect(judgeMountSource('/home/u/cfg', host)).toMatchObject({code: 'POLICY_BROAD_ROOT'})
  })

  it('refuses the SSH agent socket dir named by SSH_AUTH_SOCK, and drops the rule when unset', () => {
    const set = fakeHostFacts('linux', {homeDir: '/home/u', env: {HOME: '/home/u', SSH_AUTH_SOCK: '/srv/agent/S.sock'}})
    expect(judgeMountSource('/srv/agent', set)).toMatchObject({code: 'POLICY_CONTAINS_SENSITIVE'})
    expect(judgeMountSource('/srv/agent', linux)).toEqual({allowed: true})
  })

  it('throws for a path that was not resolved to an absolute path', () => {
    expect(() => judgeMountSource('dev/repo', linux)).toThrow(AgentMachineError)
    expect(() => judgeMountSource('dev\\repo', windows)).toThrow(/not an absolute path/)
  })
})

describe('assertMountAllowed', () => {
  it('throws a policy refusal (exit 3) with the code, reason and a fix', () => {
    let caught: unknown
    try {
      assertMountAllowed('/home/u/.config', linux)
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(AgentMachineError)
    const e = caught as AgentMachineError
    expect(e.code).toBe('POLICY_BROAD_ROOT')
    expect(e.exitCode).toBe(3)
    expect(e.message).toMatch(/^refusing to mount \/home\/u\/\.config: it is the broad root ~\/\.config, /)
    expect(e.fix).toBe('mount only the project folder itself, e.g. ~/dev/<repo>')
    expect(() => assertMountAllowed('/home/u/dev/repo', linux)).not.toThrow()
  })

  it('refusals read as sentences: "refusing to mount <path>: it is …"', () => {
    const message = (path: string) => {
      try {
        assertMountAllowed(path, linux)
      } catch (error) {
        return (error as AgentMachineError).message
      }
      return null
    }
    expect(message('/home/u')).toBe('refusing to mount /home/u: it is your home directory.')
    expect(message('/')).toBe('refusing to mount /: it is the filesystem root.')
    expect(message('/home/u/.ssh')).toBe('refusing to mount /home/u/.ssh: it is inside ~/.ssh (ssh: OpenSSH user directory).')
    expect(message('/home')).toMatch(/^refusing to mount \/home: it (contains your home directory|is the broad root)/)
    for (const path of ['/home/u', '/', '/home/u/.ssh', '/home', '/home/u/.config']) expect(message(path)).not.toMatch(/refusing to mount \S+ (is|contains) /)
  })

  it('suggests a rename for unsafe characters', () => {
    expect(() => assertMountAllowed('/home/u/dev/a,b', linux)).toThrow(expect.objectContaining({code: 'POLICY_UNSAFE_CHARS', fix: expect.stringContaining('rename')}))
  })
})

describe('judgeMountTarget', () => {
  it.each([
    ['/workspace/repo', true],
    ['/workspace/a/b', true],
    ['/workspace', false],
    ['/workspace/', false],
    ['/work/repo', false],
    ['/workspace/../etc', false],
    ['/workspace/a/./b', false],
    ['/workspace/a//b', false],
    ['/workspace/a:b', false],
    ['/workspace/a,b', false],
    ['/workspace/a\nb', false],
    ['workspace/repo', false],
  ])('%j → %s', (target, ok) => {
    expect(judgeMountTarget(target).allowed).toBe(ok)
  })
})
