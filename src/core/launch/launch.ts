/**
 * The shared body of `run` and `shell`: prepare (all checks), then either return the plan
 * (--dry-run) or execute it, leaving an evidence record that is begun before the first podman
 * command that creates anything and completed however the launch ends (docs/evidence.md).
 */
import type {CoreContext} from '../context.js'
import {resolveEvidenceDir} from '../evidence/location.js'
import {assertEvidenceDirOutsideMounts} from '../evidence/store.js'
import type {Outcome, VerificationInfo} from '../evidence/record.js'
import {reviewCommands} from '../git/worktree.js'
import type {HostFacts} from '../host/facts.js'
import {containerName} from './container-spec.js'
import {beginEvidence, failedOutcome, gatherEvidenceFacts, gitStates, podmanLog, type LaunchEvidence} from './evidence.js'
import {executeLaunch} from './execute.js'
import {bringBackWorktreeBranch} from './bring-back.js'
import {AgentMachineError} from '../errors.js'
import {prepareLaunch, type LaunchRequest, type PreparedLaunch} from './prepare.js'
import {trace} from '../util/trace.js'
import {checkAgainstBaseline, dropPending, plantsOf, recoverPending, savePending, takeBaseline, type IntegrityBaseline, type IntegrityReport} from '../integrity/session.js'
import {stateDir} from '../profile/location.js'
import {describeIntegrity} from '../integrity/describe.js'
import type {LaunchResult} from './result.js'
import {cleanEgressLeftovers} from '../network/lifecycle.js'
import {networkEvidence} from '../network/report.js'
import {dropSessionState, execLogByproduct, recoverBeforeLaunch, saveSessionState, sessionStateOf, type KeeperHooks} from '../sessions/launch-hooks.js'
import type {NetworkEvidence} from '../network/evidence.js'

export interface LaunchInput extends Omit<LaunchRequest, 'host' | 'runner'> {
  dryRun: boolean
  json: boolean
  evidenceDir?: string
  /** The CLI's own arguments, recorded in the evidence. */
  cliArgv: string[]
  /** Called when `--worktree`'s worktree exists (it is left for review, also when the launch fails later). */
  onWorktreeCreated?: (result: NonNullable<LaunchResult['worktree']>) => void
  /** A warning found while executing (after onPrepared printed the planning ones). */
  onWarning?: (message: string) => void
  /** --detach: this process is the session's keeper (sessions/keeper.ts). */
  keeper?: KeeperHooks
}

export async function launch(input: LaunchInput, ctx: CoreContext, host: HostFacts, onPrepared?: (p: PreparedLaunch) => void): Promise<LaunchResult> {
  trace('launch: preparing')
  // A session whose CLI was killed never had its check: do it now, before anything reads the repos.
  // Sessions whose owner (CLI or keeper) is gone and whose container ended: finished first (sessions/recover.ts).
  const ended = input.dryRun ? [] : await recoverBeforeLaunch(stateDir(host), ctx.runner, host)
  const recovered = input.dryRun ? [] : await recoverPending(stateDir(host), host)
  const prepared = await prepareLaunch({...input, host, runner: ctx.runner, now: input.now ?? ctx.now()})
  for (const {runId, report} of recovered) prepared.warnings.push(...describeIntegrity(report).map((line) => `run ${runId} (its CLI was killed before its own check): ${line}`))
  prepared.warnings.push(...ended)
  trace('launch: prepared')
  const evidenceDir = resolveEvidenceDir(host, input.cwd, input.evidenceDir)
  // Refused in dry runs too: the agent must never be able to rewrite its own evidence.
  await assertEvidenceDirOutsideMounts(evidenceDir, prepared.spec.mounts.map((m) => ({source: m.hostSource, target: m.target, mode: m.mode})))
  // What a killed CLI's egress proxy left (its marker says which runs): removed before this one starts.
  if (!input.dryRun) for (const left of await cleanEgressLeftovers(stateDir(host), ctx.runner, prepared.podman)) prepared.warnings.push(`removed a leftover of a killed session: ${left}`)
  onPrepared?.(prepared)
  if (input.dryRun) return toResult(prepared, null, null, true, false)

  const facts = gatherEvidenceFacts(prepared, ctx.runner, host)
  facts.catch(() => {}) // awaited below; a rejection before then must not crash the process
  const state = stateDir(host)
  let baseline: IntegrityBaseline | undefined
  let integrity: IntegrityReport | undefined
  let record: LaunchEvidence | undefined
  // every podman command of the launch, for the record (evidence.ts)
  const podman = podmanLog(prepared, ctx.runner, ctx.attachedRunner)
  let verified: VerificationInfo | undefined
  let outcome: Outcome | undefined
  let broughtBack: BroughtBackResult = null
  let bringBackFailed: {error: unknown} | undefined
  let network: NetworkEvidence | undefined
  let exitCode: number | null = null
  let worktreeCreated = false
  let egressLog: string | null = null
  let egressDown: Promise<{log: string | null; problems: string[]}> | undefined
  try {
    const launched = await executeLaunch(prepared, {
      runner: podman.runner,
      attachedRunner: podman.attachedRunner,
      now: ctx.now,
      host,
      stdoutToStderr: input.json,
      ...(input.keeper ? {onStarted: input.keeper.onStarted} : {}),
      onEgressDone: (down) => {
        for (const problem of down.problems) prepared.warnings.push(`egress proxy: ${problem}`)
      },
      // the proxy's teardown runs while the integrity check and git reads below do; awaited before the record
      onEgressTeardown: (down) => {
        egressDown = down
      },
      ...(input.onWarning ? {onWarning: input.onWarning} : {}),
      onWorktreeCreated: () => {
        worktreeCreated = true
        input.onWorktreeCreated?.(worktreeResult(prepared, true)!)
      },
      // Before the first podman command that creates anything: a launch that fails from here on
      // leaves a record (outcome failed, with the podman commands that ran).
      onBeforeMutation: async () => {
        trace('launch: waiting for evidence facts')
        const gathered = await facts
        trace('launch: facts gathered')
        record = await beginEvidence(evidenceDir, prepared, gathered, host, input.cliArgv, ctx.now(), {runner: podman.runner, podmanLog: podman})
      },
      onBeforeStart: async (verification) => {
        verified = verification
        // The trust surface as it is just before the agent starts, saved so that a killed CLI's
        // session is still checked (at the next launch).
        // Not for a remote Podman host: its folders are on the server (the warnings and the
        // evidence's verification.unverified say the check was not done).
        if (!prepared.podman.remote) {
          baseline = await takeBaseline(prepared.runId, prepared.integrityRoots, ctx.now())
          await savePending(state, baseline)
        }
        // what recovery needs to finish the session should this process die (sessions/state.ts)
        if (record) await saveSessionState(state, sessionStateOf(prepared, host, evidenceDir, record.file, input.keeper !== undefined))
      },
    })
    exitCode = launched.exitCode
    // the start never ran: a signal stopped the launch before the tool (execute.ts interruptedBeforeStart)
    const started = podman.ran(prepared.containerSteps.start.argv)
    outcome = started ? {result: 'ran', error: null} : {result: 'interrupted', error: {code: 'INTERRUPTED', message: 'a signal stopped the launch before the tool started', exitCode: launched.exitCode}}
    trace('launch: container exited')
  } catch (error) {
    outcome = failedOutcome(error, podman)
    throw error
  } finally {
    // After the session: first neutralise what the agent planted, and only then let host git read
    // the repos again (the agent may have committed).
    try {
      if (baseline) {
        integrity = await checkAgainstBaseline(baseline, state, host)
        await dropPending(state, prepared.runId)
      }
      // A plant that could not be moved away stays where it is: then host git is not run at all.
      const gitIsSafe = !integrity || plantsOf(integrity).every((f) => f.quarantinedAt !== null)
      const git = record && gitIsSafe ? gitStates(prepared, ctx.runner) : undefined
      git?.catch(() => {}) // awaited below
      // the checkouts' content after the session, read beside git and the teardown (once the plants are moved away)
      record?.afterSession()
      // the proxy's log goes into the record; the link-local guard (network open) has none: the record is written while it is removed
      const down = egressDown && prepared.egress ? await egressDown : undefined
      egressLog = down?.log ?? null
      for (const problem of down?.problems ?? []) prepared.warnings.push(`egress proxy: ${problem}`)
      network = networkEvidence(prepared.spec.network, prepared.spec.egress, egressLog)
      // --worktree: only now, after the integrity check of the clone, does host git touch the user's
      // repo again — to bring the one branch back (bring-back.ts). Not when the session never ran.
      // A plant that stayed in place (could not be quarantined) means no host git at all: not even this.
      // Before the record completes, so its user refs show what the bring-back changed.
      const planted = integrity ? plantsOf(integrity).some((f) => f.quarantinedAt === null) : false
      const back = exitCode !== null && worktreeCreated ? (planted ? Promise.resolve(notBroughtBack(prepared)) : bringBackOutcome(prepared, ctx)) : Promise.resolve(null)
      const settled = await back.then((value) => ({value}), (error: unknown) => ({error}))
      const gitAfter = git ? await git : undefined
      if (record) await record.complete({exitCode, finishedAt: ctx.now().toISOString(), ...(gitAfter ? {git: gitAfter} : {}), ...(integrity ? {integrity} : {}), network, ...(verified ? {verification: verified} : {}), ...(await execLogByproduct(evidenceDir, prepared.runId)), outcome: outcome ?? {result: 'ran', error: null}})
      if ('error' in settled) bringBackFailed = settled
      else broughtBack = settled.value
    } finally {
      // the proxy and its network (or the guard) are gone before this returns, whatever failed above
      const late = await egressDown?.catch(() => undefined)
      if (!prepared.egress) for (const problem of late?.problems ?? []) prepared.warnings.push(`egress proxy: ${problem}`)
      // the session is finished (or failed): its state file goes, whatever failed above
      await dropSessionState(state, prepared.runId).catch(() => {})
    }
  }
  trace('launch: evidence completed')
  if (bringBackFailed) throw bringBackFailed.error
  return {...toResult(prepared, exitCode, record?.file ?? null, false, worktreeCreated, broughtBack), ...(integrity ? {integrity} : {}), ...(network ? {network} : {})}
}

type BroughtBackResult = NonNullable<LaunchResult['worktree']>['broughtBack']

/** The bring-back as a result: a refusal or failure is reported (the caller sets the exit code), not thrown past the integrity report. */
async function bringBackOutcome(prepared: PreparedLaunch, ctx: CoreContext): Promise<BroughtBackResult> {
  try {
    const done = await bringBackWorktreeBranch(prepared, ctx.runner)
    if (done?.note) prepared.warnings.push(done.note)
    return {commit: done?.commit ?? null, error: null}
  } catch (error) {
    if (!(error instanceof AgentMachineError)) throw error
    return {commit: null, error: {code: error.code, message: error.message, fix: error.fix ?? null, exitCode: error.exitCode}}
  }
}

function notBroughtBack(prepared: PreparedLaunch): BroughtBackResult {
  return {
    commit: null,
    error: {
      code: 'WORKTREE_NOT_BROUGHT_BACK',
      message: `a plant in the session's mounts could not be quarantined, so no host git runs: the branch ${prepared.worktree!.branch} was not brought back.`,
      fix: `remove what the report names, then look at the clone ${prepared.worktree!.path} without running git in it`,
      exitCode: 6,
    },
  }
}

function worktreeResult(p: PreparedLaunch, created: boolean, broughtBack: BroughtBackResult = null): LaunchResult['worktree'] {
  return p.worktree ? {...p.worktree, created, review: reviewCommands(p.worktree), broughtBack} : undefined
}

function toResult(p: PreparedLaunch, exitCode: number | null, evidence: string | null, dryRun: boolean, worktreeCreated: boolean, broughtBack: BroughtBackResult = null): LaunchResult {
  return {
    runId: p.runId,
    verb: p.spec.verb,
    tool: p.spec.tool,
    dryRun,
    exitCode,
    container: containerName(p.runId),
    profile: {name: p.profile.metadata.name, path: p.profilePath},
    policyHash: p.policyHash,
    image: {ref: p.image.ref, id: p.image.details.id, digest: p.image.details.digest},
    mounts: p.spec.mounts.map((m) => ({source: m.hostSource, podmanSource: m.podmanSource, target: m.target, mode: m.mode})),
    workdir: p.spec.workdir,
    plan: p.plan,
    evidence,
    warnings: p.warnings,
    ...(p.worktree ? {worktree: worktreeResult(p, worktreeCreated, broughtBack)} : {}),
  }
}
