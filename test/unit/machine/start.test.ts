// startMachine() with a fake Runner and injected host facts: the flows command tests cannot run on
// Linux (Windows WSL/Hyper-V paths, Intel Macs) and the timing paths (with an injected clock).
import {describe, expect, it} from 'vitest'

import {ExitCode, type AgentMachineError} from '../../../src/core/errors.js'
import type {HostFacts} from '../../../src/core/host/facts.js'
import type {InitRecommendation} from '../../../src/core/machine/init-command.js'
import {startMachine, type StartRequest} from '../../../src/core/machine/start.js'
import type {AgentMachineProfile, ProfileMachine} from '../../../src/core/profile/schema.js'
import {fakeRunner, type FakeRoute} from '../../helpers/fake-runner.js'
import {podmanFixture} from '../../helpers/fixtures.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'
import {fakeRootsDeps, machineSpec} from './helpers.js'

const win = fakeHostFacts('windows')
const mac = fakeHostFacts('macos')
const WIN_REPO = 'C:\\Users\\dev\\dev\\app'
const MAC_REPO = '/Users/dev/dev/app'

function profile(platform: AgentMachineProfile['spec']['platform'], machine: ProfileMachine | undefined, source: string, image: Partial<AgentMachineProfile['spec']['image']> = {}): AgentMachineProfile {
  return {
    apiVersion: 'sourceos.dev/v1alpha1',
    kind: 'AgentMachineProfile',
    metadata: {name: 'test'},
    spec: {
      platform,
      ...(machine ? {machine} : {}),
      image: {ref: 'localhost/sourceos/agent:latest', digest: null, pull: 'never', ...image},
      mounts: [{source, target: '/workspace/app', mode: 'rw'}],
      tools: {codex: {enabled: true, command: ['codex']}},
      env: {passthrough: [], set: {}},
      network: {mode: 'default', allow: [], proxy: 'per-run'},
      resources: {cpus: 2, memory: '4g', pidsLimit: 1024},
      secrets: {door: 'none'},
    },
  }
}

function request(host: HostFacts, p: AgentMachineProfile, routes: FakeRoute[], over: Partial<StartRequest> = {}) {
  const runner = fakeRunner(routes)
  const notes: string[] = []
  const source = p.spec.mounts[0]?.source ?? ''
  const req: StartRequest = {
    runner, host, cwd: '/', profile: p, profilePath: '/p/profile.yaml', timeoutMs: 300_000, dryRun: false,
    rootsDeps: fakeRootsDeps(host, {dirs: [source]}),
    io: {progress: {task: () => ({update: () => {}, succeed: () => {}, fail: () => {}})}, note: (t) => notes.push(t)},
    ...over,
  }
  return {req, runner, notes}
}

async function failure(req: StartRequest): Promise<AgentMachineError> {
  try {
    await startMachine(req)
  } catch (error) {
    return error as AgentMachineError
  }
  throw new Error('expected startMachine to fail')
}

const version = (v: string): FakeRoute => ({match: 'podman --version', result: {stdout: `podman version ${v}\n`}})
const list = (json: string): FakeRoute => ({match: 'podman machine list', result: {stdout: json}})
const imageOk: FakeRoute = {match: 'podman image inspect', result: {stdout: podmanFixture('podman431-image-inspect.json')}}

/** A list JSON from fixtures, with names/state changed. */
function listOf(...entries: Array<{file: string; name?: string; running?: boolean}>): string {
  return JSON.stringify(entries.map((e) => {
    const [first] = JSON.parse(podmanFixture(e.file)) as Array<Record<string, unknown>>
    return {...first, ...(e.name ? {Name: e.name, Default: false} : {}), ...(e.running === undefined ? {} : {Running: e.running, Starting: false})}
  }), null, 4)
}

describe('startMachine on Windows', () => {
  it('Hyper-V, absent: the init command carries the provider variable, /mnt/c translation and a PowerShell form', async () => {
    const p = profile('windows', machineSpec({provider: 'hyperv', name: 'podman-machine-default'}), WIN_REPO)
    const {req, runner, notes} = request(win, p, [version('5.3.1'), list(podmanFixture('podman5-machine-list-none.json'))])
    const error = await failure(req)
    expect(error).toMatchObject({code: 'MACHINE_ABSENT', exitCode: ExitCode.PREREQUISITE})
    const rec = error.details?.initCommand as InitRecommendation
    expect(rec.powershell).toBe(
      "$env:CONTAINERS_MACHINE_PROVIDER = 'hyperv'; podman machine init --cpus 4 --memory 8192 --disk-size 64 --volume C:\\Users\\dev\\dev\\app:/mnt/c/Users/dev/dev/app podman-machine-default",
    )
    expect(error.fix).toContain(rec.powershell as string)
    // the list itself ran with the provider selected
    expect(runner.calls.find((c) => c.args[1] === 'list')?.options?.env).toEqual({CONTAINERS_MACHINE_PROVIDER: 'hyperv'})
    expect(notes.some((n) => /administrator terminal/.test(n))).toBe(true)
    expect(runner.commandLines().some((l) => l.includes('init'))).toBe(false)
  })

  it('Hyper-V without elevation (5.1–5.8 refuse even `machine list`) → MACHINE_NEEDS_ADMIN: "run from an administrator terminal" with the exact command', async () => {
    const p = profile('windows', machineSpec({provider: 'hyperv', name: 'podman-machine-default'}), WIN_REPO)
    const {req} = request(win, p, [version('5.8.2'), {match: 'podman machine list', result: {exitCode: 125, stderr: podmanFixture('podman58-hyperv-not-admin.stderr.txt')}}])
    const error = await failure(req)
    expect(error).toMatchObject({code: 'MACHINE_NEEDS_ADMIN', exitCode: ExitCode.PREREQUISITE})
    expect(error.message).toMatch(/administrator terminal for every `podman machine` command on Podman 5\.1 to 5\.8, list and inspect too/)
    expect(error.fix).toMatch(/^run from an administrator terminal/)
    expect(error.fix).toContain("`$env:CONTAINERS_MACHINE_PROVIDER = 'hyperv'; podman machine list --format json`")
    expect(error.details?.podmanCommand).toBe("$env:CONTAINERS_MACHINE_PROVIDER = 'hyperv'; podman machine list --format json")
  })

  it('Hyper-V without elevation at `machine start` → the same MACHINE_NEEDS_ADMIN', async () => {
    const p = profile('windows', machineSpec({provider: 'hyperv', name: 'podman-machine-default'}), WIN_REPO)
    const {req} = request(win, p, [
      version('5.8.2'),
      list(podmanFixture('podman5-hyperv-machine-list-stopped.json')),
      {match: 'podman machine start', result: {exitCode: 125, stderr: podmanFixture('podman58-hyperv-not-admin.stderr.txt')}},
    ])
    const error = await failure(req)
    expect(error).toMatchObject({code: 'MACHINE_NEEDS_ADMIN'})
    expect(error.fix).toContain("podman machine start podman-machine-default`")
  })

  it('Hyper-V on Podman 4.9 → exit 4 naming 5.0.0 (5.0 parses drive letters), before touching any machine', async () => {
    const {req, runner} = request(win, profile('windows', machineSpec({provider: 'hyperv'}), WIN_REPO), [version('4.9.5')])
    const error = await failure(req)
    expect(error).toMatchObject({code: 'PODMAN_TOO_OLD', exitCode: ExitCode.PREREQUISITE, details: {minimumVersion: '5.0.0'}})
    expect(runner.commandLines()).toEqual(['podman --version'])
  })

  it('Hyper-V, stopped: `CONTAINERS_MACHINE_PROVIDER=hyperv podman machine start …` in the plan and in the environment', async () => {
    const p = profile('windows', machineSpec({provider: 'hyperv', name: 'podman-machine-default'}), WIN_REPO)
    const {req, runner} = request(win, p, [
      version('5.3.1'),
      list(podmanFixture('podman5-hyperv-machine-list-stopped.json')),
      {match: 'podman machine start', result: {stdout: 'Starting machine "podman-machine-default"\nMachine "podman-machine-default" started successfully\n'}},
      imageOk,
    ])
    const result = await startMachine(req)
    expect(result.plan.steps[0]?.argv).toEqual(['CONTAINERS_MACHINE_PROVIDER=hyperv', 'podman', 'machine', 'start', 'podman-machine-default'])
    expect(runner.calls.find((c) => c.args[1] === 'start')).toMatchObject({command: 'podman', args: ['machine', 'start', 'podman-machine-default'], options: {timeoutMs: 300_000, env: {CONTAINERS_MACHINE_PROVIDER: 'hyperv'}}})
    expect(result.machine).toMatchObject({action: 'started', after: 'running'})
  })

  it('Hyper-V runs one machine at a time: the stop command is in PowerShell form, with the provider', async () => {
    const p = profile('windows', machineSpec({provider: 'hyperv', name: 'podman-machine-default'}), WIN_REPO)
    const {req, runner} = request(win, p, [
      version('5.3.1'),
      list(listOf({file: 'podman5-hyperv-machine-list-stopped.json', name: 'dev-vm', running: true}, {file: 'podman5-hyperv-machine-list-stopped.json'})),
    ])
    const error = await failure(req)
    expect(error).toMatchObject({code: 'MACHINE_OTHER_ACTIVE', details: {other: 'dev-vm', stopCommand: "$env:CONTAINERS_MACHINE_PROVIDER = 'hyperv'; podman machine stop dev-vm"}})
    expect(runner.commandLines().some((l) => l.includes('machine start'))).toBe(false)
  })

  it('WSL, absent: no --volume (WSL ignores it) and a note that says so', async () => {
    const p = profile('windows', machineSpec({provider: 'wsl'}), WIN_REPO)
    const {req, notes} = request(win, p, [version('5.3.1'), list('[]')])
    const rec = (await failure(req)).details?.initCommand as InitRecommendation
    expect(rec.text).toBe('CONTAINERS_MACHINE_PROVIDER=wsl podman machine init sourceos-agent')
    expect(notes.some((n) => n.startsWith('WSL ignores --volume'))).toBe(true)
  })

  it('WSL runs several machines at once: another running WSL machine does not block the start', async () => {
    const p = profile('windows', machineSpec({provider: 'wsl', name: 'podman-machine-default'}), WIN_REPO)
    const {req, runner} = request(win, p, [
      version('5.3.1'),
      list(listOf({file: 'podman5-wsl-machine-list-running.json', name: 'other-wsl'}, {file: 'podman5-wsl-machine-list-stopped.json'})),
      {match: 'podman machine start', result: {stdout: podmanFixture('podman5-wsl-machine-start.stdout.txt')}},
      imageOk,
    ])
    expect((await startMachine(req)).machine.action).toBe('started')
    expect(runner.commandLines()).toContain('podman machine start podman-machine-default')
  })

  it('Podman 4.x WSL list (live CPUs/memory) of a running machine → already running', async () => {
    const p = profile('windows', machineSpec({provider: 'wsl', name: 'podman-machine-default'}), WIN_REPO)
    const {req} = request(win, p, [version('4.9.5'), list(podmanFixture('podman4-wsl-machine-list-running.json')), imageOk])
    const result = await startMachine(req)
    expect(result.machine).toMatchObject({before: 'running', action: 'already-running'})
  })
})

describe('startMachine on macOS', () => {
  it('absent: the init also shares the state dir\'s --worktree clones folder, which start creates first (not under --dry-run)', async () => {
    const host = fakeHostFacts('macos', {homeDir: '/Users/dev', env: {HOME: '/Users/dev', SOURCEOSCTL_STATE_DIR: '/Users/dev/.sourceosctl-state'}})
    const created: string[] = []
    const {req, notes} = request(host, profile('macos', machineSpec(), MAC_REPO), [version('5.3.1'), list('[]')], {ensureDir: async (p) => void created.push(p)})
    const rec = (await failure(req)).details?.initCommand as InitRecommendation
    const clones = '/Users/dev/.sourceosctl-state/worktrees'
    expect(rec.text).toBe(`CONTAINERS_MACHINE_PROVIDER=applehv podman machine init --cpus 4 --memory 8192 --disk-size 64 --volume ${MAC_REPO}:${MAC_REPO} --volume ${clones}:${clones} sourceos-agent`)
    expect(created).toEqual([clones])
    expect(notes.some((n) => n.startsWith(`the last --volume shares ${clones}, the folder where run/shell --worktree put their clones`))).toBe(true)
    const dry = request(host, profile('macos', machineSpec(), MAC_REPO), [version('5.3.1'), list('[]')], {dryRun: true, ensureDir: async (p) => void created.push(`dry:${p}`)})
    await failure(dry.req)
    expect(created).toEqual([clones])
  })

  it('absent, default macOS state dir ("Application Support" has a space): shared from Podman 5.5; before, left out with a note saying how to get --worktree', async () => {
    const clones = '/Users/dev/Library/Application Support/sourceosctl/state/worktrees'
    const now = request(mac, profile('macos', machineSpec(), MAC_REPO), [version('5.5.0'), list('[]')])
    expect(((await failure(now.req)).details?.initCommand as InitRecommendation).volumes.map((v) => v.hostPath)).toEqual([MAC_REPO, clones])
    const old = request(mac, profile('macos', machineSpec(), MAC_REPO), [version('5.4.2'), list('[]')])
    const error = await failure(old.req)
    expect(error.code).toBe('MACHINE_ABSENT') // the repo itself is fine: only the clones folder is left out
    expect((error.details?.initCommand as InitRecommendation).volumes.map((v) => v.hostPath)).toEqual([MAC_REPO])
    expect(old.notes.some((n) => n.includes('Podman 5.4.2 cannot share such a folder (fixed in 5.5.0)') && n.includes('SOURCEOSCTL_STATE_DIR'))).toBe(true)
  })

  it('absent, Podman < 5.5, a repo path with a space → MACHINE_VOLUME_SPACES naming 5.5.0 instead of an init that would lose the share', async () => {
    const spaced = '/Users/dev/My Projects/app'
    const {req} = request(mac, profile('macos', machineSpec(), spaced), [version('5.4.2'), list('[]')])
    const error = await failure(req)
    expect(error).toMatchObject({code: 'MACHINE_VOLUME_SPACES', exitCode: ExitCode.PREREQUISITE, details: {paths: [spaced], minimumVersion: '5.5.0'}})
    expect(error.message).toMatch(/silently goes missing in the VM before Podman 5\.5\.0/)
    expect(error.fix).toMatch(/^upgrade Podman to 5\.5\.0 or newer/)
    // 5.5 prints the init, quoted
    const ok = request(mac, profile('macos', machineSpec(), spaced), [version('5.5.0'), list('[]')])
    const absent = await failure(ok.req)
    expect(absent.code).toBe('MACHINE_ABSENT')
    expect((absent.details?.initCommand as InitRecommendation).text).toContain(`--volume '${spaced}:${spaced}'`)
  })

  it('Hyper-V, absent, Podman 5.4 with a space in the repo path → the start would fail: MACHINE_VOLUME_SPACES', async () => {
    const {req} = request(win, profile('windows', machineSpec({provider: 'hyperv'}), 'C:\\Users\\dev\\My Repo'), [version('5.4.0'), list('[]')])
    const error = await failure(req)
    expect(error).toMatchObject({code: 'MACHINE_VOLUME_SPACES'})
    expect(error.message).toMatch(/makes the Hyper-V machine fail to start/)
  })

  it('libkrun on an Intel Mac → exit 2 before running podman', async () => {
    const {req, runner} = request(fakeHostFacts('macos', {arch: 'x64'}), profile('macos', machineSpec({provider: 'libkrun'}), MAC_REPO), [])
    expect(await failure(req)).toMatchObject({code: 'PROVIDER_UNSUPPORTED', exitCode: ExitCode.USAGE, message: expect.stringMatching(/supported here: applehv, qemu/)})
    expect(runner.calls).toEqual([])
  })

  it('a profile for another OS → exit 2', async () => {
    const {req} = request(mac, profile('windows', machineSpec({provider: 'wsl'}), WIN_REPO), [])
    expect(await failure(req)).toMatchObject({code: 'PROFILE_PLATFORM_MISMATCH', exitCode: ExitCode.USAGE})
  })

  it('a macOS profile without a machine → exit 2', async () => {
    const {req} = request(mac, profile('macos', undefined, MAC_REPO), [])
    expect(await failure(req)).toMatchObject({code: 'MACHINE_REQUIRED', exitCode: ExitCode.USAGE})
  })

  it('notes when podman lists machines of another provider (containers.conf may select it)', async () => {
    const {req, notes} = request(mac, profile('macos', machineSpec({name: 'mine'}), MAC_REPO), [version('5.3.1'), list(podmanFixture('podman5-libkrun-machine-list-stopped.json'))])
    expect((await failure(req)).code).toBe('MACHINE_ABSENT')
    expect(notes[0]).toMatch(/podman lists libkrun machines here, not applehv/)
  })

  it('waits for a starting machine with an injected clock, and gives up at the deadline (exit 4)', async () => {
    let t = 0
    const {req, runner} = request(mac, profile('macos', machineSpec({name: 'podman-machine-default'}), MAC_REPO), [version('5.3.1'), list(podmanFixture('podman5-machine-list-starting.json'))], {
      timeoutMs: 5000,
      now: () => t,
      sleep: async (ms) => void (t += ms),
    })
    const error = await failure(req)
    expect(error).toMatchObject({code: 'MACHINE_STUCK_STARTING', exitCode: ExitCode.PREREQUISITE})
    expect(error.fix).toContain('`CONTAINERS_MACHINE_PROVIDER=applehv podman machine stop podman-machine-default`')
    expect(runner.commandLines().filter((l) => l.startsWith('podman machine list'))).toHaveLength(6) // 1 look + 5 polls
    expect(runner.commandLines().some((l) => / (stop|rm|start) /.test(l))).toBe(false)
  })

  it('Running is not ready: a booting machine (Running and Starting both true) is waited out before the image check', async () => {
    let t = 0
    const {req, runner} = request(mac, profile('macos', machineSpec({name: 'podman-machine-default'}), MAC_REPO), [
      version('5.8.2'),
      {...list(podmanFixture('podman58-machine-list-booting.json')), times: 3},
      list(podmanFixture('podman5-machine-list-running.json')),
      imageOk,
    ], {now: () => t, sleep: async (ms) => void (t += ms)})
    const result = await startMachine(req)
    expect(result.machine).toMatchObject({before: 'starting', after: 'running', action: 'waited'})
    const lines = runner.commandLines()
    expect(lines.filter((l) => l.startsWith('podman machine list'))).toHaveLength(4) // 1 look + 2 booting polls + the ready one
    // the image is asked only after the list said running AND not starting
    expect(lines.findIndex((l) => l.startsWith('podman --connection podman-machine-default image inspect'))).toBeGreaterThan(lines.lastIndexOf('podman machine list --format json'))
  })

  it('a stuck Starting (podman#24416: a killed start leaves it set) → MACHINE_STUCK_STARTING with `machine stop` then `machine start`', async () => {
    let t = 0
    const {req, runner} = request(mac, profile('macos', machineSpec({name: 'podman-machine-default'}), MAC_REPO), [version('5.8.2'), list(podmanFixture('podman58-machine-list-booting.json'))], {
      timeoutMs: 3000,
      now: () => t,
      sleep: async (ms) => void (t += ms),
    })
    const error = await failure(req)
    expect(error).toMatchObject({code: 'MACHINE_STUCK_STARTING', exitCode: ExitCode.PREREQUISITE})
    expect(error.message).toMatch(/still reports Starting after 3 s.*podman#24416/)
    expect(error.fix).toBe('stop it, which clears the flag: `CONTAINERS_MACHINE_PROVIDER=applehv podman machine stop podman-machine-default`; then start it again: `CONTAINERS_MACHINE_PROVIDER=applehv podman machine start podman-machine-default` (or `sourceosctl agent-machine start`)')
    expect(runner.commandLines().some((l) => /image inspect| (stop|rm|start) /.test(l))).toBe(false)
  })

  it('a starting machine that stops instead → MACHINE_START_FAILED', async () => {
    const {req} = request(mac, profile('macos', machineSpec({name: 'podman-machine-default'}), MAC_REPO), [
      version('5.3.1'),
      {...list(podmanFixture('podman5-machine-list-starting.json')), times: 1},
      list(podmanFixture('podman5-machine-list-stopped.json')),
    ], {sleep: async () => {}})
    expect(await failure(req)).toMatchObject({code: 'MACHINE_START_FAILED'})
  })

  it('another failure of `machine start` → exit 4 with podman\'s line and how to look further', async () => {
    const {req} = request(mac, profile('macos', machineSpec({name: 'podman-machine-default'}), MAC_REPO), [
      version('5.3.1'),
      list(podmanFixture('podman5-machine-list-stopped.json')),
      {match: 'podman machine start', result: {exitCode: 125, stderr: 'Error: machine did not transition into running state: ssh error: EOF\n'}},
    ])
    const error = await failure(req)
    expect(error).toMatchObject({code: 'MACHINE_START_FAILED', exitCode: ExitCode.PREREQUISITE})
    expect(error.message).toMatch(/ssh error: EOF/)
  })

  it('--dry-run with the machine running and the image missing: plans the pull, runs nothing', async () => {
    const {req, runner} = request(mac, profile('macos', machineSpec({name: 'podman-machine-default'}), MAC_REPO, {ref: 'quay.io/example/agent:1', pull: 'missing'}), [
      version('5.3.1'),
      list(podmanFixture('podman5-machine-list-running.json')),
      {match: 'podman image inspect', result: {exitCode: 125, stdout: '[]\n', stderr: 'Error: quay.io/example/agent:1: image not known\n'}},
    ], {dryRun: true})
    const result = await startMachine(req)
    expect(result.plan.steps).toEqual([{argv: ['podman', '--connection', 'podman-machine-default', 'pull', '--', 'quay.io/example/agent:1'], why: expect.any(String), mutates: true}])
    expect(result.image.status).toBe('would-pull')
    expect(runner.commandLines().some((l) => l.startsWith('podman pull'))).toBe(false)
  })

  it('a localhost/ image cannot be pulled: start builds it from the shipped Containerfile, in the machine (its connection)', async () => {
    const {req, runner} = request(mac, profile('macos', machineSpec({name: 'podman-machine-default'}), MAC_REPO, {pull: 'missing'}), [
      version('5.3.1'),
      list(podmanFixture('podman5-machine-list-running.json')),
      {match: 'podman image inspect', result: {exitCode: 125, stdout: '[]\n', stderr: podmanFixture('podman431-image-inspect-missing.stderr.txt')}, times: 2},
      {match: (cmd, args) => cmd === 'podman' && args.includes('build'), result: {stdout: 'COMMIT localhost/sourceos/agent:latest\n'}},
      imageOk,
    ])
    req.imageDir = '/opt/sourceosctl/images/agent'
    const dry = await startMachine({...req, dryRun: true})
    expect(dry.plan.steps.map((s) => s.argv)).toEqual([['podman', '--connection', 'podman-machine-default', 'build', '--file', '/opt/sourceosctl/images/agent/Containerfile', '--tag', 'localhost/sourceos/agent:latest', '/opt/sourceosctl/images/agent']])
    expect(dry.image.status).toBe('would-build')
    expect(runner.commandLines().some((l) => l.includes(' build '))).toBe(false)
    const real = await startMachine(req)
    expect(real.image.status).toBe('built')
    expect(runner.commandLines()).toContain('podman --connection podman-machine-default build --file /opt/sourceosctl/images/agent/Containerfile --tag localhost/sourceos/agent:latest /opt/sourceosctl/images/agent')
  })

  it('a registry image that may not be pulled is never built locally: how to pull it', async () => {
    const {req, runner} = request(mac, profile('macos', machineSpec({name: 'podman-machine-default'}), MAC_REPO, {ref: 'quay.io/example/agent:1', pull: 'never'}), [
      version('5.3.1'),
      list(podmanFixture('podman5-machine-list-running.json')),
      {match: 'podman image inspect', result: {exitCode: 125, stdout: '[]\n', stderr: 'Error: quay.io/example/agent:1: image not known\n'}},
    ])
    const error = await failure(req)
    expect(error).toMatchObject({code: 'IMAGE_MISSING', details: {pullCommand: 'podman pull quay.io/example/agent:1'}})
    expect(error.fix).toContain('podman pull quay.io/example/agent:1')
    expect(runner.commandLines().some((l) => l.includes(' build '))).toBe(false)
  })

  it('warns when the local image does not match the profile\'s digest pin', async () => {
    const {req, notes} = request(mac, profile('macos', machineSpec({name: 'podman-machine-default'}), MAC_REPO, {digest: `sha256:${'0'.repeat(64)}`}), [
      version('5.3.1'), list(podmanFixture('podman5-machine-list-running.json')), imageOk,
    ])
    const result = await startMachine(req)
    expect(result.image.pinMatches).toBe(false)
    expect(notes.some((n) => /does not match the profile's pin/.test(n))).toBe(true)
  })

  it('notes when the machine is not Podman\'s default connection', async () => {
    const {req, notes} = request(mac, profile('macos', machineSpec({name: 'dev-vm'}), MAC_REPO), [
      version('5.3.1'), list(podmanFixture('podman5-machine-list-other-running.json')), imageOk,
    ])
    await startMachine(req)
    expect(notes.some((n) => n.includes('`podman system connection default dev-vm`'))).toBe(true)
  })
})

describe('startMachine: Podman outputs a machine can meet (issue 11, Deliver 4)', () => {
  const p = () => profile('macos', machineSpec(), MAC_REPO)

  it('4.9 → 5.0 "incompatible machine config" (list skips the machine, exit 0) → MACHINE_CONFIG_INCOMPATIBLE with the reset and the init', async () => {
    const {req} = request(mac, p(), [
      version('5.0.0'),
      {match: 'podman machine list', result: {stdout: podmanFixture('podman5-machine-list-none.json'), stderr: podmanFixture('podman50-machine-list-incompatible-config.stderr.txt')}},
    ])
    const error = await failure(req)
    expect(error).toMatchObject({code: 'MACHINE_CONFIG_INCOMPATIBLE', exitCode: ExitCode.PREREQUISITE, details: {configFile: '/Users/jdoe/.config/containers/podman/machine/applehv/sourceos-agent.json', resetCommand: 'CONTAINERS_MACHINE_PROVIDER=applehv podman machine reset'}})
    expect(error.message).toMatch(/created by Podman 4 .* Podman 5\.0\.0 cannot use it/)
    expect(error.fix).toContain('then create it again with `CONTAINERS_MACHINE_PROVIDER=applehv podman machine init ')
    expect((error.details?.initCommand as InitRecommendation).argv.at(-1)).toBe('sourceos-agent')
  })

  it('`machine list --all-providers` (5.3+) finds the machine under another provider → MACHINE_PROVIDER_MISMATCH (exit 2) naming it', async () => {
    const {req, runner} = request(mac, p(), [
      version('5.8.2'),
      {match: 'podman machine list --all-providers', result: {stdout: podmanFixture('podman58-machine-list-all-providers.json')}},
      list(podmanFixture('podman5-machine-list-none.json')),
    ])
    const error = await failure(req)
    expect(error).toMatchObject({code: 'MACHINE_PROVIDER_MISMATCH', exitCode: ExitCode.USAGE, details: {profileProvider: 'applehv', actualProvider: 'libkrun'}})
    expect(error.fix).toBe('set spec.machine.provider: libkrun in /p/profile.yaml (or give the applehv machine another name in spec.machine.name)')
    expect(runner.commandLines()).toContain('podman machine list --all-providers --format json')
    // before 5.3 there is no --all-providers: not asked
    const old = request(mac, p(), [version('5.2.5'), list('[]')])
    expect((await failure(old.req)).code).toBe('MACHINE_ABSENT')
    expect(old.runner.commandLines().some((l) => l.includes('--all-providers'))).toBe(false)
  })

  it('a connection of the same name already exists (init would fail: podman58-machine-init-connection-exists) → the fix removes it first', async () => {
    const initError = podmanFixture('podman58-machine-init-connection-exists.stderr.txt')
    const {req, notes} = request(mac, p(), [
      version('5.8.2'),
      list('[]'),
      {match: 'podman system connection list', result: {stdout: JSON.stringify([{Name: 'sourceos-agent', URI: 'ssh://core@127.0.0.1:53298/run/user/501/podman/podman.sock', Identity: '/Users/dev/.local/share/containers/podman/machine/machine', IsMachine: true, Default: false, ReadWrite: true}])}},
    ])
    const error = await failure(req)
    expect(error).toMatchObject({code: 'MACHINE_ABSENT', details: {staleConnections: ['sourceos-agent'], removeCommands: ['podman system connection rm sourceos-agent']}})
    expect(error.fix).toMatch(/^remove the leftover connection first \(`podman system connection rm sourceos-agent`\), then create it with `CONTAINERS_MACHINE_PROVIDER=applehv podman machine init /)
    // the same command podman's own error points to
    expect(initError).toContain('remove the connection with `podman system connection rm`')
    expect(notes.some((n) => n.includes('refuses to reuse the name'))).toBe(true)
  })

  it('start with a deleted --volume source ("vfkit exited unexpectedly") → MACHINE_VOLUME_MISSING naming the folder, with mkdir or recreate', async () => {
    const gone = '/Users/dev/dev/gone'
    const inspect = JSON.parse(podmanFixture('podman5-machine-inspect-stopped.json')) as Array<{Name: string; ConfigDir: {Path: string}}>
    const config = JSON.parse(podmanFixture('podman5-machine-config-applehv-narrow.json')) as {Mounts: Array<{Source: string; Target: string}>}
    config.Mounts = [MAC_REPO, gone].map((d) => ({...config.Mounts[0]!, Source: d, Target: d}))
    const {req} = request(mac, profile('macos', machineSpec({name: 'podman-machine-default'}), MAC_REPO), [
      version('5.8.2'),
      list(podmanFixture('podman5-machine-list-stopped.json')),
      {match: 'podman machine start', result: {exitCode: 125, stdout: podmanFixture('podman58-machine-start-volume-missing.stdout.txt'), stderr: podmanFixture('podman58-machine-start-volume-missing.stderr.txt')}},
      {match: 'podman machine inspect', result: {stdout: JSON.stringify(inspect)}},
    ], {readFile: async () => JSON.stringify(config)})
    const error = await failure(req)
    expect(error).toMatchObject({code: 'MACHINE_VOLUME_MISSING', exitCode: ExitCode.PREREQUISITE, details: {missing: [gone], mkdirCommand: `mkdir -p ${gone}`}})
    expect(error.message).toMatch(/vfkit exited unexpectedly with exit code 1.*shares "\/Users\/dev\/dev\/gone", which no longer exists/)
    expect(error.fix).toContain('`CONTAINERS_MACHINE_PROVIDER=applehv podman machine rm podman-machine-default`')
  })
})

describe('startMachine on native Linux', () => {
  const linux = fakeHostFacts('linux')
  it('podman missing → PODMAN_MISSING (exit 4); no answer → PODMAN_UNAVAILABLE with the fix', async () => {
    const none = request(linux, profile('linux', undefined, '/home/dev/dev/app'), [])
    none.req.runner = fakeRunner([], {unmatched: 'not-found'})
    expect(await failure(none.req)).toMatchObject({code: 'PODMAN_MISSING', exitCode: ExitCode.PREREQUISITE})
    const down = request(linux, profile('linux', undefined, '/home/dev/dev/app'), [
      {match: 'podman --version', result: {stdout: podmanFixture('podman431-version.txt')}},
      {match: 'podman info', result: {exitCode: 125, stderr: podmanFixture('podman431-remote-connection-failed.stderr.txt')}},
    ])
    expect(await failure(down.req)).toMatchObject({code: 'PODMAN_UNAVAILABLE', exitCode: ExitCode.PREREQUISITE})
  })

  it('a remote Podman host (spec.connection) → REMOTE_NOTHING_TO_START (exit 2), and podman is not asked', async () => {
    const {req} = request(linux, {...profile('linux', undefined, '/srv/work/app'), spec: {...profile('linux', undefined, '/srv/work/app').spec, connection: 'build-server'}}, [])
    req.runner = fakeRunner([], {unmatched: 'throw'})
    const error = await failure(req)
    expect(error).toMatchObject({code: 'REMOTE_NOTHING_TO_START', exitCode: ExitCode.USAGE})
    expect(error.fix).toContain('podman --connection build-server build')
  })

  it('--machine on a native profile → exit 2', async () => {
    const {req} = request(linux, profile('linux', undefined, '/home/dev/dev/app'), [], {machineFlag: 'sourceos-agent'})
    expect(await failure(req)).toMatchObject({code: 'MACHINE_NOT_IN_PROFILE', exitCode: ExitCode.USAGE})
  })
})
