/**
 * The container steps of a detached session (`run --detach`, `shell --detach`): the same create,
 * init, inspect and verification as a foreground launch, with two differences in the create: no
 * --rm (the ended container stays until its after-session work has read its exit code — by the
 * session keeper, or by recovery when the keeper is gone — and is then removed) and a bounded log
 * (--log-opt=max-size: podman truncates it there). Then a start that does not attach, and
 * `podman wait`. The session keeper (keeper.ts) runs them and does the after-session work when the
 * wait returns.
 */
import {step, type Step} from '../plan/plan.js'
import {podmanArgv, type PodmanContext} from '../podman/context.js'

type Target = Pick<PodmanContext, 'binary' | 'connection'>

/** The agent container's name (container-spec.ts containerName, repeated so this stays import-light). */
const containerName = (runId: string): string => `sourceos-agent-${runId}`

/** The bound on a detached session's container log (podman's k8s-file driver truncates it there). */
export const SESSION_LOG_MAX = '8m'

/** The foreground create, kept as the plan printed it except: no --rm, and the bounded log. */
export function detachedCreate(create: Step): Step {
  const i = create.argv.indexOf('--rm')
  if (i < 0) throw new Error('detachedCreate: the create step has no --rm')
  const argv = [...create.argv.slice(0, i), `--log-opt=max-size=${SESSION_LOG_MAX}`, ...create.argv.slice(i + 1)]
  return step(argv, `${create.why}; a detached session keeps its ended container (no --rm) until its exit code is read and the after-session work is done, then it is removed; its log is bounded (${SESSION_LOG_MAX})`, true)
}

export function detachedStartSteps(runId: string, ctx: Target, verb: 'run' | 'shell', create: Step): {create: Step; start: Step; wait: Step; saveLog: Step} {
  const name = containerName(runId)
  return {
    create: detachedCreate(create),
    start: step(
      podmanArgv(ctx, ['start', name]),
      `start it in the background (not attached: \`attach ${runId}\` reattaches a terminal); the ${verb === 'run' ? 'tool' : 'shell'} runs until it exits or \`stop ${runId}\`. Just before the start, the git hooks, config and pointers of every read-write mount are recorded`,
      true,
    ),
    wait: step(
      podmanArgv(ctx, ['wait', '--condition=exited', name]),
      'the session keeper (a background sourceosctl process, not attached to this terminal) waits for the session to end (begun before the start); then, exactly once, it does the after-session work of a foreground run: the integrity check (anything planted is quarantined), the egress log read and teardown, the evidence completed, and a --worktree branch brought back',
      false,
    ),
    saveLog: step(
      podmanArgv(ctx, ['logs', name]),
      `keep what the session printed (bounded by the log's ${SESSION_LOG_MAX}) in the state dir, sessions/${runId}.output.log, for \`logs ${runId}\` after the session; then the ended container is removed`,
      false,
    ),
  }
}
