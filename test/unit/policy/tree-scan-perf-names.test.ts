/**
 * The scan tests the catalogue's workspace patterns on an entry's name first (two anchored
 * expressions per segment count) instead of one `(?:^|/)(?:…)$` over its relative path. These
 * tests hold the verdicts to the reference form: for every name made from every pattern (its `*`
 * and `?` filled in several ways, in other cases, with a letter before or after, at the root and
 * deeper, the two-segment patterns in and out of their folder), the secret-file warnings and the
 * write-protected list are exactly what the one-expression test over the relative path gives.
 */
import {mkdirSync, realpathSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {workspacePatterns} from '../../../src/core/policy/catalogue.js'
import {globSource, scanTree} from '../../../src/core/policy/tree-scan.js'
import {tempDir} from '../../helpers/temp-dirs.js'

/** The reference: one alternation, tested on the whole '/'-separated relative path. */
function reference(): {secret: RegExp; except: RegExp; protect: RegExp} {
  const {maskByDefault, writeProtectByDefault} = workspacePatterns()
  const build = (globs: string[]): RegExp => new RegExp(`(?:^|/)(?:${globs.map(globSource).join('|')})$`, 'i')
  return {
    secret: build(maskByDefault.filter((p) => !p.startsWith('!'))),
    except: build(maskByDefault.filter((p) => p.startsWith('!')).map((p) => p.slice(1))),
    protect: build(writeProtectByDefault.map((p) => p.replace(/\/\*\*$/, ''))),
  }
}

/** Names (possibly with one '/') made from a glob: wildcards filled, cases changed, near misses. */
function variants(glob: string): string[] {
  const fills = ['', 'x', 'Prod.v2']
  const out = new Set<string>()
  for (const f of fills) {
    const name = glob.replace(/\*/g, f).replace(/\?/g, f === '' ? 'q' : f.slice(0, 1))
    out.add(name)
    out.add(name.toUpperCase())
    out.add(`${name}x`)
    out.add(`x${name}`)
    out.add(name.replace(/\.[a-z]+$/i, '.txt'))
  }
  return [...out].filter((n) => n.split('/').every((s) => s !== '' && s !== '.' && s !== '..'))
}

const REFUSED_FILES = new Set(['.git-credentials', '.netrc', '_netrc', '.vault-token', '.pgpass'])

describe('the name matchers give the verdicts of one expression over the relative path', () => {
  it('for every name made from every workspace pattern, at the root and two folders down', async () => {
    const root = realpathSync(tempDir('scan-perf-names-'))
    const {maskByDefault, writeProtectByDefault} = workspacePatterns()
    const globs = [...maskByDefault.map((p) => p.replace(/^!/, '')), ...writeProtectByDefault.map((p) => p.replace(/\/\*\*$/, ''))]
    const files = new Set<string>()
    for (const glob of globs) {
      for (const v of variants(glob)) {
        for (const base of ['', 'a/b/']) {
          // A single-segment name also one level under another folder; a two-segment one also
          // without its folder (the last segment alone) and under a look-alike folder.
          files.add(base + v)
          const last = v.split('/').pop()!
          files.add(`${base}other/${last}`)
        }
      }
    }
    // A path is either a file or a folder: drop a file whose path is another's folder.
    const folders = new Set<string>()
    for (const f of files) {
      const parts = f.split('/')
      for (let i = 1; i < parts.length; i++) folders.add(parts.slice(0, i).join('/'))
    }
    const made: string[] = []
    for (const rel of [...files].sort()) {
      if (folders.has(rel) || folders.has(rel.toLowerCase())) continue
      const abs = join(root, rel)
      mkdirSync(join(abs, '..'), {recursive: true})
      try {
        writeFileSync(abs, '', {flag: 'wx'})
        made.push(rel)
      } catch {
        // the same name made under another spelling's folder: skip it
      }
    }
    expect(made.length).toBeGreaterThan(1000)

    const scan = await scanTree(root, {mounts: null})
    const ref = reference()
    const refuseDirs = /(?:^|\/)(?:\.ssh|\.aws|\.gnupg|\.kube|\.azure|\.oci|\.password-store)(?:\/|$)/i
    const expectedSecret: string[] = []
    const expectedProtect = new Set<string>()
    for (const rel of made) {
      if (refuseDirs.test(rel)) continue
      const parts = rel.split('/')
      // Every folder on the way is an entry too (write-protected folders: `.vscode`, `.git/hooks`).
      for (let i = 1; i < parts.length; i++) {
        const dir = parts.slice(0, i).join('/')
        if (ref.protect.test(dir)) expectedProtect.add(join(root, dir))
      }
      const name = parts[parts.length - 1]!
      const lower = name.toLowerCase()
      const credential = REFUSED_FILES.has(lower) || (lower === 'config.json' && parts.length > 1 && parts[parts.length - 2]!.toLowerCase() === '.docker')
      if (!credential && ref.secret.test(rel) && !ref.except.test(rel)) expectedSecret.push(rel)
      if (ref.protect.test(rel)) expectedProtect.add(join(root, rel))
    }
    const secret = scan.hazards.filter((h) => h.kind === 'secret-file').map((h) => h.relPath)
    expect(secret.length).toBeGreaterThan(100)
    expect(expectedProtect.size).toBeGreaterThan(100)
    expect(secret.sort()).toEqual(expectedSecret.sort())
    expect(scan.writeProtected).toEqual([...expectedProtect].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)))
  })
})
