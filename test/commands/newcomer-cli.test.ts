// The newcomer's path (issue 16) through the BUILT CLI (bin/run.js → dist; `make test-unit` builds
// first): typos, version and help, usage errors with the fix on its own line, --tool claude, the
// current directory as --repo, `shell -- <cmd>`. podman is the fake one (test/helpers/fake-podman).
import {spawnSync} from 'node:child_process'
import {mkdirSync, realpathSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {fakePodman} from '../helpers/fake-podman/index.js'
import {packageRoot} from '../../src/core/util/package-root.js'
import {tempDir} from '../helpers/temp-dirs.js'

const BIN = join(packageRoot(), 'bin', 'run.js')
const podman = fakePodman('linux-native')
afterAll(() => podman.cleanup())

function cli(args: string[], opts: {cwd?: string; env?: Record<string, string>} = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? packageRoot(),
    env: {PATH: podman.env.PATH!, HOME: opts.env?.HOME ?? '/nonexistent', ...podman.env, ...opts.env, NO_COLOR: '1'},
    encoding: 'utf8',
    timeout: 60_000,
  })
  return {exitCode: r.status, stdout: r.stdout, stderr: r.stderr}
}

/** A home with a profile that allowlists ~/dev/app; the image is the fake podman's. */
function workspace(tools = 'codex: {enabled: true, command: [codex]}\n    claude-code: {enabled: true, command: [claude]}') {
  const home = realpathSync(tempDir('newcomer-'))
  const app = join(home, 'dev', 'app')
  mkdirSync(join(app, 'sub'), {recursive: true})
  mkdirSync(join(home, 'dev', 'other'), {recursive: true})
  const profile = join(home, 'profile.yaml')
  writeFileSync(profile, `apiVersion: sourceos.dev/v1alpha1
kind: AgentMachineProfile
metadata: {name: newcomer}
spec:
  platform: linux
  image: {ref: localhost/sourceos/agent:latest, digest: null, pull: never}
  mounts:
    - {source: ${app}, target: /workspace/app, mode: rw}
  tools:
    ${tools}
  env: {passthrough: [TERM], set: {}}
  network: {mode: none}
  resources: {cpus: 2, memory: 4g, pidsLimit: 1024}
  secrets: {door: none}
`)
  return {home, app, env: {HOME: home, SOURCEOSCTL_PROFILE: profile}}
}

function createArgv(stdout: string): string[] {
  const doc = JSON.parse(stdout) as {plan: {steps: Array<{argv: string[]}>}}
  const create = doc.plan.steps.find((s) => s.argv.includes('create'))
  if (!create) throw new Error(`no podman create in the plan: ${stdout.slice(0, 400)}`)
  return create.argv
}

describe('typos and conventions (oclif, gh and podman habits)', () => {
  it('a mistyped command: not found, did you mean the closest, the fix on its own line, exit 2', () => {
    for (const typed of [['agent-machine', 'doctr'], ['doctr']]) {
      const r = cli(typed)
      expect(r.exitCode).toBe(2)
      const lines = r.stderr.trim().split('\n')
      expect(lines).toHaveLength(2)
      expect(lines[0]).toMatch(/^Error: `sourceosctl .*doctr` is not a sourceosctl command\. Did you mean `sourceosctl agent-machine doctor`\?$/)
      expect(lines[1]).toMatch(/^Fix: run `sourceosctl agent-machine doctor`/)
      expect(r.stderr).not.toMatch(/agent-machine:doctr/) // no internal ids
    }
    const json = cli(['agent-machine', 'doctr', '--json'])
    expect(json.exitCode).toBe(2)
    expect(JSON.parse(json.stdout)).toMatchObject({error: {code: 'COMMAND_NOT_FOUND', details: {suggestion: 'agent-machine doctor'}}})
  })

  it('a mistyped flag: one line for the problem, the suggestion on the fix line, exit 2', () => {
    const r = cli(['agent-machine', 'doctor', '--jsn'])
    expect(r.exitCode).toBe(2)
    expect(r.stderr.trim().split('\n')).toEqual(['Error: Nonexistent flag: --jsn', 'Fix: did you mean --json? (see `sourceosctl agent-machine doctor --help` for the accepted flags)'])
  })

  it('version, -v and --version print the same version; help and -h print help', () => {
    const v = cli(['--version'])
    expect(v.exitCode).toBe(0)
    expect(v.stdout).toMatch(/^sourceosctl\/\d+\.\d+\.\d+ /)
    expect(cli(['-v']).stdout).toBe(v.stdout)
    expect(cli(['version']).stdout).toBe(v.stdout)
    expect(JSON.parse(cli(['version', '--json']).stdout)).toMatchObject({name: 'sourceosctl', version: expect.stringMatching(/^\d+\.\d+\.\d+/)})
    for (const args of [['-h'], ['help'], ['agent-machine', '-h'], ['help', 'agent-machine']]) {
      const h = cli(args)
      expect(h.exitCode, args.join(' ')).toBe(0)
      expect(h.stdout).toMatch(/USAGE/)
    }
    expect(cli(['agent-machine', '-h']).stdout).toMatch(/agent-machine doctor/)
    expect(cli(['agent-machine', 'doctor', '-h']).stdout).toMatch(/Check that this host is ready/)
  })

  it('shell completion: autocomplete prints the setup for bash, zsh and powershell', () => {
    for (const shell of ['bash', 'zsh', 'powershell']) {
      const r = cli(['autocomplete', shell], {env: {HOME: tempDir('ac-')}})
      expect(r.exitCode, r.stderr).toBe(0)
      expect(r.stdout).toMatch(/sourceosctl/)
    }
  })
})

describe('defaults and aliases of run and shell', () => {
  it('--tool claude is claude-code (the binary’s name)', () => {
    const ws = workspace()
    const r = cli(['agent-machine', 'run', '--tool', 'claude', '--repo', ws.app, '--dry-run', '--json'], {env: ws.env})
    expect(r.exitCode, r.stderr + r.stdout).toBe(0)
    expect(createArgv(r.stdout).at(-1)).toBe('claude')
    expect(JSON.parse(r.stdout)).toMatchObject({tool: 'claude-code'})
  })

  it('no --repo: the current directory, inside an allowlisted mount, is the repo (workdir follows it)', () => {
    const ws = workspace()
    const r = cli(['agent-machine', 'run', '--tool', 'codex', '--dry-run', '--json'], {env: ws.env, cwd: join(ws.app, 'sub')})
    expect(r.exitCode, r.stderr + r.stdout).toBe(0)
    expect(createArgv(r.stdout)).toContain('--workdir=/workspace/app/sub')
  })

  it('no --repo in a folder that is not allowlisted: says so, with the init command for it (exit 3)', () => {
    const ws = workspace()
    const other = join(ws.home, 'dev', 'other')
    const r = cli(['agent-machine', 'shell', '--dry-run'], {env: ws.env, cwd: other})
    expect(r.exitCode).toBe(3)
    const lines = r.stderr.trim().split('\n')
    expect(lines[0]).toBe(`Error: no --repo given, and the current directory ${other} is not an allowlisted mount of the profile (or inside one).`)
    expect(lines[1]).toBe(`Fix: allow it: \`sourceosctl agent-machine init --repo ${other}\`, or pass --repo <an allowlisted folder>`)
  })

  it('shell -- <cmd> runs the command (never as a script for sh to open); -- -c … stays the shell’s options', () => {
    const ws = workspace()
    const cmd = cli(['agent-machine', 'shell', '--repo', ws.app, '--dry-run', '--json', '--', 'ls', '-la', 'a b'], {env: ws.env})
    expect(cmd.exitCode, cmd.stderr).toBe(0)
    expect(createArgv(cmd.stdout).slice(-7)).toEqual(['/bin/sh', '-c', 'exec "$@"', 'sh', 'ls', '-la', 'a b'])
    const opts = cli(['agent-machine', 'shell', '--repo', ws.app, '--dry-run', '--json', '--', '-c', 'ls /workspace'], {env: ws.env})
    expect(createArgv(opts.stdout).slice(-3)).toEqual(['/bin/sh', '-c', 'ls /workspace'])
  })

  it('the interactive shell shows that it is the sandbox, and where: its prompt is "(sourceosctl sandbox) $PWD $ "', () => {
    const ws = workspace()
    const r = cli(['agent-machine', 'shell', '--repo', ws.app, '--dry-run', '--json'], {env: ws.env})
    expect(r.exitCode, r.stderr).toBe(0)
    expect(createArgv(r.stdout).slice(-3)).toEqual(['/bin/sh', '-c', "PS1='(sourceosctl sandbox) $PWD $ ' exec /bin/sh"])
    // what a POSIX shell makes of it: PS1 holds $PWD unexpanded (expanded at each prompt), then sh runs
    const sh = spawnSync('sh', ['-c', `${"PS1='(sourceosctl sandbox) $PWD $ ' exec sh -c 'printf %s \"$PS1\"'"}`], {encoding: 'utf8'})
    expect(sh.stdout).toBe('(sourceosctl sandbox) $PWD $ ')
  })
})

describe('output: --quiet, --verbose, colour', () => {
  it('--quiet leaves the result and drops the remarks on stderr; --verbose is accepted on every verb; both together are a usage error', () => {
    const ws = workspace()
    const plain = cli(['agent-machine', 'start'], {env: ws.env})
    expect(plain.exitCode, plain.stderr).toBe(0)
    expect(plain.stderr).toMatch(/note: Native Podman/)
    const quiet = cli(['agent-machine', 'start', '-q'], {env: ws.env})
    expect(quiet.exitCode).toBe(0)
    expect(quiet.stderr).toBe('')
    expect(quiet.stdout).toBe(plain.stdout)
    expect(cli(['agent-machine', 'doctor', '--verbose'], {env: ws.env}).stderr).toMatch(/\[trace \d+ ms\]|^$/)
    const both = cli(['agent-machine', 'doctor', '--quiet', '--verbose'], {env: ws.env})
    expect(both.exitCode).toBe(2)
  })

  it('TERM=dumb turns colour off even on a terminal; FORCE_COLOR still wins', async () => {
    const {vi} = await import('vitest')
    const tty = {isTTY: true} as NodeJS.WriteStream
    const colourOf = async (env: Record<string, string | undefined>) => {
      vi.resetModules()
      const saved = {TERM: process.env.TERM, FORCE_COLOR: process.env.FORCE_COLOR, NO_COLOR: process.env.NO_COLOR}
      Object.assign(process.env, {NO_COLOR: ''})
      for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k]; else process.env[k] = v
      try {
        const {style} = await import('../../src/cli/style.js')
        return style(tty).level
      } finally {
        for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v
      }
    }
    expect(await colourOf({TERM: 'xterm-256color', FORCE_COLOR: undefined})).toBeGreaterThan(0)
    expect(await colourOf({TERM: 'dumb', FORCE_COLOR: undefined})).toBe(0)
    expect(await colourOf({TERM: 'dumb', FORCE_COLOR: '1'})).toBeGreaterThan(0)
  })
})

