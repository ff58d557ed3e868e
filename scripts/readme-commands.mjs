#!/usr/bin/env node
// Keeps the README command table in step with the built CLI (oclif.manifest.json): writes the
// table between the markers, or with --check fails when it is stale.
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const manifestPath = join(root, 'oclif.manifest.json')
if (!existsSync(manifestPath)) {
  console.error('readme: oclif.manifest.json is missing — run `make build` first')
  process.exit(1)
}
const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'))

// The verbs of the product, in the order a user meets them (`usage` after `sourceosctl agent-machine`,
// or `full` after `sourceosctl`). Planned ones say what they will do.
const VERBS = [
  {id: 'agent-machine:doctor', usage: 'doctor [--repo <path>]', planned: 'Check the host is ready (read-only).'},
  {id: 'agent-machine:init', usage: 'init --profile <template> --repo <path>', planned: 'Write the active profile.'},
  {id: 'agent-machine:repo:ls', usage: 'repo ls', planned: 'List the allowlisted repos.'},
  {id: 'agent-machine:repo:add', usage: 'repo add <path>', planned: 'Allowlist a repo.'},
  {id: 'agent-machine:repo:rm', usage: 'repo rm <path>', planned: 'Take a repo off the allowlist.'},
  {id: 'agent-machine:start', usage: 'start', planned: 'Start the profile\'s Podman machine, or print the exact `podman machine init` command.'},
  {id: 'agent-machine:image:build', usage: 'image build [--tag <ref>]', planned: 'Build the agent image.'},
  {id: 'agent-machine:image:ls', usage: 'image ls', planned: 'List the agent images.'},
  {id: 'agent-machine:shell', usage: 'shell [--repo <path>] [--detach] [-- <command>]', planned: 'Interactive shell in the governed container with only the declared mounts.'},
  {id: 'agent-machine:run', usage: 'run --tool codex|claude-code [--repo <path>] [--detach] [-- args]', planned: 'Run an enabled agent tool in the governed container.'},
  {id: 'agent-machine:ps', usage: 'ps [--all] (or ls)', planned: 'List the agent sessions.'},
  {id: 'agent-machine:attach', usage: 'attach <run-id>', planned: 'Reattach the terminal to a detached session.'},
  {id: 'agent-machine:exec', usage: 'exec <run-id> [-- <command>]', planned: 'A second shell or a command in a running session.'},
  {id: 'agent-machine:logs', usage: 'logs <run-id> [--follow]', planned: 'A session\'s output.'},
  {id: 'agent-machine:stop', usage: 'stop <run-id> | --all', planned: 'Stop a session.'},
  {id: 'agent-machine:fingerprint', usage: 'fingerprint', planned: 'Emit the AgentMachineFingerprint JSON.'},
  {id: 'agent-machine:secret:set', usage: 'secret set <name>', planned: 'Store a secret for the Secrets Door.'},
  {id: 'agent-machine:secret:ls', usage: 'secret ls', planned: 'List the stored secrets.'},
  {id: 'agent-machine:secret:rm', usage: 'secret rm <name>', planned: 'Remove a stored secret.'},
  {id: 'agent-machine:evidence:inspect', usage: 'evidence inspect [<file|dir>]', planned: 'Verify evidence records and their chain.'},
  {id: 'agent-machine:secret:logout', usage: 'secret logout [--tool <tool>]', planned: "Remove the tools' persistent login volumes."},
  {id: 'agent-machine:export', usage: 'export --kube --repo <path|git-url> [--tool <tool>] [--job] [--output <file>]', planned: 'Render the governed agent as Kubernetes objects.'},
  {id: 'version', full: 'version', planned: 'Print the version.'},
  {id: 'autocomplete', full: 'autocomplete [bash|zsh|powershell]', planned: 'Shell completion.', summary: 'Set up shell completion (bash, zsh, powershell): prints the steps for your shell.'},
]
// Every command of the CLI is in the table (plugins' too), so a new verb cannot go undocumented.
const unlisted = Object.keys(manifest.commands).filter((id) => !VERBS.some((v) => v.id === id))
if (unlisted.length > 0) {
  console.error(`readme: add ${unlisted.join(', ')} to VERBS in scripts/readme-commands.mjs`)
  process.exit(1)
}

const rows = VERBS.map((verb) => {
  // Plugin commands (autocomplete) are not in the root manifest: they ship with the CLI all the same.
  const cmd = manifest.commands[verb.id] ?? (verb.summary ? {summary: verb.summary, flags: {}} : undefined)
  const status = cmd ? 'available' : 'planned'
  const summary = cmd ? (cmd.summary ?? cmd.description?.split('\n')[0] ?? '') : verb.planned
  const dryRun = cmd ? (cmd.flags?.['dry-run'] ? 'yes' : 'read-only') : '—'
  const usage = verb.full ? `sourceosctl ${verb.full}` : `sourceosctl agent-machine ${verb.usage}`
  return `| \`${usage}\` | ${status} | ${dryRun} | ${summary.replace(/\|/g, '\\|')} |`
})
const table = ['| Command | Status | `--dry-run` | What it does |', '|---|---|---|---|', ...rows].join('\n')

const readmePath = join(root, 'README.md')
const readme = readFileSync(readmePath, 'utf8')
const start = '<!-- commands:start -->'
const end = '<!-- commands:end -->'
const a = readme.indexOf(start)
const b = readme.indexOf(end)
if (a < 0 || b < a) {
  console.error(`readme: README.md lacks the ${start} … ${end} markers`)
  process.exit(1)
}
const updated = `${readme.slice(0, a + start.length)}\n${table}\n${readme.slice(b)}`
if (process.argv.includes('--check')) {
  if (updated !== readme) {
    console.error('readme: the command table in README.md is stale — run `make readme` and commit it')
    process.exit(1)
  }
  console.error('readme: command table is current')
} else if (updated !== readme) {
  writeFileSync(readmePath, updated)
  console.error('readme: command table updated')
}
