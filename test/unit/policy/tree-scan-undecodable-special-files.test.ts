/**
 * A name that is not valid UTF-8 cannot be followed by the scan, which refuses such a file, folder
 * or link as one it cannot examine. A socket, FIFO or device node is refused for its type alone
 * (known from the listing, nothing to follow): each is refused as what it is, whatever its name.
 */
import {execFileSync} from 'node:child_process'
import {realpathSync} from 'node:fs'
import {createServer} from 'node:net'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {scanTree} from '../../../src/core/policy/tree-scan.js'
import {tempDir} from '../../helpers/temp-dirs.js'

const isRoot = process.getuid?.() === 0
const listed = (hazards: ReadonlyArray<{kind: string; severity: string; relPath: string}>) => hazards.map((h) => `${h.severity} ${h.kind} ${h.relPath}`)

describe('a special file whose name is not valid UTF-8', () => {
  it('a unix socket is refused as a socket', async () => {
    const repo = realpathSync(tempDir('scan-undecodable-'))
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(join(repo, 'sock'), resolve))
    try {
      // Renamed to a name that is not UTF-8 (node names paths in UTF-8 only).
      execFileSync('sh', ['-c', 'mv sock "$(printf "s\\377")"'], {cwd: repo})
      expect(listed((await scanTree(repo, {mounts: null})).hazards)).toEqual(['refuse socket s\uFFFD'])
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  })

  it.runIf(isRoot)('a block and a character device are refused as devices', async () => {
    const repo = realpathSync(tempDir('scan-undecodable-'))
    execFileSync('sh', ['-c', 'mknod "$(printf "b\\377")" b 7 200 && mknod "$(printf "c\\377")" c 1 3'], {cwd: repo})
    expect(listed((await scanTree(repo, {mounts: null})).hazards)).toEqual(['refuse device b\uFFFD', 'refuse device c\uFFFD'])
  })
})
