/**
 * Where the link counts are taken: inline up to the threshold, then in one worker thread fed in
 * batches of the given size (the rest flushed at the end); no worker when the threshold is never
 * reached; and when the worker cannot start or dies, every file it was given is counted inline, so
 * no file goes unchecked.
 */
import {linkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it, vi} from 'vitest'
import {tempDir} from '../../helpers/temp-dirs.js'

const threads = vi.hoisted(() => ({mode: 'real' as 'real' | 'throw' | 'die', created: 0, posted: [] as number[]}))

vi.mock('node:worker_threads', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:worker_threads')>()
  class CountingWorker extends real.Worker {
    constructor(source: string, opts: object) {
      if (threads.mode === 'throw') throw new Error('no threads here')
      super(threads.mode === 'die' ? "require('node:worker_threads').parentPort.on('message', () => { throw new Error('died') })" : source, opts)
      threads.created++
    }
    override postMessage(value: unknown): void {
      threads.posted.push((value as unknown[]).length)
      super.postMessage(value)
    }
  }
  return {...real, Worker: CountingWorker, default: {...real, Worker: CountingWorker}}
})

const {LinkCounter} = await import('../../../src/core/policy/link-counts.js')

function files(n: number): {paths: string[]; linked: string[]} {
  const dir = tempDir('link-handoff-')
  const paths: string[] = []
  for (let i = 0; i < n; i++) {
    const p = join(dir, `f${i}`)
    writeFileSync(p, '')
    paths.push(p)
  }
  // every second file has a second name outside the list
  const linked = paths.filter((_, i) => i % 2 === 0)
  for (const p of linked) linkSync(p, `${p}.other`)
  return {paths, linked}
}

async function count(paths: string[], opts: {workerAfter?: number; batch?: number}) {
  const c = new LinkCounter(opts)
  for (const p of paths) c.add(p)
  const r = await c.done()
  return {found: r.found.map((f) => f.path).sort(), nlinks: [...new Set(r.found.map((f) => f.nlink))], errors: r.errors}
}

afterEach(() => {
  threads.mode = 'real'
  threads.created = 0
  threads.posted = []
})

describe('where the link counts are taken', () => {
  it('below the threshold: inline, no worker', async () => {
    const {paths, linked} = files(6)
    expect(await count(paths, {workerAfter: 6, batch: 2})).toEqual({found: linked.sort(), nlinks: [2], errors: []})
    expect(threads.created).toBe(0)
  })

  it('past it: one worker, fed in batches of the given size, the rest at the end', async () => {
    const {paths, linked} = files(8)
    expect(await count(paths, {workerAfter: 3, batch: 2})).toEqual({found: linked.sort(), nlinks: [2], errors: []})
    expect(threads.created).toBe(1)
    expect(threads.posted).toEqual([2, 2, 1])
  })

  it('a full last batch leaves nothing to flush at the end', async () => {
    const {paths} = files(5)
    await count(paths, {workerAfter: 1, batch: 2})
    expect(threads.posted).toEqual([2, 2])
  })

  it('files left over past the threshold with no worker started yet are counted inline at the end, not in a new worker', async () => {
    const {paths, linked} = files(5)
    expect((await count(paths, {workerAfter: 2, batch: 10})).found).toEqual(linked.sort())
    expect(threads.created).toBe(0)
  })

  it('asking for the result after the worker has answered every batch returns at once', async () => {
    const {paths, linked} = files(6)
    const c = new LinkCounter({workerAfter: 0, batch: 3})
    for (const p of paths) c.add(p)
    await vi.waitFor(() => expect(threads.posted).toEqual([3, 3]))
    await new Promise((resolve) => setTimeout(resolve, 300))
    const r = await c.done()
    expect(r.found.map((f) => f.path).sort()).toEqual(linked.sort())
  })

  it('by default 5 000 files are counted inline first', async () => {
    const {paths, linked} = files(4)
    expect((await count(paths, {})).found).toEqual(linked.sort())
    expect(threads.created).toBe(0)
  })

  it('a worker that cannot start: every file is counted inline', async () => {
    threads.mode = 'throw'
    const {paths, linked} = files(7)
    expect(await count(paths, {workerAfter: 1, batch: 2})).toEqual({found: linked.sort(), nlinks: [2], errors: []})
  })

  it('a worker that dies: the files it was given are counted inline', async () => {
    threads.mode = 'die'
    const {paths, linked} = files(7)
    expect(await count(paths, {workerAfter: 1, batch: 2})).toEqual({found: linked.sort(), nlinks: [2], errors: []})
    expect(threads.created).toBe(1)
  })

  it('a worker that dies before the result is asked for: its files are counted inline too', async () => {
    threads.mode = 'die'
    const {paths, linked} = files(4)
    const c = new LinkCounter({workerAfter: 0, batch: 2})
    for (const p of paths) c.add(p)
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect((await c.done()).found.map((f) => f.path).sort()).toEqual(linked.sort())
  })

  it('an lstat that throws is reported with its code', async () => {
    const c = new LinkCounter({workerAfter: Infinity})
    c.add('\0bad')
    const r = await c.done()
    expect(r.errors).toEqual([{path: '\0bad', code: 'ERR_INVALID_ARG_VALUE'}])
  })
})
