/** No secret values and no home paths in records (issue 14, item 1). */
import {createHash} from 'node:crypto'
import {readFileSync} from 'node:fs'
import {describe, expect, it} from 'vitest'

import {homeRelative, homeRelativeDeep, isRedacted, redactArg, redactCliArgv, redactedValue, redactPodmanArgv} from '../../../src/core/evidence/redact.js'
import {policyHash} from '../../../src/core/policy/hash.js'
import {beginRecord, inspectPath, samplePodmanArgv, samplePolicy, sampleDraft, tempDir} from './helpers.js'

const sha = (v: string) => createHash('sha256').update(v, 'utf8').digest('hex')
const SECRET = 'sk-proj-PLANTEDsecret0123456789'

describe('redaction by shape', () => {
  it('keeps option names, redacts values with their sha256', () => {
    expect(redactedValue(SECRET)).toBe(`[redacted sha256:${sha(SECRET)}]`)
    expect(isRedacted(redactedValue('x'))).toBe(true)
    expect(redactArg('--api-key')).toBe('--api-key')
    expect(redactArg('-p')).toBe('-p')
    expect(redactArg(SECRET)).toBe(`[redacted sha256:${sha(SECRET)}]`)
    expect(redactArg(`--api-key=${SECRET}`)).toBe(`--api-key=[redacted sha256:${sha(SECRET)}]`)
    // A value shaped like an option but carrying digits or other characters is a value.
    expect(redactArg('--sk-proj-123')).toBe(redactedValue('--sk-proj-123'))
    expect(redactArg('explain this repo')).toBe(redactedValue('explain this repo'))
  })

  it('CLI argv: everything after --, and the tool arguments given without --, are redacted; the CLI options stay', () => {
    const argv = ['agent-machine', 'run', '--tool', 'codex', '--repo', '/home/u/app', '--', '--api-key', SECRET]
    expect(redactCliArgv(argv, ['--api-key', SECRET])).toEqual(['agent-machine', 'run', '--tool', 'codex', '--repo', '/home/u/app', '--', '--api-key', redactedValue(SECRET)])
    expect(redactCliArgv(['agent-machine', 'run', '--tool', 'codex', SECRET], [SECRET])).toEqual(['agent-machine', 'run', '--tool', 'codex', redactedValue(SECRET)])
  })

  it('podman argv: env values (unless the policy sets exactly that value) and the tool arguments after the image', () => {
    const argv = ['podman', 'create', '--env=PIP_INDEX_URL=https://u:pw@mirror/simple', '--env=TERM=xterm', '-e', 'X=secret', '--env=FIXED=1', 'sha256img', 'codex', '--api-key', SECRET]
    expect(redactPodmanArgv(argv, {image: 'sha256img', commandLength: 1, envSet: {FIXED: '1'}})).toEqual([
      'podman', 'create',
      `--env=PIP_INDEX_URL=${redactedValue('https://u:pw@mirror/simple')}`,
      `--env=TERM=${redactedValue('xterm')}`,
      '-e', `X=${redactedValue('secret')}`,
      '--env=FIXED=1',
      'sha256img', 'codex', '--api-key', redactedValue(SECRET),
    ])
  })

  it('home paths become ~ at a path boundary only', () => {
    expect(homeRelative('/home/u/app', '/home/u')).toBe('~/app')
    expect(homeRelative('/home/u', '/home/u/')).toBe('~')
    expect(homeRelative('/home/username/app', '/home/u')).toBe('/home/username/app')
    expect(homeRelative('--mount=type=bind,source=/home/u/app,destination=/w', '/home/u')).toBe('--mount=type=bind,source=~/app,destination=/w')
    expect(homeRelative('/srv/home/u/app', '/home/u')).toBe('/srv/home/u/app')
    expect(homeRelativeDeep({a: ['/home/u/x', 3], '/home/u/k': null}, '/home/u')).toEqual({a: ['~/x', 3], '~/k': null})
  })
})

describe('records with home-relative paths', () => {
  it('write ~ everywhere, the policy hash is over the policy as written, and inspect verifies it', async () => {
    const dir = tempDir()
    const draft = sampleDraft({
      argv: ['agent-machine', 'run', '--repo', '/home/dev/app'],
      podmanArgv: samplePodmanArgv(),
      paths: {style: 'home-relative', homeDir: '/home/dev'},
      worktree: {repo: '/home/dev/app', path: '/home/dev/.local/state/sourceosctl/worktrees/x', target: '/workspace/app', branch: 'agent/x', baseCommit: 'c'.repeat(40), commonDir: '/home/dev/app/.git'},
    })
    const h = await beginRecord(dir, draft)
    await h.complete({exitCode: 0, integrity: {findings: [{path: '/home/dev/app/.git/hooks/pre-commit', change: 'new', reason: 'hook', action: 'quarantine', quarantinedAt: '/home/dev/q/x'}], newWriteProtected: [], quarantineDir: '/home/dev/q'}})
    const text = readFileSync(h.file, 'utf8')
    expect(text).not.toContain('/home/dev')
    const record = JSON.parse(text)
    expect(record.predicate.paths).toBe('home-relative')
    expect(record.predicate.mounts[0].source).toBe('~/app')
    expect(record.predicate.policy.mounts[0].source).toBe('~/app')
    expect(record.predicate.policyHash).toBe(policyHash({...samplePolicy('~/app')}))
    expect(record.predicate.integrity.findings[0].path).toBe('~/app/.git/hooks/pre-commit')
    expect((await inspectPath(dir)).valid).toBe(true)
  })

  it('absolute keeps the paths as they are', async () => {
    const dir = tempDir()
    const h = await beginRecord(dir, sampleDraft({paths: {style: 'absolute'}}))
    const record = JSON.parse(readFileSync(h.file, 'utf8'))
    expect(record.predicate.paths).toBe('absolute')
    expect(record.predicate.mounts[0].source).toBe('/home/dev/app')
  })
})
