/**
 * The one way the host runs git (docs/threat-model.md, "host git"). Everything the agent can write
 * in a repo (config, config.worktree, hooks, commondir, nested repos) is hostile input, so every
 * call goes through here and:
 *   - overrides each config key that makes git run a program (fsmonitor, hooks, pager, editor,
 *     ssh, askpass, credential helpers, gpg, proxy, alternate-refs commands), and turns off
 *     external diff and textconv for the commands that diff;
 *   - never recurses into submodules and never forces safe.directory over a repo;
 *   - never prompts, never takes optional locks (reading must not rewrite the user's index);
 *   - clears the GIT_* variables that would point git at other dirs or programs.
 * Filter drivers and include.path cannot be switched off from the command line: the integrity
 * check (src/core/integrity/) runs before any host git on a repo the agent could write, so the
 * config git reads is the one the user had before the session.
 */
import type {RunOptions, RunResult, Runner} from '../exec.js'

export const HOST_GIT_TIMEOUT_MS = 15_000

/** An empty hooks path: git finds no hooks there (and cannot create any). */
const NO_HOOKS = '/dev/null'

/** `-c key=value` pairs that turn off every way config can make git execute something. */
export const HARDENING_CONFIG: ReadonlyArray<readonly [string, string]> = [
  ['core.fsmonitor', 'false'],
  ['core.hooksPath', NO_HOOKS],
  ['core.pager', 'cat'],
  ['core.editor', 'false'],
  ['sequence.editor', 'false'],
  ['core.askPass', ''],
  ['core.sshCommand', 'false'],
  ['core.gitProxy', ''],
  ['core.alternateRefsCommand', ''],
  ['core.untrackedCache', 'false'],
  ['credential.helper', ''],
  ['gpg.program', 'false'],
  ['commit.gpgSign', 'false'],
  ['tag.gpgSign', 'false'],
  ['submodule.recurse', 'false'],
  ['status.submoduleSummary', 'false'],
  ['diff.ignoreSubmodules', 'all'],
  ['fetch.recurseSubmodules', 'false'],
  ['protocol.allow', 'never'],
  // Local paths only (the --worktree clone is fetched back from a folder).
  ['protocol.file.allow', 'always'],
  ['uploadpack.packObjectsHook', ''],
  ['maintenance.auto', 'false'],
  ['gc.auto', '0'],
]

/** Environment variables that redirect git to other dirs, configs or programs: never inherited. */
const CLEARED_ENV = [
  'GIT_DIR',
  'GIT_WORK_TREE',
  'GIT_COMMON_DIR',
  'GIT_INDEX_FILE',
  'GIT_OBJECT_DIRECTORY',
  'GIT_ALTERNATE_OBJECT_DIRECTORIES',
  'GIT_NAMESPACE',
  'GIT_CONFIG',
  'GIT_CONFIG_COUNT',
  'GIT_CONFIG_PARAMETERS',
  'GIT_EXTERNAL_DIFF',
  'GIT_SSH',
  'GIT_SSH_COMMAND',
  'GIT_ASKPASS',
  'SSH_ASKPASS',
  'GIT_EDITOR',
  'GIT_SEQUENCE_EDITOR',
  'GIT_PAGER',
  'GIT_PROXY_COMMAND',
  'GIT_EXEC_PATH',
  'GIT_TEMPLATE_DIR',
]

export type HostGitOptions = Pick<RunOptions, 'timeoutMs' | 'input'>

/** Commands that can make a textual diff: external diff and textconv programs are switched off. */
const DIFFING = new Set(['diff', 'log', 'show', 'format-patch'])

/** The argv prefix every host git call starts with (shown in plans as it runs). */
export function hostGitArgs(dir: string, args: readonly string[]): string[] {
  const [command, ...rest] = args
  const tail = command !== undefined && DIFFING.has(command) ? [command, '--no-ext-diff', '--no-textconv', ...rest] : [...args]
  return ['--no-pager', ...HARDENING_CONFIG.flatMap(([k, v]) => ['-c', `${k}=${v}`]), '-C', dir, ...tail]
}

function hostGitEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {
    GIT_TERMINAL_PROMPT: '0',
    GIT_OPTIONAL_LOCKS: '0',
    GIT_PAGER: 'cat',
    GIT_EDITOR: 'false',
    GIT_NO_REPLACE_OBJECTS: '1',
  }
  for (const name of CLEARED_ENV) if (!(name in env)) env[name] = undefined
  return env
}

/** Runs `git <hardening> -C dir <args>` through the Runner. Never throws (the Runner's contract). */
export function hostGit(runner: Runner, dir: string, args: readonly string[], opts: HostGitOptions = {}): Promise<RunResult> {
  return runner('git', hostGitArgs(dir, args), {timeoutMs: opts.timeoutMs ?? HOST_GIT_TIMEOUT_MS, env: hostGitEnv(), ...(opts.input === undefined ? {} : {input: opts.input})})
}

/** The same call as a plan step's argv (a real run executes exactly this). */
export function hostGitArgv(dir: string, args: readonly string[]): string[] {
  return ['git', ...hostGitArgs(dir, args)]
}
