/**
 * The path primitives the mount policy compares with: variable lookup and expansion per host,
 * comparison keys (Win32 trailing dots and spaces, case folding, long-path prefixes), and the
 * glob matchers (`*` one segment, `**` any number including none, relative `**\/…`).
 */
import {describe, expect, it} from 'vitest'
import {
  compilePattern,
  envValue,
  expandVars,
  fold,
  isWin32NonLocal,
  keyEquals,
  keyIsAncestor,
  showPath,
  splitAtFirstGlob,
  stripWin32LongPrefix,
  toKey,
  varValue,
  type PathKey,
} from '../../../src/core/policy/path-key.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'

const linux = fakeHostFacts('linux', {homeDir: '/home/u', uid: 1000, env: {HOME: '/home/u'}})
const macos = fakeHostFacts('macos', {homeDir: '/Users/u', env: {HOME: '/Users/u'}})
const windows = fakeHostFacts('windows', {homeDir: 'C:\\Users\\Me', env: {USERPROFILE: 'C:\\Users\\Me'}})

const key = (p: string, host = linux): PathKey => {
  const k = toKey(p, host)
  if (!k) throw new Error(`no key for ${p}`)
  return k
}

describe('variable lookup', () => {
  it('is case-insensitive on Windows only, and an empty value is unset', () => {
    expect(envValue('PATH', {...windows, env: {Path: 'C:\\bin'}})).toBe('C:\\bin')
    expect(envValue('path', {...windows, env: {PATH: 'C:\\bin'}})).toBe('C:\\bin')
    expect(envValue('PATH', {...linux, env: {Path: '/bin'}})).toBeUndefined()
    expect(envValue('PATH', {...windows, env: {Path: ''}})).toBeUndefined()
    expect(envValue('X', {...linux, env: {X: ''}})).toBeUndefined()
    expect(envValue('X', {...windows, env: {}})).toBeUndefined()
  })

  it('on Windows the first spelling found is used', () => {
    expect(envValue('Temp', {...windows, env: {tEMP: 'first', TEMP_X: 'no', temP: 'second'}})).toBe('first')
  })

  it.each([
    ['USERPROFILE', 'C:\\Users\\Me'],
    ['appdata', 'C:\\Users\\Me\\AppData\\Roaming'],
    ['LocalAppData', 'C:\\Users\\Me\\AppData\\Local'],
    ['PROGRAMDATA', 'C:\\ProgramData'],
    ['ALLUSERSPROFILE', 'C:\\ProgramData'],
    ['TEMP', 'C:\\Users\\Me\\AppData\\Local\\Temp'],
    ['tmp', 'C:\\Users\\Me\\AppData\\Local\\Temp'],
    ['HOME', undefined],
    ['XDG_CONFIG_HOME', undefined],
  ])('Windows default of %s: %s', (name, value) => {
    expect(varValue(name, {...windows, env: {}})).toBe(value)
  })

  it('on Windows a set variable wins over its default, and TEMP follows a relocated LOCALAPPDATA', () => {
    expect(varValue('APPDATA', {...windows, env: {APPDATA: 'D:\\Roaming'}})).toBe('D:\\Roaming')
    expect(varValue('TEMP', {...windows, env: {LOCALAPPDATA: 'D:\\Local'}})).toBe('D:\\Local\\Temp')
    expect(varValue('CUSTOM', {...windows, env: {custom: 'x'}})).toBe('x')
  })

  it.each([
    ['XDG_CONFIG_HOME', '/home/u/.config'],
    ['XDG_DATA_HOME', '/home/u/.local/share'],
    ['XDG_STATE_HOME', '/home/u/.local/state'],
    ['XDG_CACHE_HOME', '/home/u/.cache'],
    ['XDG_RUNTIME_DIR', '/run/user/1000'],
    ['HOME', '/home/u'],
    ['TMPDIR', '/tmp'],
    ['EDITOR', undefined],
  ])('POSIX default of %s: %s', (name, value) => {
    expect(varValue(name, {...linux, env: {}})).toBe(value)
  })

  it('an XDG variable is used when absolute and ignored when relative (the spec says so)', () => {
    for (const name of ['XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'XDG_STATE_HOME', 'XDG_CACHE_HOME', 'XDG_RUNTIME_DIR']) {
      expect(varValue(name, {...linux, env: {[name]: '/srv/x'}}), name).toBe('/srv/x')
      expect(varValue(name, {...linux, env: {[name]: 'srv/x'}}), name).not.toBe('srv/x')
    }
    expect(varValue('XDG_DATA_HOME', {...linux, env: {XDG_DATA_HOME: 'rel'}})).toBe('/home/u/.local/share')
  })

  it('XDG_RUNTIME_DIR has a default only on Linux with a uid', () => {
    expect(varValue('XDG_RUNTIME_DIR', {...macos, env: {}})).toBeUndefined()
    expect(varValue('XDG_RUNTIME_DIR', {...linux, uid: null, env: {}})).toBeUndefined()
    expect(varValue('XDG_RUNTIME_DIR', {...linux, uid: 0, env: {}})).toBe('/run/user/0')
  })

  it('HOME and TMPDIR from the environment win over their defaults', () => {
    expect(varValue('HOME', {...linux, env: {HOME: '/srv/home'}})).toBe('/srv/home')
    expect(varValue('TMPDIR', {...linux, env: {TMPDIR: '/var/tmp'}})).toBe('/var/tmp')
  })
})

describe('expansion', () => {
  it('expands a leading ~ to the home directory, and only that', () => {
    expect(expandVars('~', linux)).toEqual({ok: true, value: '/home/u'})
    expect(expandVars('~/dev', linux)).toEqual({ok: true, value: '/home/u/dev'})
    expect(expandVars('~\\dev', windows)).toEqual({ok: true, value: 'C:\\Users\\Me\\dev'})
    expect(expandVars('/a/~/b', linux)).toEqual({ok: true, value: '/a/~/b'})
  })

  it("refuses another user's home (~bob), naming it", () => {
    expect(expandVars('~bob/dev', linux)).toEqual({ok: false, failure: {kind: 'tilde-user', text: '~bob'}})
    expect(expandVars('~bob\\dev', windows)).toEqual({ok: false, failure: {kind: 'tilde-user', text: '~bob'}})
    expect(expandVars('~\\dev', linux)).toEqual({ok: false, failure: {kind: 'tilde-user', text: '~'}})
  })

  it('expands $VAR and ${VAR} everywhere, %VAR% on Windows only', () => {
    const host = {...linux, env: {HOME: '/home/u', A: '/srv/a', B_1: 'b'}}
    expect(expandVars('$A/${B_1}/x$B_1', host)).toEqual({ok: true, value: '/srv/a/b/xb'})
    expect(expandVars('%A%/x', host)).toEqual({ok: true, value: '%A%/x'})
    const win = {...windows, env: {USERPROFILE: 'C:\\Users\\Me', A: 'D:\\a'}}
    expect(expandVars('%A%\\x\\$A\\${A}', win)).toEqual({ok: true, value: 'D:\\a\\x\\D:\\a\\D:\\a'})
    expect(expandVars('%LOCALAPPDATA%\\x', win)).toEqual({ok: true, value: 'C:\\Users\\Me\\AppData\\Local\\x'})
    expect(expandVars('%ProgramFiles(x86)%', {...win, env: {...win.env, 'ProgramFiles(x86)': 'C:\\P86'}})).toEqual({ok: true, value: 'C:\\P86'})
  })

  it('a substituted value is not expanded again', () => {
    expect(expandVars('$A', {...linux, env: {A: '$B', B: 'no'}})).toEqual({ok: true, value: '$B'})
  })

  it('names the first unset variable', () => {
    expect(expandVars('$NOPE/${ALSO}', {...linux, env: {}})).toEqual({ok: false, failure: {kind: 'unset', name: 'NOPE'}})
    expect(expandVars('%NOPE%\\x', {...windows, env: {}})).toEqual({ok: false, failure: {kind: 'unset', name: 'NOPE'}})
    expect(expandVars('${ALSO}', {...linux, env: {}})).toEqual({ok: false, failure: {kind: 'unset', name: 'ALSO'}})
  })
})

describe('comparison keys', () => {
  it('folds case and Unicode form where the file system does, and nowhere else', () => {
    expect(fold('ÄBß', macos)).toBe('äbss')
    expect(fold('A\u030a', macos)).toBe('\u00e5')
    expect(fold('ÄB', linux)).toBe('ÄB')
  })

  it('strips Win32 long-path prefixes and reads / as \\', () => {
    expect(stripWin32LongPrefix('\\\\?\\UNC\\srv\\share\\x')).toBe('\\\\srv\\share\\x')
    expect(stripWin32LongPrefix('\\\\?\\unc\\srv\\share')).toBe('\\\\srv\\share')
    expect(stripWin32LongPrefix('\\\\?\\C:\\x')).toBe('C:\\x')
    expect(stripWin32LongPrefix('//?/C:/x')).toBe('C:\\x')
    expect(stripWin32LongPrefix('C:/x/y')).toBe('C:\\x\\y')
    expect(stripWin32LongPrefix('\\\\.\\pipe\\x')).toBe('\\\\.\\pipe\\x')
  })

  it('tells network and device paths from local ones', () => {
    for (const p of ['\\\\srv\\share', '//srv/share', '\\\\.\\pipe\\docker', '\\\\?\\UNC\\srv\\share', '/\\srv\\x']) expect(isWin32NonLocal(p), p).toBe(true)
    for (const p of ['C:\\x', '\\\\?\\C:\\x', '\\x', 'x\\\\y']) expect(isWin32NonLocal(p), p).toBe(false)
  })

  it('POSIX: absolute only, . and .. and empty segments resolved lexically', () => {
    expect(toKey('rel/x', linux)).toBeNull()
    expect(key('/a/./b/../c//d/')).toEqual({root: '/', segs: ['a', 'c', 'd']})
    expect(key('/../a')).toEqual({root: '/', segs: ['a']})
    expect(key('/A/é', macos)).toEqual({root: '/', segs: ['a', 'é']})
    expect(key('/a./b ', linux)).toEqual({root: '/', segs: ['a.', 'b ']})
  })

  it('Windows drops trailing dots and spaces of every component, as Win32 does', () => {
    expect(key('C:\\Users\\Me\\.aws..', windows)).toEqual({root: 'c:\\', segs: ['users', 'me', '.aws']})
    expect(key('C:\\Users\\Me\\.aws. .\\config', windows)).toEqual({root: 'c:\\', segs: ['users', 'me', '.aws', 'config']})
    expect(key('C:\\a\\...\\b', windows)).toEqual({root: 'c:\\', segs: ['a', 'b']})
    expect(key('C:\\a\\ .x', windows)).toEqual({root: 'c:\\', segs: ['a', ' .x']})
    expect(key('C:\\a\\x.y', windows)).toEqual({root: 'c:\\', segs: ['a', 'x.y']})
  })

  it('Windows: drive and UNC roots; anything else is not absolute', () => {
    expect(key('\\\\?\\D:\\x', windows)).toEqual({root: 'd:\\', segs: ['x']})
    expect(key('\\\\Srv\\Share\\X\\..\\y', windows)).toEqual({root: '\\\\srv\\share', segs: ['y']})
    expect(key('\\\\srv\\share', windows)).toEqual({root: '\\\\srv\\share', segs: []})
    expect(key('C:\\', windows)).toEqual({root: 'c:\\', segs: []})
    for (const p of ['C:x', '\\x', '\\\\srv', '\\\\srv\\', 'x\\y', '1:\\x', ' C:\\x']) expect(toKey(p, windows), p).toBeNull()
  })

  it('equality and strict ancestry compare root and every segment', () => {
    expect(keyEquals(key('/a/b'), key('/a/b'))).toBe(true)
    expect(keyEquals(key('/a/b'), key('/a/c'))).toBe(false)
    expect(keyEquals(key('/a'), key('/a/b'))).toBe(false)
    expect(keyEquals(key('C:\\a', windows), key('D:\\a', windows))).toBe(false)
    expect(keyIsAncestor(key('/a'), key('/a/b'))).toBe(true)
    expect(keyIsAncestor(key('/'), key('/a'))).toBe(true)
    expect(keyIsAncestor(key('/a'), key('/a'))).toBe(false)
    expect(keyIsAncestor(key('/a/b'), key('/a'))).toBe(false)
    expect(keyIsAncestor(key('/x'), key('/a/b'))).toBe(false)
    expect(keyIsAncestor(key('C:\\', windows), key('D:\\a', windows))).toBe(false)
  })
})

describe('globs', () => {
  const m = (pattern: string, host = linux) => {
    const matcher = compilePattern(pattern, host)
    if (!matcher) throw new Error(`no matcher for ${pattern}`)
    return matcher
  }

  it('a relative pattern or a non-absolute one has no matcher', () => {
    expect(compilePattern('a/b', linux)).toBeNull()
    expect(compilePattern('C:x', windows)).toBeNull()
  })

  it('** matches any number of folders, none included', () => {
    const g = m('/a/**/b')
    for (const p of ['/a/b', '/a/x/b', '/a/x/y/b']) expect(g.equals(key(p)), p).toBe(true)
    for (const p of ['/a', '/a/x', '/a/b/x', '/b', '/x/a/b']) expect(g.equals(key(p)), p).toBe(false)
    expect(g.covers(key('/a/b/x'))).toBe(true)
    expect(g.covers(key('/a/x/c'))).toBe(false)
  })

  it('a trailing /** is the folder and everything below it', () => {
    const g = m('/a/**')
    for (const p of ['/a', '/a/b', '/a/b/c']) expect(g.equals(key(p)), p).toBe(true)
    expect(g.equals(key('/b'))).toBe(false)
    expect(g.isAncestorOfMatch(key('/a'))).toBe(false)
    expect(g.isAncestorOfMatch(key('/'))).toBe(true)
  })

  it('* and ? stay within one folder and match dot files', () => {
    const g = m('/a/*/b')
    expect(g.equals(key('/a/x/b'))).toBe(true)
    expect(g.equals(key('/a/.x/b'))).toBe(true)
    expect(g.equals(key('/a/b'))).toBe(false)
    expect(g.equals(key('/a/x/y/b'))).toBe(false)
    const q = m('/a/?')
    expect(q.equals(key('/a/x'))).toBe(true)
    expect(q.equals(key('/a/xy'))).toBe(false)
    expect(q.equals(key('/a'))).toBe(false)
    const star = m('/a/x*')
    expect(star.equals(key('/a/x'))).toBe(true)
    expect(star.equals(key('/a/xyz'))).toBe(true)
    expect(star.equals(key('/a/yx'))).toBe(false)
    expect(m('/a/*x').equals(key('/a/x\ny'))).toBe(false)
    expect(m('/a/*').equals(key('/a/x\ny'))).toBe(true)
  })

  it('other characters of a glob segment are literal', () => {
    const g = m('/a/b.c*')
    expect(g.equals(key('/a/b.c'))).toBe(true)
    expect(g.equals(key('/a/bxc'))).toBe(false)
    expect(m('/a/(x)+*').equals(key('/a/(x)+1'))).toBe(true)
    expect(m('/a/(x)+*').equals(key('/a/xx1'))).toBe(false)
    expect(m('/a/$x^*').equals(key('/a/$x^1'))).toBe(true)
    expect(m('/a/[ab]*').equals(key('/a/a1'))).toBe(false)
    expect(m('/a/{a}*').equals(key('/a/{a}'))).toBe(true)
    expect(m('/a/x|y*').equals(key('/a/y'))).toBe(false)
  })

  it('a literal pattern is no glob; one with * ? or ** is', () => {
    expect(m('/a/b').hasGlob).toBe(false)
    expect(m('/a/*').hasGlob).toBe(true)
    expect(m('/a/?').hasGlob).toBe(true)
    expect(m('/a/**').hasGlob).toBe(true)
  })

  it('covers: the match and everything inside it', () => {
    const g = m('/a/b')
    expect(g.covers(key('/a/b'))).toBe(true)
    expect(g.covers(key('/a/b/c'))).toBe(true)
    expect(g.covers(key('/a'))).toBe(false)
    expect(g.covers(key('/a/c'))).toBe(false)
    expect(m('C:\\a', windows).covers(key('D:\\a\\x', windows))).toBe(false)
    expect(m('C:\\a', windows).equals(key('D:\\a', windows))).toBe(false)
  })

  it('a relative **/ pattern matches at any depth, never equals a path and is no ancestor', () => {
    const g = m('**/*.kdbx')
    expect(g.root).toBeNull()
    expect(g.covers(key('/v.kdbx'))).toBe(true)
    expect(g.covers(key('/x/y/v.kdbx'))).toBe(true)
    expect(g.covers(key('/x/v.kdbx/inner'))).toBe(true)
    expect(g.covers(key('/x/v.txt'))).toBe(false)
    expect(g.covers(key('/'))).toBe(false)
    expect(g.equals(key('/x/v.kdbx'))).toBe(false)
    expect(g.isAncestorOfMatch(key('/x'))).toBe(false)
    expect(m('**/./KEYS/*.KDBX', macos).covers(key('/U/keys/V.kdbx', macos))).toBe(true)
    expect(m('**\\keys\\*.kdbx', windows).covers(key('C:\\x\\keys\\v.kdbx', windows))).toBe(true)
    expect(m('**/keys/x', linux).covers(key('/a/keys/y/x'))).toBe(false)
  })

  it('isAncestorOfMatch: a strict ancestor of something the pattern could match', () => {
    const g = m('/a/b/c')
    expect(g.isAncestorOfMatch(key('/'))).toBe(true)
    expect(g.isAncestorOfMatch(key('/a'))).toBe(true)
    expect(g.isAncestorOfMatch(key('/a/b'))).toBe(true)
    expect(g.isAncestorOfMatch(key('/a/b/c'))).toBe(false)
    expect(g.isAncestorOfMatch(key('/a/b/c/d'))).toBe(false)
    expect(g.isAncestorOfMatch(key('/a/x'))).toBe(false)
    expect(m('C:\\a\\b', windows).isAncestorOfMatch(key('D:\\a', windows))).toBe(false)
    const deep = m('/a/**/b')
    expect(deep.isAncestorOfMatch(key('/a'))).toBe(true)
    expect(deep.isAncestorOfMatch(key('/a/x/y'))).toBe(true)
    expect(deep.isAncestorOfMatch(key('/x'))).toBe(false)
    expect(m('/a/*/b').isAncestorOfMatch(key('/a/x'))).toBe(true)
    expect(m('/a/*/b').isAncestorOfMatch(key('/a/x/y'))).toBe(false)
  })

  it('runs of ** behave as one', () => {
    const g = m('/a/**/**/b')
    expect(g.segments.map((s) => s.kind)).toEqual(['literal', 'globstar', 'literal'])
    expect(g.equals(key('/a/b'))).toBe(true)
    expect(g.equals(key('/a/x/y/b'))).toBe(true)
  })

  it('splits a pattern at its first glob', () => {
    expect(splitAtFirstGlob('/a/b/*.x/c', linux)).toEqual({literal: '/a/b', rest: '*.x/c'})
    expect(splitAtFirstGlob('/a/b?/c', linux)).toEqual({literal: '/a', rest: 'b?/c'})
    expect(splitAtFirstGlob('/a/b', linux)).toEqual({literal: '/a/b', rest: ''})
    expect(splitAtFirstGlob('C:/a/*/b', windows)).toEqual({literal: 'C:\\a', rest: '*\\b'})
    expect(splitAtFirstGlob('/a\\b/*', linux)).toEqual({literal: '/a\\b', rest: '*'})
  })
})

describe('paths in messages', () => {
  it('control, separator and bidi characters are shown escaped; everything else as is', () => {
    expect(showPath('/a\nb\tc\x00\x1f\x7f\x9f\u2028\u2029\u200e\u200f\u202a\u202e\u2066\u2069')).toBe(
      '/a\\u000ab\\u0009c\\u0000\\u001f\\u007f\\u009f\\u2028\\u2029\\u200e\\u200f\\u202a\\u202e\\u2066\\u2069',
    )
    expect(showPath('/a b~\xa0é\u200d\u2027\u202f\u2065\u206a\u20ac')).toBe('/a b~\xa0é\u200d\u2027\u202f\u2065\u206a\u20ac')
  })
})
