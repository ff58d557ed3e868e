#!/usr/bin/env node
// A fake `podman` executable (run through ./podman, which tests put first on PATH) that replays
// recorded outputs from test/fixtures/podman, per scenario, so the REAL Runner spawns a real
// process and sees real exit codes, stdout/stderr bytes, delays and kills.
//
// Environment:
//   FAKE_PODMAN_SCENARIO  scenario name (scenarios/<name>.json) or a path to a scenario file
//   FAKE_PODMAN_STATE     a directory for state.json (scenario variables) and calls.jsonl (every
//                         call: argv and CONTAINERS_MACHINE_PROVIDER); optional but needed for `set`
//   FAKE_PODMAN_FIXTURES  fixture directory (default: test/fixtures/podman)
//
// Scenario file:
//   {"description": "…", "state": {"machine": "stopped"},
//    "rules": [{"args": ["--version"], "stdout": "podman version 5.3.1\n"},
//              {"prefix": ["info"], "connection": "sourceos-agent", "stdoutFile": "…"},
//              {"prefix": ["machine", "list"], "when": {"machine": "stopped"}, "whenEnv": {"CONTAINERS_MACHINE_PROVIDER": "libkrun"},
//               "stdoutFile": "podman5-machine-list-stopped.json", "stderrFile": "…", "exit": 0, "delayMs": 0,
//               "set": {"machine": "running"}}]}
// The first rule whose args (exact) or prefix, `when` (state) and `whenEnv` (environment; null
// means unset) match answers. No match: exit 125 with `Error: fake podman: no rule for …`.
// A leading global `--connection <name>` (or `--connection=<name>`, `-c <name>`) is taken off the
// args before matching, logged as `connection`, and matched by a rule's "connection" (a name, or
// null for none; a rule without the key matches any).
import {appendFileSync, existsSync, readFileSync, writeFileSync} from 'node:fs'
import {dirname, isAbsolute, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const argv = process.argv.slice(2)
const env = process.env
let connection = null
let args = argv
if (argv[0] === '--connection' || argv[0] === '-c') {
  connection = argv[1] ?? null
  args = argv.slice(2)
} else if (argv[0]?.startsWith('--connection=')) {
  connection = argv[0].slice('--connection='.length)
  args = argv.slice(1)
}

function fail(message) {
  process.stderr.write(`Error: fake podman: ${message}\n`)
  process.exit(125)
}

const scenarioName = env.FAKE_PODMAN_SCENARIO
if (!scenarioName) fail('FAKE_PODMAN_SCENARIO is not set')
const scenarioPath = isAbsolute(scenarioName) || scenarioName.endsWith('.json') ? scenarioName : join(here, 'scenarios', `${scenarioName}.json`)
if (!existsSync(scenarioPath)) fail(`no scenario ${scenarioPath}`)
const scenario = JSON.parse(readFileSync(scenarioPath, 'utf8'))
const fixtures = env.FAKE_PODMAN_FIXTURES || join(here, '..', '..', 'fixtures', 'podman')

const stateDir = env.FAKE_PODMAN_STATE
const statePath = stateDir ? join(stateDir, 'state.json') : null
const state = statePath && existsSync(statePath) ? JSON.parse(readFileSync(statePath, 'utf8')) : {...(scenario.state ?? {})}

if (stateDir) {
  appendFileSync(join(stateDir, 'calls.jsonl'), `${JSON.stringify({args, provider: env.CONTAINERS_MACHINE_PROVIDER ?? null, ...(connection === null ? {} : {connection})})}\n`)
}

const sameArgs = (a, b) => a.length === b.length && a.every((x, i) => x === b[i])
const startsWith = (a, prefix) => prefix.length <= a.length && prefix.every((x, i) => x === a[i])

const rule = (scenario.rules ?? []).find((r) => {
  if (r.args && !sameArgs(args, r.args)) return false
  if (r.prefix && !startsWith(args, r.prefix)) return false
  if (!r.args && !r.prefix) return false
  if (r.connection !== undefined && r.connection !== connection) return false
  for (const [k, v] of Object.entries(r.when ?? {})) if (state[k] !== v) return false
  for (const [k, v] of Object.entries(r.whenEnv ?? {})) if ((env[k] ?? null) !== v) return false
  return true
})
if (!rule) fail(`no rule for \`podman ${argv.join(' ')}\` in ${scenarioPath} (state ${JSON.stringify(state)})`)

const text = (inline, file) => (file ? readFileSync(join(fixtures, file), 'utf8') : (inline ?? ''))

function answer() {
  if (rule.set && statePath) writeFileSync(statePath, JSON.stringify({...state, ...rule.set}))
  process.stdout.write(text(rule.stdout, rule.stdoutFile))
  process.stderr.write(text(rule.stderr, rule.stderrFile))
  process.exitCode = rule.exit ?? 0
}

if (rule.delayMs) setTimeout(answer, rule.delayMs)
else answer()
