import {spawnSync} from 'node:child_process'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {integrationGate} from '../../../scripts/integration-gate.mjs'

const ROOT = join(import.meta.dirname, '..', '..', '..')
const exists = (name: string) => name === 'agentci' || name === 'alice'

describe('make validate: the integration gate', () => {
  it('refuses a normal user with no rootless test user: one line naming what to run and the opt-out', () => {
    const g = integrationGate({uid: 1000, env: {}, podmanWorks: true, userExists: exists})
    expect(g.mode).toBe('refuse')
    expect(g.line.split('\n')).toHaveLength(1)
    expect(g.line).toContain('sudo .ci/run')
    expect(g.line).toContain('SOURCEOSCTL_UNIT_ONLY=1 make validate')
  })

  it('refuses as root without a rootless user (the rootless half would skip)', () => {
    expect(integrationGate({uid: 0, env: {}, podmanWorks: true, userExists: exists}).mode).toBe('refuse')
  })

  it('refuses when podman does not run, and when the named rootless user does not exist', () => {
    expect(integrationGate({uid: 0, env: {SOURCEOSCTL_TEST_ROOTLESS_USER: 'agentci'}, podmanWorks: false, userExists: exists}).line).toMatch(/podman does not run/)
    expect(integrationGate({uid: 0, env: {SOURCEOSCTL_TEST_ROOTLESS_USER: 'ghost'}, podmanWorks: true, userExists: exists}).line).toMatch(/no such user/)
  })

  it('runs the integration tests as root with the CI user (CI), or as a user who names themself', () => {
    expect(integrationGate({uid: 0, env: {SOURCEOSCTL_TEST_ROOTLESS_USER: 'agentci'}, podmanWorks: true, userExists: exists}).mode).toBe('integration')
    expect(integrationGate({uid: 1000, env: {SOURCEOSCTL_TEST_ROOTLESS_USER: 'alice'}, podmanWorks: true, userExists: exists}).mode).toBe('integration')
  })

  it('SOURCEOSCTL_UNIT_ONLY=1 is the explicit opt-out, and says so', () => {
    const g = integrationGate({uid: 1000, env: {SOURCEOSCTL_UNIT_ONLY: '1'}, podmanWorks: false, userExists: exists})
    expect(g.mode).toBe('unit-only')
    expect(g.line).toMatch(/NOT run/)
  })

  it('make validate runs the gate before anything else, the integration tests with podman required, and names an opt-out run in its last line', () => {
    // (under an outer make — CI's `make validate` — MAKELEVEL would make this one print "Entering directory")
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !['MAKEFLAGS', 'MFLAGS', 'MAKELEVEL', 'MAKEOVERRIDES'].includes(k)))
    const dry = spawnSync('make', ['--no-print-directory', '-n', 'validate'], {cwd: ROOT, encoding: 'utf8', env})
    const lines = dry.stdout.split('\n').filter(Boolean)
    expect(lines[0]).toBe('node scripts/integration-gate.mjs')
    expect(dry.stdout).toMatch(/SOURCEOSCTL_TEST_REQUIRE_PODMAN=1 npx vitest run test\/integration/)
    expect(dry.stdout).toMatch(/UNIT-ONLY run \(SOURCEOSCTL_UNIT_ONLY=1\).*NOT run/)
  })

  it('the script exits 1 with that one line, and prints unit-only for --mode under the opt-out', () => {
    const env = {PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent'}
    const asUser = process.getuid?.() === 0 && spawnSync('id', ['-u', 'agentci']).status === 0
    const argv = asUser ? ['runuser', '-u', 'agentci', '--', process.execPath] : [process.execPath]
    const refused = spawnSync(argv[0]!, [...argv.slice(1), 'scripts/integration-gate.mjs'], {cwd: ROOT, env, encoding: 'utf8'})
    if (asUser || process.getuid?.() !== 0) {
      expect(refused.status).toBe(1)
      expect(refused.stderr.trim().split('\n')).toHaveLength(1)
      expect(refused.stderr).toMatch(/^validate: /)
    }
    const mode = spawnSync(process.execPath, ['scripts/integration-gate.mjs', '--mode'], {cwd: ROOT, env: {...env, SOURCEOSCTL_UNIT_ONLY: '1'}, encoding: 'utf8'})
    expect(mode.stdout.trim()).toBe('unit-only')
  })
})
