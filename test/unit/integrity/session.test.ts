/** The after-session check on real folders and real git: plants are moved away, the repo still works. */
import {spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {createRunner} from '../../../src/core/exec.js'
import {hostGit} from '../../../src/core/git/host-git.js'
import {checkAgainstBaseline, plantsOf, recoverPending, savePending, takeBaseline} from '../../../src/core/integrity/session.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, {recursive: true, force: true})
})

function git(cwd: string, ...args: string[]): string {
  const r = spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', '-c', 'init.defaultBranch=main', ...args], {cwd, encoding: 'utf8'})
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`)
  return r.stdout.trim()
}

function setup(): {root: string; repo: string; state: string; marker: string} {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'integrity-')))
  dirs.push(base)
  const root = join(base, 'dev')
  const repo = join(root, 'repo')
  mkdirSync(repo, {recursive: true})
  git(repo, 'init', '-q')
  writeFileSync(join(repo, 'a.txt'), 'a\n')
  git(repo, 'add', '.')
  git(repo, 'commit', '-qm', 'init')
  return {root, repo, state: join(base, 'state'), marker: join(base, 'PWNED')}
}

async function baselineOf(root: string, runId = 'run-0000001') {
  return takeBaseline(runId, [{root}], new Date())
}

describe('after-session check', () => {
  it('defect 1: a commondir redirect to an agent-made config with core.fsmonitor is quarantined; host git then runs nothing and the repo works', async () => {
    const {root, repo, state, marker} = setup()
    const baseline = await baselineOf(root)
    // The agent: a directory it controls, whose config names a program, and .git/commondir → it.
    const evil = join(root, 'evil')
    mkdirSync(join(evil, 'objects'), {recursive: true})
    mkdirSync(join(evil, 'refs'), {recursive: true})
    writeFileSync(join(evil, 'config'), `[core]\n\trepositoryformatversion = 0\n\tfsmonitor = "touch ${marker}; false"\n`)
    writeFileSync(join(repo, '.git', 'commondir'), `${evil}\n`)

    const report = await checkAgainstBaseline(baseline, state)
    expect(plantsOf(report).map((f) => f.path)).toEqual([join(repo, '.git', 'commondir')])
    const moved = plantsOf(report)[0]!.quarantinedAt!
    expect(moved.startsWith(join(state, 'quarantine', 'run-0000001'))).toBe(true)
    expect(readFileSync(moved, 'utf8')).toBe(`${evil}\n`)
    expect(JSON.parse(readFileSync(join(state, 'quarantine', 'run-0000001', 'manifest.json'), 'utf8')).findings).toHaveLength(1)

    const status = spawnSync('git', ['status', '--porcelain'], {cwd: repo, encoding: 'utf8'})
    expect(status.status).toBe(0)
    expect(existsSync(marker)).toBe(false)
  })

  it('defect 2: a nested repo with fsmonitor registered as a gitlink is quarantined whole', async () => {
    const {root, repo, state, marker} = setup()
    const baseline = await baselineOf(root)
    const sub = join(repo, 'sub')
    mkdirSync(sub)
    git(sub, 'init', '-q')
    writeFileSync(join(sub, 'x'), 'x')
    git(sub, 'add', '.')
    git(sub, 'commit', '-qm', 'x')
    git(sub, 'config', 'core.fsmonitor', `touch ${marker}; false`)
    git(repo, 'update-index', '--add', '--cacheinfo', `160000,${git(sub, 'rev-parse', 'HEAD')},sub`)

    const report = await checkAgainstBaseline(baseline, state)
    expect(plantsOf(report).map((f) => f.path)).toEqual([join(sub, '.git')])
    expect(existsSync(join(sub, '.git'))).toBe(false)
    expect(spawnSync('git', ['status'], {cwd: repo, encoding: 'utf8'}).status).toBe(0)
    expect(existsSync(marker)).toBe(false)
  })

  it('a folder made to look like a git dir (bare repo) whose config names a program: its HEAD is moved, so git run there no longer uses it', async () => {
    const {root, repo, state, marker} = setup()
    mkdirSync(join(repo, 'src'))
    writeFileSync(join(repo, 'src', 'main.c'), 'int main;\n')
    const baseline = await baselineOf(root)
    const src = join(repo, 'src')
    mkdirSync(join(src, 'objects'))
    mkdirSync(join(src, 'refs'))
    writeFileSync(join(src, 'HEAD'), 'ref: refs/heads/main\n')
    writeFileSync(join(src, 'config'), `[core]\n\trepositoryformatversion = 0\n\tbare = false\n\tworktree = ..\n\tfsmonitor = "touch ${marker}; false"\n`)
    // Without the check, the user's `git status` in src/ would run it (proves the attack is real).
    const probe = spawnSync('git', ['status'], {cwd: src, encoding: 'utf8', env: {...process.env, GIT_CONFIG_NOSYSTEM: '1'}})
    expect(probe.status).toBe(0)
    expect(existsSync(marker)).toBe(true)
    rmSync(marker)

    const report = await checkAgainstBaseline(baseline, state)
    expect(plantsOf(report).map((f) => f.path)).toEqual([join(src, 'HEAD')])
    expect(existsSync(join(src, 'main.c'))).toBe(true)
    expect(spawnSync('git', ['status'], {cwd: src, encoding: 'utf8'}).status).toBe(0)
    expect(existsSync(marker)).toBe(false)
  })

  it('sockets, FIFOs and symlinks into secrets the agent left are moved away; a credential-store look-alike is named', async () => {
    const {root, repo, state} = setup()
    const home = join(root, '..', 'home')
    mkdirSync(join(home, '.ssh'), {recursive: true})
    writeFileSync(join(home, '.ssh', 'id_ed25519'), 'key')
    const host = fakeHostFacts('linux', {homeDir: home, env: {HOME: home}})
    const baseline = await baselineOf(root)
    mkdirSync(join(repo, 'deep', 'node_modules', 'x'), {recursive: true})
    spawnSync('mkfifo', [join(repo, 'deep', 'node_modules', 'x', 'pipe')])
    spawnSync('python3', ['-c', `import socket; s=socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(join(repo, '.git', 'fsmonitor--daemon.ipc'))})`])
    symlinkSync(join(home, '.ssh', 'id_ed25519'), join(repo, 'key'))
    mkdirSync(join(repo, '.aws'))
    const report = await checkAgainstBaseline(baseline, state, host)
    expect(plantsOf(report).map((f) => f.path.slice(repo.length)).sort()).toEqual(['/.git/fsmonitor--daemon.ipc', '/deep/node_modules/x/pipe', '/key'])
    for (const f of plantsOf(report)) expect(existsSync(f.path), f.path).toBe(false)
    expect(report.findings.filter((f) => f.action === 'report').map((f) => f.path)).toEqual([join(repo, '.aws')])
    expect(existsSync(join(home, '.ssh', 'id_ed25519'))).toBe(true)
  })

  it('a mounted folder swapped during the session is not judged by its path: nothing is moved, the plant counts as not neutralised', async () => {
    const {root, state} = setup()
    const baseline = await baselineOf(root)
    const decoy = join(root, '..', 'decoy')
    mkdirSync(join(decoy, 'x', '.git', 'hooks'), {recursive: true})
    writeFileSync(join(decoy, 'x', '.git', 'hooks', 'pre-commit'), 'user hook')
    renameSync(root, `${root}.moved`)
    renameSync(decoy, root)
    const report = await checkAgainstBaseline(baseline, state)
    expect(plantsOf(report)).toMatchObject([{path: root, quarantinedAt: null}])
    expect(existsSync(join(root, 'x', '.git', 'hooks', 'pre-commit'))).toBe(true)
    expect(existsSync(join(`${root}.moved`, 'repo', '.git'))).toBe(true)
  })

  it('a baseline whose folder is swapped while it is read is refused (MOUNT_SWAPPED), not recorded through the swap', async () => {
    const {root, repo} = setup()
    // the launch scan saw repo/.git; by the time the baseline reads it, it is gone
    await expect(takeBaseline('run-swap0001', [{root, scan: {root, gitEntries: [{path: join(repo, '.git')}, {path: join(root, 'gone', '.git')}], writeProtected: []}}], new Date())).rejects.toMatchObject({code: 'MOUNT_SWAPPED', exitCode: 3})
  })

  it('a changed config (when it was writable) gets its original bytes back', async () => {
    const {root, repo, state} = setup()
    const before = readFileSync(join(repo, '.git', 'config'), 'utf8')
    const baseline = await baselineOf(root)
    writeFileSync(join(repo, '.git', 'config'), `${before}[core]\n\tpager = evil\n`)
    const report = await checkAgainstBaseline(baseline, state)
    expect(plantsOf(report)).toMatchObject([{path: join(repo, '.git', 'config'), action: 'restore'}])
    expect(readFileSync(join(repo, '.git', 'config'), 'utf8')).toBe(before)
  })

  it('a plain repo made during the session stays; new write-protected files are named', async () => {
    const {root, repo, state} = setup()
    const baseline = await baselineOf(root)
    mkdirSync(join(root, 'fresh'))
    git(join(root, 'fresh'), 'init', '-q')
    writeFileSync(join(repo, '.envrc'), 'export X=1\n')
    const report = await checkAgainstBaseline(baseline, state)
    expect(plantsOf(report)).toEqual([])
    expect(existsSync(join(root, 'fresh', '.git'))).toBe(true)
    expect(report.newWriteProtected).toContain(join(repo, '.envrc'))
    expect(report.quarantineDir).toBeNull()
  })

  it('a hooksPath inside the work tree (husky) is part of the surface: a new hook there is quarantined', async () => {
    const {root, repo, state} = setup()
    git(repo, 'config', 'core.hooksPath', '.husky')
    mkdirSync(join(repo, '.husky'))
    const baseline = await baselineOf(root)
    writeFileSync(join(repo, '.husky', 'pre-commit'), '#!/bin/sh\ntouch /tmp/x\n', {mode: 0o755})
    const report = await checkAgainstBaseline(baseline, state)
    expect(plantsOf(report).map((f) => f.path)).toEqual([join(repo, '.husky', 'pre-commit')])
  })

  it('a killed CLI’s baseline is checked at the next launch; a live one is left alone', async () => {
    const {root, repo, state} = setup()
    const dead = {...(await baselineOf(root, 'run-dead0001')), pid: 2 ** 22 + 12345}
    const live = await baselineOf(root, 'run-live0001')
    await savePending(state, dead)
    await savePending(state, live)
    writeFileSync(join(repo, '.git', 'hooks', 'post-checkout'), '#!/bin/sh\n', {mode: 0o755})
    const recovered = await recoverPending(state)
    expect(recovered.map((r) => r.runId)).toEqual(['run-dead0001'])
    expect(plantsOf(recovered[0]!.report).map((f) => f.path)).toEqual([join(repo, '.git', 'hooks', 'post-checkout')])
    expect(existsSync(join(state, 'integrity', 'run-dead0001.json'))).toBe(false)
    expect(existsSync(join(state, 'integrity', 'run-live0001.json'))).toBe(true)
  })
})

describe('hostGit', () => {
  it('runs no fsmonitor, pager, hook or external diff a repo config names', async () => {
    const {repo, marker} = setup()
    for (const [k, v] of [['core.fsmonitor', `touch ${marker}.fsmonitor; false`], ['core.pager', `touch ${marker}.pager; cat`], ['diff.external', `touch ${marker}.diff`], ['core.hooksPath', join(repo, 'hooks')]]) git(repo, 'config', k!, v!)
    mkdirSync(join(repo, 'hooks'))
    writeFileSync(join(repo, 'hooks', 'post-checkout'), `#!/bin/sh\ntouch ${marker}.hook\n`, {mode: 0o755})
    writeFileSync(join(repo, 'a.txt'), 'changed\n')
    const runner = createRunner()
    for (const args of [['status', '--porcelain'], ['diff'], ['log', '-1'], ['checkout', '-q', '-b', 'x']]) {
      const r = await hostGit(runner, repo, args)
      expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).toBe(0)
    }
    for (const what of ['fsmonitor', 'pager', 'diff', 'hook']) expect(existsSync(`${marker}.${what}`), what).toBe(false)
  })
})
