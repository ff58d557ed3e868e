// A session's exec log (exec/<runId>.jsonl) is not signed; the record's signed byproduct entry
// commits to the sha256 of its lines when the session ends. evidence inspect holds the log to that
// digest, so an exec line removed or edited afterwards, or the log deleted, moved or swapped for a
// link, is a finding on the record; a line appended after those (the end of an exec that outlived
// its session) is told as not covered by the signature.
import {createHash} from 'node:crypto'
import {appendFileSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {appendExecEvent, execLogByproduct, execLogPath} from '../../../src/core/sessions/exec-evidence.js'
import {beginRecord, inspectPath, sampleDraft, tempDir} from './helpers.js'

const FIELD = 'predicate.byproducts: exec-log'

/** A completed, signed session record whose exec log holds two commands (four lines). */
async function sessionWithExecs() {
  const dir = tempDir()
  const h = await beginRecord(dir, sampleDraft())
  for (const [execId, argv] of [['a1', ['npm', 'test']], ['b2', ['git', 'status']]] as const) {
    await appendExecEvent(dir, {event: 'exec-start', runId: h.runId, execId, record: h.file.split('/').at(-1)!, at: '2026-12-06T19:00:00.000Z', argv: [...argv], tty: false})
    await appendExecEvent(dir, {event: 'exec-end', runId: h.runId, execId, record: h.file.split('/').at(-1)!, at: '2026-12-06T19:00:01.000Z', exitCode: 0})
  }
  await h.complete({exitCode: 0, ...(await execLogByproduct(dir, h.runId))})
  const log = execLogPath(dir, h.runId)
  return {dir, log, runId: h.runId}
}

async function committedDigest(dir: string): Promise<string> {
  const records = (await inspectPath(dir)).records
  const record = JSON.parse(readFileSync(join(dir, 'records', records[0]!.file.split('/').at(-1)!), 'utf8')) as {predicate: {byproducts: Array<{digest: {sha256: string}}>}}
  return record.predicate.byproducts[0]!.digest.sha256
}

const execLogFindings = async (dir: string) => (await inspectPath(dir)).findings.filter((f) => f.field === FIELD)

describe('evidence inspect holds a session’s exec log to the digest its signed record committed to', () => {
  it('the log as the session left it: no finding, and the record lists it with its event count', async () => {
    const {dir, runId} = await sessionWithExecs()
    const result = await inspectPath(dir)
    expect(result.findings).toEqual([])
    expect(result.valid).toBe(true)
    expect(result.records[0]!.note).toBeNull()
    const record = JSON.parse(readFileSync(join(dir, 'records', result.records[0]!.file.split('/').at(-1)!), 'utf8')) as {predicate: {byproducts: Array<{name: string; annotations: Record<string, string>}>}}
    expect(record.predicate.byproducts).toEqual([expect.objectContaining({name: 'exec-log', annotations: {role: 'byproduct', path: `exec/${runId}.jsonl`, events: '4'}})])
  })

  it.each([
    ['a line removed', (text: string) => text.split('\n').filter((_, i) => i !== 1).join('\n')],
    ['a line edited (the exit code)', (text: string) => text.replace('"exitCode":0', '"exitCode":1')],
    ['a line inserted before the last', (text: string) => text.replace(/\n(?=[^\n]*\n$)/, `\n${text.split('\n')[0]}\n`)],
    ['emptied', () => ''],
  ])('%s: the record is invalid, the finding names the log', async (_what, change) => {
    const {dir, log, runId} = await sessionWithExecs()
    writeFileSync(log, change(readFileSync(log, 'utf8')))
    const findings = await execLogFindings(dir)
    expect(findings).toHaveLength(1)
    expect(findings[0]!.problem).toContain(`exec/${runId}.jsonl is not what the record committed to`)
    expect((await inspectPath(dir)).valid).toBe(false)
  })

  it('lines appended after the session ended (an exec that outlived it): valid, and told as not covered by the signature', async () => {
    const {dir, log, runId} = await sessionWithExecs()
    await appendExecEvent(dir, {event: 'exec-start', runId, execId: 'c3', record: 'x', at: '2026-12-06T19:05:00.000Z', argv: ['sh'], tty: true})
    await appendExecEvent(dir, {event: 'exec-end', runId, execId: 'c3', record: 'x', at: '2026-12-06T19:05:01.000Z', exitCode: 137})
    expect(readFileSync(log, 'utf8').split('\n').filter(Boolean)).toHaveLength(6)
    const result = await inspectPath(dir)
    expect(result.findings).toEqual([])
    expect(result.valid).toBe(true)
    expect(result.records[0]!.note).toBe(`exec/${runId}.jsonl: 2 exec lines written after the session ended (e.g. the end of an exec that outlived it), not covered by the record's signature`)
  })

  it('the committed lines changed and a line appended: the change is still found', async () => {
    const {dir, log, runId} = await sessionWithExecs()
    const text = readFileSync(log, 'utf8')
    writeFileSync(log, `${text.replace('"npm"', '"sh"')}${text.split('\n')[0]}\n`)
    expect((await execLogFindings(dir)).map((f) => f.problem)).toEqual([`exec/${runId}.jsonl is not what the record committed to when the session ended (sha256 ${(await committedDigest(dir))} over 4 lines): exec lines were removed or changed since`])
  })

  it('the log deleted, or moved away: gone', async () => {
    const a = await sessionWithExecs()
    rmSync(a.log)
    expect((await execLogFindings(a.dir)).map((f) => f.problem)).toEqual([`the exec log it commits to (exec/${a.runId}.jsonl) is gone (deleted or moved)`])
    const b = await sessionWithExecs()
    rmSync(join(b.dir, 'exec'), {recursive: true})
    expect((await execLogFindings(b.dir))[0]!.problem).toContain('is gone: no exec/ folder')
  })

  it('the log, or its folder, replaced by a link to identical bytes: not followed, a finding', async () => {
    const a = await sessionWithExecs()
    const copy = join(tempDir('exec-copy-'), 'log.jsonl')
    renameSync(a.log, copy)
    symlinkSync(copy, a.log)
    expect((await execLogFindings(a.dir))[0]!.problem).toMatch(/is a symlink/)

    const b = await sessionWithExecs()
    const elsewhere = tempDir('exec-dir-')
    renameSync(join(b.dir, 'exec'), join(elsewhere, 'exec'))
    symlinkSync(join(elsewhere, 'exec'), join(b.dir, 'exec'))
    expect((await execLogFindings(b.dir))[0]!.problem).toContain('exec/ is a symlink')
  })

  it('the log replaced by a folder: a finding', async () => {
    const {dir, log} = await sessionWithExecs()
    rmSync(log)
    mkdirSync(log)
    expect((await execLogFindings(dir))[0]!.problem).toMatch(/not a regular file/)
  })

  it('a session without exec lists no exec log, and a stray log beside it is not held to anything', async () => {
    const dir = tempDir()
    const h = await beginRecord(dir, sampleDraft())
    await h.complete({exitCode: 0, ...(await execLogByproduct(dir, h.runId))})
    mkdirSync(join(dir, 'exec'))
    appendFileSync(join(dir, 'exec', `${h.runId}.jsonl`), '{}\n')
    const result = await inspectPath(dir)
    expect(result.findings).toEqual([])
    expect(result.records[0]!.note).toBeNull()
  })
})

describe('what inspect takes from the record’s exec-log entry, and what it does not trust', () => {
  /** A signed, completed record whose byproducts are given as is (the writer's own list, crafted). */
  async function recordWith(byproducts: Array<{name: string; digest: Record<string, string>; annotations?: Record<string, string>}>, log?: string) {
    const dir = tempDir()
    const h = await beginRecord(dir, sampleDraft())
    if (log !== undefined) {
      mkdirSync(join(dir, 'exec'))
      writeFileSync(execLogPath(dir, h.runId), log)
    }
    await h.complete({exitCode: 0, byproducts})
    return {dir, runId: h.runId}
  }
  const LINE = '{"v":1}\n'
  const digestOf = (text: string) => createHash('sha256').update(text).digest('hex')

  it('another byproduct (the egress proxy’s access log) is not held to a file here', async () => {
    const {dir} = await recordWith([{name: 'egress-proxy-access-log', digest: {sha256: 'a'.repeat(64)}, annotations: {role: 'byproduct'}}])
    const result = await inspectPath(dir)
    expect(result.findings).toEqual([])
    expect(result.records[0]!.note).toBeNull()
  })

  it('the log is read at exec/<runId>.jsonl only, whatever path the entry names (and a wrong one is a finding)', async () => {
    const {dir} = await recordWith([{name: 'exec-log', digest: {sha256: digestOf(LINE)}, annotations: {role: 'byproduct', path: '../elsewhere.jsonl', events: '1'}}], LINE)
    const problems = (await execLogFindings(dir)).map((f) => f.problem)
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatch(/^names the exec log at "\.\.\/elsewhere\.jsonl", but a run's exec log is exec\/.+\.jsonl$/)
  })

  it('an entry without a path or an event count: both named, the log not accepted', async () => {
    const {dir, runId} = await recordWith([{name: 'exec-log', digest: {sha256: digestOf(LINE)}}], LINE)
    expect((await execLogFindings(dir)).map((f) => f.problem)).toEqual([
      `names the exec log at null, but a run's exec log is exec/${runId}.jsonl`,
      `exec/${runId}.jsonl is not what the record committed to when the session ended (sha256 ${digestOf(LINE)} over ? lines): exec lines were removed or changed since`,
    ])
  })

  it.each([['-1'], ['1.5'], ['two'], ['']])('an event count of %j is not a count: the log is not accepted', async (events) => {
    const {dir, runId} = await recordWith([{name: 'exec-log', digest: {sha256: digestOf(LINE)}, annotations: {role: 'byproduct', path: 'p', events}}], LINE)
    const problems = (await execLogFindings(dir)).map((f) => f.problem)
    expect(problems.at(-1)).toBe(`exec/${runId}.jsonl is not what the record committed to when the session ended (sha256 ${digestOf(LINE)} over ${events} lines): exec lines were removed or changed since`)
  })

  it('a count of 0 over an empty digest commits to nothing: every line is later, told in the note', async () => {
    const {dir, runId} = await recordWith([{name: 'exec-log', digest: {sha256: digestOf('')}, annotations: {role: 'byproduct', path: 'x', events: '0'}}], `${LINE}${LINE}`)
    const result = await inspectPath(dir)
    expect(result.findings.filter((f) => f.field === FIELD).map((f) => f.problem)).toEqual([`names the exec log at "x", but a run's exec log is exec/${runId}.jsonl`])
    expect(result.records[0]!.note).toBe(`exec/${runId}.jsonl: 2 exec lines written after the session ended (e.g. the end of an exec that outlived it), not covered by the record's signature`)
  })

  it('one later line is told in the singular', async () => {
    const {dir, runId} = await recordWith([{name: 'exec-log', digest: {sha256: digestOf(LINE)}, annotations: {role: 'byproduct', path: 'p', events: '1'}}], `${LINE}${LINE}`)
    expect((await inspectPath(dir)).records[0]!.note).toBe(`exec/${runId}.jsonl: 1 exec line written after the session ended (e.g. the end of an exec that outlived it), not covered by the record's signature`)
  })

  it('the log listed twice: named', async () => {
    const entry = {name: 'exec-log', digest: {sha256: digestOf(LINE)}, annotations: {role: 'byproduct', path: 'p', events: '1'}}
    const {dir} = await recordWith([entry, entry], LINE)
    expect((await execLogFindings(dir))[0]!.problem).toBe('lists the exec log 2 times')
  })

  it('a log file that ends in the middle of a committed line: not accepted', async () => {
    const {dir} = await recordWith([{name: 'exec-log', digest: {sha256: digestOf(`${LINE}${LINE}`)}, annotations: {role: 'byproduct', path: 'p', events: '2'}}], `${LINE}{"v":1}`)
    expect((await execLogFindings(dir)).at(-1)!.problem).toMatch(/is not what the record committed to .* over 2 lines/)
  })
})
