import {AgentMachineCommand} from '../../cli/base-command.js'
import {launchFlags, worktreeOption} from '../../cli/launch-command.js'
import {SessionLaunchCommand, sessionFlags, type DetachedResult} from '../../cli/session-launch-command.js'
import type {LaunchResult} from '../../core/launch/result.js'

export default class Shell extends SessionLaunchCommand {
  static override summary = 'Open a shell in the governed container, with only the declared mounts.'

  static override description = `Starts the same hardened container as "run" (only the allowlisted mounts, no host env beyond the allowlist, no credentials) and runs /bin/sh in the --repo folder. A TTY is allocated only when stdin and stdout are terminals; piped input works too. Without --repo it works in the current directory (which must be allowlisted). After -- comes a command to run instead of the interactive shell (-- ls -la), or shell options (-- -c 'ls /workspace'). --detach starts it in the background: \`attach <run-id>\` reattaches, \`stop <run-id>\` ends it.

${AgentMachineCommand.exitCodesSection}
  other  the shell's own exit code`

  static override examples = [
    {description: 'Interactive shell in the repo', command: '<%= config.bin %> agent-machine shell --repo ~/dev/my-repo'},
    {description: 'Run one command in the sandbox', command: '<%= config.bin %> agent-machine shell --repo ~/dev/my-repo -- git status'},
    {description: 'Pipe commands in', command: "echo 'ls /workspace' | <%= config.bin %> agent-machine shell --repo ~/dev/my-repo"},
    {description: 'Show the plan only', command: '<%= config.bin %> agent-machine shell --repo ~/dev/my-repo --dry-run'},
    {description: 'A shell in the background, to attach to later', command: '<%= config.bin %> agent-machine shell --repo ~/dev/my-repo --detach'},
  ]

  static override strict = false

  static override flags = {...launchFlags, ...sessionFlags}

  async run(): Promise<LaunchResult | DetachedResult> {
    const {flags, argv} = await this.parse(Shell)
    return this.launchSession('shell', {
      verb: 'shell',
      repo: flags.repo,
      args: shellArgs(argv as string[]),
      dryRun: flags['dry-run'],
      profilePath: flags['profile-file'],
      runId: flags['run-id'],
      evidenceDir: flags['evidence-dir'],
      timeoutSeconds: flags.timeout,
      worktree: worktreeOption(flags),
    }, flags)
  }
}

export const SANDBOX_SHELL = "PS1='(sourceosctl sandbox) $PWD $ ' exec /bin/sh"

/**
 * `-- ls -la` runs ls (as `sh -c 'exec "$@"' sh ls -la`: the words are never re-parsed by a shell);
 * arguments that start with a dash (`-- -c 'ls /workspace'`) are the shell's own options, as before.
 */
export function shellArgs(argv: readonly string[]): string[] {
  // The interactive shell says where it is: `(sourceosctl sandbox) /workspace/<repo> $ ` ($PWD is
  // expanded at each prompt), so a sandbox shell is never mistaken for one on the host.
  if (argv.length === 0) return ['-c', SANDBOX_SHELL]
  if (argv[0]!.startsWith('-')) return [...argv]
  return ['-c', 'exec "$@"', 'sh', ...argv]
}
