// Mount pins beyond pin.test.ts: a source the launch cannot read is refused, never treated as
// "not created yet"; a pin matches only when device and inode both match; mounts without a pin are
// not looked at; the {moved} check only with a recorded ctime, and a replaced folder is named replaced.
import {mkdirSync, renameSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {assertPinsHold, pinIfExists, pinSource, samePin, type PinDeps} from '../../../src/core/launch/pin.js'
import {tempDir} from '../../helpers/temp-dirs.js'

const errno = (code: string) => Object.assign(new Error(`${code}: fake`), {code})
const failing = (code: string): PinDeps => ({lstat: async () => Promise.reject(errno(code))})
const stat = (over: Partial<{dev: bigint; ino: bigint; ctimeNs: bigint; dir: boolean; file: boolean; link: boolean}> = {}): PinDeps => {
  const s = {dev: 7n, ino: 42n, ctimeNs: 1000n, dir: true, file: false, link: false, ...over}
  return {lstat: async () => ({dev: s.dev, ino: s.ino, ctimeNs: s.ctimeNs, isDirectory: () => s.dir, isFile: () => s.file, isSymbolicLink: () => s.link})}
}

describe('pinIfExists', () => {
  it('a source that exists is pinned like pinSource does', async () => {
    const dir = tempDir('pin-')
    expect(await pinIfExists(dir)).toEqual(await pinSource(dir))
    expect(await pinIfExists('/x', stat())).toEqual({dev: '7', ino: '42', ctime: '1000'})
  })

  it.each(['EACCES', 'ELOOP', 'EIO'])('a source it cannot look at (%s) is refused as a swap, not taken for one a step creates', async (code) => {
    await expect(pinIfExists('/x', failing(code))).rejects.toMatchObject({code: 'MOUNT_SWAPPED', exitCode: 3, message: expect.stringContaining(code)})
  })

  it('only ENOENT means "not there yet"', async () => {
    expect(await pinIfExists('/x', failing('ENOENT'))).toBeNull()
  })
})

describe('pinSource', () => {
  it('a symlink is refused even when it is also reported as a folder', async () => {
    await expect(pinSource('/x', stat({link: true}))).rejects.toMatchObject({code: 'MOUNT_SWAPPED'})
  })

  it('a FIFO or device (neither folder nor file) is refused as the wrong kind', async () => {
    await expect(pinSource('/x', stat({dir: false, file: false}))).rejects.toMatchObject({code: 'MOUNT_SOURCE_KIND', exitCode: 3})
    expect(await pinSource('/x', stat({dir: false, file: true}))).toEqual({dev: '7', ino: '42', ctime: '1000'})
  })

  it('an error without an errno code still names what went wrong', async () => {
    const deps: PinDeps = {lstat: async () => Promise.reject(new Error('stat exploded'))}
    await expect(pinSource('/x', deps)).rejects.toMatchObject({code: 'MOUNT_SWAPPED', message: expect.stringContaining('stat exploded')})
  })
})

describe('samePin', () => {
  it('needs both the device and the inode to match', () => {
    expect(samePin({dev: '7', ino: '42'}, {dev: 7n, ino: 42n})).toBe(true)
    expect(samePin({dev: '7', ino: '42'}, {dev: '8', ino: '42'})).toBe(false)
    expect(samePin({dev: '7', ino: '42'}, {dev: '7', ino: '43'})).toBe(false)
  })
})

describe('assertPinsHold', () => {
  it('mounts without a pin (sources a step creates later) are not looked at, even when they are not there', async () => {
    const dir = tempDir('pin-')
    await expect(assertPinsHold([{hostSource: join(dir, 'not-yet')}, {hostSource: dir, pin: await pinSource(dir)}])).resolves.toBeUndefined()
  })

  it('checks every pinned mount, not only the first', async () => {
    const root = tempDir('pin-')
    const a = join(root, 'a')
    const b = join(root, 'b')
    mkdirSync(a)
    mkdirSync(b)
    const pins = [{hostSource: a, pin: await pinSource(a)}, {hostSource: b, pin: await pinSource(b)}]
    renameSync(b, join(root, 'b.old'))
    mkdirSync(b)
    await expect(assertPinsHold(pins)).rejects.toMatchObject({code: 'MOUNT_SWAPPED', message: expect.stringContaining(`mount source ${b} was replaced`)})
  })

  it('{moved}: a pin without a recorded ctime is compared by device and inode only', async () => {
    await expect(assertPinsHold([{hostSource: '/x', pin: {dev: '7', ino: '42'}}], stat({ctimeNs: 5n}), {moved: true})).resolves.toBeUndefined()
  })

  it('{moved}: the same ctime passes; a replaced folder is reported as replaced, with both device/inode pairs', async () => {
    await expect(assertPinsHold([{hostSource: '/x', pin: {dev: '7', ino: '42', ctime: '1000'}}], stat(), {moved: true})).resolves.toBeUndefined()
    await expect(assertPinsHold([{hostSource: '/x', pin: {dev: '7', ino: '41', ctime: '1'}}], stat(), {moved: true})).rejects.toMatchObject({
      code: 'MOUNT_SWAPPED',
      message: expect.stringContaining('device/inode 7/41, now 7/42'),
    })
  })

  it('without {moved}, a changed ctime alone is no refusal (a folder that gained a file)', async () => {
    await expect(assertPinsHold([{hostSource: '/x', pin: {dev: '7', ino: '42', ctime: '1'}}], stat())).resolves.toBeUndefined()
  })
})
