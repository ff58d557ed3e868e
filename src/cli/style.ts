/**
 * Terminal styling that respects NO_COLOR, FORCE_COLOR, TERM=dumb and non-TTY output (ARCHITECTURE §7).
 */
import {Chalk, type ChalkInstance} from 'chalk'

let instance: ChalkInstance | undefined

export function style(stream: NodeJS.WriteStream = process.stdout): ChalkInstance {
  if (instance) return instance
  const env = process.env
  const noColor = env.NO_COLOR !== undefined && env.NO_COLOR !== ''
  const forced = env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0'
  // TERM=dumb: a terminal that shows escape codes as text (emacs shell, some CI logs).
  const dumb = env.TERM === 'dumb'
  const level = noColor ? 0 : forced ? 1 : stream.isTTY && !dumb ? 1 : 0
  instance = new Chalk({level})
  return instance
}

const MARKS = {ok: '✔', warn: '!', fail: '✖', timeout: '⏱', skip: '–'} as const

export function statusMark(status: keyof typeof MARKS): string {
  const c = style()
  const mark = MARKS[status]
  switch (status) {
    case 'ok':
      return c.green(mark)
    case 'warn':
      return c.yellow(mark)
    case 'skip':
      return c.dim(mark)
    default:
      return c.red(mark)
  }
}
