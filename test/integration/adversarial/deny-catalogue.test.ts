// Adversarial (docs/threat-model.md, "Deny catalogue: places the host runs code"): the agent gets a
// folder the host later RUNS code from — a PATH dir, systemd user units, a shell's rc folder, this
// CLI's own config/state dirs (where its profile and evidence live), container storage — so one
// write there would run on the host. Each is refused (exit 3) by `init --repo` and by a launch whose
// profile mounts it, and nothing is written or started. Run as root, another user's home is
// refused like one's own, and the container runs in a user namespace where container root is not
// host root. Real podman, rootful and rootless, through the built CLI.
import {existsSync, mkdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {makeLaunchFixture, type LaunchFixture} from '../helpers/launch-fixture.js'
import {podmanTarget, requirePodman, type PodmanMode} from '../helpers/podman-env.js'
import {BASE_PATH, userInfo} from '../helpers/proc.js'

const podmanAvailable = requirePodman()

interface ErrorJson {
  error?: {code: string; message: string; exitCode: number}
}

describe.each(['rootful', 'rootless'] as PodmanMode[])('adversarial: deny catalogue, places the host runs code (%s)', (mode) => {
  const target = podmanTarget(mode)

  describe.skipIf(!podmanAvailable || !target.runnable).concurrent(target.reason ? `skipped: ${target.reason}` : 'refused before anything runs', () => {
    let fx: LaunchFixture
    let profileBefore = ''
    const dir = (...parts: string[]): string => {
      const p = join(fx.home, ...parts)
      mkdirSync(p, {recursive: true})
      // owned by the invoking user all the way down from the home
      for (let i = 1; i <= parts.length; i++) fx.own(join(fx.home, ...parts.slice(0, i)))
      return p
    }

    beforeAll(async () => {
      fx = await makeLaunchFixture(mode)
      profileBefore = readFileSync(fx.profilePath, 'utf8')
    })
    afterAll(async () => {
      if (!fx) return
      expect(await fx.cleanup(), 'containers left behind (now removed)').toEqual([])
    })

    async function initRefused(repo: string, code: RegExp, env: Record<string, string> = {}): Promise<string> {
      const result = await fx.cli(['agent-machine', 'init', '--json', '--repo', repo], {env})
      const error = (JSON.parse(result.stdout || '{}') as ErrorJson).error
      expect(result.exitCode, `${repo}: ${result.stdout}${result.stderr}`).toBe(3)
      expect(error?.code).toMatch(code)
      // the active profile did not change
      expect(readFileSync(fx.profilePath, 'utf8')).toBe(profileBefore)
      return error?.message ?? ''
    }

    it.each([
      ['~/.local/bin (on PATH)', ['.local', 'bin']],
      ['~/.config/systemd/user (systemd user units)', ['.config', 'systemd', 'user']],
      ['~/.config/autostart (XDG autostart)', ['.config', 'autostart']],
      ['~/.config/fish (a shell rc folder)', ['.config', 'fish']],
      ['~/.oh-my-zsh/custom (sourced by .zshrc)', ['.oh-my-zsh', 'custom']],
      ['~/.cargo/bin', ['.cargo', 'bin']],
    ])('init --repo %s → 3 (POLICY_HOST_EXEC)', async (_label, parts) => {
      const message = await initRefused(dir(...parts), /^POLICY_HOST_EXEC$/)
      expect(message).toContain('the host runs what is written there')
    })

    it("init --repo this CLI's own config dir, its evidence dir, or a folder containing the config dir → 3", async () => {
      expect(await initRefused(fx.configDir, /^POLICY_HOST_EXEC$/)).toContain("sourceosctl's config dir")
      dir('.local', 'state', 'sourceosctl', 'evidence')
      expect(await initRefused(join(fx.stateDir, 'evidence'), /^POLICY_HOST_EXEC$/)).toContain("sourceosctl's state dir")
      // a config dir relocated into a project folder: the folder holding it is refused too
      const work = dir('work')
      const cfg = dir('work', 'sourceosctl-config')
      const message = await initRefused(work, /^POLICY_HOST_EXEC$/, {SOURCEOSCTL_CONFIG_DIR: cfg})
      expect(message).toContain(`contains sourceosctl's config dir ${cfg}`)
      expect(existsSync(join(cfg, 'agent-machine', 'profile.yaml'))).toBe(false)
    })

    it('init --repo container storage (~/.local/share/containers, ~/.config/containers) → 3', async () => {
      await initRefused(dir('.local', 'share', 'containers', 'storage'), /^POLICY_(SENSITIVE|HOST_EXEC)$/)
      await initRefused(dir('.config', 'containers'), /^POLICY_(SENSITIVE|HOST_EXEC)$/)
    })

    it("init --repo a folder holding a directory of the host's $PATH → 3", async () => {
      const tools = dir('tools')
      dir('tools', 'bin')
      const message = await initRefused(tools, /^POLICY_HOST_EXEC$/, {PATH: `${join(tools, 'bin')}:${BASE_PATH}`})
      expect(message).toContain('on your $PATH')
    })

    it('a profile that mounts ~/.local/bin is refused at launch (3), no container', async () => {
      const bin = dir('.local', 'bin')
      const profile = fx.profileVariant('mount-local-bin', (doc) => {
        doc.spec.mounts.push({source: bin, target: '/workspace/bin', mode: 'rw'})
      })
      const runId = fx.runId('local-bin')
      const result = await fx.cli(['agent-machine', 'shell', '--json', '--run-id', runId, '--profile-file', profile, '--repo', fx.repo, '--', '-c', 'touch /workspace/bin/git'])
      expect(result.exitCode, result.stdout + result.stderr).toBe(3)
      expect((JSON.parse(result.stdout) as ErrorJson).error?.code).toBe('POLICY_HOST_EXEC')
      expect(existsSync(join(bin, 'git'))).toBe(false)
      expect(await fx.containersOf(runId)).toEqual([])
    })

    it('a --profile-file inside a mounted repo is refused (3): the agent could rewrite the next launch', async () => {
      const inRepo = join(fx.repo, 'agent-profile.yaml')
      writeFileSync(inRepo, readFileSync(fx.profilePath, 'utf8'))
      fx.own(inRepo)
      const runId = fx.runId('profile-in-repo')
      const result = await fx.cli(['agent-machine', 'shell', '--json', '--run-id', runId, '--profile-file', inRepo, '--repo', fx.repo, '--', '-c', 'true'])
      expect(result.exitCode, result.stdout + result.stderr).toBe(3)
      expect((JSON.parse(result.stdout) as ErrorJson).error?.code).toBe('PROFILE_IN_MOUNT')
      expect(await fx.containersOf(runId)).toEqual([])
    })

    if (mode === 'rootful') {
      it("run as root: another user's home is refused like one's own (3)", async () => {
        const other = process.env.SOURCEOSCTL_TEST_ROOTLESS_USER ? userInfo(process.env.SOURCEOSCTL_TEST_ROOTLESS_USER)?.home : undefined
        expect(other && existsSync(other), `the rootless user's home (${other}) must exist for this test`).toBe(true)
        expect(await initRefused(other!, /^POLICY_BROAD_ROOT$/)).toContain("another user's home")
      })

      it('run as root: container root is not host root (user namespace); the agent writes as the repo owner', async () => {
        const script = [
          'echo "uid_map:"; cat /proc/self/uid_map',
          'echo "gid_map:"; cat /proc/self/gid_map',
          'echo "pid1-uid: $(sed -n "s/^Uid:[[:space:]]*//p" /proc/1/status)"',
          'echo "me: $(id -u):$(id -g)"',
          'touch /workspace/repo/userns-probe',
          'exit 0',
        ].join('\n')
        const result = await fx.cli(['agent-machine', 'shell', '--run-id', fx.runId('userns'), '--repo', fx.repo], {input: `${script}\n`})
        expect(result.exitCode, result.stdout + result.stderr).toBe(0)
        const section = (name: string): Array<[number, number, number]> =>
          result.stdout.split(`${name}:\n`)[1]!.split('\n').filter((l) => /^\s*\d+\s+\d+\s+\d+\s*$/.test(l)).map((l) => l.trim().split(/\s+/).map(Number) as [number, number, number])
        for (const map of [section('uid_map'), section('gid_map')]) {
          const hostOf = (id: number): number | undefined => {
            const range = map.find(([inside, , size]) => id >= inside && id < inside + size)
            return range ? range[1] + (id - range[0]) : undefined
          }
          expect(hostOf(0), `container root maps to host ${hostOf(0)}`).not.toBe(0)
          expect(hostOf(0)).toBeGreaterThan(0)
          expect(hostOf(1000)).toBe(0) // the agent's user is the repo's owner (root here)
        }
        // nothing runs as container root: the init process and the shell are the agent's user
        expect(result.stdout).toMatch(/^pid1-uid: 1000\s+1000\s+1000\s+1000$/m)
        expect(result.stdout).toContain('me: 1000:1000')
        const st = statSync(join(fx.repo, 'userns-probe'))
        expect([st.uid, st.gid]).toEqual([fx.uid, fx.gid])
      })
    }
  })
})
