import {spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, readFileSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {AgentMachineError} from '../../../src/core/errors.js'
import {hostGitArgv} from '../../../src/core/git/host-git.js'
import {
  branchLookupCall,
  branchNameProblem,
  checkCleanBase,
  checkNewBranch,
  checkoutCall,
  cloneCall,
  defaultBranchName,
  fetchCall,
  gitCallArgv,
  readBaseRepo,
  reviewCommands,
  statusCall,
  updateRefCall,
  worktreeDirName,
} from '../../../src/core/git/worktree.js'

const GIT_ENV = {...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1'}
function git(dir: string, ...args: string[]): string {
  const out = spawnSync('git', ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@example.invalid', ...args], {encoding: 'utf8', env: GIT_ENV})
  if (out.status !== 0) throw new Error(`git ${args.join(' ')}: ${out.stderr}`)
  return out.stdout.trim()
}

const temps: string[] = []
afterAll(() => {
  for (const t of temps) rmSync(t, {recursive: true, force: true})
})

/** A repo on main with one commit and the branches feature/x (packed) and loose/y (loose). */
function repo(): {dir: string; head: string} {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'wt-unit-')))
  temps.push(dir)
  mkdirSync(join(dir, 'src'))
  writeFileSync(join(dir, 'src', 'a.txt'), 'a\n')
  git(dir, 'init', '--quiet', '--initial-branch=main')
  git(dir, 'add', '--all')
  git(dir, 'commit', '--quiet', '-m', 'one')
  git(dir, 'branch', 'feature/x')
  git(dir, 'pack-refs', '--all')
  git(dir, 'branch', 'loose/y')
  return {dir, head: git(dir, 'rev-parse', 'HEAD')}
}

function codeOf(error: unknown): [string, number] {
  expect(error).toBeInstanceOf(AgentMachineError)
  const e = error as AgentMachineError
  return [e.code, e.exitCode]
}

async function refusal(p: Promise<unknown>): Promise<AgentMachineError> {
  try {
    await p
  } catch (error) {
    expect(error).toBeInstanceOf(AgentMachineError)
    return error as AgentMachineError
  }
  throw new Error('expected a refusal')
}

describe('readBaseRepo: the repo from its files, no git', () => {
  it('reads the top level, common dir, objects dir, HEAD (packed main too), the branch and every branch; dirty is unknown', async () => {
    const {dir, head} = repo()
    const base = await readBaseRepo(join(dir, 'src'))
    expect(base).toEqual({toplevel: dir, commonDir: join(dir, '.git'), objectsDir: join(dir, '.git', 'objects'), head, branch: 'main', dirty: null, branches: ['feature/x', 'loose/y', 'main']})
  })

  it('a detached HEAD, and a linked worktree (HEAD in its gitdir, refs in the common dir) confirmed both ways', async () => {
    const {dir, head} = repo()
    git(dir, 'checkout', '--quiet', '--detach')
    expect(await readBaseRepo(dir)).toMatchObject({head, branch: null})
    const wt = `${dir}-wt`
    temps.push(wt)
    git(dir, 'worktree', 'add', '--quiet', '-b', 'side', wt)
    expect(await readBaseRepo(wt)).toMatchObject({toplevel: wt, commonDir: join(dir, '.git'), objectsDir: join(dir, '.git', 'objects'), head, branch: 'side'})
  })

  it('a repo larger than the mount → 2, before its refs are read', async () => {
    const {dir} = repo()
    writeFileSync(join(dir, '.git', 'HEAD'), 'garbage\n') // would be WORKTREE_LAYOUT_UNREADABLE if read
    expect(codeOf(await refusal(readBaseRepo(join(dir, 'src'), {within: join(dir, 'src')})))).toEqual(['WORKTREE_REPO_OUTSIDE_MOUNT', 2])
  })

  it('not a repo → 2; no commits → 2', async () => {
    const plain = realpathSync(mkdtempSync(join(tmpdir(), 'wt-plain-')))
    temps.push(plain)
    // (tmpdir itself is not inside a repo on CI; a folder with a .git of nothing is "not a repo")
    mkdirSync(join(plain, 'x'))
    const notRepo = await refusal(readBaseRepo(join(plain, 'x')))
    expect(codeOf(notRepo)[1]).toBe(2)
    const empty = join(plain, 'empty')
    mkdirSync(empty)
    git(empty, 'init', '--quiet', '--initial-branch=main')
    expect(codeOf(await refusal(readBaseRepo(empty)))).toEqual(['WORKTREE_NO_COMMITS', 2])
  })

  it.each([
    ['a commondir file in a normal .git (git would read refs, objects and config elsewhere)', 'WORKTREE_GIT_REDIRECT', 3, (d: string) => writeFileSync(join(d, '.git', 'commondir'), '/tmp\n')],
    ['a .git file pointing at another repo’s worktree entry that does not name it back', 'WORKTREE_GIT_REDIRECT', 3, (d: string) => {
      const other = `${d}-other`
      temps.push(other)
      git(d, 'worktree', 'add', '--quiet', '-b', 'o', other)
      const fake = `${d}-fake`
      temps.push(fake)
      mkdirSync(fake)
      writeFileSync(join(fake, '.git'), `gitdir: ${readFileSync(join(other, '.git'), 'utf8').slice('gitdir: '.length)}`)
      return fake
    }],
    ['a symlinked .git', 'WORKTREE_LAYOUT_UNREADABLE', 2, (d: string) => {
      renameSync(join(d, '.git'), `${d}.git`)
      temps.push(`${d}.git`)
      symlinkSync(`${d}.git`, join(d, '.git'))
    }],
    ['a symlinked HEAD', 'WORKTREE_LAYOUT_UNREADABLE', 2, (d: string) => {
      rmSync(join(d, '.git', 'HEAD'))
      symlinkSync('/etc/hostname', join(d, '.git', 'HEAD'))
    }],
    ['a FIFO as HEAD (never waited on)', 'WORKTREE_LAYOUT_UNREADABLE', 2, (d: string) => {
      rmSync(join(d, '.git', 'HEAD'))
      spawnSync('mkfifo', [join(d, '.git', 'HEAD')])
    }],
    ['a symlinked refs/heads/loose folder', 'WORKTREE_LAYOUT_UNREADABLE', 2, (d: string) => {
      git(d, 'checkout', '--quiet', 'loose/y')
      rmSync(join(d, '.git', 'refs', 'heads', 'loose'), {recursive: true})
      symlinkSync('/tmp', join(d, '.git', 'refs', 'heads', 'loose'))
    }],
    ['a HEAD that is not a ref', 'WORKTREE_LAYOUT_UNREADABLE', 2, (d: string) => writeFileSync(join(d, '.git', 'HEAD'), '$(touch /tmp/x)\n')],
    ['a reftable repo', 'WORKTREE_LAYOUT_UNREADABLE', 2, (d: string) => mkdirSync(join(d, '.git', 'reftable'))],
    ['objects borrowed from elsewhere (alternates)', 'WORKTREE_LAYOUT_UNREADABLE', 2, (d: string) => writeFileSync(join(d, '.git', 'objects', 'info', 'alternates'), '/elsewhere/objects\n')],
  ])('%s → %s (exit %i)', async (_what, code, exit, plant) => {
    const {dir} = repo()
    const at = plant(dir) ?? dir
    expect(codeOf(await refusal(readBaseRepo(at)))).toEqual([code, exit])
  })
})

describe('branch names (git check-ref-format --branch, without git)', () => {
  it.each(['agent/codex-20250131-120000', 'a', 'feature/x.y', 'ünïcode/ok', 'a@b', 'a-b_c'])('accepts %j', (name) => {
    expect(branchNameProblem(name)).toBeNull()
  })
  it.each(['', '-f', 'HEAD', '@', 'a..b', 'a b', 'a~1', 'a^', 'a:b', 'a?', 'a*', 'a[b', 'a\\b', '@{-1}', 'a@{u}', '/a', 'a/', 'a//b', 'a.', '.a', 'a/.b', 'a.lock', 'a/b.lock/c', 'a\u0001b', 'a\u007fb'])('refuses %j', (name) => {
    expect(branchNameProblem(name)).not.toBeNull()
  })
  it('agrees with git check-ref-format --branch on each case (`@` aside: git reads it as HEAD)', () => {
    for (const name of ['agent/x', 'a..b', '.a', 'a.lock', 'a//b', 'a b', 'a@b', 'x/y.z', 'ok-1', 'a/.b', 'a~', 'a\\b']) {
      const ok = spawnSync('git', ['check-ref-format', '--branch', name], {env: GIT_ENV}).status === 0
      expect([name, branchNameProblem(name) === null]).toEqual([name, ok])
    }
  })
})

describe('checkNewBranch', () => {
  const base = {toplevel: '/home/dev/app', branches: ['main', 'feature/x']}
  it('accepts a new, valid name', () => {
    expect(() => checkNewBranch(base, 'agent/codex-20250131-120000')).not.toThrow()
  })
  it('on a case-insensitive file system, Main is main (its loose ref file): refused', () => {
    expect(() => checkNewBranch(base, 'Main')).not.toThrow()
    expect(() => checkNewBranch(base, 'Main', {caseInsensitive: true})).toThrow(/already exists/)
    expect(() => checkNewBranch(base, 'FEATURE', {caseInsensitive: true})).toThrow(/clashes with the existing branch feature\/x/)
  })
  it.each([
    ['main', 'WORKTREE_BRANCH_EXISTS', /already exists/],
    ['feature', 'WORKTREE_BRANCH_EXISTS', /clashes with the existing branch feature\/x/],
    ['main/sub', 'WORKTREE_BRANCH_EXISTS', /clashes with the existing branch main/],
    ['-f', 'WORKTREE_BRANCH_INVALID', /not a valid branch name \(it starts with -\)/],
    ['bad..name', 'WORKTREE_BRANCH_INVALID', /not a valid branch name \(it contains \.\.\)/],
    ['@{-1}', 'WORKTREE_BRANCH_INVALID', /not a valid branch name/],
  ])('refuses %j (exit 2)', (name, code, message) => {
    try {
      checkNewBranch(base, name)
      expect.unreachable()
    } catch (error) {
      expect(codeOf(error)).toEqual([code, 2])
      expect((error as Error).message).toMatch(message)
    }
  })
})

describe('checkCleanBase', () => {
  it('refuses a dirty base only when --clean-base asked (exit 3); unknown (null) is not dirty', () => {
    const base = {toplevel: '/home/dev/app', dirty: true as boolean | null}
    expect(() => checkCleanBase(base, false)).not.toThrow()
    expect(() => checkCleanBase({...base, dirty: false}, true)).not.toThrow()
    expect(() => checkCleanBase({...base, dirty: null}, true)).not.toThrow()
    try {
      checkCleanBase(base, true)
      expect.unreachable()
    } catch (error) {
      expect(codeOf(error)).toEqual(['WORKTREE_DIRTY_BASE', 3])
    }
  })
})

describe('names, the git commands, the review commands', () => {
  const HEAD = 'a'.repeat(40)
  it('default branch: agent/<tool|shell>-<UTC YYYYMMDD-HHMMSS>', () => {
    expect(defaultBranchName('codex', new Date('2025-01-31T12:34:56.789Z'))).toBe('agent/codex-20250131-123456')
    expect(defaultBranchName('shell', new Date(Date.UTC(2025, 11, 1, 0, 0, 5)))).toBe('agent/shell-20251201-000005')
  })

  it('clone folder: <repo name>-<run id>, only characters git and podman take', () => {
    expect(worktreeDirName('/home/dev/my-app', 'run1234')).toBe('my-app-run1234')
    expect(worktreeDirName('/home/dev/my.app,v2: x', 'run1234')).toBe('my-app-v2-x-run1234')
    expect(worktreeDirName('/', 'run1234')).toBe('repo-run1234')
  })

  it('every git command is a hardened host git call; only the clone and checkout create, only update-ref writes a ref of the repo', () => {
    const repoDir = '/home/dev/app'
    const clone = '/state/worktrees/app-1'
    expect(gitCallArgv(statusCall(repoDir))).toEqual(hostGitArgv(repoDir, ['--no-optional-locks', 'status', '--porcelain', '--untracked-files=normal']))
    expect(gitCallArgv(cloneCall(repoDir, clone))).toEqual(hostGitArgv(repoDir, ['clone', '--quiet', '--shared', '--no-checkout', '--template=', '--', repoDir, clone]))
    expect(gitCallArgv(checkoutCall(clone, 'agent/x', HEAD))).toEqual(hostGitArgv(clone, ['checkout', '--quiet', '--no-track', '-b', 'agent/x', HEAD]))
    const fetch = fetchCall(repoDir, `${clone}.bring-back.git`, 'agent/x').args
    expect(fetch).toEqual(expect.arrayContaining(['fetch.fsckObjects=true', '--no-tags', '--no-write-fetch-head', '--no-recurse-submodules', '--no-prune']))
    // no destination: the fetch writes no ref
    expect(fetch.slice(-2)).toEqual([`${clone}.bring-back.git`, 'refs/heads/agent/x'])
    expect(fetch.some((a) => a.includes(':') || a.startsWith('+'))).toBe(false)
    expect(branchLookupCall(repoDir, 'agent/x').args).toEqual(['for-each-ref', '--format=%(objectname) %(refname)', 'refs/heads/agent/x'])
    expect(updateRefCall(repoDir, 'run1').args).toEqual(['update-ref', '-m', 'sourceosctl: --worktree run run1', '--stdin'])
  })

  it('review commands: diff from the base, merge, remove the clone and the branch (shell-quoted)', () => {
    expect(reviewCommands({repo: '/home/dev/my app', path: '/state/worktrees/app-1', branch: 'agent/x', baseCommit: HEAD})).toEqual({
      diff: `git -C '/home/dev/my app' diff ${HEAD}...agent/x`,
      merge: "git -C '/home/dev/my app' merge agent/x",
      remove: "rm -rf /state/worktrees/app-1 && git -C '/home/dev/my app' branch -D agent/x",
    })
  })
})
