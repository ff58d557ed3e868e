import {describe, expect, it} from 'vitest'

import {execArgv, listSessionsArgv, parseSessions, stopArgv} from '../../../src/core/sessions/sessions.js'

const L = 'dev.sourceos.agent-machine'
const entry = (name: string, labels: Record<string, string>, state = 'running') => ({Names: [name], Labels: labels, State: state, StartedAt: 1796555366, ImageID: 'a'.repeat(64)})

describe('sessions', () => {
  it('lists agent containers only: not the egress proxy or the guard, and not a container that borrows the label under another name', () => {
    const out = JSON.stringify([
      entry('sourceos-agent-run0000001', {[`${L}.run-id`]: 'run0000001', [`${L}.verb`]: 'run', [`${L}.tool`]: 'codex', [`${L}.network`]: 'allowlist', [`${L}.workdir`]: '/workspace/app', [`${L}.profile`]: 'p'}),
      entry('sourceos-proxy-run0000001', {[`${L}.run-id`]: 'run0000001', [`${L}.role`]: 'egress-proxy'}),
      entry('sourceos-netguard-run0000002', {[`${L}.run-id`]: 'run0000002', [`${L}.role`]: 'link-local-guard'}),
      entry('impostor', {[`${L}.run-id`]: 'run0000003'}),
      entry('sourceos-agent-BAD', {[`${L}.run-id`]: 'BAD'}),
    ])
    expect(parseSessions(out)).toEqual([
      {runId: 'run0000001', container: 'sourceos-agent-run0000001', verb: 'run', tool: 'codex', profile: 'p', network: 'allowlist', workdir: '/workspace/app', state: 'running', startedAt: '2026-12-06T11:09:26Z', image: 'a'.repeat(12)},
    ])
  })

  it('refuses output that is not JSON, and takes an empty list', () => {
    expect(() => parseSessions('Error: something')).toThrow(/not JSON/)
    expect(parseSessions('')).toEqual([])
    expect(parseSessions('[]')).toEqual([])
  })

  it('asks through the profile’s connection, by label', () => {
    expect(listSessionsArgv({binary: 'podman', connection: 'sourceos-agent'})).toEqual(['podman', '--connection', 'sourceos-agent', 'ps', '--all', `--filter=label=${L}.run-id`, '--format=json'])
  })

  it('exec runs in the same container with nothing added: no --user, --env, --privileged or capability', () => {
    const s = parseSessions(JSON.stringify([entry('sourceos-agent-run0000001', {[`${L}.run-id`]: 'run0000001'})]))[0]!
    expect(execArgv({binary: 'podman', connection: null}, s, {tty: false}, [])).toEqual(['podman', 'exec', '--interactive', 'sourceos-agent-run0000001', '/bin/sh'])
    const argv = execArgv({binary: 'podman', connection: null}, s, {tty: true}, ['git', 'status'])
    expect(argv).toEqual(['podman', 'exec', '--interactive', '--tty', 'sourceos-agent-run0000001', 'git', 'status'])
    expect(argv.some((a) => /^--(user|env|privileged|cap-add|workdir)/.test(a))).toBe(false)
    expect(stopArgv({binary: 'podman', connection: null}, s, 3)).toEqual(['podman', 'stop', '--time=3', 'sourceos-agent-run0000001'])
  })
})
