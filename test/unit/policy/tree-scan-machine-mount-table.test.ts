/**
 * Without a mount table given, the scan reads the machine's (/proc/self/mountinfo): a folder below
 * the root that is a mount point there is refused even when it is on the root's device (a bind
 * mount of ~/.ssh looks like any folder to lstat). A table given — or null, for none — is used
 * instead of the machine's. The machine's table is replaced here by one that lists such a bind
 * (making a real one needs root and a mount namespace that allows it), so the test runs in both
 * passes.
 */
import {mkdirSync, realpathSync} from 'node:fs'
import {join} from 'node:path'
import {beforeEach, describe, expect, it, vi} from 'vitest'
import {parseMountinfo, type MountInfoEntry} from '../../../src/core/policy/mountinfo.js'
import {scanTree} from '../../../src/core/policy/tree-scan.js'
import {tempDir} from '../../helpers/temp-dirs.js'

const machine = vi.hoisted(() => ({table: [] as MountInfoEntry[], reads: 0}))

vi.mock('../../../src/core/policy/mountinfo.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../src/core/policy/mountinfo.js')>()
  return {
    ...real,
    readMountinfo: () => {
      machine.reads++
      return machine.table
    },
  }
})

const listed = (hazards: ReadonlyArray<{kind: string; severity: string; relPath: string}>) => hazards.map((h) => `${h.severity} ${h.kind} ${h.relPath}`)

function repoWithBind() {
  const base = realpathSync(tempDir('scan-machine-table-'))
  const repo = join(base, 'home', 'dev', 'repo')
  mkdirSync(join(repo, 'vendor'), {recursive: true})
  const table = parseMountinfo(
    ['27 1 254:0 / / rw - ext4 /dev/vda rw', `90 27 254:0 ${base}/home/.ssh ${repo}/vendor rw - ext4 /dev/vda rw`].join('\n'),
  )
  return {repo, table}
}

beforeEach(() => {
  machine.reads = 0
})

describe("the machine's mount table", () => {
  it('is read when no table is given: a same-device bind mount below the root is refused', async () => {
    const {repo, table} = repoWithBind()
    machine.table = table
    expect(listed((await scanTree(repo)).hazards)).toEqual(['refuse mount-point vendor'])
    expect(machine.reads).toBe(1)
  })

  it('is not read when a table is given, or null for none: the given one decides', async () => {
    const {repo, table} = repoWithBind()
    machine.table = table
    expect((await scanTree(repo, {mounts: null})).hazards).toEqual([])
    expect((await scanTree(repo, {mounts: []})).hazards).toEqual([])
    expect(machine.reads).toBe(0)
    machine.table = []
    expect(listed((await scanTree(repo, {mounts: table})).hazards)).toEqual(['refuse mount-point vendor'])
    expect(machine.reads).toBe(0)
  })
})
