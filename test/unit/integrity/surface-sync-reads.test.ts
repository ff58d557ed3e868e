/**
 * The trust surface read with synchronous system calls (integrity/surface.ts readItem): the same
 * items as before for every kind of entry — a regular file's digest and bytes, a symlink recorded
 * by its target and never followed, a FIFO named `config` recorded as `other` without hanging, a
 * file over the read limit as `other`, folders with their mode, a missing file absent.
 */
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {chmodSync, mkdirSync, symlinkSync, truncateSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {collectSurface} from '../../../src/core/integrity/surface.js'
import {tempDir} from '../../helpers/temp-dirs.js'

describe('collectSurface reads each kind of entry as it is', () => {
  it('files, symlinks, a FIFO, an oversized file and folders', async () => {
    const root = tempDir('surface-sync-')
    const gitDir = join(root, '.git')
    mkdirSync(join(gitDir, 'hooks'), {recursive: true})
    chmodSync(join(gitDir, 'hooks'), 0o750)
    const config = '[core]\n\tbare = false\n'
    writeFileSync(join(gitDir, 'config'), config)
    chmodSync(join(gitDir, 'config'), 0o640)
    writeFileSync(join(gitDir, 'hooks', 'pre-commit'), '#!/bin/sh\nexit 0\n', {mode: 0o755})
    const secret = join(root, 'secret.txt')
    writeFileSync(secret, 'not to be read\n')
    symlinkSync(secret, join(gitDir, 'hooks', 'post-checkout'))
    // a FIFO where the config of a worktree would be: opened non-blocking, never read
    expect(spawnSync('mkfifo', [join(gitDir, 'config.worktree')]).status).toBe(0)
    // over the 16 MiB read limit (sparse): recorded as other, not read
    writeFileSync(join(gitDir, 'commondir'), '')
    truncateSync(join(gitDir, 'commondir'), 17 * 1024 * 1024)

    const surface = await collectSurface(root, [gitDir])
    const items = surface.items
    expect(items[gitDir]).toMatchObject({kind: 'dir'})
    expect(items[join(gitDir, 'config')]).toEqual({kind: 'file', digest: createHash('sha256').update(config).digest('hex'), mode: 0o640, content: Buffer.from(config).toString('base64')})
    expect(items[join(gitDir, 'hooks')]).toEqual({kind: 'dir', mode: 0o750})
    expect(items[join(gitDir, 'hooks', 'pre-commit')]).toMatchObject({kind: 'file', mode: 0o755})
    expect(items[join(gitDir, 'hooks', 'post-checkout')]).toEqual({kind: 'symlink', digest: secret})
    expect(items[join(gitDir, 'config.worktree')]).toMatchObject({kind: 'other'})
    expect(items[join(gitDir, 'commondir')]).toMatchObject({kind: 'other'})
    expect(items[join(gitDir, 'commondir')]?.digest).toBeUndefined()
    expect(items).not.toHaveProperty(join(gitDir, 'gitdir'))
    expect(JSON.stringify(surface)).not.toContain(Buffer.from('not to be read').toString('base64'))
  })
})
