// A record that contradicts itself: each cross-field rule broken on its own, in an otherwise valid
// record read as a single file, and named with its field — next to the variant the rule must still
// accept (an incomplete run without an exit code, ~ only in home-relative records, a mount given as
// readonly=true or dst=, an argv without a create step).
import {mkdirSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {recordFileName} from '../../../src/core/evidence/index-log.js'
import {serializeRecord, type EvidenceRecord} from '../../../src/core/evidence/record.js'
import {beginRecord as unsignedBegin} from '../../../src/core/evidence/store.js'
import {inspectPath, samplePodmanArgv, sampleDraft, TEST_STATE_DIR, tempDir} from './helpers.js'

const root = tempDir('contradictions-')
afterAll(() => {
  for (const d of [root, TEST_STATE_DIR]) rmSync(d, {recursive: true, force: true})
})

const ARGV = [...samplePodmanArgv().slice(0, -2), '--label=dev.sourceos.agent-machine.run-id=contra-0001', 'a'.repeat(64), 'codex']

const [completed, started] = await (async () => {
  const dir = join(root, 'source')
  const h = await unsignedBegin(dir, sampleDraft({runId: 'contra-0001', podmanArgv: ARGV}))
  const startedRecord = structuredClone(h.record)
  const done = await h.complete({exitCode: 0, finishedAt: '2026-01-02T03:06:00.000Z'})
  return [done.record, startedRecord]
})()

type P = EvidenceRecord['predicate'] & Record<string, unknown>
let n = 0

/** The problems inspect names for this record after the edit (read alone, as a single file). */
async function problems(edit: (r: EvidenceRecord & {predicate: P}) => void, from: EvidenceRecord = completed): Promise<string[]> {
  const r = structuredClone(from) as EvidenceRecord & {predicate: P}
  edit(r)
  const dir = join(root, `case-${++n}`)
  mkdirSync(dir)
  const file = join(dir, recordFileName(r.predicate.chain.seq, r.predicate.runId))
  writeFileSync(file, serializeRecord(r))
  const result = await inspectPath(file)
  return result.findings.filter((f) => f.field !== 'predicate.policyHash').map((f) => `${f.field ?? '-'}: ${f.problem}`)
}

describe('a record read alone', () => {
  it('untouched, completed or started: no finding', async () => {
    expect(await problems(() => {})).toEqual([])
    expect(await problems(() => {}, started)).toEqual([])
  })
})

describe('status against the fields it fixes', () => {
  it('started: no finish time, exit code or started digest yet', async () => {
    const p = await problems((r) => {
      r.predicate.finishedAt = '2026-01-02T03:06:00.000Z'
      r.predicate.exitCode = 0
      r.predicate.chain.startedDigest = `sha256:${'1'.repeat(64)}`
    }, started)
    expect(p).toEqual([
      'predicate.finishedAt: is set but status is "started"',
      'predicate.exitCode: is set but status is "started"',
      'predicate.chain.startedDigest: is set but status is "started"',
    ])
  })

  it('completed: a finish time, an exit code and the started digest; incomplete needs no exit code', async () => {
    expect(await problems((r) => {
      r.predicate.finishedAt = null
      r.predicate.exitCode = null
      r.predicate.chain.startedDigest = null
    })).toEqual([
      'predicate.finishedAt: is null but status is "completed"',
      'predicate.exitCode: is null but status is "completed"',
      'predicate.chain.startedDigest: is null but status is "completed"',
    ])
    expect(await problems((r) => {
      r.predicate.status = 'incomplete'
      r.predicate.exitCode = null
    })).toEqual([])
    expect(await problems((r) => {
      r.predicate.status = 'incomplete'
      r.predicate.finishedAt = null
    })).toEqual(['predicate.finishedAt: is null but status is "incomplete"'])
  })

  it('the finish is not before the start (the same instant is fine)', async () => {
    expect(await problems((r) => (r.predicate.finishedAt = '2026-01-02T03:04:04.000Z'))).toEqual(['predicate.finishedAt: is before startedAt (2026-01-02T03:04:05.000Z)'])
    expect(await problems((r) => (r.predicate.finishedAt = r.predicate.startedAt))).toEqual([])
  })

  it('the chain: seq 1 has no prev, a later seq always has one', async () => {
    expect(await problems((r) => (r.predicate.chain.prev = `sha256:${'2'.repeat(64)}`))).toContain('predicate.chain.prev: is set on seq 1: the first record has no predecessor')
    const later = await problems((r) => (r.predicate.chain.seq = 3))
    expect(later).toContain('predicate.chain.prev: is null on seq 3: only seq 1 starts a chain')
  })
})

describe('identities', () => {
  it('the subject follows predicate.git', async () => {
    expect(await problems((r) => (r.subject = [{name: '/workspace/app', digest: {gitCommit: 'd'.repeat(40)}}]))).toEqual([
      'subject: does not match predicate.git: it must list each mounted repo’s commit (or run:<runId> when there is none)',
    ])
  })

  it('the image ID is 64 hex digits (with or without sha256:), its digest a sha256 digest', async () => {
    expect(await problems((r) => (r.predicate.image.id = 'latest'))).toContain('predicate.image.id: is not an image ID (64 hex digits): "latest"')
    expect(await problems((r) => (r.predicate.image.id = `sha256:${'a'.repeat(64)}`))).toEqual([])
    expect(await problems((r) => (r.predicate.image.id = `${'a'.repeat(64)}0`))).toContain(`predicate.image.id: is not an image ID (64 hex digits): "${'a'.repeat(64)}0"`)
    expect(await problems((r) => (r.predicate.image.digest = 'sha256:abc'))).toEqual(['predicate.image.digest: is not a sha256 digest: "sha256:abc"'])
    expect(await problems((r) => (r.predicate.image.digest = `sha256:${'e'.repeat(64)}`))).toEqual([])
  })

  it('a shell has no tool and a run has one; the argv names the verb the record says', async () => {
    expect(await problems((r) => (r.predicate.tool = null))).toContain('predicate.tool: is null but verb is run')
    expect(await problems((r) => (r.predicate.argv = ['agent-machine', 'shell', '--repo', '/home/dev/app']))).toEqual(['predicate.argv: names the verb "shell" but predicate.verb is run'])
    expect(await problems((r) => (r.predicate.argv = ['other', 'shell']))).toEqual([])
    expect(await problems((r) => (r.predicate.argv = ['agent-machine']))).toEqual([])
  })
})

describe('mounts against the policy and the podman argv', () => {
  it('a mount source is absolute (/… or a drive); ~ only in a home-relative record', async () => {
    const relative = (source: string) => (r: EvidenceRecord & {predicate: P}) => {
      r.predicate.mounts[0]!.source = source
    }
    expect(await problems(relative('dev/app'))).toEqual(['predicate.mounts[0].source: is not an absolute path: "dev/app"'])
    expect(await problems(relative('~/dev/app'))).toEqual(['predicate.mounts[0].source: is not an absolute path: "~/dev/app"'])
    expect(await problems(relative('C:\\dev\\app'))).toEqual([])
    expect(await problems(relative('D:/dev/app'))).toEqual([])
    const home = (source: string) => (r: EvidenceRecord & {predicate: P}) => {
      r.predicate.paths = 'home-relative'
      r.predicate.mounts[0]!.source = source
    }
    expect(await problems(home('~/dev/app'))).toEqual([])
    expect(await problems(home('~'))).toEqual([])
    expect(await problems(home('~dev/app'))).toEqual(['predicate.mounts[0].source: is not an absolute path (or ~/…): "~dev/app"'])
  })

  it('every mount the policy allowlists is there, in the policy’s mode', async () => {
    expect(await problems((r) => (r.predicate.policy.mounts[0]!.target = '/workspace/other'))).toContain('predicate.mounts: has no mount at /workspace/other, which predicate.policy allowlists')
    expect(await problems((r) => (r.predicate.policy.mounts[0]!.mode = 'ro'))).toContain('predicate.mounts: mounts /workspace/app rw, but predicate.policy says ro')
  })

  it('podman got exactly the recorded mounts, in their modes (ro=true and readonly=true both read-only; destination, target or dst)', async () => {
    const withMount = (m: string) => (r: EvidenceRecord & {predicate: P}) => {
      r.predicate.podmanArgv = r.predicate.podmanArgv.map((a) => (a.startsWith('--mount=') ? m : a))
    }
    expect(await problems(withMount('--mount=type=bind,source=/home/dev/app,destination=/workspace/app,ro=true'))).toEqual(['predicate.podmanArgv: mounts /workspace/app ro, but predicate.mounts says rw'])
    expect(await problems(withMount('--mount=type=bind,source=/home/dev/app,target=/workspace/app,readonly=true'))).toEqual(['predicate.podmanArgv: mounts /workspace/app ro, but predicate.mounts says rw'])
    expect(await problems(withMount('--mount=type=bind,source=/home/dev/app,dst=/workspace/app'))).toEqual([])
    expect(await problems(withMount('--mount=type=bind,source=/home/dev/app,destination=/workspace/elsewhere'))).toEqual([
      'predicate.podmanArgv: has no --mount for /workspace/app, which predicate.mounts lists',
      'predicate.podmanArgv: mounts /workspace/elsewhere, which predicate.mounts does not list',
    ])
    expect(await problems(withMount('--mount=type=bind,source=/home/dev/app,destination=/workspace/app,ro'))).toEqual(['predicate.podmanArgv: mounts /workspace/app ro, but predicate.mounts says rw'])
  })

  it('an argv without a create or run step (an older record) is not held to the flags', async () => {
    expect(await problems((r) => (r.predicate.podmanArgv = ['podman', 'start', 'x']))).toEqual([])
  })
})

describe('the podman argv against the policy and the image', () => {
  const without = (flag: string) => (r: EvidenceRecord & {predicate: P}) => {
    r.predicate.podmanArgv = r.predicate.podmanArgv.filter((a) => a !== flag)
  }

  it.each([
    ['--cpus=2', 'resources.cpus'],
    ['--memory=4g', 'resources.memory'],
    ['--pids-limit=1024', 'resources.pidsLimit'],
    ['--cap-drop=all', 'hardening.capDrop'],
    ['--security-opt=no-new-privileges', 'hardening.noNewPrivileges'],
    ['--read-only', 'hardening.readOnlyRoot'],
    ['--init', 'hardening.init'],
  ])('a create without %s is named (predicate.policy.%s)', async (flag, field) => {
    expect(await problems(without(flag))).toEqual([`predicate.podmanArgv: has no ${flag}, which predicate.policy.${field} requires`])
  })

  it('a limit that differs from the policy’s is as good as missing', async () => {
    expect(await problems((r) => (r.predicate.policy.resources.cpus = 4))).toContain('predicate.podmanArgv: has no --cpus=4, which predicate.policy.resources.cpus requires')
  })

  it('network none in the policy needs --network=none, and another mode must not have it', async () => {
    expect(await problems((r) => (r.predicate.policy.network.mode = 'none'))).toContain('predicate.podmanArgv: has no --network=none, but predicate.policy.network.mode is none')
    expect(await problems((r) => r.predicate.podmanArgv.splice(2, 0, '--network=none'))).toEqual(['predicate.podmanArgv: has --network=none, but predicate.policy.network.mode is default'])
  })

  it('the argv runs the recorded image, by ID or reference', async () => {
    expect(await problems((r) => (r.predicate.image.id = 'b'.repeat(64)))).toEqual([`predicate.podmanArgv: does not run the recorded image (localhost/sourceos/agent:latest, ${'b'.repeat(12)})`])
    expect(await problems((r) => {
      r.predicate.podmanArgv = r.predicate.podmanArgv.map((a) => (a === 'a'.repeat(64) ? r.predicate.image.ref : a))
    })).toEqual([])
  })

  it('the run-id label is the record’s run id; the policy-hash label its policy hash (not compared in a home-relative record)', async () => {
    expect(await problems((r) => (r.predicate.podmanArgv = r.predicate.podmanArgv.map((a) => a.replace('run-id=contra-0001', 'run-id=other'))))).toEqual([
      'predicate.podmanArgv: labels the container with another run id than contra-0001',
    ])
    const hashLabel = (paths?: 'home-relative') => (r: EvidenceRecord & {predicate: P}) => {
      r.predicate.podmanArgv.splice(2, 0, `--label=dev.sourceos.agent-machine.policy-hash=sha256:${'9'.repeat(64)}`)
      if (paths) r.predicate.paths = paths
    }
    expect(await problems(hashLabel())).toEqual([`predicate.podmanArgv: labels the container with another policy hash than ${completed.predicate.policyHash}`])
    expect(await problems(hashLabel('home-relative'))).toEqual([])
    expect(await problems((r) => r.predicate.podmanArgv.splice(2, 0, `--label=dev.sourceos.agent-machine.policy-hash=${r.predicate.policyHash}`))).toEqual([])
  })

  it('the image among the resolved dependencies is the recorded image', async () => {
    const dep = (sha256: string) => (r: EvidenceRecord & {predicate: P}) => {
      r.predicate.resolvedDependencies = [{name: 'localhost/sourceos/agent:latest', digest: {sha256}, annotations: {role: 'image'}}, {name: '/workspace/app', digest: {sha256: 'c'.repeat(64)}, annotations: {role: 'source'}}]
    }
    expect(await problems(dep('a'.repeat(64)))).toEqual([])
    expect(await problems(dep('b'.repeat(64)))).toEqual([`predicate.resolvedDependencies: names the image ${'b'.repeat(64)}, but predicate.image.id is ${'a'.repeat(64)}`])
  })
})
