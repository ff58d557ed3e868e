import {createHash} from 'node:crypto'
import {mkdirSync, renameSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import Run from '../../src/commands/agent-machine/run.js'
import Shell from '../../src/commands/agent-machine/shell.js'
import type {AttachedRunner} from '../../src/core/exec.js'
import {fakeContainer, type FakeContainer} from '../helpers/fake-container.js'
import {fakeRunner, type FakeRunner} from '../helpers/fake-runner.js'
import {podmanFixture} from '../helpers/fixtures.js'
import {fakeHostFacts} from '../helpers/host-facts.js'
import {schemaErrors} from '../helpers/json-schema.js'
import {runCommand} from '../helpers/run-command.js'
import {inspectPath} from '../../src/core/evidence/verify.js'
import {tempDir} from '../helpers/temp-dirs.js'
import {testProfileYaml} from '../helpers/test-profile.js'

const IMAGE_ID = 'c5dfba5b96b2cb22bb23c916ced44b72220612a436458c757ed5664075c44cb2'

function setup(profileEdit: (yaml: string) => string = (y) => y) {
  const home = tempDir('run-home-')
  const repo = join(home, 'dev', 'app')
  mkdirSync(repo, {recursive: true})
  const profile = join(home, 'profile.yaml')
  writeFileSync(
    profile,
    profileEdit(
      testProfileYaml({
        mounts: [{source: repo, target: '/workspace/app', mode: 'rw'}],
        tools: ['codex: {enabled: true, command: [codex]}', 'claude-code: {enabled: false, command: [claude]}'],
        env: '{passthrough: [TERM], set: {EDITOR: vi}}',
      }),
    ),
  )
  const facts = fakeHostFacts('linux', {homeDir: home, uid: 1000, env: {HOME: home, TERM: 'xterm', SOURCEOSCTL_PROFILE: profile, GITHUB_TOKEN: 'ghp_fake'}})
  return {home, repo, profile, facts}
}

let container: FakeContainer | undefined
afterEach(() => container?.uninstall())

/**
 * A recording runner that behaves like podman for one create → init → inspect → start cycle; the
 * container's /proc is played by fakeContainer (installed for the launch's reads).
 */
function podmanRunner(labels: Record<string, string> | null = null, setup: (c: FakeContainer) => void = () => {}): FakeRunner & {container: FakeContainer} {
  const image = JSON.parse(podmanFixture('podman431-image-inspect.json')) as Array<Record<string, unknown>>
  image[0]!.Labels = labels
  container = fakeContainer()
  container.install()
  setup(container)
  const runner = fakeRunner([
    {match: 'podman image inspect', result: {stdout: JSON.stringify(image)}},
    ...container.routes,
    {match: 'podman ps', result: {stdout: ''}},
    {match: 'podman rm', result: {}},
    // Evidence facts: versions on the host, the tool's version inside the image, git state.
    {match: 'podman --version', result: {stdout: 'podman version 4.3.1\n'}},
    {match: 'podman run', result: {stdout: 'codex-fake 0.0.1\n'}},
    {match: 'git --version', result: {stdout: 'git version 2.39.5\n'}},
    {match: 'nix --version', result: {exitCode: null, notFound: true}},
    {match: (cmd, args) => cmd === 'git' && (args.includes('status') || args.includes('rev-parse')), result: {exitCode: 1}},
  ])
  return Object.assign(runner, {container})
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

/** The plan's governed-container steps: create … start (a tool-version probe may come first). */
function containerSteps(json: unknown): Array<{argv: string[]; mutates: boolean}> {
  const steps = (json as LaunchJson).plan.steps
  const first = steps.findIndex((s) => podmanVerb(s.argv) === 'create')
  return steps.slice(first, first + 5)
}

/** The podman subcommand of an argv, after a global `--connection <name>` if any. */
function podmanVerb(argv: readonly string[]): string | undefined {
  return argv[1] === '--connection' ? argv[3] : argv[1]
}

describe('run', () => {
  it('--dry-run makes no mutating call and prints the plan', async () => {
    const {repo, facts} = setup()
    const runner = podmanRunner()
    const attached = recordingAttached(0)
    const out = await runCommand(Run, ['--tool', 'codex', '--repo', repo, '--dry-run', '--json', '--run-id', 'testrun-0001'], {runner, attachedRunner: attached, hostFacts: async () => facts})
    expect(out.exitCode).toBe(0)
    expect(schemaErrors('agent-machine-launch-result.schema.json', out.json)).toEqual([])
    expect(runner.commandLines().every((line) => line.startsWith('podman image inspect'))).toBe(true)
    expect(attached.calls).toEqual([])
    const steps = containerSteps(out.json)
    expect(steps.map((s) => s.argv.slice(0, 2))).toEqual([
      ['podman', 'create'],
      ['podman', 'init'],
      ['podman', 'container'],
      ['sourceosctl:verify-container', '--method=proc-root-inode'],
      ['podman', 'start'],
    ])
    expect(steps.map((s) => s.mutates)).toEqual([true, true, false, false, true])
  })

  it('executes exactly the argv the dry run printed, and exits with the tool’s code', async () => {
    const {repo, facts} = setup()
    const ctx = {hostFacts: async () => facts}
    const dry = await runCommand(Run, ['--tool', 'codex', '--repo', repo, '--dry-run', '--json', '--run-id', 'testrun-0002', '--', '--model', 'x'], {...ctx, runner: podmanRunner(), attachedRunner: recordingAttached(0)})
    const runner = podmanRunner()
    const attached = recordingAttached(7)
    const real = await runCommand(Run, ['--tool', 'codex', '--repo', repo, '--json', '--run-id', 'testrun-0002', '--', '--model', 'x'], {...ctx, runner, attachedRunner: attached})
    expect(real.exitCode).toBe(7)
    expect((real.json as LaunchJson).exitCode).toBe(7)
    const planned = containerSteps(dry.json).map((s) => s.argv)
    // every podman call of the launch, in order, is a step of the plan (the verify step is the CLI's own)
    const podmanCalls = runner.calls.filter((c) => c.command === 'podman' && ['create', 'init', 'container'].includes(c.args[0]!)).map((c) => [c.command, ...c.args])
    expect(podmanCalls).toEqual([planned[0], planned[1], planned[2]])
    expect(planned[3]).toEqual(['sourceosctl:verify-container', '--method=proc-root-inode', 'sourceos-agent-testrun-0002'])
    expect(attached.calls).toEqual([planned[4]])
    expect(runner.commandLines().some((l) => l.startsWith('podman unshare'))).toBe(false)
    expect(planned[0]!.slice(-3)).toEqual(['codex', '--model', 'x'])
    expect(planned[0]).toContain(IMAGE_ID)
  })

  it('never passes host secrets: only the allowlist and set reach --env', async () => {
    const {repo, facts} = setup()
    const out = await runCommand(Run, ['--tool', 'codex', '--repo', repo, '--dry-run', '--json'], {runner: podmanRunner(), hostFacts: async () => facts})
    const create = containerSteps(out.json)[0]!.argv
    expect(create.filter((a) => a.startsWith('--env'))).toEqual(['--env=TERM=xterm', '--env=EDITOR=vi', '--env=HOME=/home/agent'])
    expect(create.join(' ')).not.toMatch(/ghp_fake|GITHUB_TOKEN/)
    expect(create).toContain('--userns=keep-id')
    expect(create).toContain('--network=none')
  })

  it('native rootless: the agent runs as the user (who owns the mounts), named agent with home /home/agent — not the image USER, not the workdir', async () => {
    const {repo, facts} = setup()
    const out = await runCommand(Run, ['--tool', 'codex', '--repo', repo, '--dry-run', '--json'], {runner: podmanRunner(), hostFacts: async () => facts})
    const create = containerSteps(out.json)[0]!.argv
    const gid = process.getgid?.() ?? 1000
    expect(create).toContain(`--user=1000:${gid}`) // facts.uid 1000
    expect(create).toContain('--passwd-entry=agent:*:$UID:$GID:sourceosctl agent:/home/agent:/bin/sh')
    expect(create.indexOf('--user=1000:' + gid)).toBeGreaterThan(create.indexOf('--userns=keep-id'))
  })

  it('refuses a mount mismatch found after create, removes the container and never starts it', async () => {
    const {repo, facts} = setup()
    const runner = podmanRunner(null, (c) => c.editInspect((e) => (e.Mounts[0]!.Source = '/somewhere/else')))
    const attached = recordingAttached(0)
    const out = await runCommand(Run, ['--tool', 'codex', '--repo', repo], {runner, attachedRunner: attached, hostFacts: async () => facts})
    expect(out.exitCode).toBe(3)
    expect(out.stderr).toMatch(/MOUNT_MISMATCH|mounts differ from the plan/)
    expect(attached.calls).toEqual([])
    expect(runner.commandLines().some((l) => l.startsWith('podman ps --all'))).toBe(true)
  })

  it('a signal after the record was begun and before the tool starts: exit 128+N, the container removed, never started, the record incomplete with outcome interrupted', async () => {
    const {home, repo, facts} = setup()
    const inner = podmanRunner()
    // SIGTERM lands while podman init runs: only the launch's own listener (the last one added) hears it
    const runner = (async (command: string, args: readonly string[], opts?: Parameters<typeof inner>[2]) => {
      const result = await inner(command, args, opts)
      if (command === 'podman' && args[0] === 'init') process.listeners('SIGTERM').at(-1)?.('SIGTERM')
      return result
    }) as typeof inner
    const attached = recordingAttached(0)
    const out = await runCommand(Run, ['--tool', 'codex', '--repo', repo, '--json'], {runner, attachedRunner: attached, hostFacts: async () => facts})
    expect(out.exitCode, out.stderr).toBe(143)
    expect(attached.calls).toEqual([])
    expect(inner.commandLines().some((l) => l.startsWith('podman ps --all') && l.includes('run-id='))).toBe(true)
    const state = join(home, '.local', 'state', 'sourceosctl')
    const inspected = await inspectPath(join(state, 'evidence'), {stateDir: state})
    expect(inspected).toMatchObject({valid: true, records: [{status: 'incomplete', summary: {exitCode: null, outcome: {result: 'interrupted', error: {code: 'INTERRUPTED', exitCode: 143}}}}]})
  })

  it('refuses a source swapped before the runtime mounted it (the container sees another inode): MOUNT_SWAPPED, removed, never started', async () => {
    const {home, repo, facts} = setup()
    const ssh = join(home, '.ssh')
    mkdirSync(ssh)
    const runner = podmanRunner(null, (c) => c.swap('/workspace/app', ssh))
    const attached = recordingAttached(0)
    const out = await runCommand(Run, ['--tool', 'codex', '--repo', repo], {runner, attachedRunner: attached, hostFacts: async () => facts})
    expect(out.exitCode).toBe(3)
    expect(out.stderr).toMatch(/MOUNT_SWAPPED|changed between its check and the container/)
    expect(out.stderr).toContain(`/workspace/app shows ${ssh}`)
    expect(out.stderr).toMatch(/\/workspace\/app is device\/inode \d+\/\d+ in the container, but .* was \d+\/\d+ when it was checked/)
    expect(attached.calls).toEqual([])
    // the cleanup looks for the run's container (and removes it when podman lists it)
    expect(runner.commandLines().some((l) => l.startsWith('podman ps --all') && l.includes('run-id='))).toBe(true)
    expect(runner.commandLines().some((l) => l.startsWith('podman start'))).toBe(false)
    // the record was begun before the create: it ends incomplete, naming the refusal and the podman commands that ran
    const state = join(home, '.local', 'state', 'sourceosctl')
    const inspected = await inspectPath(join(state, 'evidence'), {stateDir: state})
    expect(inspected).toMatchObject({valid: true, incomplete: 1, records: [{status: 'incomplete', summary: {exitCode: null, outcome: {result: 'failed', error: {code: 'MOUNT_SWAPPED', exitCode: 3}}}}]})
    const ran = inspected.records[0]?.summary?.podmanRan?.map((r) => r.argv.slice(1, 2)[0]) ?? []
    expect(ran.slice(0, 3)).toEqual(['create', 'init', 'container'])
    expect(ran).not.toContain('start')
  })

  it('podman init failing after the repo was swapped away and back is the swap (exit 3); without a swap it stays podman’s failure (exit 1)', async () => {
    for (const swapped of [true, false]) {
      const {home, repo, facts} = setup()
      const base = podmanRunner()
      const runner = fakeRunner([
        {
          match: 'podman init',
          result: () => {
            if (swapped) {
              renameSync(repo, join(home, 'away'))
              renameSync(join(home, 'away'), repo)
            }
            return {exitCode: 125, stderr: "Error: OCI runtime error: runc: runc create failed: unable to start container process: can't get final child's PID from pipe: EOF\n"}
          },
        },
        {match: () => true, result: (c, a, o) => base(c, a, o)},
      ])
      const attached = recordingAttached(0)
      const out = await runCommand(Run, ['--tool', 'codex', '--repo', repo], {runner, attachedRunner: attached, hostFacts: async () => facts})
      expect(out.exitCode, out.stderr).toBe(swapped ? 3 : 1)
      expect(out.stderr).toMatch(swapped ? /was moved or changed while the launch checked it/ : /podman init failed/)
      expect(attached.calls).toEqual([])
    }
  })

  it.each<[string, (c: FakeContainer) => void, RegExp]>([
    ['a containers.conf env entry', (c) => c.editInspect((e) => void e.Config.Env.push('LEAK=from-containers-conf')), /CONTAINER_CONFIG_MISMATCH|variables the plan does not: LEAK/],
    ['a containers.conf device', (c) => c.editInspect((e) => (e.HostConfig.Devices = [{PathOnHost: '/dev/fuse', PathInContainer: '/dev/fuse'}])), /devices: \/dev\/fuse/],
    ['a mounts.conf bind (not in inspect)', (c) => c.addMountinfo('300 100 8:1 /run/user/1000/secrets /run/secrets/ssh ro - ext4 /dev/sda1 rw'), /unplanned mount at \/run\/secrets\/ssh/],
  ])('refuses %s before anything starts', async (_name, hostile, problem) => {
    const {repo, facts} = setup()
    const runner = podmanRunner(null, hostile)
    const attached = recordingAttached(0)
    const out = await runCommand(Run, ['--tool', 'codex', '--repo', repo], {runner, attachedRunner: attached, hostFacts: async () => facts})
    expect(out.exitCode).toBe(3)
    expect(out.stderr).toMatch(problem)
    expect(out.stderr).not.toContain('from-containers-conf')
    expect(attached.calls).toEqual([])
    expect(runner.commandLines().some((l) => l.startsWith('podman rm'))).toBe(false) // ps found none in the fake; the cleanup looked
    expect(runner.commandLines().some((l) => l.startsWith('podman ps --all'))).toBe(true)
  })

  it.each([
    [['--tool', 'vim'], 3, /unknown tool 'vim'.*\nFix: .*codex/],
    [['--tool', 'claude-code'], 3, /disabled.*\nFix: .*codex/],
  ])('refuses %j with exit %i and lists the enabled tools', async (args, code, message) => {
    const {repo, facts} = setup()
    const runner = podmanRunner()
    const out = await runCommand(Run, [...args, '--repo', repo], {runner, attachedRunner: recordingAttached(0), hostFacts: async () => facts})
    expect(out.exitCode).toBe(code)
    expect(out.stderr).toMatch(message)
    expect(runner.calls).toEqual([])
  })

  it('refuses a repo outside the allowlist with the init command that would allow it', async () => {
    const {home, facts} = setup()
    const other = join(home, 'dev', 'other')
    mkdirSync(other)
    const out = await runCommand(Run, ['--tool', 'codex', '--repo', other], {runner: podmanRunner(), hostFacts: async () => facts})
    expect(out.exitCode).toBe(3)
    expect(out.stderr).toContain(`sourceosctl agent-machine init --repo ${other}`)
  })

  // Each anchor matters: without `$`, 'abcdefgh/../../x' would pass on its first 8 characters (JS `$`
  // without the m flag matches only at the very end, so a trailing newline is refused by it too).
  it.each([
    ['a trailing newline', 'abcdefgh\n'],
    ['a path', 'abcdefgh/../../x'],
    ['upper case', 'ABCDEFGH'],
    ['7 characters', 'abcdefg'],
    ['64 characters', 'a'.repeat(64)],
    ['a leading dash', '-abcdefgh'],
  ])('refuses a --run-id with %s (exit 2, RUN_ID_INVALID) before any podman call', async (_label, runId) => {
    const {repo, facts} = setup()
    const runner = podmanRunner()
    const out = await runCommand(Run, ['--tool', 'codex', '--repo', repo, '--run-id', runId, '--json'], {runner, hostFacts: async () => facts})
    expect(out.exitCode).toBe(2)
    expect(out.json).toMatchObject({error: {code: 'RUN_ID_INVALID', fix: 'use 8-63 lower-case letters, digits and -'}})
    expect(runner.commandLines().filter((l) => l.startsWith('podman create'))).toEqual([])
  })

  it.each([['8 characters', 'abcdefgh'], ['63 characters with dashes', `a${'-b'.repeat(31)}`]])('accepts a --run-id of %s', async (_label, runId) => {
    const {repo, facts} = setup()
    const out = await runCommand(Run, ['--tool', 'codex', '--repo', repo, '--run-id', runId, '--dry-run', '--json'], {runner: podmanRunner(), hostFacts: async () => facts})
    expect(out.exitCode, out.stderr).toBe(0)
    expect(JSON.stringify(out.json)).toContain(`--name=sourceos-agent-${runId}`)
  })

  it('refuses a secret-like env name in the profile', async () => {
    const {repo, facts} = setup((y) => y.replace('passthrough: [TERM]', 'passthrough: [TERM, GITHUB_TOKEN]'))
    const out = await runCommand(Run, ['--tool', 'codex', '--repo', repo], {runner: podmanRunner(), hostFacts: async () => facts})
    expect(out.exitCode).toBe(3)
    expect(out.stderr).toMatch(/GITHUB_TOKEN/)
  })

  it('refuses an image whose digest does not match the pin (exit 3) and a missing image (exit 4)', async () => {
    const pinned = setup((y) => y.replace('digest: null', `digest: sha256:${'0'.repeat(64)}`))
    const mismatch = await runCommand(Run, ['--tool', 'codex', '--repo', pinned.repo], {runner: podmanRunner(), hostFacts: async () => pinned.facts})
    expect(mismatch.exitCode).toBe(3)
    expect(mismatch.stderr).toMatch(/pins sha256:0000/)

    const okPin = setup((y) => y.replace('digest: null', `digest: sha256:${IMAGE_ID}`))
    const accepted = await runCommand(Run, ['--tool', 'codex', '--repo', okPin.repo, '--dry-run'], {runner: podmanRunner(), hostFacts: async () => okPin.facts})
    expect(accepted.exitCode).toBe(0)

    const {repo, facts} = setup()
    const runner = fakeRunner([{match: 'podman image inspect', result: {exitCode: 125, stdout: '[]', stderr: 'Error: inspecting object: localhost/test-bb:1: image not known\n'}}])
    const missing = await runCommand(Run, ['--tool', 'codex', '--repo', repo], {runner, hostFacts: async () => facts})
    expect(missing.exitCode).toBe(4)
    expect(missing.stderr).toMatch(/not in the local store\.\nFix: run `sourceosctl agent-machine start` \(it builds localhost\/test-bb:1/)
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
    expect(out.stderr).toMatch(/stopped\n.*start/)
  })
})

describe('run on macOS: the machine’s real shared folders decide what can be mounted', () => {
  function macSetup(shared: (repo: string) => string[]) {
    const base = setup((y) => y.replace('platform: linux', 'platform: macos\n  machine: {name: podman-machine-default, provider: applehv, cpus: 2, memoryMiB: 2048, diskGiB: 20, rootful: false}'))
    const configDir = tempDir('machine-config-')
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
    const steps = containerSteps(out.json)
    expect(steps[0]!.argv).toContain(`--mount=type=bind,source=${repo},destination=/workspace/app,bind-nonrecursive=true,bind-propagation=private`)
    // podman runs in a VM: the container's /proc cannot be read from the host, and the plan says so
    expect(steps.map((s) => s.argv[0] === 'podman' ? podmanVerb(s.argv) : s.argv.slice(0, 2).join(' '))).toEqual(['create', 'init', 'container', 'sourceosctl:verify-container --method=inspect-paths', 'start'])
  })

  it('a repo the machine does not share is a clear error naming the volume to add (exit 4)', async () => {
    const {repo, runner, mac} = macSetup(() => ['/Users/elsewhere'])
    const out = await runCommand(Run, ['--tool', 'codex', '--repo', repo, '--dry-run'], {runner, hostFacts: async () => mac})
    expect(out.exitCode).toBe(4)
    expect(out.stderr).toMatch(/not shared with the Podman machine podman-machine-default.*\nFix: .*--volume/)
  })
})

describe('run on macOS: every container-side call goes to the profile’s machine, not the default connection (issue 11, defect 3)', () => {
  // A Podman Desktop user: podman-machine-default exists and its -root connection is the default
  // (test/fixtures/podman/podman5-system-connection-list-desktop-default.json); the profile's
  // machine is sourceos-agent.
  function pinnedSetup(rootful: boolean) {
    const base = setup((y) => y.replace('platform: linux', `platform: macos\n  machine: {name: sourceos-agent, provider: applehv, cpus: 2, memoryMiB: 2048, diskGiB: 20, rootful: ${rootful}}`))
    const configDir = tempDir('machine-config-')
    writeFileSync(join(configDir, 'sourceos-agent.json'), JSON.stringify({Mounts: [{Source: base.repo, Target: base.repo, ReadOnly: false}]}))
    const list = JSON.parse(podmanFixture('podman5-machine-list-running.json')) as Array<{Name: string; Default: boolean}>
    list[0]!.Name = 'sourceos-agent'
    list[0]!.Default = false
    const inspect = JSON.parse(podmanFixture('podman5-machine-inspect-running.json')) as Array<{Name: string; ConfigDir: {Path: string}}>
    inspect[0]!.Name = 'sourceos-agent'
    inspect[0]!.ConfigDir.Path = configDir
    const connected = (cmd: string, args: readonly string[], verb: string) => cmd === 'podman' && args[0] === '--connection' && args[2] === verb
    const runner = fakeRunner([
      {match: (cmd, args) => cmd === 'podman' && args[0] === 'machine' && args[1] === 'list', result: {stdout: JSON.stringify(list)}},
      {match: (cmd, args) => cmd === 'podman' && args[0] === 'machine' && args[1] === 'inspect', result: {stdout: JSON.stringify(inspect)}},
      {match: (cmd, args) => cmd === 'podman' && args[0] === '--version', result: {stdout: 'podman version 5.3.1\n'}},
      // only through the machine's connection does the image exist: the default connection's VM is another one
      {match: (cmd, args) => connected(cmd, args, 'image'), result: {stdout: podmanFixture('podman431-image-inspect.json')}},
      {match: 'podman image inspect', result: {exitCode: 125, stderr: 'Error: failed to find image localhost/test-bb:1: localhost/test-bb:1: image not known\n'}},
    ])
    return {...base, runner, mac: fakeHostFacts('macos', {env: base.facts.env})}
  }

  it.each([
    [false, 'sourceos-agent'],
    [true, 'sourceos-agent-root'],
  ])('rootful %s: every container-side argv of the dry-run plan and every container-side call carries --connection %s; machine calls carry none', async (rootful, connection) => {
    const {repo, runner, mac} = pinnedSetup(rootful)
    const out = await runCommand(Run, ['--tool', 'codex', '--repo', repo, '--dry-run', '--json'], {runner, hostFacts: async () => mac})
    expect(out.exitCode, out.stderr).toBe(0)
    const steps = (out.json as LaunchJson).plan.steps
    // `system connection list` is read on the client (it is what names the connection's address)
    expect(steps.filter((s) => s.argv[0] === 'podman' && s.argv[1] === 'system').map((s) => s.argv)).toEqual([['podman', 'system', 'connection', 'list', '--format', 'json']])
    const podmanSteps = steps.filter((s) => s.argv[0] === 'podman' && s.argv[1] !== 'system')
    // create, init, inspect, start, the tool-version probe (`podman run`, not cached yet) and the evidence's server version
    expect(podmanSteps.map((s) => podmanVerb(s.argv))).toEqual(['run', 'create', 'init', 'container', 'start', 'version'])
    for (const s of podmanSteps) expect(s.argv.slice(0, 3)).toEqual(['podman', '--connection', connection])
    const calls = runner.calls.filter((c) => c.command === 'podman')
    expect(calls.find((c) => c.args.includes('image'))?.args.slice(0, 4)).toEqual(['--connection', connection, 'image', 'inspect'])
    for (const c of calls.filter((x) => x.args.includes('machine') || x.args[0] === '--version')) expect(c.args).not.toContain('--connection')
  })

  it('an image missing in the machine: the fix builds it through the machine’s connection, not podman’s default', async () => {
    const {repo, runner, mac} = pinnedSetup(true)
    const missing = fakeRunner([
      {match: (cmd, args) => cmd === 'podman' && args[0] === '--connection' && args[2] === 'image', result: {exitCode: 125, stdout: '[]\n', stderr: podmanFixture('podman431-image-inspect-missing.stderr.txt')}},
      {match: () => true, result: (cmd, args) => runner(cmd, args)},
    ])
    const out = await runCommand(Run, ['--tool', 'codex', '--repo', repo, '--dry-run'], {runner: missing, hostFacts: async () => mac})
    expect(out.exitCode).toBe(4)
    expect(out.stderr).toMatch(/not in the local store of connection sourceos-agent-root/)
    // start builds it in the machine (through its connection: start.test.ts); offline, it is loaded through that connection
    expect(out.stderr).toContain('Fix: run `sourceosctl agent-machine start` (it builds localhost/test-bb:1 from the Containerfile shipped with sourceosctl, in connection sourceos-agent-root)')
    expect(out.stderr).toContain('podman --connection sourceos-agent-root load -i agent.tar')
  })

  it('a Linux-native profile: no --connection anywhere in the plan or the calls', async () => {
    const {repo, facts} = setup()
    const runner = podmanRunner()
    const out = await runCommand(Run, ['--tool', 'codex', '--repo', repo, '--dry-run', '--json'], {runner, hostFacts: async () => facts})
    expect(out.exitCode, out.stderr).toBe(0)
    const argvs = (out.json as LaunchJson).plan.steps.map((s) => s.argv)
    expect(argvs.flat().some((a) => a.startsWith('--connection'))).toBe(false)
    expect(runner.calls.flatMap((c) => c.args).some((a) => a.startsWith('--connection'))).toBe(false)
  })
})

describe('evidence', () => {
  it('a run leaves a valid, completed record; the tool version is read once per image', async () => {
    const {repo, facts, home} = setup()
    const ctx = {hostFacts: async () => facts}
    const first = podmanRunner({'dev.sourceos.agent-machine.codex.sandbox': 'danger-full-access'})
    const a = await runCommand(Run, ['--tool', 'codex', '--repo', repo, '--json'], {...ctx, runner: first, attachedRunner: recordingAttached(0)})
    const file = (a.json as {evidence: string}).evidence
    expect(file.startsWith(join(home, '.local', 'state', 'sourceosctl', 'evidence'))).toBe(true)
    // Signed with the key run made in the state dir, which inspect trusts as this host's own.
    const inspected = await inspectPath(file, {stateDir: join(home, '.local', 'state', 'sourceosctl')})
    expect(inspected.valid).toBe(true)
    const {readFileSync} = await import('node:fs')
    const record = JSON.parse(readFileSync(file, 'utf8')) as {
      predicate: {status: string; exitCode: number; toolVersions: {tool: string}; podmanArgv: string[]; toolSandbox: string | null; verification: {method: string; via: string; mounts: Array<{target: string; dev: string; ino: string}>; unverified: string[]}}
    }
    expect(record.predicate.status).toBe('completed')
    // how the container was verified before start: the inode the container saw is the one pinned at judgement
    const {statSync} = await import('node:fs')
    const pinned = statSync(repo, {bigint: true})
    expect(record.predicate.verification).toEqual({method: 'proc-root-inode', via: 'direct', mounts: [{target: '/workspace/app', dev: pinned.dev.toString(), ino: pinned.ino.toString()}], unverified: []})
    // The image declares how the tool runs inside the outer sandbox; the record keeps that choice.
    expect(record.predicate.toolSandbox).toBe('danger-full-access')
    expect(record.predicate.toolVersions.tool).toBe('codex-fake 0.0.1')
    // As planned, with the home dir as ~ and the passthrough value redacted with its sha256 (docs/evidence.md).
    const xterm = `[redacted sha256:${createHash('sha256').update('xterm').digest('hex')}]`
    expect(record.predicate.podmanArgv).toEqual(containerSteps(a.json)[0]!.argv.map((x) => (x === '--env=TERM=xterm' ? `--env=TERM=${xterm}` : x.split(home).join('~'))))
    expect(first.commandLines().filter((l) => l.startsWith('podman run'))).toHaveLength(1)

    const second = podmanRunner()
    const b = await runCommand(Run, ['--tool', 'codex', '--repo', repo, '--json'], {...ctx, runner: second, attachedRunner: recordingAttached(2)})
    expect(b.exitCode).toBe(2)
    expect(second.commandLines().filter((l) => l.startsWith('podman run'))).toHaveLength(0)
    expect((await inspectPath(join(home, '.local', 'state', 'sourceosctl', 'evidence'), {stateDir: join(home, '.local', 'state', 'sourceosctl')})).valid).toBe(true)
  })

  it('dry runs write no record', async () => {
    const {repo, facts, home} = setup()
    await runCommand(Run, ['--tool', 'codex', '--repo', repo, '--dry-run'], {runner: podmanRunner(), hostFacts: async () => facts})
    const {existsSync} = await import('node:fs')
    expect(existsSync(join(home, '.local', 'state'))).toBe(false)
  })
})

describe('shell', () => {
  it('runs /bin/sh in the repo with -- args, and its exit code is the CLI’s', async () => {
    const {repo, facts} = setup()
    const runner = podmanRunner()
    const attached = recordingAttached(3)
    const out = await runCommand(Shell, ['--repo', repo, '--json', '--', '-c', 'exit 3'], {runner, attachedRunner: attached, hostFacts: async () => facts})
    expect(out.exitCode).toBe(3)
    const create = containerSteps(out.json)[0]!.argv
    expect(create.slice(-3)).toEqual(['/bin/sh', '-c', 'exit 3'])
    expect(create).toContain('--workdir=/workspace/app')
    expect(create).not.toContain('--tty')
  })
})
