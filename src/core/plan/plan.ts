/**
 * The planner (ARCHITECTURE §2): every mutating verb builds a Plan first. `--dry-run` renders it and
 * runs nothing mutating; otherwise the same steps execute, so the printed argv IS the executed argv.
 */

export interface Step {
  /** The exact argv that runs. Internal actions (file writes) use a `sourceosctl:` pseudo-program. */
  argv: string[]
  /** Why this step exists, one line for humans. */
  why: string
  /** Whether the step changes anything (host files, containers, machines). */
  mutates: boolean
}

export interface Plan {
  verb: string
  steps: Step[]
}

/** Internal pseudo-programs: steps the CLI performs itself rather than by spawning a program. */
export const WRITE_FILE = 'sourceosctl:write-file'

export function step(argv: string[], why: string, mutates: boolean): Step {
  return {argv: [...argv], why, mutates}
}

/** Shell-quotes one argument for display (POSIX sh), so a printed plan can be pasted. */
export function shellQuote(arg: string): string {
  if (arg === '') return "''"
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg
  return `'${arg.replace(/'/g, `'\\''`)}'`
}

export function formatArgv(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ')
}

/** Human rendering of a plan: numbered steps, each with its reason and whether it mutates. */
export function renderPlan(plan: Plan): string {
  const lines = [`Plan for ${plan.verb} (${plan.steps.length} step${plan.steps.length === 1 ? '' : 's'}):`]
  plan.steps.forEach((s, i) => {
    lines.push(`  ${i + 1}. ${formatArgv(s.argv)}`)
    lines.push(`     ${s.mutates ? 'mutates' : 'read-only'}: ${s.why}`)
  })
  return lines.join('\n')
}

export type StepExecutor<R> = (step: Step, index: number) => Promise<R>

/**
 * Runs a plan's steps in order. Under dry-run, mutating steps are skipped (reported as such) and
 * read-only steps still run only when `runReadOnlyInDryRun` asks for it.
 */
export async function executePlan<R>(
  plan: Plan,
  executor: StepExecutor<R>,
  opts: {dryRun: boolean; runReadOnlyInDryRun?: boolean},
): Promise<Array<{step: Step; ran: boolean; result?: R}>> {
  const outcomes: Array<{step: Step; ran: boolean; result?: R}> = []
  for (const [index, s] of plan.steps.entries()) {
    if (opts.dryRun && (s.mutates || !opts.runReadOnlyInDryRun)) {
      outcomes.push({step: s, ran: false})
      continue
    }
    outcomes.push({step: s, ran: true, result: await executor(s, index)})
  }
  return outcomes
}
