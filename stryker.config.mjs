// StrykerJS over the security-critical code (issue 15). `make mutation` runs it; `make mutation
// MUTATE=src/core/policy/path-key.ts` (a comma-separated list of globs) narrows it to some files;
// MUTATION_TESTS=<glob> to some test files (vitest.mutation.config.ts).
// docs/testing.md, "Mutation testing", has how to run it, what is not counted, and the scores.
import {tmpdir} from 'node:os'
import {join} from 'node:path'

/** The files measured (issue 15, item 1). */
export const MUTATED_FILES = [
  'src/core/policy/*.ts',
  'src/core/evidence/verify.ts',
  'src/core/evidence/record.ts',
  'src/core/evidence/redact.ts',
  'src/core/launch/container-spec.ts',
  'src/core/launch/verify-mounts.ts',
  'src/core/launch/pin.ts',
  'src/core/git/host-git.ts',
  'src/core/network/squid-config.ts',
  'src/core/network/allowlist.ts',
  'src/core/secrets/*.ts',
]

const narrowed = process.env.MUTATE?.split(',').map((s) => s.trim()).filter(Boolean) ?? []

// The full run reports to reports/mutation/; a narrowed run (MUTATE) to a folder of its own below
// reports/mutation/only/, with its own incremental file: two narrowed runs at once (two people on
// different files) never overwrite each other's report or incremental state.
const slug = narrowed.join('+').replace(/[^A-Za-z0-9._+-]+/g, '_').slice(0, 120)
const reportDir = narrowed.length > 0 ? `reports/mutation/only/${slug}` : 'reports/mutation'

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: 'npm',
  plugins: ['@stryker-mutator/vitest-runner', './scripts/mutation/ignore-message-text.mjs'],
  testRunner: 'vitest',
  vitest: {configFile: 'vitest.mutation.config.ts', related: true},
  // Only the tests that cover a mutant run against it.
  coverageAnalysis: 'perTest',
  mutate: narrowed.length > 0 ? narrowed : MUTATED_FILES,
  // Message, fix and description text is not counted (scripts/mutation/ignore-message-text.mjs).
  ignorers: ['message-text'],
  // A re-run after a small change tests only the changed mutants and the tests that changed.
  incremental: true,
  incrementalFile: `${reportDir}/stryker-incremental.json`,
  reporters: ['clear-text', 'progress', 'json', 'html'],
  jsonReporter: {fileName: `${reportDir}/mutation.json`},
  htmlReporter: {fileName: `${reportDir}/mutation.html`},
  clearTextReporter: {allowColor: false, logTests: false, reportScoreTable: true},
  thresholds: {high: 90, low: 85, break: null},
  // Two cores, shared: one or two test runners (MUTATION_CONCURRENCY).
  concurrency: Number(process.env.MUTATION_CONCURRENCY ?? 2),
  // The sandbox lives outside the working tree (tsc, eslint and other people's runs never see it)
  // and is removed after every run, also a failed one. Stryker deletes the whole folder: one per
  // run (the pid), so a run never removes another's sandbox.
  tempDirName: join(tmpdir(), `sourceosctl-stryker-${process.pid}`),
  cleanTempDir: 'always',
  timeoutMS: 30_000,
  // Not copied into the sandbox: reports (this run's own output) and packaging artefacts.
  ignorePatterns: ['/reports', '/dist-pkg', '/.bench', '/coverage'],
}
