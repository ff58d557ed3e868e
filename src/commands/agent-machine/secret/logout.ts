import {Flags} from '@oclif/core'

import {AgentMachineCommand} from '../../../cli/base-command.js'
import {renderPlanWrapped} from '../../../cli/plan-render.js'
import {getContext} from '../../../core/context.js'
import {usageError, unexpectedFailure} from '../../../core/errors.js'
import {describeOutcome, succeeded} from '../../../core/exec.js'
import {step, type Plan} from '../../../core/plan/plan.js'
import {TOOL_NAMES, type ToolName} from '../../../core/profile/schema.js'
import {profilePodmanContext} from '../../../core/podman/profile-context.js'
import {listStateVolumes, stateVolumeName, volumeRemoveArgv} from '../../../core/secrets/tool-state.js'

interface LogoutResult {
  profile: string
  connection: string | null
  dryRun: boolean
  volumes: string[]
  removed: string[]
  plan: Plan
}

export default class SecretLogout extends AgentMachineCommand {
  static override summary = "Remove the tools' persistent login state: the profile's named volumes holding ~/.claude and ~/.codex."

  static override description = `With spec.secrets.toolState: volume, each tool keeps its home state (its login, settings, history) in a named Podman volume, sourceos-state-<profile>-<tool>. This removes them (all of the profile's, or one tool's); the next session starts signed out. A volume in use by a running session is not removed (podman refuses).

${AgentMachineCommand.exitCodesSection}`

  static override examples = [
    {description: "Sign every tool of the active profile out", command: '<%= config.bin %> agent-machine secret logout'},
    {description: 'Only Claude Code', command: '<%= config.bin %> agent-machine secret logout --tool claude-code'},
  ]

  static override flags = {
    tool: Flags.string({description: 'Only this tool\'s volume.', options: [...TOOL_NAMES]}),
    'profile-file': Flags.string({description: 'Read the profile from this file instead of the active profile (also: SOURCEOSCTL_PROFILE).'}),
    'dry-run': Flags.boolean({description: 'Print the podman command; remove nothing.', default: false}),
  }

  async run(): Promise<LogoutResult> {
    const {flags} = await this.parse(SecretLogout)
    const ctx = getContext()
    const {context, profile} = await profilePodmanContext(ctx, flags['profile-file'])
    if (!profile) throw usageError('NO_PROFILE', 'no active profile: the volumes are named after it', 'pass --profile-file, or run sourceosctl agent-machine init')
    const present = await listStateVolumes(ctx.runner, context, profile.metadata.name)
    const wanted = flags.tool ? [stateVolumeName(profile.metadata.name, flags.tool as ToolName)] : present
    const volumes = wanted.filter((v) => present.includes(v))
    const plan: Plan = {verb: 'secret logout', steps: volumes.length > 0 ? [step(volumeRemoveArgv(context, volumes), `remove the tool-state volume${volumes.length === 1 ? '' : 's'} ${volumes.join(', ')}: the next session starts signed out`, true)] : []}
    const result: LogoutResult = {profile: profile.metadata.name, connection: context.connection, dryRun: flags['dry-run'], volumes, removed: [], plan}
    if (volumes.length === 0) {
      this.say(`No tool-state volume of profile ${profile.metadata.name}${flags.tool ? ` for ${flags.tool}` : ''}: nothing to remove.`)
      return result
    }
    if (flags['dry-run']) {
      this.say(renderPlanWrapped(plan))
      this.say('\nDry run: nothing was removed.')
      return result
    }
    const argv = plan.steps[0]!.argv
    const r = await ctx.runner(argv[0]!, argv.slice(1), {timeoutMs: 60_000})
    if (!succeeded(r)) throw unexpectedFailure('STATE_VOLUME_REMOVE_FAILED', `cannot remove ${volumes.join(', ')}: ${describeOutcome(r)}`, 'end the sessions that use them (a running session keeps its volume), then try again')
    result.removed = volumes
    this.say(`Removed ${volumes.join(', ')}.`)
    return result
  }
}
