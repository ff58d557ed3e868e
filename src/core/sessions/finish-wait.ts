/**
 * `stop` and `attach` after the session's container ended: wait (bounded) until the session is
 * finished — by its owner (the keeper or foreground CLI), or, when that is gone, by recovery run
 * here — and return how it ended (the keeper's or recovery's done file; null for a foreground
 * session, whose CLI prints it itself, or when the wait ran out).
 */
import type {Runner} from '../exec.js'
import type {HostFacts} from '../host/facts.js'
import {recoverSessions} from './recover.js'
import {ownerAlive, readDone, readSessionState, type SessionDone, type SessionState} from './state.js'

export type Finished = {finished: true; done: SessionDone | null} | {finished: false}

export async function waitFinished(state: string, runner: Runner, host: HostFacts, runId: string, timeoutMs: number, sleep = (ms: number) => new Promise((r) => setTimeout(r, ms)), known: SessionState | null = null): Promise<Finished> {
  const deadline = Date.now() + timeoutMs
  // the session's state as read before it was stopped or attached to (its owner), if there was one
  let owner: SessionState | null = known
  for (let delay = 50; ; delay = Math.min(delay * 2, 400)) {
    const s = await readSessionState(state, runId)
    if (!s) {
      // a keeper removes its state file, then prints its messages and writes the done file: wait for that while it runs
      const done = await readDone(state, runId)
      if (done || !owner?.detached || !(await ownerAlive(owner)) || Date.now() > deadline) return {finished: true, done}
      await sleep(delay)
      continue
    }
    owner = s
    if (!(await ownerAlive(s))) {
      await recoverSessions(state, runner, host, runId)
      if (!(await readSessionState(state, runId))) return {finished: true, done: await readDone(state, runId)}
    }
    if (Date.now() > deadline) return {finished: false}
    await sleep(delay)
  }
}
