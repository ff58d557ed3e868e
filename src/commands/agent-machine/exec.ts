import {Args, Flags} from '@oclif/core'

import {AgentMachineCommand} from '../../cli/base-command.js'
import {renderPlanWrapped} from '../../cli/plan-render.js'
import {getContext} from '../../core/context.js'
import {step, type Plan} from '../../core/plan/plan.js'
import {profilePodmanContext} from '../../core/podman/profile-context.js'
import {execArgv, findSession} from '../../core/sessions/sessions.js'

export default class Exec extends AgentMachineCommand {
  static override summary = 'Open a second shell, or run a command, inside a running agent session\'s container.'

  static override strict = false

  static override description = `Runs in the SAME container as the session (found by its run id label, through the profile's podman context): as its user, in its working directory, with its environment, its mounts and its network, and with no capability it does not have. Without a command, a shell; after \`--\`, that command. The exit code is the command's.

${AgentMachineCommand.exitCodesSection}`

  static override examples = [
    {description: 'A second shell next to a running agent', command: '<%= config.bin %> agent-machine exec 3f9c2a1b7d4e5f60'},
    {description: 'See what it changed so far', command: '<%= config.bin %> agent-machine exec 3f9c2a1b7d4e5f60 -- git status --short'},
  ]

  static override args = {
    'run-id': Args.string({description: 'The session\'s run id (see `ps`).', required: true}),
  }

  static override flags = {
    'profile-file': Flags.string({description: 'Read the profile from this file instead of the active profile (also: SOURCEOSCTL_PROFILE).'}),
    'dry-run': Flags.boolean({description: 'Print the podman command; run nothing.', default: false}),
  }

  async run(): Promise<{runId: string; exitCode: number | null; plan: Plan}> {
    const {args, flags, argv} = await this.parse(Exec)
    const command = (argv as string[]).slice(1)
    const ctx = getContext()
    const {context} = await profilePodmanContext(ctx, flags['profile-file'])
    const session = await findSession(ctx.runner, context, args['run-id'])
    const tty = Boolean(process.stdin.isTTY && process.stdout.isTTY)
    const plan: Plan = {verb: 'exec', steps: [step(execArgv(context, session, {tty}, command), `run ${command.length > 0 ? 'the command' : 'a shell'} in session ${session.runId}'s own container, as its user, with its environment and no added capability`, true)]}
    if (flags['dry-run']) {
      this.say(renderPlanWrapped(plan))
      return {runId: session.runId, exitCode: null, plan}
    }
    const [cmd, ...rest] = plan.steps[0]!.argv as [string, ...string[]]
    const r = await ctx.attachedRunner(cmd, rest, {stdoutToStderr: this.jsonEnabled()})
    const exitCode = r.exitCode ?? 1
    if (exitCode !== 0) this.setExitCode(exitCode)
    return {runId: session.runId, exitCode: r.exitCode, plan}
  }
}
