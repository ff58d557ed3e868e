/**
 * The container's real view, read after `podman init` and before `podman start`: the OCI runtime
 * has set up every mount and namespace, its init process waits on the exec FIFO, and no process of
 * the agent has run yet.
 *
 * Read (readContainerView): /proc/<pid>/mountinfo (twice: before and after the stats), an lstat of
 * every path component of each mount target under /proc/<pid>/root, /proc/<pid>/status, the
 * entries of /run/secrets, the container's OCI config, and the host's own mount table. Directly
 * when the host allows it (root; and rootless, whose user owns podman's user namespace), else
 * through `podman unshare` (device and inode numbers are not namespaced).
 *
 * Judged (checkContainerView, pure):
 * - each mount target is the inode pinned at judgement (pin.ts), reached without a symlink;
 * - each planned bind comes from the planned source: same device, and its root in mountinfo is the
 *   source's path within its filesystem (the kernel's d_path, not a path anyone resolved again);
 * - mountinfo holds nothing but the planned mounts and the mounts podman makes for every
 *   container (/proc, /dev, /sys, the tmpfs of a read-only root, /etc/hosts … of this container),
 *   so a mounts.conf copy, a containers.conf volume or a submount carried by a bind is refused;
 * - /run/secrets is empty or absent; the root file system is read-only;
 * - the init process holds no capability and has no_new_privs; with runc (which loads the seccomp
 *   filter before it waits) a filter is in place; /proc/sys is read-only; the OCI config (where
 *   readable, and always where the runtime is not runc) has a seccomp profile, no capabilities,
 *   no_new_privileges, no unconfined AppArmor and podman's masked paths. inspect does not show a
 *   containers.conf `seccomp_profile = "unconfined"`: these do.
 */
import {lstat, readdir, readFile} from 'node:fs/promises'
import path from 'node:path'

import type {Runner} from '../exec.js'
import {succeeded} from '../exec.js'
import type {MountPin} from './pin.js'
import {hostIdOf, type PlannedUserns} from './verify-mounts.js'

export type EntryKind = 'directory' | 'file' | 'symlink' | 'other'

/** The file-system reads, injectable for tests. */
export interface ProcFs {
  readFile(file: string): Promise<string>
  lstat(file: string): Promise<{kind: EntryKind; dev: bigint; ino: bigint}>
  readdir(dir: string): Promise<string[]>
}

export const realProcFs: ProcFs = {
  readFile: (f) => readFile(f, 'utf8'),
  async lstat(f) {
    const s = await lstat(f, {bigint: true})
    const kind: EntryKind = s.isSymbolicLink() ? 'symlink' : s.isDirectory() ? 'directory' : s.isFile() ? 'file' : 'other'
    return {kind, dev: s.dev, ino: s.ino}
  },
  readdir: (d) => readdir(d),
}

let procFsOverride: ProcFs | undefined
/** Test seam: unit tests play the OCI runtime (see test/helpers/fake-container.ts). */
export function useProcFs(fs: ProcFs | undefined): void {
  procFsOverride = fs
}
export function currentProcFs(): ProcFs {
  return procFsOverride ?? realProcFs
}

export interface MountinfoEntry {
  id: string
  parent: string
  /** major:minor of the file system. */
  majmin: string
  /** The mount's root within its file system (a bind's source path there). */
  root: string
  mountPoint: string
  /** Per-mount options (ro/rw, nosuid, …). */
  options: string[]
  fstype: string
  source: string
}

/** `\040`-style octal escapes of mountinfo (space, tab, newline, backslash). */
function unescapeField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)))
}

export function parseMountinfo(text: string): MountinfoEntry[] {
  const out: MountinfoEntry[] = []
  for (const line of text.split('\n')) {
    if (!line.trim()) continue
    const fields = line.split(' ')
    const dash = fields.indexOf('-', 6)
    if (dash < 0 || fields.length < dash + 3) continue
    out.push({
      id: fields[0]!,
      parent: fields[1]!,
      majmin: fields[2]!,
      root: unescapeField(fields[3]!),
      mountPoint: unescapeField(fields[4]!),
      options: fields[5]!.split(','),
      fstype: fields[dash + 1]!,
      source: unescapeField(fields[dash + 2]!),
    })
  }
  return out
}

export interface WalkStep {
  /** The path inside the container, e.g. /workspace/repo/.git. */
  path: string
  kind: EntryKind | 'missing'
  dev?: string
  ino?: string
}

export interface ContainerViewRaw {
  pid: number
  via: 'direct' | 'podman-unshare'
  mountinfo: string
  /** Read again after the stats: a table that changed meanwhile is refused. */
  mountinfoAfter: string
  status: string
  /** /proc/<pid>/uid_map and gid_map as the host sees them ("container host size" lines). */
  uidMap: string
  gidMap: string
  /** Every component of each target, outermost first. */
  walks: Array<{target: string; steps: WalkStep[]}>
  /** Entries of /run/secrets in the container; null when there is no such folder. */
  secrets: string[] | null
  /** The host's own mount table (where each source lives). */
  hostMountinfo: string
  /**
   * The OCI runtime config podman wrote (inspect's OCIConfigPath); null when it was not read: a
   * rootless config is readable only in podman's user namespace, and is read there only when the
   * runtime is not runc (runc's init process shows its seccomp filter in /proc/<pid>/status).
   */
  ociConfig: string | null
}

/** The planned mount targets' path components: /a/b → [/a, /a/b]. */
function prefixes(target: string): string[] {
  const parts = target.split('/').filter(Boolean)
  return parts.map((_, i) => `/${parts.slice(0, i + 1).join('/')}`)
}

function isDenied(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code
  return code === 'EACCES' || code === 'EPERM'
}

export interface ReadViewOptions {
  pid: number
  targets: readonly string[]
  ociConfigPath: string | null
  /** inspect's OCIRuntime. */
  runtime: string
  runner: Runner
  podmanBinary: string
  fs?: ProcFs
}

/**
 * Reads the view directly; when the host refuses /proc/<pid>/root (or its mountinfo), once more
 * through `podman unshare` (buildViewFallbackArgv).
 */
export async function readContainerView(opts: ReadViewOptions): Promise<ContainerViewRaw> {
  const fs = opts.fs ?? currentProcFs()
  const [hostMountinfo, ociConfig] = await Promise.all([fs.readFile('/proc/self/mountinfo'), readOciConfig(opts, fs)])
  try {
    return {...(await readDirect(opts.pid, opts.targets, fs)), hostMountinfo, ociConfig}
  } catch (error) {
    if (!isDenied(error)) throw error
  }
  const argv = buildViewFallbackArgv(opts.podmanBinary, opts.pid, opts.targets)
  const result = await opts.runner(argv[0]!, argv.slice(1), {timeoutMs: 30_000})
  if (!succeeded(result)) throw new Error(`podman unshare could not read the container's view: ${(result.stderr || result.stdout).trim().split('\n')[0] ?? ''}`)
  return {...parseFallbackOutput(result.stdout, opts.pid, opts.targets), hostMountinfo, ociConfig}
}

async function readOciConfig(opts: ReadViewOptions, fs: ProcFs): Promise<string | null> {
  const file = opts.ociConfigPath
  if (!file) return null
  try {
    return await fs.readFile(file)
  } catch (error) {
    if (!isDenied(error) || opts.runtime === 'runc') return null
  }
  const argv = buildOciConfigFallbackArgv(opts.podmanBinary, file)
  const result = await opts.runner(argv[0]!, argv.slice(1), {timeoutMs: 30_000})
  return succeeded(result) ? result.stdout : null
}

/** A rootless container's OCI config is readable only in podman's user namespace. */
export function buildOciConfigFallbackArgv(binary: string, file: string): string[] {
  return [binary, 'unshare', 'cat', '--', file]
}

async function readDirect(pid: number, targets: readonly string[], fs: ProcFs): Promise<Omit<ContainerViewRaw, 'hostMountinfo' | 'ociConfig'>> {
  const proc = `/proc/${pid}`
  const root = `${proc}/root`
  const mountinfo = await fs.readFile(`${proc}/mountinfo`)
  await fs.lstat(`${root}/`) // EACCES here: fall back to podman unshare
  const walks: ContainerViewRaw['walks'] = []
  for (const target of targets) {
    const steps: WalkStep[] = []
    for (const p of prefixes(target)) {
      const s = await fs.lstat(root + p).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return null
        throw error
      })
      steps.push(s ? {path: p, kind: s.kind, dev: s.dev.toString(), ino: s.ino.toString()} : {path: p, kind: 'missing'})
      if (!s || s.kind !== 'directory') break
    }
    walks.push({target, steps})
  }
  const secrets = await fs.readdir(`${root}/run/secrets`).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return null
    throw error
  })
  const status = await fs.readFile(`${proc}/status`)
  const uidMap = await fs.readFile(`${proc}/uid_map`)
  const gidMap = await fs.readFile(`${proc}/gid_map`)
  const mountinfoAfter = await fs.readFile(`${proc}/mountinfo`)
  return {pid, via: 'direct', mountinfo, mountinfoAfter, status, uidMap, gidMap, walks, secrets}
}

/**
 * The same reads as one shell script run by `podman unshare` (in podman's user namespace, where
 * /proc/<pid>/root of the container is open to the user). Output: `@section` lines, then data.
 */
const FALLBACK_SCRIPT = [
  'pid=$1; shift; r=/proc/$pid/root',
  'echo @mountinfo; cat /proc/$pid/mountinfo || exit 1',
  'for t in "$@"; do',
  '  echo "@target $t"; p=$r; rest=${t#/}',
  '  while [ -n "$rest" ]; do',
  '    c=${rest%%/*}; case $rest in */*) rest=${rest#*/} ;; *) rest= ;; esac',
  '    p=$p/$c; stat -c "%F|%d|%i" -- "$p" 2>/dev/null || { echo "missing||"; break; }',
  '    [ -d "$p" ] && [ ! -L "$p" ] || break',
  '  done',
  'done',
  'echo @secrets; if [ -d $r/run/secrets ]; then ls -A1 $r/run/secrets; else echo @none; fi',
  'echo @status; cat /proc/$pid/status || exit 1',
  'echo @uid_map; cat /proc/$pid/uid_map || exit 1',
  'echo @gid_map; cat /proc/$pid/gid_map || exit 1',
  'echo @mountinfo-after; cat /proc/$pid/mountinfo || exit 1',
].join('\n')

export function buildViewFallbackArgv(binary: string, pid: number | string, targets: readonly string[]): string[] {
  return [binary, 'unshare', 'sh', '-c', FALLBACK_SCRIPT, 'sourceosctl-view', String(pid), ...targets]
}

function kindOfStat(text: string): EntryKind | 'missing' {
  if (text === 'directory') return 'directory'
  if (text === 'regular file' || text === 'regular empty file') return 'file'
  if (text === 'symbolic link') return 'symlink'
  if (text === 'missing') return 'missing'
  return 'other'
}

export function parseFallbackOutput(stdout: string, pid: number, targets: readonly string[]): Omit<ContainerViewRaw, 'hostMountinfo' | 'ociConfig'> {
  const sections: Array<{head: string; lines: string[]}> = []
  for (const line of stdout.split('\n')) {
    if (line.startsWith('@')) sections.push({head: line, lines: []})
    else sections.at(-1)?.lines.push(line)
  }
  // each section as the file read: its lines, one final newline
  const text = (head: string) => {
    const t = (sections.find((s) => s.head === head)?.lines ?? []).join('\n').replace(/\n+$/, '')
    return t ? `${t}\n` : ''
  }
  const walks: ContainerViewRaw['walks'] = targets.map((target) => {
    const lines = (sections.find((s) => s.head === `@target ${target}`)?.lines ?? []).filter(Boolean)
    const paths = prefixes(target)
    const steps: WalkStep[] = lines.map((l, i) => {
      const [kind = '', dev = '', ino = ''] = l.split('|')
      const k = kindOfStat(kind)
      return k === 'missing' ? {path: paths[i] ?? target, kind: k} : {path: paths[i] ?? target, kind: k, dev, ino}
    })
    return {target, steps}
  })
  const secretLines = (sections.find((s) => s.head === '@secrets')?.lines ?? []).filter(Boolean)
  return {
    pid,
    via: 'podman-unshare',
    mountinfo: text('@mountinfo'),
    mountinfoAfter: text('@mountinfo-after'),
    status: text('@status'),
    uidMap: text('@uid_map'),
    gidMap: text('@gid_map'),
    walks,
    secrets: secretLines.length === 1 && secretLines[0] === '@none' ? null : secretLines,
  }
}

// ---------------------------------------------------------------------------------------------
// The judgement (pure)

export type ViewProblemCode = 'MOUNT_SWAPPED' | 'MOUNT_MISMATCH' | 'CONTAINER_CONFIG_MISMATCH'

export interface ViewProblem {
  code: ViewProblemCode
  message: string
}

export interface PlannedViewMount {
  target: string
  hostSource: string
  mode: 'rw' | 'ro'
  pin?: MountPin
}

export interface ViewContext {
  planned: readonly PlannedViewMount[]
  /** Planned tmpfs targets (the agent's home). */
  tmpfs: readonly string[]
  /** Planned named volumes (the tools' home state): each must show that volume's _data folder. */
  volumes?: ReadonlyArray<{name: string; target: string}>
  /** The container's full ID: podman's per-container files live under …/<id>/userdata/. */
  containerId: string
  /** Network open: the link-local guard whose network namespace it joined (its hosts and resolv.conf are the guard's). */
  networkProviderId?: string
  /** inspect's OCIRuntime (runc, crun, …). */
  runtime: string
  /** The root file system is planned read-only. */
  readOnlyRoot: boolean
  /** The planned user namespace (null: none planned, nothing to check). */
  userns?: PlannedUserns | null
}

/** Files podman bind-mounts from the container's own userdata folder. */
const USERDATA_FILES: Record<string, string> = {
  '/etc/hosts': 'hosts',
  '/etc/hostname': 'hostname',
  '/etc/resolv.conf': 'resolv.conf',
  '/etc/passwd': 'passwd',
  '/etc/group': 'group',
  '/run/.containerenv': '.containerenv',
}
/** What a container that joins another's network namespace gets from that container's userdata. */
const NETWORK_FILES = new Set(['/etc/hosts', '/etc/hostname', '/etc/resolv.conf'])
/** tmpfs podman mounts at these places (a read-only root gets /run, /tmp, /var/tmp). */
const SYSTEM_TMPFS = new Set(['/dev', '/dev/shm', '/run', '/tmp', '/var/tmp', '/sys/fs/cgroup'])
const PSEUDO_FS = new Set(['proc', 'sysfs', 'cgroup', 'cgroup2', 'devpts', 'mqueue'])
/** Host devices rootless podman binds into /dev. */
const DEVICE_BINDS = new Set(['null', 'zero', 'full', 'tty', 'random', 'urandom'])
const INIT_BINARY = /\/(catatonit|tini|tini-static|dumb-init)$/

function under(p: string, root: string): boolean {
  return p === root || p.startsWith(`${root}/`)
}

/** null: a mount podman makes for every container (it can hold nothing of the host's files). */
export function systemMountProblem(e: MountinfoEntry, containerId: string, networkProviderId?: string): string | null {
  const mp = e.mountPoint
  if (under(mp, '/proc') || under(mp, '/sys') || under(mp, '/dev')) {
    if (PSEUDO_FS.has(e.fstype)) return null
    // fresh tmpfs (masked folders), or /dev/null over masked files
    if (e.fstype === 'tmpfs' && (e.root === '/' || e.root === '/null')) return null
    if (e.fstype === 'devtmpfs' && (e.root === '/null' || (mp === `/dev${e.root}` && DEVICE_BINDS.has(e.root.slice(1))))) return null
    return `a ${e.fstype} mount from ${e.root}`
  }
  if (SYSTEM_TMPFS.has(mp) && e.fstype === 'tmpfs' && e.root === '/') return null
  const file = USERDATA_FILES[mp]
  if (file && containerId && e.root.endsWith(`/${containerId}/userdata/${file}`)) return null
  // joined another container's network namespace: podman binds that container's network files
  if (networkProviderId && NETWORK_FILES.has(mp) && e.root.endsWith(`/${networkProviderId}/userdata/${file}`)) return null
  if (mp === '/run/podman-init' && INIT_BINARY.test(e.root)) return null
  return `a ${e.fstype} mount from ${e.root}`
}

/** Where a host path lives: the mount it is in (the topmost at the longest mount point) and its path in that file system. */
export function originOf(hostPath: string, host: readonly MountinfoEntry[]): {majmin: string; root: string} | null {
  let best: MountinfoEntry | undefined
  for (const e of host) {
    if (!under(hostPath, e.mountPoint) && e.mountPoint !== '/') continue
    if (!best || e.mountPoint.length >= best.mountPoint.length) best = e
  }
  if (!best) return null
  const rel = best.mountPoint === '/' ? hostPath.slice(1) : path.posix.relative(best.mountPoint, hostPath)
  const root = rel === '' ? best.root : path.posix.join(best.root, rel)
  return {majmin: best.majmin, root}
}

function statusField(status: string, name: string): string | null {
  const m = new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(status)
  return m ? m[1]! : null
}

export function checkContainerView(raw: ContainerViewRaw, ctx: ViewContext): ViewProblem[] {
  const problems: ViewProblem[] = []
  const swapped = (message: string) => problems.push({code: 'MOUNT_SWAPPED', message})
  const mismatch = (message: string) => problems.push({code: 'MOUNT_MISMATCH', message})
  const config = (message: string) => problems.push({code: 'CONTAINER_CONFIG_MISMATCH', message})

  if (raw.mountinfo !== raw.mountinfoAfter) mismatch('the container’s mount table changed while it was being checked')
  const entries = parseMountinfo(raw.mountinfo)
  const hostEntries = parseMountinfo(raw.hostMountinfo)
  if (entries.length === 0) mismatch('the container’s mount table could not be read')
  const planned = new Map(ctx.planned.map((m) => [m.target, m]))
  const tmpfs = new Set(ctx.tmpfs)
  const volumes = new Map((ctx.volumes ?? []).map((v) => [v.target, v]))
  const seen = new Map<string, number>()

  for (const e of entries) {
    const mp = e.mountPoint
    seen.set(mp, (seen.get(mp) ?? 0) + 1)
    if (mp === '/') {
      if (ctx.readOnlyRoot && !e.options.includes('ro')) config('the container’s root file system is writable, planned read-only')
      continue
    }
    const want = planned.get(mp)
    if (want) {
      const origin = originOf(want.hostSource, hostEntries)
      if (!origin) mismatch(`cannot find ${want.hostSource} in the host’s mount table`)
      else if (origin.majmin !== e.majmin || origin.root !== e.root) {
        swapped(`${mp} shows ${e.root} (device ${e.majmin}), not the planned ${want.hostSource} (${origin.root} on ${origin.majmin})`)
      }
      const ro = e.options.includes('ro')
      if (ro !== (want.mode === 'ro')) mismatch(`${mp} is ${ro ? 'read-only' : 'read-write'} in the container, planned ${want.mode}`)
      continue
    }
    const vol = volumes.get(mp)
    if (vol) {
      if (!e.root.endsWith(`/volumes/${vol.name}/_data`)) mismatch(`${mp} shows ${e.root}, not the planned volume ${vol.name}`)
      continue
    }
    if (tmpfs.has(mp)) {
      if (e.fstype !== 'tmpfs' || e.root !== '/') mismatch(`${mp} is a ${e.fstype} mount from ${e.root}, planned an empty tmpfs`)
      continue
    }
    const why = systemMountProblem(e, ctx.containerId, ctx.networkProviderId)
    if (why) mismatch(`unplanned mount at ${mp}: ${why}`)
  }
  // podman's read-only /proc paths (gone with unmask=ALL or systempaths=unconfined)
  if (!entries.some((e) => e.mountPoint === '/proc/sys' && e.fstype === 'proc' && e.options.includes('ro'))) {
    config('/proc/sys is not read-only in the container (unmask or systempaths=unconfined?)')
  }
  for (const target of [...planned.keys(), ...tmpfs, ...volumes.keys()]) {
    const n = seen.get(target) ?? 0
    if (n === 0) mismatch(`planned mount ${target} is missing from the container`)
    else if (n > 1) mismatch(`${target} is mounted ${n} times in the container`)
  }

  for (const want of ctx.planned) {
    const walk = raw.walks.find((w) => w.target === want.target)
    if (!want.pin) {
      mismatch(`${want.target} has no pin to compare with`)
      continue
    }
    const last = walk?.steps.at(-1)
    if (!walk || !last) {
      mismatch(`${want.target} could not be read in the container`)
      continue
    }
    const detour = walk.steps.slice(0, -1).find((s) => s.kind !== 'directory')
    if (detour || last.path !== want.target) {
      const at = detour ?? last
      swapped(`on the way to ${want.target}, ${at.path} is ${at.kind === 'missing' ? 'missing' : `a ${at.kind}`} inside the container`)
      continue
    }
    if (last.kind !== 'directory' && last.kind !== 'file') {
      swapped(`${want.target} is ${last.kind === 'missing' ? 'missing' : `a ${last.kind}`} inside the container`)
      continue
    }
    if (last.dev !== want.pin.dev || last.ino !== want.pin.ino) {
      swapped(`${want.target} is device/inode ${last.dev}/${last.ino} in the container, but ${want.hostSource} was ${want.pin.dev}/${want.pin.ino} when it was checked`)
    }
  }

  if (raw.secrets && raw.secrets.length > 0) {
    mismatch(`/run/secrets in the container holds ${raw.secrets.slice(0, 5).join(', ')}${raw.secrets.length > 5 ? ', …' : ''} (a mounts.conf entry or a secret the plan does not have)`)
  }

  for (const cap of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) {
    const v = statusField(raw.status, cap)
    if (v === null || !/^0+$/.test(v)) config(`the container’s process has ${cap} ${v ?? 'unknown'}, planned no capabilities`)
  }
  if (statusField(raw.status, 'NoNewPrivs') !== '1') config('the container’s process lacks no_new_privs')
  problems.push(...checkIdMaps(raw, ctx.userns ?? null))
  // runc loads the seccomp filter before it waits for start; crun only after, so only runc is checked here.
  if (ctx.runtime === 'runc' && statusField(raw.status, 'Seccomp') !== '2') config('the container’s process has no seccomp filter')

  // Unread only where the status above already shows the filter (runc) — see ContainerViewRaw.ociConfig.
  if (raw.ociConfig !== null || ctx.runtime !== 'runc') problems.push(...checkOciConfig(raw.ociConfig))
  return problems
}

/** The process's real user namespace, as the host sees it (uid_map/gid_map: container host size). */
function checkIdMaps(raw: ContainerViewRaw, userns: PlannedUserns | null): ViewProblem[] {
  if (!userns) return []
  const config = (message: string): ViewProblem => ({code: 'CONTAINER_CONFIG_MISMATCH', message})
  const lines = (t: string) => t.split('\n').map((l) => l.trim().split(/\s+/).join(' ')).filter(Boolean)
  const uid = lines(raw.uidMap)
  const gid = lines(raw.gidMap)
  const out: ViewProblem[] = []
  if (hostIdOf(uid, 0) === 0) out.push(config('root in the container is root on the host (uid_map), planned a user namespace'))
  if (userns.mode === 'keep-id') {
    if (hostIdOf(uid, userns.uid) !== userns.uid) out.push(config(`uid ${userns.uid} in the container is not the user (uid_map ${uid.join(', ') || 'empty'}), planned keep-id`))
  } else {
    const want = (m: string[]) => m.map((l) => l.split(':').join(' ')).sort().join(', ')
    if ([...uid].sort().join(', ') !== want(userns.uidMap) || [...gid].sort().join(', ') !== want(userns.gidMap)) {
      out.push(config(`the process's user namespace maps uids ${uid.join(', ') || 'none'} and gids ${gid.join(', ') || 'none'}, planned ${want(userns.uidMap)} and ${want(userns.gidMap)}`))
    }
  }
  return out
}

/** The OCI runtime config as podman wrote it: what the runtime is told, including what inspect does not show. */
export function checkOciConfig(text: string | null): ViewProblem[] {
  const config = (message: string): ViewProblem => ({code: 'CONTAINER_CONFIG_MISMATCH', message})
  if (text === null) return [config('the container’s OCI config could not be read')]
  let spec: {process?: {noNewPrivileges?: boolean; capabilities?: Record<string, unknown[] | undefined>; apparmorProfile?: string}; linux?: {seccomp?: unknown; maskedPaths?: unknown[]; readonlyPaths?: unknown[]}}
  try {
    spec = JSON.parse(text) as typeof spec
  } catch {
    return [config('the container’s OCI config is not JSON')]
  }
  const out: ViewProblem[] = []
  if (!spec.linux?.seccomp) out.push(config('the OCI config has no seccomp profile (seccomp_profile = "unconfined" in containers.conf?)'))
  if (spec.process?.noNewPrivileges !== true) out.push(config('the OCI config lacks noNewPrivileges'))
  const caps = Object.entries(spec.process?.capabilities ?? {}).filter(([, v]) => Array.isArray(v) && v.length > 0)
  if (caps.length > 0) out.push(config(`the OCI config grants capabilities (${caps.map(([k]) => k).join(', ')})`))
  if (spec.process?.apparmorProfile === 'unconfined') out.push(config('the OCI config runs the process unconfined by AppArmor'))
  if (!spec.linux?.maskedPaths?.length || !spec.linux?.readonlyPaths?.length) out.push(config('the OCI config does not mask /proc and /sys paths (unmask or systempaths=unconfined?)'))
  return out
}
