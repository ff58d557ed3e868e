/**
 * After `git worktree add`, before the container: the new worktree must be what the plan mounted
 * (its `.git` pointing at `<common>/worktrees/<name>`), and its files pass the same hazard scan as
 * any mount (a committed symlink into ~/.ssh is refused). The worktree is left in place either way;
 * the error says how to remove it.
 */
import {readFile} from 'node:fs/promises'
import path from 'node:path'

import {policyRefusal, unexpectedFailure} from '../errors.js'
import {parseGitFile} from '../git/layout.js'
import {reviewCommands} from '../git/worktree.js'
import type {HostFacts} from '../host/facts.js'
import {scanTreeForHazards} from '../policy/mount-policy.js'
import type {PreparedLaunch} from './prepare.js'

export async function checkCreatedWorktree(prepared: PreparedLaunch, host?: HostFacts): Promise<void> {
  const wt = prepared.worktree
  if (!wt) return
  const remove = reviewCommands(wt).remove
  const expected = path.posix.join(wt.commonDir, 'worktrees', path.posix.basename(wt.path))
  const pointer = await readFile(path.posix.join(wt.path, '.git'), 'utf8').then(parseGitFile, () => null)
  if (pointer !== expected) {
    throw unexpectedFailure(
      'WORKTREE_UNEXPECTED',
      `git created the worktree ${wt.path}, but its .git points at ${pointer ?? 'nothing'}, not at the planned ${expected}; nothing was started.`,
      `remove it (${remove}) and report this`,
    )
  }
  const hazards = (await scanTreeForHazards(wt.path, {host})).filter((h) => h.severity === 'refuse')
  if (hazards.length > 0) {
    const first = hazards[0]!
    throw policyRefusal('POLICY_HAZARD', `the new worktree ${wt.path} holds ${first.kind} ${first.relPath}: ${first.detail}; nothing was started.`, `remove it: ${remove}`)
  }
}
