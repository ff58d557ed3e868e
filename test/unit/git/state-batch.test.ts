/**
 * Several repos' git facts in a few `git for-each-repo` processes (git/state.ts gitFactsOf): the
 * same facts as one gitFacts per repo, the hardening reaching every child, the batch's output
 * trusted only when it is exactly one status per repo, and the plan listing what runs.
 */
import {execFileSync} from 'node:child_process'
import {chmodSync, existsSync, mkdirSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {createRunner, type Runner} from '../../../src/core/exec.js'
import {hostGitArgv} from '../../../src/core/git/host-git.js'
import {GIT_FACT_ARGS, GIT_FACT_BATCH_DIR, GIT_FACT_GROUP, gitFactBatchArgs, gitFactGroups, gitFacts, gitFactsOf, statusSections} from '../../../src/core/git/state.js'
import {evidenceSteps} from '../../../src/core/launch/evidence-steps.js'
import type {ContainerSpec} from '../../../src/core/launch/container-spec.js'
import {fakeRunner} from '../../helpers/fake-runner.js'
import {tempDir} from '../../helpers/temp-dirs.js'

const OID = 'a'.repeat(40)
const OID2 = 'b'.repeat(40)
const git = (dir: string, ...args: string[]) => execFileSync('git', ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@example.invalid', '-c', 'commit.gpgSign=false', ...args], {encoding: 'utf8'}).trim()

function repo(root: string, name: string, branch = 'main'): string {
  const dir = join(root, name)
  mkdirSync(dir)
  git(dir, 'init', '-q', '-b', branch)
  writeFileSync(join(dir, 'a.txt'), `${name}\n`)
  git(dir, 'add', 'a.txt')
  git(dir, 'commit', '-q', '-m', name)
  return dir
}

/** The real runner, counting the git processes it starts (and keeping their argv). */
function countingRunner(): Runner & {gits: string[][]} {
  const real = createRunner()
  const gits: string[][] = []
  const runner = (async (command, args, options) => {
    if (command === 'git') gits.push([...args])
    return real(command, args, options)
  }) as Runner & {gits: string[][]}
  runner.gits = gits
  return runner
}

/** Every kind of folder a mount can be: clean, dirty (changed, untracked, staged), detached, unborn, on an odd branch, not a repo, inside a repo. */
function mixedRepos(): string[] {
  const root = tempDir('git-batch-')
  const dirs: string[] = []
  for (let i = 0; i < 3; i++) dirs.push(repo(root, `clean-${i}`))
  const changed = repo(root, 'changed')
  writeFileSync(join(changed, 'a.txt'), 'modified by the test\n')
  const untracked = repo(root, 'untracked')
  writeFileSync(join(untracked, 'new.txt'), 'x\n')
  const staged = repo(root, 'staged')
  writeFileSync(join(staged, 'b.txt'), 'x\n')
  git(staged, 'add', 'b.txt')
  const detached = repo(root, 'detached')
  git(detached, 'checkout', '-q', '--detach')
  const unborn = join(root, 'unborn')
  mkdirSync(unborn)
  git(unborn, 'init', '-q', '-b', 'main')
  const named = repo(root, 'named', '(detached)')
  const plain = join(root, 'plain')
  mkdirSync(plain)
  const nested = join(dirs[0]!, 'sub')
  mkdirSync(nested)
  // a path git would have to quote in status output, and one with spaces
  const odd = repo(root, 'odd name\tx')
  writeFileSync(join(odd, 'new\nline.txt'), 'x\n')
  dirs.push(changed, untracked, staged, detached, unborn, named, plain, nested, odd)
  for (let i = 3; i < 8; i++) dirs.push(repo(root, `clean-${i}`))
  return dirs
}

describe('gitFactsOf: several repos in a few git processes', () => {
  it('gives exactly what gitFacts gives for each repo, in order, whatever the folder is', async () => {
    const dirs = mixedRepos()
    const expected = await Promise.all(dirs.map((d) => gitFacts(createRunner(), d)))
    // the kinds are really different (the comparison below is not of nulls)
    expect(new Set(expected.map((f) => JSON.stringify(f))).size).toBeGreaterThanOrEqual(5)
    expect(expected.filter((f) => f.dirty === true)).toHaveLength(4)
    for (const n of [2, 3, GIT_FACT_GROUP, GIT_FACT_GROUP + 1, dirs.length]) {
      expect(await gitFactsOf(createRunner(), dirs.slice(0, n)), `${n} repos`).toEqual(expected.slice(0, n))
      expect(await gitFactsOf(createRunner(), dirs.slice(-n)), `last ${n} repos`).toEqual(expected.slice(-n))
    }
  })

  it('starts one git process per group of repos when every status answers', async () => {
    const root = tempDir('git-batch-')
    const dirs = Array.from({length: 20}, (_, i) => repo(root, `r${i}`))
    writeFileSync(join(dirs[7]!, 'dirty.txt'), 'x\n')
    const runner = countingRunner()
    const facts = await gitFactsOf(runner, dirs)
    expect(runner.gits).toHaveLength(Math.ceil(20 / GIT_FACT_GROUP))
    expect(runner.gits.every((args) => args.includes('for-each-repo'))).toBe(true)
    expect(facts.map((f) => f.dirty)).toEqual(dirs.map((_, i) => i === 7))
    expect(facts.map((f) => f.commit)).toEqual(dirs.map((d) => git(d, 'rev-parse', 'HEAD')))
  })

  it('reads every repo of a group on its own when one of them is not a repo (git stops there)', async () => {
    const root = tempDir('git-batch-')
    const a = repo(root, 'a')
    const plain = join(root, 'plain')
    mkdirSync(plain)
    const b = repo(root, 'b')
    writeFileSync(join(b, 'x.txt'), 'x\n')
    const runner = countingRunner()
    expect(await gitFactsOf(runner, [a, plain, b])).toEqual([
      {commit: git(a, 'rev-parse', 'HEAD'), ref: 'main', dirty: false},
      {commit: null, ref: null, dirty: null},
      {commit: git(b, 'rev-parse', 'HEAD'), ref: 'main', dirty: true},
    ])
    expect(runner.gits[0]).toContain('for-each-repo')
    expect(runner.gits.filter((args) => args.includes('status') && !args.includes('for-each-repo'))).toHaveLength(3)
  })

  it('carries the hardening to every repo it reads: a repo config’s fsmonitor program does not run', async () => {
    const root = tempDir('git-batch-')
    const dirs = [repo(root, 'a'), repo(root, 'b'), repo(root, 'c')]
    const marker = join(root, 'ran')
    const hook = join(root, 'fsmonitor.sh')
    writeFileSync(hook, `#!/bin/sh\ntouch '${marker}'\nexit 1\n`)
    chmodSync(hook, 0o755)
    git(dirs[1]!, 'config', 'core.fsmonitor', hook)
    // the control: plain git status runs it
    execFileSync('git', ['-C', dirs[1]!, 'status', '--porcelain'], {stdio: 'ignore'})
    expect(existsSync(marker)).toBe(true)
    rmSync(marker)
    const runner = countingRunner()
    const facts = await gitFactsOf(runner, dirs)
    expect(runner.gits).toHaveLength(1)
    expect(facts.map((f) => f.ref)).toEqual(['main', 'main', 'main'])
    expect(existsSync(marker)).toBe(false)
  })
})

describe('gitFactsOf trusts the batch only when it is one status per repo', () => {
  const batch = (cmd: string, args: readonly string[]) => cmd === 'git' && args.includes('for-each-repo')
  const own = (dir: string, oid: string) => ({match: (cmd: string, args: readonly string[]) => cmd === 'git' && !args.includes('for-each-repo') && args.includes(dir) && args.includes('status'), result: {stdout: `# branch.oid ${oid}\n# branch.head own\n`}})
  const section = (oid: string, head: string) => `# branch.oid ${oid}\n# branch.head ${head}\n`

  it('takes each section for its repo', async () => {
    const runner = fakeRunner([{match: batch, result: {stdout: `${section(OID, 'one')}${section(OID2, 'two')}? x\n`}}])
    expect(await gitFactsOf(runner, ['/r1', '/r2'])).toEqual([
      {commit: OID, ref: 'one', dirty: false},
      {commit: OID2, ref: 'two', dirty: true},
    ])
    expect(runner.calls).toHaveLength(1)
  })

  it.each([
    ['one section more than repos (a value of the key from the user’s own config comes first)', {stdout: `${section(OID2, 'extra')}${section(OID, 'one')}${section(OID, 'two')}`}],
    ['one section fewer', {stdout: section(OID2, 'one')}],
    ['a failed exit after complete sections (git stopped at a repo)', {stdout: `${section(OID2, 'one')}${section(OID2, 'two')}`, exitCode: 1}],
    ['text before the first section', {stdout: `junk\n${section(OID2, 'one')}${section(OID2, 'two')}`}],
    ['no for-each-repo in this git', {stdout: '', exitCode: 1, stderr: "git: 'for-each-repo' is not a git command"}],
    ['a timed-out batch', {stdout: `${section(OID2, 'one')}${section(OID2, 'two')}`, timedOut: true, exitCode: null}],
  ])('%s: each repo is read on its own', async (_, result) => {
    const runner = fakeRunner([{match: batch, result}, own('/r1', OID), own('/r2', OID)])
    expect(await gitFactsOf(runner, ['/r1', '/r2'])).toEqual([
      {commit: OID, ref: 'own', dirty: false},
      {commit: OID, ref: 'own', dirty: false},
    ])
  })

  it('a section that is not a clean answer (two heads) is read with the old commands for that repo only', async () => {
    const runner = fakeRunner([
      {match: batch, result: {stdout: `${section(OID, 'one')}# branch.head two\n${section(OID2, 'three')}`}},
      {match: (cmd, args) => cmd === 'git' && args.includes('/r1') && args.includes('rev-parse'), result: {stdout: `${OID}\n`}},
      {match: (cmd, args) => cmd === 'git' && args.includes('/r1') && args.includes('symbolic-ref'), result: {stdout: 'main\n'}},
    ])
    expect(await gitFactsOf(runner, ['/r1', '/r2'])).toEqual([
      {commit: OID, ref: 'main', dirty: null},
      {commit: OID2, ref: 'three', dirty: false},
    ])
  })
})

describe('statusSections and gitFactGroups', () => {
  it('cuts at each # branch.oid line; anything before the first is no answer', () => {
    expect(statusSections(`${'# branch.oid x\n# branch.head m\n1 .M a\n'}# branch.oid y\n# branch.head n\n`)).toEqual(['# branch.oid x\n# branch.head m\n1 .M a\n', '# branch.oid y\n# branch.head n\n\n'])
    expect(statusSections('')).toEqual([])
    expect(statusSections('# branch.head m\n# branch.oid x\n')).toBeNull()
    expect(statusSections('? "a\\n# branch.oid x"\n# branch.oid y\n')).toBeNull()
  })

  it('groups in order, at most GIT_FACT_GROUP each, balanced; a path for-each-repo would not take literally is alone', () => {
    const dirs = Array.from({length: 20}, (_, i) => `/r/${i}`)
    const groups = gitFactGroups(dirs)
    expect(groups.map((g) => g.length)).toEqual([7, 7, 6])
    expect(groups.flat()).toEqual(dirs)
    expect(gitFactGroups(dirs.slice(0, GIT_FACT_GROUP)).map((g) => g.length)).toEqual([GIT_FACT_GROUP])
    expect(gitFactGroups(dirs.slice(0, GIT_FACT_GROUP + 1)).map((g) => g.length)).toEqual([5, 4])
    expect(gitFactGroups(['/a', '~/b', 'rel', '/c\nd', '%(prefix)/e', '/f'])).toEqual([['/a', '/f'], ['~/b'], ['rel'], ['/c\nd'], ['%(prefix)/e']])
  })
})

describe('the plan lists the batch exactly as it runs', () => {
  const ctx = {binary: 'podman', connection: null, machine: null, machineEnv: {}}
  const spec = (sources: string[]) => ({mounts: sources.map((s, i) => ({hostSource: s, target: `/workspace/r${i}`}))}) as unknown as Pick<ContainerSpec, 'mounts'>

  it('one for-each-repo step per group, and each repo’s own commands as the fallback', async () => {
    const root = tempDir('git-batch-')
    const dirs = Array.from({length: 10}, (_, i) => repo(root, `r${i}`))
    const steps = evidenceSteps(spec(dirs), ctx, {platform: 'linux', podmanVersionKnown: true})
    const runner = countingRunner()
    await gitFactsOf(runner, dirs)
    const planned = steps.map((s) => s.argv.join('\0'))
    expect(runner.gits.length).toBe(2)
    for (const args of runner.gits) expect(planned).toContain(['git', ...args].join('\0'))
    expect(steps.filter((s) => s.argv.includes('for-each-repo')).map((s) => s.argv)).toEqual(gitFactGroups(dirs).map((g) => hostGitArgv(GIT_FACT_BATCH_DIR, gitFactBatchArgs(g))))
    for (const d of dirs) for (const args of Object.values(GIT_FACT_ARGS)) expect(planned).toContain(hostGitArgv(d, args).join('\0'))
    expect(steps.every((s) => !s.mutates)).toBe(true)
  })

  it('a single repo keeps its plain status (no batch)', () => {
    const steps = evidenceSteps(spec(['/only']), ctx, {platform: 'linux', podmanVersionKnown: true})
    expect(steps.some((s) => s.argv.includes('for-each-repo'))).toBe(false)
    expect(steps.map((s) => s.argv)).toContainEqual(hostGitArgv('/only', GIT_FACT_ARGS.status))
  })
})
