// run/shell --worktree and the git-internal mounts, in-process: real git on temp repos (the
// Runner passes git through), podman faked — its `container inspect` reports exactly the mounts
// the `create` asked for, so the plan → execute path runs end to end without a container.
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import {useProcFs} from '../../src/core/launch/container-view.js'

import Run from '../../src/commands/agent-machine/run.js'
import Shell from '../../src/commands/agent-machine/shell.js'
import {createRunner, type AttachedRunner, type Runner} from '../../src/core/exec.js'
import {hostGitArgv} from '../../src/core/git/host-git.js'
import {inspectPath} from '../../src/core/evidence/verify.js'
import {fakeContainer} from '../helpers/fake-container.js'
import {fakeRunner} from '../helpers/fake-runner.js'
import {podmanFixture} from '../helpers/fixtures.js'
import {fakeHostFacts} from '../helpers/host-facts.js'
import {schemaErrors} from '../helpers/json-schema.js'
import {runCommand} from '../helpers/run-command.js'

const GIT_ENV = {...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1'}
const NOW = new Date('2025-01-31T12:34:56Z')

function git(dir: string, ...args: string[]): string {
  const out = spawnSync('git', ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@example.invalid', ...args], {encoding: 'utf8', env: GIT_ENV})
  if (out.status !== 0) throw new Error(`git ${args.join(' ')}: ${out.stderr}`)
  return out.stdout.trim()
}

/** A temp home with a git repo (one commit) allowlisted rw at /workspace/app, and a plain folder ro. */
function setup() {
  const home = realpathSync(mkdtempSync(join(tmpdir(), 'wt-home-')))
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
    `apiVersion: sourceos.dev/v1alpha1
kind: AgentMachineProfile
metadata: {name: test}
spec:
  platform: linux
  image: {ref: localhost/test-bb:1, digest: null, pull: never}
  mounts:
    - {source: ${repo}, target: /workspace/app, mode: rw}
    - {source: ${plain}, target: /workspace/plain, mode: ro}
  tools:
    codex: {enabled: true, command: [codex]}
  env: {passthrough: [], set: {}}
  network: {mode: none}
  resources: {cpus: 2, memory: 4g, pidsLimit: 1024}
  secrets: {door: none}
`,
  )
  const facts = fakeHostFacts('linux', {homeDir: home, uid: 1000, env: {HOME: home, SOURCEOSCTL_PROFILE: profile}})
  const state = join(home, '.local', 'state', 'sourceosctl')
  return {home, repo, plain, profile, facts, state, head: git(repo, 'rev-parse', 'HEAD')}
}

afterEach(() => useProcFs(undefined))

/**
 * git runs for real; podman is faked. `container inspect` answers with the binds of the last
 * `create` (what a faithful podman reports), so verification passes exactly when the plan is consistent.
 */
function runner(): ReturnType<typeof fakeRunner> & {real: Runner} {
  const real = createRunner()
  // create → init → inspect answer from the last create; the container's /proc is played by fakeContainer
  const container = fakeContainer()
  container.install()
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

function attached(exitCode = 0): AttachedRunner & {calls: string[][]} {
  const calls: string[][] = []
  const fn = (async (command: string, args: readonly string[]) => {
    calls.push([command, ...args])
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
  worktree?: {repo: string; path: string; branch: string; baseCommit: string; target: string; commonDir: string; created: boolean; review: {diff: string; merge: string; remove: string}}
  warnings: string[]
}

const mountLines = (json: Json) => json.mounts.map((m) => `${m.target} ${m.mode}${m.source === m.target ? '' : ` <- ${m.source}`}`)
const checkoutState = (repo: string) => ({
  head: git(repo, 'rev-parse', 'HEAD'),
  index: createHash('sha256').update(readFileSync(join(repo, '.git', 'index'))).digest('hex'),
  status: git(repo, '--no-optional-locks', 'status', '--porcelain'),
  branches: git(repo, 'branch', '--list'),
})

describe('run|shell --worktree', () => {
  it('--dry-run: the plan starts with `git worktree add`, mounts the worktree in place of the checkout, and creates nothing', async () => {
    const {repo, facts, state, head} = setup()
    const r = runner()
    const out = await runCommand(Run, ['--tool', 'codex', '--repo', repo, '--worktree', '--dry-run', '--json', '--run-id', 'dryrun-0001'], {runner: r, attachedRunner: attached(), hostFacts: async () => facts, now: () => NOW})
    expect(out.exitCode, out.stderr).toBe(0)
    expect(schemaErrors('agent-machine-launch-result.schema.json', out.json)).toEqual([])
    const json = out.json as Json
    const path = join(state, 'worktrees', 'app-dryrun-0001')
    const common = join(repo, '.git')
    const gitDir = join(common, 'worktrees', 'app-dryrun-0001')
    expect(json.plan.steps[0]).toMatchObject({argv: hostGitArgv(repo, ['worktree', 'add', '-b', 'agent/codex-20250131-123456', path, head]), mutates: true})
    expect(json.plan.steps.slice(1).map((s) => s.argv.slice(0, 2))).toEqual([['podman', 'create'], ['podman', 'container'], ['podman', 'start']])
    expect(mountLines(json)).toEqual([
      `/workspace/app rw <- ${path}`,
      `/workspace/plain ro <- ${join(facts.homeDir, 'dev', 'plain')}`,
      `/workspace/app/.git ro <- ${path}/.git`,
      `${common} ro`,
      `${common}/logs rw`,
      `${common}/objects rw`,
      `${common}/refs rw`,
      `${gitDir} rw`,
      `${gitDir}/commondir ro`,
      `${gitDir}/gitdir ro`,
    ])
    expect(json.workdir).toBe('/workspace/app')
    expect(json.worktree).toMatchObject({repo, path, branch: 'agent/codex-20250131-123456', baseCommit: head, target: '/workspace/app', commonDir: common, created: false})
    // read-only git only; nothing on disk
    expect(r.commandLines().filter((l) => l.startsWith('git ') && / -C \S+ (worktree add|branch |commit|checkout)/.test(l))).toEqual([])
    expect(existsSync(path)).toBe(false)
    expect(git(repo, 'branch', '--list')).toBe('* main')
  })

  it('a real run executes exactly the planned argv, leaves the worktree, prints the review commands and records it in the evidence', async () => {
    const {repo, facts, state, head} = setup()
    const ctx = {hostFacts: async () => facts, now: () => NOW}
    const args = ['--repo', repo, '--worktree', '--branch', 'agent/review-me', '--run-id', 'realrun-0001']
    const dry = await runCommand(Shell, [...args, '--dry-run', '--json'], {...ctx, runner: runner(), attachedRunner: attached()})
    const before = checkoutState(repo)
    const r = runner()
    const a = attached(0)
    const real = await runCommand(Shell, [...args, '--json'], {...ctx, runner: r, attachedRunner: a})
    expect(real.exitCode, real.stderr).toBe(0)
    const planned = (dry.json as Json).plan.steps.map((s) => s.argv)
    const executed = [
      ...r.calls.filter((c) => (c.command === 'git' && c.args.includes('add')) || (c.command === 'podman' && ['create', 'container'].includes(c.args[0]!))).map((c) => [c.command, ...c.args]),
      ...a.calls,
    ]
    expect(executed).toEqual(planned)

    const json = real.json as Json
    const path = join(state, 'worktrees', 'app-realrun-0001')
    expect(json.worktree).toMatchObject({path, branch: 'agent/review-me', created: true})
    expect(json.worktree!.review).toEqual({
      diff: `git -C ${repo} diff ${head}...agent/review-me`,
      merge: `git -C ${repo} merge agent/review-me`,
      remove: `git -C ${repo} worktree remove ${path} && git -C ${repo} branch -D agent/review-me`,
    })
    expect(readFileSync(join(path, '.git'), 'utf8')).toBe(`gitdir: ${join(repo, '.git', 'worktrees', 'app-realrun-0001')}\n`)
    expect(git(path, 'rev-parse', 'HEAD')).toBe(head)
    expect(git(path, 'symbolic-ref', '--short', 'HEAD')).toBe('agent/review-me')
    // the checkout: same HEAD, index bytes and status; only the new branch was added
    const after = checkoutState(repo)
    expect({...after, branches: undefined}).toEqual({...before, branches: undefined})
    expect(after.branches.split('\n').map((b) => b.trim())).toEqual(['+ agent/review-me', '* main'])

    const record = JSON.parse(readFileSync(json.evidence!, 'utf8')) as {predicate: {worktree: unknown; git: Array<{target: string; ref: string}>; mounts: unknown[]}}
    expect(record.predicate.worktree).toEqual({repo, path, target: '/workspace/app', branch: 'agent/review-me', baseCommit: head, commonDir: join(repo, '.git')})
    expect(record.predicate.git.map((g) => [g.target, g.ref])).toEqual([['/workspace/app', 'agent/review-me'], ['/workspace/plain', null]])
    expect(record.predicate.mounts).toHaveLength(json.mounts.length)
    expect(schemaErrors('agent-machine-evidence-record.schema.json', record)).toEqual([])
    expect((await inspectPath(json.evidence!)).valid).toBe(true)

    // without --json the review commands are printed
    const again = await runCommand(Shell, ['--repo', repo, '--worktree', '--branch', 'agent/second'], {...ctx, runner: runner(), attachedRunner: attached(0)})
    expect(again.exitCode, again.stderr).toBe(0)
    expect(again.stderr).toMatch(/is left for review:\n {2}see the work: {3}git -C \S+ diff [0-9a-f]{40}\.\.\.agent\/second\n {2}take it: {8}git -C \S+ merge agent\/second\n {2}throw it away: {2}git -C \S+ worktree remove \S+ && git -C \S+ branch -D agent\/second/)
  })

  it('a worktree of a folder inside the repo keeps the workdir below the worktree', async () => {
    const {repo, facts} = setup()
    mkdirSync(join(repo, 'src'))
    const out = await runCommand(Shell, ['--repo', join(repo, 'src'), '--worktree', '--dry-run', '--json', '--run-id', 'subdir-0001'], {runner: runner(), hostFacts: async () => facts, now: () => NOW})
    expect(out.exitCode, out.stderr).toBe(0)
    expect((out.json as Json).workdir).toBe('/workspace/app/src')
    expect((out.json as Json).worktree!.repo).toBe(repo)
  })

  it('warns that uncommitted changes are not in the worktree', async () => {
    const {repo, facts} = setup()
    writeFileSync(join(repo, 'README.md'), 'changed\n')
    const out = await runCommand(Shell, ['--repo', repo, '--worktree', '--dry-run', '--json'], {runner: runner(), hostFacts: async () => facts})
    expect(out.exitCode, out.stderr).toBe(0)
    expect((out.json as Json).warnings.join('\n')).toMatch(/uncommitted changes: the worktree starts from the last commit/)
  })

  describe('bad input: a clear error, nothing created, no container', () => {
    type S = ReturnType<typeof setup>
    it.each([
      ['a folder that is not a git repo', 2, /--worktree needs a git repository/, (s: S) => ['--repo', s.plain, '--worktree']],
      ['a dirty base with --clean-base', 3, /uncommitted changes, and --clean-base asked for a clean base/, (s: S) => (writeFileSync(join(s.repo, 'new.txt'), 'x'), ['--repo', s.repo, '--worktree', '--clean-base'])],
      ['a branch name git rejects', 2, /not a valid branch name/, (s: S) => ['--repo', s.repo, '--worktree', '--branch', 'bad..name']],
      ['an existing branch', 2, /branch main already exists/, (s: S) => ['--repo', s.repo, '--worktree', '--branch', 'main']],
      [
        'a worktree path that already exists',
        2,
        /app-taken-0001 already exists/,
        (s: S) => (mkdirSync(join(s.state, 'worktrees', 'app-taken-0001'), {recursive: true}), ['--repo', s.repo, '--worktree', '--run-id', 'taken-0001']),
      ],
      ['--branch without --worktree', 2, /--branch only applies with --worktree/, (s: S) => ['--repo', s.repo, '--branch', 'x']],
    ] as const)('%s → exit %i', async (_what, code, message, argsOf) => {
      const s = setup()
      const args = argsOf(s)
      const r = runner()
      const a = attached()
      const before = git(s.repo, 'branch', '--list')
      const out = await runCommand(Shell, args, {runner: r, attachedRunner: a, hostFacts: async () => s.facts})
      expect(out.exitCode, out.stderr).toBe(code)
      expect(out.stderr).toMatch(message)
      expect(r.commandLines().filter((l) => l.includes('worktree add') || l.startsWith('podman create'))).toEqual([])
      expect(a.calls).toEqual([])
      expect(git(s.repo, 'branch', '--list')).toBe(before)
      expect(git(s.repo, 'worktree', 'list', '--porcelain').match(/^worktree /gm)).toHaveLength(1)
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
    expect(out.stderr).toMatch(/refusing to mount .*\.ssh\/repo\/\.git is inside ~\/\.ssh/)
  })
})
