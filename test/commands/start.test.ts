// `start` end to end through the command class, with the REAL Runner spawning a fake `podman`
// executable (test/helpers/fake-podman) that replays recorded 4.x/5.x outputs per scenario.
import {mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import {packageRoot} from '../../src/core/util/package-root.js'

import Start from '../../src/commands/agent-machine/start.js'
import type {HostFacts} from '../../src/core/host/facts.js'
import {activateFakePodman, type FakePodman} from '../helpers/fake-podman/index.js'
import {fakeHostFacts} from '../helpers/host-facts.js'
import {schemaErrors} from '../helpers/json-schema.js'
import {runCommand} from '../helpers/run-command.js'

interface ErrorDoc {
  error: {code: string; message: string; exitCode: number; fix: string | null; details?: Record<string, unknown>}
}
interface StartJson {
  dryRun: boolean
  machine: {name: string | null; provider: string | null; env: Record<string, string>; before: string; after: string; action: string}
  image: {status: string; id: string | null}
  plan: {steps: Array<{argv: string[]; mutates: boolean}>}
}

const REPO_ROOT = packageRoot()
let fake: FakePodman | undefined
const dirs: string[] = []
afterEach(() => {
  fake?.restore()
  fake = undefined
  for (const d of dirs.splice(0)) rmSync(d, {recursive: true, force: true})
})

interface SetupOptions {
  platform?: 'macos' | 'linux'
  /** Flow-style machine spec, or null for a native profile. */
  machine?: string | null
  image?: string
  facts?: Partial<HostFacts>
}

const MACHINE = (provider: string) => `{name: podman-machine-default, provider: ${provider}, cpus: 4, memoryMiB: 8192, diskGiB: 64, rootful: false}`

function setup(scenario: string, opts: SetupOptions = {}) {
  const home = realpathSync(mkdtempSync(join(tmpdir(), 'start-home-')))
  dirs.push(home)
  const repo = join(home, 'dev', 'app')
  mkdirSync(repo, {recursive: true})
  const platform = opts.platform ?? 'macos'
  const machine = opts.machine === undefined ? MACHINE('applehv') : opts.machine
  const profile = join(home, 'profile.yaml')
  writeFileSync(profile, `apiVersion: sourceos.dev/v1alpha1
kind: AgentMachineProfile
metadata: {name: test-profile}
spec:
  platform: ${platform}
${machine ? `  machine: ${machine}\n` : ''}  image: ${opts.image ?? '{ref: localhost/sourceos/agent:latest, digest: null, pull: never}'}
  mounts:
    - {source: ${repo}, target: /workspace/app, mode: rw}
  tools:
    codex: {enabled: true, command: [codex]}
  env: {passthrough: [TERM], set: {}}
  network: {mode: default}
  resources: {cpus: 2, memory: 4g, pidsLimit: 1024}
  secrets: {door: none}
`)
  const facts = fakeHostFacts(platform, {homeDir: home, env: {HOME: home, SOURCEOSCTL_PROFILE: profile}, ...opts.facts})
  fake?.restore() // one scenario at a time: a second setup in a test replaces the first
  fake = activateFakePodman(scenario)
  const run = (argv: string[]) => runCommand(Start, argv, {hostFacts: async () => facts})
  return {home, repo, profile, fake, run}
}

const startCalls = (f: FakePodman) => f.calls().filter((c) => c.args[0] === 'machine' && c.args[1] === 'start')
const mutatingCalls = (f: FakePodman) => f.calls().filter((c) => ['start', 'stop', 'rm', 'init', 'reset', 'set'].includes(c.args[1] ?? '') || c.args[0] === 'pull')

describe('start (fake podman on PATH)', () => {
  it('stopped → runs `podman machine start <name>` with progress on stderr', async () => {
    const {run, fake} = setup('macos5-stopped')
    const out = await run([])
    expect(out.exitCode, out.stderr).toBe(0)
    expect(fake.commandLines()).toContain('podman machine start podman-machine-default')
    // not a TTY here: plain progress lines, then the outcome
    expect(out.stderr).toMatch(/Starting Podman machine podman-machine-default …/)
    expect(out.stderr).toMatch(/✔ Podman machine podman-machine-default started/)
    expect(out.stdout).toMatch(/Machine: podman-machine-default \(applehv\) started, running/)
    expect(out.stdout).toMatch(/Image: localhost\/sourceos\/agent:latest present/)
  })

  it('stopped --json: the result validates against its schema and progress stays off stderr', async () => {
    const {run, fake: f} = setup('macos5-stopped')
    const out = await run(['--json'])
    expect(out.exitCode).toBe(0)
    expect(schemaErrors('agent-machine-start-result.schema.json', out.json)).toEqual([])
    const r = out.json as StartJson
    expect(r.machine).toMatchObject({name: 'podman-machine-default', provider: 'applehv', env: {CONTAINERS_MACHINE_PROVIDER: 'applehv'}, before: 'stopped', after: 'running', action: 'started'})
    expect(r.plan.steps.map((s) => s.argv.join(' '))).toEqual([
      'CONTAINERS_MACHINE_PROVIDER=applehv podman machine start podman-machine-default',
      // container-side: through the machine's connection (issue 11, defect 3); machine commands never
      'podman --connection podman-machine-default image inspect --format json -- localhost/sourceos/agent:latest',
      // only if the check finds no image: the Containerfile shipped in the package, into the machine's store
      `podman --connection podman-machine-default build --file ${join(REPO_ROOT, 'images', 'agent', 'Containerfile')} --tag localhost/sourceos/agent:latest ${join(REPO_ROOT, 'images', 'agent')}`,
    ])
    expect(r.image.status).toBe('present')
    expect(f.commandLines().some((l) => l.includes(' build '))).toBe(false) // the image was there: no build
    expect(out.stderr).toBe('')
  })

  it('--dry-run prints the exact plan and starts nothing', async () => {
    const {run, fake} = setup('macos5-stopped')
    const out = await run(['--dry-run'])
    expect(out.exitCode).toBe(0)
    expect(out.stdout).toContain('1. CONTAINERS_MACHINE_PROVIDER=applehv podman machine start podman-machine-default')
    expect(out.stdout).toContain('mutates: start the Podman machine')
    expect(out.stdout).toContain('Dry run: nothing was changed.')
    expect(startCalls(fake)).toEqual([])
    const json = await setup('macos5-stopped').run(['--dry-run', '--json'])
    expect(schemaErrors('agent-machine-start-result.schema.json', json.json)).toEqual([])
    expect((json.json as StartJson).machine.action).toBe('would-start')
  })

  it('running → says so and exits 0 without starting anything', async () => {
    const {run, fake} = setup('macos5-running')
    const out = await run(['--json'])
    expect(out.exitCode).toBe(0)
    const r = out.json as StartJson
    expect(r.machine).toMatchObject({before: 'running', after: 'running', action: 'already-running'})
    expect(r.plan.steps).toEqual([])
    expect(mutatingCalls(fake)).toEqual([])
    const human = await setup('macos5-running').run([])
    expect(human.stdout).toMatch(/already running/)
  })

  it('starting → waits until the machine runs', async () => {
    const {run, fake} = setup('macos5-starting')
    const out = await run(['--json'])
    expect(out.exitCode).toBe(0)
    expect((out.json as StartJson).machine).toMatchObject({before: 'starting', after: 'running', action: 'waited'})
    expect(fake.commandLines().filter((l) => l.startsWith('podman machine list')).length).toBeGreaterThanOrEqual(2)
    expect(startCalls(fake)).toEqual([])
  })

  it('booting (Running and Starting both true) → waits until it is ready, and only then checks the image', async () => {
    const {run, fake} = setup('macos58-booting')
    const out = await run(['--json'])
    expect(out.exitCode, JSON.stringify(out.json)).toBe(0)
    expect((out.json as StartJson).machine).toMatchObject({before: 'starting', after: 'running', action: 'waited'})
    const lines = fake.commandLines()
    expect(lines.filter((l) => l.startsWith('podman machine list'))).toHaveLength(3)
    expect(lines.filter((l) => l.includes('image inspect'))).toHaveLength(1) // asked once, when ready (a booting API would fail it)
    expect(startCalls(fake)).toEqual([])
  })

  it('absent → prints the exact `podman machine init` and exits 4, never running init', async () => {
    const {run, repo, fake} = setup('macos5-absent')
    const out = await run([])
    expect(out.exitCode).toBe(4)
    const init = `CONTAINERS_MACHINE_PROVIDER=applehv podman machine init --cpus 4 --memory 8192 --disk-size 64 --volume ${repo}:${repo} podman-machine-default`
    expect(out.stdout).toContain(`  ${init}\n`)
    expect(out.stderr).toMatch(/Error: Podman machine "podman-machine-default" does not exist/)
    expect(out.stderr).toMatch(/replace Podman's default share of \/Users, \/private and \/var\/folders/)
    expect(mutatingCalls(fake)).toEqual([])

    const json = await setup('macos5-absent').run(['--json'])
    expect(json.exitCode).toBe(4)
    expect(schemaErrors('agent-machine-error.schema.json', json.json)).toEqual([])
    const doc = json.json as ErrorDoc
    expect(doc.error.code).toBe('MACHINE_ABSENT')
    const rec = doc.error.details?.initCommand as {argv: string[]; env: Record<string, string>; text: string}
    expect(rec.env).toEqual({CONTAINERS_MACHINE_PROVIDER: 'applehv'})
    expect(rec.argv.slice(0, 3)).toEqual(['podman', 'machine', 'init'])
    expect(rec.text).toMatch(/--volume \S+dev\/app:\S+dev\/app podman-machine-default$/)
  })

  it('another machine active on applehv → explains and gives the stop command, exit 4', async () => {
    const {run, fake} = setup('macos5-other-active')
    const out = await run([])
    expect(out.exitCode).toBe(4)
    expect(out.stderr).toMatch(/"dev-vm" is already running, and applehv runs one machine at a time/)
    expect(out.stderr).toContain('`CONTAINERS_MACHINE_PROVIDER=applehv podman machine stop dev-vm`')
    expect(mutatingCalls(fake)).toEqual([])
  })

  it('another machine active on another provider (reported by 5.x start) → the stop command carries that provider', async () => {
    const {run} = setup('macos5-other-provider-active')
    const out = await run(['--json'])
    expect(out.exitCode).toBe(4)
    const doc = out.json as ErrorDoc
    expect(doc.error.code).toBe('MACHINE_OTHER_ACTIVE')
    expect(doc.error.details).toMatchObject({other: 'dev-vm', otherProvider: 'libkrun', stopCommand: 'CONTAINERS_MACHINE_PROVIDER=libkrun podman machine stop dev-vm'})
  })

  it('another machine active, Podman 4.x message → exit 4 with the stop command', async () => {
    const {run} = setup('macos4-other-active', {machine: MACHINE('qemu')})
    const out = await run([])
    expect(out.exitCode).toBe(4)
    expect(out.stderr).toContain('`CONTAINERS_MACHINE_PROVIDER=qemu podman machine stop dev-vm`')
  })

  it('root on Linux → explains podman machine does not run as root, before running podman', async () => {
    const {run, fake} = setup('linux-root-refused', {platform: 'linux', machine: MACHINE('qemu'), facts: {uid: 0, isRoot: true}})
    const out = await run(['--json'])
    expect(out.exitCode).toBe(4)
    expect((out.json as ErrorDoc).error.code).toBe('MACHINE_AS_ROOT')
    expect((out.json as ErrorDoc).error.message).toMatch(/podman machine does not run as root/)
    expect(fake.calls()).toEqual([])
  })

  it('podman itself refusing root (4.3.1 capture) → the same explanation', async () => {
    const {run} = setup('linux-root-refused', {platform: 'linux', machine: MACHINE('qemu')})
    const out = await run([])
    expect(out.exitCode).toBe(4)
    expect(out.stderr).toMatch(/podman machine does not run as root/)
  })

  it('a stuck start past --timeout → exit 4 with the recovery command, nothing destructive', async () => {
    const {run, fake} = setup('macos5-stuck')
    const started = Date.now()
    const out = await run(['--timeout', '1', '--json'])
    expect(Date.now() - started).toBeLessThan(10_000)
    expect(out.exitCode).toBe(4)
    const doc = out.json as ErrorDoc
    expect(doc.error.code).toBe('MACHINE_START_TIMEOUT')
    expect(doc.error.message).toMatch(/within 1 s\. Nothing was deleted or reset/)
    expect(doc.error.fix).toContain('`CONTAINERS_MACHINE_PROVIDER=applehv podman machine stop podman-machine-default`')
    expect(fake.calls().map((c) => c.args[1])).not.toContain('stop')
    expect(fake.calls().map((c) => c.args[1])).not.toContain('rm')
  })

  it('start racing another start (5.4+ "already running") → exit 0', async () => {
    const {run} = setup('macos5-start-already-running')
    const out = await run(['--json'])
    expect(out.exitCode).toBe(0)
    expect((out.json as StartJson).machine.action).toBe('already-running')
  })

  it('Podman 4.x, qemu (the 4.x macOS default): the provider variable all the same (containers.conf may name another)', async () => {
    const {run, fake} = setup('macos4-stopped', {machine: MACHINE('qemu')})
    const out = await run(['--json'])
    expect(out.exitCode).toBe(0)
    expect((out.json as StartJson).machine.env).toEqual({CONTAINERS_MACHINE_PROVIDER: 'qemu'})
    expect(fake.calls().find((c) => c.args[1] === 'start')).toMatchObject({args: ['machine', 'start', 'podman-machine-default'], provider: 'qemu'})
    expect(fake.calls().filter((c) => c.args[0] === 'machine').every((c) => c.provider === 'qemu')).toBe(true)
  })

  it('libkrun (not the default): every machine command carries CONTAINERS_MACHINE_PROVIDER, and the plan shows it', async () => {
    const dry = setup('macos5-libkrun-stopped', {machine: MACHINE('libkrun')})
    const plan = await dry.run(['--dry-run'])
    expect(plan.exitCode, plan.stderr).toBe(0)
    expect(plan.stdout).toContain('1. CONTAINERS_MACHINE_PROVIDER=libkrun podman machine start podman-machine-default')
    const {run, fake: f} = setup('macos5-libkrun-stopped', {machine: MACHINE('libkrun')})
    const out = await run(['--json'])
    expect(out.exitCode).toBe(0)
    expect((out.json as StartJson).machine.env).toEqual({CONTAINERS_MACHINE_PROVIDER: 'libkrun'})
    expect(f.calls().filter((c) => c.args[0] === 'machine').every((c) => c.provider === 'libkrun')).toBe(true)
  })

  it('containers.conf selects libkrun (Podman Desktop): the applehv machine is found and started only because every machine call names applehv', async () => {
    const {run, fake: f} = setup('macos58-containers-conf-libkrun', {machine: '{name: sourceos-agent, provider: applehv, cpus: 4, memoryMiB: 8192, diskGiB: 64, rootful: false}'})
    const out = await run(['--json'])
    expect(out.exitCode, JSON.stringify(out.json)).toBe(0)
    expect((out.json as StartJson).machine).toMatchObject({name: 'sourceos-agent', env: {CONTAINERS_MACHINE_PROVIDER: 'applehv'}, before: 'stopped', action: 'started'})
    const machineCalls = f.calls().filter((c) => c.args[0] === 'machine')
    expect(machineCalls.length).toBeGreaterThanOrEqual(2)
    expect(machineCalls.every((c) => c.provider === 'applehv')).toBe(true)
  })

  it('image missing with pull: never → start builds it from the shipped Containerfile in the machine; a build that cannot pull its base names the offline build, exit 4', async () => {
    const {run, fake} = setup('macos5-image-missing-no-registry')
    const dry = await run(['--dry-run', '--json'])
    expect(dry.exitCode).toBe(0)
    const plan = (dry.json as StartJson).plan.steps.map((s) => s.argv.join(' '))
    expect(plan).toEqual([`podman --connection podman-machine-default build --file ${join(REPO_ROOT, 'images', 'agent', 'Containerfile')} --tag localhost/sourceos/agent:latest ${join(REPO_ROOT, 'images', 'agent')}`])
    expect((dry.json as StartJson).image.status).toBe('would-build')
    expect(fake.commandLines().some((l) => l.includes(' build '))).toBe(false)

    const out = await run(['--json'])
    expect(fake.commandLines()).toContain(plan[0])
    expect(out.exitCode).toBe(4)
    const doc = out.json as ErrorDoc
    expect(doc.error.code).toBe('IMAGE_BUILD_FAILED')
    expect(doc.error.fix).toContain('build-debootstrap.sh --tag localhost/sourceos/agent:latest')
  })

  it('image missing with pull: missing → pulls it (a plan step)', async () => {
    const {run, fake} = setup('macos5-image-missing', {image: '{ref: registry.example/sourceos/agent:1, digest: null, pull: missing}'})
    const out = await run(['--json'])
    expect(out.exitCode, JSON.stringify(out.json)).toBe(0)
    const r = out.json as StartJson
    expect(r.plan.steps.map((s) => s.argv.join(' '))).toEqual(['podman --connection podman-machine-default pull -- registry.example/sourceos/agent:1'])
    expect(r.image.status).toBe('pulled')
    expect(fake.commandLines()).toContain('podman --connection podman-machine-default pull -- registry.example/sourceos/agent:1')
  })

  it('stopped, then the image is missing → start, check, pull, in plan order', async () => {
    const {run, fake} = setup('macos5-stopped-image-missing', {image: '{ref: registry.example/sourceos/agent:1, digest: null, pull: missing}'})
    const out = await run(['--json'])
    expect(out.exitCode, JSON.stringify(out.json)).toBe(0)
    expect((out.json as StartJson).plan.steps.map((s) => s.argv.filter((w) => !w.includes('=') && !w.startsWith('--connection') && w !== 'podman-machine-default')[1])).toEqual(['machine', 'image', 'pull'])
    expect(fake.commandLines().filter((l) => !l.startsWith('podman --version') && !l.startsWith('podman machine list'))).toEqual([
      'podman machine start podman-machine-default',
      'podman --connection podman-machine-default image inspect --format json -- registry.example/sourceos/agent:1',
      'podman --connection podman-machine-default pull -- registry.example/sourceos/agent:1',
      'podman --connection podman-machine-default image inspect --format json -- registry.example/sourceos/agent:1',
    ])
    // every container-side call named the machine's connection; no machine call did
    expect(fake.calls().filter((c) => c.args[0] === 'image' || c.args[0] === 'pull').every((c) => c.connection === 'podman-machine-default')).toBe(true)
    expect(fake.calls().filter((c) => c.args[0] === 'machine').every((c) => c.connection === undefined)).toBe(true)
  })

  it('a rootful machine: the image check and the pull go through its -root connection (issue 11, defect 3)', async () => {
    const {run, fake} = setup('macos5-stopped-image-missing', {machine: MACHINE('applehv').replace('rootful: false', 'rootful: true'), image: '{ref: registry.example/sourceos/agent:1, digest: null, pull: missing}'})
    const out = await run(['--json'])
    expect(out.exitCode, JSON.stringify(out.json)).toBe(0)
    const container = fake.calls().filter((c) => c.args[0] === 'image' || c.args[0] === 'pull')
    expect(container.length).toBeGreaterThan(0)
    expect(container.every((c) => c.connection === 'podman-machine-default-root')).toBe(true)
    expect((out.json as StartJson).plan.steps.filter((s) => !s.argv.includes('machine')).every((s) => s.argv.slice(1, 3).join(' ') === '--connection podman-machine-default-root')).toBe(true)
  })

  it('--machine naming another machine → exit 2', async () => {
    const {run, fake} = setup('macos5-stopped')
    const out = await run(['--machine', 'other-vm'])
    expect(out.exitCode).toBe(2)
    expect(out.stderr).toMatch(/machine 'other-vm' is not this profile's machine \('podman-machine-default'\)/)
    expect(fake.calls()).toEqual([])
  })

  it('a provider this OS does not support → exit 2 with the supported list', async () => {
    const {run} = setup('macos5-stopped', {machine: MACHINE('hyperv')})
    const out = await run([])
    expect(out.exitCode).toBe(2)
    expect(out.stderr).toMatch(/provider 'hyperv' is not supported on macOS; supported here: applehv, libkrun, qemu/)
  })

  it('Podman too old for the provider → exit 4 naming the minimum version', async () => {
    const {run} = setup('macos4-stopped', {machine: MACHINE('libkrun')})
    const out = await run(['--json'])
    expect(out.exitCode).toBe(4)
    const doc = out.json as ErrorDoc
    expect(doc.error.code).toBe('PODMAN_TOO_OLD')
    expect(doc.error.message).toMatch(/Podman 4\.9\.5 is too old .* needs Podman 5\.1\.0 or newer/)
  })

  it('qemu on macOS with Podman 5 → exit 2 (Podman 5 has no qemu on macOS)', async () => {
    const {run} = setup('macos5-stopped', {machine: MACHINE('qemu')})
    const out = await run([])
    expect(out.exitCode).toBe(2)
    expect(out.stderr).toMatch(/no 'qemu' provider; supported: applehv, libkrun/)
  })

  it('Linux native → nothing to start; checks podman works and says so', async () => {
    const {run, fake} = setup('linux-native', {platform: 'linux', machine: null})
    const out = await run(['--json'])
    expect(out.exitCode).toBe(0)
    expect(schemaErrors('agent-machine-start-result.schema.json', out.json)).toEqual([])
    const r = out.json as StartJson & {notes: string[]; podman: {rootless: boolean}}
    expect(r.machine).toMatchObject({name: null, before: 'not-applicable', action: 'none'})
    expect(r.podman.rootless).toBe(true)
    expect(r.notes[0]).toMatch(/Native Podman 4\.3\.1 works \(rootless\).*nothing to start/)
    expect(fake.calls().some((c) => c.args[0] === 'info')).toBe(true)
    expect(fake.calls().some((c) => c.args[0] === 'machine')).toBe(false)
  })
})
