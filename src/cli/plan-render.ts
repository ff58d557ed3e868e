/**
 * Human rendering of a plan for --dry-run: each long command wrapped one flag per line with POSIX
 * `\` continuations, so it is readable and still pastes into a shell as is. --json keeps the exact
 * argv (the plan document); this is only the text view of the same argv.
 */
import {formatArgv, shellQuote, type Plan} from '../core/plan/plan.js'

/** Flags written as two words (`--connection NAME`), whose value stays on the flag's line. */
const VALUE_FLAGS = new Set(['--connection', '--file', '-f', '--tag', '-t', '--format', '--name', '-v', '--volume', '-e', '--env', '--filter', '--time', '--since', '-C', '-c'])

/** The lines of one argv: the program and its sub-commands, then a line per flag (with its value), then the positionals. */
export function argvLines(argv: readonly string[]): string[] {
  const lines: string[][] = []
  let current: string[] = []
  let afterFlag: string | null = null
  let rest = false
  for (const arg of argv) {
    if (rest) {
      current.push(arg)
      continue
    }
    const isFlag = arg.startsWith('-') && arg.length > 1
    if (arg === '--') {
      lines.push(current)
      current = [arg]
      rest = true
    } else if (isFlag) {
      if (current.length > 0) lines.push(current)
      current = [arg]
      afterFlag = arg.includes('=') ? null : arg
    } else if (afterFlag !== null && VALUE_FLAGS.has(afterFlag) && current.length === 1) {
      current.push(arg) // the flag's value
      afterFlag = null
    } else if (lines.length === 0 || (afterFlag === null && current.length > 0 && !current[0]!.startsWith('-'))) {
      current.push(arg) // the program and its sub-commands, or consecutive positionals
    } else {
      lines.push(current)
      current = [arg]
      afterFlag = null
    }
  }
  if (current.length > 0) lines.push(current)
  return lines.map((words) => words.map(shellQuote).join(' '))
}

/** One command: on one line when short, else wrapped with `\` continuations (indented by `indent`). */
export function wrapArgv(argv: readonly string[], indent: string, width = 100): string {
  const flat = formatArgv(argv)
  if (flat.length + indent.length <= width) return flat
  return argvLines(argv).join(` \\\n${indent}    `)
}

export function renderPlanWrapped(plan: Plan): string {
  const lines = [`Plan for ${plan.verb} (${plan.steps.length} step${plan.steps.length === 1 ? '' : 's'}):`]
  plan.steps.forEach((s, i) => {
    const head = `  ${i + 1}. `
    lines.push(`${head}${wrapArgv(s.argv, ' '.repeat(head.length))}`)
    lines.push(`${' '.repeat(head.length)}${s.mutates ? 'mutates' : 'read-only'}: ${s.why}`)
  })
  return lines.join('\n')
}
