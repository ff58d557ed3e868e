import {Args, Flags} from '@oclif/core'

import {AgentMachineCommand} from '../../../cli/base-command.js'
import {renderPlanWrapped} from '../../../cli/plan-render.js'
import {getContext} from '../../../core/context.js'
import {AgentMachineError, usageError} from '../../../core/errors.js'
import {writeFileAtomic} from '../../../core/fs-atomic.js'
import {planInit} from '../../../core/init/plan-init.js'
import {addMountsKeepingComments} from '../../../core/init/repo-remove.js'
import {loadProfileFile} from '../../../core/profile/loader.js'
import type {Plan} from '../../../core/plan/plan.js'
import type {ProfileMount} from '../../../core/profile/schema.js'

export default class RepoAdd extends AgentMachineCommand {
  static override summary = 'Allowlist a repo: add it as a mount of the active profile (the same as `init --repo`).'

  static override description = `The path is expanded, resolved with realpath and judged by the mount policy first (home, broad roots and credential folders are refused, exit 3), then added under /workspace/<name>; the other mounts are kept and the file is written atomically. Without a profile yet, use \`init --profile <template> --repo <path>\`.

${AgentMachineCommand.exitCodesSection}`

  static override examples = [
    {description: 'Allow a second repo', command: '<%= config.bin %> agent-machine repo add ~/dev/other-repo'},
  ]

  static override args = {
    path: Args.string({description: 'The repo folder to allowlist.', required: true}),
  }

  static override flags = {
    'profile-file': Flags.string({description: 'Edit this profile file instead of the active profile.'}),
    'dry-run': Flags.boolean({description: 'Print the plan and the edited profile; write nothing.', default: false}),
  }

  async run(): Promise<{destination: string; dryRun: boolean; added: ProfileMount[]; plan: Plan}> {
    const {args, flags} = await this.parse(RepoAdd)
    const ctx = getContext()
    const planned = await planInit({host: await ctx.hostFacts(), cwd: process.cwd(), repos: [args.path], output: flags['profile-file'], force: false}).catch((error: unknown) => {
      if (error instanceof AgentMachineError && error.code === 'TEMPLATE_REQUIRED') {
        throw usageError('PROFILE_MISSING', `there is no profile yet to add ${args.path} to.`, `create it: \`sourceosctl agent-machine init --profile <template> --repo ${args.path}\``)
      }
      throw error
    })
    // The file as it is, with the new mount appended: its comments stay.
    const yaml = planned.addedMounts.length > 0 ? addMountsKeepingComments((await loadProfileFile(planned.destination)).text, planned.addedMounts, planned.destination) : null
    if (flags['dry-run']) {
      this.say(renderPlanWrapped(planned.plan))
      this.say('')
      this.say((yaml ?? planned.yaml).trimEnd())
    } else {
      if (yaml) await writeFileAtomic(planned.destination, yaml, {mode: 0o600, overwrite: true})
      if (planned.addedMounts.length === 0) this.say(`${args.path} is already allowlisted in ${planned.destination}; nothing to change.`)
      for (const m of planned.addedMounts) this.say(`Added ${m.source} → ${m.target} (${m.mode}) to ${planned.destination}`)
    }
    for (const w of planned.warnings) this.note(`warning: ${w}`)
    return {destination: planned.destination, dryRun: flags['dry-run'], added: planned.addedMounts, plan: planned.plan}
  }
}
