import {execFileSync} from 'node:child_process'
import {mkdir, mkdtemp, realpath, rm, symlink, writeFile} from 'node:fs/promises'
import {createServer, type Server} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {scanTreeForHazards} from '../../../src/core/policy/mount-policy.js'
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

  it('finds sockets, FIFOs, credential stores and escaping symlinks; skips node_modules and .git/objects', async () => {
    const host = fakeHostFacts('linux', {homeDir: home, env: {HOME: home}})
    const hazards = await scanTreeForHazards(repo, {host})
    const summary = hazards.map((h) => `${h.severity} ${h.kind} ${h.relPath}`)
    expect(summary).toEqual([
      'refuse credential-store .netrc',
      'refuse socket dev.sock',
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

  it('stays bounded: maxEntries and maxDepth', async () => {
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
