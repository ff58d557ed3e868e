// Issue 10, defect 9: the deny catalogue covers the places where the host later RUNS what is
// written there (PATH dirs, autostart, shell rc files, this CLI's own dirs, container storage) and,
// run as root, every user's home. Judged through the real policy (judgeMountSource) per platform.
import {mkdir, mkdtemp, realpath, rm, symlink} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {HostFacts} from '../../../src/core/host/facts.js'
import {parsePasswdHomes, probeHostFacts} from '../../../src/core/host/probe.js'
import {denyPatternsFor, loadCatalogue, mountHolding, otherHomes, pathEntries, STATE_DIR_MOUNTABLE} from '../../../src/core/policy/catalogue.js'
import {judgeMountSource, type MountDecision} from '../../../src/core/policy/mount-policy.js'
import {resolvePolicyAliases} from '../../../src/core/policy/paths.js'
import {scanTree} from '../../../src/core/policy/tree-scan.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'

const linux = fakeHostFacts('linux', {homeDir: '/home/u', env: {HOME: '/home/u'}})
const macos = fakeHostFacts('macos', {homeDir: '/Users/u', env: {HOME: '/Users/u'}})
const windows = fakeHostFacts('windows', {homeDir: 'C:\\Users\\Me', env: {USERPROFILE: 'C:\\Users\\Me'}})

const code = (d: MountDecision): string => (d.allowed ? 'allowed' : d.code)

type Row = [host: HostFacts, path: string]
const refusedAsHostExec = (rows: Row[]): void => {
  it.each(rows)('%#: %s refuses %s as host-exec', (host, path) => {
    const d = judgeMountSource(path, host)
    expect(code(d), d.allowed ? '' : d.reason).toBe('POLICY_HOST_EXEC')
    expect(d.allowed ? '' : d.reason).toMatch(/the host runs what is written there$/)
  })
}

describe('PATH directories (catalogue)', () => {
  refusedAsHostExec([
    [linux, '/usr/local/bin'], [linux, '/usr/bin'], [linux, '/bin/x'], [linux, '/usr/local/sbin'], [linux, '/usr/lib/python3/dist-packages'],
    [linux, '/home/u/.local/bin'], [linux, '/home/u/bin'], [linux, '/home/u/.cargo/bin'], [linux, '/home/u/go/bin'],
    [linux, '/home/u/.npm-global/bin'], [linux, '/home/u/.local/share/pnpm'], [linux, '/home/u/.pyenv/shims'], [linux, '/home/u/.nvm/versions'],
    [linux, '/home/u/.local/lib/python3.11/site-packages'], [linux, '/opt/tool/bin'],
    [macos, '/opt/homebrew/bin'], [macos, '/opt/homebrew/Cellar'], [macos, '/usr/local/bin'], [macos, '/Users/u/.local/bin'], [macos, '/Users/u/Library/pnpm'],
    [macos, '/Users/u/go/bin'], [macos, '/Applications/Tool.app'],
    [windows, 'C:\\Windows\\System32'], [windows, 'C:\\Program Files\\Git\\cmd'], [windows, 'C:\\Users\\Me\\AppData\\Roaming\\npm'],
    [windows, 'C:\\Users\\Me\\AppData\\Local\\pnpm'], [windows, 'C:\\Users\\Me\\.cargo\\bin'], [windows, 'C:\\Users\\Me\\go\\bin'],
    [windows, 'C:\\Users\\Me\\AppData\\Local\\Microsoft\\WindowsApps'], [windows, 'C:\\Users\\Me\\AppData\\Local\\Programs\\Microsoft VS Code'],
  ])

  it('refuses a folder that contains one (~/go holds ~/go/bin), allows a project beside them', () => {
    expect(code(judgeMountSource('/home/u/go', linux))).toBe('POLICY_HOST_EXEC')
    expect(code(judgeMountSource('/home/u/go/src/github.com/me/app', linux))).toBe('allowed')
    expect(code(judgeMountSource('/home/u/dev/bin-tools', linux))).toBe('allowed')
    expect(code(judgeMountSource('/opt/app', linux))).toBe('POLICY_HOST_EXEC') // contains /opt/app/bin (glob /opt/*/bin)
    expect(code(judgeMountSource('/srv/work/repo', linux))).toBe('allowed')
  })

  it('follows the variables that relocate user bins (GOPATH, GOBIN, PNPM_HOME, NPM_CONFIG_PREFIX), never widening to the home', () => {
    const host = fakeHostFacts('linux', {homeDir: '/home/u', env: {HOME: '/home/u', GOPATH: '/srv/gopath', GOBIN: '/srv/gobin', PNPM_HOME: '/home/u', NPM_CONFIG_PREFIX: '/srv/npm'}})
    expect(code(judgeMountSource('/srv/gopath/bin', host))).toBe('POLICY_HOST_EXEC')
    expect(code(judgeMountSource('/srv/gopath/src/app', host))).toBe('allowed') // only $GOPATH/bin, not the whole GOPATH
    expect(code(judgeMountSource('/srv/gobin', host))).toBe('POLICY_HOST_EXEC')
    expect(code(judgeMountSource('/srv/npm/bin', host))).toBe('POLICY_HOST_EXEC')
    // PNPM_HOME=$HOME would deny everything below the home: skipped (the home is refused as a home)
    expect(code(judgeMountSource('/home/u/dev/repo', host))).toBe('allowed')
  })
})

describe('PATH directories (the host\'s own $PATH)', () => {
  const host = fakeHostFacts('linux', {
    homeDir: '/home/u',
    env: {HOME: '/home/u', PATH: '/srv/tools/bin::.:bin:~/scripts:/:/home:/home/u:/home/u/dev/app/node_modules/.bin:/srv/tools/bin:/weird/$HOME'},
  })

  it('expands ~, keeps absolute entries once, skips empty, relative, broad and node_modules/.bin entries', () => {
    expect(pathEntries(host)).toEqual(['/srv/tools/bin', '/home/u/scripts', '/weird/$HOME'])
  })

  it('refuses each entry, what is inside it and what contains it', () => {
    expect(judgeMountSource('/srv/tools/bin', host)).toMatchObject({allowed: false, code: 'POLICY_HOST_EXEC', reason: '/srv/tools/bin is inside /srv/tools/bin (on your $PATH) (path_env: a directory on your $PATH): the host runs what is written there'})
    expect(code(judgeMountSource('/srv/tools/bin/sub', host))).toBe('POLICY_HOST_EXEC')
    expect(code(judgeMountSource('/srv/tools', host))).toBe('POLICY_HOST_EXEC')
    expect(code(judgeMountSource('/home/u/scripts', host))).toBe('POLICY_HOST_EXEC')
    expect(code(judgeMountSource('/srv/tools-other', host))).toBe('allowed')
    // npm's per-command node_modules/.bin is not the user's PATH: the repo stays mountable
    expect(code(judgeMountSource('/home/u/dev/app', host))).toBe('allowed')
  })

  it('on Windows splits on ;, strips quotes, expands %VAR% and matches case-insensitively', () => {
    const win = fakeHostFacts('windows', {homeDir: 'C:\\Users\\Me', env: {USERPROFILE: 'C:\\Users\\Me', Path: '"D:\\Tools\\bin";%USERPROFILE%\\scripts;;relative;%NOPE%\\x'}})
    expect(pathEntries(win)).toEqual(['D:\\Tools\\bin', 'C:\\Users\\Me\\scripts'])
    expect(code(judgeMountSource('d:\\tools\\BIN', win))).toBe('POLICY_HOST_EXEC')
    expect(code(judgeMountSource('C:\\Users\\Me\\Scripts', win))).toBe('POLICY_HOST_EXEC')
  })

  it('on macOS matches case-insensitively', () => {
    const mac = fakeHostFacts('macos', {homeDir: '/Users/u', env: {HOME: '/Users/u', PATH: '/Users/u/Tools/bin:/usr/bin'}})
    expect(code(judgeMountSource('/users/u/tools/BIN', mac))).toBe('POLICY_HOST_EXEC')
  })
})

describe('autostart, systemd, cron, launchd and Windows Startup', () => {
  refusedAsHostExec([
    [linux, '/home/u/.config/systemd/user'], [linux, '/home/u/.config/systemd'], [linux, '/home/u/.local/share/systemd/user'],
    [linux, '/etc/systemd/system'], [linux, '/usr/lib/systemd/user'], [linux, '/etc/cron.d'], [linux, '/etc/cron.daily'],
    [linux, '/etc/crontab'], [linux, '/var/spool/cron/crontabs'], [linux, '/var/spool/cron'], [linux, '/home/u/.config/autostart'],
    [linux, '/etc/xdg/autostart'], [linux, '/etc/profile.d'], [linux, '/etc/apt/apt.conf.d'], [linux, '/home/u/.config/i3'],
    [linux, '/home/u/.local/share/applications'], [linux, '/home/u/.local/share/dbus-1/services'], [linux, '/home/u/.githooks'],
    [macos, '/Users/u/Library/LaunchAgents'], [macos, '/Library/LaunchAgents'], [macos, '/Library/LaunchDaemons'],
    [macos, '/private/etc/periodic/daily'], [macos, '/usr/lib/cron/tabs'], [macos, '/private/var/at/tabs'],
    [windows, 'C:\\Users\\Me\\AppData\\Roaming\\Microsoft\\Windows\\Start Menu\\Programs\\Startup'],
    [windows, 'C:\\ProgramData\\Microsoft\\Windows\\Start Menu\\Programs\\StartUp'],
    [windows, 'c:\\programdata\\microsoft\\windows\\start menu\\programs\\startup'],
    [windows, 'C:\\Windows\\System32\\Tasks'],
  ])

  it('follows XDG_CONFIG_HOME for the user units', () => {
    const host = fakeHostFacts('linux', {homeDir: '/home/u', env: {HOME: '/home/u', XDG_CONFIG_HOME: '/data/cfg'}})
    expect(code(judgeMountSource('/data/cfg/systemd/user', host))).toBe('POLICY_HOST_EXEC')
    expect(code(judgeMountSource('/data/cfg/autostart', host))).toBe('POLICY_HOST_EXEC')
  })

  it('still names the secret rule first where both apply (/etc/ssh is a secret store inside /etc)', () => {
    expect(code(judgeMountSource('/etc/ssh', linux))).toBe('POLICY_SENSITIVE')
    expect(code(judgeMountSource('/etc', linux))).toBe('POLICY_BROAD_ROOT')
  })
})

describe('shell, editor and tool startup files', () => {
  refusedAsHostExec([
    [linux, '/home/u/.bashrc'], [linux, '/home/u/.bash_profile'], [linux, '/home/u/.profile'], [linux, '/home/u/.zshrc'], [linux, '/home/u/.zshenv'],
    [linux, '/home/u/.zprofile'], [linux, '/home/u/.config/fish'], [linux, '/home/u/.config/fish/conf.d'], [linux, '/home/u/.inputrc'],
    [linux, '/home/u/.oh-my-zsh/custom'], [linux, '/home/u/.config/powershell'], [linux, '/home/u/.vim/pack'], [linux, '/home/u/.config/nvim'],
    [linux, '/home/u/.vscode/extensions'], [linux, '/home/u/.config/Code/User'], [linux, '/home/u/.local/share/direnv/allow'], [linux, '/home/u/.git-templates'],
    [macos, '/Users/u/.zshrc'], [macos, '/Users/u/.config/fish'], [macos, '/Users/u/Library/Application Support/Code/User'], [macos, '/Users/u/.ZSHRC'],
    [windows, 'C:\\Users\\Me\\Documents\\PowerShell'], [windows, 'C:\\Users\\Me\\Documents\\WindowsPowerShell\\Microsoft.PowerShell_profile.ps1'],
    [windows, 'C:\\Users\\Me\\OneDrive - Contoso\\Documents\\PowerShell'], [windows, 'C:\\Users\\Me\\AppData\\Roaming\\Code\\User'],
  ])

  it('follows ZDOTDIR', () => {
    const host = fakeHostFacts('linux', {homeDir: '/home/u', env: {HOME: '/home/u', ZDOTDIR: '/srv/zsh'}})
    expect(code(judgeMountSource('/srv/zsh', host))).toBe('POLICY_HOST_EXEC')
  })
})

describe("this CLI's own config, state and evidence dirs", () => {
  it('refuses the default dirs, what is inside them and what contains them (linux)', () => {
    expect(code(judgeMountSource('/home/u/.config/sourceosctl', linux))).toBe('POLICY_HOST_EXEC')
    expect(code(judgeMountSource('/home/u/.config/sourceosctl/agent-machine', linux))).toBe('POLICY_HOST_EXEC')
    expect(code(judgeMountSource('/home/u/.local/state/sourceosctl', linux))).toBe('POLICY_HOST_EXEC')
    expect(code(judgeMountSource('/home/u/.local/state/sourceosctl/evidence', linux))).toBe('POLICY_HOST_EXEC')
    expect(code(judgeMountSource('/home/u/.local/state/sourceosctl/quarantine', linux))).toBe('POLICY_HOST_EXEC')
    expect(code(judgeMountSource('/home/u/.local/state', linux))).toBe('POLICY_BROAD_ROOT') // already a broad root
    const host = fakeHostFacts('linux', {homeDir: '/home/u', env: {HOME: '/home/u', SOURCEOSCTL_STATE_DIR: '/home/u/work/.state'}})
    expect(code(judgeMountSource('/home/u/work', host))).toBe('POLICY_HOST_EXEC') // contains it
  })

  it('/bin and /opt/homebrew themselves stay broad roots', () => {
    expect(code(judgeMountSource('/bin', linux))).toBe('POLICY_BROAD_ROOT')
    expect(code(judgeMountSource('/opt/homebrew', macos))).toBe('POLICY_BROAD_ROOT')
  })

  it('lets a --worktree checkout under <state>/worktrees/<name> be mounted, but not <state>/worktrees itself', () => {
    expect(STATE_DIR_MOUNTABLE).toEqual(['worktrees/*'])
    expect(code(judgeMountSource('/home/u/.local/state/sourceosctl/worktrees/repo-abc', linux))).toBe('allowed')
    expect(code(judgeMountSource('/home/u/.local/state/sourceosctl/worktrees/repo-abc/src', linux))).toBe('allowed')
    expect(code(judgeMountSource('/home/u/.local/state/sourceosctl/worktrees', linux))).toBe('POLICY_HOST_EXEC')
  })

  it('follows SOURCEOSCTL_CONFIG_DIR, _STATE_DIR, _EVIDENCE_DIR and _PROFILE, in both directions', () => {
    const host = fakeHostFacts('linux', {
      homeDir: '/home/u',
      env: {HOME: '/home/u', SOURCEOSCTL_CONFIG_DIR: '/srv/box/cfg', SOURCEOSCTL_STATE_DIR: '/srv/box/state', SOURCEOSCTL_EVIDENCE_DIR: '/srv/ev', SOURCEOSCTL_PROFILE: '/srv/profiles/p.yaml'},
    })
    expect(judgeMountSource('/srv/box', host)).toMatchObject({code: 'POLICY_HOST_EXEC', reason: expect.stringMatching(/^\/srv\/box contains sourceosctl's config dir \/srv\/box\/cfg/)})
    expect(code(judgeMountSource('/srv/box/cfg', host))).toBe('POLICY_HOST_EXEC')
    expect(code(judgeMountSource('/srv/box/state/evidence', host))).toBe('POLICY_HOST_EXEC')
    expect(code(judgeMountSource('/srv/box/state/worktrees/x', host))).toBe('allowed')
    expect(code(judgeMountSource('/srv/ev', host))).toBe('POLICY_HOST_EXEC')
    expect(code(judgeMountSource('/srv/box/state', host))).toBe('POLICY_HOST_EXEC')
    expect(code(judgeMountSource('/srv/profiles', host))).toBe('POLICY_HOST_EXEC') // contains the active profile file
    expect(code(judgeMountSource('/srv/other', host))).toBe('allowed')
  })

  it('ignores relative and overly broad overrides (resolved against a cwd the policy does not know)', () => {
    const host = fakeHostFacts('linux', {homeDir: '/home/u', env: {HOME: '/home/u', SOURCEOSCTL_STATE_DIR: 'state', SOURCEOSCTL_EVIDENCE_DIR: '/home/u'}})
    expect(code(judgeMountSource('/home/u/dev/repo', host))).toBe('allowed')
  })

  it('uses the macOS and Windows defaults', () => {
    expect(code(judgeMountSource('/Users/u/Library/Application Support/sourceosctl', macos))).toBe('POLICY_HOST_EXEC')
    expect(code(judgeMountSource('/Users/u/Library/Application Support/sourceosctl/state/worktrees/r-1', macos))).toBe('allowed')
    expect(code(judgeMountSource('C:\\Users\\Me\\AppData\\Roaming\\sourceosctl', windows))).toBe('POLICY_HOST_EXEC')
    expect(code(judgeMountSource('C:\\Users\\Me\\AppData\\Local\\sourceosctl\\State\\evidence', windows))).toBe('POLICY_HOST_EXEC')
    expect(code(judgeMountSource('C:\\Users\\Me\\AppData\\Local\\sourceosctl\\State\\worktrees\\r-1', windows))).toBe('allowed')
  })

  it('keeps the worktree exception when the state dir is reached through a symlink', async () => {
    const base = await realpath(await mkdtemp(join(tmpdir(), 'cli-dirs-')))
    try {
      await mkdir(join(base, 'real-state', 'worktrees', 'r-1'), {recursive: true})
      await symlink(join(base, 'real-state'), join(base, 'state'))
      const host = fakeHostFacts('linux', {homeDir: '/home/u', env: {HOME: '/home/u', SOURCEOSCTL_STATE_DIR: join(base, 'state')}})
      const aliases = await resolvePolicyAliases(host, {realpath})
      expect(code(judgeMountSource(join(base, 'real-state', 'evidence'), host, {aliases}))).toBe('POLICY_HOST_EXEC')
      expect(code(judgeMountSource(join(base, 'real-state', 'worktrees', 'r-1'), host, {aliases}))).toBe('allowed')
      expect(code(judgeMountSource(base, host, {aliases}))).toBe('POLICY_HOST_EXEC')
    } finally {
      await rm(base, {recursive: true, force: true})
    }
  })
})

describe('mountHolding (a --profile-file the catalogue cannot name)', () => {
  it('finds the mount whose source holds the file, folding case where the host does', () => {
    const mounts = [{hostSource: '/home/u/dev/a'}, {hostSource: '/home/u/dev/b'}]
    expect(mountHolding('/home/u/dev/b/profile.yaml', mounts, linux)).toBe(mounts[1])
    expect(mountHolding('/home/u/dev/bb/profile.yaml', mounts, linux)).toBeUndefined()
    expect(mountHolding('/home/u/.config/sourceosctl/p.yaml', mounts, linux)).toBeUndefined()
    expect(mountHolding('/users/u/DEV/a/p.yaml', [{hostSource: '/Users/u/dev/a'}], macos)).toBeDefined()
  })
})

describe('container storage and engine configuration', () => {
  it.each<[HostFacts, string]>([
    [linux, '/home/u/.local/share/containers'], [linux, '/home/u/.local/share/containers/storage/overlay'], [linux, '/var/lib/containers'],
    [linux, '/home/u/.config/containers'], [linux, '/etc/containers'], [linux, '/home/u/.local/share/containers/podman/machine'],
    [linux, '/home/u/.docker/cli-plugins'],
    [macos, '/Users/u/.local/share/containers/podman/machine/applehv'], [macos, '/Users/u/.config/containers/podman/machine'], [macos, '/Users/u/.config/containers'],
    [windows, 'C:\\Users\\Me\\.local\\share\\containers\\podman\\machine'], [windows, 'C:\\Users\\Me\\.config\\containers'],
  ])('%#: %s refuses %s', (host, path) => {
    expect(code(judgeMountSource(path, host))).toMatch(/^POLICY_(SENSITIVE|HOST_EXEC)$/)
  })

  it('follows CONTAINERS_STORAGE_CONF and CONTAINERS_CONF', () => {
    const host = fakeHostFacts('linux', {homeDir: '/home/u', env: {HOME: '/home/u', CONTAINERS_STORAGE_CONF: '/srv/c/storage.conf'}})
    expect(code(judgeMountSource('/srv/c', host))).toBe('POLICY_CONTAINS_SENSITIVE')
  })
})

describe('run as root: every user\'s home is a home', () => {
  const root = fakeHostFacts('linux', {homeDir: '/root', uid: 0, isRoot: true, env: {HOME: '/root'}, userHomes: ['/root', '/home/alice', '/srv/git', '/var/lib/postgresql', '/', '/nonexistent']})

  it('lists the other homes once (not its own, not /)', () => {
    expect(otherHomes(root).map((h) => h.home)).toEqual(['/home/alice', '/srv/git', '/var/lib/postgresql', '/nonexistent', '/home/*'])
    expect(otherHomes(linux)).toEqual([])
  })

  it.each<[string, string]>([
    ['/home/alice', 'POLICY_BROAD_ROOT'],
    ['/home/bob', 'POLICY_BROAD_ROOT'], // /home/* even without a passwd entry
    ['/srv/git', 'POLICY_BROAD_ROOT'],
    ['/srv', 'POLICY_BROAD_ROOT'], // contains a home
    ['/home/alice/.ssh', 'POLICY_SENSITIVE'],
    ['/home/bob/.aws', 'POLICY_SENSITIVE'],
    ['/var/lib/postgresql/.pgpass', 'POLICY_SENSITIVE'],
    ['/home/alice/.config/gh', 'POLICY_SENSITIVE'],
    ['/home/alice/.config', 'POLICY_BROAD_ROOT'],
    ['/home/alice/.bashrc', 'POLICY_HOST_EXEC'],
    ['/home/alice/.local/bin', 'POLICY_HOST_EXEC'],
    ['/home/alice/.config/systemd/user', 'POLICY_HOST_EXEC'],
    ['/home/alice/dev/repo', 'allowed'],
    ['/root/dev/repo', 'allowed'],
    ['/root', 'POLICY_HOME'],
  ])('%s → %s', (path, expected) => {
    expect(code(judgeMountSource(path, root))).toBe(expected)
  })

  it('names the other user\'s home in the refusal', () => {
    expect(judgeMountSource('/home/alice', root)).toMatchObject({reason: "/home/alice is the broad root /home/alice (another user's home), which holds other programs' files and secrets"})
  })

  it('on macOS covers /Users/*', () => {
    const mac = fakeHostFacts('macos', {homeDir: '/var/root', uid: 0, isRoot: true, env: {HOME: '/var/root'}})
    expect(code(judgeMountSource('/Users/bob', mac))).toBe('POLICY_BROAD_ROOT')
    expect(code(judgeMountSource('/users/BOB/.ssh', mac))).toBe('POLICY_SENSITIVE')
    expect(code(judgeMountSource('/Users/bob/Library/LaunchAgents', mac))).toBe('POLICY_HOST_EXEC')
    expect(code(judgeMountSource('/Users/bob/dev/repo', mac))).toBe('allowed')
  })

  it('a normal user still has /root denied as another user\'s home', () => {
    expect(code(judgeMountSource('/root/dev/repo', linux))).toBe('POLICY_SENSITIVE')
  })

  it('the host probe reads the homes from /etc/passwd only for root', async () => {
    expect(parsePasswdHomes('root:x:0:0:root:/root:/bin/bash\n# c\nalice:x:1000:1000::/home/alice:/bin/sh\nbad\nrel:x:1:1::home:/bin/sh\ndup:x:2:2::/home/alice:/bin/sh\n')).toEqual(['/root', '/home/alice'])
    const source = (uid: number) => ({
      nodePlatform: 'linux', release: '6', version: '', arch: 'x64', homeDir: uid === 0 ? '/root' : '/home/u', uid, env: {},
      readTextFile: async (p: string) => (p === '/etc/passwd' ? 'root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n' : Promise.reject(new Error('ENOENT'))),
    })
    expect((await probeHostFacts(undefined, source(0))).userHomes).toEqual(['/root', '/home/alice'])
    expect((await probeHostFacts(undefined, source(1000))).userHomes).toBeUndefined()
  })
})

describe('host-exec rules in the tree scan', () => {
  let base: string
  beforeAll(async () => {
    base = await realpath(await mkdtemp(join(tmpdir(), 'host-exec-scan-')))
    await mkdir(join(base, 'venv', 'bin'), {recursive: true})
    await symlink('/usr/bin/python3', join(base, 'venv', 'bin', 'python'))
    await symlink('/home/u/.ssh/id_ed25519', join(base, 'key'))
  })
  afterAll(async () => {
    await rm(base, {recursive: true, force: true})
  })

  it('a symlink into a host-exec place (a venv\'s python) only warns; one into a secret store is refused', async () => {
    const scan = await scanTree(base, {host: linux})
    const byPath = Object.fromEntries(scan.hazards.map((h) => [h.relPath, `${h.severity} ${h.kind}`]))
    expect(byPath['venv/bin/python']).toBe('warn symlink-outside')
    expect(byPath.key).toBe('refuse symlink-sensitive')
  })
})

describe('catalogue data', () => {
  it('marks every entry of the host-exec categories risk: host-exec, the rest secret', () => {
    for (const e of loadCatalogue().entries) {
      expect(e.risk, e.id).toBe(['path_dirs', 'autostart', 'shell_startup'].includes(e.category) ? 'host-exec' : 'secret')
    }
    expect(denyPatternsFor(linux).some((d) => d.origin === 'host' && d.rule.category === 'cli_own_dirs')).toBe(true)
  })
})
