/**
 * SOURCEOSCTL_TRACE=1: one stderr line per stage with milliseconds since the process started, so
 * anyone can see where a slow command spends its time (make bench measures; this explains).
 */
let enabled = Boolean(process.env.SOURCEOSCTL_TRACE)

/** --verbose turns the trace on (after the modules were loaded, so not through the environment). */
export function setTrace(on: boolean): void {
  enabled = enabled || on
}

export function trace(stage: string): void {
  if (enabled) process.stderr.write(`[trace ${Math.round(performance.now())} ms] ${stage}\n`)
}
