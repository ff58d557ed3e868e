// The secret store at its edges: the name and value rules just inside and just outside, which
// error each bad value gets (by code), what ls makes of what podman answers (other secrets, a
// failing or garbled inspect), and that every failure of podman is an error, never a silent success.
// Also the launch's preflight: which profiles ask podman at all, and what a missing secret says.
import {describe, expect, it} from 'vitest'

import type {AgentMachineProfile} from '../../../src/core/profile/schema.js'
import {assertDoorSecretsStored} from '../../../src/core/secrets/preflight.js'
import {checkSecretName, listSecrets, MAX_SECRET_BYTES, normaliseSecretValue, removeSecret, setSecret} from '../../../src/core/secrets/store.js'
import {fakeRunner} from '../../helpers/fake-runner.js'

const ctx = {binary: 'podman', connection: null}
const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn()
  } catch (error) {
    return (error as {code?: string}).code
  }
  return undefined
}
const rejectsWith = async (p: Promise<unknown>, code: string) => expect(p).rejects.toMatchObject({code})

describe('secret names', () => {
  it('lower-case letters and digits first, then letters, digits, _ . -, 63 characters at most', () => {
    for (const ok of ['a', '0', 'anthropic', 'my_key.v2-b', `a${'b'.repeat(62)}`]) expect(codeOf(() => checkSecretName(ok)), ok).toBeUndefined()
    for (const bad of ['', '_a', '.a', '-a', 'A', 'anThropic', 'a b', 'a/b', 'a:b', `a${'b'.repeat(63)}`, 'a\n']) expect(codeOf(() => checkSecretName(bad)), JSON.stringify(bad)).toBe('SECRET_NAME_INVALID')
  })

  it('a bad name is quoted with anything unprintable made ?', () => {
    expect(() => checkSecretName('bad\u0007name\n')).toThrow("'bad?name?' is not a secret name")
  })
})

describe('secret values', () => {
  it('every character a token may hold is kept, and only one trailing newline is dropped', () => {
    for (const c of ['.', '_', '~', '+', '/', '=', ':', '-']) expect(normaliseSecretValue(`a${c}b`)).toBe(`a${c}b`)
    expect(codeOf(() => normaliseSecretValue('key\n\n'))).toBe('SECRET_VALUE_INVALID')
    expect(codeOf(() => normaliseSecretValue('key\r'))).toBe('SECRET_VALUE_INVALID')
    expect(codeOf(() => normaliseSecretValue('\nkey'))).toBe('SECRET_VALUE_INVALID')
  })

  it('empty (also after the newline), too long by bytes, or holding another character: each with its own code', () => {
    expect(codeOf(() => normaliseSecretValue(''))).toBe('SECRET_VALUE_EMPTY')
    expect(codeOf(() => normaliseSecretValue('\r\n'))).toBe('SECRET_VALUE_EMPTY')
    expect(normaliseSecretValue('k'.repeat(MAX_SECRET_BYTES))).toHaveLength(8192)
    expect(codeOf(() => normaliseSecretValue('k'.repeat(MAX_SECRET_BYTES + 1)))).toBe('SECRET_VALUE_TOO_LONG')
    // 4,097 two-byte characters: fewer than 8,192 characters, more than 8,192 bytes
    expect(codeOf(() => normaliseSecretValue('é'.repeat(4097)))).toBe('SECRET_VALUE_TOO_LONG')
    for (const c of ['"', "'", '%', '\\', ' ', '\t', '#', ';', '\u0000', 'é']) expect(codeOf(() => normaliseSecretValue(`a${c}b`)), JSON.stringify(c)).toBe('SECRET_VALUE_INVALID')
  })
})

describe('listing', () => {
  it('only names of the CLI’s own shape, trimmed, sorted by name; inspect asked for exactly those', async () => {
    const runner = fakeRunner([
      {match: 'podman secret ls', result: {stdout: '  sourceos.zeta \nsourceos.alpha\nother\nsourceos.\nsourceos.Bad\nsourceos._x\n\n'}},
      {match: 'podman secret inspect', result: {stdout: JSON.stringify([{Spec: {Name: 'sourceos.zeta'}, CreatedAt: '2026-01-01T00:00:00Z'}, {Spec: {Name: 'sourceos.alpha'}, CreatedAt: 7}, {CreatedAt: 'x'}])}},
    ])
    expect(await listSecrets(runner, ctx)).toEqual([
      {name: 'alpha', podmanName: 'sourceos.alpha', createdAt: null},
      {name: 'zeta', podmanName: 'sourceos.zeta', createdAt: '2026-01-01T00:00:00Z'},
    ])
    expect(runner.commandLines()).toEqual(['podman secret ls --noheading --format {{.Name}}', 'podman secret inspect sourceos.zeta sourceos.alpha'])
    for (const c of runner.calls) expect(c.options?.timeoutMs).toBe(30_000)
  })

  it('no secret of the CLI’s: empty, and inspect is not asked', async () => {
    const runner = fakeRunner([{match: 'podman secret ls', result: {stdout: 'other\n'}}])
    expect(await listSecrets(runner, ctx)).toEqual([])
    expect(runner.commandLines()).toHaveLength(1)
  })

  it('sorted by name whatever order podman lists them in', async () => {
    const runner = fakeRunner([{match: 'podman secret ls', result: {stdout: 'sourceos.m\nsourceos.b\nsourceos.z\nsourceos.a\nsourceos.q\n'}}, {match: 'podman secret inspect', result: {stdout: '[]'}}])
    expect((await listSecrets(runner, ctx)).map((x) => x.name)).toEqual(['a', 'b', 'm', 'q', 'z'])
  })

  it('an inspect entry without a Spec does not cost the others their times; a failed inspect’s output is not used', async () => {
    const inspect = JSON.stringify([{CreatedAt: 'x'}, {Spec: {Name: 'sourceos.a'}, CreatedAt: '2026-02-02T00:00:00Z'}])
    const ok = fakeRunner([{match: 'podman secret ls', result: {stdout: 'sourceos.a\n'}}, {match: 'podman secret inspect', result: {stdout: inspect}}])
    expect(await listSecrets(ok, ctx)).toEqual([{name: 'a', podmanName: 'sourceos.a', createdAt: '2026-02-02T00:00:00Z'}])
    const failed = fakeRunner([{match: 'podman secret ls', result: {stdout: 'sourceos.a\n'}}, {match: 'podman secret inspect', result: {exitCode: 125, stdout: inspect}}])
    expect(await listSecrets(failed, ctx)).toEqual([{name: 'a', podmanName: 'sourceos.a', createdAt: null}])
  })

  it('an inspect that fails or answers garbage leaves the names without times', async () => {
    for (const inspect of [{exitCode: 125, stderr: 'boom'}, {stdout: 'not json'}]) {
      const runner = fakeRunner([{match: 'podman secret ls', result: {stdout: 'sourceos.a\n'}}, {match: 'podman secret inspect', result: inspect}])
      expect(await listSecrets(runner, ctx)).toEqual([{name: 'a', podmanName: 'sourceos.a', createdAt: null}])
    }
  })

  it('a failing ls is an error (not "no secrets")', async () => {
    await rejectsWith(listSecrets(fakeRunner([{match: 'podman secret ls', result: {exitCode: 125, stderr: 'cannot connect'}}]), ctx), 'SECRET_STORE_FAILED')
    await expect(listSecrets(fakeRunner([{match: 'podman secret ls', result: {exitCode: 125, stderr: 'cannot connect'}}]), ctx)).rejects.toThrow(/^cannot list podman secrets: /)
    await rejectsWith(listSecrets(fakeRunner([{match: 'podman secret ls', hangs: true}]), ctx), 'SECRET_STORE_FAILED')
  })
})

describe('set and rm when podman fails', () => {
  it('set: a failing rm of the old one, or a failing create, is an error', async () => {
    const existing = {match: 'podman secret ls', result: {stdout: 'sourceos.k\n'}}
    const inspect = {match: 'podman secret inspect', result: {stdout: '[]'}}
    await rejectsWith(setSecret(fakeRunner([existing, inspect, {match: 'podman secret rm', result: {exitCode: 125}}]), ctx, 'k', 'v'), 'SECRET_STORE_FAILED')
    await expect(setSecret(fakeRunner([existing, inspect, {match: 'podman secret rm', result: {exitCode: 125}}]), ctx, 'k', 'v')).rejects.toThrow(/^cannot replace the secret k: /)
    await rejectsWith(setSecret(fakeRunner([{match: 'podman secret ls', result: {stdout: ''}}, {match: '/bin/sh', result: {exitCode: 125}}]), ctx, 'k', 'v'), 'SECRET_STORE_FAILED')
    await expect(setSecret(fakeRunner([{match: 'podman secret ls', result: {stdout: ''}}, {match: '/bin/sh', result: {exitCode: 125}}]), ctx, 'k', 'v')).rejects.toThrow(/^cannot store the secret k: /)
    // after the old one was removed, the message says so: it is gone, not kept
    await expect(setSecret(fakeRunner([existing, inspect, {match: 'podman secret rm'}, {match: '/bin/sh', result: {exitCode: 125}}]), ctx, 'k', 'v')).rejects.toThrow(/^cannot store the secret k \(the old value was already removed\): /)
  })

  it('set: a new one is created without any rm (other secrets stored do not count); the value only on the create’s stdin', async () => {
    const runner = fakeRunner([{match: 'podman secret ls', result: {stdout: 'sourceos.other\n'}}, {match: 'podman secret inspect', result: {stdout: '[]'}}, {match: '/bin/sh'}])
    expect(await setSecret(runner, ctx, 'k', 'value1')).toEqual({replaced: false})
    expect(runner.commandLines().some((l) => l.includes('secret rm'))).toBe(false)
    expect(runner.calls.map((c) => c.options?.input)).toEqual([undefined, undefined, 'value1'])
    expect(runner.calls[0]!.options).not.toHaveProperty('input')
  })

  it('set and rm refuse a bad name before podman is asked', async () => {
    const runner = fakeRunner([])
    await rejectsWith(setSecret(runner, ctx, 'Bad', 'v'), 'SECRET_NAME_INVALID')
    await rejectsWith(removeSecret(runner, ctx, 'Bad'), 'SECRET_NAME_INVALID')
    expect(runner.calls).toEqual([])
  })

  it('rm: a failing podman secret rm is an error', async () => {
    const runner = fakeRunner([{match: 'podman secret ls', result: {stdout: 'sourceos.k\n'}}, {match: 'podman secret inspect', result: {stdout: '[]'}}, {match: 'podman secret rm', result: {exitCode: 125}}])
    await rejectsWith(removeSecret(runner, ctx, 'k'), 'SECRET_STORE_FAILED')
    await expect(removeSecret(runner, ctx, 'k')).rejects.toThrow(/^cannot remove the secret k: /)
    expect(await removeSecret(fakeRunner([{match: 'podman secret ls', result: {stdout: 'sourceos.other\n'}}, {match: 'podman secret inspect', result: {stdout: '[]'}}]), ctx, 'k')).toBe(false)
  })
})

describe('before a launch with the Secrets Door', () => {
  const profile = (secrets: Record<string, unknown>) => ({metadata: {name: 'p'}, spec: {secrets}}) as unknown as AgentMachineProfile
  const inject = (...names: string[]) => names.map((secret) => ({secret, host: 'api.example.com', header: 'Authorization', format: '{value}'}))

  it('no door, or a door that injects nothing: podman is not asked', async () => {
    const runner = fakeRunner([])
    await assertDoorSecretsStored(profile({door: 'none', inject: inject('a')}), runner, ctx)
    await assertDoorSecretsStored(profile({door: 'proxy', inject: []}), runner, ctx)
    await assertDoorSecretsStored(profile({door: 'proxy'}), runner, ctx)
    expect(runner.calls).toEqual([])
  })

  it('every injected secret stored: passes', async () => {
    const runner = fakeRunner([{match: 'podman secret ls', result: {stdout: 'sourceos.a\nsourceos.b\n'}}, {match: 'podman secret inspect', result: {stdout: '[]'}}])
    await expect(assertDoorSecretsStored(profile({door: 'proxy', inject: inject('a', 'b', 'a')}), runner, ctx)).resolves.toBeUndefined()
  })

  it('missing ones are named once each, with the command that stores each; exit as a missing prerequisite', async () => {
    const runner = fakeRunner([{match: 'podman secret ls', result: {stdout: 'sourceos.a\n'}}, {match: 'podman secret inspect', result: {stdout: '[]'}}])
    const err = await assertDoorSecretsStored(profile({door: 'proxy', inject: inject('a', 'b', 'c', 'b')}), runner, {binary: 'podman', connection: 'sourceos-agent'}).catch((e: unknown) => e)
    expect(err).toMatchObject({code: 'SECRET_NOT_STORED', details: {missing: ['b', 'c']}})
    expect((err as Error).message).toContain('the secrets b, c')
    expect((err as Error).message).toContain('in the store of connection sourceos-agent')
    expect((err as {fix: string}).fix).toBe('store them: sourceosctl agent-machine secret set b; sourceosctl agent-machine secret set c (secret ls lists what is stored); nothing was started')
  })
})
