/** `.git` pointers are trusted only when confirmed both ways (real folders, real git). */
import {spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {AgentMachineError} from '../../../src/core/errors.js'
import {judgeGitEntries} from '../../../src/core/git/pointers.js'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, {recursive: true, force: true})
})

function git(cwd: string, ...args: string[]): void {
  const r = spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], {cwd, encoding: 'utf8'})
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`)
}

function home(): {dev: string; other: string} {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'pointers-')))
  dirs.push(base)
  const dev = join(base, 'dev')
  const other = join(base, 'other')
  for (const d of [dev, other]) {
    mkdirSync(d, {recursive: true})
    git(d, 'init', '-q')
    writeFileSync(join(d, 'f'), 'f')
    git(d, 'add', '.')
    git(d, 'commit', '-qm', 'c')
  }
  return {dev, other}
}

async function refusal(entries: string[], roots: string[]): Promise<string> {
  try {
    await judgeGitEntries(entries.map((path) => ({path})), roots)
  } catch (error) {
    expect(error).toBeInstanceOf(AgentMachineError)
    expect((error as AgentMachineError).exitCode).toBe(3)
    return `${(error as AgentMachineError).code}: ${(error as Error).message}`
  }
  return 'accepted'
}

describe('judgeGitEntries', () => {
  it('a plain repo is accepted', async () => {
    const {dev} = home()
    expect(await refusal([join(dev, '.git')], [dev])).toBe('accepted')
  })

  it('defect 1 at the next launch: a .git dir with commondir (or gitdir) is refused', async () => {
    const {dev, other} = home()
    writeFileSync(join(dev, '.git', 'commondir'), `${join(other, '.git')}\n`)
    expect(await refusal([join(dev, '.git')], [dev])).toMatch(/^GIT_POINTER_UNCONFIRMED: .*commondir/)
  })

  it('defect 4: a .git file naming another repo’s git dir, or any folder with a config, outside the mounts is refused', async () => {
    const {dev, other} = home()
    mkdirSync(join(dev, 'pkg'))
    writeFileSync(join(dev, 'pkg', '.git'), `gitdir: ${join(other, '.git')}\n`)
    expect(await refusal([join(dev, '.git'), join(dev, 'pkg', '.git')], [dev])).toMatch(/GIT_POINTER_UNCONFIRMED: .*pkg\/\.git .*not a linked worktree/)
    const loose = join(other, 'loose')
    mkdirSync(loose)
    writeFileSync(join(loose, 'config'), '[core]\n')
    writeFileSync(join(dev, 'pkg', '.git'), `gitdir: ../../other/loose\n`)
    expect(await refusal([join(dev, 'pkg', '.git')], [dev])).toMatch(/GIT_POINTER_UNCONFIRMED/)
  })

  it('a linked worktree confirmed both ways is accepted; one whose gitdir points at another checkout is refused', async () => {
    const {dev, other} = home()
    const wt = join(dev, '..', 'wt')
    git(other, 'worktree', 'add', '-q', wt)
    const wtReal = realpathSync(wt)
    expect(await refusal([join(wtReal, '.git')], [wtReal])).toBe('accepted')

    // The agent copies the pointer into another allowlisted folder: the worktree's gitdir names wt, not it.
    mkdirSync(join(dev, 'copy'))
    spawnSync('cp', [join(wtReal, '.git'), join(dev, 'copy', '.git')])
    expect(await refusal([join(dev, 'copy', '.git')], [dev])).toMatch(/belongs to/)
  })

  it('a pointer inside the mounts is accepted, unless its gitdir’s commondir leads outside', async () => {
    const {dev, other} = home()
    mkdirSync(join(dev, 'sub'))
    mkdirSync(join(dev, 'gd'))
    writeFileSync(join(dev, 'sub', '.git'), 'gitdir: ../gd\n')
    expect(await refusal([join(dev, 'sub', '.git')], [dev])).toBe('accepted')
    writeFileSync(join(dev, 'gd', 'commondir'), `${join(other, '.git')}\n`)
    expect(await refusal([join(dev, 'sub', '.git')], [dev])).toMatch(/GIT_POINTER_UNCONFIRMED/)
    // the same through a symlinked commondir (git reads through it)
    writeFileSync(join(dev, 'target'), `${join(other, '.git')}\n`)
    rmSync(join(dev, 'gd', 'commondir'))
    spawnSync('ln', ['-s', join(dev, 'target'), join(dev, 'gd', 'commondir')])
    expect(await refusal([join(dev, 'sub', '.git')], [dev])).toMatch(/not a plain file/)
  })

  it('a .git symlink out of the mounts is refused', async () => {
    const {dev, other} = home()
    mkdirSync(join(dev, 'l'))
    spawnSync('ln', ['-s', join(other, '.git'), join(dev, 'l', '.git')])
    expect(await refusal([join(dev, 'l', '.git')], [dev])).toMatch(/symlink/)
  })
})
