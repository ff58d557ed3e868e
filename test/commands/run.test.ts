import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import Run from '../../src/commands/agent-machine/run.js'
import Shell from '../../src/commands/agent-machine/shell.js'
import type {AttachedRunner} from '../../src/core/exec.js'
import {fakeRunner, type FakeRunner} from '../helpers/fake-runner.js'
import {podmanFixture} from '../helpers/fixtures.js'
import {fakeHostFacts} from '../helpers/host-facts.js'
import {schemaErrors} from '../helpers/json-schema.js'
import {runCommand} from '../helpers/run-command.js'
import {inspectPath} from '../../src/core/evidence/verify.js'

const IMAGE_ID = 'c5dfba5b96b2cb22bb23c916ced44b72220612a436458c757ed5664075c44cb2'

function setup(profileEdit: (yaml: string) => string = (y) => y) {
  const home = mkdtempSync(join(tmpdir(), 'run-home-'))
  const repo = join(home, 'dev', 'app')
  mkdirSync(repo, {recursive: true})
  const profile = join(home, 'profile.yaml')
  writeFileSync(
    profile,
    profileEdit(`apiVersion: sourceos.dev/v1alpha1
kind: AgentMachineProfile
metadata: {name: test}
spec:
  platform: linux
  image: {ref: localhost/test-bb:1, digest: null, pull: never}
  mounts:
    - {source: ${repo}, target: /workspace/app, mode: rw}
  tools:
    codex: {enabled: true, command: [codex]}
    claude-code: {enabled: false, command: [claude]}
  env: {passthrough: [TERM], set: {EDITOR: vi}}
  network: {mode: none}
  resources: {cpus: 2, memory: 4g, pidsLimit: 1024}
  secrets: {door: none}
`),
  )
  const facts = fakeHostFacts('linux', {homeDir: home, uid: 1000, env: {HOME: home, TERM: 'xterm', SOURCEOSCTL_PROFILE: profile, GITHUB_TOKEN: 'ghp_fake'}})
  return {home, repo, profile, facts}
}

/** A recording runner that behaves like podman for one create → inspect → start cycle. */
function podmanRunner(mountSource: string, labels: Record<string, string> | null = null): FakeRunner {
  const image = JSON.parse(podmanFixture('podman431-image-inspect.json')) as Array<Record<string, unknown>>
  image[0]!.Labels = labels
  return fakeRunner([
    {match: 'podman image inspect', result: {stdout: JSON.stringify(image)}},
    {match: 'podman create', result: {stdout: 'abc123\n'}},
    {
      match: 'podman container inspect',
      result: {stdout: JSON.stringify([{Mounts: [{Type: 'bind', Source: mountSource, Destination: '/workspace/app', RW: true}]}])},
    },
    {match: 'podman ps', result: {stdout: ''}},
    {match: 'podman rm', result: {}},
    // Evidence facts: versions on the host, the tool's version inside the image, git state.
    {match: 'podman --version', result: {stdout: 'podman version 4.3.1\n'}},
    {match: 'podman run', result: {stdout: 'codex-fake 0.0.1\n'}},
    {match: 'git --version', result: {stdout: 'git version 2.39.5\n'}},
    {match: 'nix --version', result: {exitCode: null, notFound: true}},
    {match: (cmd, args) => cmd === 'git' && args.includes('rev-parse'), result: {exitCode: 1}},
  ])
}

function recordingAttached(exitCode: number): AttachedRunner & {calls: string[][]} {
  const calls: string[][] = []
  const fn = (async (command: string, args: readonly string[]) => {
    calls.push([command, ...args])
    return {exitCode, notFound: false, interrupted: false, durationMs: 1}
  }) as AttachedRunner & {calls: string[][]}
  fn.calls = calls
  return fn
}

interface LaunchJson {
  plan: {steps: Array<{argv: string[]; mutates: boolean}>}
  exitCode: number | null
}

describe('run', () => {
  it('--dry-run makes no mutating call and prints the plan', async () => {
    const {repo, facts} = setup()
    const runner = podmanRunner(repo)
    const attached = recordingAttached(0)
    const out = await runCommand(Run, ['--tool', 'codex', '--repo', repo, '--dry-run', '--json', '--run-id', 'testrun-0001'], {runner, attachedRunner: attached, hostFacts: async () => facts})
    expect(out.exitCode).toBe(0)
    expect(schemaErrors('agent-machine-launch-result.schema.json', out.json)).toEqual([])
    expect(runner.commandLines().every((line) => line.startsWith('podman image inspect'))).toBe(true)
    expect(attached.calls).toEqual([])
    const steps = (out.json as LaunchJson).plan.steps
    expect(steps.map((s) => s.argv.slice(0, 2))).toEqual([
      ['podman', 'create'],
      ['podman', 'container'],
      ['podman', 'start'],
    ])
  })

  it('executes exactly the argv the dry run printed, and exits with the tool’s code', async () => {
    const {repo, facts} = setup()
    const ctx = {hostFacts: async () => facts}
    const dry = await runCommand(Run, ['--tool', 'codex', '--repo', repo, '--dry-run', '--json', '--run-id', 'testrun-0002', '--', '--model', 'x'], {...ctx, runner: podmanRunner(repo), attachedRunner: recordingAttached(0)})
    const runner = podmanRunner(repo)
    const attached = recordingAttached(7)
    const real = await runCommand(Run, ['--tool', 'codex', '--repo', repo, '--json', '--run-id', 'testrun-0002', '--', '--model', 'x'], {...ctx, runner, attachedRunner: attached})
    expect(real.exitCode).toBe(7)
    expect((real.json as LaunchJson).exitCode).toBe(7)
    const planned = (dry.json as LaunchJson).plan.steps.map((s) => s.argv)
    const createCall = runner.calls.find((c) => c.args[0] === 'create')!
    const inspectCall = runner.calls.find((c) => c.args[0] === 'container' && c.args[1] === 'inspect')!
    expect([createCall.command, ...createCall.args]).toEqual(planned[0])
    expect([inspectCall.command, ...inspectCall.args]).toEqual(planned[1])
    expect(attached.calls).toEqual([planned[2]])
    expect(planned[0]!.slice(-3)).toEqual(['codex', '--model', 'x'])
    expect(planned[0]).toContain(IMAGE_ID)
  })

  it('never passes host secrets: only the allowlist and set reach --env', async () => {
    const {repo, facts} = setup()
    const out = await runCommand(Run, ['--tool', 'codex', '--repo', repo, '--dry-run', '--json'], {runner: podmanRunner(repo), hostFacts: async () => facts})
    const create = (out.json as LaunchJson).plan.steps[0]!.argv
    expect(create.filter((a) => a.startsWith('--env'))).toEqual(['--env=TERM=xterm', '--env=EDITOR=vi', '--env=HOME=/home/agent'])
    expect(create.join(' ')).not.toMatch(/ghp_fake|GITHUB_TOKEN/)
    expect(create).toContain('--userns=keep-id')
    expect(create).toContain('--network=none')
  })

  it('refuses a mount mismatch found after create, removes the container and never starts it', async () => {
    const {repo, facts} = setup()
    const runner = podmanRunner('/somewhere/else')
    const attached = recordingAttached(0)
    const out = await runCommand(Run, ['--tool', 'codex', '--repo', repo], {runner, attachedRunner: attached, hostFacts: async () => facts})
    expect(out.exitCode).toBe(3)
    expect(out.stderr).toMatch(/mounts differ from the plan/)
    expect(attached.calls).toEqual([])
    expect(runner.commandLines().some((l) => l.startsWith('podman ps --all'))).toBe(true)
  })

  it.each([
    [['--tool', 'vim'], 3, /unknown tool 'vim'.*codex/],
    [['--tool', 'claude-code'], 3, /disabled.*codex/],
  ])('refuses %j with exit %i and lists the enabled tools', async (args, code, message) => {
    const {repo, facts} = setup()
    const runner = podmanRunner(repo)
    const out = await runCommand(Run, [...args, '--repo', repo], {runner, attachedRunner: recordingAttached(0), hostFacts: async () => facts})
    expect(out.exitCode).toBe(code)
    expect(out.stderr).toMatch(message)
    expect(runner.calls).toEqual([])
  })

  it('refuses a repo outside the allowlist with the init command that would allow it', async () => {
    const {home, facts} = setup()
    const other = join(home, 'dev', 'other')
    mkdirSync(other)
    const out = await runCommand(Run, ['--tool', 'codex', '--repo', other], {runner: podmanRunner(other), hostFacts: async () => facts})
    expect(out.exitCode).toBe(3)
    expect(out.stderr).toContain(`sourceosctl agent-machine init --repo ${other}`)
  })

  it('refuses a secret-like env name in the profile', async () => {
    const {repo, facts} = setup((y) => y.replace('passthrough: [TERM]', 'passthrough: [TERM, GITHUB_TOKEN]'))
    const out = await runCommand(Run, ['--tool', 'codex', '--repo', repo], {runner: podmanRunner(repo), hostFacts: async () => facts})
    expect(out.exitCode).toBe(3)
    expect(out.stderr).toMatch(/GITHUB_TOKEN/)
  })

  it('refuses an image whose digest does not match the pin (exit 3) and a missing image (exit 4)', async () => {
    const pinned = setup((y) => y.replace('digest: null', `digest: sha256:${'0'.repeat(64)}`))
    const mismatch = await runCommand(Run, ['--tool', 'codex', '--repo', pinned.repo], {runner: podmanRunner(pinned.repo), hostFacts: async () => pinned.facts})
    expect(mismatch.exitCode).toBe(3)
    expect(mismatch.stderr).toMatch(/pins sha256:0000/)

    const okPin = setup((y) => y.replace('digest: null', `digest: sha256:${IMAGE_ID}`))
    const accepted = await runCommand(Run, ['--tool', 'codex', '--repo', okPin.repo, '--dry-run'], {runner: podmanRunner(okPin.repo), hostFacts: async () => okPin.facts})
    expect(accepted.exitCode).toBe(0)

    const {repo, facts} = setup()
    const runner = fakeRunner([{match: 'podman image inspect', result: {exitCode: 125, stdout: '[]', stderr: 'Error: inspecting object: localhost/test-bb:1: image not known\n'}}])
    const missing = await runCommand(Run, ['--tool', 'codex', '--repo', repo], {runner, hostFacts: async () => facts})
    expect(missing.exitCode).toBe(4)
    expect(missing.stderr).toMatch(/not in the local store.*Fix:.*build/)
  })

  it('reports podman missing with exit 4', async () => {
    const {repo, facts} = setup()
    const out = await runCommand(Run, ['--tool', 'codex', '--repo', repo], {runner: fakeRunner([], {unmatched: 'not-found'}), hostFacts: async () => facts})
    expect(out.exitCode).toBe(4)
    expect(out.stderr).toMatch(/Fix:.*[Ii]nstall/)
  })

  it('on macOS a stopped machine is exit 4 and says how to start it', async () => {
    const {repo, facts} = setup((y) => y.replace('platform: linux', 'platform: macos\n  machine: {name: podman-machine-default, provider: applehv, cpus: 2, memoryMiB: 2048, diskGiB: 20, rootful: false}'))
    const mac = fakeHostFacts('macos', {env: facts.env})
    const runner = fakeRunner([
      {match: 'podman machine list', result: {stdout: podmanFixture('podman5-machine-list-stopped.json')}},
      {match: 'podman image inspect', result: {exitCode: 125, stderr: podmanFixture('podman5-connection-failed.stderr.txt')}},
      {match: 'podman --version', result: {stdout: 'podman version 5.3.1\n'}},
    ])
    const out = await runCommand(Run, ['--tool', 'codex', '--repo', repo], {runner, hostFacts: async () => mac})
    expect(out.exitCode).toBe(4)
    expect(out.stderr).toMatch(/stopped.*start/)
  })
})

describe('run on macOS: the machine’s real shared folders decide what can be mounted', () => {
  function macSetup(shared: (repo: string) => string[]) {
    const base = setup((y) => y.replace('platform: linux', 'platform: macos\n  machine: {name: podman-machine-default, provider: applehv, cpus: 2, memoryMiB: 2048, diskGiB: 20, rootful: false}'))
    const configDir = mkdtempSync(join(tmpdir(), 'machine-config-'))
    const mounts = shared(base.repo).map((p) => ({Source: p, Target: p, ReadOnly: false}))
    writeFileSync(join(configDir, 'podman-machine-default.json'), JSON.stringify({Mounts: mounts}))
    const inspect = JSON.parse(podmanFixture('podman5-machine-inspect-running.json')) as Array<{ConfigDir: {Path: string}}>
    inspect[0]!.ConfigDir.Path = configDir
    const runner = fakeRunner([
      {match: 'podman machine list', result: {stdout: podmanFixture('podman5-machine-list-running.json')}},
      {match: 'podman machine inspect', result: {stdout: JSON.stringify(inspect)}},
      {match: 'podman --version', result: {stdout: 'podman version 5.3.1\n'}},
      {match: 'podman image inspect', result: {stdout: podmanFixture('podman431-image-inspect.json')}},
    ])
    return {...base, runner, mac: fakeHostFacts('macos', {env: base.facts.env})}
  }

  it('a repo the narrowed machine shares is mounted at the same path', async () => {
    const {repo, runner, mac} = macSetup((r) => [r])
    const out = await runCommand(Run, ['--tool', 'codex', '--repo', repo, '--dry-run', '--json'], {runner, hostFacts: async () => mac})
    expect(out.exitCode, out.stderr).toBe(0)
    expect((out.json as LaunchJson).plan.steps[0]!.argv).toContain(`--mount=type=bind,source=${repo},destination=/workspace/app`)
  })

  it('a repo the machine does not share is a clear error naming the volume to add (exit 4)', async () => {
    const {repo, runner, mac} = macSetup(() => ['/Users/elsewhere'])
    const out = await runCommand(Run, ['--tool', 'codex', '--repo', repo, '--dry-run'], {runner, hostFacts: async () => mac})
    expect(out.exitCode).toBe(4)
    expect(out.stderr).toMatch(/not shared with the Podman machine podman-machine-default.*--volume/)
  })
})

describe('evidence', () => {
  it('a run leaves a valid, completed record; the tool version is read once per image', async () => {
    const {repo, facts, home} = setup()
    const ctx = {hostFacts: async () => facts}
    const first = podmanRunner(repo, {'dev.sourceos.agent-machine.codex.sandbox': 'danger-full-access'})
    const a = await runCommand(Run, ['--tool', 'codex', '--repo', repo, '--json'], {...ctx, runner: first, attachedRunner: recordingAttached(0)})
    const file = (a.json as {evidence: string}).evidence
    expect(file.startsWith(join(home, '.local', 'state', 'sourceosctl', 'evidence'))).toBe(true)
    const inspected = await inspectPath(file)
    expect(inspected.valid).toBe(true)
    const {readFileSync} = await import('node:fs')
    const record = JSON.parse(readFileSync(file, 'utf8')) as {predicate: {status: string; exitCode: number; toolVersions: {tool: string}; podmanArgv: string[]; toolSandbox: string | null}}
    expect(record.predicate.status).toBe('completed')
    // The image declares how the tool runs inside the outer sandbox; the record keeps that choice.
    expect(record.predicate.toolSandbox).toBe('danger-full-access')
    expect(record.predicate.toolVersions.tool).toBe('codex-fake 0.0.1')
    expect(record.predicate.podmanArgv).toEqual((a.json as LaunchJson).plan.steps[0]!.argv)
    expect(first.commandLines().filter((l) => l.startsWith('podman run'))).toHaveLength(1)

    const second = podmanRunner(repo)
    const b = await runCommand(Run, ['--tool', 'codex', '--repo', repo, '--json'], {...ctx, runner: second, attachedRunner: recordingAttached(2)})
    expect(b.exitCode).toBe(2)
    expect(second.commandLines().filter((l) => l.startsWith('podman run'))).toHaveLength(0)
    expect((await inspectPath(join(home, '.local', 'state', 'sourceosctl', 'evidence'))).valid).toBe(true)
  })

  it('dry runs write no record', async () => {
    const {repo, facts, home} = setup()
    await runCommand(Run, ['--tool', 'codex', '--repo', repo, '--dry-run'], {runner: podmanRunner(repo), hostFacts: async () => facts})
    const {existsSync} = await import('node:fs')
    expect(existsSync(join(home, '.local', 'state'))).toBe(false)
  })
})

describe('shell', () => {
  it('runs /bin/sh in the repo with -- args, and its exit code is the CLI’s', async () => {
    const {repo, facts} = setup()
    const runner = podmanRunner(repo)
    const attached = recordingAttached(3)
    const out = await runCommand(Shell, ['--repo', repo, '--json', '--', '-c', 'exit 3'], {runner, attachedRunner: attached, hostFacts: async () => facts})
    expect(out.exitCode).toBe(3)
    const create = (out.json as LaunchJson).plan.steps[0]!.argv
    expect(create.slice(-3)).toEqual(['/bin/sh', '-c', 'exit 3'])
    expect(create).toContain('--workdir=/workspace/app')
    expect(create).not.toContain('--tty')
  })
})
