import {describe, expect, it} from 'vitest'

import {buildCreateArgv, buildStartArgv, type ContainerSpec} from '../../../src/core/launch/container-spec.js'
import {verifyContainerMounts} from '../../../src/core/launch/verify-mounts.js'

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
      '--mount=type=bind,source=/home/dev/app,destination=/workspace/app',
      '--mount=type=bind,source=/home/dev/docs,destination=/workspace/docs,ro=true',
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

describe('verifyContainerMounts', () => {
  const planned = spec().mounts
  const inspect = (mounts: unknown[]) => JSON.stringify([{Id: 'x', Mounts: mounts}])
  const bind = (source: string, destination: string, rw = true) => ({Type: 'bind', Source: source, Destination: destination, RW: rw, Options: ['rbind']})

  it('accepts exactly the planned mounts', () => {
    const v = verifyContainerMounts(inspect([bind('/home/dev/app', '/workspace/app'), bind('/home/dev/docs', '/workspace/docs', false)]), planned)
    expect(v).toMatchObject({ok: true, problems: []})
  })

  it.each([
    ['an extra volume', [bind('/home/dev/app', '/workspace/app'), bind('/home/dev/docs', '/workspace/docs', false), {Type: 'volume', Source: '/var/lib/x', Destination: '/data', RW: true}], /unexpected volume mount at \/data/],
    ['a missing mount', [bind('/home/dev/app', '/workspace/app')], /planned mount \/workspace\/docs is missing/],
    ['a changed source', [bind('/home/dev/other', '/workspace/app'), bind('/home/dev/docs', '/workspace/docs', false)], /comes from \/home\/dev\/other/],
    ['a writable ro mount', [bind('/home/dev/app', '/workspace/app'), bind('/home/dev/docs', '/workspace/docs', true)], /read-write, planned ro/],
  ])('refuses %s', (_name, mounts, problem) => {
    const v = verifyContainerMounts(inspect(mounts), planned)
    expect(v.ok).toBe(false)
    expect(v.problems.join('; ')).toMatch(problem)
  })

  it('refuses unreadable inspect output', () => {
    expect(verifyContainerMounts('not json', planned).ok).toBe(false)
  })
})
