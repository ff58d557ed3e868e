/**
 * Persistent tool state (spec.secrets.toolState: volume): one named Podman volume per profile and
 * tool holds the tool's own home state (~/.codex, ~/.claude with its .claude.json), so a login
 * made in one session is there in the next. Never the host's token store: the volume lives in
 * podman's storage (in the machine on macOS/Windows), is created empty by podman, and nothing of
 * the host is copied into it. Pure, except the podman calls of the logout verb.
 */
import {describeOutcome, succeeded, type Runner} from '../exec.js'
import {unexpectedFailure} from '../errors.js'
import {podmanArgv, type PodmanContext} from '../podman/context.js'
import type {AgentMachineProfile, ToolName} from '../profile/schema.js'
import {toolDoor} from './door.js'

type Target = Pick<PodmanContext, 'binary' | 'connection'>

export const STATE_VOLUME_PREFIX = 'sourceos-state-'
const HOME = '/home/agent'

export interface ToolStateVolume {
  tool: ToolName
  /** sourceos-state-<profile>-<tool> */
  name: string
  /** Where the tool keeps its state in the container, e.g. /home/agent/.claude. */
  target: string
  /** Points the tool at it (CLAUDE_CONFIG_DIR, CODEX_HOME): Claude Code then keeps .claude.json inside. */
  env: Array<[string, string]>
}

export const stateVolumeName = (profile: string, tool: ToolName): string => `${STATE_VOLUME_PREFIX}${profile}-${tool}`

/** The volumes a launch mounts: one per enabled tool when toolState is volume; none otherwise. */
export function toolStateVolumes(profile: AgentMachineProfile, enabled: readonly ToolName[]): ToolStateVolume[] {
  if (profile.spec.secrets.toolState !== 'volume') return []
  return [...enabled].sort().map((tool) => {
    const d = toolDoor(tool)
    const target = `${HOME}/${d.stateDir}`
    return {tool, name: stateVolumeName(profile.metadata.name, tool), target, env: Object.entries(d.stateEnv).map(([k, v]) => [k, v.replaceAll('{stateDir}', target)] as [string, string])}
  })
}

/**
 * The create flag: a named volume (podman makes it on first use), `U` so its files belong to the
 * agent's user whatever the user namespace, nosuid and nodev like the home tmpfs.
 */
export const volumeArg = (v: Pick<ToolStateVolume, 'name' | 'target'>): string => `--volume=${v.name}:${v.target}:U,nosuid,nodev`

export const volumeListArgv = (ctx: Target): string[] => podmanArgv(ctx, ['volume', 'ls', '--format', '{{.Name}}'])
export const volumeRemoveArgv = (ctx: Target, names: readonly string[]): string[] => podmanArgv(ctx, ['volume', 'rm', ...names])

/** The tool-state volumes in podman's store (optionally of one profile), by name. */
export async function listStateVolumes(runner: Runner, ctx: Target, profile?: string): Promise<string[]> {
  const argv = volumeListArgv(ctx)
  const r = await runner(argv[0]!, argv.slice(1), {timeoutMs: 30_000})
  if (!succeeded(r)) throw unexpectedFailure('STATE_VOLUME_LIST_FAILED', `cannot list podman volumes: ${describeOutcome(r)}`, 'check that podman works (`sourceosctl agent-machine doctor`)')
  const prefix = profile ? `${STATE_VOLUME_PREFIX}${profile}-` : STATE_VOLUME_PREFIX
  return r.stdout.split('\n').map((l) => l.trim()).filter((n) => n.startsWith(prefix)).sort()
}
