/**
 * What a record must never hold (issue 14, item 1): the values of tool arguments and of
 * environment variables, which carry API keys and credentials (`--api-key sk-…`,
 * `PIP_INDEX_URL=https://user:pw@…`), and the user's home path, which names the user.
 *
 * Values are redacted by shape: an option's name stays (`--api-key`, `--model=`), its value is
 * replaced by `[redacted sha256:<hex>]` — the SHA-256 of the value's UTF-8 bytes, so a reviewer
 * who knows a value can confirm it (`printf %s VALUE | sha256sum`) and nobody else learns it.
 * Home paths become `~/…`. Pure.
 */
import {createHash} from 'node:crypto'

const REDACTED = /^\[redacted sha256:[0-9a-f]{64}\]$/

/** `[redacted sha256:<hex of the value>]`. */
export function redactedValue(value: string): string {
  // Stryker disable next-line StringLiteral: 'utf8' is update()'s default for a string (the template around it is killed)
  return `[redacted sha256:${createHash('sha256').update(value, 'utf8').digest('hex')}]`
}

export function isRedacted(value: string): boolean {
  return REDACTED.test(value)
}

/** An option name that is only that: `-p`, `--model`, `--dangerously-skip-permissions` (letters and dashes). */
const OPTION_NAME = /^--?[A-Za-z][A-Za-z-]{0,47}$/

/** One tool argument by shape: an option name stays, `--name=value` keeps the name, everything else is redacted. */
export function redactArg(arg: string): string {
  if (OPTION_NAME.test(arg) || isRedacted(arg)) return arg
  const eq = arg.indexOf('=')
  if (eq > 0 && OPTION_NAME.test(arg.slice(0, eq))) return isRedacted(arg.slice(eq + 1)) ? arg : `${arg.slice(0, eq + 1)}${redactedValue(arg.slice(eq + 1))}`
  return redactedValue(arg)
}

/**
 * The CLI's own arguments: everything after the first `--`, and any argument equal to one of the
 * tool's arguments (oclif also takes them without `--`), is redacted by shape. The CLI's own
 * options (--repo, --tool, --run-id, …) stay, home paths made relative by the caller.
 */
export function redactCliArgv(argv: readonly string[], toolArgs: readonly string[]): string[] {
  const tool = new Set(toolArgs)
  const sep = argv.indexOf('--')
  return argv.map((arg, i) => ((sep !== -1 && i > sep) || tool.has(arg) ? redactArg(arg) : arg))
}

/**
 * A podman argv: every `--env=NAME=value` (and `--env`/`-e NAME=value`) keeps the name and
 * redacts the value unless the policy sets exactly that value (`env.set`, which the record holds
 * anyway); the container command after the image keeps the tool's own command (from the profile)
 * and redacts its arguments by shape.
 */
export function redactPodmanArgv(argv: readonly string[], opts: {image?: string; commandLength?: number; envSet?: Readonly<Record<string, string>>}): string[] {
  const set = opts.envSet ?? {}
  const env = (assignment: string): string => {
    const eq = assignment.indexOf('=')
    if (eq <= 0) return assignment
    const name = assignment.slice(0, eq)
    const value = assignment.slice(eq + 1)
    return (Object.hasOwn(set, name) && set[name] === value) || isRedacted(value) ? assignment : `${name}=${redactedValue(value)}`
  }
  const out: string[] = []
  // Stryker disable next-line ConditionalExpression: argv.indexOf(undefined) is -1 as well
  const imageAt = opts.image === undefined ? -1 : argv.indexOf(opts.image)
  for (let i = 0; i < argv.length; i++) {
    // Stryker disable next-line StringLiteral: i < argv.length: the element is always there
    const arg = argv[i] ?? ''
    // Stryker disable next-line EqualityOperator: i >= imageAt: the image itself counts as the command's first word and is kept as it is either way (imageAt !== -1 is killed)
    if (imageAt !== -1 && i > imageAt) {
      out.push(i - imageAt <= (opts.commandLength ?? 0) ? arg : redactArg(arg))
    } else if (arg.startsWith('--env=')) {
      out.push(`--env=${env(arg.slice('--env='.length))}`)
    } else if ((arg === '--env' || arg === '-e') && i + 1 < argv.length && i + 1 !== imageAt) {
      out.push(arg, env(argv[i + 1] ?? ''))
      i++
    } else {
      out.push(arg)
    }
  }
  return out
}

/**
 * A recorded podman argv as `inspect` shows it: records of older CLIs hold env and tool-argument
 * values verbatim, so they are redacted for display the same way (already redacted values stay).
 * The container command starts after the image (its ID or reference as recorded).
 */
export function displayPodmanArgv(
  argv: readonly string[],
  record: {imageId: string; imageRef: string; toolCommand: readonly string[] | null; envSet: Readonly<Record<string, string>>},
): {argv: string[]; toolArgs: string[]} {
  // Stryker disable next-line Regex: an image ID holds sha256: only as its prefix
  const id = record.imageId.replace(/^sha256:/, '')
  const image = argv.find((a) => a === id || a === record.imageId || a === record.imageRef)
  const command = record.toolCommand ?? ['/bin/sh']
  // Stryker disable next-line ConditionalExpression: argv.indexOf(undefined) is -1 as well
  const at = image === undefined ? -1 : argv.indexOf(image)
  const ownLength = at === -1 ? 0 : command.every((c, i) => argv[at + 1 + i] === c) ? command.length : 0
  return {
    // Stryker disable next-line ConditionalExpression: {image: undefined} reads as no image
    argv: redactPodmanArgv(argv, {...(image === undefined ? {} : {image}), commandLength: ownLength, envSet: {HOME: '/home/agent', ...record.envSet}}),
    toolArgs: at === -1 ? [] : argv.slice(at + 1 + ownLength),
  }
}

/** Characters that continue a file name (letters and digits of any script, and the usual punctuation). */
const NAME_CHARS = String.raw`\-\p{L}\p{N}\p{M}._~+@%`

/**
 * Replaces the home dir wherever it stands as a whole path — at the start, after `=`, `:`, `,`, a
 * space or a quote (`--mount=type=bind,source=/home/u/x,…`, `cd /home/u && …`) — by `~`. `/home/user` never matches `/home/username`.
 */
export function homeRelative(text: string, home: string): string {
  const h = home.replace(/[\\/]+$/, '')
  if (h === '') return text // `/` as home, once stripped
  const escaped = h.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  // The home as a whole path: not the tail of a longer path before it (`/srv/home/u`), not the head
  // of a longer name after it (`/home/u-other`); any other neighbour (space, quote, `&`, `;`, `=`…)
  // ends it, so `cd /home/u && …` loses the user name too.
  return text.replace(new RegExp(`(?<![${NAME_CHARS}\\\\/])${escaped}(?![${NAME_CHARS}])`, 'gu'), '~')
}

/** homeRelative over every string in a JSON value (object keys included). */
export function homeRelativeDeep<T>(value: T, home: string): T {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return homeRelative(v, home)
    if (Array.isArray(v)) return v.map(walk)
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [homeRelative(k, home), walk(x)]))
    return v
  }
  return walk(value) as T
}

/**
 * Free text (an error message, which may quote a podman argv or podman's stderr) with every
 * occurrence of a known secret value replaced by its redacted form, longest first. Values shorter
 * than 4 characters are left: they would match inside ordinary words.
 */
export function redactValuesIn(text: string, values: Iterable<string>): string {
  const list = [...new Set(values)].filter((v) => v.length >= 4 && !isRedacted(v)).sort((a, b) => b.length - a.length)
  let out = text
  for (const value of list) out = out.split(value).join(redactedValue(value))
  return out
}

/**
 * The values a podman argv must not reveal: every `--env`/`-e` value the policy does not set
 * itself, and the container command's arguments after the tool's own command.
 */
export function secretValuesOf(argv: readonly string[], opts: {image?: string; commandLength?: number; envSet?: Readonly<Record<string, string>>}): string[] {
  const set = opts.envSet ?? {}
  const values: string[] = []
  const env = (assignment: string) => {
    const eq = assignment.indexOf('=')
    if (eq <= 0) return
    const name = assignment.slice(0, eq)
    const value = assignment.slice(eq + 1)
    if (!(Object.hasOwn(set, name) && set[name] === value)) values.push(value)
  }
  // Stryker disable next-line ConditionalExpression: argv.indexOf(undefined) is -1 as well
  const imageAt = opts.image === undefined ? -1 : argv.indexOf(opts.image)
  for (let i = 0; i < argv.length; i++) {
    // Stryker disable next-line StringLiteral: i < argv.length: the element is always there
    const arg = argv[i] ?? ''
    // Stryker disable next-line EqualityOperator: i >= imageAt: the image itself then counts as the command's first word and gives no value either way (imageAt !== -1 is killed)
    if (imageAt !== -1 && i > imageAt) {
      if (i - imageAt <= (opts.commandLength ?? 0) || OPTION_NAME.test(arg)) continue
      const eq = arg.indexOf('=')
      values.push(eq > 0 && OPTION_NAME.test(arg.slice(0, eq)) ? arg.slice(eq + 1) : arg)
    } else if (arg.startsWith('--env=')) env(arg.slice('--env='.length))
    else if ((arg === '--env' || arg === '-e') && i + 1 < argv.length) env(argv[++i] ?? '')
  }
  return values
}
