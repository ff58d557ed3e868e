import {Args, Flags} from '@oclif/core'

import {AgentMachineCommand} from '../../cli/base-command.js'
import {getContext} from '../../core/context.js'
import {AgentMachineError} from '../../core/errors.js'
import {profilePodmanContext} from '../../core/podman/profile-context.js'
import {stateDir} from '../../core/profile/location.js'
import {OUTPUT_MAX, outputFile} from '../../core/sessions/output.js'
import {findSession, logsArgv} from '../../core/sessions/sessions.js'
import {SESSION_LOG_MAX} from '../../core/sessions/detach-steps.js'

export default class Logs extends AgentMachineCommand {
  static override summary = 'Show an agent session\'s output, while it runs and (detached sessions) after it ended.'

  static override description = `Prints what the session's tool or shell wrote (podman's container log), through the profile's podman context. With --follow it keeps printing until the session ends or you press Ctrl-C.

Where the output is kept, and for how long:
  - while a session runs: in podman's container log. A detached session's log is bounded at ${SESSION_LOG_MAX} (--log-opt=max-size on its create: podman truncates it there); a foreground session's by containers.conf's log_size_max (its output is on its own terminal anyway).
  - after a detached session ended: its keeper saves the log to the state dir, sessions/<run id>.output.log (mode 0600, at most ${OUTPUT_MAX / 1024 / 1024} MiB, the end kept; the newest 50 sessions' are kept), and logs prints that.
  - a foreground session's log goes with its container (--rm).
What a session did stays in its evidence record either way.

${AgentMachineCommand.exitCodesSection}`

  static override examples = [
    {description: 'What a session printed so far', command: '<%= config.bin %> agent-machine logs 3f9c2a1b7d4e5f60'},
    {description: 'Follow it', command: '<%= config.bin %> agent-machine logs 3f9c2a1b7d4e5f60 --follow'},
    {description: 'For a script (the output goes to stderr, the result to stdout)', command: '<%= config.bin %> agent-machine logs 3f9c2a1b7d4e5f60 --json'},
  ]

  static override args = {
    'run-id': Args.string({description: 'The session\'s run id (see `ps --all`).', required: true}),
  }

  static override flags = {
    follow: Flags.boolean({char: 'f', description: 'Keep printing until the session ends.', default: false}),
    'profile-file': Flags.string({description: 'Read the profile from this file instead of the active profile (also: SOURCEOSCTL_PROFILE).'}),
  }

  async run(): Promise<{runId: string; exitCode: number | null; source: 'container' | 'kept'; file: string | null}> {
    const {args, flags} = await this.parse(Logs)
    const ctx = getContext()
    const {context} = await profilePodmanContext(ctx, flags['profile-file'])
    let session
    try {
      session = await findSession(ctx.runner, context, args['run-id'])
    } catch (error) {
      // ended: the output its keeper kept
      if (!(error instanceof AgentMachineError) || error.code !== 'SESSION_NOT_FOUND') throw error
      const file = outputFile(stateDir(await ctx.hostFacts()), args['run-id'])
      const {readRegularFile} = await import('../../core/evidence/safe-read.js')
      const kept = await readRegularFile(file, OUTPUT_MAX + 1).catch(() => null)
      if (!kept) throw error
      ;(this.jsonEnabled() ? process.stderr : process.stdout).write(kept)
      return {runId: args['run-id'], exitCode: 0, source: 'kept', file}
    }
    const [cmd, ...rest] = logsArgv(context, session, flags.follow) as [string, ...string[]]
    const r = await ctx.attachedRunner(cmd, rest, {stdoutToStderr: this.jsonEnabled()})
    if (r.exitCode !== null && r.exitCode !== 0) this.setExitCode(r.exitCode)
    return {runId: session.runId, exitCode: r.exitCode, source: 'container', file: null}
  }
}
