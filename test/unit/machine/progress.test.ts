import {describe, expect, it} from 'vitest'

import {createProgress} from '../../../src/core/machine/progress.js'

function stream(isTTY: boolean) {
  const chunks: string[] = []
  return {isTTY, chunks, write: (c: string) => chunks.push(c)}
}

describe('progress on stderr', () => {
  it('plain lines when not a terminal: a start line, heartbeats, an end line with the time taken', async () => {
    let t = 0
    const s = stream(false)
    const task = createProgress(s, {now: () => t, heartbeatMs: 5}).task('Starting Podman machine vm')
    await new Promise((r) => setTimeout(r, 30))
    t = 42_000
    task.succeed('Podman machine vm started')
    task.fail('ignored: already finished')
    expect(s.chunks[0]).toBe('Starting Podman machine vm …\n')
    expect(s.chunks.some((c) => c.startsWith('… still starting Podman machine vm ('))).toBe(true)
    expect(s.chunks.at(-1)).toBe('✔ Podman machine vm started (42s)\n')
    expect(s.chunks.join('')).not.toContain('\r')
  })

  it('a spinner on a terminal, redrawn in place and cleared at the end', async () => {
    const s = stream(true)
    const task = createProgress(s, {frameMs: 5, now: () => 0}).task('Pulling x')
    await new Promise((r) => setTimeout(r, 30))
    task.fail('could not pull x')
    expect(s.chunks.length).toBeGreaterThan(2)
    expect(s.chunks[0]).toBe('\r\x1b[2K⠋ Pulling x (0s)')
    expect(s.chunks.at(-1)).toBe('\r\x1b[2K✖ could not pull x (0s)\n')
  })
})
