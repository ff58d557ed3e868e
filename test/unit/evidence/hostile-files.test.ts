/**
 * The verifier cannot be hung, flooded or redirected (issue 14, item 3): FIFOs, devices and
 * symlinks in an evidence dir or a loose folder are findings, reads are capped by bytes read,
 * and deeply nested JSON gets its own message. Each case runs under a timeout: a hang fails it.
 */
import {execFileSync} from 'node:child_process'
import {mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {nestingExceeds, readRegularFile, UnsafeFile} from '../../../src/core/evidence/safe-read.js'
import {beginRecord, inspectPath, sampleDraft, tempDir} from './helpers.js'

const mkfifo = (p: string) => execFileSync('mkfifo', [p])

async function evidenceDir(n: number): Promise<{dir: string; files: string[]}> {
  const dir = tempDir()
  const files: string[] = []
  for (let i = 0; i < n; i++) {
    const h = await beginRecord(dir, sampleDraft())
    await h.complete({exitCode: i, finishedAt: '2026-01-02T03:06:00.000Z'})
    files.push(h.file)
  }
  return {dir, files}
}

describe('readRegularFile', () => {
  it('refuses a FIFO without blocking, a symlink, a device, and caps by bytes read', async () => {
    const dir = tempDir()
    mkfifo(join(dir, 'fifo'))
    await expect(readRegularFile(join(dir, 'fifo'), 1024)).rejects.toThrow(/FIFO/)
    symlinkSync('/dev/zero', join(dir, 'zero'))
    await expect(readRegularFile(join(dir, 'zero'), 1024)).rejects.toMatchObject({kind: 'symlink'})
    await expect(readRegularFile('/dev/zero', 1024)).rejects.toThrow(/character device/)
    writeFileSync(join(dir, 'big'), Buffer.alloc(2049, 0x41))
    await expect(readRegularFile(join(dir, 'big'), 2048)).rejects.toMatchObject({kind: 'too-large'})
    expect((await readRegularFile(join(dir, 'big'), 4096)).length).toBe(2049)
    await expect(readRegularFile(join(dir, 'nope'), 10)).rejects.toBeInstanceOf(UnsafeFile)
  }, 5000)

  it('nestingExceeds counts brackets outside strings only', () => {
    expect(nestingExceeds('['.repeat(65) + ']'.repeat(65), 64)).toBe(true)
    expect(nestingExceeds('['.repeat(64) + ']'.repeat(64), 64)).toBe(false)
    expect(nestingExceeds(JSON.stringify({a: '[[[[[[[[[[[[[[[[[[[[[[[[['}), 3)).toBe(false)
    expect(nestingExceeds(JSON.stringify({a: 'x\\"[[[['}), 1)).toBe(false)
  })
})

describe('inspect: hostile files', () => {
  it('a FIFO in place of a record is a finding, not a hang', async () => {
    const {dir, files} = await evidenceDir(2)
    const victim = files[1] ?? ''
    rmSync(victim)
    mkfifo(victim)
    const result = await inspectPath(dir)
    expect(result.valid).toBe(false)
    expect(result.findings).toContainEqual({file: victim, field: null, problem: 'is a FIFO (named pipe), not a regular file'})
    // And as the one file inspected: refused at once (exit 5), naming what it is.
    await expect(inspectPath(victim)).rejects.toThrow(/neither a regular file nor a directory/)
  }, 5000)

  it('a FIFO as index.jsonl is a finding, not a hang; a writer refuses to extend it', async () => {
    const {dir} = await evidenceDir(1)
    rmSync(join(dir, 'index.jsonl'))
    mkfifo(join(dir, 'index.jsonl'))
    const result = await inspectPath(dir)
    expect(result.valid).toBe(false)
    expect(result.findings).toContainEqual({file: join(dir, 'index.jsonl'), field: null, problem: 'is a FIFO (named pipe), not a regular file'})
    await expect(beginRecord(dir, sampleDraft())).rejects.toMatchObject({code: 'EVIDENCE_INDEX_DAMAGED'})
  }, 8000)

  it('a symlink to /dev/zero as a record or as the index is never followed', async () => {
    const {dir, files} = await evidenceDir(2)
    const victim = files[0] ?? ''
    rmSync(victim)
    symlinkSync('/dev/zero', victim)
    rmSync(join(dir, 'index.jsonl'))
    symlinkSync('/dev/zero', join(dir, 'index.jsonl'))
    const result = await inspectPath(dir)
    expect(result.valid).toBe(false)
    expect(result.findings).toContainEqual({file: victim, field: null, problem: 'is a symlink: evidence files are never followed through links'})
    expect(result.findings).toContainEqual({file: join(dir, 'index.jsonl'), field: null, problem: 'is a symlink: evidence files are never followed through links'})
  }, 5000)

  it('a symlink to a valid record elsewhere is not read either', async () => {
    const {dir, files} = await evidenceDir(2)
    const victim = files[1] ?? ''
    const elsewhere = join(tempDir(), 'copy.json')
    renameSync(victim, elsewhere)
    symlinkSync(elsewhere, victim)
    const result = await inspectPath(dir)
    expect(result.findings).toContainEqual({file: victim, field: null, problem: 'is a symlink: evidence files are never followed through links'})
  })

  it('a records/ dir that is a symlink is refused', async () => {
    const {dir} = await evidenceDir(1)
    const moved = join(tempDir(), 'records')
    renameSync(join(dir, 'records'), moved)
    symlinkSync(moved, join(dir, 'records'))
    const result = await inspectPath(dir)
    expect(result.valid).toBe(false)
    expect(result.findings).toContainEqual({file: join(dir, 'records'), field: null, problem: 'is a symlink: records are only read from a real records/ dir'})
  })

  it('a record over the cap is refused by the bytes read (a sparse file reports its size, a device 0)', async () => {
    const {dir, files} = await evidenceDir(1)
    const loose = tempDir()
    const big = join(loose, '000001-big.json')
    writeFileSync(big, readFileSync(files[0] ?? ''))
    execFileSync('truncate', ['-s', '17M', big])
    const result = await inspectPath(loose)
    expect(result.valid).toBe(false)
    expect(result.findings[0]?.problem).toMatch(/^not an agent-machine evidence record: is larger than 16777216 bytes/)
    void dir
  })

  it('deep JSON nesting as a record and as an index line gets its own message', async () => {
    const {dir, files} = await evidenceDir(1)
    const deep = '['.repeat(100_000) + ']'.repeat(100_000)
    const loose = tempDir()
    writeFileSync(join(loose, 'deep.json'), `${deep}\n`)
    const one = await inspectPath(join(loose, 'deep.json'))
    expect(one.findings).toEqual([{file: join(loose, 'deep.json'), field: null, problem: 'not an agent-machine evidence record: its JSON is nested deeper than 64 levels (records nest fewer than 10)'}])
    writeFileSync(join(dir, 'index.jsonl'), `${readFileSync(join(dir, 'index.jsonl'), 'utf8')}${deep}\n`)
    const result = await inspectPath(dir)
    expect(result.findings).toContainEqual({file: join(dir, 'index.jsonl'), field: 'line 3', problem: 'not JSON: nested deeper than 64 levels: not an index entry'})
    void files
  })

  it('a FIFO or device in a loose folder is a finding', async () => {
    const loose = tempDir()
    mkdirSync(join(loose, 'sub'))
    mkfifo(join(loose, 'x.json'))
    symlinkSync('/dev/zero', join(loose, 'y.json'))
    const result = await inspectPath(loose)
    expect(result.valid).toBe(false)
    expect(result.findings.map((f) => f.problem)).toEqual(['is a FIFO (named pipe), not a regular file', 'is a symlink: evidence files are never followed through links'])
  }, 5000)
})
