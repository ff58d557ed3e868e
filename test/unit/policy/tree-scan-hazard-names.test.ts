/**
 * The hazard scan finds each credential store and credential file by name wherever the scan reads
 * names (and only there), device nodes anywhere, links onto ~ or / as refusals, credentials in
 * .git/config, the names git takes as .git; and its report is ordered refuse-first.
 */
import {execFileSync} from 'node:child_process'
import {mkdirSync, realpathSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {scanTree} from '../../../src/core/policy/tree-scan.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'
import {tempDir} from '../../helpers/temp-dirs.js'

const isRoot = process.getuid?.() === 0

function tree(files: Record<string, string | null>): string {
  const root = realpathSync(tempDir('scan-names-'))
  for (const [rel, content] of Object.entries(files)) {
    const abs = join(root, rel)
    if (content === null) mkdirSync(abs, {recursive: true})
    else {
      mkdirSync(join(abs, '..'), {recursive: true})
      writeFileSync(abs, content)
    }
  }
  return root
}

const listed = (hazards: ReadonlyArray<{kind: string; severity: string; relPath: string}>) => hazards.map((h) => `${h.severity} ${h.kind} ${h.relPath}`)

describe('credential stores and files inside the tree are refused by name', () => {
  const dirs = ['.ssh', '.aws', '.gnupg', '.kube', '.azure', '.oci', '.password-store']
  const files = ['.git-credentials', '.netrc', '_netrc', '.vault-token', '.pgpass']

  it.each(dirs)('a %s folder, at any depth and in any case', async (name) => {
    const root = tree({[`ops/${name}/x`]: 'k', [`a/b/${name.toUpperCase()}`]: null, [`src/${name}x`]: null})
    const scan = await scanTree(root, {mounts: null})
    expect(listed(scan.hazards)).toEqual([`refuse credential-store a/b/${name.toUpperCase()}`, `refuse credential-store ops/${name}`])
    expect(scan.hazards[1]?.detail).toBe(`a ${name} directory (credential store) inside the tree`)
  })

  it.each(files)('a %s file, and not a folder of that name', async (name) => {
    const root = tree({[`x/${name}`]: 'secret', [`y/${name.toUpperCase()}`]: 's', [`z/${name}`]: null, [`w/${name}.txt`]: ''})
    const scan = await scanTree(root, {mounts: null})
    expect(listed(scan.hazards)).toEqual([`refuse credential-store x/${name}`, `refuse credential-store y/${name.toUpperCase()}`])
    expect(scan.hazards[0]?.detail).toBe(`${name}: a credential file`)
  })

  it("a .docker/config.json is a credential file; another folder's config.json is not", async () => {
    const root = tree({'.Docker/config.json': '{}', 'app/config.json': '{}', 'docker/config.json': '{}'})
    expect(listed((await scanTree(root, {mounts: null})).hazards)).toEqual(['refuse credential-store .Docker/config.json'])
  })

  it('names are not judged inside node_modules or .git/objects, but are inside .git and below other objects folders', async () => {
    const root = tree({'node_modules/p/.aws': null, 'NODE_MODULES/q/.netrc': '', '.git/objects/.ssh': null, '.git/x/.kube': null, 'lib/objects/.gnupg': null, 'lib/.git-x/objects/.oci': null})
    expect(listed((await scanTree(root, {mounts: null})).hazards)).toEqual(['refuse credential-store .git/x/.kube', 'refuse credential-store lib/.git-x/objects/.oci', 'refuse credential-store lib/objects/.gnupg'])
  })

  it('workspace secret files are warnings; their .example forms are not', async () => {
    const root = tree({'.env': 'A=1', 'svc/.env.production': '', 'svc/.env.example': '', 'certs/server.key': ''})
    const scan = await scanTree(root, {mounts: null})
    expect(listed(scan.hazards)).toEqual(['warn secret-file .env', 'warn secret-file certs/server.key', 'warn secret-file svc/.env.production'])
    expect(scan.hazards[0]?.detail).toBe('.env often holds secrets; it will be visible to the agent')
  })
})

describe('what the container must never be handed', () => {
  it.runIf(isRoot)('a device node, anywhere (node_modules included)', async () => {
    const root = tree({'node_modules/x': null})
    execFileSync('mknod', [join(root, 'node_modules', 'x', 'null'), 'c', '1', '3'])
    execFileSync('mknod', [join(root, 'loop'), 'b', '7', '200'])
    const scan = await scanTree(root, {mounts: null})
    expect(listed(scan.hazards)).toEqual(['refuse device loop', 'refuse device node_modules/x/null'])
    expect(scan.hazards[0]?.detail).toBe('a device node')
  })

  it('a FIFO', async () => {
    const root = tree({})
    execFileSync('mkfifo', [join(root, 'pipe')])
    expect((await scanTree(root, {mounts: null})).hazards).toEqual([
      {path: join(root, 'pipe'), relPath: 'pipe', kind: 'fifo', severity: 'refuse', detail: 'a named pipe (FIFO) shared with host processes'},
    ])
  })

  it('a symlink to the home directory or to / is refused; one to an ordinary folder outside is a warning', async () => {
    const base = realpathSync(tempDir('scan-home-'))
    const home = join(base, 'home', 'u')
    const repo = join(home, 'dev', 'repo')
    mkdirSync(repo, {recursive: true})
    mkdirSync(join(base, 'srv', 'data'), {recursive: true})
    symlinkSync(home, join(repo, 'to-home'))
    symlinkSync('/', join(repo, 'to-root'))
    symlinkSync(join(base, 'srv', 'data'), join(repo, 'to-data'))
    symlinkSync('../../../../../srv/data', join(repo, 'rel-data'))
    const host = fakeHostFacts('linux', {homeDir: home, uid: 1000, env: {HOME: home}})
    const scan = await scanTree(repo, {host, mounts: null})
    expect(listed(scan.hazards)).toEqual(['refuse symlink-sensitive to-home', 'refuse symlink-sensitive to-root', 'warn symlink-outside rel-data', 'warn symlink-outside to-data'])
    expect(scan.hazards[0]?.detail).toBe(`symlink to ${home}: ${home} is your home directory`)
    expect(scan.hazards[3]?.detail).toBe(`symlink to ${join(base, 'srv', 'data')}, outside the mounted folder (it will dangle in the container)`)
    // without host facts nothing can be judged: only warnings
    expect(listed((await scanTree(repo, {mounts: null})).hazards).every((h) => h.startsWith('warn symlink-outside'))).toBe(true)
  })

  it('a dangling link inside the tree is nothing; a dangling one leaving it is a warning', async () => {
    const root = tree({})
    symlinkSync('missing', join(root, 'in'))
    symlinkSync('/nonexistent-sourceosctl/x', join(root, 'out'))
    expect(listed((await scanTree(root, {mounts: null})).hazards)).toEqual(['warn symlink-outside out'])
  })
})

describe('.git/config and git directories', () => {
  it('a remote URL with user:token in the top-level .git/config is a warning; a plain one is not', async () => {
    const withCreds = tree({'.git/config': '[remote "o"]\n\turl = https://me:ghp_x@github.com/o/r\n'})
    expect((await scanTree(withCreds, {mounts: null})).hazards).toEqual([
      {path: join(withCreds, '.git', 'config'), relPath: '.git/config', kind: 'secret-file', severity: 'warn', detail: 'a remote URL in .git/config embeds credentials (user:token@host)'},
    ])
    const push = tree({'.git/config': '[remote "o"]\n  pushurl=ssh://me:pw@host/r\n'})
    expect(listed((await scanTree(push, {mounts: null})).hazards)).toEqual(['warn secret-file .git/config'])
    const plain = tree({'.git/config': '[remote "o"]\n\turl = https://github.com/o/r\n\turl = git@github.com:o/r\n'})
    expect((await scanTree(plain, {mounts: null})).hazards).toEqual([])
    const folder = tree({'.git/config/x': ''})
    expect((await scanTree(folder, {mounts: null})).hazards).toEqual([])
  })

  it('every .git entry is collected with its kind; on case-insensitive hosts also .GIT, .git. and git~1', async () => {
    const root = tree({'.git': null, 'sub/.git': 'gitdir: ../.git/modules/sub', 'x/.GIT': null, 'y/.git. ': null, 'z/GIT~1': null, 'w/.g\u200cit': null, 'v/git': null})
    symlinkSync('/nowhere', join(root, 'v', '.git'))
    const linux = fakeHostFacts('linux', {homeDir: '/nonexistent-home', env: {}})
    const onLinux = await scanTree(root, {mounts: null, host: linux})
    expect(onLinux.gitEntries.map((g) => [g.path.slice(root.length + 1), g.kind])).toEqual([['.git', 'dir'], ['sub/.git', 'file'], ['v/.git', 'symlink']])
    const mac = fakeHostFacts('macos', {homeDir: '/nonexistent-home', env: {}})
    const onMac = await scanTree(root, {mounts: null, host: mac})
    expect(onMac.gitEntries.map((g) => g.path.slice(root.length + 1))).toEqual(['.git', 'sub/.git', 'v/.git', 'w/.g\u200cit', 'x/.GIT', 'y/.git. ', 'z/GIT~1'])
  })

  it('a folder laid out as a git dir (HEAD, objects, refs; or HEAD and commondir) is collected too', async () => {
    const root = tree({'bare/HEAD': 'ref: x', 'bare/objects': null, 'bare/refs': null, 'wt/HEAD': '', 'wt/commondir': '', 'half/HEAD': '', 'half/objects': null, 'nohead/objects': null, 'nohead/refs': null, 'nohead/commondir': '', 'dirhead/HEAD': null, 'dirhead/commondir': ''})
    const scan = await scanTree(root, {mounts: null})
    expect(scan.gitEntries.map((g) => [g.path.slice(root.length + 1), g.kind])).toEqual([['bare', 'dir'], ['wt', 'dir']])
  })
})

describe('the report', () => {
  it('lists refusals first, then warnings, each by path; limits are reported', async () => {
    const root = tree({'b/.env': '', 'a/.env': '', 'c/.aws': null, 'd/.ssh': null, 'e/f/g/h': null})
    const scan = await scanTree(root, {mounts: null})
    expect(listed(scan.hazards)).toEqual(['refuse credential-store c/.aws', 'refuse credential-store d/.ssh', 'warn secret-file a/.env', 'warn secret-file b/.env'])
    const shallow = await scanTree(root, {mounts: null, maxDepth: 1})
    expect(shallow.hazards.find((h) => h.kind === 'truncated')?.detail).toBe('scan stopped at depth 1; deeper folders were not checked')
    const few = await scanTree(root, {mounts: null, maxEntries: 2})
    expect(few.hazards.find((h) => h.kind === 'truncated')?.detail).toBe('scan stopped after 2 entries; the rest of the tree was not checked')
    expect(few.entries).toBe(2)
    expect((await scanTree(root, {mounts: null, maxDepth: 4})).hazards.some((h) => h.kind === 'truncated')).toBe(false)
  })
})
