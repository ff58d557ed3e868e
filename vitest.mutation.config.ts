import {defineConfig} from 'vitest/config'

// The mutation run (`make mutation`, stryker.config.mjs): the unit and command tests only, in one
// flat project (no integration tests: they need the built CLI and real podman, and take minutes
// each). The same temp-dir guard as vitest.config.ts. MUTATION_TESTS=<glob>[,<glob>] runs fewer test
// files (e.g. test/unit/policy/** while working on a policy file); the scores in docs/testing.md come
// from runs without it.
const only = process.env.MUTATION_TESTS?.split(',').map((s) => s.trim()).filter(Boolean) ?? []
export default defineConfig({
  test: {
    globalSetup: ['test/setup/tmp-global.ts'],
    setupFiles: ['test/setup/tmp-file.ts'],
    include: only.length > 0 ? only : ['test/unit/**/*.test.ts', 'test/commands/**/*.test.ts'],
    testTimeout: 30_000,
  },
})
