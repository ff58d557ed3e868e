// The record schema's bounds, value by value: every documented value of each enum and literal is
// accepted (a record the CLI writes with it must still read back), and what lies just outside each
// pattern is refused (inspect must name a record that was edited into it). Over a real completed
// record written by the store.
import {rmSync} from 'node:fs'
import {afterAll, describe, expect, it} from 'vitest'

import {EvidenceRecordSchema, recordDigest, RUN_ID_PATTERN, serializeRecord, subjectFor, type EvidenceRecord} from '../../../src/core/evidence/record.js'
import {beginRecord, sampleDraft, TEST_STATE_DIR, tempDir} from './helpers.js'

const dir = tempDir('record-bounds-')
afterAll(() => {
  for (const d of [dir, TEST_STATE_DIR]) rmSync(d, {recursive: true, force: true})
})

const base: EvidenceRecord = await (async () => {
  const handle = await beginRecord(dir, sampleDraft({runId: 'bounds-0001'}))
  return (await handle.complete({exitCode: 0})).record
})()

type Edit = (r: EvidenceRecord & {predicate: Record<string, unknown>}) => void
const edited = (edit: Edit): unknown => {
  const copy = structuredClone(base) as EvidenceRecord & {predicate: Record<string, unknown>}
  edit(copy)
  return copy
}
const accepts = (edit: Edit) => {
  const r = EvidenceRecordSchema.safeParse(edited(edit))
  expect(r.success, r.success ? '' : JSON.stringify(r.error.issues.slice(0, 3))).toBe(true)
}
const refuses = (edit: Edit) => expect(EvidenceRecordSchema.safeParse(edited(edit)).success).toBe(false)
const hex = (n: number, c = 'a') => c.repeat(n)

describe('the record schema', () => {
  it('reads back the record the store wrote', () => {
    accepts(() => {})
  })

  it('run ids: a letter or digit, then up to 127 of letters, digits, . _ -; nothing path-like, no whitespace', () => {
    for (const id of ['a', '0', 'A.b_c-1', `a${'b'.repeat(127)}`]) {
      expect(RUN_ID_PATTERN.test(id), id).toBe(true)
      accepts((r) => (r.predicate.runId = id))
    }
    for (const id of ['', '.a', '-a', '_a', 'a/b', '../x', 'a b', 'a\n', '\na', `a${'b'.repeat(128)}`, 'a:b']) {
      expect(RUN_ID_PATTERN.test(id), JSON.stringify(id)).toBe(false)
      refuses((r) => (r.predicate.runId = id))
    }
  })

  it('digests are sha256: and exactly 64 lowercase hex digits', () => {
    accepts((r) => (r.predicate.policyHash = `sha256:${hex(64, '0')}`))
    for (const d of [`sha256:${hex(63)}`, `sha256:${hex(65)}`, `sha256:${hex(64, 'A')}`, `sha512:${hex(64)}`, hex(64), `xsha256:${hex(64)}`, `sha256:${hex(64)}\n`]) {
      refuses((r) => (r.predicate.policyHash = d))
    }
  })

  it('timestamps are RFC 3339 in UTC (Z), never with an offset or without a zone', () => {
    accepts((r) => (r.predicate.startedAt = '2026-01-02T03:04:05Z'))
    for (const t of ['2026-01-02T03:04:05+01:00', '2026-01-02T03:04:05', '2026-01-02', 'yesterday']) refuses((r) => (r.predicate.startedAt = t))
  })

  it('a repo subject carries a 40- or 64-hex commit; the fallback subject is run:<id> with a 64-hex sha256; there is always one', () => {
    accepts((r) => (r.subject = [{name: '/workspace/app', digest: {gitCommit: hex(64, 'b')}}]))
    for (const c of [hex(39), hex(41), hex(63), hex(40, 'G'), hex(40, 'A')]) refuses((r) => (r.subject = [{name: '/workspace/app', digest: {gitCommit: c}}]))
    refuses((r) => (r.subject = [{name: '', digest: {gitCommit: hex(40)}}]))
    accepts((r) => (r.subject = [{name: 'run:bounds-0001', digest: {sha256: hex(64)}}]))
    refuses((r) => (r.subject = [{name: 'bounds-0001', digest: {sha256: hex(64)}}]))
    refuses((r) => (r.subject = [{name: 'run:bounds-0001', digest: {sha256: hex(63)}}]))
    refuses((r) => (r.subject = []))
  })

  it('accepts every documented value of each enum and literal, and refuses one outside', () => {
    const cases: Array<[string, Array<unknown>, unknown, (r: EvidenceRecord & {predicate: Record<string, unknown>}, v: unknown) => void]> = [
      ['status', ['started', 'completed', 'incomplete'], 'done', (r, v) => (r.predicate.status = v as never)],
      ['verb', ['run', 'shell'], 'exec', (r, v) => (r.predicate.verb = v as never)],
      ['mount mode', ['rw', 'ro'], 'wo', (r, v) => ((r.predicate.mounts as Array<{mode: unknown}>)[0]!.mode = v)],
      ['host platform', ['linux', 'macos', 'windows'], 'darwin', (r, v) => ((r.predicate.host as {platform: unknown}).platform = v)],
      ['policy platform', ['linux', 'macos', 'windows'], 'bsd', (r, v) => (r.predicate.policy.platform = v as 'linux')],
      ['image pull', ['never', 'missing'], 'always', (r, v) => (r.predicate.policy.image.pull = v as 'never')],
      ['network mode', ['none', 'allowlist', 'open', 'default'], 'host', (r, v) => (r.predicate.policy.network.mode = v as 'none')],
      ['userns', ['keep-id', 'host-root', 'n/a'], 'host', (r, v) => (r.predicate.policy.hardening.userns = v as 'keep-id')],
      ['capDrop', ['all'], 'none', (r, v) => (r.predicate.policy.hardening.capDrop = v as 'all')],
      ['noNewPrivileges', [true], false, (r, v) => (r.predicate.policy.hardening.noNewPrivileges = v as true)],
      ['readOnlyRoot', [true], false, (r, v) => (r.predicate.policy.hardening.readOnlyRoot = v as true)],
      ['init', [true], false, (r, v) => (r.predicate.policy.hardening.init = v as true)],
      ['envHost', [false], true, (r, v) => (r.predicate.policy.hardening.envHost = v as false)],
      ['httpProxy', [false], true, (r, v) => (r.predicate.policy.hardening.httpProxy = v as false)],
      ['secrets door', ['none', 'proxy'], 'vault', (r, v) => (r.predicate.policy.secrets.door = v as 'none')],
      ['door upstream', ['https', 'http'], 'ftp', (r, v) => (r.predicate.policy.secrets.inject = [{secret: 's', host: 'api.example.com', header: 'Authorization', upstream: v as 'https'}])],
      ['toolState', ['volume'], 'tmpfs', (r, v) => (r.predicate.policy.secrets.toolState = v as 'volume')],
      ['paths', ['absolute', 'home-relative'], 'relative', (r, v) => (r.predicate.paths = v as never)],
      ['verification method', ['proc-root-inode', 'inspect-paths'], 'trust', (r, v) => (r.predicate.verification = {method: v as never, via: null, mounts: [], unverified: []})],
      ['verification via', ['direct', 'podman-unshare', null], 'nsenter', (r, v) => (r.predicate.verification = {method: 'proc-root-inode', via: v as never, mounts: [], unverified: []})],
      ['integrity change', ['new', 'changed', 'removed'], 'moved', (r, v) => (r.predicate.integrity = {findings: [{path: '/p', change: v as never, reason: 'r', action: 'report', quarantinedAt: null}], newWriteProtected: [], quarantineDir: null})],
      ['integrity action', ['quarantine', 'restore', 'report'], 'delete', (r, v) => (r.predicate.integrity = {findings: [{path: '/p', change: 'new', reason: 'r', action: v as never, quarantinedAt: null}], newWriteProtected: [], quarantineDir: null})],
      ['schemaVersion', [1], 2, (r, v) => (r.predicate.schemaVersion = v as never)],
    ]
    for (const [name, good, bad, set] of cases) {
      for (const v of good) {
        const r = EvidenceRecordSchema.safeParse(edited((rec) => set(rec, v)))
        expect(r.success, `${name} = ${JSON.stringify(v)}: ${r.success ? '' : JSON.stringify(r.error.issues[0])}`).toBe(true)
      }
      expect(EvidenceRecordSchema.safeParse(edited((rec) => set(rec, bad))).success, `${name} = ${JSON.stringify(bad)}`).toBe(false)
    }
  })

  it('the statement type and predicate type are fixed', () => {
    refuses((r) => ((r as {_type: string})._type = 'https://in-toto.io/Statement/v0.1'))
    refuses((r) => ((r as {predicateType: string}).predicateType = 'https://sourceos.dev/agent-machine/evidence/v2'))
  })

  it('verification identities are decimal device and inode numbers', () => {
    const withMount = (dev: string, ino: string): Edit => (r) => (r.predicate.verification = {method: 'proc-root-inode', via: 'direct', mounts: [{target: '/workspace/app', dev, ino}], unverified: []})
    accepts(withMount('2049', '18446744073709551615'))
    for (const [dev, ino] of [['0x801', '1'], ['2049', '-1'], ['', '1'], ['1', '1.5'], ['1 ', '1']] as const) refuses(withMount(dev, ino))
    refuses((r) => (r.predicate.verification = {method: 'proc-root-inode', via: 'direct', mounts: [{target: '', dev: '1', ino: '1'}], unverified: []}))
  })

  it('the chain starts at seq 1 with whole numbers; hashed-file counts are whole and not negative', () => {
    accepts((r) => ((r.predicate.chain as {seq: number}).seq = 1))
    for (const seq of [0, -1, 1.5]) refuses((r) => ((r.predicate.chain as {seq: number}).seq = seq))
    refuses((r) => ((r.predicate.chain as {prev: string | null}).prev = 'sha256:short'))
    refuses((r) => (r.predicate.exitCode = 1.5))
  })

  it('empty paths and names are refused where the record needs one (mount source and target, image ref and id, git target)', () => {
    refuses((r) => ((r.predicate.mounts as Array<{source: string}>)[0]!.source = ''))
    refuses((r) => ((r.predicate.mounts as Array<{target: string}>)[0]!.target = ''))
    refuses((r) => ((r.predicate.image as {ref: string}).ref = ''))
    refuses((r) => ((r.predicate.image as {id: string}).id = ''))
    refuses((r) => ((r.predicate.git as Array<{target: string}>)[0]!.target = ''))
  })

  it('a field the schema does not know is refused at every level (record, predicate, policy, hardening, mount)', () => {
    refuses((r) => Object.assign(r, {extra: 1}))
    refuses((r) => (r.predicate.extra = 1))
    refuses((r) => Object.assign(r.predicate.policy, {extra: 1}))
    refuses((r) => Object.assign(r.predicate.policy.hardening, {privileged: true}))
    refuses((r) => Object.assign((r.predicate.mounts as object[])[0]!, {propagation: 'shared'}))
    refuses((r) => Object.assign(r.predicate.toolVersions as object, {extra: 1}))
    refuses((r) => Object.assign(r.predicate.host as object, {kernel: 'x'}))
  })
})

describe('record bytes, digest and subject', () => {
  it('the file is the canonical JSON plus one newline; the digest is sha256 over the bytes without it', async () => {
    const {createHash} = await import('node:crypto')
    const text = serializeRecord(base)
    expect(text.endsWith('}\n')).toBe(true)
    expect(text.slice(0, -1)).not.toContain('\n')
    expect(recordDigest(base)).toBe(`sha256:${createHash('sha256').update(text.slice(0, -1), 'utf8').digest('hex')}`)
  })

  it('the subject names every repo with a commit; with none, run:<id> and the sha256 of the id', async () => {
    const {createHash} = await import('node:crypto')
    expect(subjectFor('r1', [{target: '/a', ref: null, commit: hex(40, 'c'), dirty: false}, {target: '/b', ref: null, commit: null, dirty: null}, {target: '/c', ref: null, commit: hex(40, 'd'), dirty: true}])).toEqual([
      {name: '/a', digest: {gitCommit: hex(40, 'c')}},
      {name: '/c', digest: {gitCommit: hex(40, 'd')}},
    ])
    expect(subjectFor('r1', [{target: '/b', ref: null, commit: null, dirty: null}])).toEqual([{name: 'run:r1', digest: {sha256: createHash('sha256').update('r1').digest('hex')}}])
    expect(subjectFor('r1', [])).toHaveLength(1)
  })
})
