import {mkdirSync, readFileSync} from 'node:fs'
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
  const home = tempDir('init-allow-home-')
  const repo = join(home, 'dev', 'app')
  mkdirSync(repo, {recursive: true})
  const facts = fakeHostFacts('linux', {homeDir: home, env: {HOME: home}})
  const profilePath = join(home, '.config', 'sourceosctl', 'agent-machine', 'profile.yaml')
  return {repo, profilePath, ctx: {runner: fakeRunner([]), hostFacts: async () => facts}}
}

describe('init --allow-host', () => {
  it('adds hosts to spec.network.allow of a new or an existing profile, once each, keeping the file valid', async () => {
    const {repo, profilePath, ctx} = setup()
    const created = await runCommand(Init, ['--profile', 'linux-podman-native', '--repo', repo, '--allow-host', 'registry.npmjs.org', '--json'], ctx)
    expect(created.exitCode, created.stderr).toBe(0)
    expect(schemaErrors('agent-machine-init-result.schema.json', created.json)).toEqual([])
    expect(parseProfile(readFileSync(profilePath, 'utf8'), profilePath).spec.network).toEqual({mode: 'allowlist', allow: ['registry.npmjs.org'], proxy: 'per-run'})

    const added = await runCommand(Init, ['--allow-host', 'github.com', '--allow-host', 'registry.npmjs.org:443', '--allow-host', '*.githubusercontent.com'], ctx)
    expect(added.exitCode, added.stderr).toBe(0)
    expect(added.stdout).toContain('Allowed egress to github.com (spec.network.allow)')
    expect(added.stdout).not.toContain('Allowed egress to registry.npmjs.org') // the same rule, spelled with its port
    const profile = parseProfile(readFileSync(profilePath, 'utf8'), profilePath)
    expect(profile.spec.network.allow).toEqual(['registry.npmjs.org', 'github.com', '*.githubusercontent.com'])
    expect(profile.spec.mounts).toHaveLength(1)

    const again = await runCommand(Init, ['--allow-host', 'GitHub.com', '--json'], ctx)
    expect((again.json as {action: string}).action).toBe('unchanged')
  })

  it.each([['*', /bare \*/], ['10.0.0.1', /ip:10\.0\.0\.1:443/], ['https://x.example.com/', /not a URL/]])('refuses %j with exit 2, the reason and the fix; nothing written', async (entry, reason) => {
    const {repo, profilePath, ctx} = setup()
    await runCommand(Init, ['--profile', 'linux-podman-native', '--repo', repo], ctx)
    const before = readFileSync(profilePath, 'utf8')
    const out = await runCommand(Init, ['--allow-host', entry], ctx)
    expect(out.exitCode).toBe(2)
    expect(out.stderr).toMatch(reason)
    expect(out.stderr).toMatch(/host\[:port\]/)
    expect(readFileSync(profilePath, 'utf8')).toBe(before)
  })

  it('a new profile still needs a --repo', async () => {
    const {ctx} = setup()
    const out = await runCommand(Init, ['--profile', 'linux-podman-native', '--allow-host', 'github.com'], ctx)
    expect(out.exitCode).toBe(2)
    expect(out.stderr).toMatch(/needs at least one --repo/)
  })
})
