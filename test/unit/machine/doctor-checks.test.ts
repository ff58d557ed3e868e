import {mkdirSync, realpathSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {runDoctor} from '../../../src/core/doctor/run-doctor.js'
import {machineExposureCheck, machineSharesCheck, type SharesProbe} from '../../../src/core/machine/doctor-checks.js'
import type {SharesInfo} from '../../../src/core/machine/shares.js'
import type {Timed} from '../../../src/core/util/timeout.js'
import {fakeRunner} from '../../helpers/fake-runner.js'
import {podmanFixture} from '../../helpers/fixtures.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'
import {macosRoutes} from '../../helpers/podman-scenarios.js'
import {machineSpec} from './helpers.js'
import {tempDir} from '../../helpers/temp-dirs.js'

const mac = fakeHostFacts('macos', {homeDir: '/Users/jdoe', env: {HOME: '/Users/jdoe'}})
const win = fakeHostFacts('windows', {homeDir: 'C:\\Users\\jdoe', env: {USERPROFILE: 'C:\\Users\\jdoe'}})
const REPO = '/Users/jdoe/dev/app'

function probe(shares: SharesInfo, over: Partial<SharesProbe> = {}): Timed<SharesProbe> {
  return {
    status: 'done',
    durationMs: 3,
    value: {
      name: 'podman-machine-default', provider: 'applehv', machine: machineSpec({name: 'podman-machine-default'}), podmanVersion: '5.3.1', shares,
      roots: {roots: [{hostPath: REPO, vmPath: REPO, reason: 'mount', targets: ['/workspace/app']}], warnings: []}, rootsError: null, skipped: null, ...over,
    },
  }
}
const known = (file: string): SharesInfo => {
  const parsed = JSON.parse(podmanFixture(file)) as {Mounts: Array<{Source: string; Target: string}> | null}
  return {status: 'known', configFile: '/x.json', shares: (parsed.Mounts ?? []).map((m) => ({source: m.Source, target: m.Target, readOnly: false}))}
}

describe('doctor: machine-shares and machine-exposure', () => {
  it('Podman < 5.5: a share whose path has a space is not mounted (podman#25500) → fail with the version needed; 5.5 → ok', () => {
    const spaced = '/Users/jdoe/My Projects/app'
    const shares: SharesInfo = {status: 'known', configFile: '/x.json', shares: [{source: spaced, target: spaced, readOnly: false}]}
    const roots = {roots: [{hostPath: spaced, vmPath: spaced, reason: 'mount' as const, targets: ['/workspace/app']}], warnings: []}
    const old = machineSharesCheck(probe(shares, {podmanVersion: '5.4.2', roots}), mac)
    expect(old).toMatchObject({status: 'fail', required: true})
    expect(old.detail).toMatch(/Podman 5\.4\.2 does not mount a machine volume whose path has a space \(fixed in 5\.5\.0\)/)
    expect(old.fix).toMatch(/^upgrade Podman to 5\.5\.0 or newer .*or move the repo to a path without spaces/)
    expect(machineSharesCheck(probe(shares, {podmanVersion: '5.5.0', roots}), mac).status).toBe('ok')
  })

  it('Podman\'s macOS defaults: the repo is covered, but /Users, /private and /var/folders are exposed (warn, with the narrowing command)', () => {
    const p = probe(known('podman5-machine-config-applehv-default.json'))
    expect(machineSharesCheck(p, mac)).toMatchObject({id: 'machine-shares', status: 'ok', required: true})
    const exposure = machineExposureCheck(p, mac)
    expect(exposure).toMatchObject({id: 'machine-exposure', status: 'warn', required: false})
    expect(exposure.detail).toMatch(/shares \/Users \(\/Users is the broad root/)
    expect(exposure.fix).toBe(
      'narrow it to the allowlisted folders: recreate the machine (this deletes its disk and images, not your files): `CONTAINERS_MACHINE_PROVIDER=applehv podman machine rm podman-machine-default`, then `CONTAINERS_MACHINE_PROVIDER=applehv podman machine init --cpus 4 --memory 8192 --disk-size 64 --volume /Users/jdoe/dev/app:/Users/jdoe/dev/app podman-machine-default`',
    )
  })

  it('a narrowed machine passes both', () => {
    const p = probe(known('podman5-machine-config-applehv-narrow.json'))
    expect(machineSharesCheck(p, mac).status).toBe('ok')
    expect(machineExposureCheck(p, mac)).toMatchObject({status: 'ok', detail: 'machine podman-machine-default shares only /Users/jdoe/dev/app'})
  })

  it('a repo the machine does not share fails (run could not mount it), with the recreate command', () => {
    const p = probe(known('podman5-machine-config-applehv-narrow.json'), {
      roots: {roots: [{hostPath: '/Volumes/data/repo', vmPath: '/Volumes/data/repo', reason: 'mount', targets: ['/workspace/repo']}], warnings: []},
    })
    const c = machineSharesCheck(p, mac)
    expect(c).toMatchObject({status: 'fail', required: true})
    expect(c.detail).toMatch(/does not share \/Volumes\/data\/repo/)
    expect(c.fix).toContain('--volume /Volumes/data/repo:/Volumes/data/repo')
  })

  it('unknown shares degrade to a warning that says why', () => {
    const p = probe({status: 'unknown', reason: 'cannot read the machine config /x.json (EACCES)'})
    expect(machineSharesCheck(p, mac)).toMatchObject({status: 'warn', required: false, detail: expect.stringMatching(/EACCES/)})
    expect(machineExposureCheck(p, mac).status).toBe('warn')
    expect(machineSharesCheck({status: 'timeout', durationMs: 10}, mac).status).toBe('warn')
    expect(machineSharesCheck({status: 'error', error: new Error('boom'), durationMs: 1}, mac)).toMatchObject({status: 'warn', detail: expect.stringMatching(/boom/)})
  })

  it('WSL: covered (every drive), but exposed, pointing at a Hyper-V machine', () => {
    const p = probe({status: 'all-drives'}, {
      provider: 'wsl', machine: machineSpec({name: 'podman-machine-default', provider: 'wsl'}),
      roots: {roots: [{hostPath: 'C:\\Users\\jdoe\\dev\\app', vmPath: '/mnt/c/Users/jdoe/dev/app', reason: 'mount', targets: ['/workspace/app']}], warnings: []},
    })
    expect(machineSharesCheck(p, win)).toMatchObject({status: 'ok'})
    const exposure = machineExposureCheck(p, win)
    expect(exposure.status).toBe('warn')
    expect(exposure.fix).toContain("$env:CONTAINERS_MACHINE_PROVIDER = 'hyperv'; podman machine init --cpus 4 --memory 8192 --disk-size 64 --volume C:\\Users\\jdoe\\dev\\app:/mnt/c/Users/jdoe/dev/app podman-machine-default")
  })

  it('skips native Linux, an absent machine, root, and a profile without mounts', () => {
    expect(machineSharesCheck(null, mac).status).toBe('skip')
    expect(machineExposureCheck(probe({status: 'absent'}), mac).status).toBe('skip')
    expect(machineSharesCheck(probe({status: 'unknown', reason: 'x'}, {skipped: 'podman machine does not run as root'}), mac).status).toBe('skip')
    expect(machineSharesCheck(probe(known('podman5-machine-config-applehv-default.json'), {roots: null}), mac).status).toBe('skip')
  })
})

describe('runDoctor with the machine-share checks (fake podman answers, real config file)', () => {
  it('reads the shares from <ConfigDir>/<name>.json and reports both checks', async () => {
    const home = realpathSync(tempDir('doctor-shares-'))
    const repo = join(home, 'dev', 'app')
    mkdirSync(repo, {recursive: true})
    const configDir = join(home, 'machine', 'applehv')
    mkdirSync(configDir, {recursive: true})
    // The machine shares the repo's parent only: covered, not exposed.
    writeFileSync(join(configDir, 'sourceos-agent.json'), JSON.stringify({Name: 'sourceos-agent', Mounts: [{Source: join(home, 'dev'), Target: join(home, 'dev'), ReadOnly: false, Tag: 't', Type: 'virtiofs', OriginalInput: '', VSockNumber: null}]}))
    const profile = join(home, 'profile.yaml')
    writeFileSync(profile, `apiVersion: sourceos.dev/v1alpha1
kind: AgentMachineProfile
metadata: {name: t}
spec:
  platform: macos
  machine: {name: sourceos-agent, provider: applehv, cpus: 4, memoryMiB: 8192, diskGiB: 64, rootful: false}
  image: {ref: localhost/sourceos/agent:latest, digest: null, pull: never}
  mounts:
    - {source: ${repo}, target: /workspace/app, mode: rw}
  tools: {}
  env: {passthrough: [], set: {}}
  network: {mode: default}
  resources: {cpus: 2, memory: 4g, pidsLimit: 1024}
  secrets: {door: none}
`)
    const inspect = JSON.parse(podmanFixture('podman5-machine-inspect-stopped.json')) as Array<Record<string, unknown>>
    const runner = fakeRunner([
      {match: 'podman machine inspect', result: {stdout: JSON.stringify([{...inspect[0], Name: 'sourceos-agent', ConfigDir: {Path: configDir}}])}},
      ...macosRoutes('running'),
    ])
    const host = fakeHostFacts('macos', {homeDir: home, env: {HOME: home, SOURCEOSCTL_PROFILE: profile, SOURCEOSCTL_STATE_DIR: join(home, 'state')}})
    const report = await runDoctor({runner, host, cwd: home, timeoutMs: 5000})
    // the repos are covered, but not the state dir's worktrees folder: only --worktree would fail → warn
    const shares = report.checks.find((c) => c.id === 'machine-shares')
    expect(shares).toMatchObject({status: 'warn', required: false})
    expect(shares?.detail).toContain(`but not ${join(home, 'state', 'worktrees')}, where run/shell --worktree put their clones`)
    expect(shares?.fix).toContain(`--volume ${join(home, 'state', 'worktrees')}:${join(home, 'state', 'worktrees')} sourceos-agent`)
    expect(report.checks.find((c) => c.id === 'machine-exposure')).toMatchObject({status: 'ok'})
    expect(runner.commandLines()).toContain('podman machine inspect -- sourceos-agent')

    // a machine created with the printed init (which shares the clones folder too): ok, and not "exposed"
    const clones = join(home, 'state', 'worktrees')
    writeFileSync(join(configDir, 'sourceos-agent.json'), JSON.stringify({Name: 'sourceos-agent', Mounts: [join(home, 'dev'), clones].map((p) => ({Source: p, Target: p, ReadOnly: false, Tag: 't', Type: 'virtiofs', OriginalInput: '', VSockNumber: null}))}))
    const again = await runDoctor({runner, host, cwd: home, timeoutMs: 5000})
    expect(again.checks.find((c) => c.id === 'machine-shares')).toMatchObject({status: 'ok', detail: expect.stringMatching(/and the --worktree clones folder$/)})
    expect(again.checks.find((c) => c.id === 'machine-exposure')).toMatchObject({status: 'ok'})
  })
})
