import {Args, Flags} from '@oclif/core'

import {AgentMachineCommand} from '../../cli/base-command.js'
import {getContext} from '../../core/context.js'
import {profilePodmanContext} from '../../core/podman/profile-context.js'
import {findSession, logsArgv} from '../../core/sessions/sessions.js'

export default class Logs extends AgentMachineCommand {
  static override summary = 'Show an agent session\'s output.'

  static override description = `Prints what the session's tool or shell wrote (podman's container log), through the profile's podman context. With --follow it keeps printing until the session ends or you press Ctrl-C.

The log lives with the container: podman keeps it (bounded by containers.conf's log_size_max) while the session runs, and it goes with the container when the session ends (--rm). What a session did stays in its evidence record.

${AgentMachineCommand.exitCodesSection}`

  static override examples = [
    {description: 'What a session printed so far', command: '<%= config.bin %> agent-machine logs 3f9c2a1b7d4e5f60'},
    {description: 'Follow it', command: '<%= config.bin %> agent-machine logs 3f9c2a1b7d4e5f60 --follow'},
  ]

  static override args = {
    'run-id': Args.string({description: 'The session\'s run id (see `ps`).', required: true}),
  }

  static override flags = {
    follow: Flags.boolean({char: 'f', description: 'Keep printing until the session ends.', default: false}),
    'profile-file': Flags.string({description: 'Read the profile from this file instead of the active profile (also: SOURCEOSCTL_PROFILE).'}),
  }

  async run(): Promise<{runId: string; exitCode: number | null}> {
    const {args, flags} = await this.parse(Logs)
    const ctx = getContext()
    const {context} = await profilePodmanContext(ctx, flags['profile-file'])
    const session = await findSession(ctx.runner, context, args['run-id'])
    const [cmd, ...rest] = logsArgv(context, session, flags.follow) as [string, ...string[]]
    const r = await ctx.attachedRunner(cmd, rest, {stdoutToStderr: this.jsonEnabled()})
    if (r.exitCode !== null && r.exitCode !== 0) this.setExitCode(r.exitCode)
    return {runId: session.runId, exitCode: r.exitCode}
  }
}
