// doctor's secrets check in each state the doctor.test.ts cases leave out: everything stored (ok,
// not required), persistent state only (no secret list asked), leftover volumes under tmpfs, a door
// injecting nothing, and podman failing (a warning that points at the podman checks, not a pass).
import {describe, expect, it} from 'vitest'

import {AgentMachineProfileSchema, type AgentMachineProfile} from '../../../src/core/profile/schema.js'
import {secretsCheck} from '../../../src/core/secrets/doctor.js'
import {fakeRunner} from '../../helpers/fake-runner.js'

function profile(secrets: unknown): AgentMachineProfile {
  return AgentMachineProfileSchema.parse({
    apiVersion: 'sourceos.dev/v1alpha1',
    kind: 'AgentMachineProfile',
    metadata: {name: 'team'},
    spec: {
      platform: 'linux',
      image: {ref: 'localhost/sourceos/agent:latest', digest: null, pull: 'never'},
      mounts: [],
      tools: {'claude-code': {enabled: true, command: ['claude']}},
      env: {passthrough: [], set: {}},
      network: {mode: 'allowlist', allow: []},
      resources: {cpus: 2, memory: '4g', pidsLimit: 1024},
      secrets,
    },
  })
}
const ctx = {binary: 'podman', connection: null}
const ANTHROPIC = {secret: 'anthropic', host: 'api.anthropic.com', header: 'x-api-key'}

describe('doctor: secrets check states', () => {
  it('every injected secret stored: ok and not required, no fix', async () => {
    const runner = fakeRunner([
      {match: 'podman secret ls', result: {stdout: 'sourceos.anthropic\nsourceos.openai\n'}},
      {match: 'podman secret inspect', result: {stdout: '[]'}},
      {match: 'podman volume ls', result: {stdout: ''}},
    ])
    const c = await secretsCheck(profile({door: 'proxy', inject: [ANTHROPIC, {secret: 'openai', host: 'api.openai.com', header: 'Authorization'}]}), runner, ctx)
    expect(c).toMatchObject({id: 'secrets', title: 'Secrets Door and tool logins', status: 'ok', required: false, fix: null})
    expect(c.detail).toBe('door: anthropic → api.anthropic.com (stored), openai → api.openai.com (stored); toolState tmpfs')
  })

  it('persistent tool state without a door: the volumes are listed, the secret store is not asked', async () => {
    const runner = fakeRunner([{match: 'podman volume ls', result: {stdout: 'sourceos-state-team-claude-code\nsourceos-state-team-codex\n'}}])
    const c = await secretsCheck(profile({door: 'none', toolState: 'volume'}), runner, ctx)
    expect(c).toMatchObject({status: 'ok', required: false, fix: null, detail: 'no door; tool-state volumes: sourceos-state-team-claude-code, sourceos-state-team-codex'})
    expect(runner.commandLines().some((l) => l.includes('secret'))).toBe(false)
    const none = await secretsCheck(profile({door: 'none', toolState: 'volume'}), fakeRunner([{match: 'podman volume ls', result: {stdout: ''}}]), ctx)
    expect(none.detail).toBe('no door; tool-state volumes: none yet (made at the first session)')
  })

  it('a door with tmpfs state names volumes left from an earlier volume setting', async () => {
    const runner = fakeRunner([
      {match: 'podman secret ls', result: {stdout: 'sourceos.anthropic\n'}},
      {match: 'podman secret inspect', result: {stdout: '[]'}},
      {match: 'podman volume ls', result: {stdout: 'sourceos-state-team-codex\n'}},
    ])
    const c = await secretsCheck(profile({door: 'proxy', inject: [ANTHROPIC]}), runner, ctx)
    expect(c.detail).toBe('door: anthropic → api.anthropic.com (stored); toolState tmpfs; leftover volumes: sourceos-state-team-codex')
  })

  it('podman failing: a warning that points at the podman checks, never ok', async () => {
    const runner = fakeRunner([{match: 'podman secret ls', result: {exitCode: 125, stderr: 'cannot connect\nmore'}}, {match: 'podman volume ls', result: {exitCode: 125}}])
    const c = await secretsCheck(profile({door: 'proxy', inject: [ANTHROPIC]}), runner, ctx)
    expect(c).toMatchObject({status: 'warn', required: false, fix: 'check the podman checks above'})
    expect(c.detail).toMatch(/^cannot ask podman for the secrets and volumes: /)
    expect(c.detail).not.toContain('\n')
  })

  it('reports how long it took, in whole milliseconds', async () => {
    const c = await secretsCheck(profile({door: 'none'}), fakeRunner([]), ctx)
    expect(c.durationMs).toBeGreaterThanOrEqual(0)
    expect(Number.isInteger(c.durationMs)).toBe(true)
  })
})
