import {Flags} from '@oclif/core'

import {AgentMachineCommand} from '../../cli/base-command.js'
import {getContext} from '../../core/context.js'
import {collectFingerprint} from '../../core/fingerprint/collect.js'
import type {AgentMachineFingerprint} from '../../core/fingerprint/schema.js'

export default class Fingerprint extends AgentMachineCommand {
  static override summary = 'Emit an AgentMachineFingerprint JSON document describing this agent machine.'

  static override description = `Collects the host, the podman client and server, rootless mode, the machine, tool versions (podman, git, nix), the active profile's name and policy hash, and the image's ID and digest when it is present locally.

The document carries a stable "fingerprint" digest (sha256 over RFC 8785 canonical JSON) that covers every field except the time, the machine's running state and the profile file's location: two runs in a row on an unchanged setup give the same digest.

Output is JSON by default (schemas/agent-machine-fingerprint.schema.json); --json gives the same document. Read-only.

${AgentMachineCommand.exitCodesSection}`

  static override examples = [
    {description: 'Print the fingerprint document', command: '<%= config.bin %> agent-machine fingerprint'},
    {description: 'Just the digest', command: "<%= config.bin %> agent-machine fingerprint | jq -r .fingerprint"},
  ]

  static override flags = {
    'profile-file': Flags.string({description: 'Read the profile from this file instead of the active profile (also: SOURCEOSCTL_PROFILE).'}),
    timeout: Flags.integer({description: 'Deadline for each probe, in seconds.', default: 10, min: 1, max: 600}),
  }

  async run(): Promise<AgentMachineFingerprint> {
    const {flags} = await this.parse(Fingerprint)
    const ctx = getContext()
    const doc = await collectFingerprint({
      runner: ctx.runner,
      host: await ctx.hostFacts(),
      cwd: process.cwd(),
      profilePath: flags['profile-file'],
      timeoutMs: flags.timeout * 1000,
      now: ctx.now,
    })
    // JSON is the default output; under --json oclif prints the returned document itself.
    if (!this.jsonEnabled()) this.log(JSON.stringify(doc, null, 2))
    return doc
  }
}
