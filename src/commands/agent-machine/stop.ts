import {Args, Flags} from '@oclif/core'

import {AgentMachineCommand} from '../../cli/base-command.js'
import {renderPlanWrapped} from '../../cli/plan-render.js'
import {getContext} from '../../core/context.js'
import {removeSharedEgress} from '../../core/network/lifecycle.js'
import {usageError, unexpectedFailure} from '../../core/errors.js'
import {describeOutcome, succeeded} from '../../core/exec.js'
import {step, type Plan} from '../../core/plan/plan.js'
import {profilePodmanContext} from '../../core/podman/profile-context.js'
import {stateDir} from '../../core/profile/location.js'
import {waitFinished} from '../../core/sessions/finish-wait.js'
import {recoverSessions} from '../../core/sessions/recover.js'
import {findSession, listSessions, stopArgv, type Session} from '../../core/sessions/sessions.js'
import {readSessionState, type SessionDone} from '../../core/sessions/state.js'

interface StopResult {
  dryRun: boolean
  stopped: string[]
  /** How each stopped detached session ended (its keeper's after-session work, or recovery's); null: a foreground session (its own CLI reports it) or still finishing. */
  finished: Array<{runId: string; done: SessionDone | null}>
  plan: Plan
  /** --egress: the shared egress proxies (with their network holders and pool networks) removed, or that a dry run would remove, and those kept (in use). */
  egress?: {removed: string[]; kept: string[]}
}

export default class Stop extends AgentMachineCommand {
  static override summary = 'Stop an agent session: SIGTERM to the tool, SIGKILL after a grace period.'

  static override description = `Stops the session's container (found by its run id label through the profile's podman context): the tool gets SIGTERM, and SIGKILL after --time seconds. The session's owner then finishes it as after any exit — the foreground CLI that launched it, or a detached session's keeper: the integrity check runs (anything planted is quarantined, exit 6), the egress proxy's log is read and the proxy and network are removed, the evidence record is completed, and a --worktree branch is brought back and its clone left for review. For a detached session, stop waits for that (up to --time + 60 s) and prints its messages, as a foreground run would; when the owner is gone (killed, a restart), stop finishes the session itself.

${AgentMachineCommand.exitCodesSection}`

  static override examples = [
    {description: 'Stop one session', command: '<%= config.bin %> agent-machine stop 3f9c2a1b7d4e5f60'},
    {description: 'Stop every session, giving each 2 s', command: '<%= config.bin %> agent-machine stop --all --time 2'},
    {description: 'Show the podman command only', command: '<%= config.bin %> agent-machine stop 3f9c2a1b7d4e5f60 --dry-run'},
    {description: 'For a script: which sessions stopped and how each ended', command: '<%= config.bin %> agent-machine stop 3f9c2a1b7d4e5f60 --json'},
    {description: 'Stop every session, then remove the idle shared egress proxies with their network holders and networks', command: '<%= config.bin %> agent-machine stop --all --egress'},
  ]

  static override args = {
    'run-id': Args.string({description: 'The session\'s run id (see `ps`).'}),
  }

  static override flags = {
    all: Flags.boolean({description: 'Stop every running session.', default: false}),
    egress: Flags.boolean({description: 'With --all: then remove the idle shared egress proxies (spec.network.proxy: shared) of the podman host, with their network holders and pool networks; one still in use is kept.', default: false}),
    time: Flags.integer({description: 'Seconds between SIGTERM and SIGKILL.', default: 10, min: 0, max: 600}),
    'profile-file': Flags.string({description: 'Read the profile from this file instead of the active profile (also: SOURCEOSCTL_PROFILE).'}),
    'dry-run': Flags.boolean({description: 'Print the podman commands; stop nothing.', default: false}),
  }

  async run(): Promise<StopResult> {
    const {args, flags} = await this.parse(Stop)
    if (!args['run-id'] && !flags.all) throw usageError('RUN_ID_REQUIRED', 'stop needs a run id, or --all.', 'list the sessions: sourceosctl agent-machine ps')
    if (args['run-id'] && flags.all) throw usageError('RUN_ID_AND_ALL', 'give a run id or --all, not both.', 'sourceosctl agent-machine stop <run-id>')
    if (flags.egress && !flags.all) throw usageError('EGRESS_NEEDS_ALL', '--egress removes the shared egress proxies of every session, so it goes with --all.', 'sourceosctl agent-machine stop --all --egress')
    const ctx = getContext()
    const {context} = await profilePodmanContext(ctx, flags['profile-file'])
    const host = await ctx.hostFacts()
    const state = stateDir(host)
    // sessions whose owner is gone and whose container ended: finished first (sessions/recover.ts)
    if (!flags['dry-run']) for (const r of await recoverSessions(state, ctx.runner, host)) this.note(`sourceosctl: session ${r.runId} had ended while its CLI was gone; finished now.`)
    const targets: Session[] = flags.all ? (await listSessions(ctx.runner, context)).filter((s) => s.state === 'running') : [await findSession(ctx.runner, context, args['run-id']!)]
    const plan: Plan = {verb: 'stop', steps: targets.map((s) => step(stopArgv(context, s, flags.time), `stop session ${s.runId}: SIGTERM, then SIGKILL after ${flags.time} s`, true))}
    const result: StopResult = {dryRun: flags['dry-run'], stopped: [], finished: [], plan}
    if (flags['dry-run']) {
      // the proxies still in use by the sessions this would stop are kept in a dry run's view (they are not stopped yet)
      if (flags.egress) await this.removeEgress(ctx.runner, context, state, result, true)
      this.say(plan.steps.length > 0 ? renderPlanWrapped(plan) : 'No running sessions.')
      return result
    }
    // the owners as they are before the stop (a keeper removes its state file before it reports)
    const owners = new Map(await Promise.all(targets.map(async (s) => [s.runId, await readSessionState(state, s.runId)] as const)))
    for (const [i, s] of plan.steps.entries()) {
      const [cmd, ...rest] = s.argv as [string, ...string[]]
      const r = await ctx.runner(cmd, rest, {timeoutMs: (flags.time + 30) * 1000})
      if (!succeeded(r) && !/no such container/i.test(r.stderr)) throw unexpectedFailure('SESSION_STOP_FAILED', `cannot stop session ${targets[i]!.runId}: ${describeOutcome(r)}`, 'check `podman ps` and try again')
      result.stopped.push(targets[i]!.runId)
      this.say(`Stopped session ${targets[i]!.runId}.`)
    }
    // the after-session work of each (its keeper's, or done here when the keeper is gone), reported as a foreground run would
    for (const runId of result.stopped) {
      const f = await waitFinished(state, ctx.runner, host, runId, (flags.time + 60) * 1000, undefined, owners.get(runId) ?? null)
      if (!f.finished) {
        this.note(`sourceosctl: session ${runId} is still finishing (its after-session work); see \`sourceosctl agent-machine ps --all\` shortly.`)
        continue
      }
      result.finished.push({runId, done: f.done})
      for (const line of f.done?.messages ?? []) this.note(line.startsWith('sourceosctl:') || line.startsWith('  ') ? line : `sourceosctl: ${line}`)
      if (f.done?.evidence) this.info(`sourceosctl: evidence ${f.done.evidence}`)
    }
    if (targets.length === 0) this.say('No running sessions.')
    if (flags.egress) {
      await this.removeEgress(ctx.runner, context, state, result, false)
      for (const name of result.egress!.removed) this.say(`Removed the shared egress proxy ${name} with its network holders and networks.`)
    }
    return result
  }

  /** --egress: the idle shared proxies, their holders and networks (network/lifecycle.ts removeSharedEgress); a dry run adds the commands to the plan. */
  private async removeEgress(runner: Parameters<typeof removeSharedEgress>[0], context: {binary: string; connection: string | null}, state: string, result: StopResult, dryRun: boolean): Promise<void> {
    const out = await removeSharedEgress(runner, context, state, {dryRun})
    result.egress = {removed: out.removed, kept: out.kept}
    if (dryRun) for (const argv of out.steps) result.plan.steps.push(step(argv, 'remove an idle shared egress proxy with its network holders, or its pool networks (--egress)', true))
    for (const name of out.kept) this.note(`sourceosctl: kept the shared egress proxy ${name}: a session or a launch still uses it.`)
  }
}
