// Items 1/2 of issue 11: every `podman machine` call names the profile's provider, also when it is
// the platform's built-in default, because containers.conf `[machine] provider` (Podman Desktop
// writes "libkrun") otherwise decides which machines `podman machine list` shows.
import {describe, expect, it} from 'vitest'

import {probeEnvironment} from '../../../src/core/environment.js'
import type {RunOptions} from '../../../src/core/exec.js'
import {fakeRunner} from '../../helpers/fake-runner.js'
import {podmanFixture} from '../../helpers/fixtures.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'

const mac = fakeHostFacts('macos')

/** `podman machine list` as Podman 5.8 answers with containers.conf provider = "libkrun". */
const listByProvider = (_c: string, _a: readonly string[], options: RunOptions | undefined) =>
  options?.env?.CONTAINERS_MACHINE_PROVIDER === 'applehv'
    ? {stdout: podmanFixture('podman58-machine-list-applehv-variable.json')}
    : {stdout: podmanFixture('podman58-machine-list-containers-conf-libkrun.json')}

describe('doctor\'s machine probe with containers.conf selecting another provider', () => {
  const routes = [
    {match: 'podman --version', result: {stdout: 'podman version 5.8.2\n'}},
    {match: 'podman version', result: {exitCode: 125, stderr: podmanFixture('podman5-connection-failed.stderr.txt')}},
    {match: 'podman info', result: {exitCode: 125, stderr: podmanFixture('podman5-connection-failed.stderr.txt')}},
    {match: 'podman machine list', result: listByProvider},
    {match: 'git --version', result: {stdout: 'git version 2.39.3\n'}},
    {match: 'nix --version', result: {exitCode: 127, stderr: 'nix: not found\n'}},
  ]

  it('finds the applehv machine (stopped) with the profile\'s provider', async () => {
    const runner = fakeRunner(routes)
    const probes = await probeEnvironment({runner, host: mac, machineName: 'sourceos-agent', machineProvider: 'applehv', timeoutMs: 5000})
    expect(probes.machine).toMatchObject({status: 'done', value: {state: 'stopped'}})
    const list = runner.calls.find((c) => c.args[1] === 'list')
    expect(list?.options?.env).toEqual({CONTAINERS_MACHINE_PROVIDER: 'applehv'})
  })

  it('without the provider (the old behaviour) the same machine looks absent: the bug this prevents', async () => {
    const probes = await probeEnvironment({runner: fakeRunner(routes), host: mac, machineName: 'sourceos-agent', timeoutMs: 5000})
    expect(probes.machine).toMatchObject({status: 'done', value: {state: 'absent'}})
  })
})

describe('run/shell/doctor see a booting machine as starting, not ready (issue 11 item 6)', () => {
  it('list with Running AND Starting true → state starting, with the wait and the stuck-start recovery', async () => {
    const {PodmanAdapter} = await import('../../../src/core/podman/adapter.js')
    const runner = fakeRunner([{match: 'podman machine list', result: {stdout: podmanFixture('podman58-machine-list-booting.json')}}])
    const state = await new PodmanAdapter(runner, mac).machineState('podman-machine-default')
    expect(state.state).toBe('starting')
    expect(state.detail).toMatch(/its VM runs, but its mounts and API are not ready yet/)
    expect(state.fix).toMatch(/podman#24416.*`podman machine stop podman-machine-default`, then `sourceosctl agent-machine start`/)
  })
})
