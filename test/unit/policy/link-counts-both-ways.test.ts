/**
 * The link counts for the hard-link check come out the same whether taken inline or in the worker
 * thread: every regular file with more than one link, nothing else, and the files that could not
 * be looked at (a missing file is no error: it went away).
 */
import {linkSync, mkdirSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {LinkCounter} from '../../../src/core/policy/link-counts.js'
import {tempDir} from '../../helpers/temp-dirs.js'

function fixture(): {paths: string[]; linked: string[]; tooLong: string} {
  const dir = tempDir('link-counts-')
  writeFileSync(join(dir, 'single'), 'x')
  writeFileSync(join(dir, 'a'), 'x')
  linkSync(join(dir, 'a'), join(dir, 'a2'))
  writeFileSync(join(dir, 'b'), 'x')
  linkSync(join(dir, 'b'), join(dir, 'b2'))
  linkSync(join(dir, 'b'), join(dir, 'b3'))
  mkdirSync(join(dir, 'folder'))
  symlinkSync(join(dir, 'a'), join(dir, 'link'))
  const tooLong = join(dir, 'x'.repeat(300))
  const paths = ['single', 'a', 'a2', 'b', 'b3', 'folder', 'link', 'missing'].map((n) => join(dir, n)).concat(tooLong)
  return {paths, linked: ['a', 'a2', 'b', 'b3'].map((n) => join(dir, n)), tooLong}
}

const summary = (r: Awaited<ReturnType<LinkCounter['done']>>) => ({
  found: r.found.map((f) => [f.path, f.nlink]).sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
  errors: r.errors,
  inodes: new Set(r.found.map((f) => `${f.dev}:${f.ino}`)).size,
})

describe('link counts', () => {
  it.each([
    ['inline', {workerAfter: Infinity}],
    ['in a worker, one batch', {workerAfter: 0}],
    ['in a worker, small batches', {workerAfter: 0, batch: 2}],
    ['inline first, then a worker', {workerAfter: 3, batch: 2}],
  ])('%s: the multiply-linked regular files, with their counts, and the errors', async (_how, opts) => {
    const {paths, linked, tooLong} = fixture()
    const counter = new LinkCounter(opts)
    for (const p of paths) counter.add(p)
    const r = summary(await counter.done())
    expect(r.found).toEqual(linked.map((p) => [p, p.endsWith('a') || p.endsWith('a2') ? 2 : 3]))
    expect(r.inodes).toBe(2)
    expect(r.errors).toEqual([{path: tooLong, code: 'ENAMETOOLONG'}])
  })

  it('nothing added: nothing found, and no worker is needed', async () => {
    expect(await new LinkCounter({workerAfter: 0}).done()).toEqual({found: [], errors: []})
  })
})
