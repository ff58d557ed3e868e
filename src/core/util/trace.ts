/**
 * SOURCEOSCTL_TRACE=1: one stderr line per stage with milliseconds since the process started, so
 * anyone can see where a slow command spends its time (make bench measures; this explains).
 */
const enabled = Boolean(process.env.SOURCEOSCTL_TRACE)

export function trace(stage: string): void {
  if (enabled) process.stderr.write(`[trace ${Math.round(performance.now())} ms] ${stage}\n`)
}
