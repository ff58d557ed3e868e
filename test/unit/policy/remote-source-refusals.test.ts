/**
 * A remote mount source is judged as a string: it must be absolute and normal, name no credential
 * folder at any depth, be more than a top-level or home folder, and pass the local catalogue.
 */
import {describe, expect, it} from 'vitest'
import {AgentMachineError} from '../../../src/core/errors.js'
import {REMOTE_SECRET_SEGMENTS, judgeRemoteSource} from '../../../src/core/policy/remote-source.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'

const host = fakeHostFacts('macos', {homeDir: '/Users/u', env: {HOME: '/Users/u'}})

function refused(source: string, what?: string): AgentMachineError {
  try {
    judgeRemoteSource(source, host, what)
  } catch (error) {
    if (error instanceof AgentMachineError) return error
    throw error
  }
  throw new Error(`expected ${source} to be refused`)
}

describe('a remote mount source', () => {
  it.each([
    ['~/work', '`~` would be the remote user’s home, which this host does not know'],
    ['$HOME/work', '$VARS are not expanded for a remote host'],
    ['work/app', 'a relative path has no meaning on the remote host'],
  ])('%s is not absolute: %s', (source, why) => {
    const e = refused(source, '--repo')
    expect([e.code, e.exitCode]).toEqual(['REMOTE_SOURCE_NOT_ABSOLUTE', 3])
    expect(e.message).toBe(`--repo ${source} is on the remote Podman host and must be an absolute path: ${why}.`)
    expect(e.fix).toBe('use an absolute, normal path on the remote host to the project folder itself, e.g. /srv/work/<repo>')
  })

  it.each(['/srv/work/../etc', '/srv/./work/app', '/srv//work/app', '/srv/work/app/'])('%s is not a normal path', (source) => {
    expect(refused(source).code).toBe('REMOTE_SOURCE_NOT_NORMAL')
  })

  it('says the normal form it would be', () => {
    expect(refused('/srv/work/app/').message).toContain('(/srv/work/app)')
    expect(refused('/srv/..').message).toContain('(/)')
  })

  it.each(REMOTE_SECRET_SEGMENTS)('a path through %s is refused at any depth and in any case', (segment) => {
    expect(refused(`/srv/work/${segment}/x`).code).toBe('REMOTE_SOURCE_DENIED')
    expect(refused(`/srv/${segment.toUpperCase()}`).message).toContain(`it is or is inside ${segment.toUpperCase()}, a credential folder`)
    expect(judgeRemoteSource(`/srv/work/${segment}x`, host)).toBe(`/srv/work/${segment}x`)
  })

  it.each([
    ['/', 'the root or a top-level system folder'],
    ['/srv', 'the root or a top-level system folder'],
    ['/home', 'a whole home folder'],
    ['/root', 'a whole home folder'],
    ['/home/ann', 'a whole home folder'],
  ])('%s holds more than one project (%s)', (source, what) => {
    const e = refused(source)
    expect(e.code).toBe('REMOTE_SOURCE_DENIED')
    expect(e.message).toBe(`refusing to mount ${source} on the remote Podman host: ${what} holds far more than one project.`)
  })

  it('a project folder two levels down is allowed, under /home included', () => {
    for (const p of ['/srv/work', '/home/ann/app', '/opt/x/y', '/homes/ann', '/roots/x']) expect(judgeRemoteSource(p, host), p).toBe(p)
  })

  it('the local catalogue applies, as a case-sensitive Linux path', () => {
    const e = refused('/etc/ssh/x')
    expect(e.code).toBe('POLICY_SENSITIVE')
    expect(e.message).toMatch(/^refusing to mount \/etc\/ssh\/x on the remote Podman host: /)
    expect(e.details).toMatchObject({path: '/etc/ssh/x'})
    expect(judgeRemoteSource('/Users/u/dev', host)).toBe('/Users/u/dev')
    expect(judgeRemoteSource('/ETC/SSH', host)).toBe('/ETC/SSH')
  })
})
