import {describe, expect, it} from 'vitest'
import {parseGitConfig} from '../../../src/core/git/config-file.js'

function names(text: string): Array<[string, string | null]> {
  const parsed = parseGitConfig(text)
  if (!parsed.ok) throw new Error(`unreadable at ${parsed.line}: ${parsed.reason}`)
  return parsed.entries.map((e) => [e.name, e.value])
}

describe('parseGitConfig', () => {
  it('reads what git init and git remote add write', () => {
    const text = '[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n[remote "origin"]\n\turl = https://example.com/r.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n'
    expect(names(text)).toEqual([
      ['core.repositoryformatversion', '0'],
      ['core.filemode', 'true'],
      ['core.bare', 'false'],
      ['remote.origin.url', 'https://example.com/r.git'],
      ['remote.origin.fetch', '+refs/heads/*:refs/remotes/origin/*'],
    ])
  })

  it('lower-cases section and key names as git does, keeps the subsection as written', () => {
    expect(names('[CoRe]\n  FSMonitor = x\n[Remote "Up"]\nURL=y\n')).toEqual([
      ['core.fsmonitor', 'x'],
      ['remote.Up.url', 'y'],
    ])
  })

  it('reads the deprecated [section.sub] form, a bare key, a key on the header line, comments and quotes', () => {
    expect(names('[core.x]\n\tbare\n[core] fsmonitor = "a b" ; comment\n# c\n; c\n[alias] st = "!sh -c \\"x\\""\n')).toEqual([
      ['core.x.bare', null],
      ['core.fsmonitor', 'a b'],
      ['alias.st', '!sh -c "x"'],
    ])
  })

  it('joins continuation lines, so a hidden key cannot hide behind a backslash', () => {
    expect(names('[core]\n\tpager = less \\\n-R\n')).toEqual([['core.pager', 'less -R']])
  })

  it('refuses what it cannot read rather than guessing', () => {
    expect(parseGitConfig('[core\nfsmonitor = x\n').ok).toBe(false)
    expect(parseGitConfig('fsmonitor = x\n').ok).toBe(false)
    expect(parseGitConfig('[core]\n\tpager = "unterminated\n').ok).toBe(false)
    expect(parseGitConfig('[core]\n\tpager = bad \\q escape\n').ok).toBe(false)
    expect(parseGitConfig('[core]\n\t= x\n').ok).toBe(false)
  })
})
