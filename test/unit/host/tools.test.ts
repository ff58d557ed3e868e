import {describe, expect, it} from 'vitest'
import {DEFAULT_TOOL_TIMEOUT_MS, parseToolVersion, probeTool} from '../../../src/core/host/tools.js'
import {fakeRunner, NOT_FOUND} from '../../helpers/fake-runner.js'
import {podmanFixture} from '../../helpers/fixtures.js'

describe('parseToolVersion', () => {
  it.each([
    ['podman', 'podman version 4.3.1\n', '4.3.1'],
    ['podman', 'podman version 5.8.2\n', '5.8.2'],
    ['podman', 'podman.exe version 5.2.0\n', '5.2.0'],
    ['podman', 'podman version 6.0.0-dev\n', '6.0.0-dev'],
    ['git', 'git version 2.39.5\n', '2.39.5'],
    ['git', 'git version 2.39.3 (Apple Git-145)\n', '2.39.3'],
    ['git', 'git version 2.45.1.windows.1\n', '2.45.1'],
    ['nix', 'nix (Nix) 2.18.1\n', '2.18.1'],
    ['nix', 'nix (Lix, like Nix) 2.91.1\n', '2.91.1'],
  ] as const)('%s: %j → %s', (tool, stdout, version) => {
    expect(parseToolVersion(tool, stdout)).toBe(version)
  })

  it('reads the real podman 4.3.1 banner', () => {
    expect(parseToolVersion('podman', podmanFixture('podman431-version.txt'))).toBe('4.3.1')
  })

  it('returns null when there is no version', () => {
    expect(parseToolVersion('git', 'usage: git [--version]')).toBeNull()
    expect(parseToolVersion('nix', '')).toBeNull()
  })
})

describe('probeTool', () => {
  it('runs `<tool> --version` with the default timeout', async () => {
    const runner = fakeRunner([{match: 'git --version', result: {stdout: 'git version 2.39.5\n'}}])
    const probe = await probeTool(runner, 'git')
    expect(probe).toEqual({name: 'git', status: 'ok', version: '2.39.5', raw: 'git version 2.39.5', detail: null})
    expect(runner.calls).toEqual([{command: 'git', args: ['--version'], options: {timeoutMs: DEFAULT_TOOL_TIMEOUT_MS}}])
    expect(DEFAULT_TOOL_TIMEOUT_MS).toBe(5000)
  })

  it('honours a timeout and a binary override', async () => {
    const runner = fakeRunner([{match: '/opt/podman/bin/podman --version', result: {stdout: 'podman version 5.8.2\n'}}])
    const probe = await probeTool(runner, 'podman', {timeoutMs: 1234, binary: '/opt/podman/bin/podman'})
    expect(probe.version).toBe('5.8.2')
    expect(probe.name).toBe('podman')
    expect(runner.calls[0]?.options?.timeoutMs).toBe(1234)
  })

  it('reports a missing tool', async () => {
    const probe = await probeTool(fakeRunner([{match: 'nix', result: NOT_FOUND}]), 'nix')
    expect(probe).toMatchObject({name: 'nix', status: 'missing', version: null, raw: null})
    expect(probe.detail).toContain('not installed')
  })

  it('reports a hung tool as a timeout', async () => {
    const probe = await probeTool(fakeRunner([{match: 'podman --version', hangs: true}]), 'podman', {timeoutMs: 50})
    expect(probe).toMatchObject({status: 'timeout', version: null})
    expect(probe.detail).toContain('timed out')
  })

  it('reports a non-zero exit as an error, keeping what it printed', async () => {
    const runner = fakeRunner([{match: 'git --version', result: {exitCode: 1, stderr: 'fatal: bad config line 1\n'}}])
    const probe = await probeTool(runner, 'git')
    expect(probe).toMatchObject({status: 'error', version: null, raw: 'fatal: bad config line 1'})
    expect(probe.detail).toContain('exited 1')
  })

  it('keeps an unrecognised banner as ok with a note', async () => {
    const probe = await probeTool(fakeRunner([{match: 'nix --version', result: {stdout: 'something else\n'}}]), 'nix')
    expect(probe).toMatchObject({status: 'ok', version: null, raw: 'something else'})
    expect(probe.detail).toMatch(/not recognised/)
  })
})
