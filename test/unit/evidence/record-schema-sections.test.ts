// The record schema's optional sections (worktree, outcome, podman commands, user refs, workspace,
// cluster run, connection, dependencies), value by value: each documented value is accepted, what
// lies just outside each bound is refused, so an edited record cannot read back as one the CLI
// wrote. Also the constants other code and the JSON schema rely on.
import {readFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {
  DigestSchema,
  EVIDENCE_PREDICATE_FAMILY,
  EVIDENCE_PREDICATE_TYPE,
  EVIDENCE_RECORD_SCHEMA_ID,
  EvidenceRecordSchema,
  STATEMENT_TYPE,
  type EvidenceRecord,
} from '../../../src/core/evidence/record.js'
import {REPO_ROOT} from '../../helpers/run-command.js'
import {beginRecord, sampleDraft, TEST_STATE_DIR, tempDir} from './helpers.js'

const dir = tempDir('record-sections-')
afterAll(() => {
  for (const d of [dir, TEST_STATE_DIR]) rmSync(d, {recursive: true, force: true})
})

const base: EvidenceRecord = await (async () => {
  const handle = await beginRecord(dir, sampleDraft({runId: 'sections-0001'}))
  return (await handle.complete({exitCode: 0})).record
})()

type Pred = Record<string, unknown> & EvidenceRecord['predicate']
const parses = (edit: (p: Pred) => void): boolean => {
  const copy = structuredClone(base) as EvidenceRecord & {predicate: Pred}
  edit(copy.predicate)
  return EvidenceRecordSchema.safeParse(copy).success
}
const hex = (n: number, c = 'a') => c.repeat(n)
const DIGEST = `sha256:${hex(64, '1')}`

/** Each value set through `set` on top of `make()`: the good ones parse, the bad ones do not. */
function bounds<T>(name: string, make: () => T, set: (p: Pred, v: T) => void, good: Array<(t: T) => void>, bad: Array<(t: T) => void>): void {
  expect(parses((p) => set(p, make())), `${name}: the base value`).toBe(true)
  good.forEach((g, i) => {
    const v = make()
    g(v)
    expect(parses((p) => set(p, v)), `${name}: good #${i}`).toBe(true)
  })
  bad.forEach((b, i) => {
    const v = make()
    b(v)
    expect(parses((p) => set(p, v)), `${name}: bad #${i}`).toBe(false)
  })
}

describe('the predicate', () => {
  it('verb is run, shell or export', () => {
    for (const verb of ['run', 'shell', 'export']) expect(parses((p) => (p.verb = verb as 'run')), verb).toBe(true)
    expect(parses((p) => (p.verb = 'exec' as 'run'))).toBe(false)
  })

  it('exit codes are whole numbers or null', () => {
    expect(parses((p) => (p.exitCode = null))).toBe(true)
    expect(parses((p) => (p.exitCode = -1))).toBe(true)
    expect(parses((p) => (p.exitCode = 0.5))).toBe(false)
  })

  it('the policy is the effective-policy format, whole-number pids limit', () => {
    expect(parses((p) => ((p.policy as {schema: string}).schema = 'sourceos.dev/other/v1'))).toBe(false)
    expect(parses((p) => (p.policy.resources.pidsLimit = 10.5))).toBe(false)
    expect(parses((p) => (p.policy.network = {mode: 'allowlist', allow: ['api.example.com:443'], allowHash: DIGEST}))).toBe(true)
  })
})

describe('the optional sections', () => {
  it('worktree: every path and name present, the base commit a 40- or 64-hex id', () => {
    bounds(
      'worktree',
      () => ({repo: '/home/dev/app', path: '/state/worktrees/x', target: '/workspace/app', branch: 'agent/codex-1', baseCommit: hex(40, 'c'), commonDir: '/home/dev/app/.git'}),
      (p, v) => (p.worktree = v),
      [(v) => (v.baseCommit = hex(64, 'd'))],
      [
        (v) => (v.repo = ''),
        (v) => (v.path = ''),
        (v) => (v.target = ''),
        (v) => (v.branch = ''),
        (v) => (v.commonDir = ''),
        (v) => (v.baseCommit = hex(39, 'c')),
        (v) => (v.baseCommit = hex(41, 'c')),
        (v) => (v.baseCommit = `x${hex(40, 'c')}`),
        (v) => (v.baseCommit = `${hex(40, 'c')}x`),
        (v) => (v.baseCommit = hex(40, 'C')),
      ],
    )
  })

  it('outcome: ran, failed or interrupted; an error has a code and a whole exit code', () => {
    bounds(
      'outcome',
      () => ({result: 'failed' as string, error: {code: 'PODMAN_CREATE_FAILED', message: 'x', exitCode: 4} as {code: string; message: string; exitCode: number} | null}),
      (p, v) => (p.outcome = v as never),
      [(v) => (v.result = 'ran'), (v) => (v.result = 'interrupted'), (v) => (v.error = null)],
      [(v) => (v.result = 'crashed'), (v) => (v.error!.code = ''), (v) => (v.error!.exitCode = 1.5)],
    )
  })

  it('podman commands that ran: an argv and a whole exit code or null', () => {
    expect(parses((p) => (p.podmanRan = [{argv: ['podman', 'start', 'x'], exitCode: null}]))).toBe(true)
    expect(parses((p) => (p.podmanRan = [{argv: ['podman'], exitCode: 0.5}]))).toBe(false)
  })

  it('the podman connection has a name', () => {
    expect(parses((p) => (p.podmanConnection = {name: 'm-root', uri: null, serverVersion: null}))).toBe(true)
    expect(parses((p) => (p.podmanConnection = {name: '', uri: null, serverVersion: null}))).toBe(false)
  })

  it('a resolved dependency or byproduct has a name', () => {
    expect(parses((p) => (p.resolvedDependencies = [{name: 'img', digest: {sha256: hex(64)}}]))).toBe(true)
    expect(parses((p) => (p.resolvedDependencies = [{name: '', digest: {sha256: hex(64)}}]))).toBe(false)
    expect(parses((p) => (p.byproducts = [{name: '', digest: {sha256: hex(64)}}]))).toBe(false)
  })

  it('workspace: a target, whole non-negative file and omitted counts', () => {
    const tree = () => ({commit: null, ref: null, tree: DIGEST, files: 0, truncated: null})
    bounds(
      'workspace',
      () => ({target: '/workspace/app', before: tree(), after: tree() as ReturnType<typeof tree> | null, changes: {added: [], modified: [], removed: [], omitted: 0} as {added: string[]; modified: string[]; removed: string[]; omitted: number} | null}),
      (p, v) => (p.workspace = [v]),
      [(v) => (v.after = null), (v) => (v.changes = null), (v) => (v.before.files = 7)],
      [(v) => (v.target = ''), (v) => (v.before.files = -1), (v) => (v.before.files = 1.5), (v) => (v.changes!.omitted = -1), (v) => (v.before.tree = 'sha256:short')],
    )
  })

  it('user refs: a repo; refs under refs/ without control characters, at most 1024 after it, pointing at 40- or 64-hex ids; whole non-negative counts', () => {
    const ref = (name: string, commit = hex(40, 'b')) => ({name, commit})
    const list = () => ({count: 1, digest: DIGEST, refs: [ref('refs/heads/main')] as Array<{name: string; commit: string}> | null})
    bounds(
      'userRefs',
      () => ({repo: '/home/dev/app', before: list(), after: list(), changes: {added: [], changed: [] as Array<{name: string; before: string; after: string}>, removed: [], omitted: 0}, error: null}),
      (p, v) => (p.userRefs = v),
      [
        (v) => (v.before.refs = [ref(`refs/${'x'.repeat(1024)}`)]),
        (v) => (v.before.refs = [ref('refs/heads/main', hex(64, 'e'))]),
        (v) => (v.before.refs = null),
        (v) => (v.before.count = 0),
        (v) => (v.changes.changed = [{name: 'refs/heads/main', before: hex(40, 'b'), after: hex(40, 'c')}]),
      ],
      [
        (v) => (v.repo = ''),
        (v) => (v.before.refs = [ref(`refs/${'x'.repeat(1025)}`)]),
        (v) => (v.before.refs = [ref('refs/')]),
        (v) => (v.before.refs = [ref('heads/main')]),
        (v) => (v.before.refs = [ref('xrefs/heads/main')]),
        (v) => (v.before.refs = [ref('refs/heads/ma\nin')]),
        (v) => (v.before.refs = [ref('refs/heads/main\u007f')]),
        (v) => (v.before.refs = [ref('refs/heads/main', hex(41, 'b'))]),
        (v) => (v.before.refs = [ref('refs/heads/main', `x${hex(40, 'b')}`)]),
        (v) => (v.before.refs = [ref('refs/heads/main', `${hex(40, 'b')}x`)]),
        (v) => (v.before.count = -1),
        (v) => (v.changes.omitted = -1),
        (v) => (v.changes.changed = [{name: 'refs/heads/main', before: 'nope', after: hex(40, 'c')}]),
      ],
    )
  })

  it('a cluster run: an engine, the pod or split layout, a named Pod, a repo URL, pinned and cloned commits as 40- or 64-hex ids, a named bundle of whole non-negative size', () => {
    const commit = hex(40, 'c')
    const kube = () => ({
      engine: 'podman kube play',
      layout: 'pod',
      pod: {name: 'sourceos-agent-x', uid: null as string | null, node: 'n'},
      manifestDigest: DIGEST,
      playedDigest: DIGEST,
      resourcesApplied: true,
      repo: {url: 'https://git.example/app.git', commit, clonedCommit: null as string | null},
      containers: [{name: 'agent', imageId: null, user: '1000:1000', readOnlyRoot: true, noNewPrivileges: true, capAdd: [], privileged: false, seccomp: 'default', exitCode: 0 as number | null}],
      bundle: {file: 'bundles/x.bundle', digest: DIGEST, bytes: 0, heads: []} as {file: string; digest: string; bytes: number; heads: string[]} | null,
      bundleRefused: null,
    })
    bounds(
      'kube',
      kube,
      (p, v) => (p.kube = v as never),
      [(v) => (v.layout = 'split'), (v) => (v.repo.clonedCommit = commit), (v) => (v.repo.commit = hex(64, 'd')), (v) => (v.bundle = null), (v) => (v.containers[0]!.exitCode = null)],
      [
        (v) => (v.engine = ''),
        (v) => (v.layout = 'deployment'),
        (v) => (v.pod.name = ''),
        (v) => (v.repo.url = ''),
        (v) => (v.repo.commit = hex(39, 'c')),
        (v) => (v.repo.commit = `x${commit}`),
        (v) => (v.repo.commit = `${commit}x`),
        (v) => (v.repo.clonedCommit = hex(41, 'c')),
        (v) => (v.repo.clonedCommit = `x${commit}`),
        (v) => (v.repo.clonedCommit = `${commit}x`),
        (v) => (v.repo.clonedCommit = `${commit}${'x'.repeat(24)}`),
        (v) => (v.containers[0]!.name = ''),
        (v) => (v.containers[0]!.exitCode = 1.5),
        (v) => (v.bundle!.file = ''),
        (v) => (v.bundle!.bytes = -1),
        (v) => (v.bundle!.digest = 'sha256:short'),
        (v) => (v.manifestDigest = 'sha256:short'),
      ],
    )
  })
})

describe('more of the predicate', () => {
  it('the builder is an id and a version, nothing else', () => {
    expect(parses((p) => (p.builder = {id: 'https://sourceos.dev/sourceosctl/agent-machine', version: '1.2.3'}))).toBe(true)
    expect(parses((p) => (p.builder = {id: 'x', version: '1', extra: 1} as never))).toBe(false)
  })

  it('the podman commands after the create are an init and a start, nothing else', () => {
    expect(parses((p) => (p.podmanCommands = {init: ['podman', 'init', 'x'], start: ['podman', 'start', 'x']}))).toBe(true)
    expect(parses((p) => (p.podmanCommands = {init: [], start: [], exec: []} as never))).toBe(false)
  })

  it('the fallback subject is run:<id> at the start, with exactly 64 hex digits', () => {
    const parsesSubject = (name: string, sha256: string) => {
      const copy = structuredClone(base)
      copy.subject = [{name, digest: {sha256}}]
      return EvidenceRecordSchema.safeParse(copy).success
    }
    expect(parsesSubject('run:sections-0001', hex(64))).toBe(true)
    expect(parsesSubject('xrun:sections-0001', hex(64))).toBe(false)
    expect(parsesSubject('run:sections-0001', `x${hex(64)}`)).toBe(false)
    expect(parsesSubject('run:sections-0001', `${hex(64)}x`)).toBe(false)
  })

  it('a refused digest, commit or ref says what was expected (inspect shows it as the finding)', () => {
    const issue = (edit: (r: EvidenceRecord & {predicate: Pred}) => void) => {
      const copy = structuredClone(base) as EvidenceRecord & {predicate: Pred}
      edit(copy)
      const r = EvidenceRecordSchema.safeParse(copy)
      return r.success ? '' : r.error.issues.map((i) => i.message).join('; ')
    }
    expect(DigestSchema.safeParse('sha256:x').error?.issues[0]?.message).toMatch(/sha256:<64 lowercase hex>/)
    expect(issue((r) => (r.subject = [{name: '/workspace/app', digest: {gitCommit: 'x'}}]))).toMatch(/40- or 64-hex git commit id/)
    const worktree = {repo: '/r', path: '/p', target: '/t', branch: 'b', baseCommit: 'x', commonDir: '/r/.git'}
    expect(issue((r) => (r.predicate.worktree = worktree))).toMatch(/40- or 64-hex git commit id/)
    const kube = {engine: 'e', layout: 'pod', pod: {name: 'p', uid: null, node: 'n'}, manifestDigest: DIGEST, playedDigest: DIGEST, resourcesApplied: true, repo: {url: 'u', commit: 'x', clonedCommit: null}, containers: [], bundle: null, bundleRefused: null}
    expect(issue((r) => (r.predicate.kube = kube as never))).toMatch(/40- or 64-hex git commit id/)
    const refs = (name: string, commit: string) => ({repo: '/r', before: {count: 1, digest: DIGEST, refs: [{name, commit}]}, after: null, changes: null, error: null})
    expect(issue((r) => (r.predicate.userRefs = refs('heads/main', hex(40))))).toMatch(/a ref name under refs\//)
    expect(issue((r) => (r.predicate.userRefs = refs('refs/heads/main', 'x')))).toMatch(/40- or 64-hex object id/)
  })
})

describe('the constants', () => {
  it('a record is an in-toto Statement v1 with the agent-machine v1alpha1 predicate (other tools read these URIs)', () => {
    expect(STATEMENT_TYPE).toBe('https://in-toto.io/Statement/v1')
    expect(EVIDENCE_PREDICATE_TYPE).toBe('https://sourceos.dev/agent-machine/evidence/v1alpha1')
    expect(base._type).toBe(STATEMENT_TYPE)
  })

  it('the predicate type is a member of its family (inspect tells a newer member from a foreign type by it)', () => {
    expect(EVIDENCE_PREDICATE_TYPE.startsWith(EVIDENCE_PREDICATE_FAMILY)).toBe(true)
    expect(EVIDENCE_PREDICATE_FAMILY).toMatch(/^https:\/\/sourceos\.dev\/agent-machine\/evidence\/$/)
  })

  it('the JSON schema of the record is published under its id', () => {
    const schema = JSON.parse(readFileSync(join(REPO_ROOT, 'schemas', 'agent-machine-evidence-record.schema.json'), 'utf8')) as {$id: string}
    expect(schema.$id).toBe(EVIDENCE_RECORD_SCHEMA_ID)
    expect(EVIDENCE_RECORD_SCHEMA_ID).toMatch(/^https:\/\/sourceos\.dev\/schemas\/agent-machine-evidence-record\.schema\.json$/)
  })
})
