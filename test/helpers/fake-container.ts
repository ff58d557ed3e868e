/**
 * A faithful fake of podman's create → init → inspect for command tests: `container inspect`
 * answers from the last `create` argv (its binds, env, user namespace), starting from a real 4.3.1
 * capture of an initialized container; the container's /proc (mountinfo, status, each target's
 * device and inode) is played by a ProcFs that maps every mount target to its source on the real
 * file system — so verification passes exactly when the plan is consistent.
 *
 *   const c = fakeContainer()
 *   const runner = fakeRunner([...c.routes, …others])
 *   c.install()                   // the launch's /proc reads go to the fake (afterEach: c.uninstall())
 *   c.swap('/workspace/app', dir) // the "runtime" mounts dir there instead: a swap the check must catch
 */
import {lstat} from 'node:fs/promises'

import {useProcFs, type ProcFs} from '../../src/core/launch/container-view.js'
import type {FakeRoute} from './fake-runner.js'
import {podmanFixture} from './fixtures.js'

/** The parts of a `podman container inspect` entry that tests read or edit. */
export interface InspectEntry {
  Id: string
  State: {Status: string; Pid: number}
  OCIConfigPath: string
  EffectiveCaps: string[] | null
  BoundingCaps: string[] | null
  Mounts: Array<{Type: string; Source: string; Destination: string; RW: boolean; Options?: string[]; Propagation?: string; Driver?: string; Mode?: string}>
  Config: {Env: string[]; Hostname: string}
  HostConfig: {
    Tmpfs: Record<string, string>
    Devices: Array<{PathOnHost: string; PathInContainer: string}>
    CapAdd: string[]
    Privileged: boolean
    ReadonlyRootfs: boolean
    SecurityOpt: string[]
    NetworkMode: string
    PidMode: string
    IpcMode: string
    UTSMode: string
    UsernsMode: string
    IDMappings: {UidMap: string[]; GidMap: string[]} | null
  }
}

export const FAKE_PID = 424242
export const FAKE_CONTAINER_ID = 'f'.repeat(63) + '1'
const OCI_CONFIG_PATH = `/var/lib/containers/storage/overlay-containers/${FAKE_CONTAINER_ID}/userdata/config.json`

export interface FakeContainer {
  routes: FakeRoute[]
  procFs: ProcFs
  install(): void
  uninstall(): void
  /** The runtime mounts `hostPath` at `target` instead of the planned source. */
  swap(target: string, hostPath: string): void
  /** Extra lines for the container's mountinfo (e.g. a mounts.conf bind). */
  addMountinfo(line: string): void
  /** Edit the inspect JSON before it is answered. */
  editInspect(edit: (entry: InspectEntry) => void): void
  /** The binds of the last create: target → source, mode. */
  binds(): Array<{source: string; target: string; ro: boolean}>
}

function parseBinds(args: readonly string[]): Array<{source: string; target: string; ro: boolean}> {
  return args
    .filter((a) => a.startsWith('--mount=type=bind,'))
    .map((a) => {
      const kv = Object.fromEntries(a.slice('--mount='.length).split(',').map((p) => p.split('=') as [string, string]))
      return {source: kv.source!, target: kv.destination!, ro: kv.ro === 'true'}
    })
}

export function fakeContainer(): FakeContainer {
  let lastCreate: string[] = []
  const swaps = new Map<string, string>()
  const extraMountinfo: string[] = []
  const inspectEdits: Array<(entry: InspectEntry) => void> = []
  const binds = () => parseBinds(lastCreate)
  const sourceOf = (target: string) => swaps.get(target) ?? binds().find((b) => b.target === target)?.source

  const inspect = (): string => {
    const rootless = lastCreate.includes('--userns=keep-id')
    const entry = (JSON.parse(podmanFixture(`podman431-container-inspect-initialized-${rootless ? 'rootless' : 'rootful'}.json`)) as InspectEntry[])[0]!
    entry.Id = FAKE_CONTAINER_ID
    entry.State.Pid = FAKE_PID
    entry.OCIConfigPath = OCI_CONFIG_PATH
    entry.Mounts = binds().map((b) => ({Type: 'bind', Source: b.source, Destination: b.target, Driver: '', Mode: '', Options: ['bind'], RW: !b.ro, Propagation: 'private'}))
    const env = lastCreate.filter((a) => a.startsWith('--env=')).map((a) => a.slice('--env='.length))
    const names = new Set(env.map((e) => e.slice(0, e.indexOf('='))))
    entry.Config.Env = [...env, ...(names.has('TERM') ? [] : ['TERM=xterm']), 'container=podman', `HOSTNAME=${entry.Config.Hostname}`]
    entry.HostConfig.NetworkMode = lastCreate.includes('--network=none') ? 'none' : 'bridge'
    if (rootless) entry.HostConfig.IDMappings = {UidMap: ['0:1:1000', '1000:0:1', '1001:1001:64535'], GidMap: ['0:1:1000', '1000:0:1', '1001:1001:64535']}
    const uidmap = lastCreate.filter((a) => a.startsWith('--uidmap=')).map((a) => a.slice('--uidmap='.length))
    const gidmap = lastCreate.filter((a) => a.startsWith('--gidmap=')).map((a) => a.slice('--gidmap='.length))
    if (uidmap.length > 0) entry.HostConfig.IDMappings = {UidMap: uidmap, GidMap: gidmap}
    for (const edit of inspectEdits) edit(entry)
    return JSON.stringify([entry], null, 5)
  }

  const mountinfo = (): string => {
    const lines = [
      '100 90 0:41 / / ro,relatime - overlay overlay rw',
      '101 100 0:44 / /run rw,nosuid,nodev,relatime - tmpfs tmpfs rw',
      '102 100 0:45 / /sys ro,nosuid,nodev,noexec,relatime - sysfs sysfs ro',
      '103 100 0:48 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw',
      '104 103 0:48 /sys /proc/sys ro,nosuid,nodev,noexec,relatime - proc proc rw',
      '105 100 0:47 / /dev rw,nosuid,noexec - tmpfs tmpfs rw,size=65536k,mode=755',
      '106 100 0:51 / /home/agent rw,nosuid,nodev,relatime - tmpfs tmpfs rw',
      `107 100 8:1 /run/containers/storage/overlay-containers/${FAKE_CONTAINER_ID}/userdata/hosts /etc/hosts ro,nosuid,nodev,noexec,relatime - ext4 /dev/sda1 rw`,
    ]
    binds().forEach((b, i) => {
      const source = swaps.get(b.target) ?? b.source
      lines.push(`${200 + i} 100 8:1 ${source.replace(/ /g, '\\040')} ${b.target.replace(/ /g, '\\040')} ${b.ro ? 'ro' : 'rw'},relatime - ext4 /dev/sda1 rw`)
    })
    return `${[...lines, ...extraMountinfo].join('\n')}\n`
  }

  /** The container's id map as the host reads it, from the create flags (keep-id: the fake user 1000). */
  const idMap = (flag: 'uidmap' | 'gidmap'): string => {
    const explicit = lastCreate.filter((a) => a.startsWith(`--${flag}=`)).map((a) => a.slice(flag.length + 3).split(':').join(' '))
    if (explicit.length > 0) return `${explicit.join('\n')}\n`
    if (lastCreate.includes('--userns=keep-id')) return '0 100000 1000\n1000 1000 1\n1001 101000 64535\n'
    return '0 0 4294967295\n'
  }

  const root = `/proc/${FAKE_PID}/root`
  const enoent = (p: string) => Object.assign(new Error(`ENOENT: ${p}`), {code: 'ENOENT'})
  const procFs: ProcFs = {
    async readFile(p) {
      if (p === '/proc/self/mountinfo') return '1 0 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n'
      if (p === `/proc/${FAKE_PID}/mountinfo`) return mountinfo()
      if (p === `/proc/${FAKE_PID}/status`) return podmanFixture('podman431-container-status-initialized-rootful.txt')
      if (p === `/proc/${FAKE_PID}/uid_map` || p === `/proc/${FAKE_PID}/gid_map`) return idMap(p.endsWith('uid_map') ? 'uidmap' : 'gidmap')
      if (p === OCI_CONFIG_PATH) return podmanFixture('podman431-container-oci-config-rootful.json')
      throw enoent(p)
    },
    async lstat(p) {
      if (!p.startsWith(root)) throw enoent(p)
      const inside = p.slice(root.length).replace(/\/$/, '') || '/'
      // the deepest mount at or above the path decides where it really is
      const mount = binds()
        .map((b) => b.target)
        .filter((t) => inside === t || inside.startsWith(`${t}/`))
        .sort((a, b) => b.length - a.length)[0]
      if (!mount) {
        // the image's own folders on the way to the mounts
        if (inside === '/' || binds().some((b) => b.target.startsWith(`${inside}/`))) return {kind: 'directory', dev: 99n, ino: BigInt(inside.length + 2)}
        throw enoent(p)
      }
      const s = await lstat(sourceOf(mount)! + inside.slice(mount.length), {bigint: true})
      const kind = s.isSymbolicLink() ? 'symlink' : s.isDirectory() ? 'directory' : s.isFile() ? 'file' : 'other'
      return {kind, dev: s.dev, ino: s.ino}
    },
    async readdir(p) {
      throw enoent(p)
    },
  }

  return {
    routes: [
      {
        match: 'podman create',
        result: (_c, args) => {
          lastCreate = [...args]
          return {stdout: `${FAKE_CONTAINER_ID}\n`}
        },
      },
      {match: 'podman init', result: {stdout: 'sourceos-agent\n'}},
      {match: 'podman container inspect', result: () => ({stdout: inspect()})},
    ],
    procFs,
    install: () => useProcFs(procFs),
    uninstall: () => useProcFs(undefined),
    swap: (target, hostPath) => void swaps.set(target, hostPath),
    addMountinfo: (line) => void extraMountinfo.push(line),
    editInspect: (edit) => void inspectEdits.push(edit),
    binds,
  }
}
