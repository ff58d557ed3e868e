// Adversarial: in a --worktree session the agent goes after the USER's refs and plants things in
// its clone (docs/threat-model.md, "--worktree: the user's refs"). Each session runs through the
// built CLI against real podman, rootful and rootless, in a test image with real git. Afterwards:
// the user's main (and every other ref) is unchanged, only the agent's branch arrived, and nothing
// ran on the host — not during the bring-back, and not when the user runs git in the repo or the
// clone afterwards (a marker file the planted commands would create never appears).
import {existsSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {ensureGitImage} from '../helpers/git-image.js'
import {makeLaunchFixture, type LaunchFixture} from '../helpers/launch-fixture.js'
import {podmanTarget, requirePodman, type PodmanMode} from '../helpers/podman-env.js'
import {runAs} from '../helpers/proc.js'

const podmanAvailable = requirePodman()
const IDENTITY = '-c user.name=agent -c user.email=agent@example.invalid'

interface Result {
  worktree: {path: string; branch: string; baseCommit: string; broughtBack: {commit: string | null; error: {code: string; message: string} | null} | null}
}

describe.each(['rootful', 'rootless'] as PodmanMode[])('adversarial: --worktree and the user’s refs (%s)', (mode) => {
  const target = podmanTarget(mode)

  // Sequential: both sessions branch off the fixture's repo and compare its refs.
  describe.skipIf(!podmanAvailable || !target.runnable)(target.reason ? `skipped: ${target.reason}` : 'only the agent’s branch comes back', () => {
    let fx: LaunchFixture
    let profile = ''

    beforeAll(async () => {
      const [f, image] = await Promise.all([makeLaunchFixture(mode), ensureGitImage(mode)])
      fx = f
      profile = fx.profileVariant('worktree-refs', (doc) => {
        doc.spec.image.ref = image.ref
        doc.spec.image.digest = `sha256:${image.id}`
      })
    })
    afterAll(async () => {
      if (!fx) return
      expect(await fx.cleanup(), 'containers left behind (now removed)').toEqual([])
    })

    /** The host's own git, as the repo's owner, with a clean global config (what the user types). */
    const hostGit = (dir: string, ...args: string[]) =>
      runAs('git', ['-C', dir, ...args], {asUser: fx.user, cleanEnv: true, env: {HOME: fx.home, PATH: '/usr/bin:/bin', GIT_CONFIG_NOSYSTEM: '1'}, timeoutMs: 30_000})
    const refsOf = async (dir: string) => {
      const r = await hostGit(dir, 'for-each-ref', '--format=%(refname) %(objectname)')
      expect(r.exitCode, r.stderr).toBe(0)
      return r.stdout.trim().split('\n')
    }

    const session = (branch: string, script: string) =>
      fx.cli(['agent-machine', 'shell', '--profile-file', profile, '--repo', fx.repo, '--worktree', '--branch', branch, '--run-id', fx.runId('refs'), '--json'], {
        input: `${script}\nexit 0\n`,
        timeoutMs: 90_000,
      })

    /** `name=<exit code>` lines the scripts print (each starts its own line). */
    const codes = (out: string): Record<string, number> => Object.fromEntries([...out.matchAll(/^([a-z-]+)=(\d+)$/gm)].map((m) => [m[1]!, Number(m[2])]))

    /** The user's everyday git in `dir` runs and `marker` never appears. */
    async function userGitRunsNothing(dir: string, marker: string): Promise<void> {
      for (const args of [['status'], ['diff'], ['log', '-1', '--oneline']]) {
        const r = await hostGit(dir, ...args)
        expect(r.exitCode, `git ${args.join(' ')} in ${dir}: ${r.stderr}`).toBe(0)
      }
      expect(existsSync(marker), `${marker}: a planted command ran on the host`).toBe(false)
    }

    it('the agent moves main (ref file, packed-refs, update-ref), makes other refs and plants fsmonitor and hooks: main unchanged, only its branch arrives, nothing runs', async () => {
      const marker = join(fx.home, 'PWNED-worktree-refs')
      const before = await refsOf(fx.repo)
      const main = before.find((l) => l.startsWith('refs/heads/main '))!.split(' ')[1]!
      const u = `${fx.repo}/.git`
      const fire = `touch ${marker}; false`
      const r = await session('agent/refs', [
        `git ${IDENTITY} commit -q --allow-empty -m 'agent work'; printf "\\ncommit=%s\\n" $?`,
        // the user's refs, every way git or a shell could reach them
        `echo 0000000000000000000000000000000000000000 > ${u}/refs/heads/main; printf "\\nuser-ref-file=%s\\n" $?`,
        `echo "$(git rev-parse HEAD) refs/heads/main" >> ${u}/packed-refs; printf "\\nuser-packed-refs=%s\\n" $?`,
        `git --git-dir=${u} update-ref refs/heads/main HEAD; printf "\\nuser-update-ref=%s\\n" $?`,
        `git --git-dir=${u} branch evil HEAD; printf "\\nuser-branch=%s\\n" $?`,
        `mkdir -p ${u}/refs/heads/evil; printf "\\nuser-mkdir=%s\\n" $?`,
        `touch ${u}/objects/planted; printf "\\nuser-objects=%s\\n" $?`,
        // the clone's own refs: all the agent's, none of them comes back
        'git update-ref refs/heads/main HEAD; printf "\\nclone-main=%s\\n" $?',
        'git branch extra && git tag v666 && git update-ref refs/remotes/origin/main HEAD; printf "\\nclone-refs=%s\\n" $?',
        'echo "$(git rev-parse HEAD) refs/heads/sneaky" >> .git/packed-refs; printf "\\nclone-packed=%s\\n" $?',
        'git symbolic-ref HEAD refs/heads/extra; printf "\\nclone-head=%s\\n" $?',
        // code the host would run: the clone's config and hooks, its alternates
        `git config core.fsmonitor "${fire}"; printf "\\nfsmonitor=%s\\n" $?`,
        `printf '[core]\\n\\tfsmonitor = "${fire}"\\n' >> .git/config; printf "\\nconfig-append=%s\\n" $?`,
        `printf '#!/bin/sh\\n${fire}\\n' > .git/hooks/post-checkout; printf "\\nhook=%s\\n" $?`,
        `printf '#!/bin/sh\\n${fire}\\n' > .git/hooks/reference-transaction; printf "\\nhook-ref=%s\\n" $?`,
        'echo /tmp > .git/objects/info/alternates; printf "\\nalternates=%s\\n" $?',
      ].join('\n'))
      expect(r.exitCode, r.stderr).toBe(0)
      const c = codes(r.stderr)
      expect(c).toMatchObject({commit: 0, 'clone-main': 0, 'clone-refs': 0, 'clone-packed': 0, 'clone-head': 0})
      for (const k of ['user-ref-file', 'user-packed-refs', 'user-update-ref', 'user-branch', 'user-mkdir', 'user-objects', 'fsmonitor', 'config-append', 'hook', 'hook-ref', 'alternates']) {
        expect([k, c[k]]).not.toEqual([k, 0])
        expect(c[k], `${k} missing in:\n${r.stderr}`).toBeDefined()
      }

      const result = JSON.parse(r.stdout) as Result
      const tip = result.worktree.broughtBack?.commit
      expect(tip, JSON.stringify(result.worktree)).toMatch(/^[0-9a-f]{40}$/)
      expect(tip).not.toBe(main)
      // main unchanged; exactly one new ref, the agent's branch; no tag, no extra, no sneaky
      const after = await refsOf(fx.repo)
      expect(after).toEqual([...before, `refs/heads/agent/refs ${tip}`].sort())
      expect(existsSync(join(fx.repo, '.git', 'objects', 'planted'))).toBe(false)
      // nothing ran: not the bring-back, not the user's git in the repo or in the clone
      expect(existsSync(marker)).toBe(false)
      await userGitRunsNothing(fx.repo, marker)
      await userGitRunsNothing(result.worktree.path, marker)
    })

    it('the agent swaps its clone’s objects dir for one whose alternates borrow elsewhere: the bring-back refuses (exit 3, WORKTREE_CLONE_TAMPERED), no ref changes', async () => {
      const before = await refsOf(fx.repo)
      const r = await session('agent/objects-swap', [
        `git ${IDENTITY} commit -q --allow-empty -m 'agent work'; printf "\\ncommit=%s\\n" $?`,
        // the alternates file is a read-only mount; the folder holding it is not: move it aside, make a new one
        'mv .git/objects .git/objects-away; printf "\\nobjects-move=%s\\n" $?',
        'mkdir -p .git/objects/info && echo /etc > .git/objects/info/alternates; printf "\\nobjects-new=%s\\n" $?',
      ].join('\n'))
      expect(r.exitCode, r.stderr).toBe(3)
      const result = JSON.parse(r.stdout) as Result
      expect(result.worktree.broughtBack).toMatchObject({commit: null, error: {code: 'WORKTREE_CLONE_TAMPERED', message: expect.stringMatching(/alternates names \["\/etc"\]/)}})
      expect(await refsOf(fx.repo)).toEqual(before)
      expect(readdirSync(join(fx.stateDir, 'worktrees')).filter((n) => n.endsWith('.bring-back.git'))).toEqual([])
    })

    it('the agent redirects its clone (commondir → a config with core.fsmonitor): quarantined (exit 6); the bring-back runs no git in the clone, so the branch still arrives and nothing runs', async () => {
      const marker = join(fx.home, 'PWNED-worktree-clone')
      const before = await refsOf(fx.repo)
      const r = await session('agent/redirect', [
        `git ${IDENTITY} commit -q --allow-empty -m 'agent work'; printf "\\ncommit=%s\\n" $?`,
        'mkdir -p evil/objects/info evil/refs/heads',
        `printf '[core]\\n\\trepositoryformatversion = 0\\n\\tfsmonitor = "touch ${marker}; false"\\n' > evil/config`,
        'echo ../evil > .git/commondir; printf "\\ncommondir=%s\\n" $?',
      ].join('\n'))
      expect(r.exitCode, r.stderr).toBe(6)
      const result = JSON.parse(r.stdout) as Result & {integrity: {findings: Array<{path: string; action: string}>}}
      expect(result.integrity.findings.filter((f) => f.action === 'quarantine').map((f) => f.path)).toEqual([join(result.worktree.path, '.git', 'commondir')])
      const tip = result.worktree.broughtBack?.commit
      expect(tip, JSON.stringify(result.worktree.broughtBack)).toMatch(/^[0-9a-f]{40}$/)
      expect(await refsOf(fx.repo)).toEqual([...before, `refs/heads/agent/redirect ${tip}`].sort())
      expect(existsSync(marker)).toBe(false)
      await userGitRunsNothing(fx.repo, marker)
      await userGitRunsNothing(result.worktree.path, marker)
    })
  })
})
