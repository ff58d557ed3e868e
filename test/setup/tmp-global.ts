/**
 * The suite leaves /tmp as it found it (issue 15, item 5). Vitest globalSetup, for every project:
 *
 * - Before any test: a private temp root `<tmp>/sv-XXXXXX` (mode 1777: the rootless test user
 *   writes there too) becomes TMPDIR for every worker, so each `tmpdir()`, `mkdtemp` and `mktemp`
 *   of a test lands in it. `SOURCEOSCTL_TEST_CACHE_DIR` keeps the real temp dir for the named caches
 *   that outlive a run (test/setup/tmp-guard.ts lists them).
 * - Each test file gets its own folder below it (tmp-file.ts), and its afterAll fails the file when
 *   the file left anything there.
 * - After the last test: anything left directly in the root fails the run, and the root is removed,
 *   so /tmp holds nothing new but the named caches even when a file leaked.
 */
import {chmodSync, lstatSync, mkdtempSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {CACHE_DIR_ENV, RUN_ROOT_ENV} from './tmp-guard.js'

/** The name tmp-file.ts gives each test file's folder (mkdtemp of `<root>/f`). */
const PER_FILE_FOLDER = /^f[A-Za-z0-9]{6}$/

function isEmptyDir(path: string): boolean {
  try {
    return lstatSync(path).isDirectory() && readdirSync(path).length === 0
  } catch {
    return false
  }
}

export default function setup(): () => void {
  // A nested invocation (a test that runs vitest) keeps the outer run's root.
  if (process.env[RUN_ROOT_ENV]) return () => {}
  const realTmp = tmpdir()
  const root = mkdtempSync(join(realTmp, 'sv-'))
  chmodSync(root, 0o1777)
  process.env[CACHE_DIR_ENV] ??= realTmp
  process.env[RUN_ROOT_ENV] = root
  process.env.TMPDIR = root
  return () => {
    process.env.TMPDIR = realTmp
    delete process.env[RUN_ROOT_ENV]
    // A file whose every test was skipped gets its folder (tmp-file.ts: `f` and six characters) but,
    // since vitest 5, no afterAll to remove it: an empty one is the guard's own, not a leak.
    const left = readdirSync(root).filter((name) => !(PER_FILE_FOLDER.test(name) && isEmptyDir(join(root, name))))
    rmSync(root, {recursive: true, force: true})
    if (left.length > 0) {
      throw new Error(`the tests left ${left.length} entr${left.length === 1 ? 'y' : 'ies'} in the temp dir outside any test file's folder (removed now): ${left.slice(0, 20).join(', ')}`)
    }
  }
}
