// scripts/bundle.mjs gives the command bundles zod's English locale alone (the one zod registers
// itself; docs/performance.md). That holds only while no source picks another locale: checked here
// on the sources, and on the build, where every bundle keeps English and no other.
import {existsSync, readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {packageRoot} from '../../../src/core/util/package-root.js'

const ROOT = packageRoot()

function files(dir: string, ext: string): string[] {
  return readdirSync(dir, {withFileTypes: true}).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name), ext) : e.name.endsWith(ext) ? [join(dir, e.name)] : []))
}

describe("zod's locales in the bundles", () => {
  it('no source file that uses zod names its locales (z.locales, core.locales, an import of them)', () => {
    const sources = files(join(ROOT, 'src'), '.ts').filter((file) => /from ['"]zod(\/[^'"]*)?['"]/.test(readFileSync(file, 'utf8')))
    expect(sources.length).toBeGreaterThan(10)
    for (const file of sources) expect(readFileSync(file, 'utf8'), file).not.toMatch(/\blocales\b/)
  })

  it.runIf(existsSync(join(ROOT, 'dist', 'commands')))('every built command bundle that carries zod carries its English locale and no other', () => {
    let withZod = 0
    for (const file of files(join(ROOT, 'dist', 'commands'), '.js')) {
      const text = readFileSync(file, 'utf8')
      if (!text.includes('node_modules/zod/v4/classic/schemas.js')) continue
      withZod++
      expect(text, file).toMatch(/zod\/v4\/locales\/en\.js/)
      expect(text.match(/zod\/v4\/locales\/(?!en\.js|index\.js)[a-zA-Z-]+\.js/g), file).toBeNull()
    }
    expect(withZod).toBeGreaterThan(10)
  })
})
