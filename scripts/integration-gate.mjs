#!/usr/bin/env node
// `make validate` runs this first: the integration tests must really run, never skip silently.
//
// They need podman, and either root (rootful tests, and rootless ones as
// $SOURCEOSCTL_TEST_ROOTLESS_USER, which .ci/run creates) or, as a normal user,
// SOURCEOSCTL_TEST_ROOTLESS_USER=<you> (the rootless half; the rootful half needs root).
// Where they cannot run, this fails with one line saying what to run; SOURCEOSCTL_UNIT_ONLY=1 is the
// explicit opt-out (validate then says so in its last line).
//
//   node scripts/integration-gate.mjs           exit 0: run them; 1: they would be skipped
//   node scripts/integration-gate.mjs --mode    prints "integration" or "unit-only"
import {spawnSync} from 'node:child_process'
import {pathToFileURL} from 'node:url'

export const UNIT_ONLY = 'SOURCEOSCTL_UNIT_ONLY'

/**
 * What validate may do here. Pure: `uid`, `env`, whether podman answers and whether the named rootless
 * user exists are the inputs.
 * @param {{uid: number, env: Record<string, string | undefined>, podmanWorks: boolean, userExists: (name: string) => boolean}} input
 * @returns {{mode: 'integration' | 'unit-only' | 'refuse', line: string}}
 */
export function integrationGate({uid, env, podmanWorks, userExists}) {
  if (env[UNIT_ONLY] === '1') {
    return {mode: 'unit-only', line: `validate: ${UNIT_ONLY}=1: the integration tests are NOT run (unit checks only)`}
  }
  const optOut = `or \`${UNIT_ONLY}=1 make validate\` for the unit checks only`
  if (!podmanWorks) {
    return {mode: 'refuse', line: `validate: podman does not run here, so every integration test would be skipped: install podman (\`sudo .ci/run\` installs and sets up everything), ${optOut}`}
  }
  const user = env.SOURCEOSCTL_TEST_ROOTLESS_USER
  if (user && !userExists(user)) {
    return {mode: 'refuse', line: `validate: SOURCEOSCTL_TEST_ROOTLESS_USER=${user}, but there is no such user: create it the way .ci/run does (\`sudo .ci/run\`), ${optOut}`}
  }
  if (uid !== 0 && !user) {
    return {mode: 'refuse', line: `validate: not root and SOURCEOSCTL_TEST_ROOTLESS_USER is not set, so the integration tests would be skipped: run \`sudo .ci/run\` (sets up podman and the rootless user agentci, then runs make validate), or \`SOURCEOSCTL_TEST_ROOTLESS_USER=$USER make validate\` for the rootless half, ${optOut}`}
  }
  if (uid === 0 && !user) {
    return {mode: 'refuse', line: `validate: SOURCEOSCTL_TEST_ROOTLESS_USER is not set, so the rootless half of the integration tests would be skipped: run \`.ci/run\` (creates agentci and sets it), ${optOut}`}
  }
  return {mode: 'integration', line: ''}
}

function main() {
  const podmanWorks = spawnSync('podman', ['--version'], {stdio: 'ignore', timeout: 15_000}).status === 0
  const userExists = (name) => spawnSync('id', ['-u', name], {stdio: 'ignore'}).status === 0
  const gate = integrationGate({uid: process.getuid?.() ?? 1000, env: process.env, podmanWorks, userExists})
  if (process.argv.includes('--mode')) {
    process.stdout.write(`${gate.mode === 'refuse' ? 'integration' : gate.mode}\n`)
    return
  }
  if (gate.mode === 'refuse') {
    process.stderr.write(`${gate.line}\n`)
    process.exitCode = 1
  } else if (gate.mode === 'unit-only') {
    process.stderr.write(`${gate.line}\n`)
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main()
