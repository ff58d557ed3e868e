/**
 * V8's optimising compiler (TurboFan) back on for a long walk. bin/run.js starts the CLI without
 * it (point 8 there: a short run spends more on its compiles than they give back, and it is ~9 MiB
 * of the peak RSS) and leaves the function that turns it back on here, on globalThis; without
 * bin/run.js (tests, scripts), or with a tiering flag of the user's, there is none and nothing
 * changes. Walks call this once they are past LONG_WALK entries: from there on the hot loops are
 * worth TurboFan's code (a 100k-file repo's run is ~45% slower without it).
 */
const OPTIMISE_FULLY = Symbol.for('sourceosctl.optimiseFully')

/** Entries after which a walk is long enough for TurboFan. */
export const LONG_WALK = 5_000

export function optimiseFully(): void {
  const turnOn = (globalThis as Record<symbol, unknown>)[OPTIMISE_FULLY]
  if (typeof turnOn === 'function') turnOn()
}
