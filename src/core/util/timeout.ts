/**
 * A deadline around any promise. The Runner already kills hung programs; this is the outer guard
 * so one stuck probe (a wedged podman machine, a slow network filesystem) never hangs a verb.
 */

export type Timed<T> = {status: 'done'; value: T; durationMs: number} | {status: 'timeout'; durationMs: number} | {status: 'error'; error: Error; durationMs: number}

export async function withDeadline<T>(work: () => Promise<T>, ms: number): Promise<Timed<T>> {
  const started = performance.now()
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms)
    timer.unref?.()
  })
  try {
    const outcome = await Promise.race([work().then((value) => ({value})), deadline])
    const durationMs = Math.round(performance.now() - started)
    if (outcome === 'timeout') return {status: 'timeout', durationMs}
    return {status: 'done', value: outcome.value, durationMs}
  } catch (error) {
    return {status: 'error', error: error instanceof Error ? error : new Error(String(error)), durationMs: Math.round(performance.now() - started)}
  } finally {
    if (timer) clearTimeout(timer)
  }
}
