// Persistent tool state: the volumes a profile plans, their create flags, and the launch
// verification accepting exactly the planned volume (inspect and the container's mount table),
// over the real podman 4.3.1 captures with a volume added as podman shows one.
import {describe, expect, it} from 'vitest'

import {buildCreateArgv, type ContainerSpec, type LaunchMount} from '../../../src/core/launch/container-spec.js'
import {checkContainerView, type ContainerViewRaw, type ViewContext} from '../../../src/core/launch/container-view.js'
import {checkEffectiveConfig, type EffectivePlan} from '../../../src/core/launch/verify-mounts.js'
import {buildEffectivePolicy} from '../../../src/core/policy/hash.js'
import {AgentMachineProfileSchema, type AgentMachineProfile} from '../../../src/core/profile/schema.js'
import {listStateVolumes, toolStateVolumes, volumeArg} from '../../../src/core/secrets/tool-state.js'
import {fakeRunner} from '../../helpers/fake-runner.js'
import {podmanFixture} from '../../helpers/fixtures.js'

function profile(toolState?: 'tmpfs' | 'volume'): AgentMachineProfile {
  return AgentMachineProfileSchema.parse({
    apiVersion: 'sourceos.dev/v1alpha1',
    kind: 'AgentMachineProfile',
    metadata: {name: 'team'},
    spec: {
      platform: 'linux',
      image: {ref: 'localhost/sourceos/agent:latest', digest: null, pull: 'never'},
      mounts: [],
      tools: {'claude-code': {enabled: true, command: ['claude']}, codex: {enabled: true, command: ['codex']}},
      env: {passthrough: [], set: {}},
      network: {mode: 'none', allow: []},
      resources: {cpus: 2, memory: '4g', pidsLimit: 1024},
      secrets: {door: 'none', ...(toolState ? {toolState} : {})},
    },
  })
}

const CLAUDE = {name: 'sourceos-state-team-claude-code', target: '/home/agent/.claude'}

describe('planned tool-state volumes', () => {
  it('none by default or with tmpfs; one per enabled tool with volume, pointing the tool at it', () => {
    expect(toolStateVolumes(profile(), ['claude-code', 'codex'])).toEqual([])
    expect(toolStateVolumes(profile('tmpfs'), ['claude-code', 'codex'])).toEqual([])
    expect(toolStateVolumes(profile('volume'), ['codex', 'claude-code'])).toEqual([
      {tool: 'claude-code', ...CLAUDE, env: [['CLAUDE_CONFIG_DIR', '/home/agent/.claude']]},
      {tool: 'codex', name: 'sourceos-state-team-codex', target: '/home/agent/.codex', env: [['CODEX_HOME', '/home/agent/.codex']]},
    ])
  })

  it('the create flag: that named volume at that target, owned by the agent, nosuid and nodev', () => {
    expect(volumeArg(CLAUDE)).toBe('--volume=sourceos-state-team-claude-code:/home/agent/.claude:U,nosuid,nodev')
    const spec = {runId: 'r1', verb: 'shell', tool: null, profileName: 'team', policyHash: 'h', image: 'img', mounts: [], volumes: toolStateVolumes(profile('volume'), ['claude-code']), workdir: '/workspace', env: [], network: 'none', resources: {cpus: 1, memory: '1g', pidsLimit: 64}, rootless: true, interactive: true, tty: false, command: ['sh'], verification: 'proc-root-inode'} as ContainerSpec
    const argv = buildCreateArgv(spec, {binary: 'podman', connection: null})
    expect(argv).toContain(volumeArg(CLAUDE))
    // the home tmpfs stays: the volume sits on it
    expect(argv).toContain('--tmpfs=/home/agent:rw,nosuid,nodev,mode=1777')
  })

  it('the policy (and so the evidence) names the volumes, and only with toolState volume (older hashes unchanged)', () => {
    expect(buildEffectivePolicy(profile(), [], {rootless: true}).secrets).toEqual({door: 'none'})
    expect(buildEffectivePolicy(profile('volume'), [], {rootless: true}).secrets).toEqual({door: 'none', toolState: 'volume', volumes: ['sourceos-state-team-claude-code', 'sourceos-state-team-codex']})
  })

  it('lists only the CLI\'s state volumes, of one profile when asked', async () => {
    const runner = fakeRunner([{match: 'podman volume ls', result: {stdout: 'other\nsourceos-state-team-codex\nsourceos-state-x-codex\nsourceos-state-team-claude-code\n'}}])
    expect(await listStateVolumes(runner, {binary: 'podman', connection: null}, 'team')).toEqual(['sourceos-state-team-claude-code', 'sourceos-state-team-codex'])
    expect(await listStateVolumes(runner, {binary: 'podman', connection: null})).toHaveLength(3)
  })
})

type InspectEntry = {Mounts: Array<Record<string, unknown>>}
const REPO = '/tmp/sourceosctl-fixture/repo'
const MOUNTS: LaunchMount[] = [
  {hostSource: REPO, podmanSource: REPO, target: '/workspace/repo', mode: 'rw'},
  {hostSource: `${REPO}/.git/hooks`, podmanSource: `${REPO}/.git/hooks`, target: '/workspace/repo/.git/hooks', mode: 'ro', role: 'git'},
]
const effectivePlan = (over: Partial<EffectivePlan> = {}): EffectivePlan => ({mounts: MOUNTS, tmpfs: ['/home/agent'], env: [['EDITOR', 'vi'], ['HOME', '/home/agent']], imageEnv: ['PATH=/usr/local/bin:/usr/bin:/bin'], network: 'none', userns: null, ...over})
function inspectWith(mount: Record<string, unknown> | null): string {
  const parsed = JSON.parse(podmanFixture('podman431-container-inspect-initialized-rootful.json')) as InspectEntry[]
  if (mount) parsed[0]!.Mounts.push(mount)
  return JSON.stringify(parsed)
}
const VOLUME_MOUNT = {Type: 'volume', Name: CLAUDE.name, Source: `/var/lib/containers/storage/volumes/${CLAUDE.name}/_data`, Destination: CLAUDE.target, Driver: 'local', Mode: '', Options: ['nosuid', 'nodev', 'rbind'], RW: true, Propagation: 'rprivate'}

describe('verification of a planned volume: inspect', () => {
  it('accepts the planned volume at its target', () => {
    expect(checkEffectiveConfig(inspectWith(VOLUME_MOUNT), effectivePlan({volumes: [CLAUDE]})).problems).toEqual([])
  })

  it('refuses a volume that was not planned, another volume at the target, a bind there, or a planned one missing', () => {
    const msgs = (insp: string, p: EffectivePlan) => checkEffectiveConfig(insp, p).problems.map((x) => x.message).join('\n')
    expect(msgs(inspectWith(VOLUME_MOUNT), effectivePlan())).toMatch(/unexpected volume mount at \/home\/agent\/\.claude/)
    expect(msgs(inspectWith({...VOLUME_MOUNT, Name: 'someone-elses'}), effectivePlan({volumes: [CLAUDE]}))).toMatch(/planned the volume sourceos-state-team-claude-code/)
    expect(msgs(inspectWith({...VOLUME_MOUNT, Type: 'bind', Name: '', Source: '/home/me/.claude'}), effectivePlan({volumes: [CLAUDE]}))).toMatch(/is a bind mount of \/home\/me\/\.claude, planned the volume/)
    expect(msgs(inspectWith(null), effectivePlan({volumes: [CLAUDE]}))).toMatch(/planned mount \/home\/agent\/\.claude is missing/)
  })
})

describe('verification of a planned volume: the container\'s mount table', () => {
  const ids = (JSON.parse(podmanFixture('podman431-container-inspect-initialized-rootful.json')) as Array<{Id: string}>)[0]!
  const PINS = {repo: {dev: '65024', ino: '2154674'}, hooks: {dev: '65024', ino: '2214388'}}
  const dir = (path: string, dev = '65024', ino = '1000') => ({path, kind: 'directory' as const, dev, ino})
  const ctx = (over: Partial<ViewContext> = {}): ViewContext => ({
    planned: [
      {target: '/workspace/repo', hostSource: REPO, mode: 'rw', pin: PINS.repo},
      {target: '/workspace/repo/.git/hooks', hostSource: `${REPO}/.git/hooks`, mode: 'ro', pin: PINS.hooks},
    ],
    tmpfs: ['/home/agent'],
    containerId: ids.Id,
    runtime: 'runc',
    readOnlyRoot: true,
    userns: null,
    ...over,
  })
  function raw(extraLine: string | null): ContainerViewRaw {
    const base = podmanFixture('podman431-container-mountinfo-rootful.txt')
    const mountinfo = extraLine ? `${base.trimEnd()}\n${extraLine}\n` : base
    return {
      pid: 4242,
      via: 'direct',
      mountinfo,
      mountinfoAfter: mountinfo,
      status: podmanFixture('podman431-container-status-initialized-rootful.txt'),
      uidMap: '         0          0 4294967295\n',
      gidMap: '         0          0 4294967295\n',
      walks: [
        {target: '/workspace/repo', steps: [dir('/workspace', '99', '7'), dir('/workspace/repo', PINS.repo.dev, PINS.repo.ino)]},
        {target: '/workspace/repo/.git/hooks', steps: [dir('/workspace', '99', '7'), dir('/workspace/repo', PINS.repo.dev, PINS.repo.ino), dir('/workspace/repo/.git'), dir('/workspace/repo/.git/hooks', PINS.hooks.dev, PINS.hooks.ino)]},
      ],
      secrets: null,
      hostMountinfo: podmanFixture('podman431-host-mountinfo-rootful.txt'),
      ociConfig: podmanFixture('podman431-container-oci-config-rootful.json'),
    }
  }
  const line = (root: string) => `140 111 254:0 ${root} /home/agent/.claude rw,nosuid,nodev,relatime - ext4 /dev/vda rw`
  const msgs = (r: ContainerViewRaw, c: ViewContext) => checkContainerView(r, c).map((p) => p.message).join('\n')

  it('accepts the planned volume\'s _data folder at its target (rootful and rootless storage paths)', () => {
    expect(msgs(raw(line(`/var/lib/containers/storage/volumes/${CLAUDE.name}/_data`)), ctx({volumes: [CLAUDE]}))).toBe('')
    expect(msgs(raw(line(`/home/u/.local/share/containers/storage/volumes/${CLAUDE.name}/_data`)), ctx({volumes: [CLAUDE]}))).toBe('')
  })

  it('refuses another folder there (the host\'s ~/.claude), an unplanned volume, or a planned one missing', () => {
    expect(msgs(raw(line('/home/u/.claude')), ctx({volumes: [CLAUDE]}))).toMatch(/shows \/home\/u\/\.claude, not the planned volume/)
    expect(msgs(raw(line(`/var/lib/containers/storage/volumes/${CLAUDE.name}/_data`)), ctx())).toMatch(/unplanned mount at \/home\/agent\/\.claude/)
    expect(msgs(raw(null), ctx({volumes: [CLAUDE]}))).toMatch(/planned mount \/home\/agent\/\.claude is missing/)
  })
})
