import {describe, expect, it} from 'vitest'

import {AgentMachineError} from '../../../src/core/errors.js'
import {hostGitArgv} from '../../../src/core/git/host-git.js'
import {
  checkCleanBase,
  checkNewBranch,
  defaultBranchName,
  inspectBaseRepo,
  reviewCommands,
  worktreeAddArgv,
  worktreeDirName,
  type BaseRepo,
} from '../../../src/core/git/worktree.js'
import {fakeRunner, NOT_FOUND} from '../../helpers/fake-runner.js'

const HEAD = 'a'.repeat(40)

/** git as it answers for a clean repo at /home/dev/app on main, with branches main and feature/x. */
function gitRepo(overrides: {status?: string; toplevel?: string; notRepo?: boolean; noCommits?: boolean; checkRef?: (name: string) => {exitCode: number; stdout?: string; stderr?: string}} = {}) {
  return fakeRunner([
    {
      match: (cmd, args) => cmd === 'git' && args.includes('--show-toplevel'),
      result: overrides.notRepo
        ? {exitCode: 128, stderr: 'fatal: not a git repository (or any of the parent directories): .git\n'}
        : {stdout: `${overrides.toplevel ?? '/home/dev/app'}\n.git\n`},
    },
    {match: (cmd, args) => cmd === 'git' && args.includes('HEAD^{commit}'), result: overrides.noCommits ? {exitCode: 1} : {stdout: `${HEAD}\n`}},
    {match: (cmd, args) => cmd === 'git' && args.includes('symbolic-ref'), result: {stdout: 'main\n'}},
    {match: (cmd, args) => cmd === 'git' && args.includes('status'), result: {stdout: overrides.status ?? ''}},
    {match: (cmd, args) => cmd === 'git' && args.includes('for-each-ref'), result: {stdout: 'refs/heads/main\nrefs/heads/feature/x\n'}},
    {
      match: (cmd, args) => cmd === 'git' && args.includes('check-ref-format'),
      result: (_c, args) => {
        const name = args[args.length - 1]!
        return overrides.checkRef ? overrides.checkRef(name) : {stdout: `${name}\n`}
      },
    },
  ])
}

function codeOf(error: unknown): [string, number] {
  expect(error).toBeInstanceOf(AgentMachineError)
  const e = error as AgentMachineError
  return [e.code, e.exitCode]
}

describe('inspectBaseRepo', () => {
  it('reads the top level, the common dir (absolute), HEAD, the branch, dirtiness and the branches — read-only commands', async () => {
    const runner = gitRepo({status: '?? scratch.txt\n'})
    const base = await inspectBaseRepo(runner, '/home/dev/app/src')
    expect(base).toEqual({toplevel: '/home/dev/app', commonDir: '/home/dev/app/src/.git', head: HEAD, branch: 'main', dirty: true, branches: ['main', 'feature/x']})
    // status must not refresh (rewrite) the user's index
    expect(runner.commandLines()).toContain(hostGitArgv('/home/dev/app', ['--no-optional-locks', 'status', '--porcelain', '--untracked-files=normal']).join(' '))
    expect(runner.commandLines().some((l) => / (worktree|branch|commit|checkout|add) /.test(l))).toBe(false)
  })

  it('not a repo → exit 2 with git’s own words; no commits → exit 2; no git → exit 4', async () => {
    await expect(inspectBaseRepo(gitRepo({notRepo: true}), '/home/dev/docs')).rejects.toSatisfy((e) => {
      expect(codeOf(e)).toEqual(['WORKTREE_NOT_A_REPO', 2])
      expect((e as Error).message).toMatch(/\/home\/dev\/docs is not inside one \(git: fatal: not a git repository/)
      return true
    })
    await expect(inspectBaseRepo(gitRepo({noCommits: true}), '/home/dev/app')).rejects.toSatisfy((e) => codeOf(e)[0] === 'WORKTREE_NO_COMMITS' && codeOf(e)[1] === 2)
    await expect(inspectBaseRepo(fakeRunner([{match: 'git', result: NOT_FOUND}]), '/x')).rejects.toSatisfy((e) => codeOf(e)[1] === 4)
  })
})

describe('checkNewBranch', () => {
  const base: BaseRepo = {toplevel: '/home/dev/app', commonDir: '/home/dev/app/.git', head: HEAD, branch: 'main', dirty: false, branches: ['main', 'feature/x']}

  it('accepts a new, valid name', async () => {
    await expect(checkNewBranch(gitRepo(), base, 'agent/codex-20250131-120000')).resolves.toBeUndefined()
  })

  it.each([
    ['main', 'WORKTREE_BRANCH_EXISTS', /already exists/],
    ['feature', 'WORKTREE_BRANCH_EXISTS', /clashes with the existing branch feature\/x/],
    ['main/sub', 'WORKTREE_BRANCH_EXISTS', /clashes with the existing branch main/],
    ['-f', 'WORKTREE_BRANCH_INVALID', /not a valid branch name/],
    ['', 'WORKTREE_BRANCH_INVALID', /not a valid branch name/],
  ])('refuses %j (exit 2)', async (name, code, message) => {
    await expect(checkNewBranch(gitRepo(), base, name)).rejects.toSatisfy((e) => {
      expect(codeOf(e)).toEqual([code, 2])
      expect((e as Error).message).toMatch(message)
      return true
    })
  })

  it('refuses what git check-ref-format rejects, and a name git would expand (@{-1})', async () => {
    const rejecting = gitRepo({checkRef: (name) => ({exitCode: 128, stderr: `fatal: '${name}' is not a valid branch name\n`})})
    await expect(checkNewBranch(rejecting, base, 'bad..name')).rejects.toThrow(/--branch bad\.\.name is not a valid branch name \(git: fatal: 'bad\.\.name' is not a valid branch name\)/)
    const expanding = gitRepo({checkRef: () => ({exitCode: 0, stdout: 'previous-branch\n'})})
    await expect(checkNewBranch(expanding, base, '@{-1}')).rejects.toThrow(/git reads it as previous-branch/)
  })
})

describe('checkCleanBase', () => {
  const base = {toplevel: '/home/dev/app', dirty: true} as BaseRepo
  it('refuses a dirty base only when --clean-base asked (exit 3)', () => {
    expect(() => checkCleanBase(base, false)).not.toThrow()
    expect(() => checkCleanBase({...base, dirty: false}, true)).not.toThrow()
    try {
      checkCleanBase(base, true)
      expect.unreachable()
    } catch (error) {
      expect(codeOf(error)).toEqual(['WORKTREE_DIRTY_BASE', 3])
    }
  })
})

describe('names, the git command, the review commands', () => {
  it('default branch: agent/<tool|shell>-<UTC YYYYMMDD-HHMMSS>', () => {
    expect(defaultBranchName('codex', new Date('2025-01-31T12:34:56.789Z'))).toBe('agent/codex-20250131-123456')
    expect(defaultBranchName('shell', new Date(Date.UTC(2025, 11, 1, 0, 0, 5)))).toBe('agent/shell-20251201-000005')
  })

  it('worktree folder: <repo name>-<run id>, only characters git and podman take', () => {
    expect(worktreeDirName('/home/dev/my-app', 'run1234')).toBe('my-app-run1234')
    expect(worktreeDirName('/home/dev/my.app,v2: x', 'run1234')).toBe('my-app-v2-x-run1234')
    expect(worktreeDirName('/', 'run1234')).toBe('repo-run1234')
  })

  it('git worktree add -b <branch> <path> <base>', () => {
    expect(worktreeAddArgv('/home/dev/app', 'agent/x', '/state/worktrees/app-1', HEAD)).toEqual(hostGitArgv('/home/dev/app', ['worktree', 'add', '-b', 'agent/x', '/state/worktrees/app-1', HEAD]))
  })

  it('review commands: diff from the base, merge, remove worktree and branch (shell-quoted)', () => {
    expect(reviewCommands({repo: '/home/dev/my app', path: '/state/worktrees/app-1', branch: 'agent/x', baseCommit: HEAD})).toEqual({
      diff: `git -C '/home/dev/my app' diff ${HEAD}...agent/x`,
      merge: "git -C '/home/dev/my app' merge agent/x",
      remove: "git -C '/home/dev/my app' worktree remove /state/worktrees/app-1 && git -C '/home/dev/my app' branch -D agent/x",
    })
  })
})
