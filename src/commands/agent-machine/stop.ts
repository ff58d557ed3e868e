import {Args, Flags} from '@oclif/core'

import {AgentMachineCommand} from '../../cli/base-command.js'
import {renderPlanWrapped} from '../../cli/plan-render.js'
import {getContext} from '../../core/context.js'
import {usageError, unexpectedFailure} from '../../core/errors.js'
import {describeOutcome, succeeded} from '../../core/exec.js'
import {step, type Plan} from '../../core/plan/plan.js'
import {profilePodmanContext} from '../../core/podman/profile-context.js'
import {findSession, listSessions, stopArgv, type Session} from '../../core/sessions/sessions.js'

interface StopResult {
  dryRun: boolean
  stopped: string[]
  plan: Plan
}

export default class Stop extends AgentMachineCommand {
  static override summary = 'Stop an agent session: SIGTERM to the tool, SIGKILL after a grace period.'

  static override description = `Stops the session's container (found by its run id label through the profile's podman context): the tool gets SIGTERM, and SIGKILL after --time seconds. The CLI that launched the session then finishes as after any exit: the egress proxy and network are removed, the integrity check runs, the evidence record is completed, and a --worktree clone is left for review with the same message as always.

${AgentMachineCommand.exitCodesSection}`

  static override examples = [
    {description: 'Stop one session', command: '<%= config.bin %> agent-machine stop 3f9c2a1b7d4e5f60'},
    {description: 'Stop every session, giving each 2 s', command: '<%= config.bin %> agent-machine stop --all --time 2'},
    {description: 'Show the podman command only', command: '<%= config.bin %> agent-machine stop 3f9c2a1b7d4e5f60 --dry-run'},
  ]

  static override args = {
    'run-id': Args.string({description: 'The session\'s run id (see `ps`).'}),
  }

  static override flags = {
    all: Flags.boolean({description: 'Stop every running session.', default: false}),
    time: Flags.integer({description: 'Seconds between SIGTERM and SIGKILL.', default: 10, min: 0, max: 600}),
    'profile-file': Flags.string({description: 'Read the profile from this file instead of the active profile (also: SOURCEOSCTL_PROFILE).'}),
    'dry-run': Flags.boolean({description: 'Print the podman commands; stop nothing.', default: false}),
  }

  async run(): Promise<StopResult> {
    const {args, flags} = await this.parse(Stop)
    if (!args['run-id'] && !flags.all) throw usageError('RUN_ID_REQUIRED', 'stop needs a run id, or --all.', 'list the sessions: sourceosctl agent-machine ps')
    if (args['run-id'] && flags.all) throw usageError('RUN_ID_AND_ALL', 'give a run id or --all, not both.', 'sourceosctl agent-machine stop <run-id>')
    const ctx = getContext()
    const {context} = await profilePodmanContext(ctx, flags['profile-file'])
    const targets: Session[] = flags.all ? (await listSessions(ctx.runner, context)).filter((s) => s.state === 'running') : [await findSession(ctx.runner, context, args['run-id']!)]
    const plan: Plan = {verb: 'stop', steps: targets.map((s) => step(stopArgv(context, s, flags.time), `stop session ${s.runId}: SIGTERM, then SIGKILL after ${flags.time} s`, true))}
    const result: StopResult = {dryRun: flags['dry-run'], stopped: [], plan}
    if (flags['dry-run']) {
      this.say(plan.steps.length > 0 ? renderPlanWrapped(plan) : 'No running sessions.')
      return result
    }
    for (const [i, s] of plan.steps.entries()) {
      const [cmd, ...rest] = s.argv as [string, ...string[]]
      const r = await ctx.runner(cmd, rest, {timeoutMs: (flags.time + 30) * 1000})
      if (!succeeded(r) && !/no such container/i.test(r.stderr)) throw unexpectedFailure('SESSION_STOP_FAILED', `cannot stop session ${targets[i]!.runId}: ${describeOutcome(r)}`, 'check `podman ps` and try again')
      result.stopped.push(targets[i]!.runId)
      this.say(`Stopped session ${targets[i]!.runId}.`)
    }
    if (targets.length === 0) this.say('No running sessions.')
    return result
  }
}
