/**
 * The hard-link check's answer in the cases its report turns on: a file with several names in the
 * tree is reported at the first of them in path order (not at the last one walked); a file linked
 * to an ordinary file outside the tree, with every denied folder checked, is nothing (no warning);
 * and "too many files to check" is a warning only when no hard link was found — a hard link found
 * is refused on its own even when another denied folder was too big. The denied folders looked in
 * are the test home's ~/.ssh and ~/.aws (findDenyAliases' `roots`): the whole catalogue on this
 * machine (other users' homes included, run as root) takes seconds to walk.
 */
import {linkSync, mkdirSync, realpathSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it, vi} from 'vitest'
import {scanTree} from '../../../src/core/policy/tree-scan.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'
import {tempDir} from '../../helpers/temp-dirs.js'

const denied = vi.hoisted(() => ({roots: [] as Array<{path: string; display: string}>}))

vi.mock('../../../src/core/policy/deny-inodes.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../src/core/policy/deny-inodes.js')>()
  return {...real, findDenyAliases: (...[host, wanted, opts]: Parameters<typeof real.findDenyAliases>) => real.findDenyAliases(host, wanted, {...opts, roots: denied.roots})}
})

function layout() {
  const base = realpathSync(tempDir('scan-hardlink-warn-'))
  const home = join(base, 'home')
  mkdirSync(join(home, '.ssh'), {recursive: true})
  writeFileSync(join(home, '.ssh', 'id_ed25519'), 'KEY')
  const repo = join(home, 'dev', 'repo')
  mkdirSync(join(repo, 'z', 'deeper'), {recursive: true})
  const host = fakeHostFacts('linux', {homeDir: home, uid: 1000, env: {HOME: home}})
  // ~/.aws first: the walk stops after the first folder with a hit, so a too-big one is met before it.
  denied.roots = [
    {path: join(home, '.aws'), display: '~/.aws'},
    {path: join(home, '.ssh'), display: '~/.ssh'},
  ]
  return {base, home, repo, host}
}
const listed = (hazards: ReadonlyArray<{kind: string; severity: string; relPath: string}>) => hazards.map((h) => `${h.severity} ${h.kind} ${h.relPath}`)

describe('the hard-link report', () => {
  it('names the first of several names in path order, though the walk meets it first and the others after', async () => {
    const {home, repo, host} = layout()
    const key = join(home, '.ssh', 'id_ed25519')
    // The root's own files are walked before any folder below it.
    linkSync(key, join(repo, 'a-first'))
    linkSync(key, join(repo, 'z', 'second'))
    linkSync(key, join(repo, 'z', 'deeper', 'third'))
    const scan = await scanTree(repo, {host, mounts: null})
    expect(listed(scan.hazards)).toEqual(['refuse hardlink-sensitive a-first'])
  })

  it('a file linked to an ordinary file outside the tree, every denied folder checked: nothing', async () => {
    const {base, repo, host} = layout()
    writeFileSync(join(base, 'store-file'), '')
    linkSync(join(base, 'store-file'), join(repo, 'z', 'from-store'))
    expect((await scanTree(repo, {host, mounts: null})).hazards).toEqual([])
  })

  it('a hard link found is refused with no warning, though another denied folder had too many files to check', async () => {
    const {home, repo, host} = layout()
    mkdirSync(join(home, '.aws'))
    for (let i = 0; i < 30; i++) writeFileSync(join(home, '.aws', `profile_${i}`), '')
    linkSync(join(home, '.ssh', 'id_ed25519'), join(repo, 'z', 'k'))
    expect(listed((await scanTree(repo, {host, mounts: null, denyPerRootBudget: 10})).hazards)).toEqual(['refuse hardlink-sensitive z/k'])
    // Control: the same big folder, no hard link into ~/.ssh: the warning.
    const other = layout()
    mkdirSync(join(other.home, '.aws'))
    for (let i = 0; i < 30; i++) writeFileSync(join(other.home, '.aws', `profile_${i}`), '')
    writeFileSync(join(other.base, 'store-file'), '')
    linkSync(join(other.base, 'store-file'), join(other.repo, 'z', 'from-store'))
    expect(listed((await scanTree(other.repo, {host: other.host, mounts: null, denyPerRootBudget: 10})).hazards)).toEqual(['warn hardlink-unchecked .'])
  })
})
