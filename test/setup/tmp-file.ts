/**
 * Per test file (vitest setupFiles): the file's temp files go to a folder of its own below the run's
 * root (tmp-global.ts); after its last test, anything the file left there fails it, and is removed.
 */
import {chmodSync, mkdtempSync, readdirSync, rmSync} from 'node:fs'
import {join, relative} from 'node:path'
import {afterAll, expect} from 'vitest'

import {KNOWN_LEAKY_FILES, RUN_ROOT_ENV} from './tmp-guard.js'

const root = process.env[RUN_ROOT_ENV]
if (root) {
  const testPath = expect.getState().testPath ?? 'unknown'
  const file = relative(process.cwd(), testPath)
  // short (the error names the file): unix socket paths in the tests' temp folders must stay under 108 bytes
  const dir = mkdtempSync(join(root, 'f'))
  chmodSync(dir, 0o1777)
  process.env.TMPDIR = dir
  afterAll(() => {
    const left = readdirSync(dir)
    rmSync(dir, {recursive: true, force: true})
    if (left.length > 0 && !KNOWN_LEAKY_FILES.includes(file)) {
      throw new Error(`${file} left ${left.length} entr${left.length === 1 ? 'y' : 'ies'} in its temp dir (remove them in afterEach/afterAll): ${left.slice(0, 10).join(', ')}`)
    }
  })
}
