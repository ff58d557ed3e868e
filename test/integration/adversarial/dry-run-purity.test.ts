// Adversarial: `--dry-run` is pure (docs/threat-model.md, "Dry runs"; issue 10, defect 8). A repo
// carries what an earlier session could have planted — `core.fsmonitor` and a clean filter (which
// even hardened host git runs) in .git/config, hooks, and a
// `.git/commondir` redirect to a folder whose config also sets core.fsmonitor — and `run --dry-run`
// and `run --worktree --dry-run` go over it through the built CLI, rootful and rootless. They exit
// as they should (a plan, or the refusal of the redirect), the marker the planted commands would
// create never appears, and no file under the repo or the state dir changed: same listing, same
// size, mtime and ctime (a dry run runs no git, no container, and writes nothing).
import {appendFileSync, chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, utimesSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {makeRepo} from '../helpers/cli.js'
import {makeLaunchFixture, type LaunchFixture} from '../helpers/launch-fixture.js'
import {podmanTarget, requirePodman, type PodmanMode} from '../helpers/podman-env.js'

const podmanAvailable = requirePodman()

/** Every entry below `root` (not following symlinks): type, size, mtime, ctime, inode. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name)
      const s = lstatSync(p, {bigint: true})
      const kind = s.isSymbolicLink() ? 'l' : s.isDirectory() ? 'd' : s.isFile() ? 'f' : 'o'
      out[p.slice(root.length)] = `${kind} ${s.size} ${s.mtimeNs} ${s.ctimeNs} ${s.ino}`
      if (kind === 'd') walk(p)
    }
  }
  if (existsSync(root)) walk(root)
  return out
}

describe.each(['rootful', 'rootless'] as PodmanMode[])('adversarial: dry runs are pure (%s)', (mode) => {
  const target = podmanTarget(mode)

  describe.skipIf(!podmanAvailable || !target.runnable)(target.reason ? `skipped: ${target.reason}` : 'a dry run runs nothing it reads', () => {
    let fx: LaunchFixture
    /** <home>/dev/planted: fsmonitor in .git/config and hooks (no redirect): dry runs plan it. */
    let planted = ''
    /** <home>/dev/redirected: the same, plus .git/commondir → <home>/evil-common: refused. */
    let redirected = ''
    const profiles: Record<string, string> = {}
    const marker = () => join(fx.home, 'PWNED-dry-run')

    /**
     * What an earlier session could have left: code in config and hooks that host git would run —
     * including a clean filter on every file (no command-line override turns filters off: even a
     * hardened `git status` runs it for a file whose stat data changed, as README.md's has).
     */
    function plant(repo: string): void {
      const fire = `touch ${marker()}; false`
      appendFileSync(
        join(repo, '.git', 'config'),
        `[core]\n\tfsmonitor = "${fire}"\n\thooksPath = .git/hooks\n[diff]\n\texternal = "${fire}"\n[filter "evil"]\n\tclean = "touch ${marker()}; cat"\n\tsmudge = "touch ${marker()}; cat"\n`,
      )
      writeFileSync(join(repo, '.gitattributes'), '* filter=evil\n')
      fx.own(join(repo, '.gitattributes'))
      const later = new Date(Date.now() + 120_000)
      utimesSync(join(repo, 'README.md'), later, later)
      for (const hook of ['pre-commit', 'post-checkout', 'reference-transaction', 'fsmonitor-watchman']) {
        writeFileSync(join(repo, '.git', 'hooks', hook), `#!/bin/sh\n${fire}\n`)
        chmodSync(join(repo, '.git', 'hooks', hook), 0o755)
        fx.own(join(repo, '.git', 'hooks', hook))
      }
    }

    beforeAll(async () => {
      fx = await makeLaunchFixture(mode)
      planted = join(fx.home, 'dev', 'planted')
      redirected = join(fx.home, 'dev', 'redirected')
      for (const repo of [planted, redirected]) {
        makeRepo(repo, {owner: fx.user})
        mkdirSync(join(repo, '.git', 'hooks'), {recursive: true})
        plant(repo)
      }
      const evil = join(fx.home, 'evil-common')
      mkdirSync(join(evil, 'refs', 'heads'), {recursive: true})
      mkdirSync(join(evil, 'objects'), {recursive: true})
      writeFileSync(join(evil, 'config'), `[core]\n\trepositoryformatversion = 0\n\tfsmonitor = "touch ${marker()}; false"\n`)
      writeFileSync(join(evil, 'HEAD'), 'ref: refs/heads/main\n')
      writeFileSync(join(redirected, '.git', 'commondir'), `${evil}\n`)
      for (const repo of [planted, redirected]) {
        profiles[repo] = fx.profileVariant(`dry-run-${repo === planted ? 'planted' : 'redirected'}`, (doc) => {
          doc.spec.mounts = [{source: repo, target: '/workspace/repo', mode: 'rw'}]
        })
      }
    })
    afterAll(async () => {
      if (!fx) return
      expect(await fx.cleanup(), 'containers left behind (now removed)').toEqual([])
    })

    const dryRun = (repo: string, extra: string[]) =>
      fx.cli(['agent-machine', 'run', '--tool', 'codex', '--profile-file', profiles[repo]!, '--repo', repo, '--run-id', fx.runId('dry'), '--dry-run', '--json', ...extra])

    it.each([
      ['run --dry-run', [] as string[]],
      ['run --worktree --dry-run', ['--worktree']],
    ])('%s over a repo with core.fsmonitor, diff.external, a clean filter and hooks planted: a plan; nothing ran, nothing changed', async (_what, extra) => {
      const before = {repo: snapshot(planted), state: snapshot(fx.stateDir)}
      const r = await dryRun(planted, extra)
      expect(r.exitCode, r.stderr + r.stdout).toBe(0)
      const result = JSON.parse(r.stdout) as {dryRun: boolean; plan: {steps: Array<{argv: string[]}>}; warnings: string[]}
      expect(result.dryRun).toBe(true)
      if (extra.includes('--worktree')) {
        // the plan names the host git a real run would execute, and says dirtiness is not known
        expect(result.plan.steps.filter((s) => s.argv[0] === 'git').length).toBeGreaterThanOrEqual(3)
        expect(result.warnings.join('\n')).toMatch(/dry run: whether .* has uncommitted changes is not known/)
      }
      expect(existsSync(marker()), 'a planted command ran on the host').toBe(false)
      expect(snapshot(planted)).toEqual(before.repo)
      expect(snapshot(fx.stateDir)).toEqual(before.state)
    })

    it.each([
      ['run --dry-run', [] as string[]],
      ['run --worktree --dry-run', ['--worktree']],
    ])('%s over a repo whose .git/commondir redirects to a config with core.fsmonitor: refused (exit 3); nothing ran, nothing changed', async (_what, extra) => {
      const before = {repo: snapshot(redirected), state: snapshot(fx.stateDir), evil: snapshot(join(fx.home, 'evil-common'))}
      const r = await dryRun(redirected, extra)
      expect(r.exitCode, r.stderr).toBe(3)
      expect((JSON.parse(r.stdout || r.stderr) as {error: {message: string}}).error.message).toMatch(/commondir/)
      expect(existsSync(marker()), 'a planted command ran on the host').toBe(false)
      expect(snapshot(redirected)).toEqual(before.repo)
      expect(snapshot(join(fx.home, 'evil-common'))).toEqual(before.evil)
      expect(snapshot(fx.stateDir)).toEqual(before.state)
    })
  })
})
