/**
 * Progress for long steps (a machine start, a wait, a pull), written to stderr: a spinner with the
 * elapsed seconds on a terminal, plain lines otherwise (one when the step begins, a heartbeat every
 * so often, one when it ends) so logs and CI output stay readable.
 */

export interface ProgressStream {
  isTTY?: boolean
  write(chunk: string): unknown
}

export interface Task {
  /** Replace the task's text (e.g. "waiting for machine …"). */
  update(text: string): void
  succeed(text: string): void
  fail(text: string): void
}

export interface Progress {
  task(text: string): Task
}

export interface ProgressOptions {
  /** Spinner frame interval on a TTY; default 100 ms. */
  frameMs?: number
  /** Plain-line heartbeat interval; default 15 s. */
  heartbeatMs?: number
  now?: () => number
  /** Colour/marks; plain ASCII when false. */
  unicode?: boolean
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏']

/** Writes nothing: for --json, where stdout carries the document and stderr stays quiet. */
export const silentProgress: Progress = {
  task: () => ({update: () => {}, succeed: () => {}, fail: () => {}}),
}

export function createProgress(stream: ProgressStream, opts: ProgressOptions = {}): Progress {
  const now = opts.now ?? (() => Date.now())
  const unicode = opts.unicode ?? true
  const okMark = unicode ? '✔' : 'ok'
  const failMark = unicode ? '✖' : 'failed:'
  return {
    task(initial: string): Task {
      const started = now()
      let text = initial
      let done = false
      const elapsed = () => `${Math.round((now() - started) / 1000)}s`
      let timer: ReturnType<typeof setInterval> | undefined
      if (stream.isTTY) {
        let frame = 0
        const draw = () => {
          stream.write(`\r\x1b[2K${FRAMES[frame++ % FRAMES.length]} ${text} (${elapsed()})`)
        }
        draw()
        timer = setInterval(draw, opts.frameMs ?? 100)
      } else {
        stream.write(`${text} …\n`)
        timer = setInterval(() => stream.write(`… still ${text.charAt(0).toLowerCase()}${text.slice(1)} (${elapsed()})\n`), opts.heartbeatMs ?? 15_000)
      }
      timer.unref?.()
      const finish = (mark: string, final: string) => {
        if (done) return
        done = true
        if (timer) clearInterval(timer)
        stream.write(`${stream.isTTY ? '\r\x1b[2K' : ''}${mark} ${final} (${elapsed()})\n`)
      }
      return {
        update(next: string) {
          text = next
        },
        succeed: (final) => finish(okMark, final),
        fail: (final) => finish(failMark, final),
      }
    },
  }
}
