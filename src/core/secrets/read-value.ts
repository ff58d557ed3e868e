/**
 * Reads a secret's value for `secret set`: from a no-echo prompt when stdin is a terminal,
 * otherwise everything piped on stdin. Never from argv or the environment, so the value is in no
 * shell history, no `ps` and no process environment.
 */
import {usageError} from '../errors.js'

const MAX_INPUT = 64 * 1024

export async function readSecretValue(name: string, stdin: NodeJS.ReadStream = process.stdin, stderr: NodeJS.WriteStream = process.stderr): Promise<string> {
  return stdin.isTTY ? promptNoEcho(`Value for secret ${name} (not shown): `, stdin, stderr) : readAll(stdin)
}

async function readAll(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stdin) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer)
    size += b.length
    if (size > MAX_INPUT) throw usageError('SECRET_VALUE_TOO_LONG', `more than ${MAX_INPUT} bytes on stdin`, 'pipe the API key or token alone')
    chunks.push(b)
  }
  return Buffer.concat(chunks).toString('utf8')
}

function promptNoEcho(prompt: string, stdin: NodeJS.ReadStream, stderr: NodeJS.WriteStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let value = ''
    stderr.write(prompt)
    stdin.setRawMode(true)
    stdin.resume()
    stdin.setEncoding('utf8')
    const done = (error?: Error) => {
      stdin.setRawMode(false)
      stdin.pause()
      stdin.removeListener('data', onData)
      stderr.write('\n')
      if (error) reject(error)
      else resolve(value)
    }
    const onData = (text: string) => {
      for (const ch of text) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done()
        if (ch === '\u0003') return done(usageError('SECRET_INPUT_CANCELLED', 'cancelled: nothing was stored', 'run secret set again'))
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1)
        else value += ch
      }
    }
    stdin.on('data', onData)
  })
}
