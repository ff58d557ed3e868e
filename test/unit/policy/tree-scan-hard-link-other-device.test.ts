/**
 * A hard link never crosses file systems, so the hard-link check looks for a candidate's other names
 * on the candidate's own device. A file in the tree can sit on another device than the tree's root:
 * a file bind-mounted into it. When that file is a hard link to a key on that other file system
 * (here: the home on a tmpfs, the repo on the disk), it is refused as a hard link too, not only
 * as a mount point. Needs a bind mount: root in a mount namespace that allows it (the mutation and
 * root runs); the non-root pass skips it.
 */
import {spawnSync} from 'node:child_process'
import {linkSync, lstatSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {scanTree} from '../../../src/core/policy/tree-scan.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'
import {tempDir} from '../../helpers/temp-dirs.js'

const SHM = '/dev/shm'

/** Root, allowed to bind-mount, with a tmpfs at /dev/shm on another device than the temp dir. */
function canBindAcrossDevices(): boolean {
  if (process.getuid?.() !== 0) return false
  try {
    if (lstatSync(SHM).dev === lstatSync(realpathSync(tempDir('scan-dev-probe-'))).dev) return false
  } catch {
    return false
  }
  const r = spawnSync('sh', ['-c', 'd=$(mktemp -d) && mkdir "$d/a" "$d/b" && mount --bind "$d/a" "$d/b" && umount "$d/b"; s=$?; rm -rf "$d"; exit $s'])
  return r.status === 0
}

describe('a hard link on another device than the root', () => {
  it.runIf(canBindAcrossDevices())('bind-mounted into the tree as a file: refused as a hard link to the key, and as a mount point', async () => {
    const shm = mkdtempSync(join(SHM, 'scan-other-dev-'))
    const repo = join(realpathSync(tempDir('scan-other-dev-')), 'repo')
    const planted = join(repo, 'notes.txt')
    let mounted = false
    try {
      const home = join(shm, 'home')
      mkdirSync(join(home, '.ssh'), {recursive: true})
      writeFileSync(join(home, '.ssh', 'id_ed25519'), 'KEY')
      linkSync(join(home, '.ssh', 'id_ed25519'), join(shm, 'second-name'))
      mkdirSync(repo)
      writeFileSync(planted, '')
      expect(spawnSync('mount', ['--bind', join(shm, 'second-name'), planted]).status).toBe(0)
      mounted = true
      expect(lstatSync(planted).dev).not.toBe(lstatSync(repo).dev)
      const host = fakeHostFacts('linux', {homeDir: home, uid: 0, env: {HOME: home}})
      const scan = await scanTree(repo, {host})
      expect(scan.hazards.map((h) => `${h.severity} ${h.kind} ${h.relPath}`)).toEqual(['refuse hardlink-sensitive notes.txt', 'refuse mount-point notes.txt'])
    } finally {
      if (mounted) spawnSync('umount', [planted])
      rmSync(shm, {recursive: true, force: true})
    }
  })
})
