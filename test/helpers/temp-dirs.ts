/**
 * Temp folders a test file makes, removed after its last test (issue 15: the suite leaves /tmp as it
 * found it; test/setup/tmp-file.ts fails a file that leaves anything). Importing this registers the
 * file's afterAll.
 *
 *   const home = tempDir('run-home-')   // <TMPDIR>/run-home-XXXXXX, gone after the file's tests
 */
import {chmodSync, lstatSync, mkdtempSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll} from 'vitest'

const made = new Set<string>()

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  made.add(dir)
  return dir
}

/** rm -rf that also removes what a test locked (a folder with mode 000, where only root could). */
export function removeTree(path: string): void {
  try {
    rmSync(path, {recursive: true, force: true})
  } catch {
    unlock(path)
    rmSync(path, {recursive: true, force: true})
  }
}

function unlock(path: string): void {
  const stat = lstatSync(path, {throwIfNoEntry: false})
  if (!stat?.isDirectory()) return
  chmodSync(path, 0o700)
  for (const name of readdirSync(path)) unlock(join(path, name))
}

afterAll(() => {
  for (const dir of made) removeTree(dir)
  made.clear()
})
