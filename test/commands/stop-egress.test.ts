/**
 * `stop --all --egress` with a fake podman: after the sessions, the idle shared egress proxies go
 * with their network holders and pool networks (network/lifecycle.ts removeSharedEgress); one with
 * an agent in a holder's namespace is kept and said so; --dry-run shows the exact commands and
 * removes nothing; --egress without --all is a usage error.
 */
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import Stop from '../../src/commands/agent-machine/stop.js'
import {HOLDER_LABEL, HOLDER_ROLE, KEY_LABEL, ROLE_LABEL, SHARED_ROLE, SLOT_LABEL} from '../../src/core/network/sidecar.js'
import {fakeRunner} from '../helpers/fake-runner.js'
import {fakeHostFacts} from '../helpers/host-facts.js'
import {runCommand} from '../helpers/run-command.js'
import {tempDir} from '../unit/evidence/helpers.js'

const IDLE = '1'.repeat(16)
const BUSY = '2'.repeat(16)
const proxy = (key: string) => ({Id: key.padEnd(64, 'a'), Names: [`sourceos-proxy.${key}`], Labels: {[KEY_LABEL]: key, [ROLE_LABEL]: SHARED_ROLE}})
const holder = (key: string) => ({Id: key.padEnd(64, 'b'), Names: [`sourceos-netholder.${key}.0`], Labels: {[KEY_LABEL]: key, [ROLE_LABEL]: HOLDER_ROLE, [SLOT_LABEL]: '0'}})

function setup() {
  const state = tempDir('cmd-stop-egress-')
  const runner = fakeRunner([
    // no sessions running
    {match: (_c, a) => a[0] === 'ps' && a.some((x) => x === '--filter=label=dev.sourceos.agent-machine.run-id'), result: {stdout: '[]'}},
    {match: (_c, a) => a[0] === 'ps' && a.includes(`--filter=label=${ROLE_LABEL}=${SHARED_ROLE}`), result: {stdout: JSON.stringify([proxy(IDLE), proxy(BUSY)])}},
    {match: (_c, a) => a[0] === 'ps' && a.includes(`--filter=label=${ROLE_LABEL}=${HOLDER_ROLE}`), result: {stdout: JSON.stringify([holder(IDLE), holder(BUSY)])}},
    {match: (_c, a) => a[0] === 'network' && a[1] === 'ls', result: (_c, a) => ({stdout: `net-${a.at(-1)!.slice(-16)}\n`})},
    {match: (_c, a) => a[0] === 'ps' && a.some((x) => x.startsWith('--filter=network=net-')), result: (_c, a) => {
      const key = a.find((x) => x.startsWith('--filter=network=net-'))!.slice(-16)
      return {stdout: JSON.stringify([proxy(key), holder(key)])}
    }},
    // an agent in the busy pool's holder: on no network in podman's terms
    {match: (_c, a) => a[0] === 'ps' && a.includes(`--filter=label=${HOLDER_LABEL}`), result: {stdout: JSON.stringify([{Names: ['sourceos-agent-x'], Labels: {[HOLDER_LABEL]: `sourceos-netholder.${BUSY}.0`}}])}},
    {match: (_c, a) => a[0] === 'ps', result: {stdout: '[]'}},
    {match: (_c, a) => a[0] === 'rm' || (a[0] === 'network' && a[1] === 'rm'), result: {stdout: ''}},
  ])
  const host = fakeHostFacts('linux', {env: {HOME: '/home/dev', SOURCEOSCTL_STATE_DIR: state, SOURCEOSCTL_CONFIG_DIR: join(state, 'no-config')}})
  return {runner, ctx: {runner, hostFacts: async () => host}}
}

describe('stop --all --egress', () => {
  it('removes the idle shared proxy with its holder and network, keeps the one in use and says so', async () => {
    const {runner, ctx} = setup()
    const out = await runCommand(Stop, ['--all', '--egress', '--json'], ctx)
    expect(out.exitCode, out.stderr).toBe(0)
    expect((out.json as {egress: unknown}).egress).toEqual({removed: [`sourceos-proxy.${IDLE}`], kept: [`sourceos-proxy.${BUSY}`]})
    expect(runner.commandLines()).toContain(`podman rm --force --time=0 ${proxy(IDLE).Id} ${holder(IDLE).Id}`)
    expect(runner.commandLines()).toContain(`podman network rm net-${IDLE}`)
    expect(runner.commandLines().some((l) => l.includes(proxy(BUSY).Id) || l.includes(`network rm net-${BUSY}`))).toBe(false)
    // said without --json
    const said = await runCommand(Stop, ['--all', '--egress'], setup().ctx)
    expect(said.stdout).toContain(`Removed the shared egress proxy sourceos-proxy.${IDLE} with its network holders and networks.`)
    expect(said.stderr).toContain(`kept the shared egress proxy sourceos-proxy.${BUSY}: a session or a launch still uses it`)
  })

  it('--dry-run shows the exact removal commands and removes nothing', async () => {
    const {runner, ctx} = setup()
    const out = await runCommand(Stop, ['--all', '--egress', '--dry-run', '--json'], ctx)
    expect(out.exitCode, out.stderr).toBe(0)
    const steps = (out.json as {plan: {steps: Array<{argv: string[]; mutates: boolean}>}}).plan.steps
    expect(steps.map((s) => s.argv)).toEqual([
      ['podman', 'rm', '--force', '--time=0', proxy(IDLE).Id, holder(IDLE).Id],
      ['podman', 'network', 'rm', `net-${IDLE}`],
    ])
    expect(runner.commandLines().some((l) => / rm /.test(`${l} `))).toBe(false)
  })

  it('without --all it is a usage error, and nothing is asked of podman', async () => {
    const {runner, ctx} = setup()
    const out = await runCommand(Stop, ['abcdef0123456789', '--egress'], ctx)
    expect(out.exitCode).toBe(2)
    expect(out.stderr).toContain('--egress')
    expect(runner.calls).toEqual([])
  })

  it('--all without --egress leaves the shared proxies alone', async () => {
    const {runner, ctx} = setup()
    const out = await runCommand(Stop, ['--all'], ctx)
    expect(out.exitCode, out.stderr).toBe(0)
    expect(runner.commandLines().some((l) => l.includes('egress') || l.startsWith('podman rm'))).toBe(false)
  })
})
