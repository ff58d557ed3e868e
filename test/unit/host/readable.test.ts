import {chmod, mkdtemp, mkdir, readdir, rm, symlink, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {checkDirectory} from '../../../src/core/host/readable.js'

// Root bypasses permission bits, so "unreadable" can only be shown as a non-root user.
const isRoot = process.getuid?.() === 0

describe('checkDirectory', () => {
  let root: string

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'readable-'))
    await mkdir(join(root, 'repo'))
    await writeFile(join(root, 'file.txt'), 'x')
    await symlink(join(root, 'repo'), join(root, 'link-to-repo'))
    await symlink(join(root, 'loop-b'), join(root, 'loop-a'))
    await symlink(join(root, 'loop-a'), join(root, 'loop-b'))
    await mkdir(join(root, 'locked'))
    await chmod(join(root, 'locked'), 0o000)
  })

  afterAll(async () => {
    await chmod(join(root, 'locked'), 0o700)
    await rm(root, {recursive: true, force: true})
  })

  it('accepts a readable directory', async () => {
    expect(await checkDirectory(join(root, 'repo'))).toEqual({path: join(root, 'repo'), status: 'ok', detail: null})
  })

  it('follows a symlink to a directory', async () => {
    expect((await checkDirectory(join(root, 'link-to-repo'))).status).toBe('ok')
  })

  it('reports a missing path, also below a file', async () => {
    const missing = await checkDirectory(join(root, 'nope'))
    expect(missing.status).toBe('missing')
    expect(missing.detail).toContain('does not exist')
    expect((await checkDirectory(join(root, 'file.txt', 'below'))).status).toBe('missing')
  })

  it('reports a file as not a directory', async () => {
    expect((await checkDirectory(join(root, 'file.txt'))).status).toBe('not-a-directory')
  })

  it('reports a path it cannot resolve (symlink loop) as unreadable', async () => {
    const check = await checkDirectory(join(root, 'loop-a'))
    expect(check.status).toBe('unreadable')
    expect(check.detail).toMatch(/ELOOP/)
  })

  // Root enters any folder: runs in the non-root pass (make test-unit-nonroot, docs/testing.md).
  it.skipIf(isRoot)('reports a directory without permissions as unreadable', async () => {
    const check = await checkDirectory(join(root, 'locked'))
    expect(check.status).toBe('unreadable')
    expect(check.detail).toContain('locked')
  })

  it('creates nothing', async () => {
    const before = await readdir(root)
    await checkDirectory(join(root, 'new-dir'))
    await checkDirectory(join(root, 'new-dir', 'deeper'))
    expect(await readdir(root)).toEqual(before)
  })
})
