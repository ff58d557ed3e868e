import {Args, Flags} from '@oclif/core'

import {AgentMachineCommand} from '../../cli/base-command.js'
import {getContext} from '../../core/context.js'
import {step, type Plan} from '../../core/plan/plan.js'
import {stateDir} from '../../core/profile/location.js'
import {execArgvFor, execWithEvidence} from '../../core/sessions/exec-fast.js'
import {ownerAlive, readSessionState} from '../../core/sessions/state.js'

interface ExecResult {
  runId: string
  exitCode: number | null
  /** The run's exec log (a linked evidence record, sessions/exec-evidence.ts); null when the session has no state file (a container of an older CLI). */
  evidence: string | null
  plan: Plan
}

export default class Exec extends AgentMachineCommand {
  static override summary = 'Open a second shell, or run a command, inside a running agent session\'s container.'

  static override strict = false

  static override description = `Runs in the SAME container as the session, as its user, in its working directory, with its environment, its mounts and its network, and with no capability it does not have (podman exec with no --user, --env or --privileged). Without a command, a shell; after \`--\`, that command. The exit code is the command's.

The session is found by its state file (written by the CLI or keeper that owns it, which still runs), so the exec is one podman call — and its plain form (exec <run-id> [-- command]) runs without loading the rest of the CLI; otherwise by its run id label through the profile's podman context.

Each exec is recorded in the run's evidence, as a linked record: <evidence dir>/exec/<run id>.jsonl gets an exec-start line (the command, its arguments redacted like the record's) and an exec-end line (its exit code), hash-chained line to line. See README "Working with sessions".

${AgentMachineCommand.exitCodesSection}
  other  the command's own exit code (125-127: podman could not run it)`

  static override examples = [
    {description: 'A second shell next to a running agent', command: '<%= config.bin %> agent-machine exec 3f9c2a1b7d4e5f60'},
    {description: 'See what it changed so far', command: '<%= config.bin %> agent-machine exec 3f9c2a1b7d4e5f60 -- git status --short'},
    {description: 'Show the podman command only', command: '<%= config.bin %> agent-machine exec 3f9c2a1b7d4e5f60 --dry-run -- git log -1'},
  ]

  static override args = {
    'run-id': Args.string({description: 'The session\'s run id (see `ps`).', required: true}),
  }

  static override flags = {
    'profile-file': Flags.string({description: 'Read the profile from this file instead of the active profile (also: SOURCEOSCTL_PROFILE); used only for a session without a state file.'}),
    'dry-run': Flags.boolean({description: 'Print the podman command; run nothing.', default: false}),
  }

  async run(): Promise<ExecResult> {
    const {args, flags, argv} = await this.parse(Exec)
    const command = (argv as string[]).slice(1)
    const ctx = getContext()
    const tty = Boolean(process.stdin.isTTY && process.stdout.isTTY)
    const host = await ctx.hostFacts()
    // The fast path: the session's own state file, while its owner runs (it removes the container
    // only when it finishes): the container is ours by name, on the context the state file names.
    const state = await readSessionState(stateDir(host), args['run-id'])
    let target: {ctx: {binary: string; connection: string | null}; container: string; runId: string}
    if (state && (await ownerAlive(state))) target = {ctx: state.podman, container: `sourceos-agent-${state.runId}`, runId: state.runId}
    else {
      const [{profilePodmanContext}, {findSession}] = await Promise.all([import('../../core/podman/profile-context.js'), import('../../core/sessions/sessions.js')])
      const {context} = await profilePodmanContext(ctx, flags['profile-file'])
      const session = await findSession(ctx.runner, context, args['run-id'])
      target = {ctx: context, container: session.container, runId: session.runId}
    }
    const evidence = state ? (await import('../../core/sessions/exec-evidence.js')).execLogPath(state.evidenceDir, state.runId) : null
    const plan: Plan = {verb: 'exec', steps: [step(execArgvFor(target.ctx, target.container, tty, command), `run ${command.length > 0 ? 'the command' : 'a shell'} in session ${target.runId}'s own container, as its user, with its environment and no added capability${evidence ? `; its start, end and redacted argv are appended to ${evidence}` : ''}`, true)]}
    if (flags['dry-run']) {
      const {renderPlanWrapped} = await import('../../cli/plan-render.js')
      this.say(renderPlanWrapped(plan))
      return {runId: target.runId, exitCode: null, evidence, plan}
    }
    const code = await execWithEvidence(plan.steps[0]!.argv, state, {command, tty, runner: ctx.attachedRunner, stdoutToStderr: this.jsonEnabled()})
    if ((code ?? 1) !== 0) this.setExitCode(code ?? 1)
    return {runId: target.runId, exitCode: code, evidence, plan}
  }
}
