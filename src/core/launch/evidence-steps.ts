/**
 * The read-only commands the evidence runs (evidence.ts, git/state.ts), as plan steps, so a dry
 * run lists every command a real run executes. They come last in the plan: they run beside the
 * launch (git state and versions before the start) and after the session (git state again, only
 * once the integrity check has passed); the executor does not run them as steps.
 */
import {GIT_FACT_ARGS, GIT_FACT_BATCH_DIR, gitFactBatchArgs, gitFactGroups} from '../git/state.js'
import {USER_REFS_ARGS} from '../evidence/user-refs.js'
import {hostGitArgv} from '../git/host-git.js'
import type {HostPlatform} from '../host/facts.js'
import {step, type Step} from '../plan/plan.js'
import {podmanArgv, type PodmanContext} from '../podman/context.js'
import type {ContainerSpec} from './container-spec.js'

/** What each git fact command reads, and when it runs (git/state.ts: status answers all three unless it cannot). */
const WHAT: Record<keyof typeof GIT_FACT_ARGS, string> = {
  status: 'the commit, the branch and whether it has uncommitted changes',
  commit: 'the commit, only when status could not answer',
  branch: 'the branch, only when status could not answer or reports a detached HEAD',
}

/** The same, for a repo read in a group (git/state.ts gitFactsOf): its own status only when the group's could not answer. */
const WHAT_IN_GROUP: Record<keyof typeof GIT_FACT_ARGS, string> = {
  status: 'the commit, the branch and whether it has uncommitted changes, only when the group’s for-each-repo could not answer',
  commit: 'the commit, only when no status could answer',
  branch: 'the branch, only when no status could answer or status reports a detached HEAD',
}

export function evidenceSteps(spec: Pick<ContainerSpec, 'mounts'>, ctx: PodmanContext, opts: {platform: HostPlatform; podmanVersionKnown: boolean; worktreeRepo?: string | undefined}): Step[] {
  const steps: Step[] = []
  // A remote host's checkouts are on that server: host git never reads a local namesake.
  if (!ctx.remote) {
    const checkouts = spec.mounts.filter((mount) => mount.role === undefined)
    const when = 'with hardened host git (before the start, and again after the session once the integrity check passed)'
    for (const group of gitFactGroups(checkouts.map((m) => m.hostSource))) {
      const targets = checkouts.filter((m) => group.includes(m.hostSource)).map((m) => m.target)
      if (group.length > 1) steps.push(step(hostGitArgv(GIT_FACT_BATCH_DIR, gitFactBatchArgs(group)), `evidence: the commit, the branch and whether it has uncommitted changes, of ${targets.join(', ')}, one status after another in one git process, ${when}`, false))
      for (const m of checkouts.filter((c) => group.includes(c.hostSource))) {
        for (const [fact, args] of Object.entries(GIT_FACT_ARGS) as Array<[keyof typeof GIT_FACT_ARGS, readonly string[]]>) {
          steps.push(step(hostGitArgv(m.hostSource, args), `evidence: ${(group.length > 1 ? WHAT_IN_GROUP : WHAT)[fact]}, of ${m.target}, ${when}`, false))
        }
      }
    }
  }
  // --worktree: the user's own repo is not mounted, but its refs are what the bring-back changes
  if (opts.worktreeRepo !== undefined) {
    steps.push(step(hostGitArgv(opts.worktreeRepo, USER_REFS_ARGS), `evidence: the refs of ${opts.worktreeRepo}, with hardened host git (before the launch, and again after the session and the bring-back)`, false))
  }
  // cached by the binary PATH resolves to (launch/tool-version.ts hostToolVersion): run by that path, and only when it changed
  steps.push(step(['git', '--version'], 'evidence: the host git version (only when the git binary changed since the last launch)', false))
  steps.push(step(['nix', '--version'], 'evidence: the host nix version (when installed, and only when its binary changed since the last launch)', false))
  if (!opts.podmanVersionKnown) steps.push(step([ctx.binary, '--version'], 'evidence: the podman client version (only when its binary changed since the last launch)', false))
  if (opts.platform !== 'linux' || ctx.connection) steps.push(step(podmanArgv(ctx, ['version', '--format', 'json']), 'evidence: the podman server version', false))
  if (ctx.connection) steps.push(step([ctx.binary, 'system', 'connection', 'list', '--format', 'json'], `evidence: the address behind the connection ${ctx.connection}`, false))
  return steps
}
