/**
 * The real Runner against real processes (no mocks): a normal run is captured as before, and a
 * hung program behind a wrapper (a shell shim whose child keeps stdout open, like `flatpak-spawn
 * --host` or a `podman` shell wrapper) is ended as a whole tree on timeout, in bounded time, with
 * no test `sleep` left behind.
 */
import {execFileSync, spawn} from 'node:child_process'
import {chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {delimiter, join} from 'node:path'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'

import {createRunner, describeOutcome, succeeded} from '../../src/core/exec.js'
import {REPO_ROOT} from '../helpers/run-command.js'

const posix = process.platform !== 'win32'
const linux = process.platform === 'linux'
const hasSetsid = linux && (() => {
  try {
    execFileSync('sh', ['-c', 'command -v setsid'], {stdio: 'ignore'})
    return true
  } catch {
    return false
  }
})()

let dir: string
let serial = 0
/** Every unique `sleep 1000.<n>` argument a test started: afterEach kills what is left. */
const tags: string[] = []

/** A unique duration (GNU and busybox sleep take fractions), so `ps` finds exactly this test's sleeps. */
function tag(): string {
  const t = `1000.${process.pid}${String(++serial).padStart(3, '0')}`
  tags.push(t)
  return t
}

/** Writes an executable `podman` (a shell script) into a fresh folder; returns its path. */
function wrapper(body: string): string {
  const folder = join(dir, `bin-${++serial}`)
  mkdirSync(folder)
  const path = join(folder, 'podman')
  writeFileSync(path, `#!/bin/sh\n${body}\n`)
  chmodSync(path, 0o755)
  return path
}

/** Pids of running processes whose command line contains `sleep <t>`. */
function sleepers(t: string): number[] {
  const ps = execFileSync('ps', ['-eo', 'pid=,stat=,args='], {encoding: 'utf8'})
  return ps
    .split('\n')
    .map((line) => line.trim().match(/^(\d+)\s+(\S+)\s+(.*)$/))
    .filter((m): m is RegExpMatchArray => m !== null && !m[2]!.startsWith('Z') && m[3]!.includes(`sleep ${t}`) && !m[3]!.includes('ps -eo'))
    .map((m) => Number(m[1]))
}

/** Waits (up to `ms`) until no `sleep <t>` runs; returns the pids still running. */
async function gone(t: string, ms = 3000): Promise<number[]> {
  const until = Date.now() + ms
  let left = sleepers(t)
  while (left.length > 0 && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    left = sleepers(t)
  }
  return left
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'exec-test-'))
})

afterEach(() => {
  for (const t of tags.splice(0)) {
    for (const pid of sleepers(t)) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
  }
})

afterAll(() => {
  rmSync(dir, {recursive: true, force: true})
})

describe('createRunner: a normal run', () => {
  const run = createRunner()

  it.runIf(posix)('captures stdout, stderr and the exit code; a non-zero exit does not throw', async () => {
    const result = await run('sh', ['-c', 'printf "out\\n"; printf "err" >&2; exit 3'])
    expect(result).toMatchObject({command: 'sh', exitCode: 3, stdout: 'out\n', stderr: 'err', notFound: false, timedOut: false})
    expect(result.signal).toBeUndefined()
    expect(succeeded(result)).toBe(false)
    expect(describeOutcome(result)).toBe('sh -c printf "out\\n"; printf "err" >&2; exit 3 exited 3: err')
    // warnings first, then the error: the error line is the one shown
    const warned = await run('sh', ['-c', 'printf "level=warning msg=cache\\nError: the real reason\\n" >&2; exit 125'])
    expect(describeOutcome(warned)).toMatch(/exited 125: Error: the real reason$/)
  })

  it.runIf(posix)('writes input to stdin, and stdin is empty without it', async () => {
    expect((await run('cat', [], {input: 'hello\n'})).stdout).toBe('hello\n')
    const none = await run('cat', [], {timeoutMs: 5000})
    expect(none).toMatchObject({exitCode: 0, stdout: '', timedOut: false})
  })

  it.runIf(posix)('inherits the environment plus env; cleanEnv starts from nothing; cwd is honoured', async () => {
    process.env.SOURCEOSCTL_EXEC_TEST_INHERITED = 'inherited'
    try {
      const inherited = await run('/bin/sh', ['-c', 'printf "%s %s" "$SOURCEOSCTL_EXEC_TEST_INHERITED" "$EXTRA"'], {env: {EXTRA: 'extra'}})
      expect(inherited.stdout).toBe('inherited extra')
      const removed = await run('/bin/sh', ['-c', 'printf "%s" "${SOURCEOSCTL_EXEC_TEST_INHERITED-unset}"'], {env: {SOURCEOSCTL_EXEC_TEST_INHERITED: undefined}})
      expect(removed.stdout).toBe('unset')
      const clean = await run('/bin/sh', ['-c', 'printf "%s %s" "${SOURCEOSCTL_EXEC_TEST_INHERITED-unset}" "$ONLY"'], {cleanEnv: true, env: {ONLY: 'only'}})
      expect(clean.stdout).toBe('unset only')
    } finally {
      delete process.env.SOURCEOSCTL_EXEC_TEST_INHERITED
    }
    expect((await run('pwd', [], {cwd: dir})).stdout.trim()).toBe(execFileSync('pwd', {cwd: dir, encoding: 'utf8'}).trim())
  })

  it('tells a missing program apart from a failing one', async () => {
    const result = await run('sourceosctl-no-such-program-7f3a', ['--version'])
    expect(result).toMatchObject({notFound: true, exitCode: null, timedOut: false})
    expect(describeOutcome(result)).toBe('sourceosctl-no-such-program-7f3a is not installed or not on PATH')
  })

  it.runIf(posix)('reports the signal that ended a program', async () => {
    const result = await run('sh', ['-c', 'kill -TERM $$'])
    expect(result).toMatchObject({exitCode: null, signal: 'SIGTERM', timedOut: false})
  })

  it.runIf(posix)('keeps multi-byte output whole across chunks', async () => {
    const result = await run('sh', ['-c', 'i=0; while [ $i -lt 3000 ]; do printf "é€"; i=$((i+1)); done'])
    expect(result.stdout).toBe('é€'.repeat(3000))
  })

  it.runIf(posix)('a program that exits while a daemon it started holds stdout: its exit code, at once', async () => {
    if (!hasSetsid) return
    const t = tag()
    // the daemon leaves our process group (setsid) and its parent exits: nothing can end it
    const podman = wrapper(`echo started\n(setsid sleep ${t} &)\nexit 0`)
    const started = Date.now()
    const result = await run(podman, ['info'], {timeoutMs: 20_000})
    expect(Date.now() - started).toBeLessThan(5000)
    expect(result).toMatchObject({exitCode: 0, stdout: 'started\n', timedOut: false})
    // not ours to end: it did not time out (afterEach kills it)
    expect(sleepers(t)).toHaveLength(1)
  })
})

describe.runIf(posix)('createRunner: a timeout ends the whole process tree and never waits on its pipes', () => {
  const run = createRunner()

  it('a shell wrapper whose child keeps stdout open (`sleep & wait`)', async () => {
    const t = tag()
    const podman = wrapper(`echo started\nsleep ${t} &\nwait`)
    const started = Date.now()
    const result = await run(podman, ['info'], {timeoutMs: 500})
    expect(Date.now() - started).toBeLessThan(5000)
    expect(result).toMatchObject({timedOut: true, exitCode: null, notFound: false, stdout: 'started\n'})
    expect(succeeded(result)).toBe(false)
    expect(describeOutcome(result)).toMatch(/timed out after \d+ ms/)
    expect(await gone(t)).toEqual([])
  })

  it('a wrapper that traps SIGTERM: SIGKILL follows after the grace', async () => {
    const t = tag()
    const podman = wrapper(`trap '' TERM\nsleep ${t} &\nwait\nwait`)
    const started = Date.now()
    const result = await run(podman, ['info'], {timeoutMs: 500})
    expect(Date.now() - started).toBeLessThan(5000)
    expect(result.timedOut).toBe(true)
    expect(await gone(t)).toEqual([])
  })

  it.runIf(hasSetsid)('a grandchild that left the process group (setsid) while its parent waits', async () => {
    const t = tag()
    const t2 = tag()
    const podman = wrapper(`echo started\nsetsid sleep ${t} &\nsleep ${t2} &\nwait`)
    const started = Date.now()
    const result = await run(podman, ['info'], {timeoutMs: 500})
    expect(Date.now() - started).toBeLessThan(5000)
    expect(result).toMatchObject({timedOut: true, exitCode: null, stdout: 'started\n'})
    expect(await gone(t)).toEqual([])
    expect(await gone(t2)).toEqual([])
  })

  it.runIf(hasSetsid)('a daemon that escaped the tree before the timeout holds stdout: the call still returns', async () => {
    const t = tag()
    const t2 = tag()
    // double fork: the daemon's parent is gone, so it is neither in the group nor a descendant
    const podman = wrapper(`echo started\n(setsid sleep ${t} &)\nsleep ${t2} &\nwait`)
    const started = Date.now()
    const result = await run(podman, ['info'], {timeoutMs: 500})
    expect(Date.now() - started).toBeLessThan(5000)
    expect(result).toMatchObject({timedOut: true, exitCode: null, stdout: 'started\n'})
    expect(await gone(t2)).toEqual([])
    // the escaped daemon is out of reach (see exec.ts); afterEach kills it
  })
})

/**
 * Bundles a small TypeScript entry (importing from the sources) next to node_modules, like `make
 * build` does, so a test can run it as a real process and wait for its exit without a full build.
 */
async function bundleEntry(name: string, lines: string[]): Promise<string> {
  const {build} = await import('esbuild')
  const out = join(REPO_ROOT, 'node_modules', '.cache', 'sourceosctl-exec-test')
  mkdirSync(out, {recursive: true})
  const entry = join(out, `${name}-entry-${process.pid}.ts`)
  writeFileSync(entry, lines.join('\n'))
  const bundle = join(out, `${name}-${process.pid}.mjs`)
  await build({
    entryPoints: [entry], outfile: bundle, bundle: true, platform: 'node', format: 'esm', target: 'node22', external: ['@oclif/core'],
    banner: {js: "import {createRequire as __createRequire} from 'node:module'; const require = __createRequire(import.meta.url);"},
    logLevel: 'error',
  })
  rmSync(entry)
  return bundle
}

const src = (...parts: string[]): string => JSON.stringify(join(REPO_ROOT, 'src', ...parts))

interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  ms: number
}

/** Starts `node bundle args` in its own process group (like a CLI in a terminal's foreground group). */
function startNode(bundle: string, args: string[], env: Record<string, string | undefined>, cwd?: string) {
  const child = spawn(process.execPath, [bundle, ...args], {cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true})
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const started = Date.now()
  const exited = new Promise<Exit | 'hung'>((resolve) => {
    const timer = setTimeout(() => {
      process.kill(-child.pid!, 'SIGKILL')
      resolve('hung')
    }, 20_000)
    child.once('exit', (code, signal) => (clearTimeout(timer), resolve({code, signal, stdout, stderr, ms: Date.now() - started})))
  })
  return {pid: child.pid!, exited, output: () => `${stderr}\n${stdout}`}
}

async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe.runIf(posix)('the CLI itself interrupted (Ctrl-C to its process group) while a Runner call runs', () => {
  let bundle: string
  const bundles: string[] = []

  beforeAll(async () => {
    // argv: program…; with --hold, a SIGINT handler keeps the process alive (like a launch's early-signal handler)
    bundle = await bundleEntry('runner', [
      `import {createRunner} from ${src('core', 'exec.ts')}`,
      `const hold = process.argv[2] === '--hold'`,
      `const argv = process.argv.slice(hold ? 3 : 2)`,
      `if (hold) process.on('SIGINT', () => console.log('noted SIGINT'))`,
      `const result = await createRunner()(argv[0], argv.slice(1), {timeoutMs: 60_000})`,
      `console.log(JSON.stringify(result))`,
    ])
    bundles.push(bundle)
  }, 60_000)

  afterAll(() => {
    for (const b of bundles) rmSync(b, {force: true})
  })

  it('the CLI dies of the SIGINT, as before, and the child’s whole tree is ended', async () => {
    const t = tag()
    const podman = wrapper(`sleep ${t} &\nwait`)
    const cli = startNode(bundle, [podman, 'info'], process.env)
    await until(() => sleepers(t).length === 1)
    process.kill(-cli.pid, 'SIGINT')
    const exit = await cli.exited
    expect(exit).not.toBe('hung')
    expect((exit as Exit).signal, cli.output()).toBe('SIGINT')
    expect(await gone(t)).toEqual([])
  })

  it('with a SIGINT handler in the CLI (a launch before start), the running step finishes', async () => {
    const t = tag()
    const step = wrapper(`sleep ${t} &\nsleep 1\nkill $!\necho finished`)
    const cli = startNode(bundle, ['--hold', step, 'create'], process.env)
    await until(() => sleepers(t).length === 1)
    process.kill(-cli.pid, 'SIGINT')
    const exit = await cli.exited
    expect(exit).not.toBe('hung')
    const {code, stdout} = exit as Exit
    expect(code, cli.output()).toBe(0)
    expect(stdout).toContain('noted SIGINT')
    expect(JSON.parse(stdout.split('\n').filter(Boolean).at(-1)!)).toMatchObject({exitCode: 0, stdout: 'finished\n', timedOut: false})
  })
})

describe.runIf(posix)('end to end: the CLI exits although podman behind a wrapper hangs', () => {
  let bundle: string

  beforeAll(async () => {
    // the doctor command from the sources, run like bin/run.js would
    bundle = await bundleEntry('doctor', [
      `import {Config} from '@oclif/core'`,
      `import Doctor from ${src('commands', 'agent-machine', 'doctor.ts')}`,
      `const config = await Config.load({root: ${JSON.stringify(REPO_ROOT)}})`,
      `try { await Doctor.run(process.argv.slice(2), config) } catch (error) { process.exitCode = error?.oclif?.exit ?? 1; if (!error?.oclif) console.error(error) }`,
    ])
  }, 60_000)

  afterAll(() => {
    if (bundle) rmSync(bundle, {force: true})
  })

  it('`doctor --json --timeout 1` reports the timed-out probes and exits; no sleep is left', async () => {
    const t = tag()
    const podman = wrapper(`sleep ${t} &\nwait`)
    const home = mkdtempSync(join(dir, 'home-'))
    const cli = startNode(bundle, ['--json', '--timeout', '1'], {
      ...process.env,
      PATH: `${join(podman, '..')}${delimiter}${process.env.PATH ?? ''}`,
      HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_STATE_HOME: join(home, '.local', 'state'), NO_COLOR: '1',
    }, home)
    const exit = await cli.exited
    expect(exit, cli.output()).not.toBe('hung')
    const {code, stdout, ms} = exit as Exit
    expect(code, cli.output()).toBe(4)
    // 1 s deadline per probe, plus the CLI's start-up
    expect(ms).toBeLessThan(15_000)
    const report = JSON.parse(stdout) as {ready: boolean; checks: Array<{id: string; status: string}>}
    expect(report.ready).toBe(false)
    expect(report.checks.find((c) => c.id === 'podman-cli')?.status).toBe('timeout')
    expect(await gone(t)).toEqual([])
  }, 60_000)
})
