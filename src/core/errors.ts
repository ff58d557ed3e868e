/**
 * Typed errors with the exit-code contract (ARCHITECTURE §7). Every refusal or failure the user
 * can act on is an AgentMachineError with a one-line message and a fix.
 */

export const ExitCode = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  POLICY: 3,
  PREREQUISITE: 4,
  EVIDENCE: 5,
  /** The session left something the host would run or trust; it was moved to quarantine. */
  PLANT_QUARANTINED: 6,
} as const

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode]

export const EXIT_CODE_TABLE: ReadonlyArray<{code: number; meaning: string}> = [
  {code: 0, meaning: 'ok'},
  {code: 1, meaning: 'unexpected failure'},
  {code: 2, meaning: 'usage error (bad flag, bad profile, unknown template)'},
  {code: 3, meaning: 'refused by policy (denied path, secret-like env, tool not enabled)'},
  {code: 4, meaning: 'prerequisite missing (podman, machine, image, repo)'},
  {code: 5, meaning: 'evidence invalid'},
  {code: 6, meaning: 'the session left something the host would run (a git hook, config, pointer): it was quarantined'},
]

/** The exit-code table as help text, shared by every command's --help. */
export const EXIT_CODES_HELP = EXIT_CODE_TABLE.map(({code, meaning}) => `  ${code}  ${meaning}`).join('\n')

export interface ErrorInit {
  /** Stable machine-readable code, e.g. PROFILE_INVALID. */
  code: string
  exitCode: ExitCodeValue
  /** What to do about it, one sentence. */
  fix?: string
  details?: Record<string, unknown>
}

export class AgentMachineError extends Error {
  readonly code: string
  readonly exitCode: ExitCodeValue
  readonly fix?: string
  readonly details?: Record<string, unknown>

  constructor(message: string, init: ErrorInit) {
    super(message)
    this.name = 'AgentMachineError'
    this.code = init.code
    this.exitCode = init.exitCode
    this.fix = init.fix
    this.details = init.details
  }

  /** One line: the problem, then the fix. */
  oneLine(): string {
    const message = this.message.replace(/\s*\n\s*/g, ' ')
    return this.fix ? `${message} Fix: ${this.fix}` : message
  }

  toJSON(): Record<string, unknown> {
    return {code: this.code, message: this.message, exitCode: this.exitCode, fix: this.fix ?? null, ...(this.details ? {details: this.details} : {})}
  }
}

export const usageError = (code: string, message: string, fix?: string, details?: Record<string, unknown>) =>
  new AgentMachineError(message, {code, exitCode: ExitCode.USAGE, fix, details})

export const policyRefusal = (code: string, message: string, fix?: string, details?: Record<string, unknown>) =>
  new AgentMachineError(message, {code, exitCode: ExitCode.POLICY, fix, details})

export const prerequisiteMissing = (code: string, message: string, fix?: string, details?: Record<string, unknown>) =>
  new AgentMachineError(message, {code, exitCode: ExitCode.PREREQUISITE, fix, details})

export const evidenceInvalid = (code: string, message: string, fix?: string, details?: Record<string, unknown>) =>
  new AgentMachineError(message, {code, exitCode: ExitCode.EVIDENCE, fix, details})

export const unexpectedFailure = (code: string, message: string, fix?: string, details?: Record<string, unknown>) =>
  new AgentMachineError(message, {code, exitCode: ExitCode.FAILURE, fix, details})
