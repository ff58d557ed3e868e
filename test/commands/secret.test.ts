import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeEach, describe, expect, it, vi} from 'vitest'

const input = vi.hoisted(() => ({value: ''}))
vi.mock('../../src/core/secrets/read-value.js', () => ({readSecretValue: async () => input.value}))

const {default: SecretSet} = await import('../../src/commands/agent-machine/secret/set.js')
const {default: SecretLs} = await import('../../src/commands/agent-machine/secret/ls.js')
const {default: SecretRm} = await import('../../src/commands/agent-machine/secret/rm.js')
const {fakeRunner} = await import('../helpers/fake-runner.js')
const {fakeHostFacts} = await import('../helpers/host-facts.js')
const {runCommand} = await import('../helpers/run-command.js')

const VALUE = 'sk-planted-COMMANDTEST-0123456789'

const homes: string[] = []
afterAll(() => {
  for (const h of homes) rmSync(h, {recursive: true, force: true})
})

function facts(secrets = '  secrets: {door: none}\n') {
  const home = mkdtempSync(join(tmpdir(), 'secret-home-'))
  homes.push(home)
  const profile = join(home, 'profile.yaml')
  writeFileSync(profile, `apiVersion: sourceos.dev/v1alpha1
kind: AgentMachineProfile
metadata: {name: sec}
spec:
  platform: linux
  image: {ref: localhost/sourceos/agent:latest, digest: null, pull: never}
  mounts: []
  tools:
    claude-code: {enabled: true, command: [claude]}
  env: {passthrough: [], set: {}}
  network: {mode: allowlist, allow: []}
  resources: {cpus: 2, memory: 4g, pidsLimit: 1024}
${secrets}`)
  return fakeHostFacts('linux', {homeDir: home, uid: 1000, env: {HOME: home, SOURCEOSCTL_PROFILE: profile}})
}

const DOOR = '  secrets:\n    door: proxy\n    inject:\n      - {secret: anthropic, host: api.anthropic.com, header: x-api-key}\n      - {secret: openai, host: api.openai.com, header: Authorization, format: "Bearer {value}"}\n'

describe('secret set', () => {
  beforeEach(() => {
    input.value = `${VALUE}\n`
  })

  it('stores the value read from stdin/prompt on podman\'s stdin; never in argv or output', async () => {
    const runner = fakeRunner([{match: 'podman secret ls', result: {stdout: ''}}, {match: '/bin/sh -c'}])
    const out = await runCommand(SecretSet, ['anthropic', '--json'], {runner, hostFacts: async () => facts()})
    expect(out.exitCode, out.stderr).toBe(0)
    expect(out.json).toMatchObject({name: 'anthropic', podmanName: 'sourceos.anthropic', stored: true, replaced: false})
    const create = runner.calls.find((c) => c.command === '/bin/sh')!
    expect(create.options?.input).toBe(VALUE)
    expect(`${out.stdout}${out.stderr}${JSON.stringify(runner.calls.map((c) => [c.command, c.args]))}`).not.toContain(VALUE)
  })

  it('--dry-run prints the podman command and reads nothing', async () => {
    input.value = 'should-not-be-read'
    const runner = fakeRunner([])
    const out = await runCommand(SecretSet, ['anthropic', '--dry-run', '--json'], {runner, hostFacts: async () => facts()})
    expect(out.exitCode).toBe(0)
    expect((out.json as {plan: {steps: Array<{argv: string[]}>}}).plan.steps[0]!.argv.slice(-5)).toEqual(['podman', 'secret', 'create', '--label=dev.sourceos.agent-machine.secret=anthropic', 'sourceos.anthropic', '-'].slice(-5))
    expect(runner.calls).toEqual([])
  })

  it('a bad name or value: exit 2 with the reason and a fix; the value is not echoed', async () => {
    const bad = await runCommand(SecretSet, ['Not Valid', '--json'], {runner: fakeRunner([]), hostFacts: async () => facts()})
    expect(bad.exitCode).toBe(2)
    input.value = `${VALUE} "quoted"`
    const out = await runCommand(SecretSet, ['anthropic', '--json'], {runner: fakeRunner([]), hostFacts: async () => facts()})
    expect(out.exitCode).toBe(2)
    expect((out.json as {error: {code: string}}).error.code).toBe('SECRET_VALUE_INVALID')
    expect(`${out.stdout}${out.stderr}`).not.toContain(VALUE)
  })
})

describe('secret ls and rm', () => {
  it('ls: names, created times and the profile\'s injections that use them; injections whose secret is missing', async () => {
    const runner = fakeRunner([
      {match: 'podman secret ls', result: {stdout: 'sourceos.anthropic\n'}},
      {match: 'podman secret inspect', result: {stdout: JSON.stringify([{CreatedAt: '2026-12-06T10:00:00Z', Spec: {Name: 'sourceos.anthropic'}}])}},
    ])
    const out = await runCommand(SecretLs, ['--json'], {runner, hostFacts: async () => facts(DOOR)})
    expect(out.exitCode, out.stderr).toBe(0)
    expect(out.json).toEqual({
      connection: null,
      profile: 'sec',
      secrets: [{name: 'anthropic', podmanName: 'sourceos.anthropic', createdAt: '2026-12-06T10:00:00Z', usedBy: ['x-api-key -> api.anthropic.com']}],
      missing: [{secret: 'openai', host: 'api.openai.com'}],
    })
    const text = await runCommand(SecretLs, [], {runner, hostFacts: async () => facts(DOOR)})
    expect(text.stdout).toMatch(/^NAME\s+CREATED\s+USED BY$/m)
    expect(text.stdout).toContain('secret set openai')
  })

  it('rm: removes it; a name that is not stored exits 2 naming secret ls', async () => {
    const runner = fakeRunner([
      {match: 'podman secret ls', result: {stdout: 'sourceos.anthropic\n'}},
      {match: 'podman secret inspect', result: {stdout: '[]'}},
      {match: 'podman secret rm sourceos.anthropic'},
    ])
    const out = await runCommand(SecretRm, ['anthropic', '--json'], {runner, hostFacts: async () => facts()})
    expect(out.exitCode, out.stderr).toBe(0)
    expect(runner.commandLines()).toContain('podman secret rm sourceos.anthropic')
    const none = await runCommand(SecretRm, ['openai', '--json'], {runner: fakeRunner([{match: 'podman secret ls', result: {stdout: ''}}]), hostFacts: async () => facts()})
    expect(none.exitCode).toBe(2)
    expect((none.json as {error: {fix: string}}).error.fix).toContain('secret ls')
  })
})

describe('secret logout', () => {
  it('removes the active profile\'s tool-state volumes (only its own); --dry-run removes nothing; --tool narrows to one', async () => {
    const SecretLogout = (await import('../../src/commands/agent-machine/secret/logout.js')).default
    const vols = {match: 'podman volume ls', result: {stdout: 'sourceos-state-sec-claude-code\nsourceos-state-sec-codex\nsourceos-state-other-codex\nunrelated\n'}}
    const dry = fakeRunner([vols])
    const planned = await runCommand(SecretLogout, ['--dry-run', '--json'], {runner: dry, hostFacts: async () => facts()})
    expect(planned.exitCode, planned.stderr).toBe(0)
    expect((planned.json as {plan: {steps: Array<{argv: string[]}>}}).plan.steps[0]!.argv).toEqual(['podman', 'volume', 'rm', 'sourceos-state-sec-claude-code', 'sourceos-state-sec-codex'])
    expect(dry.commandLines().some((l) => l.includes('volume rm'))).toBe(false)

    const runner = fakeRunner([vols, {match: 'podman volume rm'}])
    const one = await runCommand(SecretLogout, ['--tool', 'codex', '--json'], {runner, hostFacts: async () => facts()})
    expect(one.exitCode, one.stderr).toBe(0)
    expect((one.json as {removed: string[]}).removed).toEqual(['sourceos-state-sec-codex'])
    expect(runner.commandLines()).toContain('podman volume rm sourceos-state-sec-codex')
  })
})
