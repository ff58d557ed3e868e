import {readFileSync, writeFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import EvidenceInspect from '../../src/commands/agent-machine/evidence/inspect.js'
import {schemaErrors} from '../helpers/json-schema.js'
import {runCommand} from '../helpers/run-command.js'
import {fakeHostFacts} from '../helpers/host-facts.js'
import {beginRecord, sampleDraft, tempDir, TEST_STATE_DIR} from '../unit/evidence/helpers.js'

/** This host's state dir is the tests': its signing key signed the records (as run/shell do). */
const host = {hostFacts: async () => fakeHostFacts('linux', {env: {SOURCEOSCTL_STATE_DIR: TEST_STATE_DIR}})}
const inspect = (argv: string[]) => runCommand(EvidenceInspect, argv, host)

const RESULT_SCHEMA = 'agent-machine-evidence-inspect-result.schema.json'

async function evidenceDir(n: number, opts: {leaveLastStarted?: boolean} = {}): Promise<{dir: string; files: string[]}> {
  const dir = tempDir()
  const files: string[] = []
  for (let i = 0; i < n; i++) {
    const h = await beginRecord(dir, sampleDraft())
    if (!(opts.leaveLastStarted && i === n - 1)) await h.complete({exitCode: i, finishedAt: '2026-01-02T03:06:00.000Z'})
    files.push(h.file)
  }
  return {dir, files}
}

describe('evidence inspect', () => {
  it('summarises a valid dir: what ran, where, mounts, image, git, exit code (exit 0)', async () => {
    const {dir} = await evidenceDir(2, {leaveLastStarted: true})
    const out = await inspect([dir, '--long'])
    expect(out.exitCode).toBe(0)
    expect(out.stdout).toContain('000001-')
    expect(out.stdout).toMatch(/ran\s+run codex · sourceosctl agent-machine run --tool codex --repo \/home\/dev\/app/)
    expect(out.stdout).toMatch(/where\s+linux · Debian GNU\/Linux 12 \(bookworm\) 12 · x64/)
    expect(out.stdout).toMatch(/mounts\s+\/home\/dev\/app → \/workspace\/app \(rw\)/)
    expect(out.stdout).toMatch(/image\s+localhost\/sourceos\/agent:latest · id aaaaaaaaaaaa · digest none/)
    expect(out.stdout).toMatch(/git\s+\/workspace\/app: refs\/heads\/main @ cccccccccccc, clean/)
    expect(out.stdout).toContain('completed, exit 0')
    expect(out.stdout).toContain('incomplete: never completed (still running, or the CLI was killed)')
    expect(out.stdout).toContain('(recomputed: matches)')
    expect(out.stdout).toContain('Evidence valid: 2 records, chain intact, signed (1 incomplete: never completed).')
  })

  it('--json validates against its schema', async () => {
    const {dir} = await evidenceDir(3, {leaveLastStarted: true})
    const out = await inspect([dir, '--json'])
    expect(out.exitCode).toBe(0)
    expect(schemaErrors(RESULT_SCHEMA, out.json)).toEqual([])
    expect(out.json).toMatchObject({valid: true, kind: 'dir', incomplete: 1, findings: []})
  })

  it('records validate against the generated record schema, and index lines against theirs', async () => {
    const {dir, files} = await evidenceDir(2, {leaveLastStarted: true})
    for (const f of files) expect(schemaErrors('agent-machine-evidence-record.schema.json', JSON.parse(readFileSync(f, 'utf8')))).toEqual([])
    for (const line of readFileSync(join(dir, 'index.jsonl'), 'utf8').trimEnd().split('\n')) {
      expect(schemaErrors('agent-machine-evidence-index-entry.schema.json', JSON.parse(line))).toEqual([])
    }
  })

  it('one changed byte: exit 5, naming the record file, human and --json', async () => {
    const {dir, files} = await evidenceDir(3)
    const file = files[1] ?? ''
    writeFileSync(file, readFileSync(file, 'utf8').replace('"tool":"codex"', '"tool":"codey"'))
    const human = await inspect([dir])
    expect(human.exitCode).toBe(5)
    expect(human.stdout).toContain(`record ${file}: altered: its digest`)
    expect(human.stdout).toContain(`record ${file}: field signature: ${file.split('/').pop()}.dsse is signed, but signs other content: the record was changed after it was signed`)
    expect(human.stdout).toContain('Evidence INVALID: 2 problems (exit 5).')
    const json = await inspect([file, '--json'])
    expect(json.exitCode).toBe(5)
    expect(schemaErrors(RESULT_SCHEMA, json.json)).toEqual([])
    expect(json.json).toMatchObject({valid: false, verdict: 'invalid', kind: 'file', findings: [{file, field: 'signature'}, {file, field: null}]})
  })

  it('a deleted middle record: exit 5 with the chain break named', async () => {
    const {dir, files} = await evidenceDir(3)
    rmSync(files[1] ?? '')
    const out = await inspect([dir])
    expect(out.exitCode).toBe(5)
    expect(out.stdout).toContain(`record ${files[2]}: field predicate.chain.prev: chain break: the previous record (seq 2, ${files[1]}) is missing`)
  })

  it('truncated JSON: a clear line, no stack trace (exit 5)', async () => {
    const {files} = await evidenceDir(1)
    const copy = join(tempDir(), 'truncated.json')
    writeFileSync(copy, readFileSync(files[0] ?? '', 'utf8').slice(0, 120))
    const out = await inspect([copy])
    expect(out.exitCode).toBe(5)
    expect(out.stdout).toMatch(new RegExp(`record ${copy.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not JSON \\(.+\\): the file is truncated or damaged`))
    expect(out.stdout + out.stderr).not.toMatch(/\n\s+at /)
  })

  it('bad input: missing path and empty dir exit 5 with the error document; no argument exits 2', async () => {
    const dir = tempDir()
    const missing = await inspect([join(dir, 'nope'), '--json'])
    expect(missing.exitCode).toBe(5)
    expect(schemaErrors('agent-machine-error.schema.json', missing.json)).toEqual([])
    expect(missing.json).toMatchObject({error: {code: 'EVIDENCE_PATH_NOT_FOUND', exitCode: 5}})

    const empty = await inspect([dir])
    expect(empty.exitCode).toBe(5)
    expect(empty.stderr).toContain(`Error: no evidence records in ${dir}`)

    // No argument: the evidence dir run and shell write to (here <state dir>/evidence, which does not exist).
    const none = await inspect(['--json'])
    expect(none.exitCode).toBe(5)
    expect(none.json).toMatchObject({error: {code: 'EVIDENCE_PATH_NOT_FOUND', message: `no evidence yet: ${join(TEST_STATE_DIR, 'evidence')} does not exist`, fix: expect.stringMatching(/^records appear after the first `run` or `shell`/)}})
  })

  it('a record from a newer schema version names the version (exit 5)', async () => {
    const {files} = await evidenceDir(1)
    const record = JSON.parse(readFileSync(files[0] ?? '', 'utf8'))
    record.predicate.schemaVersion = 3
    const copy = join(tempDir(), 'future.json')
    writeFileSync(copy, JSON.stringify(record))
    const out = await inspect([copy])
    expect(out.exitCode).toBe(5)
    expect(out.stdout).toContain(`record ${copy}: field predicate.schemaVersion: record uses schema version 3; this CLI reads up to 1 — upgrade sourceosctl`)
  })
})

describe('evidence inspect: tampering and anchoring (exit 5, named)', () => {
  it('a rollback of the last record: exit 5, "rolled back"', async () => {
    const {dir, files} = await evidenceDir(3)
    const last = files[2] ?? ''
    rmSync(last)
    rmSync(`${last}.dsse`)
    const lines = readFileSync(join(dir, 'index.jsonl'), 'utf8').split('\n').filter(Boolean)
    writeFileSync(join(dir, 'index.jsonl'), lines.slice(0, 4).map((l) => `${l}\n`).join(''))
    const out = await inspect([dir])
    expect(out.exitCode).toBe(5)
    expect(out.stdout).toMatch(/index .*index\.jsonl: rolled back: the signed checkpoint .* covers 6 lines up to seq 3, but index\.jsonl has 4/)
  })

  it('a loose folder of copied records: UNVERIFIED (exit 5), never valid', async () => {
    const {files} = await evidenceDir(2)
    const loose = tempDir()
    for (const f of files) writeFileSync(join(loose, f.split('/').pop() ?? ''), readFileSync(f))
    const out = await inspect([loose])
    expect(out.exitCode).toBe(5)
    expect(out.stdout).toContain('Evidence UNVERIFIED (exit 5): nothing is wrong, but nothing anchors it:')
    expect(out.stdout).not.toContain('Evidence valid')
    const json = await inspect([loose, '--json'])
    expect(json.json).toMatchObject({valid: false, verdict: 'unverified', findings: []})
  })

  it('--expect-head: valid while the head is in the index, exit 5 once the history up to it is gone; --trusted-key with another key: exit 5', async () => {
    const {dir} = await evidenceDir(2)
    const head = (((await inspect([dir, '--json'])).json as {index: {head: string}}).index.head)
    await (await beginRecord(dir, sampleDraft())).complete({exitCode: 0})
    expect((await inspect([dir, '--expect-head', head])).exitCode).toBe(0)
    const bad = await inspect([dir, '--expect-head', `sha256:${'0'.repeat(64)}`])
    expect(bad.exitCode).toBe(5)
    expect(bad.stdout).toContain('is no line of index.jsonl: the history up to it was rewritten or rolled back since it was recorded')
    expect((await inspect([dir, '--expect-head', 'nope'])).exitCode).toBe(2)
    const {generateKeyPairSync} = await import('node:crypto')
    const other = join(tempDir(), 'other.pub')
    writeFileSync(other, generateKeyPairSync('ed25519').publicKey.export({type: 'spki', format: 'pem'}).toString())
    const wrongKey = await inspect([dir, '--trusted-key', other])
    expect(wrongKey.exitCode).toBe(5)
    expect(wrongKey.stdout).toMatch(/which is not trusted here/)
  })

  it('the default view is one line per record; --long has the detail', async () => {
    const {dir} = await evidenceDir(2)
    const out = await inspect([dir])
    const table = out.stdout.split('\n').filter((l) => /^\S*\s*SEQ\s+STATUS\s+EXIT\s+TOOL\s+STARTED\s+RUN ID/.test(l.trim()) || /^\S+\s+\d+\s+completed\s+\d+\s+codex\s/.test(l.trim()))
    expect(table).toHaveLength(3)
    expect(out.stdout).not.toContain('podman ')
    expect((await inspect([dir, '--long'])).stdout).toMatch(/podman\s+podman create/)
  })
})

describe('evidence inspect --long: what changed', () => {
  it('names each checkout’s commit move and the changed paths', async () => {
    const dir = tempDir()
    const state = (commit: string, tree: string) => ({commit, ref: 'refs/heads/main', tree: `sha256:${tree.repeat(64)}`, files: 3, truncated: null})
    const h = await beginRecord(dir, sampleDraft({workspace: [{target: '/workspace/app', before: state('c'.repeat(40), 'a'), after: null, changes: null}]}))
    await h.complete({
      exitCode: 0,
      workspace: [{target: '/workspace/app', before: state('c'.repeat(40), 'a'), after: state('d'.repeat(40), 'b'), changes: {added: ['new.txt'], modified: ['src/main.ts'], removed: [], omitted: 0}}],
    })
    const out = await inspect([dir, '--long'])
    expect(out.exitCode, out.stdout).toBe(0)
    expect(out.stdout).toMatch(/changed\s+\/workspace\/app: commit cccccccccccc → dddddddddddd; 1 added, 1 modified, 0 removed/)
    expect(out.stdout).toMatch(/\+ new\.txt/)
    expect(out.stdout).toMatch(/~ src\/main\.ts/)
  })
})

describe('evidence inspect never prints secret values', () => {
  it('an older record holding a tool argument and an env value verbatim is shown redacted (text, --long and --json)', async () => {
    const dir = tempDir()
    const secret = 'sk-proj-OLDRECORDsecret123'
    const url = 'https://user:pw@mirror.example/simple'
    const draft = sampleDraft({argv: ['agent-machine', 'run', '--tool', 'codex', '--', '--api-key', secret]})
    draft.podmanArgv = [...draft.podmanArgv.slice(0, -2), `--env=PIP_INDEX_URL=${url}`, ...draft.podmanArgv.slice(-2), '--api-key', secret]
    await (await beginRecord(dir, draft)).complete({exitCode: 0})
    for (const args of [[dir], [dir, '--long'], [dir, '--json']]) {
      const out = await inspect(args)
      expect(out.exitCode, out.stdout).toBe(0)
      expect(out.stdout + out.stderr).not.toContain(secret)
      expect(out.stdout + out.stderr).not.toContain('user:pw')
    }
    expect((await inspect([dir, '--long'])).stdout).toContain('--api-key')
  })
})
