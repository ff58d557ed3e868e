import {describe, expect, it} from 'vitest'
import {classifyFailure, errorLine, installFix} from '../../../src/core/podman/failures.js'
import {runResult} from '../../helpers/fake-runner.js'
import {podmanFixture} from '../../helpers/fixtures.js'

const failed = (stderr: string, exitCode: number | null = 125) => runResult('podman', ['info', '--format', 'json'], {exitCode, stderr})

describe('errorLine', () => {
  it('prefers podman\'s Error: line over the chatter before it', () => {
    expect(errorLine(podmanFixture('podman5-connection-failed.stderr.txt'))).toMatch(/^unable to connect to Podman socket/)
  })

  it('falls back to the first line, or null', () => {
    expect(errorLine('\nwarning: something\nmore\n')).toBe('warning: something')
    expect(errorLine('')).toBeNull()
  })
})

describe('classifyFailure', () => {
  it('order: not found and timeout win over any text', () => {
    expect(classifyFailure(runResult('podman', [], {notFound: true, exitCode: null, stderr: 'VM does not exist'}), {platform: 'linux'}).kind).toBe('not-installed')
    expect(classifyFailure(runResult('podman', [], {timedOut: true, exitCode: null, stderr: 'connection refused'}), {platform: 'linux'}).kind).toBe('timeout')
  })

  it('root refusal is recognised for any machine subcommand', () => {
    expect(classifyFailure(failed('Error: cannot run command "podman machine start" as root'), {platform: 'linux'}).kind).toBe('machine-root-refused')
  })

  it('a connection failure fix on macOS/Windows names the machine when known', () => {
    const f = classifyFailure(failed(podmanFixture('podman5-connection-failed.stderr.txt')), {platform: 'macos', machine: 'sourceos-agent'})
    expect(f.fix).toContain('podman machine start sourceos-agent')
  })

  it('Hyper-V without elevation (5.1–5.8, any machine command, inspect too): its own kind, "run from an administrator terminal" with the exact command', () => {
    const result = runResult('podman', ['machine', 'inspect', '--', 'sourceos-agent'], {exitCode: 125, stderr: podmanFixture('podman58-hyperv-not-admin.stderr.txt')})
    const f = classifyFailure(result, {platform: 'windows', machine: 'sourceos-agent'})
    expect(f.kind).toBe('machine-needs-admin')
    expect(f.fix).toBe("run from an administrator terminal (right-click Windows Terminal or PowerShell → Run as administrator): `$env:CONTAINERS_MACHINE_PROVIDER = 'hyperv'; podman machine inspect -- sourceos-agent`")
    // main (6.0-dev) words it differently (pkg/machine/hyperv): still recognised
    expect(classifyFailure(failed('Error: Hyper-V machines require Hyper-V admin rights to be managed. Please add the current user to the Hyper-V Administrators group or run Podman as an administrator'), {platform: 'windows'}).kind).toBe('machine-needs-admin')
  })

  it('keeps stderr and the exit code', () => {
    const stderr = podmanFixture('podman431-machine-inspect-missing.stderr.txt')
    expect(classifyFailure(failed(stderr), {platform: 'linux', machine: 'nosuch'})).toMatchObject({kind: 'machine-missing', stderr, exitCode: 125})
  })

  it('an unknown error is failed with a one-line message', () => {
    const f = classifyFailure(failed('Error: something new\nand more\n', 2), {platform: 'linux'})
    expect(f).toMatchObject({kind: 'failed', exitCode: 2})
    expect(f.message).toBe('podman info --format json failed (exit 2): something new')
  })

  it('install fixes per platform', () => {
    expect(installFix('macos')).toMatch(/brew/)
    expect(installFix('windows')).toMatch(/winget/)
    expect(installFix('linux')).toMatch(/apt-get|dnf/)
  })
})
