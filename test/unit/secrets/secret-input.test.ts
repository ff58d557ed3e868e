// How `secret set` reads a value: piped stdin whole (bounded), or a no-echo prompt on a terminal
// where Enter or Ctrl-D ends it, Backspace removes the last character and Ctrl-C cancels — and the
// terminal is always put back out of raw mode.
import {PassThrough} from 'node:stream'
import {describe, expect, it} from 'vitest'

import {readSecretValue} from '../../../src/core/secrets/read-value.js'

/** A fake terminal: stdin with isTTY and setRawMode, stderr collecting what is written. */
function terminal() {
  const stdin = new PassThrough() as PassThrough & {isTTY: boolean; setRawMode: (on: boolean) => void; raw: boolean[]}
  stdin.isTTY = true
  stdin.raw = []
  stdin.setRawMode = (on: boolean) => void stdin.raw.push(on)
  const written: string[] = []
  const stderr = {write: (s: string) => (written.push(s), true)} as unknown as NodeJS.WriteStream
  return {stdin, stderr, written}
}

describe('a value piped on stdin', () => {
  it('is read whole, newlines included (the store drops one trailing newline)', async () => {
    const stdin = new PassThrough()
    stdin.end('sk-abc\n')
    expect(await readSecretValue('k', stdin as unknown as NodeJS.ReadStream)).toBe('sk-abc\n')
  })

  it('more than 64 KiB is refused; exactly 64 KiB is read', async () => {
    const big = new PassThrough()
    big.end(Buffer.alloc(64 * 1024 + 1, 'a'))
    await expect(readSecretValue('k', big as unknown as NodeJS.ReadStream)).rejects.toMatchObject({code: 'SECRET_VALUE_TOO_LONG'})
    const fits = new PassThrough()
    fits.end(Buffer.alloc(64 * 1024, 'a'))
    expect(await readSecretValue('k', fits as unknown as NodeJS.ReadStream)).toHaveLength(64 * 1024)
  })

  it('a stdin that gives text instead of bytes is counted in bytes too', async () => {
    const text = new PassThrough()
    text.setEncoding('utf8')
    text.end('é'.repeat(32 * 1024 + 1))
    await expect(readSecretValue('k', text as unknown as NodeJS.ReadStream)).rejects.toMatchObject({code: 'SECRET_VALUE_TOO_LONG'})
    const fits = new PassThrough()
    fits.setEncoding('utf8')
    fits.end('tok-é')
    expect(await readSecretValue('k', fits as unknown as NodeJS.ReadStream)).toBe('tok-é')
  })

  it('in several chunks, a multi-byte character split across them', async () => {
    const stdin = new PassThrough()
    const bytes = Buffer.from('ké€y', 'utf8')
    stdin.write(bytes.subarray(0, 2))
    stdin.write(bytes.subarray(2, 5))
    stdin.end(bytes.subarray(5))
    expect(await readSecretValue('k', stdin as unknown as NodeJS.ReadStream)).toBe('ké€y')
  })
})

describe('a value typed at a terminal', () => {
  it('prompts on stderr with the name, echoes nothing, ends at Enter; raw mode on, then off', async () => {
    const t = terminal()
    const value = readSecretValue('anthropic', t.stdin as unknown as NodeJS.ReadStream, t.stderr)
    t.stdin.write('sk-ab')
    t.stdin.write('c\rignored')
    expect(await value).toBe('sk-abc')
    expect(t.written).toEqual(['Value for secret anthropic (not shown): ', '\n'])
    expect(t.stdin.raw).toEqual([true, false])
    expect(t.stdin.listenerCount('data')).toBe(0)
  })

  it('a newline or Ctrl-D ends it too', async () => {
    for (const end of ['\n', '\u0004']) {
      const t = terminal()
      const value = readSecretValue('k', t.stdin as unknown as NodeJS.ReadStream, t.stderr)
      t.stdin.write(`tok${end}`)
      expect(await value).toBe('tok')
    }
  })

  it('Backspace and Delete remove the last character (none left: nothing happens)', async () => {
    const t = terminal()
    const value = readSecretValue('k', t.stdin as unknown as NodeJS.ReadStream, t.stderr)
    t.stdin.write('\u007fabX\u007fc\bd\r')
    expect(await value).toBe('abd')
  })

  it('Ctrl-C cancels: nothing is stored, the terminal is restored', async () => {
    const t = terminal()
    const value = readSecretValue('k', t.stdin as unknown as NodeJS.ReadStream, t.stderr)
    t.stdin.write('sk-partial\u0003more')
    await expect(value).rejects.toMatchObject({code: 'SECRET_INPUT_CANCELLED'})
    expect(t.stdin.raw).toEqual([true, false])
    expect(t.written.at(-1)).toBe('\n')
  })
})
