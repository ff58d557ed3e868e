// The temp-dir guard (test/setup) fails a file that leaves a folder in the temp dir, passes one that
// cleans up or whose tests are all skipped, and leaves nothing of any run behind (issue 15, item 5).
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {CACHE_DIR_ENV, RUN_ROOT_ENV} from '../../setup/tmp-guard.js'

const REPO = join(import.meta.dirname, '..', '..', '..')
const outer = mkdtempSync(join(tmpdir(), 'guard-'))
afterAll(() => rmSync(outer, {recursive: true, force: true}))

function runFixture(file: string) {
  const env: Record<string, string | undefined> = {...process.env, TMPDIR: outer, [RUN_ROOT_ENV]: undefined, [CACHE_DIR_ENV]: undefined, FORCE_COLOR: '0', NO_COLOR: '1'}
  const out = spawnSync(process.execPath, [join(REPO, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--config', 'test/fixtures/tmp-guard/vitest.config.ts', file], {
    cwd: REPO, env: env as NodeJS.ProcessEnv, encoding: 'utf8', timeout: 60_000,
  })
  return {status: out.status, output: `${out.stdout}${out.stderr}`}
}

describe('the temp-dir guard', () => {
  it('fails a file that leaves a folder, naming the file and the folder; the run leaves nothing behind', () => {
    const {status, output} = runFixture('leaky.fixture.ts')
    expect(status, output).toBe(1)
    expect(output).toMatch(/test\/fixtures\/tmp-guard\/leaky\.fixture\.ts left 1 entry in its temp dir \(remove them in afterEach\/afterAll\): left-behind-\w{6}/)
    expect(readdirSync(outer)).toEqual([])
  }, 60_000)

  it('passes a file whose tests are all skipped (its own empty folder is not a leak), and leaves nothing behind', () => {
    const {status, output} = runFixture('skipped.fixture.ts')
    expect(status, output).toBe(0)
    expect(output).not.toMatch(/left \d+ entr/)
    expect(readdirSync(outer)).toEqual([])
  }, 60_000)

  it('passes a file whose folders are removed, and leaves nothing behind', () => {
    const {status, output} = runFixture('clean.fixture.ts')
    expect(status, output).toBe(0)
    expect(readdirSync(outer)).toEqual([])
  }, 60_000)
})
