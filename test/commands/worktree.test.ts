// run/shell --worktree and the git-internal mounts, in-process: real git on temp repos (the
// Runner passes git through), podman faked by fakeContainer: its `container inspect` is a recorded
// podman 4.3.1 inspect adapted to the run (the binds the `create` asked for), so the plan → execute
// path runs end to end without a container — and a test that edits that inspect (a wrong source, a
// mount made writable) proves mount verification refuses it here too.
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import {useProcFs} from '../../src/core/launch/container-view.js'

import Run from '../../src/commands/agent-machine/run.js'
import Shell from '../../src/commands/agent-machine/shell.js'
import {createRunner, type AttachedRunner, type Runner} from '../../src/core/exec.js'
import {hostGitArgv} from '../../src/core/git/host-git.js'
import {inspectPath} from '../../src/core/evidence/verify.js'
import {fakeContainer, type FakeContainer} from '../helpers/fake-container.js'
import {fakeRunner} from '../helpers/fake-runner.js'
import {podmanFixture} from '../helpers/fixtures.js'
import {fakeHostFacts} from '../helpers/host-facts.js'
import {schemaErrors} from '../helpers/json-schema.js'
import {runCommand} from '../helpers/run-command.js'
import {tempDir} from '../helpers/temp-dirs.js'
import {testProfileYaml} from '../helpers/test-profile.js'

const GIT_ENV = {...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1'}
const NOW = new Date('2025-01-31T12:34:56Z')

function git(dir: string, ...args: string[]): string {
  const out = spawnSync('git', ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@example.invalid', ...args], {encoding: 'utf8', env: GIT_ENV})
  if (out.status !== 0) throw new Error(`git ${args.join(' ')}: ${out.stderr}`)
  return out.stdout.trim()
}

/** A temp home with a git repo (one commit) allowlisted rw at /workspace/app, and a plain folder ro. */
function setup() {
  const home = realpathSync(tempDir('wt-home-'))
  const repo = join(home, 'dev', 'app')
  const plain = join(home, 'dev', 'plain')
  mkdirSync(repo, {recursive: true})
  mkdirSync(plain, {recursive: true})
  writeFileSync(join(repo, 'README.md'), '# app\n')
  git(repo, 'init', '--quiet', '--initial-branch=main')
  git(repo, 'add', '--all')
  git(repo, 'commit', '--quiet', '-m', 'initial')
  const profile = join(home, 'profile.yaml')
  writeFileSync(
    profile,
    testProfileYaml({
      mounts: [
        {source: repo, target: '/workspace/app', mode: 'rw'},
        {source: plain, target: '/workspace/plain', mode: 'ro'},
      ],
    }),
  )
  const facts = fakeHostFacts('linux', {homeDir: home, uid: 1000, env: {HOME: home, SOURCEOSCTL_PROFILE: profile}})
  const state = join(home, '.local', 'state', 'sourceosctl')
  return {home, repo, plain, profile, facts, state, head: git(repo, 'rev-parse', 'HEAD')}
}

afterEach(() => useProcFs(undefined))

/**
 * git runs for real; podman is faked. `container inspect` answers with the binds of the last
 * `create` (what a faithful podman reports), so verification passes exactly when the plan is
 * consistent; `edit` changes what the "runtime" reports (fakeContainer's editInspect, swap).
 */
function runner(edit: (c: FakeContainer) => void = () => {}): ReturnType<typeof fakeRunner> & {real: Runner} {
  const real = createRunner()
  // create → init → inspect answer from the last create; the container's /proc is played by fakeContainer
  const container = fakeContainer()
  container.install()
  edit(container)
  const fake = fakeRunner([
    {match: 'git', result: async (_c, args, options) => real('git', args, {...options, env: GIT_ENV})},
    {match: 'podman image inspect', result: {stdout: podmanFixture('podman431-image-inspect.json')}},
    ...container.routes,
    {match: 'podman ps', result: {stdout: ''}},
    {match: 'podman rm', result: {}},
    {match: 'podman --version', result: {stdout: 'podman version 4.3.1\n'}},
    {match: 'podman run', result: {stdout: 'codex-fake 0.0.1\n'}},
    {match: 'nix --version', result: {exitCode: null, notFound: true}},
  ])
  return Object.assign(fake, {real})
}

function attached(exitCode = 0, during?: () => void): AttachedRunner & {calls: string[][]} {
  const calls: string[][] = []
  const fn = (async (command: string, args: readonly string[]) => {
    calls.push([command, ...args])
    during?.()
    return {exitCode, notFound: false, interrupted: false, durationMs: 1}
  }) as AttachedRunner & {calls: string[][]}
  fn.calls = calls
  return fn
}

interface Json {
  plan: {steps: Array<{argv: string[]; mutates: boolean; why: string}>}
  mounts: Array<{source: string; target: string; mode: string}>
  workdir: string
  evidence: string | null
  worktree?: {
    repo: string
    path: string
    branch: string
    baseCommit: string
    target: string
    commonDir: string
    created: boolean
    review: {diff: string; merge: string; remove: string}
    broughtBack: {commit: string | null; error: {code: string; message: string; fix: string | null} | null} | null
  }
  warnings: string[]
}

const mountLines = (json: Json) => json.mounts.map((m) => `${m.target} ${m.mode}${m.source === m.target ? '' : ` <- ${m.source}`}`)

/** The user's repo as the host sees it: every ref, HEAD, the index bytes, the status. */
const repoState = (repo: string) => ({
  refs: git(repo, 'for-each-ref', '--format=%(refname) %(objectname)'),
  head: readFileSync(join(repo, '.git', 'HEAD'), 'utf8'),
  index: createHash('sha256').update(readFileSync(join(repo, '.git', 'index'))).digest('hex'),
  status: git(repo, '--no-optional-locks', 'status', '--porcelain'),
})

/** The repo's branches from its files (git itself is not run on a repo with a planted redirect). */
const headsOf = (repo: string) => ({
  loose: readdirSync(join(repo, '.git', 'refs', 'heads'), {recursive: true}).map(String).sort(),
  packed: existsSync(join(repo, '.git', 'packed-refs')) ? readFileSync(join(repo, '.git', 'packed-refs'), 'utf8') : '',
})

/** The host git calls that are plan steps of a --worktree run (evidence facts read git too; those are not). */
const worktreeGitCalls = (r: ReturnType<typeof runner>, repo: string, clone: string) =>
  r.calls
    .filter((c) => c.command === 'git')
    .filter((c) => {
      const dir = c.args[c.args.indexOf('-C') + 1]
      return dir === repo || (dir === clone && c.args.includes('checkout'))
    })
    .map((c) => [c.command, ...c.args])

describe('run|shell --worktree', () => {
  it('--dry-run runs no git: the plan has the status read, clone, checkout, the podman steps and the bring-back; the clone is mounted in place of the checkout; nothing is created', async () => {
    const {repo, facts, state, head} = setup()
    const before = repoState(repo)
    const r = runner()
    const out = await runCommand(Run, ['--tool', 'codex', '--repo', repo, '--worktree', '--dry-run', '--json', '--run-id', 'dryrun-0001'], {runner: r, attachedRunner: attached(), hostFacts: async () => facts, now: () => NOW})
    expect(out.exitCode, out.stderr).toBe(0)
    expect(schemaErrors('agent-machine-launch-result.schema.json', out.json)).toEqual([])
    const json = out.json as Json
    const clone = join(state, 'worktrees', 'app-dryrun-0001')
    const stage = `${clone}.bring-back.git`
    const branch = 'agent/codex-20250131-123456'
    const objects = join(repo, '.git', 'objects')
    // no host git at all
    expect(r.commandLines().filter((l) => l.startsWith('git '))).toEqual([])
    // the evidence's read-only commands are the plan's last steps (evidence-steps.ts)
    const evidence = json.plan.steps.filter((s) => s.why.startsWith('evidence:'))
    expect(evidence.map((s) => s.mutates)).not.toContain(true)
    expect(evidence.map((s) => s.argv)).toContainEqual(hostGitArgv(clone, ['status', '--porcelain=v2', '--branch', '--no-ahead-behind', '--untracked-files=normal', '--ignore-submodules=all']))
    const steps = json.plan.steps.filter((s) => !s.why.startsWith('evidence:')).map((s) => s.argv)
    // the probe container (no tool version cached for this image) comes first: it runs alongside
    expect(steps[0]!.slice(0, 2)).toEqual(['podman', 'run'])
    expect(steps[0]!.slice(-2)).toEqual(['codex', '--version'])
    expect(steps.slice(1, 5)).toEqual([
      hostGitArgv(repo, ['--no-optional-locks', 'status', '--porcelain', '--untracked-files=normal']),
      hostGitArgv(repo, ['clone', '--quiet', '--shared', '--no-checkout', '--template=', '--', repo, clone]),
      hostGitArgv(clone, ['checkout', '--quiet', '--no-track', '-b', branch, head]),
      ['sourceosctl:mkdir', join(clone, '.git', 'hooks')],
    ])
    expect(steps.filter((s) => s[0] === 'podman' && s[1] !== 'run').map((s) => s[1])).toEqual(expect.arrayContaining(['create', 'start']))
    expect(steps.slice(-4)).toEqual([
      ['sourceosctl:stage-branch', clone, branch, stage],
      hostGitArgv(repo, ['-c', 'fetch.fsckObjects=true', '-c', 'core.commitGraph=false', '-c', 'core.multiPackIndex=false', 'fetch', '--quiet', '--no-tags', '--no-write-fetch-head', '--no-recurse-submodules', '--no-prune', stage, `refs/heads/${branch}`]),
      hostGitArgv(repo, ['for-each-ref', '--format=%(objectname) %(refname)', `refs/heads/${branch}`]),
      hostGitArgv(repo, ['update-ref', '-m', 'sourceosctl: --worktree run dryrun-0001', '--stdin']),
    ])
    expect(mountLines(json)).toEqual([
      `/workspace/app rw <- ${clone}`,
      `/workspace/plain ro <- ${join(facts.homeDir, 'dev', 'plain')}`,
      `/workspace/app/.git rw <- ${clone}/.git`,
      `/workspace/app/.git/config ro <- ${clone}/.git/config`,
      `/workspace/app/.git/hooks ro <- ${clone}/.git/hooks`,
      `${objects} ro`,
      `/workspace/app/.git/objects/info/alternates ro <- ${clone}/.git/objects/info/alternates`,
    ])
    // nothing else of the user's repo: no refs, logs, config, hooks or common dir
    expect(json.mounts.filter((m) => m.source.startsWith(`${repo}/`) && m.source !== objects)).toEqual([])
    expect(json.workdir).toBe('/workspace/app')
    expect(json.worktree).toMatchObject({repo, path: clone, branch, baseCommit: head, target: '/workspace/app', commonDir: join(repo, '.git'), created: false, broughtBack: null})
    expect(json.warnings.join('\n')).toMatch(/dry run: whether .* has uncommitted changes is not known/)
    expect(existsSync(clone)).toBe(false)
    expect(existsSync(join(state, 'worktrees'))).toBe(false)
    expect(repoState(repo)).toEqual(before)
  })

  it('a real run executes exactly the planned argv, brings only the agent’s branch back (with its commit), leaves the clone, and records it in the evidence', async () => {
    const {home, repo, facts, state, head} = setup()
    const ctx = {hostFacts: async () => facts, now: () => NOW}
    const args = ['--repo', repo, '--worktree', '--branch', 'agent/review-me', '--run-id', 'realrun-0001']
    const dry = await runCommand(Shell, [...args, '--dry-run', '--json'], {...ctx, runner: runner(), attachedRunner: attached()})
    const before = repoState(repo)
    const clone = join(state, 'worktrees', 'app-realrun-0001')
    const r = runner()
    // The "agent": commits in the clone while the container runs.
    const a = attached(0, () => {
      writeFileSync(join(clone, 'agent.txt'), 'made by the agent\n')
      git(clone, 'add', 'agent.txt')
      git(clone, 'commit', '--quiet', '-m', 'agent commit')
    })
    const real = await runCommand(Shell, [...args, '--json'], {...ctx, runner: r, attachedRunner: a})
    expect(real.exitCode, real.stderr).toBe(0)
    const allPlanned = (dry.json as Json).plan.steps
    // the evidence's reads ran as listed (beside the launch, so not in the plan's order; rev-parse and symbolic-ref only where status cannot answer)
    const executedLines = r.calls.map((c) => [c.command, ...c.args].join(' '))
    for (const e of allPlanned.filter((s) => s.why.startsWith('evidence:') && s.argv[0] === 'git' && s.argv.includes('--porcelain=v2'))) expect(executedLines, e.argv.slice(-6).join(' ')).toContain(e.argv.join(' '))
    const planned = allPlanned.filter((s) => !s.why.startsWith('evidence:')).map((s) => s.argv)
    const plannedGit = planned.filter((s) => s[0] === 'git')
    // the evidence reads the user's refs twice, exactly as planned: before the launch, after the bring-back
    const refsRead = allPlanned.filter((s) => s.why.startsWith('evidence:') && s.argv.includes('for-each-ref')).map((s) => s.argv)
    expect(refsRead).toHaveLength(1)
    const isRefsRead = (c: string[]) => c.join('\0') === refsRead[0]!.join('\0')
    expect(worktreeGitCalls(r, repo, clone).filter(isRefsRead)).toHaveLength(2)
    expect(worktreeGitCalls(r, repo, clone).filter((c) => !isRefsRead(c))).toEqual(plannedGit)
    const podmanPlanned = planned.filter((s) => s[0] === 'podman')
    const podmanExecuted = [...r.calls.filter((c) => c.command === 'podman' && podmanPlanned.some((p) => p[1] === c.args[0])).map((c) => [c.command, ...c.args]), ...a.calls]
    expect(podmanExecuted).toEqual(podmanPlanned)

    const json = real.json as Json
    const tip = git(clone, 'rev-parse', 'HEAD')
    expect(tip).not.toBe(head)
    expect(json.worktree).toMatchObject({path: clone, branch: 'agent/review-me', created: true, broughtBack: {commit: tip, error: null}})
    expect(json.worktree!.review).toEqual({
      diff: `git -C ${repo} diff ${head}...agent/review-me`,
      merge: `git -C ${repo} merge agent/review-me`,
      remove: `rm -rf ${clone} && git -C ${repo} branch -D agent/review-me`,
    })
    // the clone: its own .git, borrowing the user's objects; no pointer into the user's repo
    expect(readFileSync(join(clone, '.git', 'objects', 'info', 'alternates'), 'utf8')).toBe(`${join(repo, '.git', 'objects')}\n`)
    expect(existsSync(`${clone}.bring-back.git`)).toBe(false)
    // the user's repo: exactly one new ref, at the agent's commit; HEAD, index, status unchanged
    const after = repoState(repo)
    expect({...after, refs: undefined}).toEqual({...before, refs: undefined})
    expect(after.refs.split('\n')).toEqual([...before.refs.split('\n'), `refs/heads/agent/review-me ${tip}`].sort())
    expect(git(repo, 'log', '-1', '--format=%s', 'agent/review-me')).toBe('agent commit')
    expect(git(repo, 'fsck', '--no-dangling')).toBe('')

    const record = JSON.parse(readFileSync(json.evidence!, 'utf8')) as {predicate: {worktree: unknown; git: Array<{target: string; ref: string}>; mounts: unknown[]; userRefs: {changes: unknown}}}
    // the user's refs: the record lists what the session and the bring-back changed there
    expect(record.predicate.userRefs.changes).toEqual({added: [{name: 'refs/heads/agent/review-me', commit: tip}], changed: [], removed: [], omitted: 0})
    // Host paths are written home-relative (profile spec.evidence.paths, default).
    const rel = (p: string) => p.split(home).join('~')
    expect(record.predicate.worktree).toEqual({repo: rel(repo), path: rel(clone), target: '/workspace/app', branch: 'agent/review-me', baseCommit: head, commonDir: rel(join(repo, '.git'))})
    expect(record.predicate.git.map((g) => [g.target, g.ref])).toEqual([['/workspace/app', 'agent/review-me'], ['/workspace/plain', null]])
    expect(record.predicate.mounts).toHaveLength(json.mounts.length)
    expect(schemaErrors('agent-machine-evidence-record.schema.json', record)).toEqual([])
    expect((await inspectPath(json.evidence!, {stateDir: state})).valid).toBe(true)

    // without --json the review commands are printed
    const again = await runCommand(Shell, ['--repo', repo, '--worktree', '--branch', 'agent/second'], {...ctx, runner: runner(), attachedRunner: attached(0)})
    expect(again.exitCode, again.stderr).toBe(0)
    expect(again.stderr).toMatch(/the branch agent\/second \(from [0-9a-f]{12}, now at [0-9a-f]{12}\) is in \S+; the agent's clone \S+ is left for review:\n {2}see the work: {3}git -C \S+ diff [0-9a-f]{40}\.\.\.agent\/second\n {2}take it: {8}git -C \S+ merge agent\/second\n {2}throw it away: {2}rm -rf \S+ && git -C \S+ branch -D agent\/second/)
  })

  it('`run` plans the tool-version probe only when the version is not cached, and runs exactly the planned probe', async () => {
    const {repo, facts, state} = setup()
    const ctx = {hostFacts: async () => facts, now: () => NOW}
    const args = ['--tool', 'codex', '--repo', repo, '--json']
    const dry = await runCommand(Run, [...args, '--dry-run', '--run-id', 'probe-0001'], {...ctx, runner: runner(), attachedRunner: attached()})
    const probe = (dry.json as Json).plan.steps[0]!
    expect(probe.argv.slice(0, 2)).toEqual(['podman', 'run'])
    expect(probe.mutates).toBe(true)
    const r = runner()
    const real = await runCommand(Run, [...args, '--run-id', 'probe-0001'], {...ctx, runner: r, attachedRunner: attached(0)})
    expect(real.exitCode, real.stderr).toBe(0)
    expect(r.calls.filter((c) => c.command === 'podman' && c.args[0] === 'run').map((c) => [c.command, ...c.args])).toEqual([probe.argv])
    expect(Object.values(JSON.parse(readFileSync(join(state, 'tool-versions.json'), 'utf8')) as object)).toEqual([{codex: 'codex-fake 0.0.1'}])
    // cached now: no probe planned, none run
    const again = await runCommand(Run, [...args, '--dry-run'], {...ctx, runner: runner(), attachedRunner: attached()})
    expect((again.json as Json).plan.steps.filter((s) => s.argv[1] === 'run')).toEqual([])
  })

  it.each([
    ['the user’s checkout mounted where the clone belongs', (repo: string) => (c: FakeContainer) => c.editInspect((e) => {
      const app = e.Mounts.find((m) => m.Destination === '/workspace/app')!
      app.Source = repo
    })],
    ['the read-only hooks mount reported writable', () => (c: FakeContainer) => c.editInspect((e) => {
      e.Mounts.find((m) => m.Destination === '/workspace/app/.git/hooks')!.RW = true
    })],
  ] as const)('a --worktree run whose container shows a wrong mount is refused (%s): exit 3, never started, nothing brought back', async (_label, edit) => {
    const {repo, facts, state} = setup()
    const before = repoState(repo)
    const r = runner(edit(repo))
    const a = attached(0)
    const out = await runCommand(Run, ['--tool', 'codex', '--repo', repo, '--worktree', '--run-id', 'wrongmnt-0001'], {runner: r, attachedRunner: a, hostFacts: async () => facts, now: () => NOW})
    expect(out.exitCode, out.stderr).toBe(3)
    expect(out.stderr).toMatch(/MOUNT_MISMATCH|mounts differ from the plan/)
    expect(a.calls).toEqual([])
    expect(r.commandLines().some((l) => l.startsWith('podman start'))).toBe(false)
    expect(r.commandLines().some((l) => l.startsWith('podman ps --all') && l.includes('run-id='))).toBe(true)
    expect(repoState(repo)).toEqual(before)
    expect(existsSync(join(state, 'worktrees', 'app-wrongmnt-0001.bring-back.git'))).toBe(false)
  })

  it('a worktree of a folder inside the repo keeps the workdir below the clone', async () => {
    const {repo, facts} = setup()
    mkdirSync(join(repo, 'src'))
    const out = await runCommand(Shell, ['--repo', join(repo, 'src'), '--worktree', '--dry-run', '--json', '--run-id', 'subdir-0001'], {runner: runner(), hostFacts: async () => facts, now: () => NOW})
    expect(out.exitCode, out.stderr).toBe(0)
    expect((out.json as Json).workdir).toBe('/workspace/app/src')
    expect((out.json as Json).worktree!.repo).toBe(repo)
  })

  it('a repo inside an allowlisted parent folder: the clone is mounted over the repo’s place, nothing of the user’s repo shows through', async () => {
    const {home, repo, facts, profile, state, head} = setup()
    writeFileSync(profile, readFileSync(profile, 'utf8').replace(`source: ${repo}, target: /workspace/app`, `source: ${join(home, 'dev')}, target: /workspace/dev`))
    const r = runner()
    const out = await runCommand(Shell, ['--repo', repo, '--worktree', '--dry-run', '--json', '--run-id', 'parent-0001'], {runner: r, hostFacts: async () => facts, now: () => NOW})
    expect(out.exitCode, out.stderr + out.stdout).toBe(0)
    const json = out.json as Json
    const clone = join(state, 'worktrees', 'app-parent-0001')
    expect(json.workdir).toBe('/workspace/dev/app')
    expect(mountLines(json)).toEqual(expect.arrayContaining([`/workspace/dev rw <- ${join(home, 'dev')}`, `/workspace/dev/app rw <- ${clone}`, `${join(repo, '.git', 'objects')} ro`]))
    // no mount of the user's repo's git internals: its place is the clone's
    expect(json.mounts.filter((m) => m.source.startsWith(`${repo}/`) && m.source !== join(repo, '.git', 'objects'))).toEqual([])
    expect(json.worktree).toMatchObject({repo, baseCommit: head, target: '/workspace/dev/app'})
  })

  it('a real run warns that uncommitted changes are not in the clone (the status step reads them)', async () => {
    const {repo, facts} = setup()
    writeFileSync(join(repo, 'README.md'), 'changed\n')
    const out = await runCommand(Shell, ['--repo', repo, '--worktree', '--json'], {runner: runner(), attachedRunner: attached(0), hostFacts: async () => facts})
    expect(out.exitCode, out.stderr + out.stdout).toBe(0)
    expect((out.json as Json).warnings.join('\n')).toMatch(/uncommitted changes: the clone starts from the last commit/)
    const human = await runCommand(Shell, ['--repo', repo, '--worktree', '--branch', 'agent/human'], {runner: runner(), attachedRunner: attached(0), hostFacts: async () => facts})
    expect(human.stderr).toMatch(/warning:.*uncommitted changes: the clone starts from the last commit/)
  })

  describe('after the session: only the one branch comes back, and only safely', () => {
    /** A real run whose "agent" (the attached runner) does `act` to the clone. */
    async function session(act: (clone: string, s: ReturnType<typeof setup>) => void, opts: {branch?: string} = {}) {
      const s = setup()
      const runId = `after-${Math.random().toString(16).slice(2, 10)}`
      const clone = join(s.state, 'worktrees', `app-${runId}`)
      const branch = opts.branch ?? 'agent/b'
      const before = repoState(s.repo)
      const out = await runCommand(Shell, ['--repo', s.repo, '--worktree', '--branch', branch, '--run-id', runId, '--json'], {
        runner: runner(),
        attachedRunner: attached(0, () => act(clone, s)),
        hostFacts: async () => s.facts,
      })
      return {s, out, clone, before, json: out.json as Json}
    }

    it('the agent moves its clone’s main, makes other branches and tags: only its own branch arrives', async () => {
      const {s, out, before, json} = await session((clone) => {
        git(clone, 'commit', '--quiet', '--allow-empty', '-m', 'on the branch')
        git(clone, 'update-ref', 'refs/heads/main', git(clone, 'rev-parse', 'HEAD'))
        git(clone, 'branch', 'extra')
        git(clone, 'tag', 'v666')
      })
      expect(out.exitCode, out.stderr).toBe(0)
      const after = repoState(s.repo)
      const tip = json.worktree!.broughtBack!.commit!
      expect(after.refs.split('\n')).toEqual([...before.refs.split('\n'), `refs/heads/agent/b ${tip}`].sort())
    })

    it.each([
      ['alternates pointed elsewhere', 'WORKTREE_CLONE_TAMPERED', (clone: string) => writeFileSync(join(clone, '.git', 'objects', 'info', 'alternates'), '/tmp/elsewhere/objects\n')],
      ['the branch ref made a symlink', 'WORKTREE_CLONE_TAMPERED', (clone: string) => {
        rmSync(join(clone, '.git', 'refs', 'heads', 'agent', 'b'))
        symlinkSync('/etc/hostname', join(clone, '.git', 'refs', 'heads', 'agent', 'b'))
      }],
      ['the branch ref made a symbolic ref', 'WORKTREE_CLONE_TAMPERED', (clone: string) => writeFileSync(join(clone, '.git', 'refs', 'heads', 'agent', 'b'), 'ref: refs/remotes/origin/main\n')],
      ['the branch folder made a symlink', 'WORKTREE_CLONE_TAMPERED', (clone: string) => {
        rmSync(join(clone, '.git', 'refs', 'heads', 'agent'), {recursive: true})
        symlinkSync('/tmp', join(clone, '.git', 'refs', 'heads', 'agent'))
      }],
      ['the objects folder made a symlink', 'WORKTREE_CLONE_TAMPERED', (clone: string) => {
        rmSync(join(clone, '.git', 'objects'), {recursive: true})
        symlinkSync('/tmp', join(clone, '.git', 'objects'))
      }],
      ['the branch pointed at a blob', 'WORKTREE_BRING_BACK_FAILED', (clone: string) => {
        const blob = spawnSync('git', ['-C', clone, 'hash-object', '-w', '--stdin'], {input: 'x', encoding: 'utf8', env: GIT_ENV}).stdout.trim()
        writeFileSync(join(clone, '.git', 'refs', 'heads', 'agent', 'b'), `${blob}\n`)
      }],
      ['the branch made in the user’s repo meanwhile, elsewhere', 'WORKTREE_BRANCH_TAKEN', (clone: string, s: ReturnType<typeof setup>) => {
        git(clone, 'commit', '--quiet', '--allow-empty', '-m', 'agent')
        git(s.repo, 'commit', '--quiet', '--allow-empty', '-m', 'user')
        git(s.repo, 'branch', 'agent/b')
      }],
    ] as const)('%s → %s; nothing in the user’s repo changes; the clone is left', async (_what, code, act) => {
      const {s, out, clone, before} = await session(act)
      const expectedExit = code === 'WORKTREE_BRING_BACK_FAILED' ? 1 : 3
      expect(out.exitCode, out.stderr).toBe(expectedExit)
      expect((out.json as Json).worktree!.broughtBack).toMatchObject({commit: null, error: {code}})
      const error = (out.json as Json).worktree!.broughtBack!.error!
      expect(`${error.message} ${error.fix}`).toContain(code === 'WORKTREE_BRANCH_TAKEN' ? 'appeared in' : 'the clone is left at')
      const after = repoState(s.repo)
      if (code !== 'WORKTREE_BRANCH_TAKEN') expect(after).toEqual(before)
      else expect(after.refs).toBe(git(s.repo, 'for-each-ref', '--format=%(refname) %(objectname)'))
      expect(existsSync(clone)).toBe(true)
      expect(existsSync(`${clone}.bring-back.git`)).toBe(false)
    })

    it('the agent deleted its branch: nothing comes back, a warning says so, exit stays the tool’s', async () => {
      const {s, out, before, json} = await session((clone) => {
        git(clone, 'checkout', '--quiet', '--detach')
        git(clone, 'branch', '-D', 'agent/b')
      })
      expect(out.exitCode, out.stderr).toBe(0)
      expect(json.worktree!.broughtBack).toEqual({commit: null, error: null})
      expect(json.warnings.join('\n')).toMatch(/has no branch agent\/b any more/)
      expect(repoState(s.repo)).toEqual(before)
    })
  })

  describe('bad input: a clear error, nothing created, no container', () => {
    type S = ReturnType<typeof setup>
    it.each([
      ['a folder that is not a git repo', 2, /--worktree needs a git repository/, (s: S) => ['--repo', s.plain, '--worktree']],
      ['a dirty base with --clean-base (found by the status step, before the clone)', 3, /uncommitted changes, and --clean-base asked for a clean base/, (s: S) => (writeFileSync(join(s.repo, 'new.txt'), 'x'), ['--repo', s.repo, '--worktree', '--clean-base'])],
      ['a branch name git rejects', 2, /not a valid branch name/, (s: S) => ['--repo', s.repo, '--worktree', '--branch', 'bad..name']],
      ['an existing branch', 2, /branch main already exists/, (s: S) => ['--repo', s.repo, '--worktree', '--branch', 'main']],
      [
        'a clone path that already exists',
        2,
        /app-taken-0001 already exists/,
        (s: S) => (mkdirSync(join(s.state, 'worktrees', 'app-taken-0001'), {recursive: true}), ['--repo', s.repo, '--worktree', '--run-id', 'taken-0001']),
      ],
      ['a planted commondir redirect in the repo’s .git', 3, /commondir file/, (s: S) => (writeFileSync(join(s.repo, '.git', 'commondir'), `${s.home}\n`), ['--repo', s.repo, '--worktree'])],
      ['--branch without --worktree', 2, /--branch only applies with --worktree/, (s: S) => ['--repo', s.repo, '--branch', 'x']],
    ] as const)('%s → exit %i', async (_what, code, message, argsOf) => {
      const s = setup()
      const args = argsOf(s)
      const r = runner()
      const a = attached()
      const before = headsOf(s.repo)
      const out = await runCommand(Shell, args, {runner: r, attachedRunner: a, hostFacts: async () => s.facts})
      expect(out.exitCode, out.stderr).toBe(code)
      expect(out.stderr).toMatch(message)
      expect(r.commandLines().filter((l) => / clone | checkout | fetch | update-ref /.test(l) || l.startsWith('podman create'))).toEqual([])
      expect(a.calls).toEqual([])
      expect(headsOf(s.repo)).toEqual(before)
      const made = existsSync(join(s.state, 'worktrees')) ? readdirSync(join(s.state, 'worktrees')).filter((n) => !n.includes('taken')) : []
      expect(made).toEqual([])
    })
  })
})

describe('git internals of a plain launch', () => {
  it('a normal repo: .git rw as its own mount, hooks and config ro; a missing hooks folder is created by a plan step', async () => {
    const {repo, facts} = setup()
    rmSync(join(repo, '.git', 'hooks'), {recursive: true, force: true})
    const r = runner()
    const dry = await runCommand(Shell, ['--repo', repo, '--dry-run', '--json', '--run-id', 'plain-0001'], {runner: r, hostFacts: async () => facts})
    expect(dry.exitCode, dry.stderr).toBe(0)
    const json = dry.json as Json
    expect(mountLines(json).slice(2)).toEqual([
      `/workspace/app/.git rw <- ${repo}/.git`,
      `/workspace/app/.git/config ro <- ${repo}/.git/config`,
      `/workspace/app/.git/hooks ro <- ${repo}/.git/hooks`,
    ])
    expect(json.plan.steps[0]).toMatchObject({argv: ['sourceosctl:mkdir', join(repo, '.git', 'hooks')], mutates: true})
    expect(existsSync(join(repo, '.git', 'hooks'))).toBe(false)
    expect(r.commandLines().every((l) => l.startsWith('podman image inspect'))).toBe(true)

    const real = await runCommand(Shell, ['--repo', repo, '--json', '--run-id', 'plain-0002'], {runner: runner(), attachedRunner: attached(0), hostFacts: async () => facts})
    expect(real.exitCode, real.stderr).toBe(0)
    expect(existsSync(join(repo, '.git', 'hooks'))).toBe(true)
  })

  it('a repo that is a linked worktree: its common dir at the same path, read-only', async () => {
    const {home, repo, facts, profile} = setup()
    const wt = join(home, 'dev', 'app-wt')
    git(repo, 'worktree', 'add', '--quiet', '-b', 'feature', wt)
    writeFileSync(profile, readFileSync(profile, 'utf8').replace(`source: ${repo}, target: /workspace/app`, `source: ${wt}, target: /workspace/wt`))
    const out = await runCommand(Shell, ['--repo', wt, '--dry-run', '--json'], {runner: runner(), hostFacts: async () => facts})
    expect(out.exitCode, out.stderr).toBe(0)
    const common = join(repo, '.git')
    expect(mountLines(out.json as Json)).toEqual(expect.arrayContaining([`/workspace/wt/.git ro <- ${wt}/.git`, `${common} ro`, `${common}/worktrees/app-wt rw`, `${common}/worktrees/app-wt/commondir ro`]))
    expect(mountLines(out.json as Json).filter((l) => l.includes('hooks') || l.endsWith('config rw'))).toEqual([])
  })

  it('refuses a git dir the mount policy denies (a worktree whose repo lives in ~/.ssh)', async () => {
    const {home, facts, profile} = setup()
    const hidden = join(home, '.ssh', 'repo')
    mkdirSync(hidden, {recursive: true})
    writeFileSync(join(hidden, 'f'), 'x')
    git(hidden, 'init', '--quiet', '--initial-branch=main')
    git(hidden, 'add', '--all')
    git(hidden, 'commit', '--quiet', '-m', 'x')
    const wt = join(home, 'dev', 'leak')
    git(hidden, 'worktree', 'add', '--quiet', '-b', 'leak', wt)
    writeFileSync(profile, readFileSync(profile, 'utf8').replace(/source: \S+, target: \/workspace\/app/, `source: ${wt}, target: /workspace/leak`))
    const out = await runCommand(Shell, ['--repo', wt, '--dry-run'], {runner: runner(), hostFacts: async () => facts})
    expect(out.exitCode).toBe(3)
    expect(out.stderr).toMatch(/refusing to mount .*\.ssh\/repo\/\.git: it is inside ~\/\.ssh/)
  })
})
