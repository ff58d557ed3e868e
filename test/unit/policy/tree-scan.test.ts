import {execFileSync} from 'node:child_process'
import {linkSync, mkdirSync, statSync} from 'node:fs'
import {link, mkdir, mkdtemp, realpath, rm, symlink, writeFile} from 'node:fs/promises'
import {createServer, type Server} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {HostFacts} from '../../../src/core/host/facts.js'
import {scanTreeForHazards} from '../../../src/core/policy/mount-policy.js'
import {parseMountinfo} from '../../../src/core/policy/mountinfo.js'
import {scanTree, type TreeScan} from '../../../src/core/policy/tree-scan.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'

describe('scanTreeForHazards', () => {
  let base: string
  let repo: string
  let home: string
  let server: Server

  beforeAll(async () => {
    base = await realpath(await mkdtemp(join(tmpdir(), 'scan-')))
    home = join(base, 'home')
    repo = join(home, 'dev', 'repo')
    await mkdir(join(home, '.ssh'), {recursive: true})
    await writeFile(join(home, '.ssh', 'id_ed25519'), 'PRIVATE')
    await mkdir(join(repo, 'src', 'deep'), {recursive: true})
    await writeFile(join(repo, 'src', 'index.ts'), '')
    await writeFile(join(repo, '.env'), 'X=1')
    await writeFile(join(repo, '.env.example'), 'X=')
    await writeFile(join(repo, 'src', 'server.pem'), '')
    await mkdir(join(repo, 'ops', '.ssh'), {recursive: true})
    await mkdir(join(repo, 'ops', '.docker'), {recursive: true})
    await writeFile(join(repo, 'ops', '.docker', 'config.json'), '{}')
    await writeFile(join(repo, '.netrc'), 'machine x')
    await mkdir(join(repo, 'node_modules', 'pkg', '.ssh'), {recursive: true})
    await mkdir(join(repo, '.git', 'objects', '.aws'), {recursive: true})
    // the same name where the scan does look (infra/): found there, so its absence from .git/objects
    // and node_modules (where names are not checked) is the skip at work
    await mkdir(join(repo, 'infra', '.aws'), {recursive: true})
    await mkdir(join(repo, 'node_modules', 'pkg', '.aws'), {recursive: true})
    await writeFile(join(repo, '.git', 'config'), '[remote "origin"]\n\turl = https://me:ghp_secret@github.com/me/repo.git\n')
    await symlink(join(home, '.ssh'), join(repo, 'keys'))
    await symlink('/usr/bin', join(repo, 'usr-bin'))
    await symlink(join(repo, 'src'), join(repo, 'src-link'))
    await symlink(join(base, 'gone'), join(repo, 'dangling'))
    execFileSync('mkfifo', [join(repo, 'pipe')])
    server = createServer()
    await new Promise<void>((resolve) => server.listen(join(repo, 'dev.sock'), resolve))
  })

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()))
    await rm(base, {recursive: true, force: true})
  })

  it('finds sockets, FIFOs, credential stores and escaping symlinks; no name checks inside node_modules and .git/objects', async () => {
    const host = fakeHostFacts('linux', {homeDir: home, env: {HOME: home}})
    const hazards = await scanTreeForHazards(repo, {host})
    const summary = hazards.map((h) => `${h.severity} ${h.kind} ${h.relPath}`)
    expect(summary).toEqual([
      'refuse credential-store .netrc',
      'refuse socket dev.sock',
      'refuse credential-store infra/.aws',
      'refuse symlink-sensitive keys',
      'refuse credential-store ops/.docker/config.json',
      'refuse credential-store ops/.ssh',
      'refuse fifo pipe',
      'warn secret-file .env',
      'warn secret-file .git/config',
      'warn symlink-outside dangling',
      'warn secret-file src/server.pem',
      'warn symlink-outside usr-bin',
    ])
    const keys = hazards.find((h) => h.relPath === 'keys')
    expect(keys?.detail).toContain('inside ~/.ssh (ssh: OpenSSH user directory)')
    expect(hazards.find((h) => h.relPath === '.git/config')?.detail).not.toContain('ghp_secret')
  })

  it('without host facts, an escaping symlink is only a warning', async () => {
    const hazards = await scanTreeForHazards(repo)
    expect(hazards.find((h) => h.relPath === 'keys')).toMatchObject({kind: 'symlink-outside', severity: 'warn'})
  })

  it('stays bounded only when asked: maxEntries and maxDepth', async () => {
    const few = await scanTreeForHazards(repo, {maxEntries: 3})
    expect(few.find((h) => h.kind === 'truncated')).toMatchObject({severity: 'warn', detail: expect.stringContaining('after 3 entries')})
    const shallow = await scanTreeForHazards(repo, {maxDepth: 0})
    expect(shallow.map((h) => h.relPath)).not.toContain('ops/.ssh')
    expect(shallow.find((h) => h.kind === 'truncated')).toMatchObject({detail: expect.stringContaining('depth 0')})
  })

  it('reports nothing for a clean tree', async () => {
    const clean = join(base, 'clean')
    await mkdir(join(clean, 'a', 'b'), {recursive: true})
    await writeFile(join(clean, 'a', 'b', 'x.ts'), '')
    await writeFile(join(clean, '.env.sample'), '')
    expect(await scanTreeForHazards(clean)).toEqual([])
  })
})

describe('scanTree: the whole tree, mounts, hard links', () => {
  let base: string
  let home: string
  let host: HostFacts
  const servers: Server[] = []

  const listen = async (p: string): Promise<void> => {
    const server = createServer()
    servers.push(server)
    await new Promise<void>((resolve) => server.listen(p, resolve))
  }
  const freshRepo = async (name: string): Promise<string> => {
    const repo = join(home, 'dev', name)
    await mkdir(repo, {recursive: true})
    return repo
  }
  const refused = (scan: TreeScan): string[] => scan.hazards.filter((h) => h.severity === 'refuse').map((h) => `${h.kind} ${h.relPath}`)

  beforeAll(async () => {
    base = await realpath(await mkdtemp(join(tmpdir(), 'scan-whole-')))
    home = join(base, 'home')
    await mkdir(join(home, '.ssh'), {recursive: true})
    await writeFile(join(home, '.ssh', 'id_ed25519'), 'PRIVATE-KEY-DO-NOT-PRINT')
    await writeFile(join(home, '.ssh', 'authorized_keys'), '')
    host = fakeHostFacts('linux', {homeDir: home, env: {HOME: home}})
  })

  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))))
    await rm(base, {recursive: true, force: true})
  })

  it('finds a socket at depth 12, inside node_modules and inside .git/objects, and a FIFO', async () => {
    const repo = await freshRepo('sockets')
    const deep = join(repo, ...Array.from({length: 12}, (_, i) => `d${i}`))
    await mkdir(deep, {recursive: true})
    await listen(join(deep, 'deep.sock'))
    await mkdir(join(repo, 'node_modules', 'a', 'node_modules', 'b', 'lib'), {recursive: true})
    await listen(join(repo, 'node_modules', 'a', 'node_modules', 'b', 'lib', 'nm.sock'))
    await mkdir(join(repo, '.git', 'objects', 'ab'), {recursive: true})
    await listen(join(repo, '.git', 'objects', 'ab', 'obj.sock'))
    execFileSync('mkfifo', [join(repo, 'node_modules', 'a', 'pipe')])
    const scan = await scanTree(repo, {host})
    expect(refused(scan)).toEqual([
      'socket .git/objects/ab/obj.sock',
      `socket ${Array.from({length: 12}, (_, i) => `d${i}`).join('/')}/deep.sock`,
      'socket node_modules/a/node_modules/b/lib/nm.sock',
      'fifo node_modules/a/pipe',
    ])
    expect(scan.entries).toBeGreaterThan(20)
  })

  it('a FIFO where .git/config should be does not hang the scan', async () => {
    const repo = await freshRepo('fifo-config')
    await mkdir(join(repo, '.git'))
    execFileSync('mkfifo', [join(repo, '.git', 'config')])
    const scan = await scanTree(repo, {host})
    expect(refused(scan)).toEqual(['fifo .git/config'])
  })

  it('refuses a hard link to a file of the deny catalogue (planted ~/.ssh/id_ed25519), and a repo file linked into ~/.ssh', async () => {
    const repo = await freshRepo('hardlink')
    await mkdir(join(repo, 'src', 'vendor'), {recursive: true})
    await link(join(home, '.ssh', 'id_ed25519'), join(repo, 'src', 'vendor', 'innocent.txt'))
    const scan = await scanTree(repo, {host})
    expect(refused(scan)).toEqual(['hardlink-sensitive src/vendor/innocent.txt'])
    const h = scan.hazards[0]!
    expect(h.detail).toContain(join(home, '.ssh', 'id_ed25519'))
    expect(h.detail).toContain('~/.ssh')
    expect(JSON.stringify(scan)).not.toContain('PRIVATE-KEY-DO-NOT-PRINT')
    await rm(join(repo, 'src', 'vendor', 'innocent.txt'))
    expect(refused(await scanTree(repo, {host}))).toEqual([])

    // The other direction: a repo file that is also ~/.ssh/authorized_keys2 (the agent would write it).
    await writeFile(join(repo, 'keys.txt'), '')
    await link(join(repo, 'keys.txt'), join(home, '.ssh', 'authorized_keys2'))
    try {
      expect(refused(await scanTree(repo, {host}))).toEqual(['hardlink-sensitive keys.txt'])
    } finally {
      await rm(join(home, '.ssh', 'authorized_keys2'))
    }
  })

  it('the link counts taken in a worker thread find the same hard link', async () => {
    const repo = await freshRepo('hardlink-worker')
    for (let i = 0; i < 50; i++) await writeFile(join(repo, `f${i}.txt`), '')
    await link(join(home, '.ssh', 'id_ed25519'), join(repo, 'f7.bin'))
    const viaWorker = await scanTree(repo, {host, linkWorkerAfter: 0})
    expect(refused(viaWorker)).toEqual(['hardlink-sensitive f7.bin'])
    expect(refused(await scanTree(repo, {host, linkWorkerAfter: 10}))).toEqual(['hardlink-sensitive f7.bin'])
  })

  it('a cached index of the denied folders still sees a hard link made after it was written', async () => {
    const repo = await freshRepo('hardlink-cache')
    const cacheFile = join(base, 'state', 'deny-inodes.json')
    // A pnpm-like outside link makes the scan read (and cache) the denied folders.
    await mkdir(join(base, 'store'), {recursive: true})
    await writeFile(join(base, 'store', 'pkg.js'), '')
    await link(join(base, 'store', 'pkg.js'), join(repo, 'pkg.js'))
    const first = await scanTree(repo, {host, denyCacheFile: cacheFile, denyPerRootBudget: 5000})
    expect(refused(first)).toEqual([])
    expect(statSync(cacheFile).isFile()).toBe(true)
    await link(join(home, '.ssh', 'id_ed25519'), join(repo, 'late.txt'))
    const after = await scanTree(repo, {host, denyCacheFile: cacheFile, denyPerRootBudget: 5000})
    expect(refused(after)).toEqual(['hardlink-sensitive late.txt'])
  })

  it('does not refuse pnpm-style hard links: between tree files, to an outside store, or to pnpm’s store under a denied folder', async () => {
    const repo = await freshRepo('pnpm')
    const nm = join(repo, 'node_modules', '.pnpm', 'left-pad@1.3.0', 'node_modules', 'left-pad')
    await mkdir(nm, {recursive: true})
    await writeFile(join(nm, 'index.js'), 'module.exports = 1')
    await mkdir(join(repo, 'node_modules', 'left-pad'), {recursive: true})
    await link(join(nm, 'index.js'), join(repo, 'node_modules', 'left-pad', 'index.js'))
    const internal = await scanTree(repo, {host})
    expect(refused(internal)).toEqual([])
    expect(internal.hazards.filter((h) => h.kind === 'hardlink-unchecked')).toEqual([])

    // pnpm's store lives in ~/.local/share/pnpm (a denied PATH folder): its files are linked into every project.
    const store = join(home, '.local', 'share', 'pnpm', 'store', 'v3', 'files', 'ab')
    await mkdir(store, {recursive: true})
    await writeFile(join(store, 'cdef-index.js'), 'module.exports = 2')
    await link(join(store, 'cdef-index.js'), join(nm, 'other.js'))
    const withStore = await scanTree(repo, {host, denyPerRootBudget: 5000})
    expect(refused(withStore)).toEqual([])
  })

  it('refuses a mount point under the root from the mount table (a same-device bind of ~/.ssh), and does not walk into it', async () => {
    const repo = await freshRepo('bind')
    await mkdir(join(repo, 'vendor'))
    const mounts = parseMountinfo(
      [`27 1 254:0 / / rw - ext4 /dev/vda rw`, `90 27 254:0 ${home}/.ssh ${repo.replace(/ /g, '\\040')}/vendor rw - ext4 /dev/vda rw`].join('\n'),
    )
    await listen(join(repo, 'vendor', 'under-the-mount.sock'))
    const scan = await scanTree(repo, {host, mounts})
    expect(refused(scan)).toEqual(['mount-point vendor'])
    expect(scan.hazards[0]!.detail).toContain(`folder ${home}/.ssh`)
  })

  it('refuses a root that is another name of a denied folder (bind mount) or of the home directory', async () => {
    const repo = await freshRepo('bound-root')
    const mounts = parseMountinfo([`27 1 254:0 / / rw - ext4 /dev/vda rw`, `95 27 254:0 ${home}/.ssh ${repo} rw - ext4 /dev/vda rw`].join('\n'))
    const scan = await scanTree(repo, {host, mounts})
    expect(refused(scan)).toEqual(['alias-sensitive .'])
    expect(scan.hazards[0]!.detail).toContain(`also ${home}/.ssh`)
    // Without a mount table (macOS), by inode: scanning ~/.ssh itself under its real name.
    const direct = await scanTree(join(home, '.ssh'), {host, mounts: null})
    expect(refused(direct)).toContain('alias-sensitive .')
    expect(refused(await scanTree(home, {host, mounts: null}))).toContain('alias-sensitive .')
  })

  it.runIf(process.platform === 'linux')('refuses a folder on another file system by st_dev (no mount table)', async () => {
    const scan = await scanTree('/dev', {mounts: null})
    const mountPoints = scan.hazards.filter((h) => h.kind === 'mount-point').map((h) => h.relPath)
    expect(mountPoints.some((p) => p === 'pts' || p === 'shm' || p === 'mqueue')).toBe(true)
  })

  it('refuses what it cannot follow: a tree nested past PATH_MAX, a name that is not UTF-8', async () => {
    const repo = await freshRepo('unfollowable')
    // 24 levels of 200-character names (~4.8 kB): only reachable by relative paths, like the agent would make it
    const seg = 'x'.repeat(200)
    const nest = `process.chdir(process.argv[1]); for (let i = 0; i < 24; i++) { fs.mkdirSync('${seg}'); process.chdir('${seg}') } fs.writeFileSync('deep.txt', '')`
    execFileSync(process.execPath, ['-e', `const fs = require('node:fs'); ${nest}`, repo])
    const deep = await scanTree(repo, {host})
    expect(deep.hazards.some((h) => h.kind === 'unreadable' && h.severity === 'refuse' && /longer than the system allows/.test(h.detail))).toBe(true)
    execFileSync('rm', ['-rf', join(repo, seg)])

    // a folder named with the byte 0xFF (not UTF-8), a socket and a hard link of the key inside it
    const bad = Buffer.concat([Buffer.from(repo + '/'), Buffer.from([0x66, 0xff])])
    mkdirSync(bad)
    linkSync(join(home, '.ssh', 'id_ed25519'), Buffer.concat([bad, Buffer.from('/k')]))
    const odd = await scanTree(repo, {host})
    expect(refused(odd)).toEqual(['unreadable f\uFFFD'])
    expect(odd.hazards[0]!.detail).toContain('not valid UTF-8')
  })

  it('a symlink whose text stays inside but passes through a link that leaves is still resolved', async () => {
    const repo = await freshRepo('link-chain')
    await symlink(base, join(repo, 'b')) // leaves the tree: a warning on its own
    await symlink('b/home/.ssh', join(repo, 'a')) // lexically inside the tree
    const scan = await scanTree(repo, {host})
    expect(refused(scan)).toEqual(['symlink-sensitive a'])
    expect(scan.hazards.find((h) => h.relPath === 'b')?.severity).toBe('warn')
  })

  it('pnpm-style relative symlinks inside the tree cost no realpath and raise nothing', async () => {
    const repo = await freshRepo('pnpm-links')
    await mkdir(join(repo, 'node_modules', '.pnpm', 'x@1', 'node_modules', 'x'), {recursive: true})
    await mkdir(join(repo, 'node_modules', '.pnpm', 'y@1', 'node_modules', 'y'), {recursive: true})
    await symlink('.pnpm/x@1/node_modules/x', join(repo, 'node_modules', 'x'))
    await symlink('../../y@1/node_modules/y', join(repo, 'node_modules', '.pnpm', 'x@1', 'node_modules', 'y'))
    await symlink(join(repo, 'node_modules'), join(repo, 'abs-inside'))
    expect((await scanTree(repo, {host})).hazards).toEqual([])
  })

  it('collects every .git entry and the write-protected files at any depth (not inside node_modules)', async () => {
    const repo = await freshRepo('layout')
    const deep = join(repo, 'a', 'b', 'c', 'd', 'e', 'f', 'g')
    await mkdir(join(repo, '.git', 'hooks'), {recursive: true})
    await writeFile(join(repo, '.git', 'config'), '')
    await mkdir(join(deep, 'sub', '.git'), {recursive: true})
    await writeFile(join(repo, 'a', 'wt', '.git'), 'gitdir: /elsewhere').catch(async () => {
      await mkdir(join(repo, 'a', 'wt'), {recursive: true})
      await writeFile(join(repo, 'a', 'wt', '.git'), 'gitdir: /elsewhere')
    })
    await symlink('/tmp', join(repo, 'a', 'b', '.git'))
    await mkdir(join(deep, '.vscode'), {recursive: true})
    await writeFile(join(deep, '.vscode', 'tasks.json'), '{}')
    await writeFile(join(deep, '.envrc'), '')
    await mkdir(join(repo, '.claude'), {recursive: true})
    await writeFile(join(repo, '.claude', 'settings.local.json'), '{}')
    await writeFile(join(repo, '.gitmodules'), '')
    await symlink('.gitmodules', join(repo, 'a', '.mcp.json')) // a symlink is never listed
    await mkdir(join(repo, 'node_modules', 'pkg', '.vscode'), {recursive: true})
    await mkdir(join(repo, 'node_modules', 'pkg', '.git'), {recursive: true})
    const scan = await scanTree(repo, {host})
    expect(scan.gitEntries).toEqual([
      {path: join(repo, '.git'), kind: 'dir'},
      {path: join(repo, 'a', 'b', '.git'), kind: 'symlink'},
      {path: join(deep, 'sub', '.git'), kind: 'dir'},
      {path: join(repo, 'a', 'wt', '.git'), kind: 'file'},
      {path: join(repo, 'node_modules', 'pkg', '.git'), kind: 'dir'},
    ])
    expect(scan.writeProtected).toEqual([
      join(repo, '.claude', 'settings.local.json'),
      join(repo, '.git', 'config'),
      join(repo, '.git', 'hooks'),
      join(repo, '.gitmodules'),
      join(deep, '.envrc'),
      join(deep, '.vscode'),
    ])
    expect(scan.root).toBe(repo)
    expect(scan.rootIno).toBe(statSync(repo).ino)
  })
})
