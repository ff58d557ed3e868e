// Git worktrees against real git and real podman, rootful and rootless (issues 6 and 10): a repo that
// is a linked worktree works in the container (status, diff, commit) with the common git dir mounted
// where git expects it; `--worktree` gives the agent its own clone on a new branch (the user's
// objects read-only, none of the user's refs), a commit made inside is on that branch in the user's
// repo afterwards, and the user's checkout is not touched; hooks and config stay read-only; bad input
// creates nothing. The image is the busybox test image plus the host's git (git-image.ts).
import {createHash} from 'node:crypto'
import {existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {makeRepo} from './helpers/cli.js'
import {ensureGitImage} from './helpers/git-image.js'
import {makeLaunchFixture, type LaunchFixture} from './helpers/launch-fixture.js'
import {podmanTarget, requirePodman, type PodmanMode} from './helpers/podman-env.js'
import {runAs} from './helpers/proc.js'

const podmanAvailable = requirePodman()
const IDENTITY = ['-c', 'user.name=agent', '-c', 'user.email=agent@example.invalid']

interface Setup {
  fx: LaunchFixture
  /** <home>/dev/repo-wt: a linked worktree of fx.repo (branch wt-existing); the only mount of `wtProfile`. */
  linked: string
  /** <home>/dev/repo2: a normal repo with an untracked file (a dirty base). */
  repo2: string
  /** The git image, fx.repo rw, repo2 rw, docs ro. */
  gitProfile: string
  /** The git image and only the linked worktree, rw at /workspace/wt. */
  wtProfile: string
}

describe.each(['rootful', 'rootless'] as PodmanMode[])('git worktrees (%s)', (mode) => {
  const target = podmanTarget(mode)

  describe.skipIf(!podmanAvailable || !target.runnable).concurrent(target.reason ? `skipped: ${target.reason}` : 'in the governed container', () => {
    let s: Setup

    /** git on the host: as the fixture's user when it changes anything, so the files stay theirs. */
    const git = async (args: string[], opts: {mutate?: boolean} = {}): Promise<string> => {
      const result = await runAs('git', ['-c', 'safe.directory=*', ...IDENTITY, ...args], {
        asUser: opts.mutate ? s.fx.user : undefined,
        env: {GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null'},
      })
      if (result.exitCode !== 0) throw new Error(`git ${args.join(' ')} exited ${result.exitCode}: ${result.stderr}`)
      return result.stdout.trim()
    }
    const gitFails = async (args: string[]): Promise<boolean> =>
      (await runAs('git', ['-c', 'safe.directory=*', ...args], {env: {GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null'}})).exitCode !== 0

    /** Everything that says "the user's checkout was touched": HEAD, index bytes, status, a file, the branch list. */
    const checkoutState = async (repo: string) => ({
      head: await git(['-C', repo, 'rev-parse', 'HEAD']),
      index: createHash('sha256').update(readFileSync(join(repo, '.git', 'index'))).digest('hex'),
      status: await git(['--no-optional-locks', '-C', repo, 'status', '--porcelain']),
      readme: readFileSync(join(repo, 'README.md'), 'utf8'),
      symbolic: await git(['-C', repo, 'symbolic-ref', 'HEAD']),
    })

    beforeAll(async () => {
      const started = performance.now()
      const [fx, image] = await Promise.all([makeLaunchFixture(mode), ensureGitImage(mode)])
      s = {fx, linked: join(fx.home, 'dev', 'repo-wt'), repo2: join(fx.home, 'dev', 'repo2'), gitProfile: '', wtProfile: ''}
      await git(['-C', fx.repo, 'worktree', 'add', '--quiet', '-b', 'wt-existing', s.linked], {mutate: true})
      makeRepo(s.repo2, {owner: fx.user})
      writeFileSync(join(s.repo2, 'scratch.txt'), 'not committed\n')
      fx.own(join(s.repo2, 'scratch.txt'))
      const pin = (doc: {spec: {image: {ref: string; digest: string | null}}}) => {
        doc.spec.image.ref = image.ref
        doc.spec.image.digest = `sha256:${image.id}`
      }
      s.gitProfile = fx.profileVariant('git', (doc) => {
        pin(doc)
        doc.spec.mounts.push({source: s.repo2, target: '/workspace/repo2', mode: 'rw'})
      })
      s.wtProfile = fx.profileVariant('git-linked', (doc) => {
        pin(doc)
        doc.spec.mounts = [{source: s.linked, target: '/workspace/wt', mode: 'rw'}]
      })
      console.error(`[worktree] ${mode} setup in ${Math.round(performance.now() - started)} ms`)
    })
    afterAll(async () => {
      if (!s?.fx) return
      expect(await s.fx.cleanup(), 'containers left behind (now removed)').toEqual([])
    })

    /** `shell` with the git image: `script` on stdin; returns the CLI result. */
    const shell = (args: string[], script: string, profile = s.gitProfile) =>
      s.fx.cli(['agent-machine', 'shell', '--profile-file', profile, '--run-id', s.fx.runId('wt'), ...args], {input: `${script}\nexit 0\n`, timeoutMs: 90_000})

    /**
     * `name=<exit code>` lines of a script's output. The scripts print each with one printf that
     * starts a fresh line: podman copies stdout and stderr separately, so an error message written
     * in pieces can otherwise end up glued to the marker.
     */
    const codes = (out: string): Record<string, number> =>
      Object.fromEntries([...out.matchAll(/^([a-z-]+)=(\d+)$/gm)].map((m) => [m[1]!, Number(m[2])]))

    it('a repo that is a linked worktree: status, diff and commit work; hooks, config and pointers are read-only', async () => {
      const common = join(s.fx.repo, '.git')
      const gitDir = join(common, 'worktrees', 'repo-wt')
      const configBefore = readFileSync(join(common, 'config'), 'utf8')
      const result = await shell(['--repo', s.linked, '--json'], [
        'echo change >> README.md',
        'git status --porcelain; printf "\\nstatus=%s\\n" $?',
        'git diff --stat; printf "\\ndiff=%s\\n" $?',
        `git ${IDENTITY.join(' ')} commit -q -a -m 'commit in a linked worktree'; printf "\\ncommit=%s\\n" $?`,
        `echo x > ${common}/hooks/pre-commit; printf "\\nhook=%s\\n" $?`,
        `echo x >> ${common}/config; printf "\\nconfig=%s\\n" $?`,
        `echo x > ${gitDir}/commondir; printf "\\ncommondir=%s\\n" $?`,
        `echo 'gitdir: /tmp/elsewhere' > .git; printf "\\npointer=%s\\n" $?`,
      ].join('\n'), s.wtProfile)
      expect(result.exitCode, result.stderr).toBe(0)
      // under --json the shell's stdout goes to stderr
      const out = result.stderr
      expect(out).toContain(' M README.md')
      expect(out).toMatch(/README\.md \| 1 \+/)
      expect(codes(out)).toEqual({status: 0, diff: 0, commit: 0, hook: 1, config: 1, commondir: 1, pointer: 1})
      expect(out).toMatch(/Read-only file system/)

      expect(await git(['-C', s.linked, 'log', '-1', '--format=%s', 'wt-existing'])).toBe('commit in a linked worktree')
      expect(existsSync(join(common, 'hooks', 'pre-commit'))).toBe(false)
      expect(readFileSync(join(common, 'config'), 'utf8')).toBe(configBefore)
      expect(readFileSync(join(s.linked, '.git'), 'utf8')).toBe(`gitdir: ${gitDir}\n`)

      // the common dir at the path git expects, read-only; only what a commit writes is read-write
      const json = JSON.parse(result.stdout) as {mounts: Array<{source: string; target: string; mode: string}>}
      const modes = Object.fromEntries(json.mounts.map((m) => [m.target, `${m.mode}${m.source === m.target ? '' : ` from ${m.source}`}`]))
      expect(modes).toEqual({
        '/workspace/wt': `rw from ${s.linked}`,
        '/workspace/wt/.git': `ro from ${s.linked}/.git`,
        [common]: 'ro',
        [gitDir]: 'rw',
        [`${gitDir}/commondir`]: 'ro',
        [`${gitDir}/gitdir`]: 'ro',
        [`${common}/objects`]: 'rw',
        [`${common}/refs`]: 'rw',
        [`${common}/logs`]: 'rw',
      })
    })

    it('a normal repo: git commit works, .git/hooks and .git/config are read-only, .git cannot be swapped', async () => {
      const configBefore = readFileSync(join(s.repo2, '.git', 'config'), 'utf8')
      const result = await shell(['--repo', s.repo2], [
        `git ${IDENTITY.join(' ')} commit -q --allow-empty -m 'commit in a normal repo'; printf "\\ncommit=%s\\n" $?`,
        'echo x > .git/hooks/pre-commit; printf "\\nhook=%s\\n" $?',
        'git config core.hooksPath /tmp; printf "\\nconfig=%s\\n" $?',
        'mv .git .git-away; printf "\\nswap=%s\\n" $?',
      ].join('\n'))
      expect(result.exitCode, result.stderr).toBe(0)
      expect(codes(result.stdout)).toEqual({commit: 0, hook: 1, config: expect.any(Number), swap: 1})
      expect(codes(result.stdout).config).not.toBe(0)
      expect(await git(['-C', s.repo2, 'log', '-1', '--format=%s'])).toBe('commit in a normal repo')
      expect(existsSync(join(s.repo2, '.git', 'hooks', 'pre-commit'))).toBe(false)
      expect(readFileSync(join(s.repo2, '.git', 'config'), 'utf8')).toBe(configBefore)
    })

    it('--worktree: the agent’s own clone on a new branch; the commit made inside is on that branch in the user’s repo afterwards; nothing else of the repo changes', async () => {
      const before = await checkoutState(s.fx.repo)
      // (the linked-worktree test, running concurrently, commits on wt-existing: that ref is not compared)
      const refs = async () => (await git(['-C', s.fx.repo, 'for-each-ref', '--format=%(refname) %(objectname)'])).split('\n').filter((l) => !l.startsWith('refs/heads/wt-existing '))
      const refsBefore = await refs()
      const branch = `agent/it-${mode}`
      const objects = join(s.fx.repo, '.git', 'objects')
      const result = await shell(['--repo', s.fx.repo, '--worktree', '--branch', branch], [
        'git status --porcelain --branch; printf "\\nstatus=%s\\n" $?',
        'echo "made by the agent" > agent.txt',
        'git add agent.txt',
        `git ${IDENTITY.join(' ')} commit -q -m 'agent commit'; printf "\\ncommit=%s\\n" $?`,
        'git log --oneline -2 | wc -l | sed "s/^ */log-lines: /"',
        'echo x > .git/hooks/pre-commit; printf "\\nhook=%s\\n" $?',
        'echo x >> .git/config; printf "\\nconfig=%s\\n" $?',
        'echo /tmp > .git/objects/info/alternates; printf "\\nalternates=%s\\n" $?',
        `touch ${objects}/planted; printf "\\nuser-objects=%s\\n" $?`,
        `ls ${s.fx.repo}/.git/refs >/dev/null 2>&1; printf "\\nuser-refs=%s\\n" $?`,
        'pwd',
      ].join('\n'))
      expect(result.exitCode, result.stderr).toBe(0)
      expect(result.stdout).toContain(`## ${branch}`)
      expect(result.stdout).toContain('log-lines: 2')
      // the clone's hooks, config and alternates are read-only; the user's objects read-only; the user's refs not there at all
      expect(codes(result.stdout)).toEqual({status: 0, commit: 0, hook: 1, config: 1, alternates: 1, 'user-objects': 1, 'user-refs': 1})
      expect(result.stdout).toContain('/workspace/repo\n') // mounted in place of the checkout

      // the commit is on the branch, seen from the user's repo; the branch starts at the old HEAD
      expect(await git(['-C', s.fx.repo, 'log', '-1', '--format=%s', branch])).toBe('agent commit')
      expect(await git(['-C', s.fx.repo, 'rev-parse', `${branch}~1`])).toBe(before.head)
      expect(await git(['-C', s.fx.repo, 'show', `${branch}:agent.txt`])).toBe('made by the agent')
      // the user's checkout: same HEAD, same index bytes, same status, same files; only the one new ref
      expect(await checkoutState(s.fx.repo)).toEqual(before)
      expect(existsSync(join(s.fx.repo, 'agent.txt'))).toBe(false)
      const tip = await git(['-C', s.fx.repo, 'rev-parse', branch])
      expect(await refs()).toEqual([...refsBefore, `refs/heads/${branch} ${tip}`].sort())
      expect(existsSync(join(objects, 'planted'))).toBe(false)

      // the clone is left under the state dir, and the CLI says how to review, merge or remove it
      const worktrees = join(s.fx.stateDir, 'worktrees')
      const made = readdirSync(worktrees).filter((n) => existsSync(join(worktrees, n, 'agent.txt')))
      expect(made).toHaveLength(1)
      const path = join(worktrees, made[0]!)
      expect(readFileSync(join(path, '.git', 'objects', 'info', 'alternates'), 'utf8')).toBe(`${objects}\n`)
      expect(existsSync(`${path}.bring-back.git`)).toBe(false)
      expect(result.stderr).toContain(`the branch ${branch} (from ${before.head.slice(0, 12)}, now at ${tip.slice(0, 12)}) is in ${s.fx.repo}; the agent's clone ${path} is left for review`)
      expect(result.stderr).toContain(`git -C ${s.fx.repo} diff ${before.head}...${branch}`)
      expect(result.stderr).toContain(`git -C ${s.fx.repo} merge ${branch}`)
      expect(result.stderr).toContain(`rm -rf ${path} && git -C ${s.fx.repo} branch -D ${branch}`)

      // evidence: base commit, branch, clone path; the clone's git mounts and the user's objects (read-only) in the mount list
      const evidence = /sourceosctl: evidence (\S+)/.exec(result.stderr)?.[1]
      expect(evidence, result.stderr).toBeTruthy()
      const record = JSON.parse(readFileSync(evidence!, 'utf8')) as {
        predicate: {worktree: Record<string, string>; mounts: Array<{source: string; target: string; mode: string}>; git: Array<{target: string; ref: string | null}>}
      }
      // Host paths are written home-relative (profile spec.evidence.paths, the default).
      const rel = (p: string) => p.split(s.fx.home).join('~')
      expect(record.predicate.worktree).toEqual({
        repo: rel(s.fx.repo), path: rel(path), target: '/workspace/repo', branch, baseCommit: before.head, commonDir: rel(join(s.fx.repo, '.git')),
      })
      const mounts = record.predicate.mounts.filter((m) => m.target === '/workspace/repo' || m.target.startsWith('/workspace/repo/') || m.source.startsWith(`${rel(s.fx.repo)}/`)).map((m) => `${m.target}:${m.mode}`)
      expect(mounts.sort()).toEqual(['/workspace/repo/.git/config:ro', '/workspace/repo/.git/hooks:ro', '/workspace/repo/.git/objects/info/alternates:ro', '/workspace/repo/.git:rw', '/workspace/repo:rw', `${rel(objects)}:ro`].sort())
      expect(record.predicate.mounts.find((m) => m.target === '/workspace/repo')?.source).toBe(rel(path))
      expect(record.predicate.git.find((g) => g.target === '/workspace/repo')?.ref).toBe(branch)
      const inspected = await s.fx.cli(['agent-machine', 'evidence', 'inspect', evidence!])
      expect(inspected.exitCode, inspected.stdout + inspected.stderr).toBe(0)
    })

    it('--dry-run prints the git commands and creates nothing; the default branch is agent/<tool>-<UTC time>', async () => {
      const head = await git(['-C', s.fx.repo, 'rev-parse', 'HEAD'])
      const runId = s.fx.runId('dry')
      const result = await s.fx.cli(['agent-machine', 'run', '--tool', 'codex', '--repo', s.fx.repo, '--worktree', '--dry-run', '--json', '--run-id', runId, '--profile-file', s.gitProfile])
      expect(result.exitCode, result.stderr).toBe(0)
      const plan = (JSON.parse(result.stdout) as {plan: {steps: Array<{argv: string[]; mutates: boolean; why: string}>}}).plan
      // (the evidence's read-only git steps come last, and are not the worktree's)
      const git_ = plan.steps.filter((st) => st.argv[0] === 'git' && !st.why.startsWith('evidence:')).map((st) => st.argv.slice(st.argv.indexOf('-C') + 2))
      const path = join(s.fx.stateDir, 'worktrees', `repo-${runId}`)
      expect(git_[1]).toEqual(['clone', '--quiet', '--shared', '--no-checkout', '--template=', '--', s.fx.repo, path])
      const checkout = git_[2]!
      expect(checkout.slice(0, 4)).toEqual(['checkout', '--quiet', '--no-track', '-b'])
      expect(checkout[4]).toMatch(/^agent\/codex-\d{8}-\d{6}$/)
      expect(checkout[5]).toBe(head)
      expect(git_.map((a) => a.find((x) => !x.startsWith('-') && !x.includes('=')))).toEqual(['status', 'clone', 'checkout', 'fetch', 'for-each-ref', 'update-ref'])
      expect(existsSync(path)).toBe(false)
      expect(await gitFails(['-C', s.fx.repo, 'rev-parse', '--verify', '--quiet', `refs/heads/${checkout[4]}`])).toBe(true)
    })

    // The refusals happen before podman is asked anything, the same in both modes: rootful only, for time.
    describe.runIf(mode === 'rootful')('bad input: a clear error, nothing created', () => {
      /** A real (not dry) run that must fail: no container, no worktree folder, no worktree entry. */
      async function attempt(args: string[], repo: string) {
        const runId = s.fx.runId('bad')
        const started = Date.now()
        const result = await s.fx.cli(['agent-machine', 'shell', '--profile-file', s.gitProfile, '--run-id', runId, '--repo', repo, '--worktree', ...args])
        expect(await s.fx.createdSince(runId, started)).toEqual([])
        for (const name of [`repo-${runId}`, `repo2-${runId}`, `docs-${runId}`]) expect(existsSync(join(s.fx.stateDir, 'worktrees', name))).toBe(false)
        for (const name of [`repo-${runId}.bring-back.git`, `repo2-${runId}.bring-back.git`]) expect(existsSync(join(s.fx.stateDir, 'worktrees', name))).toBe(false)
        return result
      }

      it('a folder that is not a git repo → 2', async () => {
        const result = await attempt([], s.fx.docs)
        expect(result.exitCode, result.stderr).toBe(2)
        expect(result.stderr).toMatch(/--worktree needs a git repository, and .*docs is not inside one/)
      })

      it('a dirty base with --clean-base → 3', async () => {
        const result = await attempt(['--clean-base', '--branch', 'agent/never'], s.repo2)
        expect(result.exitCode, result.stderr).toBe(3)
        expect(result.stderr).toMatch(/repo2 has uncommitted changes, and --clean-base asked for a clean base/)
        expect(await gitFails(['-C', s.repo2, 'rev-parse', '--verify', '--quiet', 'refs/heads/agent/never'])).toBe(true)
      })

      it.each([
        ['a name git rejects', 'bad..name', /not a valid branch name/],
        ['an existing branch', 'main', /branch main already exists/],
      ])('%s → 2', async (_what, branch, message) => {
        const head = await git(['-C', s.fx.repo, 'rev-parse', 'refs/heads/main'])
        const result = await attempt(['--branch', branch], s.fx.repo)
        expect(result.exitCode, result.stderr).toBe(2)
        expect(result.stderr).toMatch(message)
        expect(await git(['-C', s.fx.repo, 'rev-parse', 'refs/heads/main'])).toBe(head)
      })

      it('a clone path that already exists → 2', async () => {
        const runId = s.fx.runId('taken')
        const taken = join(s.fx.stateDir, 'worktrees', `repo-${runId}`)
        mkdirSync(taken, {recursive: true})
        writeFileSync(join(taken, 'keep.txt'), 'mine\n')
        for (const p of [join(s.fx.stateDir, 'worktrees'), taken, join(taken, 'keep.txt')]) s.fx.own(p)
        const result = await s.fx.cli(['agent-machine', 'shell', '--profile-file', s.gitProfile, '--run-id', runId, '--repo', s.fx.repo, '--worktree', '--branch', 'agent/taken'])
        expect(result.exitCode, result.stderr).toBe(2)
        expect(result.stderr).toContain(`${taken} already exists`)
        expect(readdirSync(taken)).toEqual(['keep.txt'])
        expect(await gitFails(['-C', s.fx.repo, 'rev-parse', '--verify', '--quiet', 'refs/heads/agent/taken'])).toBe(true)
      })
    })
  })
})
