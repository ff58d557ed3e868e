/**
 * The folders a Podman machine shares with its VM, and two judgements over them (doctor):
 * do they cover every allowlisted repo path, and do they expose more than they should (the whole
 * home folder, /Users, a drive root — the defaults on every platform)?
 *
 * Where the shares are written down: `podman machine inspect` reports no volumes in any 4.x or
 * 5.x release (machine.InspectInfo has no Mounts; the CLI never prints InternalInspectInfo), so
 * they are read from the machine's JSON config — 4.x: the file inspect names in ConfigPath; 5.x:
 * `<ConfigDir>/<name>.json` — whose `Mounts` is `[{Source, Target, ReadOnly, Tag, Type, …}]`
 * (null when empty). WSL machines ignore volumes and mount every drive under /mnt/<drive>.
 * Anything unreadable is reported as unknown, with the reason, never guessed.
 */
import {promises as fsp} from 'node:fs'
import {z} from 'zod'

import type {HostFacts} from '../host/facts.js'
import {judgeMountSource} from '../policy/mount-policy.js'
import {keyEquals, keyIsAncestor, pathApi, toKey} from '../policy/path-key.js'
import type {MachineLifecycle} from '../podman/machine-lifecycle.js'
import {parseJsonOutput} from '../podman/parse.js'
import type {Provider} from './providers.js'
import type {MachineRoot} from './vm-paths.js'

export interface MachineShare {
  /** Host folder. */
  source: string
  /** Where it appears inside the VM. */
  target: string
  readOnly: boolean
}

export type SharesInfo =
  | {status: 'known'; shares: MachineShare[]; configFile: string}
  /** WSL: --volume is ignored; every drive is mounted at /mnt/<drive>. */
  | {status: 'all-drives'}
  | {status: 'absent'}
  | {status: 'unknown'; reason: string}

const MachineConfigSchema = z.looseObject({
  Mounts: z.array(z.looseObject({Source: z.string(), Target: z.string(), ReadOnly: z.boolean().optional()})).nullable().optional(),
})

/** Reads the shares out of a machine config file's text (4.x or 5.x). Pure. */
export function parseMachineConfig(text: string): {ok: true; shares: MachineShare[]} | {ok: false; reason: string} {
  const parsed = parseJsonOutput(text, MachineConfigSchema)
  if (!parsed.ok) return {ok: false, reason: parsed.reason}
  if (!('Mounts' in parsed.value)) return {ok: false, reason: 'the config has no Mounts field'}
  const mounts = parsed.value.Mounts ?? []
  return {ok: true, shares: mounts.map((m) => ({source: m.Source, target: m.Target, readOnly: m.ReadOnly ?? false}))}
}

export interface ReadSharesOptions {
  lifecycle: MachineLifecycle
  name: string
  provider: Provider
  readFile?: (path: string) => Promise<string>
}

export async function readMachineShares(opts: ReadSharesOptions): Promise<SharesInfo> {
  if (opts.provider === 'wsl') return {status: 'all-drives'}
  const location = await opts.lifecycle.machineConfigLocation(opts.name)
  if (!location.ok) {
    if (location.failure.kind === 'machine-missing') return {status: 'absent'}
    return {status: 'unknown', reason: `\`podman machine inspect ${opts.name}\` failed: ${location.failure.message}`}
  }
  const readFile = opts.readFile ?? ((p: string) => fsp.readFile(p, 'utf8'))
  let text: string
  try {
    text = await readFile(location.value.path)
  } catch (error) {
    const code = typeof error === 'object' && error !== null && 'code' in error ? String((error as {code: unknown}).code) : 'error'
    return {status: 'unknown', reason: `cannot read the machine config ${location.value.path} (${code})`}
  }
  const parsed = parseMachineConfig(text)
  if (!parsed.ok) return {status: 'unknown', reason: `cannot read the shares from ${location.value.path}: ${parsed.reason}`}
  return {status: 'known', shares: parsed.shares, configFile: location.value.path}
}

/** Original-case path segments after the root (drive or `/`). */
function segments(p: string, host: Pick<HostFacts, 'platform'>): string[] {
  const body = host.platform === 'windows' ? p.replace(/^\\\\\?\\/, '').replace(/^[A-Za-z]:/, '') : p
  return body.split(host.platform === 'windows' ? /[\\/]+/ : /\/+/).filter((s) => s && s !== '.')
}

/** Does this share make `root` visible at the path podman will name (root.vmPath)? */
export function shareCovers(share: MachineShare, root: MachineRoot, host: Pick<HostFacts, 'platform' | 'caseInsensitivePaths'>): boolean {
  const shareKey = toKey(share.source, host)
  const rootKey = toKey(root.hostPath, host)
  if (!shareKey || !rootKey) return false
  if (!keyEquals(shareKey, rootKey) && !keyIsAncestor(shareKey, rootKey)) return false
  const rest = segments(root.hostPath, host).slice(shareKey.segs.length)
  const inVm = pathApi({platform: 'linux'}).join(share.target, ...rest)
  return inVm === pathApi({platform: 'linux'}).normalize(root.vmPath)
}

export interface Coverage {
  covered: MachineRoot[]
  uncovered: MachineRoot[]
}

export function coverage(roots: readonly MachineRoot[], shares: readonly MachineShare[], host: Pick<HostFacts, 'platform' | 'caseInsensitivePaths'>): Coverage {
  const covered: MachineRoot[] = []
  const uncovered: MachineRoot[] = []
  for (const root of roots) (shares.some((s) => shareCovers(s, root, host)) ? covered : uncovered).push(root)
  return {covered, uncovered}
}

export interface ExposedShare {
  share: MachineShare
  /** Why it is too broad (the mount policy's reason). */
  reason: string
}

/**
 * Shares the container-level mount policy would refuse: the home folder, a folder containing it
 * (/Users, /home), broad roots (/private, /var/folders), a drive root, sensitive paths.
 */
export function exposedShares(shares: readonly MachineShare[], host: HostFacts): ExposedShare[] {
  const out: ExposedShare[] = []
  for (const share of shares) {
    if (!toKey(share.source, host)) continue
    const decision = judgeMountSource(share.source, host)
    if (!decision.allowed) out.push({share, reason: decision.reason})
  }
  return out
}
