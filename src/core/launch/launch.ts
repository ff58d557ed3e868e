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
  const prepared = await prepareLaunch({...input, host, runner: ctx.runner, now: input.now ?? ctx.now()})
  trace('launch: prepared')
  const evidenceDir = resolveEvidenceDir(host, input.cwd, input.evidenceDir)
  // Refused in dry runs too: the agent must never be able to rewrite its own evidence.
  await assertEvidenceDirOutsideMounts(evidenceDir, prepared.spec.mounts.map((m) => ({source: m.hostSource, target: m.target, mode: m.mode})))
  onPrepared?.(prepared)
  if (input.dryRun) return toResult(prepared, null, null, true, false)

  const facts = gatherEvidenceFacts(prepared, ctx.runner, host)
  facts.catch(() => {}) // awaited below; a rejection before then must not crash the process
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
        trace('launch: verified; waiting for evidence facts')
        const gathered = await facts
        trace('launch: facts gathered')
        record = await beginEvidence(evidenceDir, prepared, gathered, host, input.cliArgv, ctx.now())
      },
    })
    exitCode = outcome.exitCode
    trace('launch: container exited')
  } finally {
    // After the session: the agent may have committed, so the git state is read again.
    if (record) await record.complete({exitCode, finishedAt: ctx.now().toISOString(), git: await gitStates(prepared, ctx.runner)})
  }
  trace('launch: evidence completed')
  return toResult(prepared, exitCode, record?.file ?? null, false, worktreeCreated)
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
