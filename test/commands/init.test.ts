import {chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import Init from '../../src/commands/agent-machine/init.js'
import {parseProfile} from '../../src/core/profile/loader.js'
import {fakeRunner} from '../helpers/fake-runner.js'
import {fakeHostFacts} from '../helpers/host-facts.js'
import {schemaErrors} from '../helpers/json-schema.js'
import {runCommand} from '../helpers/run-command.js'
import {tempDir} from '../helpers/temp-dirs.js'

function setup() {
  const home = tempDir('init-home-')
  const repo = join(home, 'dev', 'app')
  mkdirSync(repo, {recursive: true})
  const facts = fakeHostFacts('linux', {homeDir: home, env: {HOME: home}})
  const profilePath = join(home, '.config', 'sourceosctl', 'agent-machine', 'profile.yaml')
  const ctx = {runner: fakeRunner([]), hostFacts: async () => facts}
  return {home, repo, facts, profilePath, ctx}
}

function listTree(dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, {recursive: true}).map(String).sort()
}

describe('init', () => {
  it('--remove-repo takes one repo off, keeps the other and the file’s comments; exclusive with --repo', async () => {
    const {home, repo, profilePath, ctx} = setup()
    const other = join(home, 'dev', 'other')
    mkdirSync(other, {recursive: true})
    expect((await runCommand(Init, ['--profile', 'linux-podman-native', '--repo', repo, '--repo', other], ctx)).exitCode).toBe(0)
    writeFileSync(profilePath, `# hand-written note\n${readFileSync(profilePath, 'utf8')}`)
    const out = await runCommand(Init, ['--remove-repo', repo, '--json'], ctx)
    expect(out.exitCode, out.stderr).toBe(0)
    expect(schemaErrors('agent-machine-init-result.schema.json', out.json)).toEqual([])
    expect(out.json).toMatchObject({action: 'remove-mount', written: true, removedMounts: [{source: realpathSync(repo)}]})
    const text = readFileSync(profilePath, 'utf8')
    expect(text.startsWith('# hand-written note\n')).toBe(true)
    expect(text).not.toContain(`source: ${realpathSync(repo)}`)
    expect(text).toContain(realpathSync(other))
    const both = await runCommand(Init, ['--remove-repo', other, '--repo', repo], ctx)
    expect(both.exitCode).toBe(2)
  })

  it('renders a template with the repo as the one mount and writes it to the config dir', async () => {
    const {repo, profilePath, ctx} = setup()
    const out = await runCommand(Init, ['--profile', 'linux-podman-native', '--repo', repo, '--json'], ctx)
    expect(out.exitCode).toBe(0)
    expect(schemaErrors('agent-machine-init-result.schema.json', out.json)).toEqual([])
    const text = readFileSync(profilePath, 'utf8')
    expect(text.split('\n')[0]).toMatch(/^# yaml-language-server: \$schema=/)
    const profile = parseProfile(text, profilePath)
    expect(profile.spec.mounts).toEqual([{source: repo, target: '/workspace/app', mode: 'rw'}])
    expect((out.json as {action: string}).action).toBe('create')
  })

  it('defect 3: warns when an allowlisted folder holds more than one repository (not for one repo)', async () => {
    const {home, repo, ctx} = setup()
    const dev = join(home, 'dev')
    for (const r of [join(dev, 'app'), join(dev, 'lib'), join(dev, 'lib', 'vendor', 'x')]) mkdirSync(join(r, '.git'), {recursive: true})
    const out = await runCommand(Init, ['--profile', 'linux-podman-native', '--repo', dev, '--json'], ctx)
    expect(out.exitCode).toBe(0)
    expect(schemaErrors('agent-machine-init-result.schema.json', out.json)).toEqual([])
    expect((out.json as {warnings: string[]}).warnings).toEqual([expect.stringMatching(/holds 3 repositories \(app, lib, lib\/vendor\/x\)/)])
    const human = await runCommand(Init, ['--profile', 'linux-podman-native', '--repo', dev, '--force'], ctx)
    expect(human.stderr).toMatch(/warning: .*holds 3 repositories/)
    const one = await runCommand(Init, ['--profile', 'linux-podman-native', '--repo', repo, '--force', '--json'], ctx)
    expect((one.json as {warnings: string[]}).warnings).toEqual([])
  })

  it('refuses to overwrite another profile without --force, and replaces it with --force', async () => {
    const {home, repo, profilePath, ctx} = setup()
    await runCommand(Init, ['--profile', 'linux-podman-native', '--repo', repo], ctx)
    const before = readFileSync(profilePath, 'utf8')
    const refused = await runCommand(Init, ['--profile', 'macos-podman', '--repo', repo], ctx)
    expect(refused.exitCode).toBe(2)
    expect(refused.stderr).toMatch(/--force/)
    expect(readFileSync(profilePath, 'utf8')).toBe(before)
    const forced = await runCommand(Init, ['--profile', 'macos-podman', '--repo', repo, '--force', '--json'], ctx)
    expect(forced.exitCode).toBe(0)
    expect((forced.json as {action: string}).action).toBe('overwrite')
    expect(parseProfile(readFileSync(profilePath, 'utf8'), 'p').metadata.name).toBe('macos-podman')
    expect(listTree(join(home, '.config')).filter((f) => f.endsWith('.tmp'))).toEqual([])
  })

  it('adds a further --repo as a mount and keeps the others', async () => {
    const {home, repo, profilePath, ctx} = setup()
    const other = join(home, 'dev', 'other')
    mkdirSync(other)
    await runCommand(Init, ['--profile', 'linux-podman-native', '--repo', repo], ctx)
    const out = await runCommand(Init, ['--repo', other, '--json'], ctx)
    expect(out.exitCode).toBe(0)
    expect((out.json as {action: string}).action).toBe('add-mount')
    const profile = parseProfile(readFileSync(profilePath, 'utf8'), profilePath)
    expect(profile.spec.mounts.map((m) => m.source)).toEqual([repo, other])
    const again = await runCommand(Init, ['--repo', other, '--json'], ctx)
    expect((again.json as {action: string}).action).toBe('unchanged')
  })

  it('--dry-run prints the profile and destination and writes nothing', async () => {
    const {home, repo, profilePath, ctx} = setup()
    const out = await runCommand(Init, ['--profile', 'linux-podman-native', '--repo', repo, '--dry-run'], ctx)
    expect(out.exitCode).toBe(0)
    expect(out.stdout).toContain(profilePath)
    expect(out.stdout).toContain('kind: AgentMachineProfile')
    expect(out.stdout).toContain('sourceos:write-file'.replace('sourceos', 'sourceosctl'))
    expect(existsSync(profilePath)).toBe(false)
    expect(listTree(home)).toEqual(['dev', 'dev/app'])
  })

  it.each([
    ['home itself', (h: string) => h],
    ['~/.ssh', (h: string) => (mkdirSync(join(h, '.ssh')), join(h, '.ssh'))],
    ['a parent of ~/.aws', (h: string) => (mkdirSync(join(h, '.aws')), h)],
    ['a symlink into ~/.ssh', (h: string) => (mkdirSync(join(h, '.ssh'), {recursive: true}), symlinkSync(join(h, '.ssh'), join(h, 'dev', 'link')), join(h, 'dev', 'link'))],
    ['a .. trick into ~/.aws', (h: string) => (mkdirSync(join(h, '.aws')), join(h, 'dev', '..', '.aws'))],
    ['/tmp', () => '/tmp'],
  ])('refuses %s with exit 3 and writes nothing', async (_name, make) => {
    const {home, ctx} = setup()
    const target = make(home)
    const before = listTree(home)
    const out = await runCommand(Init, ['--profile', 'linux-podman-native', '--repo', target], ctx)
    expect(out.exitCode).toBe(3)
    // the problem on one line, the fix on its own line
    expect(out.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^Error: /), expect.stringMatching(/^Fix: /)])
    expect(listTree(home)).toEqual(before)
  })

  it('gives one-line errors (fix on its own line) with the exit code from the table for bad input', async () => {
    const {home, repo, ctx} = setup()
    const file = join(home, 'dev', 'file.txt')
    writeFileSync(file, 'x')
    const cases: Array<[string[], number, RegExp]> = [
      [['--profile', 'nope', '--repo', repo], 2, /unknown template[^\n]*\nFix: .*linux-podman-native/],
      [['--profile', 'linux-podman-native', '--repo', join(home, 'missing')], 4, /does not exist/],
      [['--profile', 'linux-podman-native', '--repo', file], 2, /not a directory/],
      [['--profile', 'linux-podman-native', '--repo', repo, '--output', join(file, 'profile.yaml')], 4, /cannot write/],
      [['--repo', repo], 2, /--profile/],
    ]
    for (const [argv, code, message] of cases) {
      const before = listTree(home)
      const out = await runCommand(Init, argv, ctx)
      expect({argv, code: out.exitCode}).toEqual({argv, code})
      expect(out.stderr).toMatch(message)
      expect(out.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^Error: /), expect.stringMatching(/^Fix: /)])
      expect(listTree(home)).toEqual(before)
    }
  })

  // Root reads everything: runs in the non-root pass (make test-unit-nonroot, docs/testing.md).
  it.skipIf(process.getuid?.() === 0)('reports an unreadable repo (as a non-root user)', async () => {
    const {home, ctx, profilePath} = setup()
    const locked = join(home, 'dev', 'locked')
    mkdirSync(locked, {mode: 0o000})
    chmodSync(locked, 0o000)
    const out = await runCommand(Init, ['--profile', 'linux-podman-native', '--repo', locked, '--json'], ctx)
    expect(out.exitCode).toBe(4)
    expect(out.json).toEqual({error: {
      code: 'REPO_UNREADABLE',
      exitCode: 4,
      fix: 'fix its permissions so your user can read and enter it',
      message: `--repo ${locked} is not readable (${locked}: ${locked} is not readable and searchable by this user: EACCES: permission denied, access '${locked}').`,
    }})
    expect(existsSync(profilePath), 'no profile written').toBe(false)
  })

  it('reports a malformed existing profile with line and column (exit 2)', async () => {
    const {repo, profilePath, ctx} = setup()
    mkdirSync(join(profilePath, '..'), {recursive: true})
    writeFileSync(profilePath, 'apiVersion: sourceos.dev/v1alpha1\nkind: [unclosed\n')
    const out = await runCommand(Init, ['--repo', repo], ctx)
    expect(out.exitCode).toBe(2)
    expect(out.stderr).toMatch(/profile\.yaml:\d+:\d+/)
  })

  it('--json errors follow the error schema', async () => {
    const {ctx} = setup()
    const out = await runCommand(Init, ['--profile', 'nope', '--repo', '/tmp', '--json'], ctx)
    expect(out.exitCode).toBe(3)
    expect(schemaErrors('agent-machine-error.schema.json', out.json)).toEqual([])
  })
})
