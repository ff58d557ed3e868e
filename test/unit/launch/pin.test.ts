import {mkdirSync, renameSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {assertPinsHold, pinIfExists, pinSource, samePin} from '../../../src/core/launch/pin.js'
import {tempDir} from '../../helpers/temp-dirs.js'

function tree() {
  const root = tempDir('pin-')
  const repo = join(root, 'repo')
  const ssh = join(root, '.ssh')
  mkdirSync(repo)
  mkdirSync(ssh)
  writeFileSync(join(repo, 'config'), '[core]\n')
  return {root, repo, ssh}
}

describe('mount pins', () => {
  it('pins a folder or a regular file by (dev, ino), as exact decimal strings', async () => {
    const {repo} = tree()
    const s = statSync(repo, {bigint: true})
    expect(await pinSource(repo)).toEqual({dev: s.dev.toString(), ino: s.ino.toString(), ctime: s.ctimeNs.toString()})
    const f = statSync(join(repo, 'config'), {bigint: true})
    expect(await pinSource(join(repo, 'config'))).toMatchObject({dev: f.dev.toString(), ino: f.ino.toString()})
    expect(samePin({dev: '1', ino: '18446744073709551615'}, {dev: 1n, ino: 18446744073709551615n})).toBe(true)
  })

  it('a source that became a symlink after it was resolved is a swap (exit 3)', async () => {
    const {root, repo, ssh} = tree()
    renameSync(repo, join(root, 'repo.old'))
    symlinkSync(ssh, repo)
    await expect(pinSource(repo)).rejects.toMatchObject({code: 'MOUNT_SWAPPED', exitCode: 3})
  })

  it('a vanished source is a swap; a missing one a step creates is not pinned yet', async () => {
    const {root} = tree()
    await expect(pinSource(join(root, 'gone'))).rejects.toMatchObject({code: 'MOUNT_SWAPPED', exitCode: 3})
    expect(await pinIfExists(join(root, 'gone'))).toBeNull()
  })

  it('refuses a socket as a mount source', async () => {
    const {root} = tree()
    const sock = join(root, 's.sock')
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(sock, resolve))
    try {
      await expect(pinSource(sock)).rejects.toMatchObject({code: 'MOUNT_SOURCE_KIND', exitCode: 3})
    } finally {
      server.close()
    }
  })

  it('assertPinsHold: a folder replaced by another (rename dance) after its pin is refused', async () => {
    const {root, repo, ssh} = tree()
    const pin = await pinSource(repo)
    await assertPinsHold([{hostSource: repo, pin}])
    renameSync(repo, join(root, 'repo.old'))
    renameSync(ssh, repo)
    await expect(assertPinsHold([{hostSource: repo, pin}])).rejects.toMatchObject({code: 'MOUNT_SWAPPED', message: expect.stringMatching(/was replaced while the launch checked it/)})
  })

  it('assertPinsHold {moved}: a folder swapped away and back keeps its inode but not its ctime', async () => {
    const {root, repo} = tree()
    const pin = await pinSource(repo)
    await new Promise((r) => setTimeout(r, 20))
    renameSync(repo, join(root, 'repo.away'))
    renameSync(join(root, 'repo.away'), repo)
    await assertPinsHold([{hostSource: repo, pin}]) // the same folder: fine for a launch that is going on
    await expect(assertPinsHold([{hostSource: repo, pin}], undefined, {moved: true})).rejects.toMatchObject({code: 'MOUNT_SWAPPED', message: expect.stringMatching(/was moved or changed/)})
  })
})
