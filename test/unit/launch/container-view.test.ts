// checkContainerView over real podman 4.3.1 captures of initialized containers (mountinfo, status,
// OCI config: test/fixtures/podman/README.md), and readContainerView's direct and fallback reads.
import {describe, expect, it} from 'vitest'

import {
  buildViewFallbackArgv,
  checkContainerView,
  checkOciConfig,
  originOf,
  parseFallbackOutput,
  parseMountinfo,
  readContainerView,
  type ContainerViewRaw,
  type PlannedViewMount,
  type ProcFs,
  type ViewContext,
} from '../../../src/core/launch/container-view.js'
import {fakeRunner} from '../../helpers/fake-runner.js'
import {podmanFixture} from '../../helpers/fixtures.js'

const REPO = '/tmp/sourceosctl-fixture/repo'
const PINS = {repo: {dev: '65024', ino: '2154674'}, hooks: {dev: '65024', ino: '2214388'}}
const PLANNED: PlannedViewMount[] = [
  {target: '/workspace/repo', hostSource: REPO, mode: 'rw', pin: PINS.repo},
  {target: '/workspace/repo/.git/hooks', hostSource: `${REPO}/.git/hooks`, mode: 'ro', pin: PINS.hooks},
]
type Mode = 'rootful' | 'rootless'
const ids = (name: string) => (JSON.parse(podmanFixture(`podman431-container-inspect-initialized-${name}.json`)) as Array<{Id: string; State: {Pid: number}}>)[0]!

function ctx(name: string, over: Partial<ViewContext> = {}): ViewContext {
  const userns = name === 'rootless' || name === 'mounts-conf' ? ({mode: 'keep-id', uid: 1001} as const) : null
  return {planned: PLANNED, tmpfs: ['/home/agent'], containerId: ids(name).Id, runtime: 'runc', readOnlyRoot: true, userns, ...over}
}

/** /proc/<pid>/uid_map as the host read it: rootless keep-id as uid 1001; rootful without a user namespace. */
const ID_MAPS: Record<'rootful' | 'rootless', string> = {
  rootless: '         0     100000       1001\n      1001       1001          1\n      1002     101001      64535\n',
  rootful: '         0          0 4294967295\n',
}

const dir = (path: string, dev = '65024', ino = '1000') => ({path, kind: 'directory' as const, dev, ino})
const goodWalks = (): ContainerViewRaw['walks'] => [
  {target: '/workspace/repo', steps: [dir('/workspace', '99', '7'), dir('/workspace/repo', PINS.repo.dev, PINS.repo.ino)]},
  {
    target: '/workspace/repo/.git/hooks',
    steps: [dir('/workspace', '99', '7'), dir('/workspace/repo', PINS.repo.dev, PINS.repo.ino), dir('/workspace/repo/.git'), dir('/workspace/repo/.git/hooks', PINS.hooks.dev, PINS.hooks.ino)],
  },
]

function raw(mode: Mode, over: Partial<ContainerViewRaw> = {}, capture: string = mode): ContainerViewRaw {
  const mountinfo = podmanFixture(`podman431-container-mountinfo-${capture}.txt`)
  return {
    pid: 4242,
    via: 'direct',
    mountinfo,
    mountinfoAfter: mountinfo,
    status: podmanFixture(`podman431-container-status-initialized-${mode}.txt`),
    uidMap: ID_MAPS[mode],
    gidMap: ID_MAPS[mode],
    walks: goodWalks(),
    secrets: null,
    hostMountinfo: podmanFixture(`podman431-host-mountinfo-${mode}.txt`),
    ociConfig: mode === 'rootful' ? podmanFixture('podman431-container-oci-config-rootful.json') : null,
    ...over,
  }
}

const messages = (r: ContainerViewRaw, c: ViewContext) => checkContainerView(r, c).map((p) => `${p.code}: ${p.message}`)

describe('mountinfo', () => {
  it('parses the real table, octal escapes included', () => {
    const entries = parseMountinfo(podmanFixture('podman431-container-mountinfo-rootful.txt'))
    expect(entries.find((e) => e.mountPoint === '/workspace/repo')).toMatchObject({majmin: '254:0', root: REPO, fstype: 'ext4', options: expect.arrayContaining(['rw'])})
    expect(parseMountinfo('36 35 98:0 /my\\040dir /mnt/a\\134b rw,noatime master:1 - ext3 /dev/root rw')[0]).toMatchObject({root: '/my dir', mountPoint: '/mnt/a\\b', fstype: 'ext3'})
  })

  it('originOf: the topmost mount at the longest mount point, and the path within it', () => {
    const host = parseMountinfo(['1 0 8:1 / / rw - ext4 /dev/sda1 rw', '2 1 8:2 / /home rw - ext4 /dev/sda2 rw', '3 2 8:3 /@data /home/u/data rw - btrfs /dev/sda3 rw', '4 2 8:4 / /home rw - xfs /dev/sda4 rw'].join('\n'))
    expect(originOf('/etc/x', host)).toEqual({majmin: '8:1', root: '/etc/x'})
    expect(originOf('/home/u/dev', host)).toEqual({majmin: '8:4', root: '/u/dev'})
    expect(originOf('/home/u/data/repo', host)).toEqual({majmin: '8:3', root: '/@data/repo'})
    expect(originOf('/home/u/database', host)).toEqual({majmin: '8:4', root: '/u/database'})
  })
})

describe('checkContainerView (real 4.3.1 captures)', () => {
  it.each(['rootful', 'rootless'] as const)('accepts the planned container (%s)', (mode) => {
    expect(messages(raw(mode), ctx(mode))).toEqual([])
  })

  it('refuses a target whose inode is not the pin (the source was swapped before the runtime mounted it)', () => {
    const walks = goodWalks()
    walks[1]!.steps[3] = dir('/workspace/repo/.git/hooks', '65024', '999')
    expect(messages(raw('rootful', {walks}), ctx('rootful'))).toEqual([
      'MOUNT_SWAPPED: /workspace/repo/.git/hooks is device/inode 65024/999 in the container, but /tmp/sourceosctl-fixture/repo/.git/hooks was 65024/2214388 when it was checked',
    ])
  })

  it('refuses a bind whose root in mountinfo is not the planned source (a symlink swap into ~/.ssh)', () => {
    const swapped = podmanFixture('podman431-container-mountinfo-rootful.txt').replace(`${REPO}/.git/hooks /workspace`, '/root/.ssh /workspace')
    const out = messages(raw('rootful', {mountinfo: swapped, mountinfoAfter: swapped}), ctx('rootful'))
    expect(out).toEqual(['MOUNT_SWAPPED: /workspace/repo/.git/hooks shows /root/.ssh (device 254:0), not the planned /tmp/sourceosctl-fixture/repo/.git/hooks (/tmp/sourceosctl-fixture/repo/.git/hooks on 254:0)'])
  })

  it('refuses a symlink on the way to a target inside the container', () => {
    const walks = goodWalks()
    walks[1]!.steps = [dir('/workspace', '99', '7'), dir('/workspace/repo', PINS.repo.dev, PINS.repo.ino), {path: '/workspace/repo/.git', kind: 'symlink', dev: '65024', ino: '5'}]
    expect(messages(raw('rootful', {walks}), ctx('rootful'))).toEqual(['MOUNT_SWAPPED: on the way to /workspace/repo/.git/hooks, /workspace/repo/.git is a symlink inside the container'])
  })

  it('refuses a mounts.conf copy in /run/secrets (absent from inspect), by mountinfo and by content', () => {
    const out = messages(raw('rootless', {secrets: ['ssh']}, 'mounts-conf'), ctx('mounts-conf'))
    expect(out).toEqual([
      expect.stringMatching(/^MOUNT_MISMATCH: unplanned mount at \/run\/secrets\/ssh: a ext4 mount from \/tmp\/podman-run-1001\/containers\/.*\/userdata\/run\/secrets\/ssh$/),
      'MOUNT_MISMATCH: /run/secrets in the container holds ssh (a mounts.conf entry or a secret the plan does not have)',
    ])
  })

  it('refuses a hostile containers.conf: its volume, and the unconfined seccomp inspect does not show', () => {
    const r = raw('rootful', {status: podmanFixture('podman431-container-status-initialized-containers-conf.txt'), ociConfig: podmanFixture('podman431-container-oci-config-containers-conf.json')}, 'containers-conf')
    expect(messages(r, ctx('containers-conf'))).toEqual([
      'MOUNT_MISMATCH: unplanned mount at /run/x: a ext4 mount from /tmp/bnr-secret',
      'CONTAINER_CONFIG_MISMATCH: the container’s process has no seccomp filter',
      'CONTAINER_CONFIG_MISMATCH: the OCI config has no seccomp profile (seccomp_profile = "unconfined" in containers.conf?)',
    ])
  })

  it('refuses a submount carried by a bind (a recursive bind or a mount under the source)', () => {
    const extra = `${podmanFixture('podman431-container-mountinfo-rootful.txt')}999 105 254:0 /root/.ssh /workspace/repo/vendor rw,relatime - ext4 /dev/vda rw\n`
    expect(messages(raw('rootful', {mountinfo: extra, mountinfoAfter: extra}), ctx('rootful'))).toEqual(['MOUNT_MISMATCH: unplanned mount at /workspace/repo/vendor: a ext4 mount from /root/.ssh'])
  })

  it.each<[string, (m: string) => string, RegExp]>([
    ['a missing planned mount', (m) => m.split('\n').filter((l) => !l.includes(' /workspace/repo/.git/hooks ')).join('\n'), /planned mount \/workspace\/repo\/.git\/hooks is missing/],
    ['a writable ro mount', (m) => m.replace(/ \/workspace\/repo\/.git\/hooks ro,/, ' /workspace/repo/.git/hooks rw,'), /hooks is read-write in the container, planned ro/],
    ['a writable root', (m) => m.replace(/^(\S+ \S+ \S+ \S+ \/ )ro,/m, '$1rw,'), /root file system is writable/],
    ['a host folder at /etc/hosts', (m) => m.replace(/\S+\/userdata\/hosts \/etc\/hosts/, '/home/u/.ssh/known_hosts /etc/hosts'), /unplanned mount at \/etc\/hosts/],
    ['another container’s hosts file', (m) => m.replace(/[0-9a-f]{64}\/userdata\/hosts/, `${'e'.repeat(64)}/userdata/hosts`), /unplanned mount at \/etc\/hosts/],
    ['a host tmpfs dir over the agent home', (m) => m.replace(/ \/ \/home\/agent /, ' /user/1000 /home/agent '), /\/home\/agent is a tmpfs mount from \/user\/1000, planned an empty tmpfs/],
    ['a host dir under /dev', (m) => `${m}998 102 254:0 /home/u/.gnupg /dev/gnupg rw - ext4 /dev/vda rw\n`, /unplanned mount at \/dev\/gnupg/],
    ['an odd init binary', (m) => m.replace('/usr/bin/catatonit /run/podman-init', '/root/.ssh/id_ed25519 /run/podman-init'), /unplanned mount at \/run\/podman-init/],
    ['podman’s read-only /proc paths gone (unmask)', (m) => m.split('\n').filter((l) => !l.includes(' /proc/sys ')).join('\n'), /\/proc\/sys is not read-only/],
    ['a target mounted twice', (m) => `${m}997 105 254:0 ${REPO}/.git/hooks /workspace/repo/.git/hooks ro - ext4 /dev/vda rw\n`, /hooks is mounted 2 times/],
  ])('refuses %s', (_name, edit, problem) => {
    const m = edit(podmanFixture('podman431-container-mountinfo-rootful.txt'))
    expect(messages(raw('rootful', {mountinfo: m, mountinfoAfter: m}), ctx('rootful')).join('\n')).toMatch(problem)
  })

  it('refuses a mount table that changed during the check', () => {
    const after = `${podmanFixture('podman431-container-mountinfo-rootful.txt')}1 1 0:1 / /x rw - tmpfs tmpfs rw\n`
    expect(messages(raw('rootful', {mountinfoAfter: after}), ctx('rootful'))).toEqual(['MOUNT_MISMATCH: the container’s mount table changed while it was being checked'])
  })

  it.each<[string, (s: string) => string, RegExp]>([
    ['an effective capability', (s) => s.replace(/CapEff:\s*0+/, 'CapEff:\t0000000000200000'), /CapEff 0000000000200000/],
    ['a bounding capability', (s) => s.replace(/CapBnd:\s*0+/, 'CapBnd:\t000001ffffffffff'), /CapBnd/],
    ['no no_new_privs', (s) => s.replace(/NoNewPrivs:\s*1/, 'NoNewPrivs:\t0'), /lacks no_new_privs/],
    ['no seccomp under runc', (s) => s.replace(/Seccomp:\s*2/, 'Seccomp:\t0'), /no seccomp filter/],
  ])('refuses a process with %s', (_name, edit, problem) => {
    const status = edit(podmanFixture('podman431-container-status-initialized-rootless.txt'))
    expect(messages(raw('rootless', {status}), ctx('rootless')).join('\n')).toMatch(problem)
  })

  it('crun loads seccomp only after start: the status is not asked, the OCI config must be read', () => {
    const status = podmanFixture('podman431-container-status-initialized-rootless.txt').replace(/Seccomp:\s*2/, 'Seccomp:\t0')
    expect(messages(raw('rootless', {status}), ctx('rootless', {runtime: 'crun'}))).toEqual(['CONTAINER_CONFIG_MISMATCH: the container’s OCI config could not be read'])
    const ociConfig = podmanFixture('podman431-container-oci-config-rootful.json')
    expect(messages(raw('rootless', {status, ociConfig}), ctx('rootless', {runtime: 'crun'}))).toEqual([])
  })

  it('the process’s real user namespace (uid_map as the host sees it) must be the planned one', () => {
    // rootless keep-id: uid 1001 inside is 1001 outside
    const shifted = '         0     100000      65536\n'
    expect(messages(raw('rootless', {uidMap: shifted}), ctx('rootless'))).toEqual([
      'CONTAINER_CONFIG_MISMATCH: uid 1001 in the container is not the user (uid_map 0 100000 65536), planned keep-id',
    ])
    // rootful explicit mapping (rootfulUsernsArgs for a root-owned repo: agent 1000 → 0, root → 1)
    const map = ['0:1:1000', '1000:0:1']
    const rootful = ctx('rootful', {userns: {mode: 'map', uidMap: map, gidMap: map}})
    const asPlanned = '         0          1       1000\n      1000          0          1\n'
    expect(messages(raw('rootful', {uidMap: asPlanned, gidMap: asPlanned}), rootful)).toEqual([])
    expect(messages(raw('rootful'), rootful)).toEqual([
      'CONTAINER_CONFIG_MISMATCH: root in the container is root on the host (uid_map), planned a user namespace',
      'CONTAINER_CONFIG_MISMATCH: the process\'s user namespace maps uids 0 0 4294967295 and gids 0 0 4294967295, planned 0 1 1000, 1000 0 1 and 0 1 1000, 1000 0 1',
    ])
  })

  it('a mount without a pin is refused, not skipped', () => {
    const planned = PLANNED.map((m, i) => (i === 0 ? {...m, pin: undefined} : m))
    expect(messages(raw('rootful'), ctx('rootful', {planned}))).toEqual(['MOUNT_MISMATCH: /workspace/repo has no pin to compare with'])
  })
})

describe('checkOciConfig', () => {
  interface OciConfig {
    process: {noNewPrivileges: boolean; capabilities?: Record<string, string[]>; apparmorProfile?: string}
    linux: {seccomp?: unknown; maskedPaths: string[]}
  }
  const base = JSON.parse(podmanFixture('podman431-container-oci-config-rootful.json')) as OciConfig
  const check = (edit: (c: OciConfig) => void) => {
    const c = structuredClone(base)
    edit(c)
    return checkOciConfig(JSON.stringify(c)).map((p) => p.message)
  }
  it('accepts podman’s config and refuses each weakening', () => {
    expect(checkOciConfig(JSON.stringify(base))).toEqual([])
    expect(check((c) => delete c.linux.seccomp)).toEqual([expect.stringMatching(/no seccomp profile/)])
    expect(check((c) => (c.process.noNewPrivileges = false))).toEqual([expect.stringMatching(/noNewPrivileges/)])
    expect(check((c) => (c.process.capabilities = {bounding: ['CAP_SYS_ADMIN']}))).toEqual([expect.stringMatching(/grants capabilities \(bounding\)/)])
    expect(check((c) => (c.process.apparmorProfile = 'unconfined'))).toEqual([expect.stringMatching(/AppArmor/)])
    expect(check((c) => (c.linux.maskedPaths = []))).toEqual([expect.stringMatching(/does not mask/)])
    expect(checkOciConfig('{')).toEqual([expect.objectContaining({code: 'CONTAINER_CONFIG_MISMATCH'})])
  })
})

/** A /proc that answers for one pid from a table of paths (what the runtime would show). */
function fakeProc(table: Record<string, {kind: 'directory' | 'file' | 'symlink'; dev: number; ino: number} | string>, deny: RegExp | null = null): ProcFs & {reads: string[]} {
  const reads: string[] = []
  const err = (code: string) => Object.assign(new Error(code), {code})
  const get = (p: string) => {
    reads.push(p)
    if (deny?.test(p)) throw err('EACCES')
    const v = table[p]
    if (v === undefined) throw err('ENOENT')
    return v
  }
  return {
    reads,
    async readFile(p) {
      const v = get(p)
      if (typeof v !== 'string') throw err('EISDIR')
      return v
    },
    async lstat(p) {
      const v = get(p)
      if (typeof v === 'string') return {kind: 'file', dev: 1n, ino: 1n}
      return {kind: v.kind, dev: BigInt(v.dev), ino: BigInt(v.ino)}
    },
    async readdir(p) {
      get(p)
      return []
    },
  }
}

describe('readContainerView', () => {
  const table = {
    '/proc/self/mountinfo': 'HOST',
    '/proc/4242/mountinfo': 'MOUNTS',
    '/proc/4242/status': 'STATUS',
    '/proc/4242/uid_map': 'UIDS',
    '/proc/4242/gid_map': 'GIDS',
    '/proc/4242/root/': {kind: 'directory', dev: 1, ino: 2},
    '/proc/4242/root/workspace': {kind: 'directory', dev: 1, ino: 3},
    '/proc/4242/root/workspace/repo': {kind: 'directory', dev: 65024, ino: 2154674},
    '/proc/4242/root/workspace/repo/.git': {kind: 'symlink', dev: 65024, ino: 9},
    '/cfg/config.json': '{}',
  } as const

  it('reads directly: both mount tables, every path component (stopping at a symlink), secrets, status, OCI config', async () => {
    const fs = fakeProc(table)
    const runner = fakeRunner([])
    const view = await readContainerView({pid: 4242, targets: ['/workspace/repo', '/workspace/repo/.git/hooks'], ociConfigPath: '/cfg/config.json', runtime: 'runc', runner, podmanBinary: 'podman', fs})
    expect(view).toMatchObject({via: 'direct', mountinfo: 'MOUNTS', mountinfoAfter: 'MOUNTS', status: 'STATUS', uidMap: 'UIDS', gidMap: 'GIDS', hostMountinfo: 'HOST', ociConfig: '{}', secrets: null})
    expect(view.walks[1]!.steps.map((s) => `${s.path}:${s.kind}`)).toEqual(['/workspace:directory', '/workspace/repo:directory', '/workspace/repo/.git:symlink'])
    expect(view.walks[0]!.steps[1]).toMatchObject({dev: '65024', ino: '2154674'})
    expect(runner.calls).toEqual([])
  })

  it('falls back to podman unshare when the host refuses /proc/<pid>/root, and parses its output', async () => {
    const fs = fakeProc(table, /^\/proc\/4242\/root/)
    const out = ['@mountinfo', 'M1', '@target /workspace/repo', 'directory|99|7', 'directory|65024|2154674', '@target /workspace/repo/.git/hooks', 'directory|99|7', 'directory|65024|2154674', 'symbolic link|65024|9', '@secrets', 'ssh', '@status', 'S', '@uid_map', 'U', '@gid_map', 'G', '@mountinfo-after', 'M1', ''].join('\n')
    const runner = fakeRunner([{match: 'podman unshare sh -c', result: {stdout: out}}])
    const targets = ['/workspace/repo', '/workspace/repo/.git/hooks']
    const view = await readContainerView({pid: 4242, targets, ociConfigPath: null, runtime: 'runc', runner, podmanBinary: 'podman', fs})
    expect([runner.calls[0]!.command, ...runner.calls[0]!.args]).toEqual(buildViewFallbackArgv('podman', 4242, targets))
    expect(view).toMatchObject({via: 'podman-unshare', mountinfo: 'M1\n', mountinfoAfter: 'M1\n', status: 'S\n', secrets: ['ssh'], uidMap: 'U\n', gidMap: 'G\n', hostMountinfo: 'HOST'})
    expect(view.walks[1]!.steps.at(-1)).toEqual({path: '/workspace/repo/.git', kind: 'symlink', dev: '65024', ino: '9'})
  })

  it('the fallback script itself walks and stats like the direct read (run with sh against this process)', async () => {
    const {execFileSync} = await import('node:child_process')
    const argv = buildViewFallbackArgv('podman', process.pid, ['/proc', '/nonexistent/x'])
    const stdout = execFileSync('sh', argv.slice(3), {encoding: 'utf8'})
    const parsed = parseFallbackOutput(stdout, process.pid, ['/proc', '/nonexistent/x'])
    expect(parsed.mountinfo).toBe(parsed.mountinfoAfter)
    expect(parsed.mountinfo).toMatch(/ \/ /)
    expect(parsed.status).toMatch(/^Name:/m)
    expect(parsed.uidMap).toMatch(/^\s*0\s+0\s+4294967295/)
    expect(parsed.walks[0]!.steps).toEqual([expect.objectContaining({path: '/proc', kind: 'directory'})])
    expect(parsed.walks[1]!.steps).toEqual([{path: '/nonexistent', kind: 'missing'}])
  })

  it('reads a rootless OCI config through podman unshare only when the runtime is not runc', async () => {
    const fs = fakeProc(table, /^\/cfg\//)
    const runner = fakeRunner([{match: 'podman unshare cat', result: {stdout: '{"x":1}'}}])
    const base = {pid: 4242, targets: ['/workspace/repo'], ociConfigPath: '/cfg/config.json', runner, podmanBinary: 'podman', fs}
    expect((await readContainerView({...base, runtime: 'runc'})).ociConfig).toBeNull()
    expect(runner.calls).toEqual([])
    expect((await readContainerView({...base, runtime: 'crun'})).ociConfig).toBe('{"x":1}')
    expect(runner.commandLines()).toEqual(['podman unshare cat -- /cfg/config.json'])
  })
})
