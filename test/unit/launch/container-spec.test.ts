import {describe, expect, it} from 'vitest'

import {buildCreateArgv, buildInitArgv, buildInspectArgv, buildStartArgv, buildVerifyArgv, plannedUserNamespace, type ContainerSpec} from '../../../src/core/launch/container-spec.js'
import {toolVersionProbeArgv} from '../../../src/core/launch/tool-version.js'
import {podmanContext} from '../../../src/core/podman/context.js'

/** A native Linux profile: no machine, so no connection. */
const NATIVE = {binary: 'podman', connection: null}

const spec = (over: Partial<ContainerSpec> = {}): ContainerSpec => ({
  runId: '0123456789abcdef',
  verb: 'run',
  tool: 'codex',
  profileName: 'p',
  policyHash: `sha256:${'a'.repeat(64)}`,
  image: 'f'.repeat(64),
  mounts: [
    {hostSource: '/home/dev/app', podmanSource: '/home/dev/app', target: '/workspace/app', mode: 'rw'},
    {hostSource: '/home/dev/docs', podmanSource: '/home/dev/docs', target: '/workspace/docs', mode: 'ro'},
  ],
  workdir: '/workspace/app',
  env: [['TERM', 'xterm'], ['HOME', '/home/agent']],
  network: 'open',
  resources: {cpus: 2, memory: '4g', pidsLimit: 1024},
  rootless: true,
  interactive: true,
  tty: false,
  command: ['codex', '--help'],
  verification: 'proc-root-inode',
  ...over,
})

describe('governed container argv', () => {
  it('always carries the hardening defaults and never host-wide flags', () => {
    const argv = buildCreateArgv(spec(), NATIVE)
    for (const flag of [
      '--rm', '--init', '--cap-drop=all', '--security-opt=no-new-privileges', '--read-only', '--http-proxy=false', '--pull=never', '--userns=keep-id',
      // the home is a tmpfs that can hold neither setuid programs nor device nodes
      '--tmpfs=/home/agent:rw,nosuid,nodev,mode=1777',
      // the profile's resource limits, the run's own name, and the policy it ran under
      '--cpus=2', '--memory=4g', '--pids-limit=1024', '--name=sourceos-agent-0123456789abcdef',
      `--label=dev.sourceos.agent-machine.policy-hash=sha256:${'a'.repeat(64)}`, '--label=dev.sourceos.agent-machine.profile=p',
    ]) {
      expect(argv).toContain(flag)
    }
    expect(argv.filter((a) => a.startsWith('--tmpfs'))).toHaveLength(1)
    expect(buildCreateArgv(spec({resources: {cpus: 0.5, memory: '512m', pidsLimit: 64}}), NATIVE)).toEqual(expect.arrayContaining(['--cpus=0.5', '--memory=512m', '--pids-limit=64']))
    for (const forbidden of ['--privileged', '--env-host', '--pid=host', '--network=host']) expect(argv).not.toContain(forbidden)
    expect(argv.some((a) => a.startsWith('--volume') || a.startsWith('-v'))).toBe(false)
  })

  it('mounts exactly the spec’s mounts, ro where asked, with the workdir and labels', () => {
    const argv = buildCreateArgv(spec(), NATIVE)
    expect(argv.filter((a) => a.startsWith('--mount='))).toEqual([
      '--mount=type=bind,source=/home/dev/app,destination=/workspace/app,bind-nonrecursive=true,bind-propagation=private',
      '--mount=type=bind,source=/home/dev/docs,destination=/workspace/docs,bind-nonrecursive=true,bind-propagation=private,ro=true',
    ])
    expect(argv).toContain('--workdir=/workspace/app')
    expect(argv).toContain('--label=dev.sourceos.agent-machine.run-id=0123456789abcdef')
    expect(argv.slice(-3)).toEqual(['f'.repeat(64), 'codex', '--help'])
  })

  it('rootful omits keep-id; network none and TTY are honoured', () => {
    const argv = buildCreateArgv(spec({rootless: false, network: 'none', tty: true}), NATIVE)
    expect(argv).not.toContain('--userns=keep-id')
    expect(argv).toContain('--network=none')
    expect(argv).toContain('--tty')
    expect(buildStartArgv(spec(), NATIVE)).toEqual(['podman', 'start', '--attach', '--interactive', 'sourceos-agent-0123456789abcdef'])
  })

  it('passes only the allowlisted env as explicit values', () => {
    const argv = buildCreateArgv(spec(), NATIVE)
    expect(argv.filter((a) => a.startsWith('--env'))).toEqual(['--env=TERM=xterm', '--env=HOME=/home/agent'])
  })
})

describe('every container-side argv names the profile’s connection (issue 11, defect 3)', () => {
  const env = {}
  const machine = {name: 'sourceos-agent', provider: 'applehv' as const, rootful: false}
  const all = (ctx: {binary: string; connection: string | null}) => [
    buildCreateArgv(spec(), ctx),
    buildInitArgv(spec(), ctx),
    buildInspectArgv(spec(), ctx),
    buildStartArgv(spec(), ctx),
    toolVersionProbeArgv({podman: ctx, imageId: 'f'.repeat(64), command: ['codex'], rootless: true}),
  ]

  it('a machine profile: `--connection <machine>` right after the program, on create, init, inspect, start and the probe', () => {
    const ctx = podmanContext({host: {platform: 'macos', env}, machine})
    expect(ctx.connection).toBe('sourceos-agent')
    for (const argv of all(ctx)) expect(argv.slice(0, 3)).toEqual(['podman', '--connection', 'sourceos-agent'])
  })

  it('a rootful machine: its `<name>-root` connection (the one `machine init` adds for root in the VM)', () => {
    const ctx = podmanContext({host: {platform: 'macos', env}, machine: {...machine, rootful: true}})
    for (const argv of all(ctx)) expect(argv.slice(0, 3)).toEqual(['podman', '--connection', 'sourceos-agent-root'])
  })

  it('a Linux-native profile: no --connection anywhere (podman’s own choice, CONTAINER_CONNECTION included)', () => {
    const ctx = podmanContext({host: {platform: 'linux', env}, machine: null})
    expect(ctx.connection).toBeNull()
    for (const argv of all(ctx)) expect(argv.some((a) => a.startsWith('--connection'))).toBe(false)
  })

  it('a linux-podman-machine profile is pinned too (a full Linux podman is otherwise local: containers on the host kernel)', () => {
    const ctx = podmanContext({host: {platform: 'linux', env}, machine: {...machine, provider: 'qemu'}})
    for (const argv of all(ctx)) expect(argv.slice(1, 3)).toEqual(['--connection', 'sourceos-agent'])
  })

  it('$SOURCEOSCTL_PODMAN names the program; the connection still follows it', () => {
    const ctx = podmanContext({host: {platform: 'macos', env: {SOURCEOSCTL_PODMAN: '/opt/podman/bin/podman'}}, machine})
    expect(buildInitArgv(spec(), ctx)).toEqual(['/opt/podman/bin/podman', '--connection', 'sourceos-agent', 'init', 'sourceos-agent-0123456789abcdef'])
  })
})

describe('init and verify steps', () => {
  it('init names the container; verify is the CLI’s own step and says how it verifies', () => {
    expect(buildInitArgv(spec(), NATIVE)).toEqual(['podman', 'init', 'sourceos-agent-0123456789abcdef'])
    expect(buildVerifyArgv(spec())).toEqual(['sourceosctl:verify-container', '--method=proc-root-inode', 'sourceos-agent-0123456789abcdef'])
    expect(buildVerifyArgv(spec({verification: 'inspect-paths'}))[1]).toBe('--method=inspect-paths')
  })

  it('the planned user namespace is what the hardening flags ask for', () => {
    expect(plannedUserNamespace({rootless: true}, 1001)).toEqual({mode: 'keep-id', uid: 1001})
    expect(plannedUserNamespace({rootless: false, hostOwner: {uid: 1001, gid: 1002}}, 0)).toEqual({mode: 'map', uidMap: ['0:1002:1000', '1000:1001:1'], gidMap: ['0:1003:1000', '1000:1002:1']})
    expect(plannedUserNamespace({rootless: false}, 0)).toBeNull()
  })
})
