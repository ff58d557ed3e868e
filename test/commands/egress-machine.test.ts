// Network allowlist on a macOS Podman machine (injected host facts, recorded machine outputs, podman
// faked, dry run): every egress step — the run's network, the proxy, its readiness, log and removal —
// names the machine's connection, like the agent's own steps, so they all run in that VM.
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

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, {recursive: true, force: true})
})

function setup(rootful: boolean) {
  const home = realpathSync(mkdtempSync(join(tmpdir(), 'egress-mac-')))
  dirs.push(home)
  const repo = join(home, 'dev', 'app')
  mkdirSync(repo, {recursive: true})
  const profile = join(home, 'profile.yaml')
  writeFileSync(profile, testProfileYaml({
      platform: 'macos',
      machine: `{name: sourceos-agent, provider: applehv, cpus: 2, memoryMiB: 2048, diskGiB: 20, rootful: ${rootful}}`,
      mounts: [{source: repo, target: '/workspace/app', mode: 'rw'}],
      network: '{mode: allowlist, allow: [registry.npmjs.org], proxy: shared}',
    }),
  )
  const configDir = join(home, 'machine-config')
  mkdirSync(configDir)
  writeFileSync(join(configDir, 'sourceos-agent.json'), JSON.stringify({Mounts: [{Source: repo, Target: repo, ReadOnly: false}]}))
  const list = JSON.parse(podmanFixture('podman5-machine-list-running.json')) as Array<{Name: string}>
  list[0]!.Name = 'sourceos-agent'
  const inspect = JSON.parse(podmanFixture('podman5-machine-inspect-running.json')) as Array<{Name: string; ConfigDir: {Path: string}; Rootful?: boolean}>
  inspect[0]!.Name = 'sourceos-agent'
  inspect[0]!.ConfigDir.Path = configDir
  inspect[0]!.Rootful = rootful
  const verb = (v: string) => (cmd: string, args: readonly string[]) => cmd === 'podman' && args.filter((a, i) => !(a === '--connection' || args[i - 1] === '--connection'))[0] === v
  const runner = fakeRunner([
    {match: (cmd, args) => verb('machine')(cmd, args) && args.includes('list'), result: {stdout: JSON.stringify(list)}},
    {match: (cmd, args) => verb('machine')(cmd, args) && args.includes('inspect'), result: {stdout: JSON.stringify(inspect)}},
    {match: (cmd, args) => cmd === 'podman' && args.includes('--version'), result: {stdout: 'podman version 5.6.0\n'}},
    {match: verb('image'), result: {stdout: podmanFixture('podman431-image-inspect.json')}},
  ])
  const mac = fakeHostFacts('macos', {homeDir: home, env: {HOME: home, SOURCEOSCTL_PROFILE: profile}})
  return {repo, runner, mac}
}

describe('network allowlist on a macOS Podman machine', () => {
  it.each([[false, 'sourceos-agent'], [true, 'sourceos-agent-root']])('rootful=%s: every egress step names the connection %s', async (rootful, connection) => {
    const {repo, runner, mac} = setup(rootful)
    const out = await runCommand(Run, ['--tool', 'codex', '--repo', repo, '--dry-run', '--json', '--run-id', 'egressmac-0001'], {runner, hostFacts: async () => mac})
    expect(out.exitCode, `${out.stderr}\n${JSON.stringify(out.json)}`).toBe(0)
    const result = out.json as {plan: {steps: Array<{argv: string[]}>}; warnings: string[]}
    const podmanSteps = result.plan.steps.map((s) => s.argv).filter((a) => a[0] === 'podman')
    // the shared proxy (its name carries its configuration's hash) and the pool network leased to the run
    const egress = podmanSteps.filter((a) => a.some((x) => x.includes('sourceos-egress.') || x.includes('sourceos-proxy.') || x.includes('sourceos-netholder.')))
    // proxy state, network create, connect, proxy create, start, log (and the whole log), the agent's create; rootful: the slot's network holder's run, start and replacement
    expect(egress.length).toBeGreaterThanOrEqual(rootful ? 10 : 8)
    for (const argv of egress) expect(argv.slice(0, 3), argv.join(' ')).toEqual(['podman', '--connection', connection])
    // the agent's way out is the run's proxy (a profile's own proxy variables are refused by the env policy)
    const create = podmanSteps.find((a) => a.includes('--name=sourceos-agent-egressmac-0001'))!
    expect(create.filter((a) => a.startsWith('--env=HTTPS_PROXY='))).toEqual([expect.stringMatching(/^--env=HTTPS_PROXY=http:\/\/10\.\d+\.\d+\.254:3128$/)])
    expect(create.filter((a) => a.startsWith('--env=NO_PROXY='))).toEqual(['--env=NO_PROXY=localhost,127.0.0.1,::1'])
    // rootful: the agent joins its slot's network holder; a rootless machine (its user cannot be named by uid there) keeps the agent on the pool network at its own address
    expect(create.filter((a) => a.startsWith('--network') || a.startsWith('--dns'))).toEqual(
      rootful ? [expect.stringMatching(/^--network=container:sourceos-netholder\.[0-9a-f]{16}\.\d+$/)] : [expect.stringMatching(/^--network=sourceos-egress\.[0-9a-f]{16}\.\d+:ip=10\.\d+\.\d+\.\d+$/), '--dns=none'],
    )
    // a dry run created nothing: no podman call mutated anything
    const calls = runner.calls.map((c) => [c.command, ...c.args].join(' '))
    expect(calls.some((c) => / (create|start|rm|network) /.test(c) && !/ machine /.test(c))).toBe(false)
  })
})
