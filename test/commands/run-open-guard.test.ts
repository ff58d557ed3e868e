/**
 * Network mode open: the link-local guard is started while the agent's container is created
 * (execute.ts). The agent's init (which joins the guard's namespaces) waits for the guard's start,
 * the agent's start waits for the guard's routes, and a guard that fails either way stops the
 * launch before anything of the agent runs, leaving no container behind.
 */
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import Run from '../../src/commands/agent-machine/run.js'
import type {AttachedRunner} from '../../src/core/exec.js'
import {GUARD_READY_LINE} from '../../src/core/network/link-local-guard.js'
import {fakeContainer, type FakeContainer} from '../helpers/fake-container.js'
import {fakeRunner, type FakeRoute, type RouteResult} from '../helpers/fake-runner.js'
import {podmanFixture} from '../helpers/fixtures.js'
import {fakeHostFacts} from '../helpers/host-facts.js'
import {runCommand} from '../helpers/run-command.js'
import {tempDir} from '../helpers/temp-dirs.js'
import {testProfileYaml} from '../helpers/test-profile.js'

const GUARD_ID = 'a'.repeat(64)
const RUN_ID = 'guardrun-0001'
const GUARD = `sourceos-netguard-${RUN_ID}`

let container: FakeContainer | undefined
afterEach(() => container?.uninstall())

function setup() {
  const home = tempDir('run-guard-')
  const repo = join(home, 'dev', 'app')
  mkdirSync(repo, {recursive: true})
  const profile = join(home, 'profile.yaml')
  writeFileSync(
    profile,
    testProfileYaml({mounts: [{source: repo, target: '/workspace/app', mode: 'rw'}], network: '{mode: open}'}),
  )
  // rootful: the guard is root in its container, the agent joins its network namespace only
  const facts = fakeHostFacts('linux', {homeDir: home, uid: 0, env: {HOME: home, SOURCEOSCTL_PROFILE: profile}})
  return {repo, facts}
}

/** What happened, in order: each podman call as it starts ("call …") and, for the guard's start, as it ends. */
function guardRunner(opts: {start?: RouteResult; logs?: RouteResult}) {
  const events: string[] = []
  let agentCreated!: () => void
  const created = new Promise<void>((r) => (agentCreated = r))
  container = fakeContainer()
  container.install()
  container.editInspect((e) => {
    e.HostConfig.NetworkMode = `container:${GUARD_ID}`
  })
  const [create, ...rest] = container.routes as [FakeRoute, ...FakeRoute[]]
  const runner = fakeRunner([
    {match: 'podman image inspect', result: {stdout: podmanFixture('podman431-image-inspect.json')}},
    {match: `podman create --name=${GUARD}`, result: {stdout: `${GUARD_ID}\n`}},
    {
      match: `podman start ${GUARD}`,
      // the guard's start ends only once the agent's create has begun: a launch that waited for it first never gets there
      result: async (c, a, o) => {
        let timer: NodeJS.Timeout | undefined
        await Promise.race([created, new Promise((r) => (timer = setTimeout(r, 10_000)))])
        clearTimeout(timer)
        const r = typeof opts.start === 'function' ? await opts.start(c, a, o) : (opts.start ?? {})
        events.push('guard started')
        return r
      },
    },
    {match: `podman logs ${GUARD}`, result: opts.logs ?? {stdout: `${GUARD_READY_LINE}\n`}},
    {
      match: 'podman create',
      result: (c, a, o) => {
        agentCreated()
        return typeof create.result === 'function' ? create.result(c, a, o) : {}
      },
    },
    ...rest,
    {match: 'podman ps', result: {stdout: ''}},
    {match: 'podman rm', result: {}},
    {match: 'podman kill', result: {}},
    {match: 'podman --version', result: {stdout: 'podman version 4.3.1\n'}},
    {match: 'podman run', result: {stdout: 'codex-fake 0.0.1\n'}},
    {match: 'git --version', result: {stdout: 'git version 2.39.5\n'}},
    {match: 'nix --version', result: {exitCode: null, notFound: true}},
    {match: (cmd, args) => cmd === 'git' && (args.includes('status') || args.includes('rev-parse')), result: {exitCode: 1}},
  ])
  const wrapped = Object.assign(
    async (command: string, args: readonly string[], options?: Parameters<typeof runner>[2]) => {
      if (command === 'podman' && !(args[0] === 'start' && args[1] === GUARD)) events.push(`call ${args.slice(0, 2).join(' ')}`)
      if (command === 'podman' && args[0] === 'start' && args[1] === GUARD) events.push('call start guard')
      return runner(command, args, options)
    },
    {calls: runner.calls, commandLines: runner.commandLines},
  )
  return {runner: wrapped, events}
}

function attached(): AttachedRunner & {calls: string[][]} {
  const calls: string[][] = []
  const fn = (async (command: string, args: readonly string[]) => {
    calls.push([command, ...args])
    return {exitCode: 0, notFound: false, interrupted: false, durationMs: 1}
  }) as AttachedRunner & {calls: string[][]}
  fn.calls = calls
  return fn
}

const at = (events: string[], what: string) => {
  const i = events.findIndex((e) => e.startsWith(what))
  expect(i, `${what} in ${events.join(' | ')}`).toBeGreaterThanOrEqual(0)
  return i
}

describe('run, network open: the link-local guard beside the agent’s container', () => {
  it('starts the guard while the agent is created; the agent’s init comes after the guard’s start, its start after the routes; both are removed after', async () => {
    const {repo, facts} = setup()
    const {runner, events} = guardRunner({})
    const tool = attached()
    const out = await runCommand(Run, ['--tool', 'codex', '--repo', repo, '--run-id', RUN_ID, '--json'], {runner, attachedRunner: tool, hostFacts: async () => facts})
    expect(out.exitCode, out.stderr).toBe(0)
    expect(tool.calls).toHaveLength(1)
    // the guard is created first; its start is under way when the agent's create begins
    expect(at(events, `call create --name=${GUARD}`)).toBeLessThan(at(events, 'call start guard'))
    expect(at(events, 'call start guard')).toBeLessThan(at(events, 'call create --name=sourceos-agent'))
    expect(at(events, 'call create --name=sourceos-agent')).toBeLessThan(at(events, 'guard started'))
    // the agent joins the guard's namespaces only once it runs
    expect(at(events, 'guard started')).toBeLessThan(at(events, 'call init'))
    expect(at(events, 'call logs')).toBeGreaterThan(at(events, 'guard started'))
    expect(at(events, 'call rm --force')).toBeGreaterThan(at(events, 'call logs'))
    expect(runner.commandLines()).toContain(`podman rm --force --time=0 ${GUARD}`)
  })

  it('a guard that cannot start: refused (LINK_LOCAL_GUARD_FAILED), the agent never initialised nor started, the agent and the guard removed', async () => {
    const {repo, facts} = setup()
    const {runner} = guardRunner({start: {exitCode: 125, stderr: 'Error: netavark: iptables failed\n'}})
    const tool = attached()
    const out = await runCommand(Run, ['--tool', 'codex', '--repo', repo, '--run-id', RUN_ID, '--json'], {runner, attachedRunner: tool, hostFacts: async () => facts})
    expect(out.exitCode).not.toBe(0)
    expect(out.json).toMatchObject({error: {code: 'LINK_LOCAL_GUARD_FAILED', message: expect.stringContaining('cannot start the link-local guard')}})
    expect(tool.calls).toEqual([])
    const lines = runner.commandLines()
    expect(lines.some((l) => l.startsWith('podman init'))).toBe(false)
    expect(lines).toContain(`podman rm --force --time=0 ${GUARD}`)
    // the agent's container was created meanwhile: it is looked up by name and run id, and removed
    expect(lines.some((l) => l.startsWith('podman ps --all') && l.includes(`--filter=label=dev.sourceos.agent-machine.run-id=${RUN_ID}`))).toBe(true)
  })

  it('a guard that cannot set its routes: refused before the agent starts, both removed', async () => {
    const {repo, facts} = setup()
    const {runner} = guardRunner({logs: {stdout: 'RTNETLINK answers: Operation not permitted\n'}})
    const tool = attached()
    const out = await runCommand(Run, ['--tool', 'codex', '--repo', repo, '--run-id', RUN_ID, '--json'], {runner, attachedRunner: tool, hostFacts: async () => facts})
    expect(out.exitCode).not.toBe(0)
    expect(out.json).toMatchObject({error: {code: 'LINK_LOCAL_GUARD_FAILED', message: expect.stringContaining('the link-local guard did not set its routes')}})
    expect(tool.calls).toEqual([])
    expect(runner.commandLines()).toContain(`podman rm --force --time=0 ${GUARD}`)
  })
})
