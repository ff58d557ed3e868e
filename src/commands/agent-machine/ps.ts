import {Flags} from '@oclif/core'

import {AgentMachineCommand} from '../../cli/base-command.js'
import {style} from '../../cli/style.js'
import {getContext} from '../../core/context.js'
import {resolveEvidenceDir} from '../../core/evidence/location.js'
import {profilePodmanContext} from '../../core/podman/profile-context.js'
import {stateDir} from '../../core/profile/location.js'
import {endedSessions, type EndedSession} from '../../core/sessions/ended.js'
import {recoverSessions} from '../../core/sessions/recover.js'
import {listSessions, type Session} from '../../core/sessions/sessions.js'

interface PsResult {
  connection: string | null
  sessions: Session[]
  ended?: EndedSession[]
  recovered?: string[]
}

export default class Ps extends AgentMachineCommand {
  static override summary = 'List this user\'s agent sessions: run id, verb and tool, repo, network, started, state, image.'

  static override aliases = ['agent-machine:ls']

  static override description = `Finds the governed agent containers by their labels (run id, verb, tool, profile, network, workdir), through the active profile's podman context (its machine or connection), and shows one line per session — foreground and detached alike. The egress proxy and the link-local guard of a run are not sessions and are not listed.

Before listing, a session whose owner is gone (its CLI or keeper was killed, or the machine restarted) and whose container has ended is finished: its integrity check, egress teardown and evidence record (sessions/recover.ts). That is the only thing ps changes.

--all adds the sessions that ended, newest first, from the evidence index (the default evidence dir, or --evidence-dir): their status (completed, incomplete) and exit code.

A session's run id is what \`attach\`, \`exec\`, \`logs\` and \`stop\` take.

${AgentMachineCommand.exitCodesSection}`

  static override examples = [
    {description: 'What runs now', command: '<%= config.bin %> agent-machine ps'},
    {description: 'And the last 50 that ended', command: '<%= config.bin %> agent-machine ps --all --limit 50'},
    {description: 'For a script', command: '<%= config.bin %> agent-machine ps --json'},
  ]

  static override flags = {
    all: Flags.boolean({char: 'a', description: 'Also list the sessions that ended (from the evidence index).', default: false}),
    limit: Flags.integer({description: 'With --all: at most this many ended sessions.', default: 20, min: 1, max: 10_000}),
    'evidence-dir': Flags.string({description: 'With --all: read this evidence dir (also: SOURCEOSCTL_EVIDENCE_DIR; default: the state dir, see doctor).'}),
    'profile-file': Flags.string({description: 'Read the profile from this file instead of the active profile (also: SOURCEOSCTL_PROFILE): it says which podman machine or connection to ask.'}),
  }

  async run(): Promise<PsResult> {
    const {flags} = await this.parse(Ps)
    const ctx = getContext()
    const {context} = await profilePodmanContext(ctx, flags['profile-file'])
    const host = await ctx.hostFacts()
    const recovered = await recoverSessions(stateDir(host), ctx.runner, host)
    for (const r of recovered) this.note(`sourceosctl: session ${r.runId} had ended while its CLI was gone; finished now (evidence ${r.evidence ?? 'not completed'}).`)
    const sessions = await listSessions(ctx.runner, context)
    const ended = flags.all ? await endedSessions(resolveEvidenceDir(host, process.cwd(), flags['evidence-dir']), new Set(sessions.map((s) => s.runId)), flags.limit) : undefined
    const c = style()
    if (sessions.length === 0 && (ended ?? []).length === 0) this.say(flags.all ? 'No agent sessions, and none ended.' : 'No agent sessions.')
    else {
      const rows = sessions.map((s) => [s.runId, `${s.verb ?? '?'}${s.tool && s.tool !== 'shell' ? ` ${s.tool}` : ''}`, s.workdir ?? '—', s.network ?? '—', s.startedAt ?? '—', s.state, s.image])
      for (const e of ended ?? []) rows.push([e.runId, `${e.verb ?? '?'}${e.tool ? ` ${e.tool}` : ''}`, e.workdir ?? '—', e.network ?? '—', e.startedAt ?? '—', e.status === 'completed' ? `ended (${e.exitCode ?? '?'})` : e.status, e.image ?? '—'])
      const head = ['RUN ID', 'VERB', 'REPO', 'NETWORK', 'STARTED', 'STATE', 'IMAGE']
      const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
      const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()
      this.say(c.bold(line(head)))
      for (const r of rows) this.say(line(r))
    }
    return {connection: context.connection, sessions, ...(ended ? {ended} : {}), ...(recovered.length > 0 ? {recovered: recovered.map((r) => r.runId)} : {})}
  }
}
