// What the check of the initialized container (checkEffectiveConfig) accepts and refuses beyond the
// cases in verify-mounts.test.ts: each variant of a weakened container that podman (or a hostile
// containers.conf) could hand back, next to the harmless variant it must still accept, so a check that
// became too strict or too lax fails here. Over the real podman 4.3.1 inspect captures.
import {describe, expect, it} from 'vitest'

import type {LaunchMount} from '../../../src/core/launch/container-spec.js'
import {checkEffectiveConfig, hostIdOf, type EffectivePlan} from '../../../src/core/launch/verify-mounts.js'
import type {InspectEntry} from '../../helpers/fake-container.js'
import {podmanFixture} from '../../helpers/fixtures.js'

const REPO = '/tmp/sourceosctl-fixture/repo'
const MOUNTS: LaunchMount[] = [
  {hostSource: REPO, podmanSource: REPO, target: '/workspace/repo', mode: 'rw'},
  {hostSource: `${REPO}/.git/hooks`, podmanSource: `${REPO}/.git/hooks`, target: '/workspace/repo/.git/hooks', mode: 'ro', role: 'git'},
]
const GUARD = 'a'.repeat(64)

function plan(over: Partial<EffectivePlan> = {}): EffectivePlan {
  return {
    mounts: MOUNTS,
    tmpfs: ['/home/agent'],
    env: [['EDITOR', 'vi'], ['HOME', '/home/agent']],
    imageEnv: ['PATH=/usr/local/bin:/usr/bin:/bin'],
    network: 'none',
    userns: null,
    ...over,
  }
}

/** A capture (rootful: no user namespace; rootless: keep-id as uid 1001) with one edit applied. */
function edited(edit: (entry: InspectEntry) => void, name: 'rootful' | 'rootless' = 'rootful'): string {
  const parsed = JSON.parse(podmanFixture(`podman431-container-inspect-initialized-${name}.json`)) as InspectEntry[]
  edit(parsed[0]!)
  return JSON.stringify(parsed)
}

const problems = (inspect: string, p: EffectivePlan = plan()) => checkEffectiveConfig(inspect, p).problems.map((x) => `${x.code}: ${x.message}`)
const accepted = (inspect: string, p: EffectivePlan = plan()) => expect(problems(inspect, p)).toEqual([])

describe('mounts', () => {
  it('a mount whose RW field is missing counts as writable: refused where the plan says ro, accepted where it says rw', () => {
    expect(problems(edited((e) => delete (e.Mounts[1] as {RW?: boolean}).RW))).toEqual(['MOUNT_MISMATCH: /workspace/repo/.git/hooks is read-write, planned ro'])
    accepted(edited((e) => delete (e.Mounts[0] as {RW?: boolean}).RW))
  })

  it('a read-only mount where the plan says rw is refused too (the agent could not write its checkout)', () => {
    expect(problems(edited((e) => (e.Mounts[0]!.RW = false)))).toEqual(['MOUNT_MISMATCH: /workspace/repo is read-only, planned rw'])
  })

  it('a planned bind that arrives as another kind of mount (a volume, a tmpfs) is refused, even from the planned source', () => {
    expect(problems(edited((e) => (e.Mounts[0]!.Type = 'volume')))).toEqual(['MOUNT_MISMATCH: /workspace/repo is a volume mount, planned a bind'])
    expect(problems(edited((e) => (e.Mounts[1]!.Type = 'tmpfs')))).toEqual(['MOUNT_MISMATCH: /workspace/repo/.git/hooks is a tmpfs mount, planned a bind'])
  })

  it('a tmpfs at a target the plan does not name is refused; the agent home tmpfs may show in Mounts instead of HostConfig.Tmpfs', () => {
    expect(problems(edited((e) => void e.Mounts.push({Type: 'tmpfs', Source: 'tmpfs', Destination: '/root', RW: true})))).toEqual(['MOUNT_MISMATCH: unexpected tmpfs mount at /root (source tmpfs)'])
    accepted(
      edited((e) => {
        delete e.HostConfig.Tmpfs['/home/agent']
        e.Mounts.push({Type: 'tmpfs', Source: 'tmpfs', Destination: '/home/agent', RW: true})
      }),
    )
  })

  it('podman’s own tmpfs for a read-only root (/run, /tmp, /var/tmp) is accepted, any other is not', () => {
    accepted(edited((e) => (e.HostConfig.Tmpfs = {'/home/agent': 'rw', '/run': 'rw', '/tmp': 'rw', '/var/tmp': 'rw'})))
    expect(problems(edited((e) => (e.HostConfig.Tmpfs['/dev/shm'] = 'rw')))).toEqual(['MOUNT_MISMATCH: unexpected tmpfs at /dev/shm'])
  })

  it('propagation: private and rprivate are accepted; shared, rshared, slave and rslave are refused', () => {
    for (const p of ['private', 'rprivate', '']) accepted(edited((e) => (e.Mounts[0]!.Propagation = p)))
    for (const p of ['shared', 'rshared', 'slave', 'rslave']) expect(problems(edited((e) => (e.Mounts[0]!.Propagation = p)))).toEqual([`MOUNT_MISMATCH: /workspace/repo has ${p} propagation, planned private`])
  })

  it('a bind without options is non-recursive; only rbind is refused', () => {
    accepted(edited((e) => delete e.Mounts[0]!.Options))
    accepted(edited((e) => (e.Mounts[0]!.Options = ['bind', 'nosuid'])))
    expect(problems(edited((e) => (e.Mounts[0]!.Options = ['nosuid', 'rbind'])))).toEqual(['MOUNT_MISMATCH: /workspace/repo is bound recursively, planned non-recursive'])
  })

  it('every missing planned mount is named, not only the first', () => {
    expect(problems(edited((e) => (e.Mounts = [])))).toEqual(['MOUNT_MISMATCH: planned mount /workspace/repo is missing', 'MOUNT_MISMATCH: planned mount /workspace/repo/.git/hooks is missing'])
  })

  describe('named volumes (the tools’ home state)', () => {
    const VOL = {name: 'sourceos-tool-state-claude', target: '/home/agent/.claude'}
    const volumeMount = (over: Partial<{Type: string; Name: string; Source: string}> = {}) =>
      (e: InspectEntry) => void e.Mounts.push({Type: 'volume', Name: VOL.name, Source: '/var/lib/containers/storage/volumes/x/_data', Destination: VOL.target, RW: true, ...over} as InspectEntry['Mounts'][number])

    it('the planned volume at its target is accepted', () => {
      accepted(edited(volumeMount()), plan({volumes: [VOL]}))
    })

    it('another volume, or a bind, at the volume’s target is refused; a planned volume that is absent is missing', () => {
      expect(problems(edited(volumeMount({Name: 'someone-elses'})), plan({volumes: [VOL]}))).toEqual([`MOUNT_MISMATCH: ${VOL.target} is a volume mount of someone-elses, planned the volume ${VOL.name}`])
      expect(problems(edited(volumeMount({Type: 'bind', Name: '', Source: '/root/.claude'})), plan({volumes: [VOL]}))).toEqual([`MOUNT_MISMATCH: ${VOL.target} is a bind mount of /root/.claude, planned the volume ${VOL.name}`])
      expect(problems(edited(() => {}), plan({volumes: [VOL]}))).toEqual([`MOUNT_MISMATCH: planned mount ${VOL.target} is missing`])
    })

    it('a volume the plan does not name is refused', () => {
      expect(problems(edited(volumeMount()))).toEqual([`MOUNT_MISMATCH: unexpected volume mount at ${VOL.target} (source /var/lib/containers/storage/volumes/x/_data)`])
    })
  })
})

describe('environment', () => {
  const withEnv = (map: (env: string[]) => string[]) => edited((e) => (e.Config.Env = map(e.Config.Env)))

  it('HOSTNAME is accepted only with the container’s own hostname, container only as podman', () => {
    expect(problems(withEnv((env) => env.map((v) => (v.startsWith('HOSTNAME=') ? 'HOSTNAME=evil' : v))))).toEqual([
      'CONTAINER_CONFIG_MISMATCH: the container’s environment has variables the plan does not: HOSTNAME (a containers.conf env entry?)',
    ])
    expect(problems(withEnv((env) => env.map((v) => (v === 'container=podman' ? 'container=docker' : v))))).toEqual([
      'CONTAINER_CONFIG_MISMATCH: the container’s environment has variables the plan does not: container (a containers.conf env entry?)',
    ])
  })

  it('an image variable is accepted only with the image’s own value', () => {
    const lang = withEnv((env) => [...env, 'LANG=C'])
    expect(problems(lang, plan({imageEnv: ['PATH=/usr/local/bin:/usr/bin:/bin', 'LANG=C.UTF-8']}))).toEqual([
      'CONTAINER_CONFIG_MISMATCH: the container’s environment has variables the plan does not: LANG (a containers.conf env entry?)',
    ])
  })

  it('a variable without "=" is a variable the plan does not have; a planned empty value matches "NAME="', () => {
    expect(problems(withEnv((env) => [...env, 'LD_PRELOAD']))).toEqual([
      'CONTAINER_CONFIG_MISMATCH: the container’s environment has variables the plan does not: LD_PRELOAD (a containers.conf env entry?)',
    ])
    accepted(withEnv((env) => [...env, 'EMPTY=']), plan({env: [['EDITOR', 'vi'], ['HOME', '/home/agent'], ['EMPTY', '']]}))
    expect(problems(withEnv((env) => [...env, 'EMPTY=x']), plan({env: [['EDITOR', 'vi'], ['HOME', '/home/agent'], ['EMPTY', '']]}))).toEqual([
      'CONTAINER_CONFIG_MISMATCH: the container’s environment changes planned variables: EMPTY',
    ])
  })

  it('a value holding "=" is compared whole', () => {
    accepted(withEnv((env) => [...env, 'OPTS=a=b']), plan({env: [['EDITOR', 'vi'], ['HOME', '/home/agent'], ['OPTS', 'a=b']]}))
  })

  it('several extra variables are all named, and a missing planned one is named', () => {
    expect(problems(withEnv((env) => [...env.filter((v) => !v.startsWith('HOME=')), 'A=1', 'B=2']))).toEqual([
      'CONTAINER_CONFIG_MISMATCH: the container’s environment has variables the plan does not: A, B (a containers.conf env entry?)',
      'CONTAINER_CONFIG_MISMATCH: planned variables are missing from the container: HOME',
    ])
  })
})

describe('privileges', () => {
  it('no-new-privileges is accepted as written by podman (plain, :true, =true), not when false or only part of a name', () => {
    for (const o of ['no-new-privileges', 'no-new-privileges:true', 'no-new-privileges=true']) accepted(edited((e) => (e.HostConfig.SecurityOpt = [o])))
    for (const o of ['no-new-privileges=false', 'no-new-privileges:false', 'xno-new-privileges', 'no-new-privileges-not']) {
      expect(problems(edited((e) => (e.HostConfig.SecurityOpt = [o])))).toEqual(['CONTAINER_CONFIG_MISMATCH: no-new-privileges is not set'])
    }
    expect(problems(edited((e) => delete (e.HostConfig as {SecurityOpt?: string[]}).SecurityOpt))).toEqual(['CONTAINER_CONFIG_MISMATCH: no-new-privileges is not set'])
  })

  it.each(['seccomp:unconfined', 'label:disable', 'label=type:spc_t', 'label:type:spc_t', 'apparmor:unconfined', 'unmask:/proc/kcore', 'systempaths=unconfined', 'systempaths:unconfined', 'privileged'])(
    'the security option %s switches a protection off and is refused',
    (opt) => {
      expect(problems(edited((e) => void e.HostConfig.SecurityOpt.push(opt)))).toEqual([`CONTAINER_CONFIG_MISMATCH: security options switch protections off: ${opt}`])
    },
  )

  it('security options that keep protections on are accepted (a seccomp profile, an SELinux level, a named AppArmor profile)', () => {
    accepted(edited((e) => void e.HostConfig.SecurityOpt.push('seccomp=/etc/containers/seccomp.json', 'label=level:s0:c1,c2', 'apparmor=containers-default-0.50', 'mask=/proc/acpi')))
  })

  it('a protection-off option is matched whole: a profile merely named like one, or a longer word, is not it', () => {
    for (const o of ['seccomp=unconfined.json', 'seccomp=/p/unconfined', 'label=disabled-not', 'label=type:spc_t_confined', 'apparmor=unconfined-profile', 'systempaths=unconfinedx', 'xseccomp=unconfined', 'xlabel=disable', 'xapparmor=unconfined', 'xunmask=ALL', 'xsystempaths=unconfined', 'notprivileged', 'seccompXunconfined', 'labelXdisable', 'apparmorXunconfined', 'unmaskXALL', 'systempathsXunconfined', 'label=typeXspc_t']) {
      expect(problems(edited((e) => void e.HostConfig.SecurityOpt.push(o))), o).toEqual([])
    }
    for (const o of ['no-new-privilegesXtrue', 'no-new-privileges=truex']) {
      expect(problems(edited((e) => (e.HostConfig.SecurityOpt = [o]))), o).toEqual(['CONTAINER_CONFIG_MISMATCH: no-new-privileges is not set'])
    }
  })

  it('capabilities from all three sources are named once each', () => {
    expect(problems(edited((e) => {
      e.EffectiveCaps = ['CAP_SYS_ADMIN', 'CAP_NET_RAW']
      e.BoundingCaps = ['CAP_SYS_ADMIN']
      e.HostConfig.CapAdd = ['CAP_CHOWN']
    }))).toEqual(['CONTAINER_CONFIG_MISMATCH: the container gets capabilities: CAP_SYS_ADMIN, CAP_NET_RAW, CAP_CHOWN'])
  })

  it('a device is named by its path in the container, else on the host', () => {
    expect(problems(edited((e) => (e.HostConfig.Devices = [{PathOnHost: '/dev/kvm'} as {PathOnHost: string; PathInContainer: string}, {PathOnHost: '/dev/a', PathInContainer: '/dev/b'}])))).toEqual([
      'CONTAINER_CONFIG_MISMATCH: the container gets devices: /dev/kvm, /dev/b',
    ])
  })

  it('a root file system that is not reported writable, and an unprivileged container, pass', () => {
    accepted(edited((e) => delete (e.HostConfig as {Privileged?: boolean}).Privileged))
    accepted(edited((e) => (e.HostConfig.Privileged = false)))
    expect(problems(edited((e) => (e.HostConfig.Privileged = true)))).toEqual(['CONTAINER_CONFIG_MISMATCH: the container is privileged'])
  })
})

describe('namespaces', () => {
  it('network none: any other mode, podman’s default bridge included, is refused', () => {
    for (const mode of ['bridge', 'slirp4netns', '']) {
      expect(problems(edited((e) => (e.HostConfig.NetworkMode = mode)))).toEqual([`CONTAINER_CONFIG_MISMATCH: network mode is ${mode || 'unknown'}, planned none`])
    }
  })

  it('network open without a guard: a private network is accepted; the host’s or another container’s namespace is refused', () => {
    for (const mode of ['bridge', 'slirp4netns', 'pasta']) accepted(edited((e) => (e.HostConfig.NetworkMode = mode)), plan({network: 'open'}))
    for (const mode of ['host', 'container:abc', 'ns:/proc/1/ns/net']) {
      expect(problems(edited((e) => (e.HostConfig.NetworkMode = mode)), plan({network: 'open'}))).toEqual([`CONTAINER_CONFIG_MISMATCH: network mode is ${mode}, planned open`])
    }
  })

  it('network open with the guard: a missing network mode is named unknown, and the guard by its short ID', () => {
    expect(problems(edited((e) => (e.HostConfig.NetworkMode = '')), plan({network: 'open', guardContainerId: GUARD}))).toEqual([
      `CONTAINER_CONFIG_MISMATCH: network mode is unknown, planned the link-local guard's namespace (container:${'a'.repeat(12)})`,
    ])
  })

  it('allowlist with a shared pool’s network holder: the holder’s namespace (by ID) on its one network is accepted; another container’s is refused, naming the holder', () => {
    const holder = plan({network: 'allowlist', egressNetwork: 'sourceos-egress.k.0', guardContainerId: GUARD})
    const joined = (mode: string) => edited((e) => {
      e.HostConfig.NetworkMode = mode
      ;(e as unknown as {NetworkSettings: {Networks: Record<string, unknown>}}).NetworkSettings = {Networks: {'sourceos-egress.k.0': {}}}
    })
    accepted(joined(`container:${GUARD}`), holder)
    expect(problems(joined(`container:${'b'.repeat(64)}`), holder)).toEqual([`CONTAINER_CONFIG_MISMATCH: network mode is container:${'b'.repeat(64)}, planned the egress network holder's namespace (container:${'a'.repeat(12)})`])
  })

  it('allowlist: a container on no network at all, or on the host’s, is refused', () => {
    const allow = plan({network: 'allowlist', egressNetwork: 'sourceos-egress-x'})
    expect(problems(edited((e) => (e.HostConfig.NetworkMode = 'bridge')), allow)).toEqual(['CONTAINER_CONFIG_MISMATCH: the container is on the networks [], planned only sourceos-egress-x'])
    expect(problems(edited((e) => (e.HostConfig.NetworkMode = 'host')), allow)).toContain('CONTAINER_CONFIG_MISMATCH: network mode is host, planned allowlist')
    expect(problems(edited((e) => (e.HostConfig.NetworkMode = 'bridge')), plan({network: 'allowlist'}))).toEqual(['CONTAINER_CONFIG_MISMATCH: the container is on the networks [], planned only (none)'])
  })

  it.each(['PidMode', 'IpcMode', 'UTSMode'] as const)('%s: private is accepted; the host’s, another container’s or a path namespace is refused', (field) => {
    const what = {PidMode: 'pid', IpcMode: 'ipc', UTSMode: 'uts'}[field]
    accepted(edited((e) => (e.HostConfig[field] = 'private')))
    for (const mode of ['host', 'container:abc', 'ns:/proc/1/ns/x']) {
      expect(problems(edited((e) => (e.HostConfig[field] = mode)))).toEqual([`CONTAINER_CONFIG_MISMATCH: the ${what} namespace is ${mode}, planned private`])
    }
  })

  describe('user namespace', () => {
    const keepId = plan({userns: {mode: 'keep-id', uid: 1001}})

    it('rootless with the link-local guard: the guard’s own user namespace (by ID) is the planned one, another container’s is not', () => {
      const openKeepId = {...keepId, network: 'open' as const, guardContainerId: GUARD}
      accepted(edited((e) => {
        e.HostConfig.UsernsMode = `container:${GUARD}`
        e.HostConfig.NetworkMode = `container:${GUARD}`
      }, 'rootless'), openKeepId)
      expect(problems(edited((e) => {
        e.HostConfig.UsernsMode = `container:${'b'.repeat(64)}`
        e.HostConfig.NetworkMode = `container:${GUARD}`
      }, 'rootless'), openKeepId)).toEqual([`CONTAINER_CONFIG_MISMATCH: the user namespace is container:${'b'.repeat(64)}, planned keep-id`])
      // without a guard in the plan, a container: user namespace is never the planned one
      expect(problems(edited((e) => (e.HostConfig.UsernsMode = `container:${GUARD}`), 'rootless'), keepId)).toEqual([`CONTAINER_CONFIG_MISMATCH: the user namespace is container:${GUARD}, planned keep-id`])
      expect(problems(edited((e) => (e.HostConfig.UsernsMode = 'ns:/proc/1/ns/user'), 'rootless'), keepId)).toEqual(['CONTAINER_CONFIG_MISMATCH: the user namespace is ns:/proc/1/ns/user, planned keep-id'])
    })

    it('keep-id needs the exact line that maps the user to itself (uid:0:1), not a range that happens to hold it', () => {
      accepted(edited(() => {}, 'rootless'), keepId)
      expect(problems(edited((e) => (e.HostConfig.IDMappings!.UidMap = ['0:1:1001', '1001:0:2', '1003:1003:64533']), 'rootless'), keepId)).toEqual([
        'CONTAINER_CONFIG_MISMATCH: the user namespace does not keep uid 1001 (keep-id)',
      ])
      expect(problems(edited((e) => (e.HostConfig.IDMappings = null), 'rootless'), keepId)).toEqual(['CONTAINER_CONFIG_MISMATCH: the user namespace does not keep uid 1001 (keep-id)'])
    })

    it('no planned user namespace: none is checked (a rootful container that mounts nothing)', () => {
      accepted(edited((e) => (e.HostConfig.IDMappings = {UidMap: ['0:0:4294967295'], GidMap: ['0:0:4294967295']})))
    })

    it('a rootful map: a mapping with one line more, or a gid map that differs, is refused; container root mapped to host root by a range is refused', () => {
      const map = ['0:1:1000', '1000:0:1']
      const planned = plan({userns: {mode: 'map', uidMap: map, gidMap: map}})
      expect(problems(edited((e) => (e.HostConfig.IDMappings = {UidMap: [...map, '1001:1001:1'], GidMap: map})), planned)).toEqual([
        'CONTAINER_CONFIG_MISMATCH: the user namespace maps uids 0:1:1000 1000:0:1 1001:1001:1 and gids 0:1:1000 1000:0:1, planned 0:1:1000 1000:0:1 and 0:1:1000 1000:0:1',
      ])
      expect(problems(edited((e) => (e.HostConfig.IDMappings = {UidMap: map, GidMap: ['0:1:1000']})), planned)).toEqual([
        'CONTAINER_CONFIG_MISMATCH: the user namespace maps uids 0:1:1000 1000:0:1 and gids 0:1:1000, planned 0:1:1000 1000:0:1 and 0:1:1000 1000:0:1',
      ])
      const rootRange = ['0:0:65536']
      expect(problems(edited((e) => (e.HostConfig.IDMappings = {UidMap: rootRange, GidMap: rootRange})), plan({userns: {mode: 'map', uidMap: rootRange, gidMap: rootRange}}))).toEqual([
        'CONTAINER_CONFIG_MISMATCH: root in the container is root on the host, planned a user namespace',
      ])
    })

    it('a rootful map that is empty on both sides is root on the host, not a match', () => {
      expect(problems(edited((e) => (e.HostConfig.IDMappings = {UidMap: [], GidMap: []})), plan({userns: {mode: 'map', uidMap: [], gidMap: []}}))).toEqual([
        'CONTAINER_CONFIG_MISMATCH: root in the container is root on the host, planned a user namespace',
      ])
    })
  })
})

describe('what the check reports about the container', () => {
  it('without a state or an OCI config path: pid 0, no status, no config path (nothing to look into)', () => {
    const r = checkEffectiveConfig(edited((e) => {
      delete (e as {State?: unknown}).State
      e.OCIConfigPath = ''
    }), plan())
    expect(r).toMatchObject({pid: 0, status: '', ociConfigPath: null})
  })

  it('unreadable output: a mismatch with nothing to look into, whatever is wrong with it', () => {
    for (const bad of ['not json', '[]', '{}', '[{"Mounts": "x"}]']) {
      const r = checkEffectiveConfig(bad, plan())
      expect(r).toEqual({problems: [{code: 'MOUNT_MISMATCH', message: expect.stringMatching(/^cannot read podman container inspect output: /)}], mounts: [], id: '', pid: 0, status: '', runtime: '', ociConfigPath: null})
    }
  })

  it('reports the mounts as inspect shows them: type, source, destination, rw', () => {
    expect(checkEffectiveConfig(edited(() => {}), plan()).mounts).toEqual([
      {type: 'bind', source: REPO, destination: '/workspace/repo', rw: true},
      {type: 'bind', source: `${REPO}/.git/hooks`, destination: '/workspace/repo/.git/hooks', rw: false},
    ])
  })
})

describe('hostIdOf (uid_map / inspect lines)', () => {
  it('finds the host id inside a range, at its first and last id, in both line formats; null outside every range', () => {
    const lines = ['0:100000:1000', '1000 5000 1', '1001:101001:64535']
    expect(hostIdOf(lines, 0)).toBe(100000)
    expect(hostIdOf(lines, 999)).toBe(100999)
    expect(hostIdOf(lines, 1000)).toBe(5000)
    expect(hostIdOf(lines, 1001)).toBe(101001)
    expect(hostIdOf(lines, 1500)).toBe(101500)
    expect(hostIdOf(lines, 65535)).toBe(165535)
    expect(hostIdOf(lines, 65536)).toBeNull()
    expect(hostIdOf(['  0   1000   1  '], 0)).toBe(1000)
    expect(hostIdOf([], 0)).toBeNull()
  })

  it('skips a line that is not three numbers', () => {
    expect(hostIdOf(['garbage', '0:7'], 0)).toBeNull()
    expect(hostIdOf(['0:7', '0:42:1'], 0)).toBe(42)
  })
})

describe('inspect output with fields missing or of the wrong kind', () => {
  it('a field of the wrong type anywhere the check reads is unreadable output, not a pass', () => {
    const wrong: Array<(e: InspectEntry) => void> = [
      (e) => ((e.HostConfig as unknown as Record<string, unknown>).Privileged = 'yes'),
      (e) => ((e.HostConfig as unknown as Record<string, unknown>).NetworkMode = 5),
      (e) => ((e.HostConfig as unknown as Record<string, unknown>).Devices = [{PathInContainer: 5}]),
      (e) => ((e.HostConfig as unknown as Record<string, unknown>).IDMappings = {UidMap: '0:1:1', GidMap: []}),
      (e) => ((e.Config as unknown as Record<string, unknown>).Env = 'PATH=/x'),
      (e) => ((e.Config as unknown as Record<string, unknown>).Hostname = 7),
      (e) => ((e as unknown as Record<string, unknown>).NetworkSettings = {Networks: 'podman'}),
      (e) => ((e as unknown as Record<string, unknown>).State = {Status: 1, Pid: 2}),
    ]
    for (const edit of wrong) {
      const p = problems(edited(edit))
      expect(p).toHaveLength(1)
      expect(p[0]).toMatch(/^MOUNT_MISMATCH: cannot read podman container inspect output: /)
    }
  })

  it('without Config: every planned variable is missing, nothing else is assumed', () => {
    expect(problems(edited((e) => delete (e as {Config?: unknown}).Config))).toEqual(['CONTAINER_CONFIG_MISMATCH: planned variables are missing from the container: EDITOR, HOME'])
  })

  it('without a hostname in Config: only an empty HOSTNAME counts as podman’s own', () => {
    const noHostname = (value: string) => edited((e) => {
      delete (e.Config as {Hostname?: string}).Hostname
      e.Config.Env = e.Config.Env.map((v) => (v.startsWith('HOSTNAME=') ? `HOSTNAME=${value}` : v))
    })
    accepted(noHostname(''))
    expect(problems(noHostname('box'))).toEqual(['CONTAINER_CONFIG_MISMATCH: the container’s environment has variables the plan does not: HOSTNAME (a containers.conf env entry?)'])
  })

  it('without Devices, capabilities or CapAdd lists: nothing is granted', () => {
    accepted(
      edited((e) => {
        delete (e.HostConfig as {Devices?: unknown}).Devices
        delete (e.HostConfig as {CapAdd?: unknown}).CapAdd
        delete (e as {EffectiveCaps?: unknown}).EffectiveCaps
        delete (e as {BoundingCaps?: unknown}).BoundingCaps
      }),
    )
  })

  it('a device with neither path is still named', () => {
    expect(problems(edited((e) => (e.HostConfig.Devices = [{} as {PathOnHost: string; PathInContainer: string}])))).toEqual(['CONTAINER_CONFIG_MISMATCH: the container gets devices: ?'])
  })

  it('without a network mode: unknown, which is not the planned none', () => {
    expect(problems(edited((e) => delete (e.HostConfig as {NetworkMode?: string}).NetworkMode))).toEqual(['CONTAINER_CONFIG_MISMATCH: network mode is unknown, planned none'])
  })

  it('allowlist without NetworkSettings at all: on no network, refused', () => {
    const allow = plan({network: 'allowlist', egressNetwork: 'sourceos-egress-x'})
    expect(problems(edited((e) => {
      e.HostConfig.NetworkMode = 'bridge'
      delete (e as {NetworkSettings?: unknown}).NetworkSettings
    }), allow)).toEqual(['CONTAINER_CONFIG_MISMATCH: the container is on the networks [], planned only sourceos-egress-x'])
  })

  it('a mount without Source or Name is named n/a; a volume without a Name by its source', () => {
    expect(problems(edited((e) => void e.Mounts.push({Type: 'bind', Destination: '/x', RW: true} as InspectEntry['Mounts'][number])))).toEqual(['MOUNT_MISMATCH: unexpected bind mount at /x (source n/a)'])
    const VOL = {name: 'sourceos-state-p-codex', target: '/home/agent/.codex'}
    expect(problems(edited((e) => void e.Mounts.push({Type: 'volume', Destination: VOL.target, RW: true} as InspectEntry['Mounts'][number])), plan({volumes: [VOL]}))).toEqual([`MOUNT_MISMATCH: ${VOL.target} is a volume mount of n/a, planned the volume ${VOL.name}`])
  })

  it('without Id, State, OCIRuntime or OCIConfigPath: empty id, pid 0, no status, no runtime, no config path', () => {
    const r = checkEffectiveConfig(edited((e) => {
      const x = e as unknown as Record<string, unknown>
      for (const k of ['Id', 'OCIRuntime', 'OCIConfigPath']) delete x[k]
      x.State = {}
    }), plan())
    expect(r).toMatchObject({id: '', pid: 0, status: '', runtime: '', ociConfigPath: null})
  })
})

describe('what may only pass under its own name and value', () => {
  it('a bind mount at the agent home (a planned tmpfs) is refused, not taken for the tmpfs', () => {
    expect(problems(edited((e) => void e.Mounts.push({Type: 'bind', Source: '/root', Destination: '/home/agent', RW: true})))).toEqual(['MOUNT_MISMATCH: unexpected bind mount at /home/agent (source /root)'])
  })

  it('a bind at a volume’s target is refused even when it carries the volume’s name', () => {
    const VOL = {name: 'sourceos-state-p-codex', target: '/home/agent/.codex'}
    expect(problems(edited((e) => void e.Mounts.push({Type: 'bind', Name: VOL.name, Source: '/root/.codex', Destination: VOL.target, RW: true} as InspectEntry['Mounts'][number])), plan({volumes: [VOL]}))).toEqual([
      `MOUNT_MISMATCH: ${VOL.target} is a bind mount of ${VOL.name}, planned the volume ${VOL.name}`,
    ])
  })

  it('podman’s own values pass only under their own names: another variable set to podman, the hostname, xterm or the default PATH is extra', () => {
    const hostname = (JSON.parse(edited(() => {})) as InspectEntry[])[0]!.Config.Hostname
    const extra = ['OTHER=podman', `OTHER2=${hostname}`, 'OTHER3=xterm', 'OTHER4=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']
    expect(problems(edited((e) => void e.Config.Env.push(...extra)))).toEqual([
      'CONTAINER_CONFIG_MISMATCH: the container’s environment has variables the plan does not: OTHER, OTHER2, OTHER3, OTHER4 (a containers.conf env entry?)',
    ])
  })

  it('an entry without "=" reads as the name with an empty value', () => {
    accepted(edited((e) => void e.Config.Env.push('EMPTY')), plan({env: [['EDITOR', 'vi'], ['HOME', '/home/agent'], ['EMPTY', '']]}))
  })

  it('several changed or missing planned variables, and several protection-off options, are all named', () => {
    expect(problems(edited((e) => (e.Config.Env = e.Config.Env.map((v) => (v.startsWith('HOME=') ? 'HOME=/root' : v.startsWith('EDITOR=') ? 'EDITOR=ed' : v)))))).toEqual([
      'CONTAINER_CONFIG_MISMATCH: the container’s environment changes planned variables: EDITOR, HOME',
    ])
    expect(problems(edited((e) => (e.Config.Env = e.Config.Env.filter((v) => !v.startsWith('HOME=') && !v.startsWith('EDITOR=')))))).toEqual([
      'CONTAINER_CONFIG_MISMATCH: planned variables are missing from the container: EDITOR, HOME',
    ])
    expect(problems(edited((e) => void e.HostConfig.SecurityOpt.push('seccomp=unconfined', 'label=disable')))).toEqual(['CONTAINER_CONFIG_MISMATCH: security options switch protections off: seccomp=unconfined, label=disable'])
  })

  it('a label type option is matched whole at its start too', () => {
    accepted(edited((e) => void e.HostConfig.SecurityOpt.push('xlabel=type:spc_t')))
  })

  it('a network whose name merely contains host is not the host’s network (open mode)', () => {
    accepted(edited((e) => (e.HostConfig.NetworkMode = 'ghost-net')), plan({network: 'open'}))
  })
})

describe('rootful user namespace maps, compared as sets of lines', () => {
  const map = ['0:1:1000', '1000:0:1']

  it('the same number of lines with other content is refused', () => {
    const planned = plan({userns: {mode: 'map', uidMap: map, gidMap: map}})
    expect(problems(edited((e) => (e.HostConfig.IDMappings = {UidMap: ['0:2:1000', '1000:0:1'], GidMap: map})), planned)).toEqual([
      'CONTAINER_CONFIG_MISMATCH: the user namespace maps uids 0:2:1000 1000:0:1 and gids 0:1:1000 1000:0:1, planned 0:1:1000 1000:0:1 and 0:1:1000 1000:0:1',
    ])
  })

  it('the plan’s lines in any order match the container’s in any order', () => {
    const reversed = [...map].reverse()
    accepted(edited((e) => (e.HostConfig.IDMappings = {UidMap: map, GidMap: map})), plan({userns: {mode: 'map', uidMap: reversed, gidMap: reversed}}))
  })

  it('no mappings at all: none and none, and container root is host root', () => {
    expect(problems(edited((e) => (e.HostConfig.IDMappings = null)), plan({userns: {mode: 'map', uidMap: map, gidMap: map}}))).toEqual([
      'CONTAINER_CONFIG_MISMATCH: the user namespace maps uids none and gids none, planned 0:1:1000 1000:0:1 and 0:1:1000 1000:0:1',
      'CONTAINER_CONFIG_MISMATCH: root in the container is root on the host, planned a user namespace',
    ])
  })

  it('hostIdOf reads ranges in any order', () => {
    expect(hostIdOf(['1000:5000:1', '0:100000:1000'], 0)).toBe(100000)
    expect(hostIdOf(['1000:5000:1', '0:100000:1000'], 1000)).toBe(5000)
  })
})
