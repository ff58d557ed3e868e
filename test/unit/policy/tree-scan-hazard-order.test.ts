/**
 * The order of the scan's hazards is part of its answer (launch names the first refusal): refusals
 * before warnings, then by path, and two hazards at the same path by kind — whatever order the scan
 * found them in. A file that is both a credential file and a mount point (a bind of one file) is
 * found first as a mount point (from the mount table) and then by its name.
 */
import {mkdirSync, realpathSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {parseMountinfo} from '../../../src/core/policy/mountinfo.js'
import {scanTree} from '../../../src/core/policy/tree-scan.js'
import {tempDir} from '../../helpers/temp-dirs.js'

describe('hazards at the same path', () => {
  it('are ordered by kind, not by the order they were found', async () => {
    const base = realpathSync(tempDir('scan-order-'))
    const repo = join(base, 'repo')
    mkdirSync(join(repo, 'a'), {recursive: true})
    writeFileSync(join(repo, '.git-credentials'), '')
    writeFileSync(join(repo, 'a', '.netrc'), '')
    const mounts = parseMountinfo(
      [
        '27 1 254:0 / / rw - ext4 /dev/vda rw',
        `90 27 254:0 /srv/creds ${repo}/.git-credentials rw - ext4 /dev/vda rw`,
        `91 27 254:0 /srv/netrc ${repo}/a/.netrc rw - ext4 /dev/vda rw`,
      ].join('\n'),
    )
    const scan = await scanTree(repo, {mounts})
    expect(scan.hazards.map((h) => `${h.severity} ${h.kind} ${h.relPath}`)).toEqual([
      'refuse credential-store .git-credentials',
      'refuse mount-point .git-credentials',
      'refuse credential-store a/.netrc',
      'refuse mount-point a/.netrc',
    ])
  })
})
