// Refusals no other test triggers, and the hardening checked from inside a running container
// (issue 15, item 3). Through the built CLI against real podman, rootful and rootless:
//
// - a run id that is not one (a trailing newline, a path, upper case) → exit 2, RUN_ID_INVALID;
// - a mount target that is no plain path under /workspace (a backslash, U+2028) → exit 3;
// - a hazard planted in an allowlisted folder after `init` (a credential store, a FIFO) → exit 3,
//   POLICY_HAZARD, at launch;
// - an allowlisted folder the invoking user cannot read → exit 4, MOUNT_UNREADABLE (rootless: root
//   reads every folder);
// each before any container exists and without an evidence record; and, in a running container:
// the root file system is read-only, the home tmpfs is nosuid and nodev, no capability remains, and
// the profile's pids and memory limits hold (rootful; rootless podman on cgroup v1 cannot set them,
// which the test states rather than skips).
import {chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync} from 'node:fs'
import {execFileSync} from 'node:child_process'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {makeLaunchFixture, type LaunchFixture} from '../helpers/launch-fixture.js'
import {podmanOk, podmanTarget, requirePodman, type PodmanMode} from '../helpers/podman-env.js'

const podmanAvailable = requirePodman()

interface ErrorJson {
  error?: {code: string; message: string; exitCode: number; fix: string | null}
}

describe.each(['rootful', 'rootless'] as PodmanMode[])('adversarial: refusals and runtime hardening (%s)', (mode) => {
  const target = podmanTarget(mode)

  describe.skipIf(!podmanAvailable || !target.runnable)(target.reason ? `skipped: ${target.reason}` : 'through the built CLI', () => {
    let fx: LaunchFixture
    let cgroupVersion = ''

    beforeAll(async () => {
      fx = await makeLaunchFixture(mode)
      cgroupVersion = await podmanOk(target, ['info', '--format', '{{.Host.CgroupsVersion}}'])
    })
    afterAll(async () => {
      if (!fx) return
      expect(await fx.cleanup(), 'containers left behind (now removed)').toEqual([])
    })

    const evidenceOf = (runId: string): string[] => {
      const dir = join(fx.stateDir, 'evidence', 'records')
      return existsSync(dir) ? readdirSync(dir).filter((f) => f.includes(runId)) : []
    }

    /** A launch refused before any container: its JSON error, no container, no record. */
    async function refused(args: string[], runId: string, env: Record<string, string> = {}): Promise<{exitCode: number | null; error: NonNullable<ErrorJson['error']>}> {
      const r = await fx.cli(['agent-machine', 'run', '--json', '--tool', 'codex', '--repo', fx.repo, '--run-id', runId, ...args], {env})
      const error = (JSON.parse(r.stdout || '{}') as ErrorJson).error
      expect(error, `${r.stdout}${r.stderr}`).toBeDefined()
      expect(r.stdout + r.stderr, 'the fake tool never ran').not.toContain('{"tool":')
      return {exitCode: r.exitCode, error: error!}
    }

    it.each([
      ['a trailing newline', 'abcdefgh\n'],
      ['a path', 'abcdefgh/../../x'],
      ['upper case', 'ABCDEFGH1'],
      ['too short', 'abc'],
    ])('a run id with %s is refused (exit 2, RUN_ID_INVALID), nothing created', async (_label, runId) => {
      const {exitCode, error} = await refused([], runId)
      expect(exitCode).toBe(2)
      expect(error).toMatchObject({code: 'RUN_ID_INVALID', fix: 'use 8-63 lower-case letters, digits and -'})
      const containers = await podmanOk(target, ['ps', '--all', '--format', '{{.Names}}'])
      expect(containers.split('\n')).not.toContain(`sourceos-agent-${runId}`)
      expect(existsSync(join(fx.stateDir, 'evidence', 'records')) ? readdirSync(join(fx.stateDir, 'evidence', 'records')).filter((f) => f.includes('abcdefgh')) : []).toEqual([])
    })

    it.each([
      ['a backslash', '/workspace/a\\b', 'POLICY_TARGET', 'contains a backslash'],
      ['U+2028', '/workspace/a\u2028b', 'POLICY_UNSAFE_CHARS', 'contains'],
    ])('a mount target with %s is refused at launch (exit 3)', async (label, mountTarget, code, message) => {
      const profile = fx.profileVariant(`target-${code}`, (doc) => {
        doc.spec.mounts.push({source: fx.other, target: mountTarget, mode: 'ro'})
      })
      const runId = fx.runId('badtarget')
      const {exitCode, error} = await refused([], runId, {SOURCEOSCTL_PROFILE: profile})
      expect(exitCode, label).toBe(3)
      expect(error.code).toBe(code)
      expect(error.message).toContain(message)
      expect(error.fix).toBe('fix the mount target in the profile: a path under /workspace')
      expect(await fx.containersOf(runId)).toEqual([])
      expect(evidenceOf(runId)).toEqual([])
    })

    it.each([
      ['a credential store (.aws/credentials)', (dir: string) => {
        mkdirSync(join(dir, 'infra', '.aws'), {recursive: true})
        writeFileSync(join(dir, 'infra', '.aws', 'credentials'), '[default]\naws_secret_access_key = planted\n')
      }, 'infra/.aws'],
      ['a FIFO', (dir: string) => execFileSync('mkfifo', [join(dir, 'pipe')]), 'pipe'],
    ])('a hazard planted in an allowlisted folder after init, %s, is refused at launch (exit 3, POLICY_HAZARD)', async (label, plant, relPath) => {
      const dir = join(fx.home, 'dev', `hazard-${relPath.replace(/\W/g, '')}`)
      mkdirSync(dir, {recursive: true})
      plant(dir)
      execFileSync('chown', ['-R', `${fx.uid}:${fx.gid}`, dir])
      const profile = fx.profileVariant(`hazard-${relPath.replace(/\W/g, '')}`, (doc) => {
        doc.spec.mounts.push({source: dir, target: '/workspace/hazard', mode: 'ro'})
      })
      const runId = fx.runId('hazard')
      const {exitCode, error} = await refused([], runId, {SOURCEOSCTL_PROFILE: profile})
      expect(exitCode, label).toBe(3)
      expect(error.code).toBe('POLICY_HAZARD')
      expect(error.message).toContain(relPath)
      expect(await fx.containersOf(runId)).toEqual([])
      expect(evidenceOf(runId)).toEqual([])
    })

    it.runIf(mode === 'rootless')('an allowlisted folder the user cannot read is refused at launch (exit 4, MOUNT_UNREADABLE)', async () => {
      const dir = join(fx.home, 'dev', 'locked')
      mkdirSync(dir, {recursive: true})
      fx.own(dir)
      const profile = fx.profileVariant('locked', (doc) => {
        doc.spec.mounts.push({source: dir, target: '/workspace/locked', mode: 'ro'})
      })
      chmodSync(dir, 0o000)
      try {
        const runId = fx.runId('unreadable')
        const {exitCode, error} = await refused([], runId, {SOURCEOSCTL_PROFILE: profile})
        expect(exitCode).toBe(4)
        expect(error).toMatchObject({code: 'MOUNT_UNREADABLE', fix: 'fix the folder or remove the mount from the profile'})
        expect(error.message).toBe(`mount ${dir} (${dir}) is unreadable.`)
        expect(await fx.containersOf(runId)).toEqual([])
      } finally {
        chmodSync(dir, 0o755)
      }
    })

    /** `sh -c script` in a governed container of `profile` (default: the fixture's); stdout and exit code. */
    async function inside(script: string, profile?: string): Promise<{exitCode: number | null; out: string}> {
      const runId = fx.runId('inside')
      const r = await fx.cli(['agent-machine', 'shell', '--repo', fx.repo, '--run-id', runId, '--', '-c', script], {
        env: profile ? {SOURCEOSCTL_PROFILE: profile} : {}, timeoutMs: 90_000,
      })
      return {exitCode: r.exitCode, out: r.stdout + r.stderr}
    }

    it('in a running container: / is read-only, the home tmpfs is nosuid and nodev, no capability remains', async () => {
      const {exitCode, out} = await inside([
        'touch /planted 2>&1; echo "root-write=$?"',
        'touch /home/agent/ok && echo home-write=0',
        'grep " /home/agent " /proc/self/mountinfo',
        'awk \'$5 == "/" { print "rootfs " $0 }\' /proc/self/mountinfo',
        'grep ^Cap /proc/self/status',
      ].join('; '))
      expect(exitCode, out).toBe(0)
      expect(out).toMatch(/Read-only file system/)
      expect(out).toContain('root-write=1')
      expect(out).toContain('home-write=0')
      const home = out.split('\n').find((l) => l.includes(' /home/agent '))!
      expect(home.split(' ')[5]!.split(',')).toEqual(expect.arrayContaining(['rw', 'nosuid', 'nodev']))
      expect(home).toContain(' - tmpfs ')
      // the mount at / (its root field differs between rootful and rootless storage)
      const root = out.split('\n').filter((l) => l.startsWith('rootfs ')).at(-1)
      expect(root, out).toBeDefined()
      expect(root!.split(' ')[6]!.split(','), root).toContain('ro')
      for (const cap of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) expect(out, cap).toMatch(new RegExp(`^${cap}:\\s+0{16}$`, 'm'))
    }, 120_000)

    it('in a running container: the profile\'s pids and memory limits hold', async () => {
      const profile = fx.profileVariant('limits', (doc) => {
        doc.spec.resources = {cpus: 1, memory: '64m', pidsLimit: 32}
      })
      const script = [
        'cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null | sed "s/^/pids.max=/"',
        'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null | sed "s/^/memory.max=/"',
        // 128 MiB in one buffer, touched by the read, against 64 MiB: killed
        '/bin/busybox dd if=/dev/zero of=/dev/null bs=128M count=1 2>/dev/null; echo "dd=$?"',
        // 60 sleepers against a limit of 32 processes: the rest cannot fork (counted with builtins only)
        'ok=0; i=0; while [ $i -lt 60 ]; do if (sleep 20 &) 2>/dev/null; then ok=$((ok+1)); fi; i=$((i+1)); done; echo "forked=$ok"',
      ].join('; ')
      const {out} = await inside(script, profile)
      const forked = Number(/forked=(\d+)/.exec(out)?.[1])
      if (mode === 'rootless' && /1$/.test(cgroupVersion)) {
        // Rootless podman on cgroup v1 cannot set limits (it warns and ignores them): stated, so this fails once it can.
        expect(out, 'no pids limit on cgroup v1 rootless').not.toMatch(/pids\.max=32\b/)
        expect(forked, out).toBe(60)
        return
      }
      expect(out).toMatch(/pids\.max=32\b/)
      expect(out).toMatch(/memory\.max=67108864\b/)
      expect(forked, out).toBeLessThan(32)
      expect(out, 'the 128 MiB buffer was killed').toMatch(/dd=(137|1)\b/)
    }, 120_000)
  })
})
