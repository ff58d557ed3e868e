import {Flags} from '@oclif/core'

import {AgentMachineCommand} from '../../../cli/base-command.js'
import {requireActiveProfile} from '../../../core/active-profile.js'
import {getContext} from '../../../core/context.js'
import type {ProfileMount} from '../../../core/profile/schema.js'

export default class RepoLs extends AgentMachineCommand {
  static override summary = 'List the allowlisted repos (the mounts of the active profile; read-only).'

  static override examples = [
    {description: 'Which folders may the agent see?', command: '<%= config.bin %> agent-machine repo ls'},
  ]

  static override flags = {
    'profile-file': Flags.string({description: 'Read this profile file instead of the active profile (also: SOURCEOSCTL_PROFILE).'}),
  }

  async run(): Promise<{profile: string; mounts: ProfileMount[]}> {
    const {flags} = await this.parse(RepoLs)
    const ctx = getContext()
    const {path, profile} = await requireActiveProfile(await ctx.hostFacts(), flags['profile-file'], process.cwd())
    const rows = profile.spec.mounts.map((m) => [m.source, m.target, m.mode])
    const widths = [0, 1].map((k) => Math.max(k === 0 ? 'REPO'.length : 'IN THE CONTAINER'.length, ...rows.map((r) => r[k]!.length)))
    const line = (r: string[]) => `${r[0]!.padEnd(widths[0]!)}  ${r[1]!.padEnd(widths[1]!)}  ${r[2]}`
    this.say(rows.length > 0 ? [line(['REPO', 'IN THE CONTAINER', 'MODE']), ...rows.map(line)].join('\n') : `No repo is allowlisted in ${path}: add one with \`sourceosctl agent-machine repo add <path>\`.`)
    return {profile: path, mounts: profile.spec.mounts}
  }
}
