// The summary inspect gives of a record: its own facts as recorded, and no optional section
// (workspace, network, outcome, podmanRan, userRefs, kube) that the record does not have.
import {readFileSync} from 'node:fs'
import {describe, expect, it} from 'vitest'

import type {EvidenceRecord} from '../../../src/core/evidence/record.js'
import {beginRecord, inspectPath, sampleDraft, samplePolicy, tempDir} from './helpers.js'

const BASE_KEYS = ['argv', 'exitCode', 'finishedAt', 'git', 'host', 'image', 'mounts', 'podmanArgv', 'policyHash', 'startedAt', 'tool', 'toolVersions', 'verb']

describe('the summary of a record', () => {
  it('holds the record’s own facts, and only the sections it has', async () => {
    const dir = tempDir()
    const h = await beginRecord(dir, sampleDraft())
    await h.complete({exitCode: 4})
    const record = JSON.parse(readFileSync(h.file, 'utf8')) as EvidenceRecord
    const p = record.predicate
    const summary = (await inspectPath(dir)).records[0]!.summary!
    expect(Object.keys(summary).sort()).toEqual(BASE_KEYS)
    expect(summary).toMatchObject({verb: p.verb, tool: p.tool, startedAt: p.startedAt, finishedAt: p.finishedAt, exitCode: 4, host: p.host, mounts: p.mounts, image: p.image, git: p.git, policyHash: p.policyHash, toolVersions: p.toolVersions})
    // the tool's own command (codex) is known from the policy: shown as it ran
    expect(summary.argv).toEqual(p.argv)
    expect(summary.podmanArgv).toEqual(p.podmanArgv)
  })

  it('a shell (no tool, so no known tool command): what follows the image is shown redacted, the rest as it ran', async () => {
    const dir = tempDir()
    const policy = samplePolicy()
    const argv = ['podman', 'create', '--rm', '--init', '--cap-drop=all', '--security-opt=no-new-privileges', '--read-only', '--cpus=2', '--memory=4g', '--pids-limit=1024', '--env=HOME=/home/agent', '--mount=type=bind,source=/home/dev/app,destination=/workspace/app,bind-nonrecursive=true,bind-propagation=private', '--workdir=/workspace/app', 'a'.repeat(64), 'bash']
    const h = await beginRecord(dir, sampleDraft({verb: 'shell', tool: null, argv: ['agent-machine', 'shell', '--repo', '/home/dev/app'], policy, podmanArgv: argv}))
    await h.complete({exitCode: 0})
    const result = await inspectPath(dir)
    expect(result.findings).toEqual([])
    const summary = result.records[0]!.summary!
    expect(summary).toMatchObject({verb: 'shell', tool: null, argv: ['agent-machine', 'shell', '--repo', '/home/dev/app']})
    expect(summary.podmanArgv.slice(0, -1)).toEqual(argv.slice(0, -1))
    expect(summary.podmanArgv.at(-1)).toMatch(/^\[redacted sha256:[0-9a-f]{64}\]$/)
    expect(Object.keys(summary).sort()).toEqual(BASE_KEYS)
  })
})
