import {mkdirSync, readFileSync, realpathSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import RepoAdd from '../../src/commands/agent-machine/repo/add.js'
import RepoLs from '../../src/commands/agent-machine/repo/ls.js'
import RepoRm from '../../src/commands/agent-machine/repo/rm.js'
import {parseProfile} from '../../src/core/profile/loader.js'
import {fakeRunner} from '../helpers/fake-runner.js'
import {fakeHostFacts} from '../helpers/host-facts.js'
import {runCommand} from '../helpers/run-command.js'
import {tempDir} from '../helpers/temp-dirs.js'

function setup() {
  const home = realpathSync(tempDir('repo-home-'))
  const [a, b, c] = ['alpha', 'beta', 'gamma'].map((n) => join(home, 'dev', n))
  for (const d of [a!, b!, c!]) mkdirSync(d, {recursive: true})
  mkdirSync(join(home, '.ssh'))
  const profile = join(home, 'profile.yaml')
  writeFileSync(profile, `# my profile: keep this comment
apiVersion: sourceos.dev/v1alpha1
kind: AgentMachineProfile
metadata: {name: mine}
spec:
  platform: linux
  image: {ref: localhost/sourceos/agent:latest, digest: null, pull: never}
  mounts:
    # the main repo
    - {source: ${a}, target: /workspace/alpha, mode: rw}
    - {source: ${b}, target: /workspace/beta, mode: ro} # docs, read-only
  tools:
    codex: {enabled: true, command: [codex]}
  env: {passthrough: [TERM], set: {}}
  network: {mode: none}
  resources: {cpus: 2, memory: 4g, pidsLimit: 1024}
  secrets: {door: none}
`, {mode: 0o600})
  const facts = fakeHostFacts('linux', {homeDir: home, uid: 1000, env: {HOME: home, SOURCEOSCTL_PROFILE: profile}})
  const ctx = {runner: fakeRunner([]), hostFacts: async () => facts}
  return {home, a: a!, b: b!, c: c!, profile, ctx}
}

describe('repo: allowlist management', () => {
  it('repo rm takes one repo off, keeps the other mounts and every comment, writes 0600 atomically', async () => {
    const {a, b, profile, ctx} = setup()
    const out = await runCommand(RepoRm, [a], ctx)
    expect(out.exitCode, out.stderr).toBe(0)
    expect(out.stdout).toContain(`Removed ${a} → /workspace/alpha`)
    const text = readFileSync(profile, 'utf8')
    expect(text).toContain('# my profile: keep this comment')
    expect(text).toContain('# docs, read-only')
    expect(text).not.toContain(a)
    expect(parseProfile(text, profile).spec.mounts).toEqual([{source: b, target: '/workspace/beta', mode: 'ro'}])
    expect(statSync(profile).mode & 0o777).toBe(0o600)
  })

  it('repo rm of a folder that is not allowlisted: exit 2, lists the allowlisted ones, changes nothing', async () => {
    const {c, a, profile, ctx} = setup()
    const before = readFileSync(profile, 'utf8')
    const out = await runCommand(RepoRm, [c], ctx)
    expect(out.exitCode).toBe(2)
    expect(out.stderr).toMatch(new RegExp(`is not an allowlisted mount .*allowlisted: ${a}`))
    expect(out.stderr).toMatch(/\nFix: .*repo ls/)
    expect(readFileSync(profile, 'utf8')).toBe(before)
  })

  it('repo rm --dry-run prints the edit and writes nothing; the last mount can go (mounts: [])', async () => {
    const {a, b, profile, ctx} = setup()
    const before = readFileSync(profile, 'utf8')
    const dry = await runCommand(RepoRm, [a, '--dry-run', '--json'], ctx)
    expect(dry.json).toMatchObject({dryRun: true, removed: [{source: a}]})
    expect(readFileSync(profile, 'utf8')).toBe(before)
    await runCommand(RepoRm, [a], ctx)
    const last = await runCommand(RepoRm, [b], ctx)
    expect(last.exitCode, last.stderr).toBe(0)
    expect(parseProfile(readFileSync(profile, 'utf8'), profile).spec.mounts).toEqual([])
  })

  it('repo add judges the folder (home-relative ~ works, ~/.ssh is refused) and keeps the comments', async () => {
    const {c, home, profile, ctx} = setup()
    const out = await runCommand(RepoAdd, ['~/dev/gamma'], ctx)
    expect(out.exitCode, out.stderr).toBe(0)
    const text = readFileSync(profile, 'utf8')
    expect(text).toContain('# my profile: keep this comment')
    expect(text).toContain('# the main repo')
    expect(parseProfile(text, profile).spec.mounts.map((m) => m.source)).toEqual([join(home, 'dev', 'alpha'), join(home, 'dev', 'beta'), c])
    const again = await runCommand(RepoAdd, [c], ctx)
    expect(again.stdout).toMatch(/already allowlisted/)
    const ssh = await runCommand(RepoAdd, [join(home, '.ssh')], ctx)
    expect(ssh.exitCode).toBe(3)
    expect(ssh.stderr).toMatch(/^Error: refusing to mount .*\.ssh: it is inside ~\/\.ssh/)
  })

  it('repo ls lists the allowlisted repos', async () => {
    const {a, b, ctx} = setup()
    const out = await runCommand(RepoLs, [], ctx)
    expect(out.stdout.split('\n')[0]).toMatch(/^REPO\s+IN THE CONTAINER\s+MODE$/)
    expect(out.stdout).toMatch(new RegExp(`${a}\\s+/workspace/alpha\\s+rw`))
    expect(out.stdout).toMatch(new RegExp(`${b}\\s+/workspace/beta\\s+ro`))
  })
})
