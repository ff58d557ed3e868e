/**
 * V8's optimising compiler (TurboFan) back on for long work. bin/run.js starts the CLI without it
 * (point 8 there: a short run spends more on its compiles than they give back, and it is ~9 MiB of
 * the peak RSS; Node 22 leaves Maglev off, so until then the interpreter and Sparkplug run
 * everything) and leaves the function that turns it back on here, on globalThis. Without bin/run.js
 * (tests, scripts), or with a tiering flag of the user's, there is none and nothing changes.
 *
 * Long work says so: the walks (scan, content digest, the denied folders' index) count the entries
 * they read and the proxy log's parsers its lines, and past LONG_WORK in the process TurboFan is
 * back for the rest of it (a 100k-file repo's launch is ~45% slower without it); work that is long
 * by its size (a chain of many records to verify) turns it on directly. Only the JIT's choices
 * change: never a result.
 */
const OPTIMISE_FULLY = Symbol.for('sourceosctl.optimiseFully')

/** Entries walked and lines parsed (all of the process together) after which the run is a long one. */
export const LONG_WORK = 5_000

let work = 0

export function optimiseFully(): void {
  const turnOn = (globalThis as Record<symbol, unknown>)[OPTIMISE_FULLY]
  if (typeof turnOn === 'function') turnOn()
}

/** `units` more directory entries read or lines parsed; past LONG_WORK in all, TurboFan is back. */
export function countWork(units: number): void {
  work += units
  // Stryker disable next-line EqualityOperator: equivalent: one entry more or less before TurboFan is back changes no result
  if (work > LONG_WORK) optimiseFully()
}
