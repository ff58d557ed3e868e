import {describe, expect, it} from 'vitest'

import {GUARD_SCRIPT, guardedNetworkArgs, linkLocalGuardSteps} from '../../../src/core/network/link-local-guard.js'

describe('network open: the link-local guard', () => {
  const g = linkLocalGuardSteps({runId: 'abcdef0123456789', image: 'f'.repeat(64), rootless: false}, {binary: 'podman', connection: null})

  it('routes the cloud metadata ranges nowhere before it says it is ready', () => {
    expect(GUARD_SCRIPT).toMatch(/ip route add unreachable 169\.254\.0\.0\/16; .*ip route add unreachable 100\.100\.100\.200\/32;/)
    expect(GUARD_SCRIPT).toContain('ip -6 route add unreachable fd00:ec2::254/128')
    expect(GUARD_SCRIPT.indexOf('169.254.0.0/16')).toBeLessThan(GUARD_SCRIPT.indexOf('echo sourceos-link-local-guard-ready'))
    expect(GUARD_SCRIPT.startsWith('set -e')).toBe(true)
  })

  it('gets NET_ADMIN and nothing else, mounts nothing, and is labelled with the run', () => {
    const argv = g.create.argv
    expect(argv.filter((a) => a.startsWith('--cap-'))).toEqual(['--cap-drop=all', '--cap-add=NET_ADMIN'])
    for (const flag of ['--security-opt=no-new-privileges', '--read-only', '--pull=never']) expect(argv).toContain(flag)
    expect(argv.some((a) => /^(--mount|--volume|-v$|--privileged|--network)/.test(a))).toBe(false)
    expect(argv).toContain('--label=dev.sourceos.agent-machine.run-id=abcdef0123456789')
  })

  it('rootless: the guard is the user in a keep-id namespace (NET_ADMIN ambient); rootful: root, no user namespace', () => {
    const rootless = linkLocalGuardSteps({runId: 'abcdef0123456789', image: 'f'.repeat(64), rootless: true}, {binary: 'podman', connection: null})
    expect(rootless.create.argv).toContain('--userns=keep-id')
    expect(rootless.create.argv.some((a) => a.startsWith('--user='))).toBe(false)
    expect(g.create.argv).toContain('--user=0:0')
    expect(g.create.argv.some((a) => a.startsWith('--userns'))).toBe(false)
  })

  it('the agent joins its namespace, with no capability of its own to lift the routes', () => {
    expect(guardedNetworkArgs(g)).toEqual(['--network=container:sourceos-netguard-abcdef0123456789'])
    expect(g.remove.argv).toEqual(['podman', 'rm', '--force', '--time=0', 'sourceos-netguard-abcdef0123456789'])
  })
})
