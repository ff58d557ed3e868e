import {describe, expect, it} from 'vitest'

import {classifyStartResult} from '../../../src/core/podman/machine-lifecycle.js'
import {runResult} from '../../helpers/fake-runner.js'
import {podmanFixture} from '../../helpers/fixtures.js'

const NAME = 'podman-machine-default'
const failed = (stderrFile: string, name = NAME) =>
  classifyStartResult(runResult('podman', ['machine', 'start', name], {exitCode: 125, stderr: podmanFixture(stderrFile)}), name)

describe('classifyStartResult (podman machine start, 4.x and 5.x)', () => {
  it.each([
    ['podman5-machine-start.stdout.txt'],
    ['podman4-machine-start.stdout.txt'],
    ['podman5-wsl-machine-start.stdout.txt'],
  ])('exit 0 (%s) → started', (file) => {
    const outcome = classifyStartResult(runResult('podman', ['machine', 'start', NAME], {stdout: podmanFixture(file)}), NAME)
    expect(outcome.kind).toBe('started')
  })

  it.each([
    ['podman5-machine-start-already-running.stderr.txt', '5.4+'],
    ['podman50-machine-start-already-running.stderr.txt', '5.0–5.3 (names itself)'],
    ['podman50-wsl-machine-start-already-running.stderr.txt', '5.0–5.3 WSL'],
    ['podman4-machine-start-already-running.stderr.txt', '4.x'],
    ['podman4-wsl-machine-start-already-running.stderr.txt', '4.x WSL'],
  ])('%s (%s) → already-running', (file) => {
    expect(failed(file).kind).toBe('already-running')
  })

  it.each([
    ['podman5-machine-start-other-active.stderr.txt', 'dev-vm', null],
    ['podman5-machine-start-other-active-provider.stderr.txt', 'dev-vm', 'libkrun'],
    ['podman53-machine-start-other-active.stderr.txt', 'dev-vm', null],
    ['podman50-machine-start-other-active.stderr.txt', 'dev-vm', null],
    ['podman4-machine-start-other-active.stderr.txt', 'dev-vm', null],
  ])('%s → other-active (%s on %s)', (file, other, provider) => {
    expect(failed(file)).toMatchObject({kind: 'other-active', other, otherProvider: provider})
  })

  it('missing machine (5.x derived and the real 4.3.1 capture) → absent', () => {
    expect(failed('podman5-machine-start-missing.stderr.txt').kind).toBe('absent')
    expect(failed('podman431-machine-start-missing.stderr.txt', 'nosuch').kind).toBe('absent')
  })

  it('root (real 4.3.1 capture) → root-refused', () => {
    expect(failed('podman431-machine-start-root-refused.stderr.txt', 'nosuch').kind).toBe('root-refused')
  })

  it('provider problems → provider-unsupported with podman\'s own line', () => {
    expect(failed('podman5-unsupported-provider.stderr.txt')).toMatchObject({kind: 'provider-unsupported', message: 'unsupported virtualization provider: `hyperv`'})
    expect(failed('podman5-libkrun-intel.stderr.txt').kind).toBe('provider-unsupported')
  })

  it('timeouts, a missing program and anything else', () => {
    expect(classifyStartResult(runResult('podman', [], {exitCode: null, timedOut: true}), NAME).kind).toBe('timeout')
    expect(classifyStartResult(runResult('podman', [], {exitCode: null, notFound: true}), NAME).kind).toBe('not-installed')
    expect(classifyStartResult(runResult('podman', [], {exitCode: 125, stderr: 'Error: machine did not transition into running state: ssh error: x\n'}), NAME)).toMatchObject({
      kind: 'failed',
      message: 'machine did not transition into running state: ssh error: x',
    })
  })
})
