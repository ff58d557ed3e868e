/**
 * After the session, the checkouts' content is read beside the git reads and the egress teardown
 * (launch.ts → LaunchEvidence.afterSession): never before the integrity check has moved the plants
 * away. The record's after-state is exactly the folder as the check left it.
 */
import {execFileSync} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import Run from '../../src/commands/agent-machine/run.js'
import type {AttachedRunner} from '../../src/core/exec.js'
import {contentTree} from '../../src/core/evidence/content-hash.js'
import {fakeContainer, type FakeContainer} from '../helpers/fake-container.js'
import {fakeRunner} from '../helpers/fake-runner.js'
import {podmanFixture} from '../helpers/fixtures.js'
import {fakeHostFacts} from '../helpers/host-facts.js'
import {runCommand} from '../helpers/run-command.js'
import {tempDir} from '../helpers/temp-dirs.js'
import {testProfileYaml} from '../helpers/test-profile.js'

let container: FakeContainer | undefined
afterEach(() => container?.uninstall())

function setup() {
  const home = tempDir('run-after-')
  const repo = join(home, 'dev', 'app')
  mkdirSync(repo, {recursive: true})
  writeFileSync(join(repo, 'README.md'), '# app\n')
  mkdirSync(join(home, '.ssh'))
  writeFileSync(join(home, '.ssh', 'id_ed25519'), 'key')
  const profile = join(home, 'profile.yaml')
  writeFileSync(
    profile,
    testProfileYaml({mounts: [{source: repo, target: '/workspace/app', mode: 'rw'}]}),
  )
  const facts = fakeHostFacts('linux', {homeDir: home, uid: 1000, env: {HOME: home, SOURCEOSCTL_PROFILE: profile}})
  return {home, repo, profile, facts}
}

function podmanRunner() {
  container = fakeContainer()
  container.install()
  return fakeRunner([
    {match: 'podman image inspect', result: {stdout: podmanFixture('podman431-image-inspect.json')}},
    ...container.routes,
    {match: 'podman ps', result: {stdout: ''}},
    {match: 'podman rm', result: {}},
    {match: 'podman --version', result: {stdout: 'podman version 4.3.1\n'}},
    {match: 'podman run', result: {stdout: 'codex-fake 0.0.1\n'}},
    {match: 'git --version', result: {stdout: 'git version 2.39.5\n'}},
    {match: 'nix --version', result: {exitCode: null, notFound: true}},
    {match: (cmd, args) => cmd === 'git' && (args.includes('status') || args.includes('rev-parse')), result: {exitCode: 1}},
  ])
}

/** The "agent": edits a file, adds one, and leaves a FIFO and a symlink into ~/.ssh (plants the check moves away). */
function agentThatPlants(repo: string, home: string): AttachedRunner {
  return (async () => {
    writeFileSync(join(repo, 'README.md'), '# app, edited\n')
    writeFileSync(join(repo, 'notes.txt'), 'notes\n')
    execFileSync('mkfifo', [join(repo, 'pipe')])
    symlinkSync(join(home, '.ssh', 'id_ed25519'), join(repo, 'key'))
    return {exitCode: 0, notFound: false, interrupted: false, durationMs: 1}
  }) as AttachedRunner
}

interface WorkspaceRecord {
  predicate: {
    status: string
    integrity: {findings: Array<{path: string; quarantinedAt: string | null}>}
    workspace: Array<{after: {tree: string | null; files: number}; before: {tree: string | null}; changes: {added: string[]; modified: string[]; removed: string[]}}>
  }
}

describe('run: the content after the session', () => {
  it('is read after the plants were moved away, beside the git reads: the record holds exactly the folder the check left', async () => {
    const {home, repo, facts} = setup()
    const out = await runCommand(Run, ['--tool', 'codex', '--repo', repo, '--json'], {runner: podmanRunner(), attachedRunner: agentThatPlants(repo, home), hostFacts: async () => facts})
    // exit 6: plants were found (and moved)
    expect(out.exitCode, out.stderr).toBe(6)
    const record = JSON.parse(readFileSync((out.json as {evidence: string}).evidence, 'utf8')) as WorkspaceRecord
    const moved = record.predicate.integrity.findings.filter((f) => f.quarantinedAt !== null).map((f) => f.path.replace(/^~/, home)).sort()
    expect(moved).toEqual([join(repo, 'key'), join(repo, 'pipe')])
    for (const p of moved) expect(existsSync(p)).toBe(false)
    const [ws] = record.predicate.workspace
    // the agent's own changes, and not the plants
    expect(ws!.changes).toEqual({added: ['notes.txt'], modified: ['README.md'], removed: [], omitted: 0})
    // the after-state is the folder as it is now (the check left it so, nothing ran since)
    const now = await contentTree(repo)
    expect(ws!.after).toMatchObject({tree: now.tree, files: now.files})
    expect(ws!.after.tree).not.toBe(ws!.before.tree)
  })
})
