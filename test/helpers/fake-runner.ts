/**
 * A fake Runner for unit tests: routes match a command line and answer with a canned RunResult;
 * every call is recorded so tests can assert the exact argv (and options such as timeoutMs).
 *
 *   const runner = fakeRunner([
 *     {match: 'podman machine list', result: {stdout: '[]'}},
 *     {match: 'podman info', hangs: true},
 *     {match: (cmd, args) => cmd === 'git' && args[0] === 'rev-parse', result: {stdout: 'abc\n'}},
 *   ])
 *   await runner('podman', ['machine', 'list', '--format', 'json'])
 *   expect(runner.calls[0]?.args).toEqual(['machine', 'list', '--format', 'json'])
 */
import type {RunOptions, RunResult, Runner} from '../../src/core/exec.js'

export type RouteMatch = string | ((command: string, args: readonly string[]) => boolean)

export type RouteResult =
  | Partial<RunResult>
  | ((command: string, args: readonly string[], options: RunOptions | undefined) => Promise<Partial<RunResult>> | Partial<RunResult>)

export interface FakeRoute {
  /**
   * A command-line prefix matched on whole words ('podman machine list' matches
   * `podman machine list --format json`, not `podman machine listx`), or a predicate.
   * A string also matches when the command is a path whose basename fits ('/opt/bin/podman …'),
   * and when a leading podman global `--connection <name>` is left out of it ('podman info' matches
   * `podman --connection sourceos-agent info`; tests that care assert the argv itself).
   */
  match: RouteMatch
  /** Fields to override on a successful default result (exit 0, empty output). */
  result?: RouteResult
  /** Behave like a process killed by the Runner's timeout: timedOut, exitCode null. */
  hangs?: boolean
  /** Answer only this many times, then let later routes match. */
  times?: number
}

export interface FakeCall {
  command: string
  args: string[]
  options: RunOptions | undefined
}

export interface FakeRunner extends Runner {
  calls: FakeCall[]
  /** The recorded calls as command lines, e.g. 'podman machine list --format json'. */
  commandLines: () => string[]
}

export interface FakeRunnerOptions {
  /** What an unmatched call does: throw (default, shows the missing route) or act as not installed. */
  unmatched?: 'throw' | 'not-found'
}

/** A complete RunResult from a partial one: defaults to exit 0 with empty output. */
export function runResult(command: string, args: readonly string[], partial: Partial<RunResult> = {}): RunResult {
  return {
    command,
    args: [...args],
    exitCode: 0,
    stdout: '',
    stderr: '',
    notFound: false,
    timedOut: false,
    durationMs: 1,
    ...partial,
  }
}

/** What the real Runner returns for a program that is not on PATH. */
export const NOT_FOUND: Partial<RunResult> = {exitCode: null, notFound: true}

function basename(command: string): string {
  return command.split(/[\\/]/).pop() ?? command
}

function startsWithWords(line: string, prefix: string): boolean {
  return line === prefix || line.startsWith(`${prefix} `)
}

function matches(match: RouteMatch, command: string, args: readonly string[]): boolean {
  if (typeof match === 'function') return match(command, args)
  const bare = args[0] === '--connection' && !match.includes('--connection') ? args.slice(2) : args
  return startsWithWords([command, ...bare].join(' '), match) || startsWithWords([basename(command), ...bare].join(' '), match)
}

export function fakeRunner(routes: FakeRoute[], opts: FakeRunnerOptions = {}): FakeRunner {
  const calls: FakeCall[] = []
  const used = new Map<FakeRoute, number>()

  const runner = async (command: string, args: readonly string[], options?: RunOptions): Promise<RunResult> => {
    calls.push({command, args: [...args], options})
    const route = routes.find((candidate) => {
      const exhausted = candidate.times !== undefined && (used.get(candidate) ?? 0) >= candidate.times
      return !exhausted && matches(candidate.match, command, args)
    })
    if (!route) {
      if (opts.unmatched === 'not-found') return runResult(command, args, NOT_FOUND)
      throw new Error(`fakeRunner: no route for \`${[command, ...args].join(' ')}\``)
    }
    used.set(route, (used.get(route) ?? 0) + 1)
    if (route.hangs) return runResult(command, args, {exitCode: null, timedOut: true, signal: 'SIGTERM', durationMs: options?.timeoutMs ?? 0})
    const partial = typeof route.result === 'function' ? await route.result(command, args, options) : (route.result ?? {})
    return runResult(command, args, partial)
  }

  return Object.assign(runner, {
    calls,
    commandLines: () => calls.map((call) => [call.command, ...call.args].join(' ')),
  })
}
