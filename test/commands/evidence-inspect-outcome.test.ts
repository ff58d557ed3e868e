// `evidence inspect --long` shows how a launch ended (a failed one names its reason and how far it
// got) and, for --worktree, what changed in the user's refs; --json carries the same and validates.
import {describe, expect, it} from 'vitest'

import EvidenceInspect from '../../src/commands/agent-machine/evidence/inspect.js'
import {parseRefList, userRefsAfter, userRefsBefore} from '../../src/core/evidence/user-refs.js'
import {schemaErrors} from '../helpers/json-schema.js'
import {runCommand} from '../helpers/run-command.js'
import {fakeHostFacts} from '../helpers/host-facts.js'
import {beginRecord, sampleDraft, samplePodmanArgv, tempDir, TEST_STATE_DIR} from '../unit/evidence/helpers.js'

const host = {hostFacts: async () => fakeHostFacts('linux', {env: {SOURCEOSCTL_STATE_DIR: TEST_STATE_DIR}})}
const inspect = (argv: string[]) => runCommand(EvidenceInspect, argv, host)
const A = 'a'.repeat(40)
const B = 'b'.repeat(40)
const list = (text: string) => {
  const r = parseRefList(text)
  if (!r.ok) throw new Error(r.error)
  return r.list
}

describe('evidence inspect: outcome and user refs', () => {
  it('a launch that failed before the tool: its reason and the podman commands that ran, with exit codes; valid (exit 0)', async () => {
    const dir = tempDir()
    const init = ['podman', 'init', 'sourceos-agent-x']
    const h = await beginRecord(dir, sampleDraft({podmanCommands: {init, start: ['podman', 'start', 'sourceos-agent-x']}}))
    await h.complete({
      exitCode: null,
      status: 'incomplete',
      outcome: {result: 'failed', error: {code: 'MOUNT_SWAPPED', message: 'a mount source changed between its check and the container: /workspace/app shows ~/.ssh', exitCode: 3}},
      podmanRan: [{argv: samplePodmanArgv(), exitCode: 0}, {argv: init, exitCode: 0}, {argv: ['podman', 'rm', '--force', 'sourceos-agent-x'], exitCode: 0}],
    })
    const out = await inspect([dir, '--long'])
    expect(out.exitCode, out.stderr).toBe(0)
    expect(out.stdout).toContain('incomplete: the launch failed before the tool ran (MOUNT_SWAPPED, exit 3)')
    expect(out.stdout).toMatch(/failed\s+MOUNT_SWAPPED: a mount source changed between its check and the container: \/workspace\/app shows ~\/\.ssh/)
    expect(out.stdout).toMatch(/steps\s+podman create .*→ exit 0/)
    expect(out.stdout).toMatch(/\n\s+podman init sourceos-agent-x\s+→ exit 0/)
    expect(out.stdout).toMatch(/\n\s+podman rm --force sourceos-agent-x\s+→ exit 0/)
    expect(out.stdout).toContain('Evidence valid: 1 record, chain intact, signed (1 incomplete: never completed).')
    const json = await inspect([dir, '--json'])
    expect(schemaErrors('agent-machine-evidence-inspect-result.schema.json', json.json)).toEqual([])
  })

  it('--worktree: the refs of the user’s repo that were added, changed or removed', async () => {
    const dir = tempDir()
    const before = list(`${A} refs/heads/main\n${A} refs/heads/old\n`)
    const after = list(`${B} refs/heads/main\n${B} refs/heads/agent/x\n`)
    const started = userRefsBefore('/home/dev/app', {ok: true, list: before})
    const worktree = {repo: '/home/dev/app', path: '/home/dev/.local/state/sourceosctl/worktrees/app-1', target: '/workspace/app', branch: 'agent/x', baseCommit: A, commonDir: '/home/dev/app/.git'}
    const h = await beginRecord(dir, sampleDraft({worktree, userRefs: started}))
    await h.complete({exitCode: 0, userRefs: userRefsAfter(started, {ok: true, list: after})})
    const out = await inspect([dir, '--long'])
    expect(out.exitCode, out.stderr).toBe(0)
    expect(out.stdout).toMatch(/refs\s+\/home\/dev\/app: 1 added, 1 changed, 1 removed/)
    expect(out.stdout).toContain(`+ refs/heads/agent/x ${B.slice(0, 12)}`)
    expect(out.stdout).toContain(`~ refs/heads/main ${A.slice(0, 12)} → ${B.slice(0, 12)}`)
    expect(out.stdout).toContain(`- refs/heads/old ${A.slice(0, 12)}`)
    const json = await inspect([dir, '--json'])
    expect(schemaErrors('agent-machine-evidence-inspect-result.schema.json', json.json)).toEqual([])
  })
})
