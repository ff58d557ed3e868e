/**
 * Detached sessions (issue 17, the rest) against real Podman, rootful and rootless: `shell --detach`
 * and `run --detach` start in the background with a keeper; ps lists them (and --all the ended
 * ones); exec runs in the same container and is recorded in the run's exec log; logs reads the
 * output while it runs and after it ended; stop ends it and reports the keeper's after-session
 * work; attach reattaches and ends with the session; a session that exits by itself is finished by
 * its keeper; a keeper killed with SIGKILL leaves its session to recovery, which the next `ps`
 * does — and every record stays valid for `evidence inspect`. Several sessions at once: two
 * detached runs on two worktrees of one repo and a foreground shell, side by side.
 */
import {createHash} from 'node:crypto'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {makeLaunchFixture, type LaunchFixture} from './helpers/launch-fixture.js'
import {podman, podmanTarget, requirePodman, type PodmanMode} from './helpers/podman-env.js'

const podmanAvailable = requirePodman()

interface Done {
  exitCode: number | null
  by: string
  messages: string[]
  evidence: string | null
}

describe.each(['rootful', 'rootless'] as PodmanMode[])('detached sessions (%s)', (mode) => {
  const target = podmanTarget(mode)

  describe.skipIf(!podmanAvailable || !target.runnable)(target.reason ? `skipped: ${target.reason}` : 'run --detach, shell --detach, attach, ps --all, exec evidence, recovery', () => {
    let fx: LaunchFixture
    const sessionsDir = () => join(fx.stateDir, 'sessions')
    const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T
    const record = (file: string) => readJson<{predicate: {status: string; exitCode: number | null; runId: string}}>(file).predicate
    const until = async (what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> => {
      const deadline = Date.now() + timeoutMs
      while (!(await ok())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
        await new Promise((r) => setTimeout(r, 200))
      }
    }
    const inspectOk = async (file: string) => {
      const inspected = await fx.cli(['agent-machine', 'evidence', 'inspect', file, '--json'])
      expect(inspected.exitCode, inspected.stdout + inspected.stderr).toBe(0)
    }

    beforeAll(async () => {
      fx = await makeLaunchFixture(mode)
    }, 240_000)
    afterAll(async () => {
      if (!fx) return
      expect(await fx.cleanup(), 'containers left behind (now removed)').toEqual([])
    })

    it('shell --detach: listed, exec recorded, logs while running and after, stop reports the after-session work, ps --all lists it ended', async () => {
      const runId = fx.runId('detached')
      const started = await fx.cli(['agent-machine', 'shell', '--detach', '--run-id', runId, '--repo', fx.repo, '--', '-c', 'echo "DETACHED-OUT $(id -u)"; trap "echo got TERM; exit 143" TERM; while :; do sleep 1; done'], {timeoutMs: 120_000})
      expect(started.exitCode, started.stderr).toBe(0)
      expect(started.stdout).toContain(`Session ${runId}`)
      expect(started.stdout).toContain(`agent-machine attach ${runId}`)
      expect(started.stdout).toContain(`agent-machine stop ${runId}`)
      const state = readJson<{pid: number; detached: boolean; recordFile: string}>(join(sessionsDir(), `${runId}.json`))
      expect(state.detached).toBe(true)
      // the record is begun at launch
      expect(record(state.recordFile).status).toBe('started')

      const ps = await fx.cli(['agent-machine', 'ps', '--json'])
      expect(ps.exitCode, ps.stderr).toBe(0)
      expect((JSON.parse(ps.stdout) as {sessions: Array<{runId: string; state: string; verb: string}>}).sessions.find((s) => s.runId === runId)).toMatchObject({state: 'running', verb: 'shell'})

      await until('the output', async () => (await fx.cli(['agent-machine', 'logs', runId])).stdout.includes('DETACHED-OUT'))
      const uid = /DETACHED-OUT (\d+)/.exec((await fx.cli(['agent-machine', 'logs', runId])).stdout)![1]

      // exec: the same container and user; its start, end and redacted argv in the run's exec log
      const exec = await fx.cli(['agent-machine', 'exec', runId, '--', 'sh', '-c', 'echo "EXEC $(id -u)"; exit 4'])
      expect(exec.exitCode).toBe(4)
      expect(exec.stdout).toContain(`EXEC ${uid}`)
      const execLog = join(fx.stateDir, 'evidence', 'exec', `${runId}.jsonl`)
      const events = readFileSync(execLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as {event: string; argv?: string[]; exitCode?: number; prevLine: string | null; record: string})
      expect(events.map((e) => e.event)).toEqual(['exec-start', 'exec-end'])
      expect(events[0]!.argv![0]).toBe('sh')
      expect(events[0]!.argv![2]).toMatch(/^\[redacted sha256:[0-9a-f]{64}\]$/)
      expect(events[1]!.exitCode).toBe(4)
      expect(events[0]!.prevLine).toBeNull()
      expect(events[1]!.prevLine).toMatch(/^sha256:[0-9a-f]{64}$/)
      expect(events[0]!.record).toBe(state.recordFile.split('/').pop())

      const dry = await fx.cli(['agent-machine', 'stop', runId, '--dry-run'])
      expect(dry.stdout).toContain(`sourceos-agent-${runId}`)
      const stop = await fx.cli(['agent-machine', 'stop', runId, '--time', '5', '--json'], {timeoutMs: 120_000})
      expect(stop.exitCode, stop.stderr).toBe(0)
      const stopped = JSON.parse(stop.stdout) as {stopped: string[]; finished: Array<{runId: string; done: Done | null}>}
      expect(stopped.stopped).toEqual([runId])
      expect(stopped.finished[0]!.done).toMatchObject({exitCode: 143, by: 'keeper'})
      expect(stopped.finished[0]!.done!.evidence).toBe(state.recordFile)
      expect(record(state.recordFile)).toMatchObject({status: 'completed', exitCode: 143})
      // the signed record commits to the exec log (its sha256) as it was when the session ended
      const byproducts = readJson<{predicate: {byproducts?: Array<{name: string; digest: {sha256: string}}>}}>(state.recordFile).predicate.byproducts ?? []
      expect(byproducts.find((b) => b.name === 'exec-log')?.digest.sha256).toBe(createHash('sha256').update(readFileSync(execLog)).digest('hex'))
      await inspectOk(state.recordFile)
      expect(await fx.containersOf(runId)).toEqual([])
      expect(existsSync(join(sessionsDir(), `${runId}.json`))).toBe(false)

      // the output is kept after the session, in the state dir
      const after = await fx.cli(['agent-machine', 'logs', runId])
      expect(after.exitCode, after.stderr).toBe(0)
      expect(after.stdout).toContain('DETACHED-OUT')
      expect(after.stdout).toContain('got TERM')

      const all = await fx.cli(['agent-machine', 'ps', '--all', '--json'])
      const ended = (JSON.parse(all.stdout) as {ended: Array<{runId: string; status: string; exitCode: number | null}>}).ended
      expect(ended.find((e) => e.runId === runId)).toMatchObject({status: 'completed', exitCode: 143})
      expect((await fx.cli(['agent-machine', 'ps', '--all'])).stdout).toMatch(new RegExp(`^${runId}\\s+shell\\s.*ended \\(143\\)`, 'm'))
    }, 300_000)

    it('a detached session that exits by itself is finished by its keeper, its exit code in the record', async () => {
      const runId = fx.runId('selfexit')
      const started = await fx.cli(['agent-machine', 'shell', '--detach', '--run-id', runId, '--repo', fx.repo, '--', '-c', 'sleep 1; echo bye; exit 3'], {timeoutMs: 120_000})
      expect(started.exitCode, started.stderr).toBe(0)
      await until('the keeper to finish', () => existsSync(join(sessionsDir(), `${runId}.done.json`)))
      const done = readJson<Done>(join(sessionsDir(), `${runId}.done.json`))
      expect(done).toMatchObject({exitCode: 3, by: 'keeper'})
      expect(record(done.evidence!)).toMatchObject({status: 'completed', exitCode: 3})
      await inspectOk(done.evidence!)
      await until('the container to go', async () => (await fx.containersOf(runId)).length === 0)
    }, 180_000)

    it('a detached session\'s log is bounded: 12 MiB printed, podman keeps at most 8 MiB while it runs, and at most 8 MiB (its end) are kept after it', async () => {
      const runId = fx.runId('logcap')
      // 12 MiB of 1 KiB lines, then a marker, then it waits to be stopped
      const script = 'l=$(printf "%01023d" 0); i=0; while [ $i -lt 12288 ]; do echo "$l"; i=$((i+1)); done; echo END-OF-OUTPUT; trap "exit 143" TERM; while :; do sleep 1; done'
      const started = await fx.cli(['agent-machine', 'shell', '--detach', '--run-id', runId, '--repo', fx.repo, '--', '-c', script], {timeoutMs: 120_000})
      expect(started.exitCode, started.stderr).toBe(0)
      let live = ''
      await until('the marker in podman\'s log', async () => (live = (await fx.cli(['agent-machine', 'logs', runId])).stdout).includes('END-OF-OUTPUT'), 180_000)
      // podman's own log (--log-opt=max-size=8m): what it still holds is under the bound, not the 12 MiB printed
      expect(live.length).toBeGreaterThan(0)
      expect(live.length).toBeLessThanOrEqual(8 * 1024 * 1024)
      const stop = await fx.cli(['agent-machine', 'stop', runId, '--time', '2'], {timeoutMs: 120_000})
      expect(stop.exitCode, stop.stderr).toBe(0)
      const kept = readFileSync(join(sessionsDir(), `${runId}.output.log`))
      expect(kept.length).toBeLessThanOrEqual(8 * 1024 * 1024)
      expect(kept.toString('utf8')).toContain('END-OF-OUTPUT')
      const after = await fx.cli(['agent-machine', 'logs', runId])
      expect(after.stdout).toContain('END-OF-OUTPUT')
    }, 300_000)

    it('attach reattaches to a detached session; when it ends, attach reports it and exits with its code', async () => {
      const runId = fx.runId('attach')
      const started = await fx.cli(['agent-machine', 'shell', '--detach', '--run-id', runId, '--repo', fx.repo, '--', '-c', 'read line; echo "GOT $line"; exit 5'], {timeoutMs: 120_000})
      expect(started.exitCode, started.stderr).toBe(0)
      const dry = await fx.cli(['agent-machine', 'attach', runId, '--dry-run'])
      expect(dry.stdout).toContain('--detach-keys=ctrl-p,ctrl-q')
      const attached = await fx.cli(['agent-machine', 'attach', runId], {input: 'hello\n', timeoutMs: 120_000})
      expect(attached.stdout).toContain('GOT hello')
      expect(attached.exitCode, attached.stderr).toBe(5)
      const done = readJson<Done>(join(sessionsDir(), `${runId}.done.json`))
      expect(record(done.evidence!)).toMatchObject({status: 'completed', exitCode: 5})
    }, 180_000)

    it('crash: the keeper SIGKILLed, then podman stops the container underneath: the next ps completes the record, and it stays valid', async () => {
      const runId = fx.runId('crash')
      const launcher = await fx.spawn(['agent-machine', 'shell', '--detach', '--run-id', runId, '--repo', fx.repo, '--', '-c', 'while :; do sleep 1; done'])
      // during the launch: as soon as the keeper has written its state (just before the start)
      await until('the session state', () => existsSync(join(sessionsDir(), `${runId}.json`)), 120_000)
      const state = readJson<{pid: number; recordFile: string}>(join(sessionsDir(), `${runId}.json`))
      process.kill(state.pid, 'SIGKILL')
      launcher.kill()
      await launcher.exited(30_000)
      // a `podman start` the keeper had already spawned may still start the container: let it land first
      await new Promise((r) => setTimeout(r, 3000))
      await podman(target, ['stop', '--time=1', `sourceos-agent-${runId}`])
      expect(record(state.recordFile).status).toBe('started')

      const ps = await fx.cli(['agent-machine', 'ps', '--json'], {timeoutMs: 120_000})
      expect(ps.exitCode, ps.stderr).toBe(0)
      const listing = await podman(target, ['ps', '--all', '--filter', `name=${runId}`, '--format', '{{.Names}} {{.State}} {{.ExitCode}}'])
      expect((JSON.parse(ps.stdout) as {recovered?: string[]}).recovered ?? [], `${ps.stdout}\n${ps.stderr}\n${listing.stdout}`).toContain(runId)
      const finished = record(state.recordFile)
      expect(['completed', 'incomplete']).toContain(finished.status)
      await inspectOk(state.recordFile)
      expect(readJson<Done>(join(sessionsDir(), `${runId}.done.json`)).by).toBe('recovery')
      expect(await fx.containersOf(runId)).toEqual([])
      // recovered once: a second ps finds nothing to do
      const again = await fx.cli(['agent-machine', 'ps', '--json'])
      expect((JSON.parse(again.stdout) as {recovered?: string[]}).recovered ?? []).not.toContain(runId)
    }, 240_000)

    it('several sessions at once: two detached runs on two worktrees of one repo and a foreground shell; ps shows all three; chains stay valid', async () => {
      const a = fx.runId('wt-a')
      const b = fx.runId('wt-b')
      const c = fx.runId('fg')
      const [ra, rb] = await Promise.all([
        fx.cli(['agent-machine', 'run', '--tool', 'codex', '--detach', '--worktree', '--branch', `agent/${a}`, '--run-id', a, '--repo', fx.repo, '--', '--sleep', '300'], {timeoutMs: 180_000}),
        fx.cli(['agent-machine', 'run', '--tool', 'codex', '--detach', '--worktree', '--branch', `agent/${b}`, '--run-id', b, '--repo', fx.repo, '--', '--sleep', '300'], {timeoutMs: 180_000}),
      ])
      expect(ra.exitCode, ra.stderr).toBe(0)
      expect(rb.exitCode, rb.stderr).toBe(0)
      const fg = await fx.spawn(['agent-machine', 'shell', '--run-id', c, '--repo', fx.repo, '--', '-c', 'echo FG-UP; trap "exit 143" TERM; while :; do sleep 1; done'])
      await fg.waitFor(/FG-UP/, 120_000)

      const ps = await fx.cli(['agent-machine', 'ps', '--json'])
      const listed = (JSON.parse(ps.stdout) as {sessions: Array<{runId: string; state: string; verb: string; tool: string}>}).sessions
      for (const id of [a, b, c]) expect(listed.find((s) => s.runId === id)?.state, id).toBe('running')
      expect(listed.find((s) => s.runId === a)).toMatchObject({verb: 'run', tool: 'codex'})

      const stop = await fx.cli(['agent-machine', 'stop', a, '--time', '2', '--json'], {timeoutMs: 120_000})
      const doneA = (JSON.parse(stop.stdout) as {finished: Array<{done: Done | null}>}).finished[0]!.done!
      expect(doneA.exitCode).toBe(143)
      // the worktree message, as a foreground run prints it
      expect(doneA.messages.join('\n')).toContain(`agent/${a}`)
      const stopAll = await fx.cli(['agent-machine', 'stop', '--all', '--time', '2'], {timeoutMs: 180_000})
      expect(stopAll.exitCode, stopAll.stderr).toBe(0)
      const fgExit = await fg.exited(60_000)
      expect(fgExit.exitCode).toBe(143)
      const doneB = readJson<Done>(join(sessionsDir(), `${b}.done.json`))
      for (const file of [doneA.evidence!, doneB.evidence!]) {
        expect(record(file).status).toBe('completed')
        await inspectOk(file)
      }
      // the whole evidence dir: every chain link holds
      const whole = await fx.cli(['agent-machine', 'evidence', 'inspect', join(fx.stateDir, 'evidence'), '--json'])
      expect(whole.exitCode, whole.stdout + whole.stderr).toBe(0)
      for (const id of [a, b, c]) expect(await fx.containersOf(id)).toEqual([])
    }, 420_000)
  })
})
