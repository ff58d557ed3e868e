// Host git on a repo the agent could write: real git 2.39 against a .git/config, hooks and
// attributes that try to run a program on every path a host git call takes (status, diff, log, show,
// commit, fetch). Nothing planted runs, the user's index is not rewritten by a read, and GIT_*
// variables of the CLI's own environment do not point git elsewhere.
import {spawnSync} from 'node:child_process'
import {chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import {createRunner} from '../../../src/core/exec.js'
import {HARDENING_CONFIG, HOST_GIT_TIMEOUT_MS, hostGit, hostGitArgv} from '../../../src/core/git/host-git.js'
import {fakeRunner} from '../../helpers/fake-runner.js'
import {tempDir} from '../../helpers/temp-dirs.js'

const ENV = {...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1'}

function git(cwd: string, ...args: string[]): string {
  const r = spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid', '-c', 'init.defaultBranch=main', ...args], {cwd, encoding: 'utf8', env: ENV})
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`)
  return r.stdout.trim()
}

/** A repo with one commit and a pending change, and a folder where every planted program leaves a mark. */
function hostileRepo() {
  const base = realpathSync(tempDir('host-git-'))
  const repo = join(base, 'repo')
  const marks = join(base, 'marks')
  mkdirSync(repo)
  mkdirSync(marks)
  git(repo, 'init', '-q')
  writeFileSync(join(repo, 'a.txt'), 'one\n')
  writeFileSync(join(repo, 'secret.bin'), 'one\n')
  git(repo, 'add', '.')
  git(repo, 'commit', '-qm', 'init')
  writeFileSync(join(repo, 'a.txt'), 'two\n')
  writeFileSync(join(repo, 'secret.bin'), 'two\n')
  const fire = (name: string) => `touch ${join(marks, name)}; false`
  // hooks in the repo's own hooks folder and in a hooksPath the agent names
  const hookDir = join(repo, '.git', 'agent-hooks')
  mkdirSync(hookDir)
  for (const dir of [join(repo, '.git', 'hooks'), hookDir]) {
    for (const hook of ['pre-commit', 'commit-msg', 'post-commit', 'post-checkout', 'reference-transaction', 'post-index-change', 'fsmonitor-watchman']) {
      writeFileSync(join(dir, hook), `#!/bin/sh\ntouch ${join(marks, `hook-${hook}`)}\n`)
      chmodSync(join(dir, hook), 0o755)
    }
  }
  writeFileSync(join(repo, '.gitattributes'), 'secret.bin diff=evil\n')
  writeFileSync(
    join(repo, '.git', 'config'),
    readFileSync(join(repo, '.git', 'config'), 'utf8') +
      [
        '[user]\n\tname = t\n\temail = t@example.invalid',
        `[core]\n\tfsmonitor = "${fire('fsmonitor')}"\n\thooksPath = ${hookDir}\n\tpager = "${fire('pager')}"\n\teditor = "${fire('editor')}"\n\tsshCommand = "${fire('ssh')}"`,
        `[diff]\n\texternal = "${fire('external-diff')}"`,
        `[diff "evil"]\n\ttextconv = "${fire('textconv')}"`,
        `[commit]\n\tgpgSign = true`,
        `[gpg]\n\tprogram = "${fire('gpg')}"`,
        `[sequence]\n\teditor = "${fire('sequence-editor')}"`,
        '',
      ].join('\n'),
  )
  return {repo, marks, base}
}

const run = createRunner()
/** What status shows for the hostile repo: its own two changes and the planted attributes file. */
const STATUS = ' M a.txt\n M secret.bin\n?? .gitattributes\n'
const marksIn = (dir: string) => readdirSync(dir).sort()

afterEach(() => {
  for (const k of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_EXTERNAL_DIFF', 'GIT_CONFIG_PARAMETERS', 'GIT_CONFIG_COUNT', 'GIT_CONFIG_KEY_0', 'GIT_CONFIG_VALUE_0']) delete process.env[k]
})

describe('host git runs nothing the repo plants', () => {
  it('status, diff, log -p, show and format-patch run no fsmonitor, external diff, textconv, pager or hook', async () => {
    const {repo, marks} = hostileRepo()
    for (const args of [['status', '--porcelain'], ['diff'], ['diff', 'HEAD'], ['log', '-p', '-1'], ['show', 'HEAD'], ['format-patch', '-1', '--stdout']]) {
      const r = await hostGit(run, repo, args)
      expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).toBe(0)
    }
    expect(marksIn(marks)).toEqual([])
  })

  it('a diff shows the real change of a file with a planted textconv driver, not the driver’s output', async () => {
    const {repo} = hostileRepo()
    const r = await hostGit(run, repo, ['diff', '--', 'secret.bin'])
    expect(r.stdout).toContain('-one\n+two')
  })

  it('a commit runs no hook, no editor and no gpg (the commit is made unsigned)', async () => {
    const {repo, marks} = hostileRepo()
    const r = await hostGit(run, repo, ['commit', '-qam', 'by the host'])
    expect(r.exitCode, r.stderr).toBe(0)
    expect(marksIn(marks)).toEqual([])
    expect(git(repo, 'log', '-1', '--format=%s %G?')).toBe('by the host N')
    // without a message the editor would be asked for: it is `false`, so the commit fails instead of running the plant
    writeFileSync(join(repo, 'a.txt'), 'three\n')
    const noMessage = await hostGit(run, repo, ['commit', '-qa'])
    expect(noMessage.exitCode).not.toBe(0)
    expect(marksIn(marks)).toEqual([])
  })

  it('a fetch from a local folder works (the worktree bring-back) and runs no hook; a fetch over ssh or ext:: is refused and runs no ssh command', async () => {
    const {repo, marks, base} = hostileRepo()
    const clone = join(base, 'clone')
    git(base, 'clone', '-q', repo, clone)
    git(clone, 'commit', '-q', '--allow-empty', '-m', 'agent work')
    const local = await hostGit(run, repo, ['fetch', '-q', clone, 'main:refs/remotes/agent/main'])
    expect(local.exitCode, local.stderr).toBe(0)
    expect(git(repo, 'log', '-1', '--format=%s', 'refs/remotes/agent/main')).toBe('agent work')
    const ssh = await hostGit(run, repo, ['fetch', '-q', 'ssh://example.invalid/x.git'])
    expect(ssh.exitCode).not.toBe(0)
    expect(ssh.stderr).toMatch(/transport 'ssh' not allowed/)
    const ext = await hostGit(run, repo, ['fetch', '-q', `ext::sh -c touch% ${join(marks, 'ext')}`])
    expect(ext.exitCode).not.toBe(0)
    expect(marksIn(marks)).toEqual([])
  })

  it('a read (status) does not rewrite the user’s index', async () => {
    const {repo} = hostileRepo()
    const index = join(repo, '.git', 'index')
    const before = {bytes: readFileSync(index), mtime: statSync(index).mtimeMs}
    await new Promise((r) => setTimeout(r, 20))
    expect((await hostGit(run, repo, ['status', '--porcelain'])).stdout).toBe(STATUS)
    expect(readFileSync(index)).toEqual(before.bytes)
    expect(statSync(index).mtimeMs).toBe(before.mtime)
  })

  it('GIT_* variables in the CLI’s own environment do not redirect it (GIT_DIR, GIT_WORK_TREE, GIT_INDEX_FILE, GIT_EXTERNAL_DIFF, GIT_CONFIG_*)', async () => {
    const {repo, marks, base} = hostileRepo()
    const other = join(base, 'other')
    mkdirSync(other)
    git(other, 'init', '-q')
    process.env.GIT_DIR = join(other, '.git')
    process.env.GIT_WORK_TREE = other
    process.env.GIT_INDEX_FILE = join(base, 'elsewhere-index')
    process.env.GIT_EXTERNAL_DIFF = join(marks, 'nope')
    process.env.GIT_CONFIG_COUNT = '1'
    process.env.GIT_CONFIG_KEY_0 = 'core.fsmonitor'
    process.env.GIT_CONFIG_VALUE_0 = `touch ${join(marks, 'env-fsmonitor')}; false`
    const status = await hostGit(run, repo, ['status', '--porcelain'])
    expect(status.stdout).toBe(STATUS)
    expect((await hostGit(run, repo, ['diff', '--stat'])).exitCode).toBe(0)
    expect(existsSync(join(base, 'elsewhere-index'))).toBe(false)
    expect(marksIn(marks)).toEqual([])
  })
})

describe('how host git is called', () => {
  it('no pager, the hardening overrides before -C <dir>, then the command; diffing commands get --no-ext-diff --no-textconv right after the command', () => {
    const argv = hostGitArgv('/r', ['diff', '--stat'])
    const c = HARDENING_CONFIG.flatMap(([k, v]) => ['-c', `${k}=${v}`])
    expect(argv).toEqual(['git', '--no-pager', ...c, '-C', '/r', 'diff', '--no-ext-diff', '--no-textconv', '--stat'])
    for (const cmd of ['log', 'show', 'format-patch']) expect(hostGitArgv('/r', [cmd, 'x']).slice(-4)).toEqual([cmd, '--no-ext-diff', '--no-textconv', 'x'])
    for (const cmd of ['status', 'commit', 'fetch', 'rev-parse']) expect(hostGitArgv('/r', [cmd, 'x']).slice(-2)).toEqual([cmd, 'x'])
    expect(hostGitArgv('/r', []).slice(-2)).toEqual(['-C', '/r'])
  })

  it('every config key that can make git run something is overridden to run nothing', () => {
    expect(Object.fromEntries(HARDENING_CONFIG)).toEqual({
      'core.fsmonitor': 'false',
      'core.hooksPath': '/dev/null',
      'core.pager': 'cat',
      'core.editor': 'false',
      'sequence.editor': 'false',
      'core.askPass': '',
      'core.sshCommand': 'false',
      'core.gitProxy': '',
      'core.alternateRefsCommand': '',
      'core.untrackedCache': 'false',
      'credential.helper': '',
      'gpg.program': 'false',
      'commit.gpgSign': 'false',
      'tag.gpgSign': 'false',
      'submodule.recurse': 'false',
      'status.submoduleSummary': 'false',
      'diff.ignoreSubmodules': 'all',
      'fetch.recurseSubmodules': 'false',
      'protocol.allow': 'never',
      'protocol.file.allow': 'always',
      'uploadpack.packObjectsHook': '',
      'maintenance.auto': 'false',
      'gc.auto': '0',
    })
  })

  it('through the Runner: the 15 s deadline unless given, git’s prompts, locks, pager and editor off, the redirecting variables cleared; input only when given', async () => {
    const r = fakeRunner([{match: 'git', result: {stdout: 'ok'}}])
    await hostGit(r, '/r', ['status'])
    await hostGit(r, '/r', ['apply'], {timeoutMs: 500, input: 'patch'})
    const [plain, withInput] = r.calls
    expect(plain!.options?.timeoutMs).toBe(HOST_GIT_TIMEOUT_MS)
    expect(HOST_GIT_TIMEOUT_MS).toBe(15_000)
    expect(plain!.options).not.toHaveProperty('input')
    expect(withInput!.options).toMatchObject({timeoutMs: 500, input: 'patch'})
    const env = plain!.options!.env!
    expect(env).toMatchObject({GIT_TERMINAL_PROMPT: '0', GIT_OPTIONAL_LOCKS: '0', GIT_PAGER: 'cat', GIT_EDITOR: 'false', GIT_NO_REPLACE_OBJECTS: '1'})
    const cleared = Object.entries(env).filter(([, v]) => v === undefined).map(([k]) => k).sort()
    expect(cleared).toEqual([
      'GIT_ALTERNATE_OBJECT_DIRECTORIES', 'GIT_ASKPASS', 'GIT_COMMON_DIR', 'GIT_CONFIG', 'GIT_CONFIG_COUNT', 'GIT_CONFIG_PARAMETERS', 'GIT_DIR', 'GIT_EXEC_PATH',
      'GIT_EXTERNAL_DIFF', 'GIT_INDEX_FILE', 'GIT_NAMESPACE', 'GIT_OBJECT_DIRECTORY', 'GIT_PROXY_COMMAND', 'GIT_SEQUENCE_EDITOR', 'GIT_SSH', 'GIT_SSH_COMMAND',
      'GIT_TEMPLATE_DIR', 'GIT_WORK_TREE', 'SSH_ASKPASS',
    ])
  })
})
