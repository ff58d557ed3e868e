import {Flags} from '@oclif/core'

import {AgentMachineCommand} from '../../../cli/base-command.js'
import {getContext} from '../../../core/context.js'
import {profilePodmanContext} from '../../../core/podman/profile-context.js'
import {listSecrets} from '../../../core/secrets/store.js'

interface SecretRow {
  name: string
  podmanName: string
  createdAt: string | null
  /** The active profile's injections that use it: "header -> host". */
  usedBy: string[]
}

interface SecretLsResult {
  connection: string | null
  profile: string | null
  secrets: SecretRow[]
  /** Injections of the active profile whose secret is not stored: a launch would refuse. */
  missing: Array<{secret: string; host: string}>
}

export default class SecretLs extends AgentMachineCommand {
  static override summary = 'List the stored secrets: names, when created, and which injections of the profile use them. Never values.'

  static override description = `Reads podman's secret store (through the profile's podman context) for the secrets sourceosctl stored, and the active profile's spec.secrets.inject. Values are never read or shown.

${AgentMachineCommand.exitCodesSection}`

  static override examples = [{description: 'What is stored, and used where', command: '<%= config.bin %> agent-machine secret ls'}]

  static override flags = {
    'profile-file': Flags.string({description: 'Read the profile from this file instead of the active profile (also: SOURCEOSCTL_PROFILE).'}),
  }

  async run(): Promise<SecretLsResult> {
    const {flags} = await this.parse(SecretLs)
    const ctx = getContext()
    const {context, profile} = await profilePodmanContext(ctx, flags['profile-file'])
    const stored = await listSecrets(ctx.runner, context)
    const inject = profile?.spec.secrets.door === 'proxy' ? (profile.spec.secrets.inject ?? []) : []
    const secrets = stored.map((s) => ({...s, usedBy: inject.filter((i) => i.secret === s.name).map((i) => `${i.header} -> ${i.host}`)}))
    const names = new Set(stored.map((s) => s.name))
    const missing = inject.filter((i) => !names.has(i.secret)).map((i) => ({secret: i.secret, host: i.host}))
    if (secrets.length === 0) this.say('No secrets stored. Store one with: sourceosctl agent-machine secret set <name>')
    else {
      const rows = [['NAME', 'CREATED', 'USED BY'], ...secrets.map((s) => [s.name, s.createdAt ?? '-', s.usedBy.join(', ') || '-'])]
      const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)))
      for (const r of rows) this.say(r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  '))
    }
    for (const m of missing) this.say(`missing: profile ${profile!.metadata.name} injects secret ${m.secret} for ${m.host}, but it is not stored: sourceosctl agent-machine secret set ${m.secret}`)
    return {connection: context.connection, profile: profile?.metadata.name ?? null, secrets, missing}
  }
}
