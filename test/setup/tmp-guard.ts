/** Shared names of the temp-dir guard (tmp-global.ts, tmp-file.ts). */

/** The run's private temp root (set by tmp-global.ts). */
export const RUN_ROOT_ENV = 'SOURCEOSCTL_TEST_TMP_ROOT'
/** The real temp dir: the only place for the named caches below. */
export const CACHE_DIR_ENV = 'SOURCEOSCTL_TEST_CACHE_DIR'

/**
 * The named caches a run may leave in the real temp dir, by prefix: the copy of the built CLI the
 * rootless user runs (test/integration/helpers/cli.ts) and the world-readable containers.conf
 * (podman-env.ts). Nothing else may outlive a run.
 */
export const NAMED_CACHES = ['sourceosctl-rootless-', 'sourceosctl-test-containers-']

/**
 * Test files that still leave temp folders behind and are owned by work in progress elsewhere; their
 * leaks are removed with the run's root but not yet a failure. Remove an entry once its file cleans up.
 */
export const KNOWN_LEAKY_FILES: readonly string[] = [
  'test/commands/secret.test.ts',
  // integration files being changed elsewhere, not yet run under this guard
  'test/integration/egress.test.ts',
  'test/integration/secrets-door.test.ts',
  'test/integration/evidence-secrets.test.ts',
]

/** The directory where the real temp dir's caches go: the real temp dir, outside a test run too. */
export function testCacheDir(fallback: string): string {
  return process.env[CACHE_DIR_ENV] ?? fallback
}
