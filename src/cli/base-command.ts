/**
 * Shared behaviour of every agent-machine verb: `--json`, the exit-code contract, one-line errors
 * with a fix on stderr (or a JSON error document on stdout under --json), and colour that respects
 * NO_COLOR and non-TTY output.
 */
import {Command, Flags} from '@oclif/core'

import {AgentMachineError, EXIT_CODES_HELP, ExitCode} from '../core/errors.js'
import {setTrace} from '../core/util/trace.js'
import {closestCommand} from './suggest.js'

export {EXIT_CODES_HELP}

interface OclifLikeError extends Error {
  code?: string
  oclif?: {exit?: number}
  exitCode?: number
}

export abstract class AgentMachineCommand extends Command {
  static override enableJsonFlag = true

  /** On every verb: less (results and errors only) or more (full launch header, stage timings) on stderr. */
  static override baseFlags = {
    quiet: Flags.boolean({char: 'q', description: 'Print only results, warnings and errors: no progress, notes or launch header.', helpGroup: 'GLOBAL', exclusive: ['verbose']}),
    verbose: Flags.boolean({description: 'Print more on stderr: the launch header with every mount, and the time of each stage.', helpGroup: 'GLOBAL', exclusive: ['quiet']}),
  }

  /** --quiet / --verbose, read from argv before the command parses it (a `--` ends the flags). */
  protected get quiet(): boolean {
    return this.globalFlag('--quiet', '-q')
  }

  protected get verbose(): boolean {
    return this.globalFlag('--verbose')
  }

  private globalFlag(...names: string[]): boolean {
    const end = this.argv.indexOf('--')
    return (end < 0 ? this.argv : this.argv.slice(0, end)).some((a) => names.includes(a))
  }

  override async init(): Promise<void> {
    await super.init()
    if (this.verbose) setTrace(true)
  }

  /** Appended to every verb's --help so the exit codes are one `--help` away. */
  static exitCodesSection = `EXIT CODES\n${EXIT_CODES_HELP}`

  /** Human text to stdout; suppressed under --json. */
  protected say(text: string): void {
    this.log(text)
  }

  /** Warnings: stderr, never stdout; suppressed under --json. */
  protected note(text: string): void {
    this.logToStderr(text)
  }

  /** Progress and remarks: stderr; suppressed under --json and --quiet. */
  protected info(text: string): void {
    if (!this.quiet) this.logToStderr(text)
  }

  /** Sets the exit code without throwing, so the result is still printed (e.g. doctor exits 4). */
  protected setExitCode(code: number): void {
    process.exitCode = code
  }

  override async catch(err: OclifLikeError): Promise<void> {
    // oclif's own exit (this.exit) and help/version requests pass through untouched.
    if (err.code === 'EEXIT' || err.oclif?.exit === 0) throw err
    const flagNames = Object.entries((this.constructor as typeof Command).flags ?? {}).flatMap(([name, f]) => [name, ...((f as {aliases?: string[]}).aliases ?? [])])
    const appError = toAgentMachineError(err, [...flagNames, 'json'], this.id ? `${this.config.bin} ${this.id.replace(/:/g, ' ')}` : this.config.bin)
    process.exitCode = appError.exitCode
    if (this.jsonEnabled() || this.argv.includes('--json')) {
      this.logJson({error: appError.toJSON()})
    } else {
      // The problem on one line, the fix on its own line.
      process.stderr.write(`Error: ${appError.message.replace(/\s*\n\s*/g, ' ')}\n${appError.fix ? `Fix: ${appError.fix}\n` : ''}`)
      if (appError.exitCode === ExitCode.FAILURE && process.env.DEBUG && err.stack) process.stderr.write(`${err.stack}\n`)
    }
  }
}

function toAgentMachineError(err: OclifLikeError, flagNames: readonly string[] = [], command = 'sourceosctl'): AgentMachineError {
  if (err instanceof AgentMachineError) return err
  // oclif parse errors (unknown flag, missing required flag, bad option value) exit 2.
  if (err.oclif?.exit === 2 || /^(Unexpected argument|Nonexistent flags?|Missing required flag|Expected --)/.test(err.message)) {
    const unknown = /Nonexistent flags?: (--?[\w-]+)/.exec(err.message)?.[1]
    const near = unknown ? closestCommand(unknown.replace(/^-+/, ''), flagNames) : null
    const fix = near
      ? `did you mean --${near}? (see \`${command} --help\` for the accepted flags)`
      : `see \`${command} --help\` for the accepted flags and examples`
    return new AgentMachineError(parseErrorLine(err.message), {code: 'USAGE', exitCode: ExitCode.USAGE, fix})
  }
  return new AgentMachineError(`unexpected failure: ${err.message}`, {
    code: 'UNEXPECTED',
    exitCode: ExitCode.FAILURE,
    fix: 'rerun with DEBUG=1 for a stack trace, and report it if it persists.',
  })
}

/** oclif's parse errors span lines ("The following errors occurred:", items, "See more help…"): keep the items. */
export function parseErrorLine(message: string): string {
  const items = message
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !/^The following errors? occurred:?$/.test(line) && !/^See more help with/.test(line))
  return items.join('; ') || message.trim()
}
