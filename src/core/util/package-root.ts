/**
 * The installed package's root (where profiles/ and policy/ live), found by walking up from this
 * module — the same from src/ under the tests, from dist/, and from a bundled command file.
 */
import {existsSync, readFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

let cached: string | undefined

export function packageRoot(): string {
  if (cached) return cached
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const manifest = join(dir, 'package.json')
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as {name?: string}).name === 'sourceosctl') return (cached = dir)
    const parent = dirname(dir)
    if (parent === dir) throw new Error('cannot find the sourceosctl package root (package.json) above ' + fileURLToPath(import.meta.url))
    dir = parent
  }
}
