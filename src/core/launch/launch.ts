/**
 * The shared body of `run` and `shell`: prepare (all checks), then either return the plan
 * (--dry-run) or execute it, leaving an evidence record that is begun just before the container
 * starts and completed when it ends.
 */
import type {CoreContext} from '../context.js'
import {resolveEvidenceDir} from '../evidence/location.js'
import {assertEvidenceDirOutsideMounts, type RecordHandle} from '../evidence/store.js'
import {reviewCommands} from '../git/worktree.js'
import type {HostFacts} from '../host/facts.js'
import {containerName} from './container-spec.js'
import {beginEvidence, gatherEvidenceFacts, gitStates} from './evidence.js'
import {executeLaunch} from './execute.js'
import {prepareLaunch, type LaunchRequest, type PreparedLaunch} from './prepare.js'
import {trace} from '../util/trace.js'
import {checkAgainstBaseline, dropPending, recoverPending, savePending, takeBaseline, type IntegrityBaseline, type IntegrityReport} from '../integrity/session.js'
import {stateDir} from '../profile/location.js'
import {describeIntegrity} from '../integrity/describe.js'
import type {LaunchResult} from './result.js'

export interface LaunchInput extends Omit<LaunchRequest, 'host' | 'runner'> {
  dryRun: boolean
  json: boolean
  evidenceDir?: string
  /** The CLI's own arguments, recorded in the evidence. */
  cliArgv: string[]
  /** Called when `--worktree`'s worktree exists (it is left for review, also when the launch fails later). */
  onWorktreeCreated?: (result: NonNullable<LaunchResult['worktree']>) => void
}

export async function launch(input: LaunchInput, ctx: CoreContext, host: HostFacts, onPrepared?: (p: PreparedLaunch) => void): Promise<LaunchResult> {
  trace('launch: preparing')
  // A session whose CLI was killed never had its check: do it now, before anything reads the repos.
  const recovered = input.dryRun ? [] : await recoverPending(stateDir(host))
  const prepared = await prepareLaunch({...input, host, runner: ctx.runner, now: input.now ?? ctx.now()})
  for (const {runId, report} of recovered) prepared.warnings.push(...describeIntegrity(report).map((line) => `run ${runId} (its CLI was killed before its own check): ${line}`))
  trace('launch: prepared')
  const evidenceDir = resolveEvidenceDir(host, input.cwd, input.evidenceDir)
  // Refused in dry runs too: the agent must never be able to rewrite its own evidence.
  await assertEvidenceDirOutsideMounts(evidenceDir, prepared.spec.mounts.map((m) => ({source: m.hostSource, target: m.target, mode: m.mode})))
  onPrepared?.(prepared)
  if (input.dryRun) return toResult(prepared, null, null, true, false)

  const facts = gatherEvidenceFacts(prepared, ctx.runner, host)
  facts.catch(() => {}) // awaited below; a rejection before then must not crash the process
  const state = stateDir(host)
  let baseline: IntegrityBaseline | undefined
  let integrity: IntegrityReport | undefined
  let record: RecordHandle | undefined
  let exitCode: number | null = null
  let worktreeCreated = false
  try {
    const outcome = await executeLaunch(prepared, {
      runner: ctx.runner,
      attachedRunner: ctx.attachedRunner,
      now: ctx.now,
      host,
      stdoutToStderr: input.json,
      onWorktreeCreated: () => {
        worktreeCreated = true
        input.onWorktreeCreated?.(worktreeResult(prepared, true)!)
      },
      onBeforeStart: async () => {
        // The trust surface as it is just before the agent starts, saved so that a killed CLI's
        // session is still checked (at the next launch).
        baseline = await takeBaseline(prepared.runId, prepared.integrityRoots, ctx.now())
        await savePending(state, baseline)
        trace('launch: verified; waiting for evidence facts')
        const gathered = await facts
        trace('launch: facts gathered')
        record = await beginEvidence(evidenceDir, prepared, gathered, host, input.cliArgv, ctx.now())
      },
    })
    exitCode = outcome.exitCode
    trace('launch: container exited')
  } finally {
    // After the session: first neutralise what the agent planted, and only then let host git read
    // the repos again (the agent may have committed).
    if (baseline) {
      integrity = await checkAgainstBaseline(baseline, state)
      await dropPending(state, prepared.runId)
    }
    if (record) await record.complete({exitCode, finishedAt: ctx.now().toISOString(), git: await gitStates(prepared, ctx.runner), ...(integrity ? {integrity} : {})})
  }
  trace('launch: evidence completed')
  return {...toResult(prepared, exitCode, record?.file ?? null, false, worktreeCreated), ...(integrity ? {integrity} : {})}
}

function worktreeResult(p: PreparedLaunch, created: boolean): LaunchResult['worktree'] {
  return p.worktree ? {...p.worktree, created, review: reviewCommands(p.worktree)} : undefined
}

function toResult(p: PreparedLaunch, exitCode: number | null, evidence: string | null, dryRun: boolean, worktreeCreated: boolean): LaunchResult {
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
    ...(p.worktree ? {worktree: worktreeResult(p, worktreeCreated)} : {}),
  }
}
