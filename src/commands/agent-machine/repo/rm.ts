import {Args, Flags} from '@oclif/core'

import {AgentMachineCommand} from '../../../cli/base-command.js'
import {renderPlanWrapped} from '../../../cli/plan-render.js'
import {getContext} from '../../../core/context.js'
import {applyRemoveRepo, planRemoveRepo} from '../../../core/init/repo-remove.js'
import type {Plan} from '../../../core/plan/plan.js'
import type {ProfileMount} from '../../../core/profile/schema.js'

export default class RepoRm extends AgentMachineCommand {
  static override summary = 'Take a repo off the allowlist (remove its mount from the active profile).'

  static override description = `Removes the mount whose source is <path> (as given, ~ expanded, or its real path) from spec.mounts of the active profile. The file is edited in place — comments and every other setting stay — and written atomically (mode 0600). The other mounts are kept; a path that is not allowlisted is an error that lists the ones that are.

${AgentMachineCommand.exitCodesSection}`

  static override examples = [
    {description: 'Stop allowing a repo', command: '<%= config.bin %> agent-machine repo rm ~/dev/old-repo'},
    {description: 'See the edit first', command: '<%= config.bin %> agent-machine repo rm ~/dev/old-repo --dry-run'},
  ]

  static override args = {
    path: Args.string({description: 'The allowlisted repo folder to remove.', required: true}),
  }

  static override flags = {
    'profile-file': Flags.string({description: 'Edit this profile file instead of the active profile (also: SOURCEOSCTL_PROFILE).'}),
    'dry-run': Flags.boolean({description: 'Print the plan and the edited profile; write nothing.', default: false}),
  }

  async run(): Promise<{destination: string; dryRun: boolean; removed: ProfileMount[]; remaining: ProfileMount[]; plan: Plan}> {
    const {args, flags} = await this.parse(RepoRm)
    const ctx = getContext()
    const planned = await planRemoveRepo({host: await ctx.hostFacts(), cwd: process.cwd(), repo: args.path, profilePath: flags['profile-file']})
    if (flags['dry-run']) {
      this.say(renderPlanWrapped(planned.plan))
      this.say('')
      this.say(planned.yaml.trimEnd())
    } else {
      await applyRemoveRepo(planned)
      for (const m of planned.removed) this.say(`Removed ${m.source} → ${m.target} from ${planned.destination}`)
      if (planned.remaining.length === 0) this.info('note: no repo is allowlisted now; add one with `sourceosctl agent-machine repo add <path>`')
    }
    return {destination: planned.destination, dryRun: flags['dry-run'], removed: planned.removed, remaining: planned.remaining, plan: planned.plan}
  }
}
