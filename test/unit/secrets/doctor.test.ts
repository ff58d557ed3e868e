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

describe('doctor: secrets and tool logins', () => {
  it('without a door or persistent state: ok, and podman is not asked', async () => {
    const runner = fakeRunner([])
    const c = await secretsCheck(profile({door: 'none'}), runner, ctx)
    expect(c).toMatchObject({id: 'secrets', status: 'ok', required: false})
    expect(runner.calls).toEqual([])
  })

  it('an injected secret that is not stored fails, with the secret set line; stored ones and the volumes are listed by name', async () => {
    const runner = fakeRunner([
      {match: 'podman secret ls', result: {stdout: 'sourceos.anthropic\n'}},
      {match: 'podman secret inspect', result: {stdout: '[]'}},
      {match: 'podman volume ls', result: {stdout: 'sourceos-state-team-claude-code\nsourceos-state-other-codex\n'}},
    ])
    const c = await secretsCheck(profile({door: 'proxy', toolState: 'volume', inject: [{secret: 'anthropic', host: 'api.anthropic.com', header: 'x-api-key'}, {secret: 'openai', host: 'api.openai.com', header: 'Authorization'}]}), runner, ctx)
    expect(c.status).toBe('fail')
    expect(c.required).toBe(true)
    expect(c.detail).toContain('anthropic → api.anthropic.com (stored)')
    expect(c.detail).toContain('openai → api.openai.com (NOT stored)')
    expect(c.detail).toContain('tool-state volumes: sourceos-state-team-claude-code')
    expect(c.detail).not.toContain('sourceos-state-other-codex')
    expect(c.fix).toBe('sourceosctl agent-machine secret set openai')
  })
})
