/**
 * Git facts for evidence from one `git status --porcelain=v2 --branch` per repo (git/state.ts):
 * the same commit, branch and dirty flag the three separate commands gave, on real repos; the
 * output read as hostile text; the old commands only where status cannot answer.
 */
import {execFileSync} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {createRunner} from '../../../src/core/exec.js'
import {gitFacts, parseStatusV2} from '../../../src/core/git/state.js'
import {fakeRunner} from '../../helpers/fake-runner.js'
import {tempDir as makeTempDir} from '../../helpers/temp-dirs.js'

const OID = 'a'.repeat(40)
const git = (dir: string, ...args: string[]) => execFileSync('git', ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@example.invalid', '-c', 'commit.gpgSign=false', ...args], {encoding: 'utf8'}).trim()

function repo(): string {
  const dir = makeTempDir('git-status-v2-')
  git(dir, 'init', '-q', '-b', 'main')
  writeFileSync(join(dir, 'a.txt'), 'a\n')
  git(dir, 'add', 'a.txt')
  git(dir, 'commit', '-q', '-m', 'first')
  return dir
}

describe('gitFacts from one git status', () => {
  it('gives what rev-parse, symbolic-ref and status --porcelain gave: clean, dirty, untracked, detached, unborn', async () => {
    const dir = repo()
    const runner = createRunner()
    const head = git(dir, 'rev-parse', 'HEAD')
    expect(await gitFacts(runner, dir)).toEqual({commit: head, ref: 'main', dirty: false})
    writeFileSync(join(dir, 'new.txt'), 'x\n')
    expect(await gitFacts(runner, dir)).toEqual({commit: head, ref: 'main', dirty: true})
    git(dir, 'add', 'new.txt')
    git(dir, 'commit', '-q', '-m', 'second')
    writeFileSync(join(dir, 'a.txt'), 'changed\n')
    const second = git(dir, 'rev-parse', 'HEAD')
    expect(await gitFacts(runner, dir)).toEqual({commit: second, ref: 'main', dirty: true})
    git(dir, 'checkout', '-q', '--', 'a.txt')
    git(dir, 'checkout', '-q', '--detach')
    expect(await gitFacts(runner, dir)).toEqual({commit: second, ref: null, dirty: false})
    const unborn = makeTempDir('git-status-v2-')
    git(unborn, 'init', '-q', '-b', 'main')
    expect(await gitFacts(runner, unborn)).toEqual({commit: null, ref: null, dirty: null})
    expect(await gitFacts(runner, makeTempDir('git-status-v2-'))).toEqual({commit: null, ref: null, dirty: null})
  })

  it('runs one git process for a repo on a branch', async () => {
    const runner = fakeRunner([{match: (cmd, args) => cmd === 'git' && args.includes('status'), result: {stdout: `# branch.oid ${OID}\n# branch.head main\n? new.txt\n`}}])
    expect(await gitFacts(runner, '/repo')).toEqual({commit: OID, ref: 'main', dirty: true})
    expect(runner.calls.map((c) => c.args.slice(c.args.indexOf('/repo') + 1))).toEqual([['status', '--porcelain=v2', '--branch', '--no-ahead-behind', '--untracked-files=normal', '--ignore-submodules=all']])
  })

  it('asks symbolic-ref for a detached HEAD (a branch may be named "(detached)"), and the old commands when status fails', async () => {
    const detached = fakeRunner([
      {match: (cmd, args) => cmd === 'git' && args.includes('status'), result: {stdout: `# branch.oid ${OID}\n# branch.head (detached)\n`}},
      {match: (cmd, args) => cmd === 'git' && args.includes('symbolic-ref'), result: {stdout: '(detached)\n'}},
    ])
    expect(await gitFacts(detached, '/repo')).toEqual({commit: OID, ref: '(detached)', dirty: false})
    const failing = fakeRunner([
      {match: (cmd, args) => cmd === 'git' && args.includes('status'), result: {exitCode: 128, stderr: 'fatal: index file corrupt'}},
      {match: (cmd, args) => cmd === 'git' && args.includes('rev-parse'), result: {stdout: `${OID}\n`}},
      {match: (cmd, args) => cmd === 'git' && args.includes('symbolic-ref'), result: {stdout: 'main\n'}},
    ])
    expect(await gitFacts(failing, '/repo')).toEqual({commit: OID, ref: 'main', dirty: null})
  })
})

describe('parseStatusV2 reads status output as hostile text', () => {
  it('needs exactly one oid (an object id) and one head; anything else is no answer', () => {
    expect(parseStatusV2(`# branch.oid ${OID}\n# branch.head main\n# branch.upstream origin/main\n# branch.ab +0 -0\n`)).toEqual({oid: OID, head: 'main', dirty: false})
    expect(parseStatusV2(`# branch.oid ${'b'.repeat(64)}\n# branch.head main\n1 .M N... 100644 100644 100644 ${OID} ${OID} a.txt\n`)).toEqual({oid: 'b'.repeat(64), head: 'main', dirty: true})
    expect(parseStatusV2('# branch.oid (initial)\n# branch.head main\n')).toBe('no-commit')
    expect(parseStatusV2(`# branch.head main\n`)).toBeNull()
    expect(parseStatusV2(`# branch.oid ${OID}\n`)).toBeNull()
    expect(parseStatusV2(`# branch.oid ${OID}\n# branch.oid ${OID}\n# branch.head main\n`)).toBeNull()
    expect(parseStatusV2(`# branch.oid ${OID}\n# branch.head main\n# branch.head other\n`)).toBeNull()
    expect(parseStatusV2(`# branch.oid HEAD\n# branch.head main\n`)).toBeNull()
    expect(parseStatusV2('')).toBeNull()
  })
})
