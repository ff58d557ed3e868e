import {Args, Flags} from '@oclif/core'

import {AgentMachineCommand} from '../../../cli/base-command.js'
import {renderPlanWrapped} from '../../../cli/plan-render.js'
import {getContext} from '../../../core/context.js'
import {usageError} from '../../../core/errors.js'
import {step, type Plan} from '../../../core/plan/plan.js'
import {profilePodmanContext} from '../../../core/podman/profile-context.js'
import {checkSecretName, removeSecret, secretRemoveArgv} from '../../../core/secrets/store.js'

interface SecretRmResult {
  name: string
  connection: string | null
  dryRun: boolean
  removed: boolean
  plan: Plan
}

export default class SecretRm extends AgentMachineCommand {
  static override summary = 'Remove a stored secret.'

  static override description = `Removes the secret from podman's secret store (through the profile's podman context). A profile that still injects it refuses to launch until it is stored again.

${AgentMachineCommand.exitCodesSection}`

  static override examples = [{description: 'Forget the Anthropic key', command: '<%= config.bin %> agent-machine secret rm anthropic'}]

  static override args = {
    name: Args.string({description: 'The secret\'s name.', required: true}),
  }

  static override flags = {
    'profile-file': Flags.string({description: 'Read the profile from this file instead of the active profile (also: SOURCEOSCTL_PROFILE): it says which podman store.'}),
    'dry-run': Flags.boolean({description: 'Print the podman command; remove nothing.', default: false}),
  }

  async run(): Promise<SecretRmResult> {
    const {args, flags} = await this.parse(SecretRm)
    checkSecretName(args.name)
    const ctx = getContext()
    const {context} = await profilePodmanContext(ctx, flags['profile-file'])
    const plan: Plan = {verb: 'secret rm', steps: [step(secretRemoveArgv(context, args.name), `remove secret ${args.name} from podman's secret store`, true)]}
    const result: SecretRmResult = {name: args.name, connection: context.connection, dryRun: flags['dry-run'], removed: false, plan}
    if (flags['dry-run']) {
      this.say(renderPlanWrapped(plan))
      this.say('\nDry run: nothing was removed.')
      return result
    }
    if (!(await removeSecret(ctx.runner, context, args.name))) throw usageError('SECRET_NOT_FOUND', `no secret named ${args.name} is stored`, 'list them: sourceosctl agent-machine secret ls')
    result.removed = true
    this.say(`Removed secret ${args.name}.`)
    return result
  }
}
