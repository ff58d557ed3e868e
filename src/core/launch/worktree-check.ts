/**
 * After the clone and checkout, before the container: the agent's clone must be what the plan
 * mounted — a plain repo whose `.git` is a real folder with no `commondir`, whose alternates name
 * exactly the user's objects dir (mounted read-only at that path), on the new branch at the base
 * commit — and its files pass the same hazard scan as any mount (a committed symlink into ~/.ssh is
 * refused). The clone is left in place either way; the error says how to remove it.
 */
import path from 'node:path'

import {policyRefusal, unexpectedFailure} from '../errors.js'
import {kindOf, readLooseRef, readRegularFile, RefFileError} from '../git/ref-files.js'
import {reviewCommands} from '../git/worktree.js'
import type {HostFacts} from '../host/facts.js'
import {scanTreeForHazards} from '../policy/mount-policy.js'
import type {PreparedLaunch} from './prepare.js'

export async function checkCreatedWorktree(prepared: Pick<PreparedLaunch, 'worktree' | 'worktreeSteps'>, host?: HostFacts): Promise<void> {
  const wt = prepared.worktree
  const steps = prepared.worktreeSteps
  if (!wt || !steps) return
  const remove = reviewCommands(wt).remove
  const gitDir = path.join(wt.path, '.git')
  const unexpected = (what: string) =>
    unexpectedFailure('WORKTREE_UNEXPECTED', `git created the clone ${wt.path}, but ${what}; nothing was started.`, `remove it (${remove}) and report this`)
  try {
    if ((await kindOf(gitDir)) !== 'dir') throw unexpected(`${gitDir} is not a folder`)
    if ((await kindOf(path.join(gitDir, 'commondir'))) !== undefined) throw unexpected(`${gitDir} holds a commondir file`)
    const alternates = await readRegularFile(path.join(gitDir, 'objects', 'info', 'alternates'))
    if (alternates !== `${steps.objectsDir}\n`) throw unexpected(`its objects/info/alternates names ${JSON.stringify(alternates)}, not the planned ${steps.objectsDir}`)
    const head = await readRegularFile(path.join(gitDir, 'HEAD'))
    if (head !== `ref: refs/heads/${wt.branch}\n`) throw unexpected(`its HEAD is ${JSON.stringify(head)}, not the branch ${wt.branch}`)
    const tip = await readLooseRef(gitDir, `refs/heads/${wt.branch}`)
    if (!tip || !('oid' in tip) || tip.oid !== wt.baseCommit) throw unexpected(`its branch ${wt.branch} is not at the base ${wt.baseCommit}`)
  } catch (error) {
    if (error instanceof RefFileError) throw unexpected(error.message)
    throw error
  }
  const hazards = (await scanTreeForHazards(wt.path, {host})).filter((h) => h.severity === 'refuse')
  if (hazards.length > 0) {
    const first = hazards[0]!
    throw policyRefusal('POLICY_HAZARD', `the new clone ${wt.path} holds ${first.kind} ${first.relPath}: ${first.detail}; nothing was started.`, `remove it: ${remove}`)
  }
}
