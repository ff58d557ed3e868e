/**
 * `--worktree`: the plan's git steps around the agent's clone, and bringing its branch back into the
 * user's repo after the session (docs/worktrees.md, docs/threat-model.md "--worktree: the user's refs").
 *
 * The clone was inside a read-write mount: its refs, packed-refs, HEAD, objects and
 * `objects/info/alternates` are the agent's. No git ever runs in it here. The branch's tip is read
 * from its ref file (a regular file under real directories, an object id, nothing else); the CLI
 * writes a bare repo of its own (the stage) whose alternates name the clone's objects and the user's;
 * the user's repo fetches the branch's objects from the stage (upload-pack reads the stage's config,
 * the CLI's; fsck checks every object received), then one compare-and-swap `update-ref` writes
 * `refs/heads/<branch>`, and nothing else.
 */
import {mkdir, rm, writeFile} from 'node:fs/promises'
import path from 'node:path'

import {policyRefusal, prerequisiteMissing, unexpectedFailure, type AgentMachineError} from '../errors.js'
import {succeeded, type RunResult, type Runner} from '../exec.js'
import {hostGit} from '../git/host-git.js'
import {kindOf, parsePackedRefs, readLooseRef, readRegularFile, RefFileError} from '../git/ref-files.js'
import {
  branchLookupCall,
  bringBackStagePath,
  checkoutCall,
  cloneCall,
  fetchCall,
  gitCallArgv,
  reviewCommands,
  statusCall,
  updateRefCall,
  type GitCall,
  type WorktreeFacts,
} from '../git/worktree.js'
import {step, type Step} from '../plan/plan.js'

/** A pseudo-program of the launch plan: the CLI writes the stage (a bare repo of its own) from the clone's ref files. */
export const STAGE_BRANCH = 'sourceosctl:stage-branch'

/** Host git steps can take long on a big repo (a checkout writes every file). */
export const WORKTREE_GIT_TIMEOUT_MS = 600_000

export interface GitStep {
  call: GitCall
  step: Step
}

/** The plan's --worktree steps: before the container (status, clone, checkout) and after the session. */
export interface WorktreeSteps {
  cleanBase: boolean
  /** `<commonDir>/objects` of the user's repo: what the clone's alternates must name. */
  objectsDir: string
  /** The bare repo the CLI writes after the session (removed again). */
  stagePath: string
  status: GitStep
  clone: GitStep
  checkout: GitStep
  stage: Step
  fetch: GitStep
  lookup: GitStep
  updateRef: GitStep
}

function gitStep(call: GitCall, why: string, mutates: boolean): GitStep {
  return {call, step: step(gitCallArgv(call), why, mutates)}
}

export function planWorktreeSteps(wt: WorktreeFacts, opts: {objectsDir: string; runId: string; cleanBase: boolean}): WorktreeSteps {
  const stagePath = bringBackStagePath(wt.path)
  const base = wt.baseCommit.slice(0, 12)
  return {
    cleanBase: opts.cleanBase,
    objectsDir: opts.objectsDir,
    stagePath,
    status: gitStep(
      statusCall(wt.repo),
      `read whether your checkout has uncommitted changes (they are not in the clone${opts.cleanBase ? '; --clean-base refuses a dirty checkout here, before anything is created' : ''})`,
      false,
    ),
    clone: gitStep(cloneCall(wt.repo, wt.path), `make the agent's own clone ${wt.path}: it borrows your objects read-only (alternates) and has none of your refs to write`, true),
    checkout: gitStep(checkoutCall(wt.path, wt.branch, wt.baseCommit), `check out the new branch ${wt.branch} at ${base} in the clone (your checkout is not touched)`, true),
    stage: step(
      [STAGE_BRANCH, wt.path, wt.branch, stagePath],
      `after the session: read the tip of ${wt.branch} from the clone's ref file (no git runs in the clone), check its alternates still name only your objects, and write ${stagePath}, a bare repo of the CLI's own that borrows the clone's objects (removed afterwards)`,
      true,
    ),
    fetch: gitStep(fetchCall(wt.repo, stagePath, wt.branch), `after the session: fetch the branch's objects into your repo from that stage (fsck-checked; no ref, tag or FETCH_HEAD is written)`, true),
    lookup: gitStep(branchLookupCall(wt.repo, wt.branch), `after the session: check that ${wt.branch} does not exist in your repo (or is still at the base ${base})`, false),
    updateRef: gitStep(updateRefCall(wt.repo, opts.runId), `after the session: create refs/heads/${wt.branch} at the agent's last commit, compare-and-swap; no other ref of your repo changes`, true),
  }
}

/** The pre-session steps, in order. */
export function worktreeHostSteps(s: WorktreeSteps): GitStep[] {
  return [s.status, s.clone, s.checkout]
}

/** The after-session steps, in order (the last steps of the plan). */
export function worktreeAfterSteps(s: WorktreeSteps): Step[] {
  return [s.stage, s.fetch.step, s.lookup.step, s.updateRef.step]
}

/** Runs one planned git step through the hardened host git; missing git is exit 4. */
export async function runGitStep(runner: Runner, s: GitStep, opts: {input?: string} = {}): Promise<RunResult> {
  const result = await hostGit(runner, s.call.dir, s.call.args, {timeoutMs: WORKTREE_GIT_TIMEOUT_MS, ...opts})
  if (result.notFound) throw prerequisiteMissing('GIT_NOT_INSTALLED', 'git is not installed or not on PATH.', 'install git')
  return result
}

/** `git <subcommand>` and git's first line of explanation, for error messages. */
export function describeGit(s: GitStep, result: RunResult): string {
  const sub = s.call.args.find((a, i) => !a.startsWith('-') && s.call.args[i - 1] !== '-c') ?? 'git'
  const said = (result.stderr || result.stdout).trim().split('\n').find(Boolean)
  const how = result.timedOut ? `timed out after ${result.durationMs} ms` : result.signal ? `was killed by ${result.signal}` : `exited ${result.exitCode}`
  return `git ${sub} in ${s.call.dir} ${how}${said ? ` (git: ${said.trim()})` : ''}`
}

export interface BroughtBack {
  /** The commit refs/heads/<branch> points at in the user's repo now; null when there was nothing to bring back. */
  commit: string | null
  /** Why nothing was brought back (the agent deleted or renamed its branch). */
  note?: string
}

/**
 * After the session, and after the integrity check of the mounts (the clone is one): brings
 * refs/heads/<branch> of the clone into the user's repo. Throws (exit 3) when the clone's git files
 * were tampered with in a way that would make the fetch read from elsewhere, or when the branch now
 * exists in the user's repo at another commit than the base; the clone is left for review either way.
 */
export async function bringBackWorktreeBranch(prepared: {runId: string; worktree: WorktreeFacts | null; worktreeSteps: WorktreeSteps | null}, runner: Runner): Promise<BroughtBack | null> {
  const wt = prepared.worktree
  const steps = prepared.worktreeSteps
  if (!wt || !steps) return null
  const tip = await readCloneTip(wt, steps.objectsDir)
  if (tip === null) {
    return {commit: null, note: `the clone ${wt.path} has no branch ${wt.branch} any more (the agent deleted or renamed it): nothing was brought back into ${wt.repo}`}
  }
  const left = `the clone is left at ${wt.path}; remove it with: ${reviewCommands(wt).remove}`
  await writeStage(steps.stagePath, path.join(wt.path, '.git', 'objects'), steps.objectsDir, wt.branch, tip)
  try {
    const fetched = await runGitStep(runner, steps.fetch)
    if (!succeeded(fetched)) {
      throw unexpectedFailure('WORKTREE_BRING_BACK_FAILED', `cannot bring the branch ${wt.branch} back: ${describeGit(steps.fetch, fetched)}.`, `nothing in your repo changed; ${left}`)
    }
    const looked = await runGitStep(runner, steps.lookup)
    if (!succeeded(looked)) {
      throw unexpectedFailure('WORKTREE_BRING_BACK_FAILED', `cannot read your repo's branches: ${describeGit(steps.lookup, looked)}.`, `nothing in your repo changed; ${left}`)
    }
    const ref = `refs/heads/${wt.branch}`
    const current = looked.stdout
      .split('\n')
      .map((l) => l.trim().split(' '))
      .find(([, name]) => name === ref)?.[0]
    if (current !== undefined && current !== wt.baseCommit) throw branchTaken(wt, current, left)
    const input = current === undefined ? `create ${ref} ${tip}\n` : `update ${ref} ${tip} ${wt.baseCommit}\n`
    const updated = await runGitStep(runner, steps.updateRef, {input})
    if (!succeeded(updated)) {
      if (/reference already exists|is at .* but expected/.test(updated.stderr)) throw branchTaken(wt, 'another commit', left)
      throw unexpectedFailure('WORKTREE_BRING_BACK_FAILED', `cannot create the branch ${wt.branch}: ${describeGit(steps.updateRef, updated)}.`, left)
    }
    return {commit: tip}
  } finally {
    await rm(steps.stagePath, {recursive: true, force: true}).catch(() => {})
  }
}

function branchTaken(wt: WorktreeFacts, current: string, left: string): AgentMachineError {
  return policyRefusal(
    'WORKTREE_BRANCH_TAKEN',
    `the branch ${wt.branch} appeared in ${wt.repo} during the session (at ${current}, not the base ${wt.baseCommit}): it is not overwritten.`,
    `the agent's work stays in the clone; ${left}`,
  )
}

function tampered(wt: WorktreeFacts, what: string): AgentMachineError {
  return policyRefusal(
    'WORKTREE_CLONE_TAMPERED',
    `the agent's clone ${wt.path} cannot be fetched from safely: ${what}. Nothing was brought back into ${wt.repo}.`,
    `the clone is left at ${wt.path}: look at it without running git in it (its git files are the agent's), then remove it: ${reviewCommands(wt).remove}`,
  )
}

/**
 * The tip of refs/heads/<branch> in the clone, from its files: the loose ref (a regular file under
 * real directories, holding an object id), else packed-refs. Null when the branch is gone. Also
 * checks what the stage's fetch would read through: `.git/objects` and `objects/info` are real
 * folders, and the alternates file names exactly the user's objects (the agent could point it
 * anywhere on the host).
 */
export async function readCloneTip(wt: WorktreeFacts, objectsDir: string): Promise<string | null> {
  const gitDir = path.join(wt.path, '.git')
  try {
    for (const dir of [wt.path, gitDir, path.join(gitDir, 'objects'), path.join(gitDir, 'objects', 'info')]) {
      const kind = await kindOf(dir)
      if (kind !== 'dir') throw new RefFileError(`${dir} is ${kind === undefined ? 'missing' : kind === 'symlink' ? 'a symlink' : 'not a folder'}`)
    }
    const alternatesFile = path.join(gitDir, 'objects', 'info', 'alternates')
    const alternates = await readRegularFile(alternatesFile)
    const lines = (alternates ?? '').split('\n').filter((l) => l !== '')
    if (lines.length !== 1 || lines[0] !== objectsDir) {
      throw new RefFileError(`${alternatesFile} ${alternates === null ? 'is missing' : `names ${JSON.stringify(lines)}, not ${objectsDir}`}`)
    }
    const ref = `refs/heads/${wt.branch}`
    const loose = await readLooseRef(gitDir, ref)
    if (loose && 'symref' in loose) throw new RefFileError(`${ref} is a symbolic ref to ${loose.symref}`)
    let tip = loose?.oid
    if (tip === undefined) {
      const packedFile = path.join(gitDir, 'packed-refs')
      const packed = await readRegularFile(packedFile, 256 * 1024 * 1024)
      tip = packed === null ? undefined : parsePackedRefs(packed, packedFile).get(ref)
    }
    if (tip === undefined) return null
    if (tip.length !== wt.baseCommit.length) throw new RefFileError(`${ref} holds an object id of another hash (${tip})`)
    return tip
  } catch (error) {
    if (error instanceof RefFileError) throw tampered(wt, error.message)
    throw error
  }
}

/** The CLI's own bare repo: its HEAD, config and refs are written here, its objects borrowed. */
async function writeStage(stage: string, cloneObjects: string, userObjects: string, branch: string, tip: string): Promise<void> {
  try {
    await mkdir(stage, {mode: 0o700})
  } catch (error) {
    throw unexpectedFailure('WORKTREE_BRING_BACK_FAILED', `cannot create ${stage}: ${(error as Error).message}.`, `remove ${stage} if it is left from an earlier run, and bring the branch back by hand (see docs/worktrees.md)`)
  }
  const sha256 = tip.length === 64
  const config = `[core]\n\trepositoryformatversion = ${sha256 ? 1 : 0}\n\tbare = true\n${sha256 ? '[extensions]\n\tobjectformat = sha256\n' : ''}`
  const refDir = path.join(stage, 'refs', 'heads', ...branch.split('/').slice(0, -1))
  await Promise.all([mkdir(path.join(stage, 'objects', 'info'), {recursive: true, mode: 0o700}), mkdir(refDir, {recursive: true, mode: 0o700})])
  await Promise.all([
    writeFile(path.join(stage, 'HEAD'), `ref: refs/heads/${branch}\n`, {mode: 0o600, flag: 'wx'}),
    writeFile(path.join(stage, 'config'), config, {mode: 0o600, flag: 'wx'}),
    writeFile(path.join(stage, 'objects', 'info', 'alternates'), `${cloneObjects}\n${userObjects}\n`, {mode: 0o600, flag: 'wx'}),
    writeFile(path.join(stage, 'refs', 'heads', ...branch.split('/')), `${tip}\n`, {mode: 0o600, flag: 'wx'}),
  ])
}
