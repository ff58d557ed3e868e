// The agent's result bundle brought back from a played Pod (bundle.ts): hostile input. Only a
// regular file under the cap, never through a link, never blocking on a FIFO, checked with host git,
// kept atomically (no temp or partial file left, an existing bundle never replaced).
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {createRunner, type Runner} from '../../../src/core/exec.js'
import {BundleRefused, keepBundle, parseHeads, precheckBundle, writeCapped} from '../../../src/core/kube/bundle.js'
import {tempDir} from '../../helpers/temp-dirs.js'

const RUN = 'kube-bundle-0001'

function git(dir: string, ...args: string[]): string {
  const out = spawnSync('git', ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@example.invalid', '-c', 'commit.gpgsign=false', ...args], {encoding: 'utf8', env: {...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1'}})
  if (out.status !== 0) throw new Error(`git ${args.join(' ')}: ${out.stderr}`)
  return out.stdout.trim()
}

/** A real bundle of a one-commit repo, on the run's branch. */
const fixture = (() => {
  const dir = tempDir('kube-bundle-src-')
  const repo = join(dir, 'repo')
  mkdirSync(repo)
  git(repo, 'init', '--quiet', '--initial-branch=main')
  writeFileSync(join(repo, 'a.txt'), 'agent work\n')
  git(repo, 'add', '.')
  git(repo, 'commit', '--quiet', '-m', 'work')
  git(repo, 'branch', `sourceos/${RUN}`)
  const bundle = join(dir, 'result.bundle')
  git(repo, 'bundle', 'create', '--quiet', bundle, `sourceos/${RUN}`)
  return {bundle, bytes: readFileSync(bundle), head: git(repo, 'rev-parse', 'HEAD')}
})()

const runner: Runner = createRunner()

function setup(): {landing: string; evidence: string; gitDir: string} {
  const base = tempDir('kube-bundle-')
  const landing = join(base, 'landing')
  const evidence = join(base, 'evidence')
  const gitDir = join(base, 'git')
  for (const d of [landing, evidence, gitDir]) mkdirSync(d)
  return {landing, evidence, gitDir}
}

const keep = (s: ReturnType<typeof setup>, source: string, maxBytes = 10 * 1024 * 1024) => keepBundle({runner, source, evidenceDir: s.evidence, runId: RUN, maxBytes, gitDir: s.gitDir})

async function refusal(p: Promise<unknown>): Promise<{code: string; reason: string}> {
  const error = await p.then(() => null, (error: unknown) => error)
  expect(error).toBeInstanceOf(BundleRefused)
  return (error as BundleRefused).refusal
}

/** What is left under the evidence dir's bundles/ (temp files included). */
const leftovers = (evidence: string): string[] => (existsSync(join(evidence, 'bundles')) ? readdirSync(join(evidence, 'bundles')) : [])

describe('keepBundle', () => {
  it('a real bundle: kept at bundles/<run>.bundle (0600), its digest and size those of the bytes, its refs listed by host git; no temp file left', async () => {
    const s = setup()
    const source = join(s.landing, 'result.bundle')
    writeFileSync(source, fixture.bytes)
    const kept = await keep(s, source)
    expect(kept).toEqual({
      file: `bundles/${RUN}.bundle`,
      digest: `sha256:${createHash('sha256').update(fixture.bytes).digest('hex')}`,
      bytes: fixture.bytes.length,
      heads: [`refs/heads/sourceos/${RUN}`],
    })
    const final = join(s.evidence, kept.file)
    expect(readFileSync(final).equals(fixture.bytes)).toBe(true)
    expect(statSync(final).mode & 0o777).toBe(0o600)
    expect(leftovers(s.evidence)).toEqual([`${RUN}.bundle`])
  })

  it('over the cap: refused before it is read, with the size and the cap; nothing written', async () => {
    const s = setup()
    const source = join(s.landing, 'result.bundle')
    writeFileSync(source, Buffer.alloc(3 * 1024 * 1024, 1))
    const r = await refusal(keep(s, source, 2 * 1024 * 1024))
    expect(r).toEqual({code: 'KUBE_BUNDLE_TOO_BIG', reason: 'the bundle is 3 MiB, over the cap of 2 MiB'})
    expect(leftovers(s.evidence)).toEqual([])
  })

  it('a symbolic link is never followed, even to a valid bundle', async () => {
    const s = setup()
    const source = join(s.landing, 'result.bundle')
    symlinkSync(fixture.bundle, source)
    expect(await refusal(keep(s, source))).toEqual({code: 'KUBE_BUNDLE_NOT_A_FILE', reason: 'the bundle is a symbolic link (never followed)'})
    expect(leftovers(s.evidence)).toEqual([])
  })

  it('a FIFO is refused without blocking (no writer ever comes), and so is a directory', async () => {
    const s = setup()
    const fifo = join(s.landing, 'result.bundle')
    const made = spawnSync('mkfifo', [fifo])
    expect(made.status).toBe(0)
    expect(await refusal(keep(s, fifo))).toEqual({code: 'KUBE_BUNDLE_NOT_A_FILE', reason: 'the bundle is not a regular file (a FIFO)'})
    const dir = join(s.landing, 'dir.bundle')
    mkdirSync(dir)
    expect(await refusal(keep(s, dir))).toEqual({code: 'KUBE_BUNDLE_NOT_A_FILE', reason: 'the bundle is not a regular file (a directory)'})
    expect(leftovers(s.evidence)).toEqual([])
  })

  it('a regular file that is not a git bundle: refused by host git\'s check, the copy removed', async () => {
    const s = setup()
    const source = join(s.landing, 'result.bundle')
    writeFileSync(source, '#!/bin/sh\nrm -rf ~\n')
    const r = await refusal(keep(s, source))
    expect(r.code).toBe('KUBE_BUNDLE_NOT_A_BUNDLE')
    expect(r.reason).toMatch(/^the file is not a git bundle \(git bundle list-heads: /)
    expect(leftovers(s.evidence)).toEqual([])
  })

  it('an existing bundle of that name is never replaced; the copy is removed', async () => {
    const s = setup()
    mkdirSync(join(s.evidence, 'bundles'))
    writeFileSync(join(s.evidence, 'bundles', `${RUN}.bundle`), 'earlier\n')
    const source = join(s.landing, 'result.bundle')
    writeFileSync(source, fixture.bytes)
    const r = await refusal(keep(s, source))
    expect(r.code).toBe('KUBE_BUNDLE_UNWRITABLE')
    expect(readFileSync(join(s.evidence, 'bundles', `${RUN}.bundle`), 'utf8')).toBe('earlier\n')
    expect(leftovers(s.evidence)).toEqual([`${RUN}.bundle`])
  })
})

describe('writeCapped: a copy that fails part-way leaves no file', () => {
  it('the source fails after some bytes were written', async () => {
    const dir = tempDir('kube-capped-')
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield Buffer.alloc(4096, 1)
      yield Buffer.alloc(4096, 2)
      throw new Error('the read failed')
    }
    await expect(writeCapped(failing(), dir, 1024 * 1024)).rejects.toThrow('the read failed')
    expect(readdirSync(dir)).toEqual([])
  })

  it('the source grows past the cap while it is read', async () => {
    const dir = tempDir('kube-capped-')
    async function* growing(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 5; i++) yield Buffer.alloc(1024, i)
    }
    const r = await refusal(writeCapped(growing(), dir, 3000))
    expect(r).toEqual({code: 'KUBE_BUNDLE_TOO_BIG', reason: 'the bundle passed the cap of 3000 bytes while it was copied (it grew)'})
    expect(readdirSync(dir)).toEqual([])
  })

  it('within the cap: one fsynced temp file with the bytes and their digest', async () => {
    const dir = tempDir('kube-capped-')
    async function* two(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('abc')
      yield Buffer.from('def')
    }
    const w = await writeCapped(two(), dir, 6)
    expect(readFileSync(w.tmp, 'utf8')).toBe('abcdef')
    expect(w).toMatchObject({bytes: 6, digest: `sha256:${createHash('sha256').update('abcdef').digest('hex')}`})
    expect(readdirSync(dir)).toHaveLength(1)
  })
})

describe('precheckBundle: the bundle in the results volume, by lstat, before any copy', () => {
  it('absent, a regular file within the cap, or unknown when the volume is not visible here', async () => {
    const s = setup()
    expect(await precheckBundle(s.landing, 'r.bundle', 100)).toEqual({kind: 'absent'})
    writeFileSync(join(s.landing, 'r.bundle'), 'x'.repeat(100))
    expect(await precheckBundle(s.landing, 'r.bundle', 100)).toEqual({kind: 'ok', bytes: 100})
    expect(await precheckBundle(null, 'r.bundle', 100)).toEqual({kind: 'unknown'})
    expect(await precheckBundle('relative/dir', 'r.bundle', 100)).toEqual({kind: 'unknown'})
    expect(await precheckBundle(join(s.landing, 'missing'), 'r.bundle', 100)).toEqual({kind: 'unknown'})
    expect(await precheckBundle(join(s.landing, 'r.bundle'), 'r.bundle', 100)).toEqual({kind: 'unknown'})
    expect(await precheckBundle(s.landing, '../r.bundle', 100)).toEqual({kind: 'unknown'})
  })

  it('over the cap, a link (never followed), a FIFO or a directory: refused', async () => {
    const s = setup()
    writeFileSync(join(s.landing, 'big.bundle'), Buffer.alloc(2 * 1024 * 1024))
    expect(await precheckBundle(s.landing, 'big.bundle', 1024 * 1024)).toEqual({kind: 'refused', refusal: {code: 'KUBE_BUNDLE_TOO_BIG', reason: 'the bundle is 2 MiB, over the cap of 1 MiB'}})
    symlinkSync('/etc/passwd', join(s.landing, 'link.bundle'))
    expect(await precheckBundle(s.landing, 'link.bundle', 1024 * 1024)).toEqual({kind: 'refused', refusal: {code: 'KUBE_BUNDLE_NOT_A_FILE', reason: 'the bundle is a symbolic link (never followed)'}})
    expect(spawnSync('mkfifo', [join(s.landing, 'fifo.bundle')]).status).toBe(0)
    expect(await precheckBundle(s.landing, 'fifo.bundle', 1024 * 1024)).toMatchObject({kind: 'refused', refusal: {code: 'KUBE_BUNDLE_NOT_A_FILE', reason: 'the bundle is not a regular file (a FIFO)'}})
    mkdirSync(join(s.landing, 'dir.bundle'))
    expect(await precheckBundle(s.landing, 'dir.bundle', 1024 * 1024)).toMatchObject({kind: 'refused', refusal: {code: 'KUBE_BUNDLE_NOT_A_FILE'}})
  })
})

describe('parseHeads', () => {
  it('takes "<oid> <ref>" lines only, all or nothing', () => {
    expect(parseHeads(`${fixture.head} refs/heads/sourceos/${RUN}\n`)).toEqual([`refs/heads/sourceos/${RUN}`])
    expect(parseHeads(`${fixture.head} HEAD\n${fixture.head} refs/heads/main\n`)).toEqual(['HEAD', 'refs/heads/main'])
    expect(parseHeads('')).toBeNull()
    expect(parseHeads(`${fixture.head} refs/heads/a b\n`)).toBeNull()
    expect(parseHeads(`${fixture.head} refs/heads/x\u001b[31m\n`)).toBeNull()
    expect(parseHeads(`${fixture.head.slice(1)} refs/heads/x\n`)).toBeNull()
    expect(parseHeads(`${fixture.head} not-a-ref\n`)).toBeNull()
  })
})
