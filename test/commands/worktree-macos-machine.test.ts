// Issue 11 item 7: `run --worktree` on the README's narrowed macOS machine. The clone lives in the
// state dir's worktrees folder, which Podman's narrowed machine did not share; `start` now prints
// an init that shares it (and creates it), and doctor checks it. Injected macOS host facts, a
// recorded machine config (its Mounts), real git for the base repo, podman faked (dry run).
import {spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import Run from '../../src/commands/agent-machine/run.js'
import {fakeRunner} from '../helpers/fake-runner.js'
import {podmanFixture} from '../helpers/fixtures.js'
import {fakeHostFacts} from '../helpers/host-facts.js'
import {runCommand} from '../helpers/run-command.js'
import {testProfileYaml} from '../helpers/test-profile.js'

const GIT_ENV = {...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1'}
const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, {recursive: true, force: true})
})

function git(dir: string, ...args: string[]): void {
  const out = spawnSync('git', ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@example.invalid', ...args], {encoding: 'utf8', env: GIT_ENV})
  if (out.status !== 0) throw new Error(`git ${args.join(' ')}: ${out.stderr}`)
}

/** macOS host, machine sourceos-agent (applehv, running), whose config shares `shared(repo, clones)`. */
function setup(shared: (repo: string, clones: string) => string[]) {
  const home = realpathSync(mkdtempSync(join(tmpdir(), 'wt-mac-')))
  dirs.push(home)
  const repo = join(home, 'dev', 'app')
  mkdirSync(repo, {recursive: true})
  writeFileSync(join(repo, 'README.md'), '# app\n')
  git(repo, 'init', '--quiet', '--initial-branch=main')
  git(repo, 'add', '--all')
  git(repo, 'commit', '--quiet', '-m', 'initial')
  const profile = join(home, 'profile.yaml')
  writeFileSync(profile, testProfileYaml({
      platform: 'macos',
      machine: '{name: sourceos-agent, provider: applehv, cpus: 2, memoryMiB: 2048, diskGiB: 20, rootful: false}',
      mounts: [{source: repo, target: '/workspace/app', mode: 'rw'}],
    }),
  )
  // the default macOS state dir: ~/Library/Application Support/sourceosctl/state
  const clones = join(home, 'Library', 'Application Support', 'sourceosctl', 'state', 'worktrees')
  mkdirSync(clones, {recursive: true})
  const configDir = join(home, 'machine-config')
  mkdirSync(configDir)
  writeFileSync(join(configDir, 'sourceos-agent.json'), JSON.stringify({Mounts: shared(repo, clones).map((p) => ({Source: p, Target: p, ReadOnly: false}))}))
  const list = JSON.parse(podmanFixture('podman5-machine-list-running.json')) as Array<{Name: string; Default: boolean}>
  list[0]!.Name = 'sourceos-agent'
  const inspect = JSON.parse(podmanFixture('podman5-machine-inspect-running.json')) as Array<{Name: string; ConfigDir: {Path: string}}>
  inspect[0]!.Name = 'sourceos-agent'
  inspect[0]!.ConfigDir.Path = configDir
  const podman = (verb: string) => (cmd: string, args: readonly string[]) => cmd === 'podman' && args.filter((a, i) => !(a === '--connection' || args[i - 1] === '--connection'))[0] === verb
  const runner = fakeRunner([
    {match: (cmd, args) => podman('machine')(cmd, args) && args.includes('list'), result: {stdout: JSON.stringify(list)}},
    {match: (cmd, args) => podman('machine')(cmd, args) && args.includes('inspect'), result: {stdout: JSON.stringify(inspect)}},
    {match: (cmd, args) => cmd === 'podman' && args.includes('--version'), result: {stdout: 'podman version 5.6.0\n'}},
    {match: podman('image'), result: {stdout: podmanFixture('podman431-image-inspect.json')}},
  ])
  const mac = fakeHostFacts('macos', {homeDir: home, env: {HOME: home, SOURCEOSCTL_PROFILE: profile}})
  return {repo, clones, runner, mac}
}

describe('run --worktree on the narrowed macOS machine (issue 11 item 7)', () => {
  it('the machine start\'s init creates (repo + the state dir\'s worktrees folder): the clone is mounted from the shared folder', async () => {
    const {repo, clones, runner, mac} = setup((r, c) => [r, c])
    const out = await runCommand(Run, ['--tool', 'codex', '--repo', repo, '--worktree', '--dry-run', '--json', '--run-id', 'wtmac-0001'], {runner, hostFacts: async () => mac})
    expect(out.exitCode, out.stderr).toBe(0)
    const create = (out.json as {plan: {steps: Array<{argv: string[]}>}}).plan.steps.find((s) => s.argv.includes('create'))
    const bind = create?.argv.find((a) => a.startsWith('--mount=') && a.includes('destination=/workspace/app,'))
    expect(bind).toContain(`source=${clones}/`)
  })

  it('a machine narrowed to the repo only (the README before this fix): --worktree is refused, naming the folder to share', async () => {
    const {repo, clones, runner, mac} = setup((r) => [r])
    const out = await runCommand(Run, ['--tool', 'codex', '--repo', repo, '--worktree', '--dry-run', '--run-id', 'wtmac-0002'], {runner, hostFacts: async () => mac})
    expect(out.exitCode).toBe(4)
    expect(out.stderr).toContain(`${clones}/`)
    expect(out.stderr).toMatch(/not shared with the Podman machine sourceos-agent/)
  })
})
