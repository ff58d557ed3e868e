/**
 * The host-side secret store: Podman's own (`podman secret`), through the profile's podman context
 * (the rootless user's store on Linux, the machine's on macOS/Windows, a remote connection's
 * store there). Why (docs/secrets.md): it works headless (CI), needs no keychain daemon, and the
 * value is already where the container that needs it — the door sidecar, never the agent — is
 * created, so it is handed over by podman (`--secret`) and never passes through an argv or env.
 *
 * Values travel to podman on stdin only (`podman secret create <name> -`). Nothing here returns or
 * logs a value.
 */
import {describeOutcome, succeeded, type Runner} from '../exec.js'
import {unexpectedFailure, usageError} from '../errors.js'
import {podmanArgv, type PodmanContext} from '../podman/context.js'

type Target = Pick<PodmanContext, 'binary' | 'connection'>

/** Podman secret names the CLI owns: this prefix, then the user's name. */
export const PODMAN_SECRET_PREFIX = 'sourceos.'
export const SECRET_LABEL = 'dev.sourceos.agent-machine.secret'
export const SECRET_NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/
export const MAX_SECRET_BYTES = 8192
/**
 * API keys and tokens: letters, digits and `. _ ~ + / = : -`. The door writes the value into a
 * Squid header directive inside its own container; refusing everything else (quotes, %, \,
 * spaces, controls) means no value can change that directive's meaning.
 */
export const SECRET_VALUE = /^[A-Za-z0-9._~+/=:-]+$/

export const podmanSecretName = (name: string): string => `${PODMAN_SECRET_PREFIX}${name}`

export function checkSecretName(name: string): void {
  if (!SECRET_NAME.test(name)) throw usageError('SECRET_NAME_INVALID', `'${name.replace(/[^\x20-\x7e]/g, '?')}' is not a secret name`, 'use lower-case letters, digits, _ . - (max 63), starting with a letter or digit, e.g. anthropic')
}

/**
 * The value as typed or piped: one trailing newline (CRLF too) is dropped; otherwise it must be a
 * token as SECRET_VALUE says. The error never repeats the value.
 */
export function normaliseSecretValue(raw: string): string {
  const value = raw.replace(/\r?\n$/, '')
  if (value.length === 0) throw usageError('SECRET_VALUE_EMPTY', 'the secret value is empty', 'type the value at the prompt, or pipe it: printf %s "$KEY" | sourceosctl agent-machine secret set <name>')
  if (Buffer.byteLength(value) > MAX_SECRET_BYTES) throw usageError('SECRET_VALUE_TOO_LONG', `the secret value is longer than ${MAX_SECRET_BYTES} bytes`, 'store the API key or token itself')
  if (!SECRET_VALUE.test(value)) {
    throw usageError(
      'SECRET_VALUE_INVALID',
      'the secret value holds characters an API key does not (spaces, quotes, %, \\, a second line or control characters); it was not stored',
      'store the key or token alone: letters, digits and . _ ~ + / = : - (the door adds any "Bearer " prefix itself, from the injection\'s format)',
    )
  }
  return value
}

export interface StoredSecret {
  name: string
  podmanName: string
  createdAt: string | null
}

/**
 * `podman secret create <name> -` reads the value from stdin, and insists that stdin be a pipe.
 * Node gives a child a socket on macOS and Linux: `sh -c 'cat | "$@"'` puts a real pipe in between.
 * On Windows, Node's child stdin already is a named pipe. The value is in no argv.
 */
export const PIPE_WRAPPER = ['/bin/sh', '-c', 'cat | "$@"', 'sh']
export const secretCreateArgv = (ctx: Target, name: string, platform: 'linux' | 'macos' | 'windows' = 'linux'): string[] => [
  ...(platform === 'windows' ? [] : PIPE_WRAPPER),
  ...podmanArgv(ctx, ['secret', 'create', `--label=${SECRET_LABEL}=${name}`, podmanSecretName(name), '-']),
]
export const secretRemoveArgv = (ctx: Target, name: string): string[] => podmanArgv(ctx, ['secret', 'rm', podmanSecretName(name)])
export const secretListArgv = (ctx: Target): string[] => podmanArgv(ctx, ['secret', 'ls', '--noheading', '--format', '{{.Name}}'])
export const secretInspectArgv = (ctx: Target, podmanNames: readonly string[]): string[] => podmanArgv(ctx, ['secret', 'inspect', ...podmanNames])

async function run(runner: Runner, argv: readonly string[], input?: string) {
  return runner(argv[0]!, argv.slice(1), {timeoutMs: 30_000, ...(input === undefined ? {} : {input})})
}

function podmanFailed(what: string, outcome: string): Error {
  return unexpectedFailure('SECRET_STORE_FAILED', `cannot ${what}: ${outcome}`, 'check that podman works (`sourceosctl agent-machine doctor`); on macOS/Windows the machine must be running')
}

/** The CLI's secrets in the store, by name, sorted. */
export async function listSecrets(runner: Runner, ctx: Target): Promise<StoredSecret[]> {
  const ls = await run(runner, secretListArgv(ctx))
  if (!succeeded(ls)) throw podmanFailed('list podman secrets', describeOutcome(ls))
  const names = ls.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((n) => n.startsWith(PODMAN_SECRET_PREFIX) && SECRET_NAME.test(n.slice(PODMAN_SECRET_PREFIX.length)))
  if (names.length === 0) return []
  const inspected = await run(runner, secretInspectArgv(ctx, names))
  const created = new Map<string, string>()
  if (succeeded(inspected)) {
    try {
      for (const s of JSON.parse(inspected.stdout) as Array<{CreatedAt?: unknown; Spec?: {Name?: unknown}}>) {
        if (typeof s.Spec?.Name === 'string' && typeof s.CreatedAt === 'string') created.set(s.Spec.Name, s.CreatedAt)
      }
    } catch {
      // created times are a nicety: the names stand without them
    }
  }
  return names
    .map((podmanName) => ({name: podmanName.slice(PODMAN_SECRET_PREFIX.length), podmanName, createdAt: created.get(podmanName) ?? null}))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
}

export async function secretExists(runner: Runner, ctx: Target, name: string): Promise<boolean> {
  return (await listSecrets(runner, ctx)).some((s) => s.name === name)
}

/**
 * Stores (or replaces) a secret. Podman 4 has no atomic replace: an existing one is removed first,
 * then created; a failure in between leaves it absent (and says so), never half-written.
 */
export async function setSecret(runner: Runner, ctx: Target, name: string, value: string, platform: 'linux' | 'macos' | 'windows' = 'linux'): Promise<{replaced: boolean}> {
  checkSecretName(name)
  const clean = normaliseSecretValue(value)
  const replaced = await secretExists(runner, ctx, name)
  if (replaced) {
    const rm = await run(runner, secretRemoveArgv(ctx, name))
    if (!succeeded(rm)) throw podmanFailed(`replace the secret ${name}`, describeOutcome(rm))
  }
  const created = await run(runner, secretCreateArgv(ctx, name, platform), clean)
  if (!succeeded(created)) throw podmanFailed(`store the secret ${name}${replaced ? ' (the old value was already removed)' : ''}`, describeOutcome(created))
  return {replaced}
}

/** Removes a secret; false when there was none. */
export async function removeSecret(runner: Runner, ctx: Target, name: string): Promise<boolean> {
  checkSecretName(name)
  if (!(await secretExists(runner, ctx, name))) return false
  const rm = await run(runner, secretRemoveArgv(ctx, name))
  if (!succeeded(rm)) throw podmanFailed(`remove the secret ${name}`, describeOutcome(rm))
  return true
}
