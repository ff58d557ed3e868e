/**
 * The mount table tells the scan what is mounted under a folder and what else a folder is called
 * (a bind mount of ~/.ssh under the repo); malformed lines are skipped, never misread.
 */
import {describe, expect, it} from 'vitest'
import {decodeMountinfoField, mountOf, mountPointsUnder, otherNamesOf, parseMountinfo} from '../../../src/core/policy/mountinfo.js'

const table = parseMountinfo(
  [
    '1 0 8:1 / / rw - ext4 /dev/sda1 rw',
    '2 1 8:1 /home/u/.ssh /srv/repo/keys rw - ext4 /dev/sda1 rw',
    '3 1 8:2 / /srv/repo/data rw shared:1 - xfs /dev/sdb rw',
    '4 1 8:1 /home/u /mnt/home rw - ext4 /dev/sda1 rw',
    '5 1 0:40 / /srv/repo2 rw - tmpfs tmpfs rw',
  ].join('\n'),
)

describe('the mount table', () => {
  it('parses each field, optional fields skipped', () => {
    expect(table[2]).toEqual({mountId: 3, parentId: 1, device: '8:2', root: '/', mountPoint: '/srv/repo/data', fsType: 'xfs', source: '/dev/sdb'})
  })

  it('skips lines that are short, lack the separator, or have malformed ids', () => {
    const lines = [
      '1 0 8:1 / / rw ext4 /dev/sda1 rw',
      '1 0 8:1 / /x rw -',
      'x 0 8:1 / /x rw - ext4 s rw',
      '1 y 8:1 / /x rw - ext4 s rw',
      '1 0 81 / /x rw - ext4 s rw',
      '1 0 8:1x / /x rw - ext4 s rw',
      '1x 0 8:1 / /x rw - ext4 s rw',
      '1 0 a8:1 / /x rw - ext4 s rw',
      'x1 0 8:1 / /x rw - ext4 s rw',
      '1 x1 8:1 / /x rw - ext4 s rw',
      '1 1x 8:1 / /x rw - ext4 s rw',
      '1 0 x8:1 / /x rw - ext4 s rw',
      '   ',
      '9 0 8:1 / /ok rw - ext4 s rw',
    ]
    expect(parseMountinfo(lines.join('\n')).map((e) => e.mountPoint)).toEqual(['/ok'])
    expect(parseMountinfo('9 0 8:1 - /m rw - ext4 s rw')[0]).toMatchObject({root: '-', mountPoint: '/m', fsType: 'ext4'})
    // eight fields: no source, or neither type nor source (the separator last)
    expect(parseMountinfo('9 0 8:1 / /eight rw - ext4')[0]).toMatchObject({mountPoint: '/eight', fsType: 'ext4', source: ''})
    expect(parseMountinfo('9 0 8:1 / /bare rw shared:1 -')[0]).toMatchObject({mountPoint: '/bare', fsType: '', source: ''})
  })

  it('decodes octal escapes as bytes of UTF-8', () => {
    expect(decodeMountinfoField('/a\\040b\\011c\\012d\\134e')).toBe('/a b\tc\nd\\e')
    expect(decodeMountinfoField('/caf\\303\\251')).toBe('/café')
    expect(decodeMountinfoField('/a\\04b')).toBe('/a\\04b')
  })

  it('lists mount points strictly under a folder, sorted, once', () => {
    expect(mountPointsUnder('/srv/repo', table)).toEqual(['/srv/repo/data', '/srv/repo/keys'])
    expect(mountPointsUnder('/srv/repo/', table)).toEqual(['/srv/repo/data', '/srv/repo/keys'])
    expect(mountPointsUnder('/srv/repo/data', table)).toEqual([])
    expect(mountPointsUnder('/srv/rep', table)).toEqual([])
  })

  it('finds the mount a path is on: the longest mount point containing it', () => {
    expect(mountOf('/srv/repo/keys/id', table)?.mountId).toBe(2)
    expect(mountOf('/srv/repo/keys', table)?.mountId).toBe(2)
    expect(mountOf('/srv/repo/keysx', table)?.mountId).toBe(1)
    expect(mountOf('/srv/repo2/a', table)?.mountId).toBe(5)
    expect(mountOf('/x', [])).toBeNull()
    // listed in any order; of two mounts on the same point, the later one (on top) counts
    expect(mountOf('/srv/repo/keys/id', [...table].reverse())?.mountId).toBe(2)
    const stacked = parseMountinfo('1 0 8:1 / / rw - ext4 a rw\n7 1 8:3 / /srv rw - ext4 b rw\n8 1 8:4 / /srv rw - ext4 c rw')
    expect(mountOf('/srv/x', stacked)?.mountId).toBe(8)
  })

  it('finds the other names of a folder through binds of the same file system', () => {
    expect(otherNamesOf('/srv/repo/keys', table)).toEqual(['/home/u/.ssh', '/mnt/home/.ssh'])
    expect(otherNamesOf('/home/u/.ssh/id', table)).toEqual(['/mnt/home/.ssh/id', '/srv/repo/keys/id'])
    expect(otherNamesOf('/srv/repo/data', table)).toEqual([])
    expect(otherNamesOf('/home/u/.sshx', table)).toEqual(['/mnt/home/.sshx'])
    expect(otherNamesOf('/x', [])).toEqual([])
  })
})
