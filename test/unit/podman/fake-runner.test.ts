import {describe, expect, it} from 'vitest'
import {fakeRunner, NOT_FOUND} from '../../helpers/fake-runner.js'

// The shared test helper itself: other suites depend on its matching rules.
describe('fakeRunner', () => {
  it('matches whole-word prefixes, also by basename, and records calls', async () => {
    const runner = fakeRunner([{match: 'podman machine list', result: {stdout: '[]'}}])
    const result = await runner('/usr/bin/podman', ['machine', 'list', '--format', 'json'], {timeoutMs: 10})
    expect(result).toMatchObject({command: '/usr/bin/podman', args: ['machine', 'list', '--format', 'json'], exitCode: 0, stdout: '[]', notFound: false, timedOut: false})
    expect(runner.calls).toEqual([{command: '/usr/bin/podman', args: ['machine', 'list', '--format', 'json'], options: {timeoutMs: 10}}])
    await expect(runner('podman', ['machine', 'listx'])).rejects.toThrow(/no route for `podman machine listx`/)
  })

  it('supports predicates, result functions, hangs, times and not-found fallbacks', async () => {
    const runner = fakeRunner([
      {match: 'git', times: 1, result: {stdout: 'first'}},
      {match: (command, args) => command === 'git' && args[0] === 'status', result: async (_c, args) => ({stdout: args.join(',')})},
      {match: 'podman info', hangs: true},
    ], {unmatched: 'not-found'})
    expect((await runner('git', ['status'])).stdout).toBe('first')
    expect((await runner('git', ['status', '-s'])).stdout).toBe('status,-s')
    expect(await runner('podman', ['info'], {timeoutMs: 42})).toMatchObject({timedOut: true, exitCode: null, durationMs: 42})
    expect(await runner('nix', ['--version'])).toMatchObject(NOT_FOUND)
    expect(runner.commandLines()).toEqual(['git status', 'git status -s', 'podman info', 'nix --version'])
  })
})
