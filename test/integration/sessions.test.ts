/**
 * Managing a running session (issue 17, first part: ps, exec, logs, stop) against real Podman,
 * rootful and rootless: a foreground shell session runs; a second CLI lists it, runs a command in
 * the same container (same user, no capability), reads its output and stops it — and the first
 * CLI then ends as after any exit, leaving no container.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {makeLaunchFixture, type LaunchFixture} from './helpers/launch-fixture.js'
import {podmanTarget, requirePodman, type PodmanMode} from './helpers/podman-env.js'

const podmanAvailable = requirePodman()

describe.each(['rootful', 'rootless'] as PodmanMode[])('sessions (%s)', (mode) => {
  const target = podmanTarget(mode)

  describe.skipIf(!podmanAvailable || !target.runnable)(target.reason ? `skipped: ${target.reason}` : 'ps, exec, logs and stop on a running session', () => {
    let fx: LaunchFixture

    beforeAll(async () => {
      fx = await makeLaunchFixture(mode)
    }, 240_000)
    afterAll(async () => {
      if (!fx) return
      expect(await fx.cleanup(), 'containers left behind (now removed)').toEqual([])
    })

    it('a running session is listed, a command runs in its own container as its user with no capability, its output is read, and stop ends it', async () => {
      const runId = fx.runId('session')
      const session = await fx.spawn(['agent-machine', 'shell', '--run-id', runId, '--repo', fx.repo, '--', '-c', 'echo "SESSION-OUTPUT $(id -u)"; trap "echo got TERM; exit 143" TERM; while :; do sleep 1; done'])
      await session.waitFor(/SESSION-OUTPUT \d+/, 90_000)
      const sessionUid = /SESSION-OUTPUT (\d+)/.exec(session.stdout() + session.stderr())![1]

      const ps = await fx.cli(['agent-machine', 'ps', '--json'])
      expect(ps.exitCode, ps.stderr).toBe(0)
      const listed = (JSON.parse(ps.stdout) as {sessions: Array<{runId: string; verb: string; state: string; workdir: string; network: string; image: string}>}).sessions.find((s) => s.runId === runId)
      expect(listed).toMatchObject({verb: 'shell', state: 'running', workdir: '/workspace/repo', network: 'none'})
      expect(listed!.image).toMatch(/^[a-f0-9]{12}$/)
      const human = await fx.cli(['agent-machine', 'ls'])
      expect(human.stdout).toMatch(new RegExp(`^${runId}\\s+shell\\s+/workspace/repo\\s+none\\s`, 'm'))

      // a second command in the same container: same user, same workdir, no capability
      const exec = await fx.cli(['agent-machine', 'exec', runId, '--', 'sh', '-c', 'echo "EXEC $(id -u) $(pwd)"; grep CapEff /proc/self/status; ls /proc/1/cmdline >/dev/null && echo SAME-PID-NS'])
      expect(exec.exitCode, exec.stderr).toBe(0)
      expect(exec.stdout).toContain(`EXEC ${sessionUid} /workspace/repo`)
      expect(exec.stdout).toMatch(/CapEff:\s+0000000000000000/)
      const failing = await fx.cli(['agent-machine', 'exec', runId, '--', 'sh', '-c', 'exit 7'])
      expect(failing.exitCode).toBe(7)

      const logs = await fx.cli(['agent-machine', 'logs', runId])
      expect(logs.exitCode, logs.stderr).toBe(0)
      expect(logs.stdout + logs.stderr).toContain(`SESSION-OUTPUT ${sessionUid}`)

      const dry = await fx.cli(['agent-machine', 'stop', runId, '--dry-run'])
      expect(dry.stdout).toContain(`sourceos-agent-${runId}`)
      expect((await fx.containersOf(runId)).length).toBe(1)

      const stop = await fx.cli(['agent-machine', 'stop', runId, '--time', '5'])
      expect(stop.exitCode, stop.stderr).toBe(0)
      const exit = await session.exited(60_000)
      expect(exit.stdout + exit.stderr).toContain('got TERM')
      expect(exit.exitCode).toBe(143)
      expect(await fx.containersOf(runId)).toEqual([])
      const after = await fx.cli(['agent-machine', 'exec', runId, '--', 'true'])
      expect(after.exitCode).toBe(2)
      expect(after.stderr).toMatch(/no session with run id/)
    }, 240_000)
  })
})
