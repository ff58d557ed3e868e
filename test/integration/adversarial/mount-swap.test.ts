// Adversarial: a mount source is swapped for a symlink into the planted ~/.ssh while launches run
// (docs/threat-model.md, "Mount swaps and the effective configuration"; issue 10, defect 6: a
// host-side swap won 8 of 30 launches, an agent-driven swap of a .git/hooks dir 7 of 40).
//
// A background process flips the allowlisted repo folder (then the repo's .git/hooks, the mount an
// agent in another container can reach) with a symlink to ~/.ssh — atomically, with renameat2
// RENAME_EXCHANGE, so the path always exists and each launch meets the swap at a random moment:
// before the judgement, between the judgement and `podman init`, or after the runtime mounted it.
// Every launch must end refused (exit 3: the re-judgement refuses the symlink into ~/.ssh, or the
// pre-start check finds another inode: MOUNT_SWAPPED / MOUNT_MISMATCH) or run and see the pinned
// folder. The planted key never appears in any output.
import {spawn, type ChildProcess} from 'node:child_process'
import {chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync} from 'node:fs'
import {basename, join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {makeLaunchFixture, type LaunchFixture} from '../helpers/launch-fixture.js'
import {podmanTarget, requirePodman, type PodmanMode} from '../helpers/podman-env.js'

const podmanAvailable = requirePodman()

/** renameat2 syscall numbers (RENAME_EXCHANGE = 2). */
const RENAMEAT2: Record<string, number> = {x64: 316, arm64: 276}

/**
 * Flips `path` (a real folder) with `decoy` (a symlink into ~/.ssh) until killed, pausing 0–4 ms
 * between flips, and now and then resting 0.3–1.5 s on the real folder. Perl is part of every Debian base system; its syscall() reaches renameat2. Where
 * exchange is unavailable it falls back to rename-away / rename-back (the path is then missing for
 * an instant, which a launch reports as PATH_MISSING: exit 4, nothing started).
 */
const SWAPPER = `
use strict; use Time::HiRes qw(usleep);
my ($nr, $a, $b) = @ARGV; my $n = 0;
$SIG{TERM} = sub { print STDERR "flips=$n\\n"; exit 0 };
while (1) {
  if ($nr > 0 && syscall($nr, -100, $a, -100, $b, 2) == 0) { $n++ }
  else { rename($a, "$a.away"); rename($b, $a); usleep(200); rename($a, $b); rename("$a.away", $a); $n += 2 }
  # the symlink stays 0-4 ms; the real folder 0-4 ms, or now and then 0.3-1.5 s, so some launches
  # meet no flip at all, or one only after the runtime mounted the folder
  usleep($n % 2 == 1 || rand() < 0.8 ? int(rand(4000)) : 300000 + int(rand(1200000)));
}
`

interface Tally {
  ran: number
  /** Ran, then the after-session integrity check quarantined what the flipper left (exit 6). */
  quarantinedAfter?: number
  refused: Record<string, number>
  messages: string[]
}

describe.each(['rootful', 'rootless'] as PodmanMode[])('adversarial: mount swaps (%s)', (mode) => {
  const target = podmanTarget(mode)

  describe.skipIf(!podmanAvailable || !target.runnable)(target.reason ? `skipped: ${target.reason}` : 'a swapped source is refused or never reaches the container', () => {
    let fx: LaunchFixture

    beforeAll(async () => {
      fx = await makeLaunchFixture(mode)
    })
    afterAll(async () => {
      if (!fx) return
      expect(await fx.cleanup(), 'containers left behind (now removed)').toEqual([])
    })

    /** Starts flipping `path` with a symlink to ~/.ssh; stop() puts the real folder back. */
    function startSwapper(path: string): {stop: () => Promise<string>} {
      // outside every mount (the tree scan would refuse a symlink into ~/.ssh inside one), same file system
      const decoy = join(fx.home, `decoy-${basename(path)}`)
      rmSync(decoy, {force: true})
      symlinkSync(join(fx.home, '.ssh'), decoy)
      const child: ChildProcess = spawn('perl', ['-e', SWAPPER, String(RENAMEAT2[process.arch] ?? 0), path, decoy], {stdio: ['ignore', 'ignore', 'pipe']})
      let err = ''
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
      return {
        async stop() {
          const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
          child.kill('SIGTERM')
          await exited
          // put the real folder back at `path`, whatever state the last flip left (the after-session
          // integrity check may also have quarantined what it found there: then an empty folder)
          if (lstatSync(path, {throwIfNoEntry: false})?.isSymbolicLink()) unlinkSync(path)
          for (const away of [decoy, `${path}.away`]) {
            if (!existsSync(path) && lstatSync(away, {throwIfNoEntry: false})?.isDirectory()) renameSync(away, path)
          }
          // the after-session check may have restored the hooks at `path` while the flip had left the
          // real folder at the decoy's name: the restored one stays, the stray copy goes
          rmSync(decoy, {force: true, recursive: lstatSync(decoy, {throwIfNoEntry: false})?.isDirectory() === true})
          if (!existsSync(path)) mkdirSync(path, {recursive: true})
          expect(lstatSync(path).isDirectory(), `${path} restored`).toBe(true)
          return err.trim()
        },
      }
    }

    /** `n` launches of a shell that reads what the swapped folder would expose; every outcome checked. */
    async function race(path: string, n: number, tag: string): Promise<Tally> {
      const tally: Tally = {ran: 0, refused: {}, messages: []}
      const swapper = startSwapper(path)
      const script = [
        'cat /workspace/repo/src/main.txt',
        'cat /workspace/repo/id_ed25519 /workspace/repo/.git/hooks/id_ed25519 2>/dev/null',
        'ls -a /workspace/repo /workspace/repo/.git/hooks',
        'exit 0',
      ].join('; ')
      try {
        for (let i = 0; i < n; i++) {
          const r = await fx.cli(['agent-machine', 'shell', '--json', '--repo', fx.repo, '--run-id', fx.runId(`${tag}${i}`), '--', '-c', script], {timeoutMs: 90_000})
          const all = r.stdout + r.stderr
          expect(all, 'the planted key never reaches any output').not.toContain(fx.secrets.ssh)
          // (the command line is echoed in the JSON plan; a listing of ~/.ssh would show the name on its own line)
          expect(all.split('\n').map((l) => l.trim())).not.toContain('id_ed25519')
          let result: {error?: {code?: string}; exitCode?: number | null}
          try {
            result = JSON.parse(r.stdout) as typeof result
          } catch {
            throw new Error(`launch ${i}: exit ${r.exitCode}, no JSON on stdout:\n${r.stdout}\n${r.stderr}`)
          }
          if (!result.error) {
            // it ran (under --json the shell's output is on stderr): the container saw the pinned repo, not ~/.ssh.
            // (Exit 6: the after-session integrity check found the flipped hooks and quarantined them — its class.)
            expect(r.stderr, `launch ${i}: exit ${r.exitCode}`).toContain('hello')
            expect([0, 6], r.stderr).toContain(r.exitCode)
            tally.ran++
            if (r.exitCode === 6) {
              tally.quarantinedAfter = (tally.quarantinedAfter ?? 0) + 1
              tally.messages.push(`ran, then exit 6: ${JSON.stringify((result as {integrity?: unknown}).integrity).slice(0, 600)}`)
            }
            continue
          }
          const code = result.error.code ?? `exit ${r.exitCode}`
          // refused: by policy (exit 3), or the folder was missing at that instant (exit 4, fallback swapper only)
          expect([3, 4], `launch ${i}: ${r.stdout} ${r.stderr}`).toContain(r.exitCode)
          if (r.exitCode === 4) expect(r.stdout).toMatch(/PATH_MISSING|does not exist|is missing/)
          tally.refused[code] = (tally.refused[code] ?? 0) + 1
          tally.messages.push(`${code}: ${(result.error as {message?: string}).message?.slice(0, 240) ?? ''}`)
        }
      } finally {
        const flips = await swapper.stop()
        console.log(`[mount-swap ${mode}] ${tag}: ${n} launches → ${tally.ran} ran with the pinned folder (${tally.quarantinedAfter ?? 0} then quarantined), refused ${JSON.stringify(tally.refused)} (${flips})${tally.messages.map((m) => `\n    ${m}`).join('')}`)
      }
      return tally
    }

    it('host-side swap of the allowlisted repo folder ↔ a symlink into ~/.ssh: refused or pinned, never ~/.ssh', async () => {
      const tally = await race(fx.repo, 12, 'repo')
      expect(tally.ran + Object.values(tally.refused).reduce((a, b) => a + b, 0)).toBe(12)
    }, 240_000)

    it('swap of the repo’s .git/hooks (the mount an agent in another container can reach): refused or pinned', async () => {
      const hooks = join(fx.repo, '.git', 'hooks')
      const tally = await race(hooks, 8, 'hooks')
      expect(tally.ran + Object.values(tally.refused).reduce((a, b) => a + b, 0)).toBe(8)
      // the repo still works and its hooks folder is the real one again
      expect(readFileSync(join(fx.repo, 'src', 'main.txt'), 'utf8')).toBe('hello\n')
    }, 240_000)

    it.each([
      ['create', 'repo', /mount source \S+\/dev\/repo became a symlink after it was checked/],
      ['init', 'docs', /a mount source changed between its check and the container.*\/workspace\/docs (shows|is device\/inode)/],
    ] as const)('a swap made just before `podman %s` (of the %s folder, after its pin) is refused: MOUNT_SWAPPED, no container left', async (step, which, message) => {
      // Deterministic: SOURCEOSCTL_PODMAN points the CLI at a wrapper that flips the folder with a
      // symlink into ~/.ssh, then execs the real podman. Before create, podman itself refuses the
      // vanished git sources and the pins say why; before init, the runtime mounts ~/.ssh and the
      // view check finds another inode at the target.
      const folder = which === 'repo' ? fx.repo : fx.docs
      const runId = fx.runId(`at-${step}`)
      const wrapperDir = join(fx.home, 'bin')
      mkdirSync(wrapperDir, {recursive: true})
      const decoy = `${folder}.decoy`
      rmSync(decoy, {force: true})
      symlinkSync(join(fx.home, '.ssh'), decoy)
      const wrapper = join(wrapperDir, `podman-${step}`)
      writeFileSync(
        wrapper,
        `#!/bin/sh\nif [ "$1" = ${step} ]; then perl -e 'syscall(${RENAMEAT2[process.arch] ?? 316}, -100, $ARGV[0], -100, $ARGV[1], 2) == 0 or die "exchange: $!"' ${folder} ${decoy}; fi\nexec podman "$@"\n`,
      )
      chmodSync(wrapper, 0o755)
      fx.own(wrapperDir)
      fx.own(wrapper)
      try {
        const r = await fx.cli(['agent-machine', 'shell', '--repo', fx.repo, '--run-id', runId, '--', '-c', 'ls -a /workspace/repo /workspace/docs; cat /workspace/docs/id_ed25519'], {
          env: {SOURCEOSCTL_PODMAN: wrapper},
        })
        expect(r.exitCode, r.stderr).toBe(3)
        expect(r.stderr).toMatch(message)
        expect(r.stdout + r.stderr).not.toContain(fx.secrets.ssh)
        expect(await fx.containersOf(runId)).toEqual([])
      } finally {
        if (lstatSync(folder).isSymbolicLink()) {
          unlinkSync(folder)
          renameSync(decoy, folder)
        }
        rmSync(decoy, {force: true})
      }
    }, 120_000)
  })
})
