// Redaction by shape, at its edges: what counts as an option name (kept) and what is a value
// (hashed), values that are already redacted are not hashed again, podman env in every spelling,
// the container command after the image, and home paths at every separator — and never a partial
// match of another user's home.
import {createHash} from 'node:crypto'
import {describe, expect, it} from 'vitest'

import {displayPodmanArgv, homeRelative, homeRelativeDeep, isRedacted, redactArg, redactCliArgv, redactedValue, redactPodmanArgv} from '../../../src/core/evidence/redact.js'

const sha = (v: string) => createHash('sha256').update(v, 'utf8').digest('hex')
const R = redactedValue

describe('option names and values', () => {
  it('an option name is a dash or two, a letter, then letters and dashes, 49 characters at most after the dashes', () => {
    for (const name of ['-p', '--a', '--dangerously-skip-permissions', `--a${'b'.repeat(47)}`, '-Ab-c']) expect(redactArg(name)).toBe(name)
    for (const value of ['-', '--', '---x', '--1', '--a1', '--a_b', '--a.b', `--a${'b'.repeat(48)}`, 'p', '- p', '--a b', '--a\n']) expect(redactArg(value)).toBe(R(value))
  })

  it('--name=value keeps the name and hashes the value, an empty value included; a value-only or bad-name assignment is hashed whole', () => {
    expect(redactArg('--model=o3')).toBe(`--model=${R('o3')}`)
    expect(redactArg('--k=')).toBe(`--k=${R('')}`)
    expect(redactArg('--k=a=b')).toBe(`--k=${R('a=b')}`)
    expect(redactArg('=secret')).toBe(R('=secret'))
    expect(redactArg('KEY1=secret')).toBe(R('KEY1=secret'))
    expect(redactArg('--k1=secret')).toBe(R('--k1=secret'))
  })

  it('a redacted value is exactly "[redacted sha256:<64 lowercase hex>]"; it is kept as it is, alone or after --name=', () => {
    const r = R('v')
    expect(r).toBe(`[redacted sha256:${sha('v')}]`)
    expect(redactArg(r)).toBe(r)
    expect(redactArg(`--k=${r}`)).toBe(`--k=${r}`)
    for (const near of [`[redacted sha256:${sha('v').slice(1)}]`, `[redacted sha256:${sha('v').toUpperCase()}]`, `${r} `, ` ${r}`, `[redacted sha512:${sha('v')}]`]) {
      expect(isRedacted(near), near).toBe(false)
      expect(redactArg(near)).toBe(R(near))
    }
  })

  it('hashes the UTF-8 bytes of the value', () => {
    expect(R('clé')).toBe(`[redacted sha256:${createHash('sha256').update(Buffer.from('clé', 'utf8')).digest('hex')}]`)
  })
})

describe('the CLI’s own argv', () => {
  it('without --, only arguments equal to a tool argument are redacted; the -- itself and everything before it stay', () => {
    expect(redactCliArgv(['agent-machine', 'run', '--tool', 'codex', 'hello'], ['hello'])).toEqual(['agent-machine', 'run', '--tool', 'codex', R('hello')])
    expect(redactCliArgv(['agent-machine', 'run', '--repo', '/r'], [])).toEqual(['agent-machine', 'run', '--repo', '/r'])
    expect(redactCliArgv(['run', '--repo', '/r', '--', 'a', '--flag', '--k=v'], [])).toEqual(['run', '--repo', '/r', '--', R('a'), '--flag', `--k=${R('v')}`])
    expect(redactCliArgv(['--', 'x'], [])).toEqual(['--', R('x')])
  })
})

describe('podman argv', () => {
  it('env in every spelling: --env=N=V, --env N=V, -e N=V; values hashed unless the policy sets exactly that value', () => {
    const argv = ['podman', 'create', '--env=A=1', '--env', 'B=2', '-e', 'C=3', '--env=SET=fixed', '--env=SET2=changed', 'img']
    expect(redactPodmanArgv(argv, {image: 'img', envSet: {SET: 'fixed', SET2: 'policy'}})).toEqual([
      'podman', 'create', `--env=A=${R('1')}`, '--env', `B=${R('2')}`, '-e', `C=${R('3')}`, '--env=SET=fixed', `--env=SET2=${R('changed')}`, 'img',
    ])
  })

  it('an env value equal to an inherited object property is still hashed (only the policy’s own keys count)', () => {
    const argv = ['podman', 'create', '--env=constructor=x', '--env=toString=y', 'img']
    expect(redactPodmanArgv(argv, {image: 'img'})).toEqual(['podman', 'create', `--env=constructor=${R('x')}`, `--env=toString=${R('y')}`, 'img'])
  })

  it('an env entry without a value (podman copies it from the host) or without a name is left as written; an already redacted value stays', () => {
    const r = R('s')
    expect(redactPodmanArgv(['podman', 'create', '--env=FOO', '--env==x', `--env=K=${r}`, '-e', `J=${r}`, 'img'], {image: 'img'})).toEqual(['podman', 'create', '--env=FOO', '--env==x', `--env=K=${r}`, '-e', `J=${r}`, 'img'])
  })

  it('a trailing --env, or an -e right before the image, does not swallow the next argument', () => {
    expect(redactPodmanArgv(['podman', 'create', '--env'], {})).toEqual(['podman', 'create', '--env'])
    expect(redactPodmanArgv(['podman', 'create', '-e', 'img', 'codex', 'secret'], {image: 'img', commandLength: 1})).toEqual(['podman', 'create', '-e', 'img', 'codex', R('secret')])
  })

  it('after the image: the tool’s own command stays, its arguments are redacted by shape (none kept when no command length is given)', () => {
    const argv = ['podman', 'create', 'img', 'codex', 'exec', '--model=o3', '--yolo', 'do it']
    expect(redactPodmanArgv(argv, {image: 'img', commandLength: 2})).toEqual(['podman', 'create', 'img', 'codex', 'exec', `--model=${R('o3')}`, '--yolo', R('do it')])
    expect(redactPodmanArgv(argv, {image: 'img'})).toEqual(['podman', 'create', 'img', R('codex'), R('exec'), `--model=${R('o3')}`, '--yolo', R('do it')])
  })

  it('without an image, or with one that is not in the argv, nothing is taken for the container command', () => {
    const argv = ['podman', 'create', '--env=A=1', 'img', 'codex', 'secret']
    expect(redactPodmanArgv(argv, {})).toEqual(['podman', 'create', `--env=A=${R('1')}`, 'img', 'codex', 'secret'])
    expect(redactPodmanArgv(argv, {image: 'other'})).toEqual(['podman', 'create', `--env=A=${R('1')}`, 'img', 'codex', 'secret'])
  })
})

describe('showing a recorded podman argv', () => {
  const ID = 'b'.repeat(64)
  const rec = (over: Partial<{imageId: string; imageRef: string; toolCommand: string[] | null; envSet: Record<string, string>}> = {}) => ({imageId: `sha256:${ID}`, imageRef: 'localhost/agent:1', toolCommand: ['codex'], envSet: {}, ...over})

  it('finds the image by its bare ID, its sha256: ID or its reference; keeps the tool’s command, lists and redacts its arguments', () => {
    for (const image of [ID, `sha256:${ID}`, 'localhost/agent:1']) {
      const out = displayPodmanArgv(['podman', 'create', '--env=HOME=/home/agent', '--env=K=v', image, 'codex', '--key', 'secret'], rec())
      expect(out.argv).toEqual(['podman', 'create', '--env=HOME=/home/agent', `--env=K=${R('v')}`, image, 'codex', '--key', R('secret')])
      expect(out.toolArgs).toEqual(['--key', 'secret'])
    }
  })

  it('a shell record (no tool command) keeps /bin/sh; a command that does not match the profile’s is all arguments', () => {
    expect(displayPodmanArgv(['podman', 'create', ID, '/bin/sh'], rec({toolCommand: null}))).toEqual({argv: ['podman', 'create', ID, '/bin/sh'], toolArgs: []})
    expect(displayPodmanArgv(['podman', 'create', ID, 'claude', 'x'], rec())).toEqual({argv: ['podman', 'create', ID, R('claude'), R('x')], toolArgs: ['claude', 'x']})
    expect(displayPodmanArgv(['podman', 'create', ID, 'codex'], rec({toolCommand: ['codex', 'exec']})).toolArgs).toEqual(['codex'])
  })

  it('the policy’s own env values and HOME=/home/agent stay; another HOME is hashed; with no image, no tool arguments', () => {
    expect(displayPodmanArgv(['podman', 'create', '--env=LANG=C', '--env=HOME=/root', ID], rec({envSet: {LANG: 'C'}})).argv).toEqual(['podman', 'create', '--env=LANG=C', `--env=HOME=${R('/root')}`, ID])
    expect(displayPodmanArgv(['podman', 'create', 'codex', 'secret'], rec())).toEqual({argv: ['podman', 'create', 'codex', 'secret'], toolArgs: []})
  })
})

describe('home-relative paths', () => {
  it('after =, :, , or whitespace, and before /, \\, :, , or the end; every occurrence', () => {
    expect(homeRelative('PATH=/home/u/bin:/home/u/.local/bin', '/home/u')).toBe('PATH=~/bin:~/.local/bin')
    expect(homeRelative('cd /home/u/a && ls /home/u', '/home/u')).toBe('cd ~/a && ls ~')
    expect(homeRelative('a,/home/u,b', '/home/u')).toBe('a,~,b')
    expect(homeRelative('/home/u:x', '/home/u')).toBe('~:x')
    expect(homeRelative('C:\\Users\\u\\src', 'C:\\Users\\u')).toBe('~\\src')
    expect(homeRelative('x/home/u', '/home/u')).toBe('x/home/u')
    expect(homeRelative('/home/u-other', '/home/u')).toBe('/home/u-other')
  })

  it('the home followed or preceded by any non-name character loses the user name (shell text, quotes)', () => {
    expect(homeRelative('cd /home/u && make', '/home/u')).toBe('cd ~ && make')
    expect(homeRelative('cd /home/u; ls "/home/u" \'/home/u\' (/home/u)', '/home/u')).toBe('cd ~; ls "~" \'~\' (~)')
    expect(homeRelative('/home/u&/home/u|/home/u>', '/home/u')).toBe('~&~|~>')
    expect(homeRelative('/home/uñ/x /home/u.bak /home/u_2 /home/u~', '/home/u')).toBe('/home/uñ/x /home/u.bak /home/u_2 /home/u~')
    expect(homeRelative('/srv/home/u \\share\\home\\u', '/home/u')).toBe('/srv/home/u \\share\\home\\u')
  })

  it('a home with regex characters matches only itself', () => {
    expect(homeRelative('/home/a.b/x', '/home/a.b')).toBe('~/x')
    expect(homeRelative('/home/aXb/x', '/home/a.b')).toBe('/home/aXb/x')
    expect(homeRelative('/home/a+/x /home/aa/x', '/home/a+')).toBe('~/x /home/aa/x')
  })

  it('an empty home or / changes nothing; trailing separators of the home are ignored', () => {
    expect(homeRelative('/home/u/x', '')).toBe('/home/u/x')
    expect(homeRelative('/home/u/x', '/')).toBe('/home/u/x')
    expect(homeRelative('/home/u/x', '///')).toBe('/home/u/x')
    expect(homeRelative('/home/u/x', '/home/u//')).toBe('~/x')
    expect(homeRelative('C:\\Users\\u\\x', 'C:\\Users\\u\\')).toBe('~\\x')
  })

  it('deep: strings in arrays and nested objects and object keys; numbers, booleans and null unchanged', () => {
    expect(homeRelativeDeep({'/home/u/k': {list: ['/home/u/a', 1, true, null], n: 2}, s: '/home/u'}, '/home/u')).toEqual({'~/k': {list: ['~/a', 1, true, null], n: 2}, s: '~'})
    expect(homeRelativeDeep('/home/u/x', '/home/u')).toBe('~/x')
    expect(homeRelativeDeep(null, '/home/u')).toBeNull()
  })
})
