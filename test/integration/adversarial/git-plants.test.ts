// Adversarial: the agent plants things the HOST's git would run (docs/threat-model.md, "Plants",
// "Git pointers", "Every repository in a read-write mount"). Each test performs the attack from
// inside the governed container (real podman, rootful and rootless, a test image with real git),
// through the built CLI, then runs the host's own git as the repo's owner — the way the user
// would — and asserts that nothing fired, that the plant was refused or quarantined with exit 6,
// and that the repo still works.
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {makeRepo} from '../helpers/cli.js'
import {ensureGitImage} from '../helpers/git-image.js'
import {makeLaunchFixture, type LaunchFixture} from '../helpers/launch-fixture.js'
import {podmanTarget, requirePodman, type PodmanMode} from '../helpers/podman-env.js'
import {runAs} from '../helpers/proc.js'

const podmanAvailable = requirePodman()

interface Integrity {
  findings: Array<{path: string; change: string; action: string; quarantinedAt: string | null}>
  newWriteProtected: string[]
  quarantineDir: string | null
}

describe.each(['rootful', 'rootless'] as PodmanMode[])('adversarial: git plants (%s)', (mode) => {
  const target = podmanTarget(mode)

  // Sequential: the tests share the fixture's repo, and each session's check must see only its own plants.
  describe.skipIf(!podmanAvailable || !target.runnable)(target.reason ? `skipped: ${target.reason}` : 'the host runs nothing the agent wrote', () => {
    let fx: LaunchFixture
    let profile = ''
    let parentProfile = ''
    let parent = ''
    /** A repo outside every mount. */
    let otherRepo = ''
    let pinGitImage: (doc: {spec: {image: {ref: string; digest: string | null}}}) => void = () => {}

    beforeAll(async () => {
      const [f, image] = await Promise.all([makeLaunchFixture(mode), ensureGitImage(mode)])
      fx = f
      parent = join(fx.home, 'dev', 'parent')
      for (const name of ['a', 'b']) makeRepo(join(parent, name), {owner: fx.user})
      mkdirSync(join(parent, 'c'))
      otherRepo = join(fx.home, 'elsewhere', 'other-repo')
      makeRepo(otherRepo, {owner: fx.user})
      fx.own(join(parent, 'c'))
      fx.own(parent)
      const pin = (pinGitImage = (doc: {spec: {image: {ref: string; digest: string | null}}}) => {
        doc.spec.image.ref = image.ref
        doc.spec.image.digest = `sha256:${image.id}`
      })
      profile = fx.profileVariant('git-plants', pin)
      parentProfile = fx.profileVariant('git-parent', (doc) => {
        pin(doc)
        doc.spec.mounts = [{source: parent, target: '/workspace/parent', mode: 'rw'}]
      })
    })
    afterAll(async () => {
      if (!fx) return
      expect(await fx.cleanup(), 'containers left behind (now removed)').toEqual([])
    })

    /** `shell` in the git image with `script` on stdin. */
    const shell = (repo: string, script: string, prof = profile) =>
      fx.cli(['agent-machine', 'shell', '--profile-file', prof, '--repo', repo, '--run-id', fx.runId('plant'), '--json'], {input: `${script}\nexit 0\n`, timeoutMs: 90_000})

    /** The host's own git, as the repo's owner, with a clean global config (the user's `git status`). */
    const hostGit = (dir: string, ...args: string[]) =>
      runAs('git', ['-C', dir, ...args], {asUser: fx.user, cleanEnv: true, env: {HOME: fx.home, PATH: '/usr/bin:/bin', GIT_CONFIG_NOSYSTEM: '1'}, timeoutMs: 30_000})

    const integrityOf = (stdout: string): Integrity => (JSON.parse(stdout) as {integrity: Integrity}).integrity

    /** Host git's everyday commands in `dir`: all succeed, and `marker` never appears. */
    async function userGitRunsNothing(dir: string, marker: string): Promise<void> {
      for (const args of [['status'], ['diff'], ['log', '-1', '--oneline']]) {
        const r = await hostGit(dir, ...args)
        expect(r.exitCode, `git ${args.join(' ')} in ${dir}: ${r.stderr}`).toBe(0)
      }
      expect(existsSync(marker), `${marker}: a planted command ran on the host`).toBe(false)
    }

    it('defect 1: .git/commondir → an agent-made dir whose config sets core.fsmonitor: quarantined, exit 6, nothing runs', async () => {
      const marker = join(fx.home, 'PWNED-commondir')
      const r = await shell(fx.repo, [
        'cd /workspace/repo && mkdir -p .evil/objects .evil/refs',
        `printf '[core]\\n\\trepositoryformatversion = 0\\n\\tfsmonitor = "touch ${marker}; false"\\n' > .evil/config`,
        'echo ../.evil > .git/commondir',
      ].join('\n'))
      expect(r.exitCode, r.stderr).toBe(6)
      expect(r.stderr).toMatch(/commondir: new: .*moved to /)
      const integrity = integrityOf(r.stdout)
      expect(integrity.findings.filter((f) => f.action !== 'report').map((f) => f.path)).toEqual([join(fx.repo, '.git', 'commondir')])
      expect(existsSync(join(fx.repo, '.git', 'commondir'))).toBe(false)
      expect(readFileSync(integrity.findings[0]!.quarantinedAt!, 'utf8')).toBe('../.evil\n')
      // the evidence record has the same report
      const evidence = JSON.parse(readFileSync((JSON.parse(r.stdout) as {evidence: string}).evidence, 'utf8')) as {predicate: {integrity: Integrity}}
      // (home-relative in the record: spec.evidence.paths default)
      expect(evidence.predicate.integrity.findings.map((f) => f.path)).toEqual(integrity.findings.map((f) => f.path.split(fx.home).join('~')))
      await userGitRunsNothing(fx.repo, marker)
      // and the next launch is clean and runs nothing
      const next = await shell(fx.repo, 'true')
      expect(next.exitCode, next.stderr).toBe(0)
      expect(existsSync(marker)).toBe(false)
    })

    it('defect 2: a nested repo with core.fsmonitor, registered as a gitlink: the nested .git is quarantined, exit 6', async () => {
      const marker = join(fx.home, 'PWNED-nested')
      const r = await shell(fx.repo, [
        'cd /workspace/repo && mkdir nested && cd nested && git init -q && echo x > f && git add f',
        'git -c user.name=a -c user.email=a@a commit -qm x',
        `git config core.fsmonitor "touch ${marker}; false"`,
        'cd .. && git update-index --add --cacheinfo 160000,$(git -C nested rev-parse HEAD),nested',
      ].join('\n'))
      expect(r.exitCode, r.stderr).toBe(6)
      expect(integrityOf(r.stdout).findings.filter((f) => f.action === 'quarantine').map((f) => f.path)).toEqual([join(fx.repo, 'nested', '.git')])
      await userGitRunsNothing(fx.repo, marker)
      await userGitRunsNothing(join(fx.repo, 'nested'), marker)
    })

    it('a plain `git init` made in the session is left alone (exit 0); an interrupted-rebase todo is quarantined', async () => {
      const ok = await shell(fx.repo, 'cd /workspace/repo && mkdir -p fresh && cd fresh && git init -q && git remote add origin https://example.invalid/x.git')
      expect(ok.exitCode, ok.stderr).toBe(0)
      expect(existsSync(join(fx.repo, 'fresh', '.git', 'config'))).toBe(true)

      const marker = join(fx.home, 'PWNED-rebase')
      const r = await shell(fx.repo, `cd /workspace/repo && mkdir -p .git/rebase-merge && echo 'exec touch ${marker}' > .git/rebase-merge/git-rebase-todo`)
      expect(r.exitCode, r.stderr).toBe(6)
      expect(existsSync(join(fx.repo, '.git', 'rebase-merge'))).toBe(false)
      await userGitRunsNothing(fx.repo, marker)
    })

    it('defect 3: every repo under an allowlisted parent has read-only hooks and config', async () => {
      const b = join(parent, 'b')
      const configBefore = readFileSync(join(b, '.git', 'config'), 'utf8')
      const r = await shell(join(parent, 'a'), [
        'cd /workspace/parent/b',
        "printf '#!/bin/sh\\ntouch /tmp/x\\n' > .git/hooks/pre-commit; printf '\\nhook=%s\\n' $?",
        "printf '[core]\\n\\tfsmonitor = x\\n' >> .git/config; printf '\\nconfig=%s\\n' $?",
      ].join('\n'), parentProfile)
      expect(r.exitCode, r.stderr).toBe(0)
      expect(r.stderr).toMatch(/^hook=[1-9]/m)
      expect(r.stderr).toMatch(/^config=[1-9]/m)
      expect(existsSync(join(b, '.git', 'hooks', 'pre-commit'))).toBe(false)
      expect(readFileSync(join(b, '.git', 'config'), 'utf8')).toBe(configBefore)
    })

    it('defect 4: a .git pointer written into an allowlisted folder is quarantined; one left behind is refused at the next launch, and its target never mounted', async () => {
      const c = join(parent, 'c')
      const pointer = `gitdir: ${join(otherRepo, '.git')}\n`
      const r = await shell(join(parent, 'a'), `printf '${pointer.replace('\n', '\\n')}' > /workspace/parent/c/.git`, parentProfile)
      expect(r.exitCode, r.stderr).toBe(6)
      expect(existsSync(join(c, '.git'))).toBe(false)

      // As if a killed CLI had left it: the next launch refuses rather than mounting ~/dev/other/.git.
      writeFileSync(join(c, '.git'), pointer)
      fx.own(join(c, '.git'))
      const next = await fx.cli(['agent-machine', 'shell', '--profile-file', parentProfile, '--repo', join(parent, 'a'), '--run-id', fx.runId('ptr'), '--dry-run', '--json'])
      expect(next.exitCode, next.stderr).toBe(3)
      expect(JSON.parse(next.stdout).error.code).toBe('GIT_POINTER_UNCONFIRMED')
      expect(next.stdout).not.toContain(`"source":"${join(otherRepo, '.git')}`)
    })

    it('core.hooksPath inside the work tree: a hook the agent adds there is quarantined', async () => {
      const repo = join(fx.home, 'dev', 'hookspath')
      makeRepo(repo)
      mkdirSync(join(repo, '.githooks'))
      const cfg = await runAs('git', ['-C', repo, 'config', 'core.hooksPath', '.githooks'], {})
      expect(cfg.exitCode).toBe(0)
      if (fx.user) await runAs('chown', ['-R', `${fx.uid}:${fx.gid}`, repo], {})
      const prof = fx.profileVariant('hookspath', (doc) => {
        pinGitImage(doc)
        doc.spec.mounts = [{source: repo, target: '/workspace/hp', mode: 'rw'}]
      })
      const marker = join(fx.home, 'PWNED-hookspath')
      const r = await shell(repo, `printf '#!/bin/sh\\ntouch ${marker}\\n' > /workspace/hp/.githooks/pre-commit && chmod +x /workspace/hp/.githooks/pre-commit`, prof)
      expect(r.exitCode, r.stderr).toBe(6)
      expect(existsSync(join(repo, '.githooks', 'pre-commit'))).toBe(false)
      const commit = await hostGit(repo, '-c', 'user.name=u', '-c', 'user.email=u@u', 'commit', '--allow-empty', '-qm', 'user commit')
      expect(commit.exitCode, commit.stderr).toBe(0)
      expect(existsSync(marker)).toBe(false)
    })

    it('a FIFO and a symlink into the host’s ~/.ssh left in the repo are moved away (a host tool would block on one, follow the other)', async () => {
      const r = await shell(fx.repo, `cd /workspace/repo && mkfifo .git/evil.pipe && ln -s ${join(fx.home, '.ssh', 'id_ed25519')} notes.txt`)
      expect(r.exitCode, r.stderr).toBe(6)
      expect(existsSync(join(fx.repo, '.git', 'evil.pipe'))).toBe(false)
      expect(existsSync(join(fx.repo, 'notes.txt'))).toBe(false)
      expect(r.stdout + r.stderr).not.toContain(fx.secrets.ssh)
      // and the next launch is not refused for them
      const next = await shell(fx.repo, 'true')
      expect(next.exitCode, next.stderr).toBe(0)
    })

    it('a new .envrc (a file the user’s tools run) is named after the session, exit unchanged', async () => {
      const r = await shell(fx.repo, 'echo "export X=1" > /workspace/repo/.envrc')
      expect(r.exitCode, r.stderr).toBe(0)
      expect(integrityOf(r.stdout).newWriteProtected).toContain(join(fx.repo, '.envrc'))
      expect(r.stderr).toMatch(/\.envrc: new during the session/)
    })
  })
})
