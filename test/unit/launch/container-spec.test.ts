import {describe, expect, it} from 'vitest'

import {buildCreateArgv, buildInitArgv, buildStartArgv, buildVerifyArgv, plannedUserNamespace, type ContainerSpec} from '../../../src/core/launch/container-spec.js'

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
  network: 'default',
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
    const argv = buildCreateArgv(spec(), 'podman')
    for (const flag of ['--rm', '--init', '--cap-drop=all', '--security-opt=no-new-privileges', '--read-only', '--http-proxy=false', '--pull=never', '--userns=keep-id']) {
      expect(argv).toContain(flag)
    }
    for (const forbidden of ['--privileged', '--env-host', '--pid=host', '--network=host']) expect(argv).not.toContain(forbidden)
    expect(argv.some((a) => a.startsWith('--volume') || a.startsWith('-v'))).toBe(false)
  })

  it('mounts exactly the spec’s mounts, ro where asked, with the workdir and labels', () => {
    const argv = buildCreateArgv(spec(), 'podman')
    expect(argv.filter((a) => a.startsWith('--mount='))).toEqual([
      '--mount=type=bind,source=/home/dev/app,destination=/workspace/app,bind-nonrecursive=true,bind-propagation=private',
      '--mount=type=bind,source=/home/dev/docs,destination=/workspace/docs,bind-nonrecursive=true,bind-propagation=private,ro=true',
    ])
    expect(argv).toContain('--workdir=/workspace/app')
    expect(argv).toContain('--label=dev.sourceos.agent-machine.run-id=0123456789abcdef')
    expect(argv.slice(-3)).toEqual(['f'.repeat(64), 'codex', '--help'])
  })

  it('rootful omits keep-id; network none and TTY are honoured', () => {
    const argv = buildCreateArgv(spec({rootless: false, network: 'none', tty: true}), 'podman')
    expect(argv).not.toContain('--userns=keep-id')
    expect(argv).toContain('--network=none')
    expect(argv).toContain('--tty')
    expect(buildStartArgv(spec(), 'podman')).toEqual(['podman', 'start', '--attach', '--interactive', 'sourceos-agent-0123456789abcdef'])
  })

  it('passes only the allowlisted env as explicit values', () => {
    const argv = buildCreateArgv(spec(), 'podman')
    expect(argv.filter((a) => a.startsWith('--env'))).toEqual(['--env=TERM=xterm', '--env=HOME=/home/agent'])
  })
})

describe('init and verify steps', () => {
  it('init names the container; verify is the CLI’s own step and says how it verifies', () => {
    expect(buildInitArgv(spec(), 'podman')).toEqual(['podman', 'init', 'sourceos-agent-0123456789abcdef'])
    expect(buildVerifyArgv(spec())).toEqual(['sourceosctl:verify-container', '--method=proc-root-inode', 'sourceos-agent-0123456789abcdef'])
    expect(buildVerifyArgv(spec({verification: 'inspect-paths'}))[1]).toBe('--method=inspect-paths')
  })

  it('the planned user namespace is what the hardening flags ask for', () => {
    expect(plannedUserNamespace({rootless: true}, 1001)).toEqual({mode: 'keep-id', uid: 1001})
    expect(plannedUserNamespace({rootless: false, hostOwner: {uid: 1001, gid: 1002}}, 0)).toEqual({mode: 'map', uidMap: ['0:1002:1000', '1000:1001:1'], gidMap: ['0:1003:1000', '1000:1002:1']})
    expect(plannedUserNamespace({rootless: false}, 0)).toBeNull()
  })
})
