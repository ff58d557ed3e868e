import {describe, expect, it} from 'vitest'

import {listSecrets, normaliseSecretValue, removeSecret, setSecret} from '../../../src/core/secrets/store.js'
import {fakeRunner} from '../../helpers/fake-runner.js'

const ctx = {binary: 'podman', connection: null}
const VALUE = 'sk-ant-api03-PLANTED_value-123'

describe('secret values', () => {
  it('drops one trailing newline (as typed or piped) and keeps a token as it is', () => {
    expect(normaliseSecretValue(`${VALUE}\n`)).toBe(VALUE)
    expect(normaliseSecretValue(`${VALUE}\r\n`)).toBe(VALUE)
    expect(normaliseSecretValue('a.b_c~d+e/f=g:h-i')).toBe('a.b_c~d+e/f=g:h-i')
  })

  it('refuses empty, multi-line, quoted, % and spaced values, without repeating them', () => {
    for (const bad of ['', '\n', `${VALUE}\nsecond`, `${VALUE}"`, `${VALUE}%`, `${VALUE} x`, `${VALUE}\\`, `${VALUE}\u0000`, 'x'.repeat(9000)]) {
      let message = ''
      try {
        normaliseSecretValue(bad)
      } catch (error) {
        message = `${(error as Error).message} ${JSON.stringify(error)}`
      }
      expect(message, JSON.stringify(bad.slice(0, 40))).not.toBe('')
      expect(message).not.toContain(VALUE)
    }
  })
})

describe('the podman secret store', () => {
  it('set: the value goes to podman on stdin through a real pipe, never in an argv; named and labelled as the CLI\'s', async () => {
    const runner = fakeRunner([
      {match: 'podman secret ls', result: {stdout: 'other\n'}},
      {match: '/bin/sh -c', result: {stdout: 'id\n'}},
    ])
    expect(await setSecret(runner, ctx, 'anthropic', `${VALUE}\n`)).toEqual({replaced: false})
    const create = runner.calls.find((c) => c.command === '/bin/sh')!
    expect([create.command, ...create.args]).toEqual(['/bin/sh', '-c', 'cat | "$@"', 'sh', 'podman', 'secret', 'create', '--label=dev.sourceos.agent-machine.secret=anthropic', 'sourceos.anthropic', '-'])
    expect(create.options?.input).toBe(VALUE)
    for (const c of runner.calls) expect([c.command, ...c.args].join(' ')).not.toContain(VALUE)
  })

  it('on Windows podman gets Node\'s stdin (a named pipe there) directly', async () => {
    const runner = fakeRunner([{match: 'podman secret ls', result: {stdout: ''}}, {match: 'podman secret create'}])
    await setSecret(runner, ctx, 'anthropic', VALUE, 'windows')
    const create = runner.calls.find((c) => c.args.includes('create'))!
    expect([create.command, ...create.args]).toEqual(['podman', 'secret', 'create', '--label=dev.sourceos.agent-machine.secret=anthropic', 'sourceos.anthropic', '-'])
    expect(create.options?.input).toBe(VALUE)
  })

  it('set over an existing one removes it first (podman 4 has no replace)', async () => {
    const runner = fakeRunner([
      {match: 'podman secret ls', result: {stdout: 'sourceos.anthropic\n'}},
      {match: 'podman secret inspect', result: {stdout: '[]'}},
      {match: 'podman secret rm sourceos.anthropic'},
      {match: '/bin/sh -c'},
    ])
    expect(await setSecret(runner, ctx, 'anthropic', VALUE)).toEqual({replaced: true})
    expect(runner.commandLines().findIndex((l) => l.startsWith('podman secret rm'))).toBeLessThan(runner.commandLines().findIndex((l) => l.startsWith('/bin/sh')))
  })

  it('a bad value is refused before podman is asked anything', async () => {
    const runner = fakeRunner([])
    await expect(setSecret(runner, ctx, 'anthropic', 'a"b')).rejects.toThrow(/not stored/)
    expect(runner.calls).toEqual([])
  })

  it('ls: only the CLI\'s secrets (sourceos.<name>), with created times; goes through the profile\'s connection', async () => {
    const runner = fakeRunner([
      {match: 'podman secret ls', result: {stdout: 'sourceos.zeta\nmine\nsourceos.anthropic\nsourceos.BAD NAME\n'}},
      {match: 'podman secret inspect', result: {stdout: JSON.stringify([{CreatedAt: '2026-12-06T10:00:00Z', Spec: {Name: 'sourceos.anthropic'}}, {CreatedAt: '2026-12-05T10:00:00Z', Spec: {Name: 'sourceos.zeta'}}])}},
    ])
    expect(await listSecrets(runner, {binary: 'podman', connection: 'sourceos-agent'})).toEqual([
      {name: 'anthropic', podmanName: 'sourceos.anthropic', createdAt: '2026-12-06T10:00:00Z'},
      {name: 'zeta', podmanName: 'sourceos.zeta', createdAt: '2026-12-05T10:00:00Z'},
    ])
    expect(runner.calls[0]!.args.slice(0, 2)).toEqual(['--connection', 'sourceos-agent'])
  })

  it('rm: false when there is none; removes the podman secret when there is', async () => {
    expect(await removeSecret(fakeRunner([{match: 'podman secret ls', result: {stdout: ''}}]), ctx, 'anthropic')).toBe(false)
    const runner = fakeRunner([
      {match: 'podman secret ls', result: {stdout: 'sourceos.anthropic\n'}},
      {match: 'podman secret inspect', result: {stdout: '[]'}},
      {match: 'podman secret rm sourceos.anthropic'},
    ])
    expect(await removeSecret(runner, ctx, 'anthropic')).toBe(true)
    expect(runner.commandLines()).toContain('podman secret rm sourceos.anthropic')
  })
})
