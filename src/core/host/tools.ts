/**
 * Tool presence and versions (`<tool> --version`). Read-only, one short-lived process per tool,
 * always with a timeout so a wedged binary cannot hang `doctor`.
 */
import {describeOutcome, type Runner} from '../exec.js'

export type ToolName = 'podman' | 'git' | 'nix'

export type ToolStatus = 'ok' | 'missing' | 'timeout' | 'error'

export interface ToolProbe {
  name: string
  status: ToolStatus
  /** The bare version, e.g. "4.3.1"; null when missing or not recognised. */
  version: string | null
  /** First line of the tool's own output, for evidence and bug reports. */
  raw: string | null
  /** Why the status is not plainly ok, one line; null when there is nothing to add. */
  detail: string | null
}

export interface ProbeToolOptions {
  timeoutMs?: number
  /** Program to run instead of the tool's name (an absolute path, SOURCEOSCTL_PODMAN, …). */
  binary?: string
}

export const DEFAULT_TOOL_TIMEOUT_MS = 5000

// Each tool prints its own banner; anchor on it so a wrapper's noise is not mistaken for a version.
const VERSION_PATTERNS: Record<ToolName, RegExp> = {
  podman: /podman(?:\.exe)?(?:-remote)? version (\S+)/i,
  git: /git version (\d+(?:\.\d+)+)/i,
  nix: /nix \([^)]*\) (\S+)/i,
}

/** A dotted version anywhere in the text, for banners the patterns above do not know. */
const ANY_VERSION = /\b(\d+\.\d+(?:\.\d+)?(?:[-+][0-9A-Za-z.+-]+)?)\b/

/** The bare version from `<tool> --version` output, or null when none is recognisable. */
export function parseToolVersion(tool: ToolName, stdout: string): string | null {
  return VERSION_PATTERNS[tool].exec(stdout)?.[1] ?? ANY_VERSION.exec(stdout)?.[1] ?? null
}

function firstLine(text: string): string | null {
  return text.split(/\r?\n/).map((line) => line.trim()).find(Boolean) ?? null
}

export async function probeTool(runner: Runner, tool: ToolName, opts: ProbeToolOptions = {}): Promise<ToolProbe> {
  const result = await runner(opts.binary ?? tool, ['--version'], {timeoutMs: opts.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS})
  const base = {name: tool, version: null, raw: null}
  if (result.notFound) return {...base, status: 'missing', detail: `${tool} is not installed or not on PATH`}
  if (result.timedOut) return {...base, status: 'timeout', detail: describeOutcome(result)}
  const raw = firstLine(result.stdout) ?? firstLine(result.stderr)
  if (result.exitCode !== 0) return {...base, raw, status: 'error', detail: describeOutcome(result)}
  const version = parseToolVersion(tool, result.stdout)
  // The tool ran fine; an unknown banner is worth a note, not a failure.
  return {name: tool, status: 'ok', version, raw, detail: version ? null : 'version not recognised in the output'}
}
