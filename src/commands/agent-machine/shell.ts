import {AgentMachineCommand} from '../../cli/base-command.js'
import {LaunchCommand, launchFlags, worktreeOption} from '../../cli/launch-command.js'
import type {LaunchResult} from '../../core/launch/result.js'

export default class Shell extends LaunchCommand {
  static override summary = 'Open a shell in the governed container, with only the declared mounts.'

  static override description = `Starts the same hardened container as "run" (only the allowlisted mounts, no host env beyond the allowlist, no credentials) and runs /bin/sh in the --repo folder. A TTY is allocated only when stdin and stdout are terminals; piped input works too. Arguments after -- are passed to the shell (e.g. -- -c 'ls /workspace').

${AgentMachineCommand.exitCodesSection}
  other  the shell's own exit code`

  static override examples = [
    {description: 'Interactive shell in the repo', command: '<%= config.bin %> agent-machine shell --repo ~/dev/my-repo'},
    {description: 'Pipe commands in', command: "echo 'ls /workspace' | <%= config.bin %> agent-machine shell --repo ~/dev/my-repo"},
    {description: 'Show the plan only', command: '<%= config.bin %> agent-machine shell --repo ~/dev/my-repo --dry-run'},
  ]

  static override strict = false

  static override flags = {...launchFlags}

  async run(): Promise<LaunchResult> {
    const {flags, argv} = await this.parse(Shell)
    return this.launchWith({
      verb: 'shell',
      repo: flags.repo,
      args: argv as string[],
      dryRun: flags['dry-run'],
      profilePath: flags['profile-file'],
      runId: flags['run-id'],
      evidenceDir: flags['evidence-dir'],
      timeoutSeconds: flags.timeout,
      worktree: worktreeOption(flags),
    })
  }
}
