/**
 * run --detach / shell --detach as planned: the same create as a foreground run but without --rm
 * and with a bounded log, a start that does not attach, then the keeper's wait and the output it
 * keeps; --dry-run runs nothing and starts no keeper. (The setup is run.test.ts's.)
 */
import {mkdirSync, writeFileSync} from 'node:fs'
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
import {tempDir} from '../helpers/temp-dirs.js'
import {testProfileYaml} from '../helpers/test-profile.js'

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
/** The podman subcommand of an argv, after a global `--connection <name>` if any. */
function podmanVerb(argv: readonly string[]): string | undefined {
  return argv[1] === '--connection' ? argv[3] : argv[1]
}

function containerSteps(json: unknown): Array<{argv: string[]; mutates: boolean}> {
  const steps = (json as LaunchJson).plan.steps
  const first = steps.findIndex((s) => podmanVerb(s.argv) === 'create')
  return steps.slice(first, first + 7)
}

describe('--detach', () => {
  it('plans the detached container steps: create without --rm and with a bounded log, an unattached start, the wait and the kept output; --dry-run runs none', async () => {
    const {repo, facts} = setup()
    const runner = podmanRunner()
    const attached = recordingAttached(0)
    const fg = await runCommand(Run, ['--tool', 'codex', '--repo', repo, '--dry-run', '--json', '--run-id', 'testrun-0010'], {runner, attachedRunner: attached, hostFacts: async () => facts})
    const out = await runCommand(Run, ['--tool', 'codex', '--repo', repo, '--detach', '--dry-run', '--json', '--run-id', 'testrun-0010'], {runner, attachedRunner: attached, hostFacts: async () => facts})
    expect(out.exitCode, out.stderr).toBe(0)
    expect(schemaErrors('agent-machine-launch-result.schema.json', out.json)).toEqual([])
    expect(runner.commandLines().every((line) => line.startsWith('podman image inspect'))).toBe(true)
    expect(attached.calls).toEqual([])
    const steps = containerSteps(out.json)
    expect(steps.map((s) => s.argv.slice(1, 3))).toEqual([
      ['create', '--name=sourceos-agent-testrun-0010'],
      ['init', 'sourceos-agent-testrun-0010'],
      ['container', 'inspect'],
      ['--method=proc-root-inode', 'sourceos-agent-testrun-0010'],
      ['start', 'sourceos-agent-testrun-0010'],
      ['wait', '--condition=exited'],
      ['logs', 'sourceos-agent-testrun-0010'],
    ])
    const create = steps[0]!.argv
    const fgCreate = containerSteps(fg.json)[0]!.argv
    expect(create).not.toContain('--rm')
    expect(create).toContain('--log-opt=max-size=8m')
    // otherwise the foreground's create, flag for flag (the same hardening)
    expect(create.filter((a) => a !== '--log-opt=max-size=8m')).toEqual(fgCreate.filter((a) => a !== '--rm'))
    expect(steps[4]!.argv).not.toContain('--attach')
  })

  it('shell --detach --dry-run too, and a bad --run-id is refused before any keeper starts', async () => {
    const {repo, facts} = setup()
    const out = await runCommand(Shell, ['--repo', repo, '--detach', '--dry-run', '--json', '--run-id', 'testrun-0011'], {runner: podmanRunner(), attachedRunner: recordingAttached(0), hostFacts: async () => facts})
    expect(out.exitCode, out.stderr).toBe(0)
    expect(containerSteps(out.json).map((s) => s.argv[1])).toContain('wait')
    const bad = await runCommand(Shell, ['--repo', repo, '--detach', '--run-id', '../../x'], {runner: podmanRunner(), hostFacts: async () => facts})
    expect(bad.exitCode).toBe(2)
    expect(bad.stderr).toMatch(/not valid/)
  })
})
