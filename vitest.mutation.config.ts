import {defineConfig} from 'vitest/config'

// The mutation run (`make mutation`, stryker.config.mjs): the unit and command tests only, in one
// flat project (no integration tests: they need the built CLI and real podman, and take minutes
// each). The same temp-dir guard as vitest.config.ts.
export default defineConfig({
  test: {
    globalSetup: ['test/setup/tmp-global.ts'],
    setupFiles: ['test/setup/tmp-file.ts'],
    include: ['test/unit/**/*.test.ts', 'test/commands/**/*.test.ts'],
    testTimeout: 30_000,
  },
})
