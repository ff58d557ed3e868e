import {Flags} from '@oclif/core'

import {AgentMachineCommand} from '../../cli/base-command.js'
import {style} from '../../cli/style.js'
import {getContext} from '../../core/context.js'
import {profilePodmanContext} from '../../core/podman/profile-context.js'
import {listSessions, type Session} from '../../core/sessions/sessions.js'

interface PsResult {
  connection: string | null
  sessions: Session[]
}

export default class Ps extends AgentMachineCommand {
  static override summary = 'List this user\'s agent sessions: run id, verb and tool, repo, network, started, state, image.'

  static override aliases = ['agent-machine:ls']

  static override description = `Finds the governed agent containers by their labels (run id, verb, tool, profile, network, workdir), through the active profile's podman context (its machine or connection), and shows one line per session. The egress proxy and the link-local guard of a run are not sessions and are not listed. Read-only.

A session's run id is what \`exec\`, \`logs\` and \`stop\` take.

${AgentMachineCommand.exitCodesSection}`

  static override examples = [
    {description: 'What runs now', command: '<%= config.bin %> agent-machine ps'},
    {description: 'For a script', command: '<%= config.bin %> agent-machine ps --json'},
  ]

  static override flags = {
    'profile-file': Flags.string({description: 'Read the profile from this file instead of the active profile (also: SOURCEOSCTL_PROFILE): it says which podman machine or connection to ask.'}),
  }

  async run(): Promise<PsResult> {
    const {flags} = await this.parse(Ps)
    const ctx = getContext()
    const {context} = await profilePodmanContext(ctx, flags['profile-file'])
    const sessions = await listSessions(ctx.runner, context)
    const c = style()
    if (sessions.length === 0) this.say('No agent sessions.')
    else {
      const rows = sessions.map((s) => [s.runId, `${s.verb ?? '?'}${s.tool && s.tool !== 'shell' ? ` ${s.tool}` : ''}`, s.workdir ?? '—', s.network ?? '—', s.startedAt ?? '—', s.state, s.image])
      const head = ['RUN ID', 'VERB', 'REPO', 'NETWORK', 'STARTED', 'STATE', 'IMAGE']
      const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
      const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()
      this.say(c.bold(line(head)))
      for (const r of rows) this.say(line(r))
    }
    return {connection: context.connection, sessions}
  }
}
