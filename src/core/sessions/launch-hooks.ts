/**
 * What launch.ts calls for sessions: the state file written just before the container starts
 * (for every launch, foreground or detached: a foreground CLI that is killed is recovered the same
 * way), its removal once the after-session work is done, and the recovery of sessions whose owner
 * is gone, run before each launch (recover.ts).
 */
import type {HostFacts} from '../host/facts.js'
import type {Runner} from '../exec.js'
import type {PreparedLaunch} from '../launch/prepare.js'
import {recoverSessions} from './recover.js'
import type {SessionState} from './state.js'

export {dropSessionState, saveSessionState} from './state.js'
export {execLogByproduct} from './exec-evidence.js'

/** A detached session's keeper (keeper.ts): told when the container runs, so its launcher can return. */
export interface KeeperHooks {
  onStarted: () => Promise<void>
  /** Whether the session gets a TTY (the launching terminal had one), since the keeper itself has none. */
  tty: boolean
}

export function sessionStateOf(p: PreparedLaunch, host: HostFacts, evidenceDir: string, recordFile: string, detached: boolean): Omit<SessionState, 'v' | 'pid' | 'pidStart'> {
  return {
    runId: p.runId,
    detached,
    verb: p.spec.verb,
    tool: p.spec.tool,
    podman: {binary: p.podman.binary, connection: p.podman.connection},
    evidenceDir,
    recordFile,
    homeDir: host.homeDir,
    startedAt: new Date().toISOString(),
    workdir: p.spec.workdir,
    network: p.spec.network,
    egressSetup: p.spec.egress ?? null,
    egress: p.egress,
    guard: p.guard,
    worktree: p.worktree ? {repo: p.worktree.repo, path: p.worktree.path, branch: p.worktree.branch, baseCommit: p.worktree.baseCommit} : null,
  }
}

/** Finishes the sessions whose owner is gone; their messages become the launch's warnings. */
export async function recoverBeforeLaunch(state: string, runner: Runner, host: HostFacts): Promise<string[]> {
  const done = await recoverSessions(state, runner, host)
  return done.flatMap((d) => [`session ${d.runId} ended while its CLI was gone; finished now (exit ${d.exitCode ?? 'unknown'}${d.evidence ? `, evidence ${d.evidence}` : ''})`, ...d.messages.map((m) => `session ${d.runId}: ${m}`)])
}
