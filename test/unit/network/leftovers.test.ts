import {spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import {cleanEgressLeftovers} from '../../../src/core/network/lifecycle.js'
import {fakeRunner} from '../../helpers/fake-runner.js'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, {recursive: true, force: true})
})

function state(markers: Record<string, object>): string {
  const dir = mkdtempSync(join(tmpdir(), 'egress-leftovers-'))
  dirs.push(dir)
  mkdirSync(join(dir, 'egress'))
  for (const [runId, m] of Object.entries(markers)) writeFileSync(join(dir, 'egress', `${runId}.json`), JSON.stringify({runId, connection: null, ...m}))
  return dir
}

/** A pid that is certainly not running any more. */
function deadPid(): number {
  const child = spawnSync('sh', ['-c', 'echo $$'], {encoding: 'utf8'})
  return Number(child.stdout.trim())
}

describe('leftovers of killed launches', () => {
  const routes = () =>
    fakeRunner([
      {match: (cmd, args) => cmd === 'podman' && args[0] === 'ps' && args.some((a) => a.startsWith('--filter=name=')), result: {stdout: ''}},
      {match: (cmd, args) => cmd === 'podman' && args[0] === 'ps', result: {stdout: 'abcdef1234567890 egress-proxy\n'}},
      {match: (cmd, args) => cmd === 'podman' && args[0] === 'network' && args[1] === 'ls', result: {stdout: ''}},
      {match: 'podman rm', result: {stdout: ''}},
    ])

  it('a marker whose CLI is gone (and whose agent is gone): the run’s containers are removed by label, then the marker', async () => {
    const dir = state({'deadrun-00000001': {pid: deadPid(), pidStart: null}})
    const runner = routes()
    const removed = await cleanEgressLeftovers(dir, runner, {binary: 'podman', connection: null})
    expect(removed).toEqual(['container abcdef123456 (egress-proxy of run deadrun-00000001)'])
    expect(runner.calls.some((c) => c.args[0] === 'rm' && c.args.includes('abcdef1234567890'))).toBe(true)
    expect(runner.calls.filter((c) => c.args[0] === 'ps').every((c) => c.args.includes('--filter=label=dev.sourceos.agent-machine.run-id=deadrun-00000001'))).toBe(true)
    expect(existsSync(join(dir, 'egress', 'deadrun-00000001.json'))).toBe(false)
  })

  it('a marker of a CLI that is still running (a concurrent launch setting up) is never touched', async () => {
    const dir = state({'liverun-00000001': {pid: process.pid, pidStart: null}})
    const runner = routes()
    expect(await cleanEgressLeftovers(dir, runner, {binary: 'podman', connection: null})).toEqual([])
    expect(runner.calls).toEqual([])
    expect(existsSync(join(dir, 'egress', 'liverun-00000001.json'))).toBe(true)
  })

  it('a run whose agent container still exists (a live session) is left alone', async () => {
    const dir = state({'session-00000001': {pid: deadPid()}})
    const runner = fakeRunner([{match: (cmd, args) => cmd === 'podman' && args[0] === 'ps', result: {stdout: 'agentid\n'}}])
    expect(await cleanEgressLeftovers(dir, runner, {binary: 'podman', connection: null})).toEqual([])
    expect(runner.calls.some((c) => c.args[0] === 'rm')).toBe(false)
  })

  it('a file that is not a marker name is ignored', async () => {
    const dir = state({})
    writeFileSync(join(dir, 'egress', '..evil.json'), '{}')
    const runner = routes()
    expect(await cleanEgressLeftovers(dir, runner, {binary: 'podman', connection: null})).toEqual([])
    expect(runner.calls).toEqual([])
  })
})
