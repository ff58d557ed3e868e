#!/usr/bin/env node
// Start-up: each command file in dist/commands becomes one self-contained ESM file (its share of
// src/core plus zod, yaml, execa, chalk…), so a verb loads a handful of files instead of hundreds.
// @oclif/core becomes one file of its own, dist/oclif-core.js, shared by bin/run.js and every
// command bundle (one copy of oclif per process, as before): Node then reads one file instead of
// ~150 modules and their package.json files (docs/performance.md). Run after tsc, before the manifest.
import {createRequire} from 'node:module'
import {copyFileSync, mkdirSync, readdirSync, readFileSync, statSync} from 'node:fs'
import {dirname, join, relative} from 'node:path'
import {fileURLToPath} from 'node:url'
import {build} from 'esbuild'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const commandsDir = join(root, 'dist', 'commands')
const oclifBundle = join(root, 'dist', 'oclif-core.js')

function commandFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? commandFiles(path) : name.endsWith('.js') ? [path] : []
  })
}

const BANNER = "import {createRequire as __createRequire} from 'node:module'; const require = __createRequire(import.meta.url);"

// --- @oclif/core as one ES module. Its package is CommonJS, so the entry names every export
// (an ES module's names must be static); the list is read from the installed package itself.
const names = Object.keys(createRequire(import.meta.url)('@oclif/core')).filter((n) => n !== 'default' && n !== '__esModule')
// oclif reads its own package.json through __dirname (its engines check: `<__dirname>/../package.json`;
// its version comes from a require of '@oclif/core/package.json', which the bundle carries). The
// bundled code's package.json goes beside it, dist/oclif-core/package.json, and __dirname points
// at dist/oclif-core/lib, so that read finds the manifest of the very code that runs; bin/run.js
// reads the same file for its own engines comparison. No module resolution at start-up.
const pjsonCopy = join(root, 'dist', 'oclif-core', 'package.json')
mkdirSync(dirname(pjsonCopy), {recursive: true})
copyFileSync(createRequire(import.meta.url).resolve('@oclif/core/package.json'), pjsonCopy)
const OCLIF_BANNER = `${BANNER} import {fileURLToPath as __fileURLToPath} from 'node:url'; const __dirname = __fileURLToPath(new URL('./oclif-core/lib', import.meta.url));`
await build({
  stdin: {contents: `import * as oclif from '@oclif/core'\nexport const {${names.join(', ')}} = oclif\n`, resolveDir: root, sourcefile: 'oclif-core-entry.js'},
  outfile: oclifBundle,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  // Only loaded for a TypeScript plugin in development (ts-path.ts), never by the built CLI.
  external: ['typescript', 'ts-node', 'tsx', 'pnpapi'],
  banner: {js: OCLIF_BANNER},
  logLevel: 'warning',
  legalComments: 'none',
  // No comments or indentation: a third smaller, and the source V8 keeps in memory is all Latin-1
  // (one byte a character: a '—' in a comment made a whole bundle two bytes a character).
  minifyWhitespace: true,
})

/** Every `@oclif/core` import of a command bundle → dist/oclif-core.js (relative, external). */
const sharedOclif = (outfile) => ({
  name: 'shared-oclif',
  setup(b) {
    b.onResolve({filter: /^@oclif\/core$/}, () => {
      const rel = relative(dirname(outfile), oclifBundle).split('\\').join('/')
      return {path: rel.startsWith('.') ? rel : `./${rel}`, external: true}
    })
  },
})

/**
 * zod's locales: zod registers English itself (classic/schemas.js) and sourceosctl never picks
 * another, but `export * as locales` makes a bundle carry and initialise all ~50 of them: half of
 * zod's size. The bundles get a locales module with English alone (`z.locales.en`, the same
 * function); no source file names a locale (test/unit/scripts/bundle.test.ts checks that).
 */
const englishOnly = {
  name: 'zod-locales-en',
  setup(b) {
    b.onResolve({filter: /^\.\.\/locales\/index\.js$/}, (a) => (/[\\/]zod[\\/]v4[\\/]/.test(a.importer) ? {path: join(a.resolveDir, '..', 'locales', 'index.js'), namespace: 'zod-locales-en'} : undefined))
    b.onLoad({filter: /.*/, namespace: 'zod-locales-en'}, (a) => ({contents: `export {default as en} from ${JSON.stringify(join(dirname(a.path), 'en.js'))}\n`, resolveDir: dirname(a.path)}))
  },
}

// Idempotent: a file that already carries the banner was bundled (a second run, or two builds at
// once) and is left alone; bundling it again would declare __createRequire twice.
const files = commandFiles(commandsDir).filter((file) => !readFileSync(file, 'utf8').startsWith(BANNER))
await Promise.all(
  files.map((file) =>
    build({
      entryPoints: [file],
      outfile: file,
      allowOverwrite: true,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node22',
      plugins: [sharedOclif(file), englishOnly],
      // Runs before any module of the bundle builds a zod schema: see the file.
      inject: [join(root, 'scripts', 'bundle', 'zod-jitless.mjs')],
      // CommonJS dependencies bundled into ESM still call require() for Node built-ins.
      banner: {js: BANNER},
      logLevel: 'warning',
      legalComments: 'none',
      minifyWhitespace: true, // as above
    }),
  ),
)
console.error(`bundle: ${files.length} command files bundled, @oclif/core in dist/oclif-core.js (${names.length} exports)`)
