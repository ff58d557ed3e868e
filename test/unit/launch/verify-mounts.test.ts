// checkEffectiveConfig over real podman 4.3.1 inspect output of initialized containers
// (test/fixtures/podman/README.md, "Initialized containers"): the plan and nothing more.
import {describe, expect, it} from 'vitest'

import type {LaunchMount} from '../../../src/core/launch/container-spec.js'
import {checkEffectiveConfig, type EffectivePlan} from '../../../src/core/launch/verify-mounts.js'
import type {InspectEntry} from '../../helpers/fake-container.js'
import {podmanFixture} from '../../helpers/fixtures.js'

const REPO = '/tmp/sourceosctl-fixture/repo'
const MOUNTS: LaunchMount[] = [
  {hostSource: REPO, podmanSource: REPO, target: '/workspace/repo', mode: 'rw'},
  {hostSource: `${REPO}/.git/hooks`, podmanSource: `${REPO}/.git/hooks`, target: '/workspace/repo/.git/hooks', mode: 'ro', role: 'git'},
]

function plan(mode: 'rootful' | 'rootless', over: Partial<EffectivePlan> = {}): EffectivePlan {
  return {
    mounts: MOUNTS,
    tmpfs: ['/home/agent'],
    env: [['EDITOR', 'vi'], ['HOME', '/home/agent']],
    imageEnv: ['PATH=/usr/local/bin:/usr/bin:/bin'],
    network: 'none',
    // the rootful capture was made without a user namespace; the rootless one with keep-id as uid 1001
    userns: mode === 'rootless' ? {mode: 'keep-id', uid: 1001} : null,
    ...over,
  }
}

const inspect = (name: string) => podmanFixture(`podman431-container-inspect-initialized-${name}.json`)

/** The rootful capture with one edit applied to its only entry. */
function edited(edit: (entry: InspectEntry) => void, name = 'rootful'): string {
  const parsed = JSON.parse(inspect(name)) as InspectEntry[]
  edit(parsed[0]!)
  return JSON.stringify(parsed)
}

describe('checkEffectiveConfig (real 4.3.1 inspect of initialized containers)', () => {
  it.each(['rootful', 'rootless'] as const)('accepts the planned container (%s) and reports its pid, id and runtime', (mode) => {
    const r = checkEffectiveConfig(inspect(mode), plan(mode))
    expect(r.problems).toEqual([])
    expect(r.status).toBe('initialized')
    expect(r.pid).toBeGreaterThan(0)
    expect(r.id).toMatch(/^[0-9a-f]{64}$/)
    expect(r.runtime).toBe('runc')
    expect(r.ociConfigPath).toMatch(/userdata\/config\.json$/)
    expect(r.mounts.map((m) => m.destination)).toEqual(['/workspace/repo', '/workspace/repo/.git/hooks'])
  })

  it('refuses what a hostile containers.conf adds: env, a device, a volume — and never echoes the values', () => {
    const r = checkEffectiveConfig(inspect('containers-conf'), plan('rootful'))
    const text = r.problems.map((p) => `${p.code}: ${p.message}`).join('\n')
    expect(text).toMatch(/CONTAINER_CONFIG_MISMATCH: .*variables the plan does not: LEAK/)
    expect(text).toMatch(/CONTAINER_CONFIG_MISMATCH: .*devices: \/dev\/fuse/)
    expect(text).toMatch(/MOUNT_MISMATCH: unexpected bind mount at \/run\/x/)
    expect(text).not.toContain('from-containers-conf')
  })

  it('a mounts.conf copy does not show in inspect (the mountinfo check catches it)', () => {
    expect(checkEffectiveConfig(inspect('mounts-conf'), plan('rootless')).problems).toEqual([])
  })

  it.each<[string, (e: InspectEntry) => void, RegExp]>([
    ['a recursive bind', (e) => (e.Mounts[0]!.Options = ['rbind']), /bound recursively/],
    ['shared propagation', (e) => (e.Mounts[0]!.Propagation = 'rshared'), /rshared propagation/],
    ['a changed source', (e) => (e.Mounts[0]!.Source = '/root/.ssh'), /comes from \/root\/.ssh, planned/],
    ['a writable ro mount', (e) => (e.Mounts[1]!.RW = true), /hooks is read-write, planned ro/],
    ['a missing mount', (e) => void e.Mounts.pop(), /planned mount \/workspace\/repo\/.git\/hooks is missing/],
    ['an image volume', (e) => void e.Mounts.push({Type: 'volume', Source: '/var/lib/containers/storage/volumes/x/_data', Destination: '/data', RW: true}), /unexpected volume mount at \/data/],
    ['an extra tmpfs', (e) => (e.HostConfig.Tmpfs['/root'] = 'rw'), /unexpected tmpfs at \/root/],
    ['a missing agent home', (e) => delete e.HostConfig.Tmpfs['/home/agent'], /planned tmpfs \/home\/agent is missing/],
    ['a changed planned variable', (e) => (e.Config.Env = e.Config.Env.map((v) => (v.startsWith('HOME=') ? 'HOME=/root' : v))), /changes planned variables: HOME/],
    ['a missing planned variable', (e) => (e.Config.Env = e.Config.Env.filter((v) => !v.startsWith('EDITOR='))), /missing from the container: EDITOR/],
    ['a PATH the image does not set', (e) => void e.Config.Env.push('PATH=/tmp/evil:/usr/bin'), /variables the plan does not: PATH/],
    ['a TERM that is not podman’s', (e) => (e.Config.Env = e.Config.Env.map((v) => (v.startsWith('TERM=') ? 'TERM=$(evil)' : v))), /variables the plan does not: TERM/],
    ['effective capabilities', (e) => (e.EffectiveCaps = ['CAP_SYS_ADMIN']), /capabilities: CAP_SYS_ADMIN/],
    ['bounding capabilities', (e) => (e.BoundingCaps = ['CAP_NET_RAW']), /capabilities: CAP_NET_RAW/],
    ['an added capability', (e) => (e.HostConfig.CapAdd = ['CAP_CHOWN']), /capabilities: CAP_CHOWN/],
    ['privileged', (e) => (e.HostConfig.Privileged = true), /privileged/],
    ['a writable root', (e) => (e.HostConfig.ReadonlyRootfs = false), /root file system is writable/],
    ['no no-new-privileges', (e) => (e.HostConfig.SecurityOpt = []), /no-new-privileges is not set/],
    ['seccomp=unconfined', (e) => void e.HostConfig.SecurityOpt.push('seccomp=unconfined'), /switch protections off: seccomp=unconfined/],
    ['label=disable', (e) => void e.HostConfig.SecurityOpt.push('label=disable'), /label=disable/],
    ['apparmor=unconfined', (e) => void e.HostConfig.SecurityOpt.push('apparmor=unconfined'), /apparmor=unconfined/],
    ['unmask=ALL', (e) => void e.HostConfig.SecurityOpt.push('unmask=ALL'), /unmask=ALL/],
    ['the host network', (e) => (e.HostConfig.NetworkMode = 'host'), /network mode is host, planned none/],
    ['the host pid namespace', (e) => (e.HostConfig.PidMode = 'host'), /pid namespace is host/],
    ['the host ipc namespace', (e) => (e.HostConfig.IpcMode = 'host'), /ipc namespace is host/],
    ['another container’s uts namespace', (e) => (e.HostConfig.UTSMode = 'container:abc'), /uts namespace is container:abc/],
  ])('refuses %s', (_name, edit, problem) => {
    const r = checkEffectiveConfig(edited(edit), plan('rootful'))
    expect(r.problems.map((p) => p.message).join('; ')).toMatch(problem)
  })

  it('network open: only the run’s own link-local guard’s namespace, by its ID; allowlist: only the run’s network', () => {
    const guard = 'a'.repeat(64)
    const openPlan = plan('rootful', {network: 'open', guardContainerId: guard})
    expect(checkEffectiveConfig(edited((e) => (e.HostConfig.NetworkMode = `container:${guard}`)), openPlan).problems).toEqual([])
    for (const mode of ['bridge', 'host', `container:${'b'.repeat(64)}`]) {
      expect(checkEffectiveConfig(edited((e) => (e.HostConfig.NetworkMode = mode)), openPlan).problems.map((p) => p.message).join()).toMatch(/planned the link-local guard.s namespace/)
    }
    const allowPlan = plan('rootful', {network: 'allowlist', egressNetwork: 'sourceos-egress-x'})
    const on = (nets: string[]) => edited((e) => {
      e.HostConfig.NetworkMode = 'bridge'
      ;(e as unknown as {NetworkSettings: unknown}).NetworkSettings = {Networks: Object.fromEntries(nets.map((n) => [n, {}]))}
    })
    expect(checkEffectiveConfig(on(['sourceos-egress-x']), allowPlan).problems).toEqual([])
    expect(checkEffectiveConfig(on(['sourceos-egress-x', 'podman']), allowPlan).problems.map((p) => p.message).join()).toMatch(/on the networks \[podman, sourceos-egress-x\], planned only sourceos-egress-x/)
    expect(checkEffectiveConfig(on(['podman']), allowPlan).problems.map((p) => p.message).join()).toMatch(/planned only sourceos-egress-x/)
  })

  it('rootless keep-id must map the user to itself', () => {
    const broken = edited((e) => (e.HostConfig.IDMappings!.UidMap = ['0:1:65536']), 'rootless')
    expect(checkEffectiveConfig(broken, plan('rootless')).problems.map((p) => p.message).join()).toMatch(/does not keep uid 1001/)
    const hostNs = edited((e) => (e.HostConfig.UsernsMode = 'host'), 'rootless')
    expect(checkEffectiveConfig(hostNs, plan('rootless')).problems.map((p) => p.message).join()).toMatch(/user namespace is host, planned keep-id/)
  })

  it('a rootful user namespace, when planned, is exactly the planned mapping, and container root is never host root', () => {
    const map = ['0:1:1000', '1000:0:1'] // rootfulUsernsArgs for a repo owned by root: the agent (1000) is the owner, root is uid 1
    const planned = plan('rootful', {userns: {mode: 'map', uidMap: map, gidMap: map}})
    expect(checkEffectiveConfig(inspect('rootful'), planned).problems.map((p) => p.message).join()).toMatch(/maps uids none .* planned 0:1:1000 1000:0:1/)
    const mapped = edited((e) => (e.HostConfig.IDMappings = {UidMap: ['1000:0:1', '0:1:1000'], GidMap: map}))
    expect(checkEffectiveConfig(mapped, planned).problems).toEqual([])
    const other = edited((e) => (e.HostConfig.IDMappings = {UidMap: ['0:100000:65536'], GidMap: ['0:100000:65536']}))
    expect(checkEffectiveConfig(other, planned).problems.map((p) => p.message).join()).toMatch(/maps uids 0:100000:65536/)
    const rootIsRoot = ['0:0:1', '1:1:1000']
    const leaky = edited((e) => (e.HostConfig.IDMappings = {UidMap: rootIsRoot, GidMap: rootIsRoot}))
    expect(checkEffectiveConfig(leaky, plan('rootful', {userns: {mode: 'map', uidMap: rootIsRoot, gidMap: rootIsRoot}})).problems.map((p) => p.message).join()).toMatch(/root in the container is root on the host/)
  })

  it('the image’s own env and podman’s default PATH are allowed; TERM from the plan wins', () => {
    const withImage = edited((e) => void e.Config.Env.push('LANG=C.UTF-8'))
    expect(checkEffectiveConfig(withImage, plan('rootful', {imageEnv: ['PATH=/usr/local/bin:/usr/bin:/bin', 'LANG=C.UTF-8']})).problems).toEqual([])
    const defaultPath = edited((e) => (e.Config.Env = e.Config.Env.map((v) => (v.startsWith('PATH=') ? 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' : v))))
    expect(checkEffectiveConfig(defaultPath, plan('rootful', {imageEnv: []})).problems).toEqual([])
    const term = edited((e) => (e.Config.Env = e.Config.Env.map((v) => (v.startsWith('TERM=') ? 'TERM=screen-256color' : v))))
    expect(checkEffectiveConfig(term, plan('rootful', {env: [['EDITOR', 'vi'], ['HOME', '/home/agent'], ['TERM', 'screen-256color']]})).problems).toEqual([])
  })

  it('unreadable output is a mismatch, not a pass', () => {
    expect(checkEffectiveConfig('not json', plan('rootful')).problems[0]?.code).toBe('MOUNT_MISMATCH')
    expect(checkEffectiveConfig('[]', plan('rootful')).problems).toHaveLength(1)
  })
})
