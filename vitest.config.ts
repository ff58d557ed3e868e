import {defineConfig} from 'vitest/config'

// Two projects. `npm run test:unit` (vitest run test/unit test/commands) and `npm run
// test:integration` (vitest run test/integration) filter by path; `npm test` runs both.
export default defineConfig({
  test: {
    // The suite leaves /tmp as it found it: a private TMPDIR per run and per file, checked (test/setup).
    globalSetup: ['test/setup/tmp-global.ts'],
    projects: [
      {
        // Fast and hermetic (fake Runner, fixtures): files run in parallel.
        test: {
          name: 'unit',
          setupFiles: ['test/setup/tmp-file.ts'],
          include: ['test/unit/**/*.test.ts', 'test/commands/**/*.test.ts'],
          // Generous: some command tests spawn a fake podman executable, slow on a loaded 2-core box.
          testTimeout: 30_000,
        },
      },
      {
        // The built CLI against real podman (see test/integration/helpers). One file at a time:
        // they share the podman stores, and each container start costs real seconds.
        test: {
          name: 'integration',
          setupFiles: ['test/setup/tmp-file.ts'],
          include: ['test/integration/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          // building a test image or copying the build for the rootless user happens in hooks
          hookTimeout: 300_000,
        },
      },
    ],
  },
})
