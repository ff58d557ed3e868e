import {Flags} from '@oclif/core'

import {AgentMachineCommand} from '../../cli/base-command.js'
import {launchFlags, worktreeOption} from '../../cli/launch-command.js'
import {SessionLaunchCommand, sessionFlags, type DetachedResult} from '../../cli/session-launch-command.js'
import type {LaunchResult} from '../../core/launch/result.js'

/** What users type for a tool (its binary's name) → the profile's tool name. */
const TOOL_ALIASES: Readonly<Record<string, string>> = {claude: 'claude-code'}

export default class Run extends SessionLaunchCommand {
  static override summary = 'Run an enabled agent tool (codex, claude-code) in the governed container.'

  static override description = `Starts the profile's image as a hardened container (--cap-drop=all, no-new-privileges, read-only root, --init, no host env, no proxy env, --userns=keep-id when rootless) with ONLY the profile's allowlisted mounts, and runs the tool's command from the profile, followed by any arguments after --.

Just before the launch every mount is resolved and judged again, --repo must be one of them (or inside one), the image must be present (and match its pinned digest), and after "podman create" the container's mounts are checked against the plan before anything runs. The tool's exit code is the CLI's; Ctrl-C and SIGTERM reach the tool, and the container is always removed.

--detach starts the session in the background (a keeper process owns it and finishes it when it ends: integrity check, egress teardown, evidence, --worktree bring-back); attach, exec, logs and stop take its run id (README, "Working with sessions").

--dry-run prints the exact podman commands and runs nothing that changes anything. Under --json the tool's output goes to stderr and stdout carries the result document.

${AgentMachineCommand.exitCodesSection}
  other  the tool's own exit code (125-127: podman could not run it)`

  static override examples = [
    {description: 'Run Codex on a repo', command: '<%= config.bin %> agent-machine run --tool codex --repo ~/dev/my-repo'},
    {description: 'Pass arguments to the tool', command: "<%= config.bin %> agent-machine run --tool claude-code --repo ~/dev/my-repo -- -p 'explain this repo'"},
    {description: 'Show the exact podman commands without running them', command: '<%= config.bin %> agent-machine run --tool codex --repo ~/dev/my-repo --dry-run'},
    {description: 'In the background, on its own branch: prints the run id and how to attach, exec and stop', command: "<%= config.bin %> agent-machine run --tool codex --repo ~/dev/my-repo --worktree --detach -- exec 'fix the failing test'"},
  ]

  static override strict = false

  static override flags = {
    tool: Flags.string({char: 't', description: 'Tool to run: one enabled in the profile (codex, claude-code; `claude`, the binary\'s name, means claude-code).', required: true}),
    ...launchFlags,
    ...sessionFlags,
  }

  async run(): Promise<LaunchResult | DetachedResult> {
    const {flags, argv} = await this.parse(Run)
    return this.launchSession('run', {
      verb: 'run',
      tool: Object.hasOwn(TOOL_ALIASES, flags.tool) ? TOOL_ALIASES[flags.tool]! : flags.tool,
      repo: flags.repo,
      args: argv as string[],
      dryRun: flags['dry-run'],
      profilePath: flags['profile-file'],
      runId: flags['run-id'],
      evidenceDir: flags['evidence-dir'],
      timeoutSeconds: flags.timeout,
      worktree: worktreeOption(flags),
    }, flags)
  }
}
