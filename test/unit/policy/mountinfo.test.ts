import {describe, expect, it} from 'vitest'
import {decodeMountinfoField, mountOf, mountPointsUnder, otherNamesOf, parseMountinfo, readMountinfo} from '../../../src/core/policy/mountinfo.js'

const TABLE = [
  '22 27 0:21 / /proc rw,relatime - proc proc rw',
  '27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard',
  '85 27 254:0 /run/netns /run/netns rw,relatime shared:1 master:2 - ext4 /dev/vda rw',
  // a bind of ~/.ssh onto a repo's vendor folder; the repo path holds a space and a tab
  '90 27 254:0 /home/u/.ssh /home/u/dev/my\\040repo/vendor rw,relatime - ext4 /dev/vda rw',
  '91 27 254:0 /home/u/dev/tab\\011dir /srv/x rw - ext4 /dev/vda rw',
  '92 27 0:50 / /home/u/dev/my\\040repo/tmp rw,nosuid - tmpfs tmp\\134fs rw,size=4k',
  'garbage line',
  '',
].join('\n')

describe('mountinfo', () => {
  it('decodes the kernel octal escapes (space, tab, newline, backslash) and UTF-8 bytes', () => {
    expect(decodeMountinfoField('/a\\040b\\011c\\012d\\134e')).toBe('/a b\tc\nd\\e')
    // "é" is 0xC3 0xA9: raw bytes arrive as latin1 chars, or escaped
    expect(decodeMountinfoField(Buffer.from('/caf\u00e9', 'utf8').toString('latin1'))).toBe('/café')
    expect(decodeMountinfoField('/caf\\303\\251')).toBe('/café')
  })

  it('parses fields, optional fields and escapes; skips malformed lines', () => {
    const mounts = parseMountinfo(TABLE)
    expect(mounts).toHaveLength(6)
    expect(mounts[2]).toEqual({mountId: 85, parentId: 27, device: '254:0', root: '/run/netns', mountPoint: '/run/netns', fsType: 'ext4', source: '/dev/vda'})
    expect(mounts[3]).toMatchObject({root: '/home/u/.ssh', mountPoint: '/home/u/dev/my repo/vendor'})
    expect(mounts[4]).toMatchObject({root: '/home/u/dev/tab\tdir', mountPoint: '/srv/x'})
    expect(mounts[5]).toMatchObject({fsType: 'tmpfs', source: 'tmp\\fs'})
  })

  it('lists mount points strictly under a root, whatever their device', () => {
    const mounts = parseMountinfo(TABLE)
    expect(mountPointsUnder('/home/u/dev/my repo', mounts)).toEqual(['/home/u/dev/my repo/tmp', '/home/u/dev/my repo/vendor'])
    expect(mountPointsUnder('/home/u/dev/my repo/vendor', mounts)).toEqual([])
    expect(mountPointsUnder('/home/u/dev/my', mounts)).toEqual([]) // a prefix of a name is not a parent
    expect(mountPointsUnder('/', mounts)).toEqual(['/home/u/dev/my repo/tmp', '/home/u/dev/my repo/vendor', '/proc', '/run/netns', '/srv/x'])
  })

  it('finds the other names of a folder through binds of the same file system', () => {
    const mounts = parseMountinfo(TABLE)
    expect(mountOf('/home/u/dev/my repo/vendor/keys', mounts)?.mountId).toBe(90)
    expect(otherNamesOf('/home/u/dev/my repo/vendor', mounts)).toEqual(['/home/u/.ssh'])
    expect(otherNamesOf('/home/u/dev/my repo/vendor/sub', mounts)).toEqual(['/home/u/.ssh/sub'])
    expect(otherNamesOf('/srv/x/a', mounts)).toEqual(['/home/u/dev/tab\tdir/a'])
    expect(otherNamesOf('/home/u/dev/other', mounts)).toEqual([])
    expect(otherNamesOf('/home/u/dev/my repo/tmp/x', mounts)).toEqual([]) // a tmpfs has no other name
  })

  it('reads this process’s table on Linux', () => {
    const mounts = readMountinfo()
    if (process.platform !== 'linux') expect(mounts).toBeNull()
    else expect(mounts?.some((m) => m.mountPoint === '/')).toBe(true)
    expect(readMountinfo('/nonexistent/mountinfo')).toBeNull()
  })
})
