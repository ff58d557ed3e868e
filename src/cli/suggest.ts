/** "Did you mean …?": the closest command id or flag name to what was typed. */

/** Levenshtein distance (small strings: command ids). */
export function distance(a: string, b: string): number {
  const row = Array.from({length: b.length + 1}, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = cur
    }
  }
  return row[b.length]!
}

/**
 * The command id closest to `typed` ('agent-machine:doctr' → 'agent-machine:doctor'); a bare verb
 * also matches under the agent-machine topic ('doctor' → 'agent-machine:doctor'). Null when nothing
 * is near.
 */
export function closestCommand(typed: string, ids: readonly string[]): string | null {
  let best: {id: string; d: number} | null = null
  for (const id of ids) {
    const last = id.split(':').pop() ?? id
    const d = Math.min(distance(typed, id), typed.includes(':') ? Infinity : distance(typed, last) + 0.5)
    if (!best || d < best.d) best = {id, d}
  }
  if (!best) return null
  const limit = Math.max(2, Math.ceil(Math.min(typed.length, best.id.length) / 3))
  return best.d <= limit ? best.id : null
}
