/**
 * Puts the fake `podman` (./podman → fake-podman.mjs) first on PATH for one scenario, so command
 * and integration tests exercise the REAL Runner against a real process that replays recorded
 * outputs. Each activation gets its own state dir (scenario variables + a log of every call).
 */
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {delimiter, dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

export const FAKE_PODMAN_DIR = dirname(fileURLToPath(import.meta.url))

export interface FakePodmanCall {
  args: string[]
  /** CONTAINERS_MACHINE_PROVIDER as the fake saw it. */
  provider: string | null
  /** The global `--connection` the call named (taken off args); absent when it named none. */
  connection?: string
}

export interface FakePodman {
  /** Variables to put in a child's environment (PATH first). */
  env: Record<string, string>
  stateDir: string
  /** Every call so far, in order. */
  calls: () => FakePodmanCall[]
  /** The calls as `podman …` lines. */
  commandLines: () => string[]
  /** Undo `activate()` and remove the state dir. */
  restore: () => void
}

export function fakePodman(scenario: string): Omit<FakePodman, 'restore'> & {cleanup: () => void} {
  const stateDir = mkdtempSync(join(tmpdir(), 'fake-podman-'))
  const env = {
    PATH: `${FAKE_PODMAN_DIR}${delimiter}${process.env.PATH ?? ''}`,
    FAKE_PODMAN_SCENARIO: scenario,
    FAKE_PODMAN_STATE: stateDir,
  }
  const calls = (): FakePodmanCall[] => {
    let text = ''
    try {
      text = readFileSync(join(stateDir, 'calls.jsonl'), 'utf8')
    } catch {
      return []
    }
    return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as FakePodmanCall)
  }
  return {
    env,
    stateDir,
    calls,
    commandLines: () => calls().map((c) => ['podman', ...(c.connection ? ['--connection', c.connection] : []), ...c.args].join(' ')),
    cleanup: () => rmSync(stateDir, {recursive: true, force: true}),
  }
}

/** Activates a scenario in this process's environment (what the real Runner inherits). */
export function activateFakePodman(scenario: string): FakePodman {
  const fake = fakePodman(scenario)
  const saved: Record<string, string | undefined> = {}
  for (const [k, v] of Object.entries(fake.env)) {
    saved[k] = process.env[k]
    process.env[k] = v
  }
  let restored = false
  return {
    ...fake,
    restore: () => {
      if (restored) return
      restored = true
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k]
        else process.env[k] = v
      }
      fake.cleanup()
    },
  }
}
