/**
 * The shared body of `run` and `shell`: prepare (all checks), then either return the plan
 * (--dry-run) or execute it. Evidence hooks in around the start.
 */
import type {CoreContext} from '../context.js'
import type {HostFacts} from '../host/facts.js'
import {containerName} from './container-spec.js'
import {executeLaunch} from './execute.js'
import {prepareLaunch, type LaunchRequest, type PreparedLaunch} from './prepare.js'
import type {LaunchResult} from './result.js'

export interface LaunchInput extends Omit<LaunchRequest, 'host' | 'runner'> {
  dryRun: boolean
  json: boolean
}

export async function launch(input: LaunchInput, ctx: CoreContext, host: HostFacts, onPrepared?: (p: PreparedLaunch) => void): Promise<LaunchResult> {
  const prepared = await prepareLaunch({...input, host, runner: ctx.runner})
  onPrepared?.(prepared)
  if (input.dryRun) return toResult(prepared, null, null, true)
  const outcome = await executeLaunch(prepared, {
    runner: ctx.runner,
    attachedRunner: ctx.attachedRunner,
    now: ctx.now,
    stdoutToStderr: input.json,
  })
  return toResult(prepared, outcome.exitCode, null, false)
}

function toResult(p: PreparedLaunch, exitCode: number | null, evidence: string | null, dryRun: boolean): LaunchResult {
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
  }
}
