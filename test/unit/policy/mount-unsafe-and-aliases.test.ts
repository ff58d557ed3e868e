/**
 * Mount sources and targets podman cannot carry safely are refused, and naming the home
 * directory, a broad root or a denied path through a symlinked alias does not get past the policy.
 */
import {describe, expect, it} from 'vitest'
import type {ExpandedDeny, ExpandedRoot} from '../../../src/core/policy/catalogue.js'
import {findUnsafeChar, judgeMountSource, judgeMountTarget, mountRefusalFix, refusalMessage} from '../../../src/core/policy/mount-policy.js'
import {compilePattern} from '../../../src/core/policy/path-key.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'

const linux = fakeHostFacts('linux', {homeDir: '/home/u', env: {HOME: '/home/u'}})
const windows = fakeHostFacts('windows', {homeDir: 'C:\\Users\\Me', env: {USERPROFILE: 'C:\\Users\\Me'}})

describe('a character podman cannot carry in a mount path is refused, and named', () => {
  it.each([
    ['\0', 'a NUL byte (U+0000)'],
    ['\n', 'a newline (U+000A)'],
    ['\r', 'a carriage return (U+000D)'],
    ['\x01', 'a control character (U+0001)'],
    ['\t', 'a control character (U+0009)'],
    ['\x1f', 'a control character (U+001F)'],
    ['\x7f', 'a control character (U+007F)'],
    ['\x80', 'a control character (U+0080)'],
    ['\x9f', 'a control character (U+009F)'],
    ['\u2028', 'a line/paragraph separator (U+2028)'],
    ['\u2029', 'a line/paragraph separator (U+2029)'],
    ['\u200e', 'an invisible bidirectional-text control (U+200E)'],
    ['\u200f', 'an invisible bidirectional-text control (U+200F)'],
    ['\u202a', 'an invisible bidirectional-text control (U+202A)'],
    ['\u202e', 'an invisible bidirectional-text control (U+202E)'],
    ['\u2066', 'an invisible bidirectional-text control (U+2066)'],
    ['\u2069', 'an invisible bidirectional-text control (U+2069)'],
    [':', "a ':' (podman's -v separator)"],
    [',', "a ',' (podman's --mount option separator)"],
    ['"', "a '\"' (podman reads --mount as CSV)"],
  ])('%j: %s', (ch, described) => {
    const source = `/home/u/dev/a${ch}b`
    expect(findUnsafeChar(source, linux)).toBe(described)
    const d = judgeMountSource(source, linux)
    expect(d.allowed).toBe(false)
    expect(d.allowed === false && d.code).toBe('POLICY_UNSAFE_CHARS')
    const target = judgeMountTarget(`/workspace/a${ch}b`)
    expect(target).toMatchObject({allowed: false, code: 'POLICY_UNSAFE_CHARS'})
  })

  it('the first unsafe character is the one named', () => {
    expect(findUnsafeChar('/a,b:c', linux)).toBe("a ',' (podman's --mount option separator)")
    expect(findUnsafeChar('/a\u2028b\0', linux)).toBe('a line/paragraph separator (U+2028)')
  })

  it.each([' ', '~', '\xa0', '\u2027', '\u202f', '\u2065', '\u206a', '\u200d', 'é', "'", ';', '=', '\\'])('%j next to them is an ordinary character', (ch) => {
    expect(findUnsafeChar(`/home/u/dev/a${ch}b`, linux)).toBeNull()
    expect(judgeMountSource(`/home/u/dev/a${ch}b`, linux)).toEqual({allowed: true})
  })

  it("on Windows only the drive letter's colon is allowed", () => {
    expect(findUnsafeChar('C:\\dev\\repo', windows)).toBeNull()
    expect(findUnsafeChar('z:\\dev\\repo', windows)).toBeNull()
    expect(findUnsafeChar('C:\\dev\\a:b', windows)).toBe("a ':' (podman's -v separator)")
    expect(findUnsafeChar('1:\\dev', windows)).toBe("a ':' (podman's -v separator)")
    expect(findUnsafeChar('CC:\\dev', windows)).toBe("a ':' (podman's -v separator)")
    expect(findUnsafeChar(':\\dev', windows)).toBe("a ':' (podman's -v separator)")
    // Not on Linux: there a drive-like colon is a colon.
    expect(findUnsafeChar('C:/dev', linux)).toBe("a ':' (podman's -v separator)")
  })
})

describe('a mount target is a path strictly under /workspace', () => {
  it.each([
    ['/workspace/a\\b', "mount target /workspace/a\\b contains a backslash"],
    ['/workspace/\\', "mount target /workspace/\\ contains a backslash"],
    ['/workspace/a/', "mount target /workspace/a/ has an empty, '.' or '..' segment"],
    ['/workspace/a/..', "mount target /workspace/a/.. has an empty, '.' or '..' segment"],
    ['/workspace/.', "mount target /workspace/. has an empty, '.' or '..' segment"],
    ['/workspacex/a', 'mount target /workspacex/a is not under /workspace/'],
    ['/Workspace/a', 'mount target /Workspace/a is not under /workspace/'],
  ])('%j is refused (POLICY_TARGET): %s', (target, reason) => {
    expect(judgeMountTarget(target)).toEqual({allowed: false, code: 'POLICY_TARGET', reason})
  })

  it.each(['/workspace/.a', '/workspace/..a', '/workspace/a..', '/workspace/a/b/c'])('%j is allowed', (target) => {
    expect(judgeMountTarget(target)).toEqual({allowed: true})
  })
})

describe('symlinked aliases of the home directory, broad roots and denied paths are protected', () => {
  const root = (p: string, display: string): ExpandedRoot => ({matcher: compilePattern(p, linux)!, display}) as ExpandedRoot
  const deny = (p: string, risk: 'secret' | 'host-exec' = 'secret'): ExpandedDeny =>
    ({matcher: compilePattern(p, linux)!, display: p, rule: {category: 'test', title: `rule ${p}`, risk}}) as unknown as ExpandedDeny
  const aliases = {homes: ['/data/home-u'], broadRoots: [root('/data/config', '~/.config (= /data/config)')], deny: [deny('/data/dotfiles/ssh')]}

  it('the real folder of a symlinked home is the home directory', () => {
    expect(judgeMountSource('/data/home-u', linux, {aliases})).toMatchObject({allowed: false, code: 'POLICY_HOME'})
    expect(judgeMountSource('/data', linux, {aliases})).toMatchObject({allowed: false, code: 'POLICY_BROAD_ROOT', reason: '/data contains your home directory /data/home-u'})
    expect(judgeMountSource('/data/home-u/dev', linux, {aliases})).toEqual({allowed: true})
    expect(judgeMountSource('/data/home-u', linux)).toEqual({allowed: true})
  })

  it('a home named by HOME but not by homeDir is the home directory too', () => {
    const host = {...linux, env: {HOME: '/srv/u'}}
    expect(judgeMountSource('/srv/u', host)).toMatchObject({allowed: false, code: 'POLICY_HOME'})
    expect(judgeMountSource('D:\\Profiles\\Me', {...windows, env: {USERPROFILE: 'D:\\Profiles\\Me'}})).toMatchObject({allowed: false, code: 'POLICY_HOME'})
  })

  it('the real folder of a symlinked broad root is a broad root, and so is its parent', () => {
    expect(judgeMountSource('/data/config', linux, {aliases})).toMatchObject({
      allowed: false,
      code: 'POLICY_BROAD_ROOT',
      reason: "/data/config is the broad root ~/.config (= /data/config), which holds other programs' files and secrets",
    })
    expect(judgeMountSource('/data/config/app', linux, {aliases})).toEqual({allowed: true})
  })

  it('the real folder of a symlinked denied path is denied, inside and above', () => {
    expect(judgeMountSource('/data/dotfiles/ssh/keys', linux, {aliases})).toMatchObject({
      allowed: false,
      code: 'POLICY_SENSITIVE',
      reason: '/data/dotfiles/ssh/keys is inside /data/dotfiles/ssh (test: rule /data/dotfiles/ssh)',
      rule: {category: 'test', title: 'rule /data/dotfiles/ssh'},
    })
    expect(judgeMountSource('/data/dotfiles', linux, {aliases})).toMatchObject({allowed: false, code: 'POLICY_CONTAINS_SENSITIVE', reason: '/data/dotfiles contains /data/dotfiles/ssh (test: rule /data/dotfiles/ssh)'})
    expect(judgeMountSource('/data/dotfiles/vim', linux, {aliases})).toEqual({allowed: true})
  })

  it('a host-exec rule refuses as POLICY_HOST_EXEC, a secret rule matching too is named first', () => {
    const exec = {homes: [], broadRoots: [], deny: [deny('/srv/tools/bin', 'host-exec'), deny('/srv/tools/bin/keys')]}
    expect(judgeMountSource('/srv/tools/bin/keys', linux, {aliases: exec})).toMatchObject({code: 'POLICY_SENSITIVE', reason: '/srv/tools/bin/keys is inside /srv/tools/bin/keys (test: rule /srv/tools/bin/keys)'})
    expect(judgeMountSource('/srv/tools/bin/tool', linux, {aliases: exec})).toMatchObject({code: 'POLICY_HOST_EXEC', reason: '/srv/tools/bin/tool is inside /srv/tools/bin (test: rule /srv/tools/bin): the host runs what is written there'})
    expect(judgeMountSource('/srv/tools', linux, {aliases: exec})).toMatchObject({code: 'POLICY_CONTAINS_SENSITIVE', rule: {title: 'rule /srv/tools/bin/keys'}})
    const execOnly = {homes: [], broadRoots: [], deny: [deny('/srv/tools/bin', 'host-exec')]}
    expect(judgeMountSource('/srv/tools', linux, {aliases: execOnly})).toMatchObject({code: 'POLICY_HOST_EXEC', rule: {title: 'rule /srv/tools/bin'}})
  })

  it('extra deny patterns from the profile are denied like catalogue entries', () => {
    expect(judgeMountSource('/srv/secret/x', linux, {extraDeny: ['/srv/secret']})).toMatchObject({allowed: false, code: 'POLICY_SENSITIVE'})
    expect(judgeMountSource('/srv/other', linux, {extraDeny: ['/srv/secret']})).toEqual({allowed: true})
    expect(judgeMountSource('/srv/secret/x', linux, {extraDeny: []})).toEqual({allowed: true})
  })
})

describe('refusal sentences and fixes', () => {
  it('the fix says what to do for each kind of refusal', () => {
    expect(mountRefusalFix('POLICY_HOME', linux)).toBe('mount only the project folder itself, e.g. ~/dev/<repo>')
    expect(mountRefusalFix('POLICY_SENSITIVE', windows)).toBe('mount only the project folder itself, e.g. %USERPROFILE%\\dev\\<repo>')
    expect(mountRefusalFix('POLICY_NOT_LOCAL', windows)).toBe('clone the repository onto a local drive and mount that folder')
    expect(mountRefusalFix('POLICY_UNSAFE_CHARS', linux)).toMatch(/^move or rename the folder/)
  })

  it('a reason that starts with the path reads "it …"; a Windows long path is shown plain; where is added', () => {
    expect(refusalMessage('/home/u', '/home/u is your home directory', linux)).toBe('refusing to mount /home/u: it is your home directory.')
    expect(refusalMessage('/home/u', '/home/uu is x', linux)).toBe('refusing to mount /home/u: /home/uu is x.')
    expect(refusalMessage('\\\\?\\C:\\x', 'C:\\x is a drive', windows, ' on the remote Podman host')).toBe('refusing to mount C:\\x on the remote Podman host: it is a drive.')
    expect(judgeMountSource('\\\\?\\C:\\', windows)).toMatchObject({code: 'POLICY_ROOT', reason: 'C:\\ is a drive root'})
    expect(judgeMountSource('/', linux)).toMatchObject({code: 'POLICY_ROOT', reason: '/ is the filesystem root'})
  })
})
