/**
 * Run as root, other users' secrets are secrets too: the hazard scan refuses a hard link to another
 * user's key planted in the tree, and a tree that is another user's ~/.ssh under another name, as it
 * does for the own home's. (The inode lookups used to look only below the own home: the rules for
 * other homes are written against a placeholder, which names no place on disk.)
 */
import {linkSync, mkdirSync, realpathSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {denyDirInodes, inodeKey} from '../../../src/core/policy/deny-inodes.js'
import {scanTree} from '../../../src/core/policy/tree-scan.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'
import {tempDir} from '../../helpers/temp-dirs.js'

function layout() {
  const base = realpathSync(tempDir('scan-other-homes-'))
  const own = join(base, 'root')
  const ann = join(base, 'users', 'ann')
  mkdirSync(join(own, 'dev', 'repo'), {recursive: true})
  mkdirSync(join(ann, '.ssh'), {recursive: true})
  writeFileSync(join(ann, '.ssh', 'id_rsa'), 'ANN-KEY')
  const asRoot = fakeHostFacts('linux', {homeDir: own, uid: 0, isRoot: true, env: {HOME: own}, userHomes: [ann]})
  return {base, own, ann, repo: join(own, 'dev', 'repo'), asRoot}
}

const refused = (hazards: ReadonlyArray<{kind: string; severity: string; relPath: string}>) => hazards.filter((h) => h.severity === 'refuse').map((h) => `${h.kind} ${h.relPath}`)

describe("as root, another user's secrets", () => {
  it("a hard link to another user's key in the tree is refused", async () => {
    const {ann, repo, asRoot} = layout()
    linkSync(join(ann, '.ssh', 'id_rsa'), join(repo, 'vendored'))
    const scan = await scanTree(repo, {host: asRoot, mounts: null})
    expect(refused(scan.hazards)).toEqual(['hardlink-sensitive vendored'])
    expect(scan.hazards[0]?.detail).toContain(`a hard link to ${join(ann, '.ssh', 'id_rsa')} (~/.ssh in another user's home)`)
  })

  it("a rule whose first name is a glob (~/.aider*) is looked up in another user's home too", async () => {
    const {ann, repo, asRoot} = layout()
    writeFileSync(join(ann, '.aider.conf.yml'), 'openai-api-key: x')
    linkSync(join(ann, '.aider.conf.yml'), join(repo, 'conf'))
    const scan = await scanTree(repo, {host: asRoot, mounts: null})
    expect(refused(scan.hazards)).toEqual(['hardlink-sensitive conf'])
    expect(scan.hazards[0]?.detail).toContain(`a hard link to ${join(ann, '.aider.conf.yml')} (~/.aider* in another user's home)`)
  })

  it("another user's ~/.ssh is known by its inode (a bind mount of it is refused), and so is the folder holding it", () => {
    const {ann, asRoot} = layout()
    const dirs = denyDirInodes(asRoot)
    expect(dirs.get(inodeKey(statSync(join(ann, '.ssh'))))).toEqual({path: join(ann, '.ssh'), display: "~/.ssh in another user's home", relation: 'denied'})
    expect(dirs.get(inodeKey(statSync(ann)))?.relation).toBe('contains')
  })
})
