import {Args, Flags} from '@oclif/core'

import {AgentMachineCommand} from '../../cli/base-command.js'
import {renderPlanWrapped} from '../../cli/plan-render.js'
import {getContext} from '../../core/context.js'
import {usageError} from '../../core/errors.js'
import {step, type Plan} from '../../core/plan/plan.js'
import {podmanArgv} from '../../core/podman/context.js'
import {profilePodmanContext} from '../../core/podman/profile-context.js'
import {stateDir} from '../../core/profile/location.js'
import {waitFinished} from '../../core/sessions/finish-wait.js'
import {findSession} from '../../core/sessions/sessions.js'
import {readSessionState, type SessionDone} from '../../core/sessions/state.js'

/** Ctrl-P Ctrl-Q, as docker and podman: detaches again and leaves the session running. */
export const DETACH_KEYS = 'ctrl-p,ctrl-q'

interface AttachResult {
  runId: string
  /** Whether the session ended while attached (false: detached again with the detach keys). */
  ended: boolean
  /** The session's exit code when it ended (the keeper's report), else null. */
  exitCode: number | null
  done: SessionDone | null
  plan: Plan
}

export default class Attach extends AgentMachineCommand {
  static override summary = 'Reattach this terminal to a detached session (run --detach, shell --detach).'

  static override description = `Connects this terminal to the session's tool or shell (podman attach, through the profile's podman context), with the same signal rules as a foreground run: with a terminal, Ctrl-C goes to the tool as a keystroke; without one, SIGINT and SIGTERM reach it through podman kill. Ctrl-P Ctrl-Q detaches again and leaves the session running.

When the session ends while attached, attach waits for its after-session work (done once, by the session's keeper — or here, when the keeper is gone: the integrity check, the egress log and teardown, the evidence completed, a --worktree clone left for review), prints its messages as a foreground run would, and exits with the session's exit code.

${AgentMachineCommand.exitCodesSection}
  other  the session's own exit code, when it ended while attached`

  static override examples = [
    {description: 'Back to a background Codex session', command: '<%= config.bin %> agent-machine attach 3f9c2a1b7d4e5f60'},
    {description: 'Show the podman command only', command: '<%= config.bin %> agent-machine attach 3f9c2a1b7d4e5f60 --dry-run'},
  ]

  static override args = {
    'run-id': Args.string({description: 'The session\'s run id (see `ps`).', required: true}),
  }

  static override flags = {
    'profile-file': Flags.string({description: 'Read the profile from this file instead of the active profile (also: SOURCEOSCTL_PROFILE).'}),
    'dry-run': Flags.boolean({description: 'Print the podman command; attach nothing.', default: false}),
  }

  async run(): Promise<AttachResult> {
    const {args, flags} = await this.parse(Attach)
    const ctx = getContext()
    const {context} = await profilePodmanContext(ctx, flags['profile-file'])
    const session = await findSession(ctx.runner, context, args['run-id'])
    if (session.state !== 'running') throw usageError('SESSION_NOT_RUNNING', `session ${session.runId} is ${session.state}, not running.`, 'see `sourceosctl agent-machine ps --all`, or start a new one')
    const tty = Boolean(process.stdin.isTTY && process.stdout.isTTY)
    // no signal proxy of podman's own (rootless podman's re-exec parent drops it): the CLI relays via podman kill, as a foreground run does
    const argv = podmanArgv(context, ['attach', `--detach-keys=${DETACH_KEYS}`, '--sig-proxy=false', session.container])
    const plan: Plan = {verb: 'attach', steps: [step(argv, `attach this terminal to session ${session.runId} (Ctrl-P Ctrl-Q detaches again)`, false)]}
    if (flags['dry-run']) {
      this.say(renderPlanWrapped(plan))
      return {runId: session.runId, ended: false, exitCode: null, done: null, plan}
    }
    const kill = (signal: NodeJS.Signals): void => {
      void ctx.runner(context.binary, podmanArgv(context, ['kill', `--signal=${signal}`, session.container]).slice(1), {timeoutMs: 15_000})
    }
    const host = await ctx.hostFacts()
    // its owner as it is now (a keeper removes its state file before it reports)
    const owner = await readSessionState(stateDir(host), session.runId)
    const [cmd, ...rest] = argv as [string, ...string[]]
    if (tty) this.info(`sourceosctl: attached to session ${session.runId} (detach: Ctrl-P Ctrl-Q)`)
    await ctx.attachedRunner(cmd, rest, {stdoutToStderr: this.jsonEnabled(), forwardSignal: kill, ownProcessGroup: !tty})
    // still running: detached again (the detach keys, or the terminal went away)
    const now = await findSession(ctx.runner, context, session.runId).catch(() => null)
    if (now && now.state === 'running') {
      if (tty) process.stderr.write('\n')
      this.info(`sourceosctl: detached; session ${session.runId} still runs (attach again: sourceosctl agent-machine attach ${session.runId})`)
      return {runId: session.runId, ended: false, exitCode: null, done: null, plan}
    }
    const f = await waitFinished(stateDir(host), ctx.runner, host, session.runId, 120_000, undefined, owner)
    const done = f.finished ? f.done : null
    for (const line of done?.messages ?? []) this.note(line.startsWith('sourceosctl:') || line.startsWith('  ') ? line : `sourceosctl: ${line}`)
    if (!f.finished) this.note(`sourceosctl: session ${session.runId} is still finishing (its after-session work); see \`sourceosctl agent-machine ps --all\` shortly.`)
    const exitCode = done?.exitCode ?? null
    if (exitCode !== null && exitCode !== 0) this.setExitCode(exitCode)
    return {runId: session.runId, ended: true, exitCode, done, plan}
  }
}
