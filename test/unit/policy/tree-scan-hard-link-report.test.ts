/**
 * How the hazard scan reports hard links: a second name of a denied file is refused once, at its
 * first name in the tree, saying how many more names it has there; a file whose links all lie in
 * the tree is no candidate; when the denied folders were too big to check, the scan says so (a
 * warning) instead of staying silent; and a hard link found is reported even then.
 */
import {linkSync, mkdirSync, realpathSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {scanTree} from '../../../src/core/policy/tree-scan.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'
import {tempDir} from '../../helpers/temp-dirs.js'

function layout() {
  const base = realpathSync(tempDir('scan-hardlinks-'))
  const home = join(base, 'home')
  mkdirSync(join(home, '.ssh'), {recursive: true})
  writeFileSync(join(home, '.ssh', 'id_ed25519'), 'KEY')
  for (let i = 0; i < 40; i++) writeFileSync(join(home, '.ssh', `known_${i}`), '')
  const repo = join(home, 'dev', 'repo')
  mkdirSync(join(repo, 'a'), {recursive: true})
  mkdirSync(join(repo, 'b'), {recursive: true})
  const host = fakeHostFacts('linux', {homeDir: home, uid: 1000, env: {HOME: home}})
  return {base, home, repo, host}
}

const listed = (hazards: ReadonlyArray<{kind: string; severity: string; relPath: string}>) => hazards.map((h) => `${h.severity} ${h.kind} ${h.relPath}`)

describe('a hard link to a denied file', () => {
  it('with several names in the tree is refused once, at the first, with the count of the others', async () => {
    const {home, repo, host} = layout()
    const key = join(home, '.ssh', 'id_ed25519')
    linkSync(key, join(repo, 'b', 'two'))
    linkSync(key, join(repo, 'a', 'one'))
    linkSync(key, join(repo, 'b', 'three'))
    const scan = await scanTree(repo, {host, mounts: null})
    expect(listed(scan.hazards)).toEqual(['refuse hardlink-sensitive a/one'])
    expect(scan.hazards[0]?.detail).toBe(`a hard link to ${key} (~/.ssh): the same file, so the agent could read and change it (and 2 more name(s) in the tree)`)
  })

  it('with one name in the tree says nothing more', async () => {
    const {home, repo, host} = layout()
    linkSync(join(home, '.ssh', 'id_ed25519'), join(repo, 'a', 'only'))
    const scan = await scanTree(repo, {host, mounts: null})
    expect(scan.hazards[0]?.detail).toBe(`a hard link to ${join(home, '.ssh', 'id_ed25519')} (~/.ssh): the same file, so the agent could read and change it`)
  })

  it('is no candidate when every name of the file is in the tree', async () => {
    const {repo, host} = layout()
    writeFileSync(join(repo, 'a', 'x'), '')
    linkSync(join(repo, 'a', 'x'), join(repo, 'b', 'x'))
    const scan = await scanTree(repo, {host, mounts: null, denyPerRootBudget: 1})
    expect(scan.hazards).toEqual([])
  })
})

describe('when the denied folders are too big to check', () => {
  it('a file with a link outside the tree is a warning naming the folders not checked', async () => {
    const {base, repo, host} = layout()
    writeFileSync(join(base, 'outside'), '')
    linkSync(join(base, 'outside'), join(repo, 'a', 'linked'))
    const scan = await scanTree(repo, {host, mounts: null, denyPerRootBudget: 10})
    expect(listed(scan.hazards)).toEqual(['warn hardlink-unchecked .'])
    expect(scan.hazards[0]?.detail).toMatch(/^1 file\(s\) here have hard links outside the tree, and .*~\/\.ssh.* had too many files to check: a hard link into them would not be seen$/)
  })

  it('a hard link found before the budget ran out is refused, with no warning', async () => {
    const {home, repo, host} = layout()
    linkSync(join(home, '.ssh', 'id_ed25519'), join(repo, 'a', 'k'))
    const scan = await scanTree(repo, {host, mounts: null, denyPerRootBudget: 100})
    expect(listed(scan.hazards)).toEqual(['refuse hardlink-sensitive a/k'])
  })
})
