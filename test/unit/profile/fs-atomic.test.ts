import {chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {AgentMachineError, ExitCode} from '../../../src/core/errors.js'
import {pathExists, writeFileAtomic} from '../../../src/core/fs-atomic.js'

const isRoot = process.getuid?.() === 0
let dir: string

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sourceos-atomic-'))
})
afterEach(async () => {
  await chmod(dir, 0o700).catch(() => undefined)
  await rm(dir, {recursive: true, force: true})
})

const leftovers = async (d: string) => (await readdir(d)).filter((n) => n.endsWith('.tmp'))
const failureOf = async (p: Promise<unknown>): Promise<AgentMachineError> => {
  const err = await p.then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(AgentMachineError)
  return err as AgentMachineError
}

describe('writeFileAtomic', () => {
  it('creates missing parents (0700) and writes the file', async () => {
    const file = join(dir, 'a', 'b', 'profile.yaml')
    await writeFileAtomic(file, 'hello\n', {overwrite: false, mode: 0o600})
    expect(await readFile(file, 'utf8')).toBe('hello\n')
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    expect((await stat(join(dir, 'a'))).mode & 0o777).toBe(0o700)
    expect((await stat(join(dir, 'a', 'b'))).mode & 0o777).toBe(0o700)
    expect(await leftovers(join(dir, 'a', 'b'))).toEqual([])
  })

  it('defaults to overwrite: false', async () => {
    const file = join(dir, 'p.yaml')
    await writeFileAtomic(file, 'one')
    await expect(writeFileAtomic(file, 'two')).rejects.toMatchObject({code: 'DESTINATION_EXISTS'})
  })

  it('refuses an existing destination without overwrite, leaving it and no temp files', async () => {
    const file = join(dir, 'p.yaml')
    await writeFile(file, 'original')
    const err = await failureOf(writeFileAtomic(file, 'new', {overwrite: false}))
    expect(err).toMatchObject({code: 'DESTINATION_EXISTS', exitCode: ExitCode.USAGE, fix: 'pass --force to overwrite, or --output <path>'})
    expect(err.message).toBe(`${file} already exists`)
    expect(await readFile(file, 'utf8')).toBe('original')
    expect(await leftovers(dir)).toEqual([])
  })

  it('treats a dangling symlink as an existing destination', async () => {
    const file = join(dir, 'link.yaml')
    await symlink(join(dir, 'nowhere'), file)
    await expect(writeFileAtomic(file, 'x', {overwrite: false})).rejects.toMatchObject({code: 'DESTINATION_EXISTS'})
    expect(await pathExists(join(dir, 'nowhere'))).toBe(false)
  })

  it('replaces an existing file with overwrite', async () => {
    const file = join(dir, 'p.yaml')
    await writeFile(file, 'original')
    await writeFileAtomic(file, 'replaced', {overwrite: true})
    expect(await readFile(file, 'utf8')).toBe('replaced')
    expect(await leftovers(dir)).toEqual([])
  })

  it('lets exactly one of many concurrent no-overwrite writers win', async () => {
    const file = join(dir, 'race.yaml')
    const results = await Promise.allSettled(Array.from({length: 12}, (_, i) => writeFileAtomic(file, `writer ${i}`, {overwrite: false})))
    const won = results.filter((r) => r.status === 'fulfilled')
    expect(won).toHaveLength(1)
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({code: 'DESTINATION_EXISTS'})
    expect(await readFile(file, 'utf8')).toMatch(/^writer \d+$/)
    expect(await leftovers(dir)).toEqual([])
  })

  it('says DESTINATION_IS_DIRECTORY when overwriting a directory, and cleans up', async () => {
    const target = join(dir, 'adir')
    await mkdir(join(target, 'inner'), {recursive: true})
    await expect(writeFileAtomic(target, 'x', {overwrite: true})).rejects.toMatchObject({code: 'DESTINATION_IS_DIRECTORY', exitCode: ExitCode.USAGE})
    expect(await leftovers(dir)).toEqual([])
  })

  it('says CONFIG_DIR_UNWRITABLE (exit 4) when a parent is a regular file', async () => {
    const blocker = join(dir, 'file')
    await writeFile(blocker, '')
    for (const file of [join(blocker, 'p.yaml'), join(blocker, 'sub', 'p.yaml')]) {
      const err = await failureOf(writeFileAtomic(file, 'x', {overwrite: false}))
      expect(err).toMatchObject({code: 'CONFIG_DIR_UNWRITABLE', exitCode: ExitCode.PREREQUISITE})
      expect(err.message).toMatch(/^cannot write .*: a component of the path is not a directory$/)
      expect(err.fix).toContain('--output <path> or SOURCEOSCTL_CONFIG_DIR')
    }
  })

  it('fails fast (no mkdir -p spin) under /proc and through a dangling symlink', async () => {
    if (process.platform !== 'linux') return
    for (const file of ['/proc/sourceosctl-test/sub/p.yaml', '/proc/sourceosctl-test.yaml']) {
      await expect(writeFileAtomic(file, 'x', {overwrite: false})).rejects.toMatchObject({code: 'CONFIG_DIR_UNWRITABLE', exitCode: ExitCode.PREREQUISITE})
    }
    await symlink(join(dir, 'gone'), join(dir, 'dangling'))
    await expect(writeFileAtomic(join(dir, 'dangling', 'sub', 'p.yaml'), 'x', {overwrite: false})).rejects.toMatchObject({code: 'CONFIG_DIR_UNWRITABLE'})
  }, 5_000)

  it('uses a custom code and fix for other callers', async () => {
    const blocker = join(dir, 'file')
    await writeFile(blocker, '')
    await expect(writeFileAtomic(join(blocker, 'e.json'), '{}', {overwrite: false, unwritable: {code: 'EVIDENCE_DIR_UNWRITABLE', fix: 'set SOURCEOSCTL_STATE_DIR'}})).rejects.toMatchObject({code: 'EVIDENCE_DIR_UNWRITABLE', fix: 'set SOURCEOSCTL_STATE_DIR'})
  })

  // Root writes into any folder: runs in the non-root pass (make test-unit-nonroot, docs/testing.md).
  it.skipIf(isRoot)('says CONFIG_DIR_UNWRITABLE for a read-only directory, leaving no temp file', async () => {
    const ro = join(dir, 'ro')
    await mkdir(ro)
    await chmod(ro, 0o500)
    const err = await failureOf(writeFileAtomic(join(ro, 'p.yaml'), 'x', {overwrite: false}))
    expect(err).toMatchObject({code: 'CONFIG_DIR_UNWRITABLE', message: `cannot write ${ro}: permission denied`})
    await chmod(ro, 0o700)
    expect(await readdir(ro)).toEqual([])
  })
})

describe('pathExists', () => {
  it('sees files, directories and dangling symlinks; not missing paths or paths under a file', async () => {
    await writeFile(join(dir, 'f'), '')
    await symlink(join(dir, 'nowhere'), join(dir, 'l'))
    expect(await pathExists(join(dir, 'f'))).toBe(true)
    expect(await pathExists(dir)).toBe(true)
    expect(await pathExists(join(dir, 'l'))).toBe(true)
    expect(await pathExists(join(dir, 'missing'))).toBe(false)
    expect(await pathExists(join(dir, 'f', 'x'))).toBe(false)
  })
})
