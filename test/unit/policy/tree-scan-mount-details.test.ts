/**
 * What the scan says about a mount point and about the root's other names, from the mount table: a
 * mount point is described by its own entry (its file system and source), also when other entries
 * follow it in the table; and the root mounted elsewhere too, at a denied place, is refused with the
 * policy's reason for that place.
 */
import {mkdirSync, realpathSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {judgeMountSource} from '../../../src/core/policy/mount-policy.js'
import {parseMountinfo} from '../../../src/core/policy/mountinfo.js'
import {scanTree} from '../../../src/core/policy/tree-scan.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'
import {tempDir} from '../../helpers/temp-dirs.js'

function layout() {
  const base = realpathSync(tempDir('scan-mount-details-'))
  const home = join(base, 'home')
  mkdirSync(join(home, '.ssh'), {recursive: true})
  writeFileSync(join(home, '.ssh', 'id_ed25519'), 'KEY')
  const repo = join(home, 'dev', 'repo')
  mkdirSync(join(repo, 'data'), {recursive: true})
  const host = fakeHostFacts('linux', {homeDir: home, uid: 1000, env: {HOME: home}})
  return {base, home, repo, host}
}
const table = (lines: string[]) => parseMountinfo(['27 1 254:0 / / rw - ext4 /dev/vda rw', ...lines].join('\n'))

describe('the mount table', () => {
  it('a mount point is described by its own entry, not by one after it', async () => {
    const {base, repo} = layout()
    const mounts = table([`90 27 0:50 / ${repo}/data rw - tmpfs scratch rw`, `91 27 0:51 / ${base}/elsewhere rw - nfs server:/export rw`])
    const scan = await scanTree(repo, {mounts})
    expect(scan.hazards.map((h) => [h.kind, h.relPath, h.detail])).toEqual([
      ['mount-point', 'data', 'a mount point (tmpfs scratch): podman binds recursively, so what is mounted there would reach the container'],
    ])
  })

  it("the root mounted at a denied place too is refused with the policy's reason for that place", async () => {
    const {home, repo, host} = layout()
    const other = join(home, '.ssh', 'sub')
    const verdict = judgeMountSource(other, host)
    expect(verdict.allowed).toBe(false)
    const scan = await scanTree(repo, {host, mounts: table([`95 27 254:0 ${repo} ${other} rw - ext4 /dev/vda rw`])})
    expect(scan.hazards.map((h) => [h.kind, h.relPath, h.detail])).toEqual([['alias-sensitive', '.', `this folder is also ${other} (a bind mount): ${verdict.allowed ? '' : verdict.reason}`]])
  })
})
