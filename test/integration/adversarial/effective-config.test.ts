// Adversarial: podman's own configuration adds to the container what the plan does not have
// (docs/threat-model.md, "Mount swaps and the effective configuration"; issue 10, defect 7: a
// containers.conf `env` entry reached the agent; a rootless mounts.conf copied ~/.ssh to
// /run/secrets/ssh, which inspect's Mounts does not show). Each case is refused before anything
// of the agent runs (exit 3), the planted value never appears, and no container is left.
// The last case checks that a normal run's evidence records how it was verified.
import {copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {makeLaunchFixture, type LaunchFixture} from '../helpers/launch-fixture.js'
import {containersConfPath, podmanTarget, requirePodman, REPO_CONTAINERS_CONF, type PodmanMode} from '../helpers/podman-env.js'

const podmanAvailable = requirePodman()

/** The CI containers.conf (runtime, cgroups, ulimits) plus `extra` under [containers]. */
function containersConfWith(extra: string): string {
  const base = readFileSync(containersConfPath() ?? REPO_CONTAINERS_CONF, 'utf8')
  const conf = base.includes('[containers]') ? base.replace('[containers]', `[containers]\n${extra}`) : `[containers]\n${extra}\n${base}`
  const file = join(tmpdir(), `sourceosctl-effective-${process.pid}-${Math.random().toString(16).slice(2)}.conf`)
  writeFileSync(file, conf, {mode: 0o644})
  return file
}

/** Files under `dir` (recursively) whose name contains `part`. */
function filesNamed(dir: string, part: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, {recursive: true, encoding: 'utf8'}).filter((f) => f.includes(part))
}

/** Writes `file` for the duration of `fn` and puts back what was there (or nothing). */
async function withFile<T>(file: string, content: string, owner: (path: string) => void, fn: () => Promise<T>): Promise<T> {
  const backup = `${file}.sourceosctl-test-backup`
  const existed = existsSync(file)
  mkdirSync(dirname(file), {recursive: true})
  if (existed) copyFileSync(file, backup)
  writeFileSync(file, content, {mode: 0o644})
  owner(file)
  try {
    return await fn()
  } finally {
    if (existed) renameSync(backup, file)
    else rmSync(file, {force: true})
  }
}

describe.each(['rootful', 'rootless'] as PodmanMode[])('adversarial: the effective container configuration (%s)', (mode) => {
  const target = podmanTarget(mode)

  describe.skipIf(!podmanAvailable || !target.runnable)(target.reason ? `skipped: ${target.reason}` : 'nothing beyond the plan reaches the container', () => {
    let fx: LaunchFixture
    const confs: string[] = []

    beforeAll(async () => {
      fx = await makeLaunchFixture(mode)
    })
    afterAll(async () => {
      for (const c of confs) rmSync(c, {force: true})
      if (!fx) return
      expect(await fx.cleanup(), 'containers left behind (now removed)').toEqual([])
    })

    /** A shell that prints what a hostile configuration would have handed it. */
    async function attempt(tag: string, env: Record<string, string> = {}) {
      const runId = fx.runId(tag)
      const script = 'echo "LEAK=$LEAK"; env; cat /run/secrets/ssh/id_ed25519 /run/x/id_ed25519 2>/dev/null; grep -c Seccomp: /proc/self/status'
      const r = await fx.cli(['agent-machine', 'shell', '--repo', fx.repo, '--run-id', runId, '--', '-c', script], {env, timeoutMs: 90_000})
      const all = r.stdout + r.stderr
      expect(all, 'the planted key never appears').not.toContain(fx.secrets.ssh)
      expect(await fx.containersOf(runId), 'no container is left').toEqual([])
      // the record, begun before the create, ends incomplete and names the refusal (docs/evidence.md, "A launch that fails")
      const records = filesNamed(join(fx.stateDir, 'evidence', 'records'), runId).filter((f) => f.endsWith('.json'))
      expect(records, 'one record: the refused launch').toHaveLength(1)
      const record = JSON.parse(readFileSync(join(fx.stateDir, 'evidence', 'records', records[0]!), 'utf8')) as {predicate: {status: string; outcome: unknown}}
      expect(record.predicate).toMatchObject({status: 'incomplete', outcome: {result: 'failed', error: {exitCode: 3}}})
      expect(filesNamed(fx.stateDir, runId).filter((f) => !f.startsWith(join('evidence', 'records'))), 'nothing else of the run is left').toEqual([])
      return r
    }

    it.each([
      ['env = ["LEAK=from-containers-conf"]', /configuration differs from the plan: .*variables the plan does not: LEAK/],
      ['seccomp_profile = "unconfined"', /configuration differs from the plan: .*(no seccomp filter|no seccomp profile)/],
      // inspect lists a rootful device; a rootless one is a bind that only mountinfo shows
      ['devices = ["/dev/fuse"]', /differ from the plan: .*(devices: \/dev\/fuse|unplanned mount at \/dev\/fuse)/],
    ])('containers.conf `%s` is refused before the agent runs (exit 3)', async (extra, message) => {
      const conf = containersConfWith(extra)
      confs.push(conf)
      const r = await attempt('conf', {CONTAINERS_CONF: conf})
      expect(r.exitCode, r.stderr).toBe(3)
      expect(r.stderr).toMatch(message)
      expect(r.stdout + r.stderr).not.toContain('from-containers-conf')
      expect(r.stdout).toBe('')
    }, 120_000)

    it('a containers.conf volume of a planted folder is refused (exit 3)', async () => {
      const conf = containersConfWith(`volumes = ["${join(fx.home, '.ssh')}:/run/x:ro"]`)
      confs.push(conf)
      const r = await attempt('volume', {CONTAINERS_CONF: conf})
      expect(r.exitCode, r.stderr).toBe(3)
      expect(r.stderr).toMatch(/mounts differ from the plan: .*\/run\/x/)
    }, 120_000)

    it('a mounts.conf that copies the planted ~/.ssh to /run/secrets (absent from inspect) is refused (exit 3)', async () => {
      const line = `${join(fx.home, '.ssh')}:/run/secrets/ssh\n`
      // rootless podman reads $HOME/.config/containers/mounts.conf (HOME is the fixture's); rootful /etc/containers/mounts.conf
      const files = mode === 'rootless' ? [join(fx.home, '.config', 'containers', 'mounts.conf')] : ['/etc/containers/mounts.conf']
      const own = (p: string) => {
        fx.own(dirname(p))
        fx.own(p)
      }
      const r = await withFile(files[0]!, line, own, () => attempt('mountsconf'))
      expect(r.exitCode, r.stderr).toBe(3)
      expect(r.stderr).toMatch(/mounts differ from the plan: .*(\/run\/secrets\/ssh|\/run\/secrets in the container holds)/)
      expect(r.stdout).toBe('')
    }, 120_000)

    it('a normal run records how it was verified: the inodes the container saw are those of the sources', async () => {
      const runId = fx.runId('verified')
      const r = await fx.cli(['agent-machine', 'shell', '--json', '--repo', fx.repo, '--run-id', runId, '--', '-c', 'exit 0'])
      expect(r.exitCode, r.stderr).toBe(0)
      const evidence = (JSON.parse(r.stdout) as {evidence: string}).evidence
      const record = JSON.parse(readFileSync(evidence, 'utf8')) as {predicate: {mounts: Array<{source: string; target: string}>; verification: {method: string; via: string; mounts: Array<{target: string; dev: string; ino: string}>; unverified: string[]}}}
      const v = record.predicate.verification
      expect(v.method).toBe('proc-root-inode')
      expect(v.via).toBe('direct')
      expect(v.unverified).toEqual([])
      expect(v.mounts.map((m) => m.target).sort()).toEqual(record.predicate.mounts.map((m) => m.target).sort())
      for (const m of record.predicate.mounts) {
        // Sources are written home-relative (spec.evidence.paths default): ~ is the fixture's HOME.
        const s = statSync(m.source.replace(/^~(?=\/|$)/, fx.home), {bigint: true})
        expect(v.mounts.find((p) => p.target === m.target), m.target).toEqual({target: m.target, dev: s.dev.toString(), ino: s.ino.toString()})
      }
    }, 120_000)
  })
})
