// The create/start argv for each variant of a launch that container-spec.test.ts leaves out: a
// piped (non-interactive) session, a shell, each network mode, the rootless user and the link-local
// guard's user namespace, rootful with and without an owner, and the tool-state volumes. Each flag
// is checked where it must be and where it must not.
import {describe, expect, it} from 'vitest'

import {
  AGENT_PASSWD_ENTRY,
  buildCreateArgv,
  buildInspectArgv,
  buildStartArgv,
  containerName,
  hardeningArgs,
  plannedUserNamespace,
  type ContainerSpec,
} from '../../../src/core/launch/container-spec.js'
import type {EgressSetup} from '../../../src/core/network/sidecar.js'

const NATIVE = {binary: 'podman', connection: null}

const spec = (over: Partial<ContainerSpec> = {}): ContainerSpec => ({
  runId: 'run-0001',
  verb: 'run',
  tool: 'codex',
  profileName: 'p',
  policyHash: `sha256:${'a'.repeat(64)}`,
  image: 'f'.repeat(64),
  mounts: [{hostSource: '/home/dev/app', podmanSource: '/home/dev/app', target: '/workspace/app', mode: 'rw'}],
  workdir: '/workspace/app',
  env: [],
  network: 'none',
  resources: {cpus: 2, memory: '4g', pidsLimit: 1024},
  rootless: true,
  interactive: true,
  tty: false,
  command: ['codex'],
  verification: 'proc-root-inode',
  ...over,
})

const labels = (argv: string[]) => Object.fromEntries(argv.filter((a) => a.startsWith('--label=')).map((a) => a.slice('--label=dev.sourceos.agent-machine.'.length).split(/=(.*)/s).slice(0, 2)))
const networkFlags = (argv: string[]) => argv.filter((a) => a.startsWith('--network') || a.startsWith('--dns'))
const userFlags = (argv: string[]) => argv.filter((a) => /^--(userns|user|uidmap|gidmap|passwd-entry)=/.test(a))

describe('container labels', () => {
  it('name the run, verb, tool, profile, policy, network and workdir; a shell is labelled tool=shell', () => {
    expect(labels(buildCreateArgv(spec(), NATIVE))).toEqual({
      'run-id': 'run-0001',
      verb: 'run',
      tool: 'codex',
      profile: 'p',
      'policy-hash': `sha256:${'a'.repeat(64)}`,
      network: 'none',
      workdir: '/workspace/app',
    })
    expect(labels(buildCreateArgv(spec({verb: 'shell', tool: null, network: 'open', workdir: '/workspace'}), NATIVE))).toMatchObject({verb: 'shell', tool: 'shell', network: 'open', workdir: '/workspace'})
  })
})

describe('the container’s own name', () => {
  it('inspect asks for that container as JSON, through the profile’s connection', () => {
    expect(buildInspectArgv(spec(), NATIVE)).toEqual(['podman', 'container', 'inspect', '--format', 'json', 'sourceos-agent-run-0001'])
    expect(buildInspectArgv(spec(), {binary: 'podman', connection: 'm'})).toEqual(['podman', '--connection', 'm', 'container', 'inspect', '--format', 'json', 'sourceos-agent-run-0001'])
  })
})

describe('stdin and terminal', () => {
  it('a piped session keeps no stdin open and gets no TTY, on create and on start', () => {
    const piped = spec({interactive: false, tty: false})
    expect(buildCreateArgv(piped, NATIVE)).not.toContain('--interactive')
    expect(buildCreateArgv(piped, NATIVE)).not.toContain('--tty')
    expect(buildStartArgv(piped, NATIVE)).toEqual(['podman', 'start', '--attach', containerName('run-0001')])
  })

  it('an interactive session keeps stdin open on create and start; a TTY only when asked', () => {
    expect(buildCreateArgv(spec({interactive: true, tty: false}), NATIVE)).toContain('--interactive')
    expect(buildCreateArgv(spec({interactive: true, tty: false}), NATIVE)).not.toContain('--tty')
    expect(buildCreateArgv(spec({interactive: true, tty: true}), NATIVE)).toEqual(expect.arrayContaining(['--interactive', '--tty']))
    expect(buildStartArgv(spec({interactive: true}), NATIVE)).toEqual(['podman', 'start', '--attach', '--interactive', containerName('run-0001')])
  })

  it('the image and the command come last, after the workdir', () => {
    const argv = buildCreateArgv(spec({command: ['codex', 'exec', '--x']}), NATIVE)
    expect(argv.slice(-6)).toEqual(['--workdir=/workspace/app', '--interactive', 'f'.repeat(64), 'codex', 'exec', '--x'])
  })
})

describe('the argv’s shape', () => {
  it('before the image there are only flags, in every variant (a stray word there would be taken for the image)', () => {
    const variants: Array<Partial<ContainerSpec>> = [
      {},
      {interactive: false},
      {network: 'open'},
      {network: 'open', guard: {name: 'g1'}},
      {rootlessUser: {uid: 1, gid: 1}},
      {rootless: false},
      {rootless: false, hostOwner: {uid: 5, gid: 6}, tty: true},
    ]
    for (const v of variants) {
      const argv = buildCreateArgv(spec(v), NATIVE)
      const image = argv.indexOf('f'.repeat(64))
      expect(argv.slice(2, image).filter((a) => !a.startsWith('--')), JSON.stringify(v)).toEqual([])
    }
    expect(hardeningArgs(true).filter((a) => !a.startsWith('--'))).toEqual([])
  })
})

describe('network', () => {
  const egress = (over: Partial<EgressSetup> = {}) => ({network: 'sourceos-egress-run-0001', ...over}) as EgressSetup

  it('none: --network=none only', () => {
    expect(networkFlags(buildCreateArgv(spec({network: 'none'}), NATIVE))).toEqual(['--network=none'])
  })

  it('open without the guard: podman’s default network (no flag); with the guard: the guard’s namespace', () => {
    expect(networkFlags(buildCreateArgv(spec({network: 'open'}), NATIVE))).toEqual([])
    expect(networkFlags(buildCreateArgv(spec({network: 'open', guard: {name: 'sourceos-guard-run-0001'}}), NATIVE))).toEqual(['--network=container:sourceos-guard-run-0001'])
  })

  it('allowlist: only the run’s internal network and no DNS; without its egress setup it is refused, not opened', () => {
    expect(networkFlags(buildCreateArgv(spec({network: 'allowlist', egress: egress()}), NATIVE))).toEqual(['--network=sourceos-egress-run-0001', '--dns=none'])
    expect(() => buildCreateArgv(spec({network: 'allowlist'}), NATIVE)).toThrow(/allowlist without its egress setup/)
  })
})

describe('user namespace and user', () => {
  it('rootless: keep-id; with the invoking user, that uid:gid and the agent passwd entry', () => {
    expect(userFlags(buildCreateArgv(spec(), NATIVE))).toEqual(['--userns=keep-id'])
    expect(userFlags(buildCreateArgv(spec({rootlessUser: {uid: 1001, gid: 1002}}), NATIVE))).toEqual(['--userns=keep-id', '--user=1001:1002', AGENT_PASSWD_ENTRY])
    expect(AGENT_PASSWD_ENTRY).toBe('--passwd-entry=agent:*:$UID:$GID:sourceosctl agent:/home/agent:/bin/sh')
  })

  it('rootless behind the link-local guard: the guard’s user namespace (which owns its network namespace)', () => {
    expect(userFlags(buildCreateArgv(spec({network: 'open', guard: {name: 'g1'}}), NATIVE))).toEqual(['--userns=container:g1'])
  })

  it('rootful: never keep-id nor the guard’s namespace; the explicit maps for the owner (root when none) and the agent user', () => {
    const withOwner = userFlags(buildCreateArgv(spec({rootless: false, hostOwner: {uid: 1001, gid: 1002}, network: 'open', guard: {name: 'g1'}}), NATIVE))
    expect(withOwner.some((a) => a.startsWith('--userns'))).toBe(false)
    expect(withOwner).toEqual(['--uidmap=0:1002:1000', '--uidmap=1000:1001:1', '--gidmap=0:1003:1000', '--gidmap=1000:1002:1', '--user=1000:1000'])
    expect(hardeningArgs(false)).toEqual(hardeningArgs(false, {uid: 0, gid: 0}))
    expect(userFlags(hardeningArgs(false))).toEqual(['--uidmap=0:1:1000', '--uidmap=1000:0:1', '--gidmap=0:1:1000', '--gidmap=1000:0:1', '--user=1000:1000'])
  })

  it('the planned user namespace: rootless without a known uid is none to check', () => {
    expect(plannedUserNamespace({rootless: true}, null)).toBeNull()
  })
})

describe('tool-state volumes', () => {
  it('each planned volume is mounted by name, owned by the agent, nosuid and nodev; none without', () => {
    const argv = buildCreateArgv(spec({volumes: [{tool: 'claude-code', name: 'sourceos-state-p-claude-code', target: '/home/agent/.claude', env: []}]}), NATIVE)
    expect(argv.filter((a) => a.startsWith('--volume'))).toEqual(['--volume=sourceos-state-p-claude-code:/home/agent/.claude:U,nosuid,nodev'])
    expect(buildCreateArgv(spec(), NATIVE).some((a) => a.startsWith('--volume'))).toBe(false)
  })
})

describe('environment', () => {
  it('every planned variable in order, values as given (an = inside a value kept)', () => {
    const argv = buildCreateArgv(spec({env: [['A', '1'], ['B', 'x=y'], ['C', '']]}), NATIVE)
    expect(argv.filter((a) => a.startsWith('--env'))).toEqual(['--env=A=1', '--env=B=x=y', '--env=C='])
  })
})
