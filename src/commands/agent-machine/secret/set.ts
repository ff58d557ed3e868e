import {Args, Flags} from '@oclif/core'

import {AgentMachineCommand} from '../../../cli/base-command.js'
import {renderPlanWrapped} from '../../../cli/plan-render.js'
import {getContext} from '../../../core/context.js'
import {step, type Plan} from '../../../core/plan/plan.js'
import {readSecretValue} from '../../../core/secrets/read-value.js'
import {checkSecretName, normaliseSecretValue, podmanSecretName, secretCreateArgv, setSecret} from '../../../core/secrets/store.js'
import {profilePodmanContext} from '../../../core/podman/profile-context.js'

interface SecretSetResult {
  name: string
  podmanName: string
  connection: string | null
  dryRun: boolean
  stored: boolean
  replaced: boolean
  plan: Plan
}

export default class SecretSet extends AgentMachineCommand {
  static override summary = 'Store a secret (an API key or token) for the Secrets Door: read from a no-echo prompt, or from stdin when piped.'

  static override description = `Stores the value in Podman's secret store (podman secret create, the value on stdin), through the profile's podman context: your own store on Linux, the machine's on macOS/Windows. Only the egress proxy sidecar of a session whose profile injects it (spec.secrets.inject) ever receives it; the agent's container gets a placeholder (docs/secrets.md).

The value is never taken from the command line or the environment. A value already stored under the name is replaced.

${AgentMachineCommand.exitCodesSection}`

  static override examples = [
    {description: 'Type it at a prompt (not shown)', command: '<%= config.bin %> agent-machine secret set anthropic'},
    {description: 'Pipe it from a password manager', command: 'pass show anthropic | <%= config.bin %> agent-machine secret set anthropic'},
  ]

  static override args = {
    name: Args.string({description: 'The secret\'s name (lower-case letters, digits, _ . -), as spec.secrets.inject names it.', required: true}),
  }

  static override flags = {
    'profile-file': Flags.string({description: 'Read the profile from this file instead of the active profile (also: SOURCEOSCTL_PROFILE): it says which podman store.'}),
    'dry-run': Flags.boolean({description: 'Print the podman command (without the value); read and store nothing.', default: false}),
  }

  async run(): Promise<SecretSetResult> {
    const {args, flags} = await this.parse(SecretSet)
    checkSecretName(args.name)
    const ctx = getContext()
    const {context, platform} = await profilePodmanContext(ctx, flags['profile-file'])
    const plan: Plan = {verb: 'secret set', steps: [step(secretCreateArgv(context, args.name, platform), `store secret ${args.name} in podman's secret store (the value on stdin, never in argv); an existing one is removed first`, true)]}
    const result: SecretSetResult = {name: args.name, podmanName: podmanSecretName(args.name), connection: context.connection, dryRun: flags['dry-run'], stored: false, replaced: false, plan}
    if (flags['dry-run']) {
      this.say(renderPlanWrapped(plan))
      this.say('\nDry run: nothing was read or stored.')
      return result
    }
    const value = normaliseSecretValue(await readSecretValue(args.name))
    const {replaced} = await setSecret(ctx.runner, context, args.name, value, platform)
    result.stored = true
    result.replaced = replaced
    this.say(`${replaced ? 'Replaced' : 'Stored'} secret ${args.name} (podman secret ${result.podmanName}). Inject it with spec.secrets.inject in the profile (docs/secrets.md).`)
    return result
  }
}
