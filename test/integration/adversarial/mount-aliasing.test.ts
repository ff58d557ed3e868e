// Adversarial: a mount source that reaches past itself by aliasing (docs/threat-model.md, "Mount
// aliasing: hard links, bind mounts, sockets, deep trees"; issue 10, defect 6: a hard link to
// ~/.ssh/id_ed25519 in the repo was readable and writable in the container, a bind of ~/.ssh onto
// repo/vendor reached it through the recursive bind, a socket in node_modules or below the old depth
// limit was reachable).
//
// Each case plants the alias on the host, in the allowlisted repo, then launches through the built
// CLI: the launch is refused by policy (exit 3, POLICY_HAZARD naming the path and the kind), no
// container is created, and the planted key never appears in any output. A FIFO must not hang the
// CLI. A last launch with every plant removed runs, so the refusals are the plants' doing.
import {spawnSync} from 'node:child_process'
import {linkSync, mkdirSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {makeLaunchFixture, type LaunchFixture} from '../helpers/launch-fixture.js'
import {podmanTarget, requirePodman, type PodmanMode} from '../helpers/podman-env.js'

const podmanAvailable = requirePodman()
const isRoot = process.getuid?.() === 0

describe.each(['rootful', 'rootless'] as PodmanMode[])('adversarial: mount aliasing (%s)', (mode) => {
  const target = podmanTarget(mode)

  describe.skipIf(!podmanAvailable || !target.runnable)(target.reason ? `skipped: ${target.reason}` : 'aliases of denied files are refused before any container', () => {
    let fx: LaunchFixture

    beforeAll(async () => {
      fx = await makeLaunchFixture(mode)
    })
    afterAll(async () => {
      if (!fx) return
      expect(await fx.cleanup(), 'containers left behind (now removed)').toEqual([])
    })

    /**
     * A launch (a shell that would print the key if it could reach it, or `run`), once in human mode
     * (the one-line error names the kind, the path and the fix) and once under --json (the error
     * code); both refused by policy, no container, no key in any output.
     */
    async function refusedLaunch(verb: 'shell' | 'run', tag: string, expected: RegExp, timeoutMs = 60_000) {
      const tail =
        verb === 'shell'
          ? ['--', '-c', 'cat /workspace/repo/vendor/* /workspace/repo/vendor/id_ed25519 2>&1; ls -laR /workspace/repo']
          : ['--tool', 'codex', '--', '--version']
      const launch = async (json: boolean) => {
        const runId = fx.runId(`${tag}${json ? '-json' : ''}`)
        const started = Date.now()
        const args = ['agent-machine', verb, ...(json ? ['--json'] : []), '--repo', fx.repo, '--run-id', runId, ...(verb === 'run' ? tail.slice(0, 2) : []), ...(verb === 'run' ? tail.slice(2) : tail)]
        const r = await fx.cli(args, {timeoutMs})
        const all = r.stdout + r.stderr
        expect(r.exitCode, all).toBe(3)
        expect(all, 'the planted key never reaches any output').not.toContain(fx.secrets.ssh)
        expect(await fx.containersOf(runId), 'no container was created').toEqual([])
        return {r, ms: Date.now() - started}
      }
      const human = await launch(false)
      expect(human.r.stderr).toMatch(expected)
      expect(human.r.stderr).toContain('Fix: ')
      const json = await launch(true)
      const error = (JSON.parse(json.r.stdout) as {error: {code: string; message: string; fix: string}}).error
      expect(error.code).toBe('POLICY_HAZARD')
      expect(error.message).toMatch(expected)
      return {r: human.r, fix: error.fix, ms: Math.max(human.ms, json.ms)}
    }

    it('a hard link of ~/.ssh/id_ed25519 placed in the repo: shell and run refused (hardlink-sensitive)', async () => {
      const vendor = join(fx.repo, 'vendor')
      mkdirSync(vendor, {recursive: true})
      const alias = join(vendor, 'notes.txt')
      linkSync(join(fx.home, '.ssh', 'id_ed25519'), alias)
      try {
        const {fix} = await refusedLaunch('shell', 'hardlink', /hardlink-sensitive vendor\/notes\.txt: a hard link to .*\.ssh\/id_ed25519/)
        expect(fix).toMatch(/rm .*vendor\/notes\.txt/) // the fix names the link to delete
        await refusedLaunch('run', 'hardlink-run', /hardlink-sensitive vendor\/notes\.txt/)
      } finally {
        rmSync(alias, {force: true})
      }
    }, 120_000)

    it.runIf(isRoot)('a bind mount of ~/.ssh onto repo/vendor (same device: only mountinfo sees it): refused (mount-point)', async () => {
      const vendor = join(fx.repo, 'vendor')
      mkdirSync(vendor, {recursive: true})
      const bind = spawnSync('mount', ['--bind', join(fx.home, '.ssh'), vendor], {encoding: 'utf8'})
      expect(bind.status, bind.stderr).toBe(0)
      try {
        const {fix} = await refusedLaunch('shell', 'bind', /mount-point vendor: a mount point/)
        expect(fix).toMatch(/umount .*vendor/)
      } finally {
        const un = spawnSync('umount', [vendor], {encoding: 'utf8'})
        if (un.status !== 0) spawnSync('umount', ['-l', vendor])
      }
    }, 120_000)

    it('a unix socket 12 levels deep inside node_modules: refused (socket)', async () => {
      const deep = join(fx.repo, 'node_modules', ...'abcdefghijk'.split(''))
      mkdirSync(deep, {recursive: true})
      // bind() from inside the folder keeps the socket path short; the socket file outlives the process
      const made = spawnSync(process.execPath, ['-e', "process.chdir(process.argv[1]); require('node:net').createServer().listen('s.sock', () => process.exit(0))", deep], {encoding: 'utf8'})
      expect(made.status, made.stderr).toBe(0)
      try {
        await refusedLaunch('shell', 'socket', /socket node_modules\/a\/b\/c\/d\/e\/f\/g\/h\/i\/j\/k\/s\.sock/)
      } finally {
        rmSync(join(fx.repo, 'node_modules'), {recursive: true, force: true})
      }
    }, 120_000)

    it('a FIFO in the repo: refused (fifo), and the CLI does not hang on it', async () => {
      const pipe = join(fx.repo, 'logs', 'tail.pipe')
      mkdirSync(join(fx.repo, 'logs'), {recursive: true})
      const made = spawnSync('mkfifo', [pipe], {encoding: 'utf8'})
      expect(made.status, made.stderr).toBe(0)
      try {
        const {ms} = await refusedLaunch('shell', 'fifo', /fifo logs\/tail\.pipe/, 30_000)
        expect(ms, 'refused promptly, not blocked on the pipe').toBeLessThan(20_000)
      } finally {
        rmSync(join(fx.repo, 'logs'), {recursive: true, force: true})
      }
    }, 60_000)

    it('with every plant removed the same launch runs (the refusals were the plants’ doing)', async () => {
      const r = await fx.cli(['agent-machine', 'shell', '--repo', fx.repo, '--run-id', fx.runId('clean'), '--', '-c', 'cat /workspace/repo/src/main.txt'])
      expect(r.exitCode, r.stderr).toBe(0)
      expect(r.stdout).toContain('hello')
    }, 60_000)
  })
})
