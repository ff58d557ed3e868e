/**
 * Shared flags and rendering for the two verbs that start the governed container (run, shell).
 */
import {Flags} from '@oclif/core'

import {getContext} from '../core/context.js'
import {AgentMachineError, ExitCode, policyRefusal, usageError} from '../core/errors.js'
import {describeIntegrity} from '../core/integrity/describe.js'
import {plantsOf} from '../core/integrity/session.js'
import {describeNetwork} from '../core/network/report.js'
import {launch, type LaunchInput} from '../core/launch/launch.js'
import type {PreparedLaunch} from '../core/launch/prepare.js'
import type {LaunchResult} from '../core/launch/result.js'
import {formatArgv, shellQuote} from '../core/plan/plan.js'
import {renderPlanWrapped} from './plan-render.js'
import {AgentMachineCommand} from './base-command.js'
import {style} from './style.js'

export const launchFlags = {
  repo: Flags.string({char: 'r', description: 'Repo folder to work in; must be an allowlisted mount of the profile (or inside one). Default: the current directory.'}),
  'dry-run': Flags.boolean({description: 'Print the plan — every command a real run executes, with its exact argv — and run none of them (no git, no container).', default: false}),
  'profile-file': Flags.string({description: 'Use this profile file instead of the active profile (also: SOURCEOSCTL_PROFILE).'}),
  'run-id': Flags.string({description: 'Use this run id (8-63 of a-z 0-9 -) instead of a random one, e.g. to match a CI job.'}),
  timeout: Flags.integer({description: 'Deadline in seconds for each podman check before the launch.', default: 30, min: 1, max: 600}),
  'evidence-dir': Flags.string({description: 'Write the evidence record here (also: SOURCEOSCTL_EVIDENCE_DIR; default: the state dir, see doctor).'}),
  worktree: Flags.boolean({
    description: 'Work in the agent’s own clone of --repo on a new branch (your objects read-only, none of your refs), made under the state dir and mounted in place of your checkout; after the session the branch is brought into your repo and the clone is left for review.',
    default: false,
  }),
  branch: Flags.string({description: 'With --worktree: the new branch (default: agent/<tool|shell>-<UTC YYYYMMDD-HHMMSS>). An existing branch is refused.'}),
  'clean-base': Flags.boolean({description: 'With --worktree: refuse when --repo has uncommitted changes (the clone starts from the last commit either way).', default: false}),
}

/** The --worktree options of run/shell; --branch and --clean-base need --worktree. */
export function worktreeOption(flags: {worktree: boolean; branch?: string; 'clean-base': boolean}): LaunchInput['worktree'] {
  if (!flags.worktree) {
    const stray = flags.branch !== undefined ? '--branch' : flags['clean-base'] ? '--clean-base' : null
    if (stray) throw usageError('FLAG_NEEDS_WORKTREE', `${stray} only applies with --worktree.`, `add --worktree, or drop ${stray}`)
    return undefined
  }
  return {branch: flags.branch, cleanBase: flags['clean-base']}
}

export abstract class LaunchCommand extends AgentMachineCommand {
  protected async launchWith(given: Omit<LaunchInput, 'json' | 'cwd' | 'stdinIsTTY' | 'stdoutIsTTY' | 'timeoutMs' | 'cliArgv' | 'repo'> & {repo: string | undefined; timeoutSeconds: number}): Promise<LaunchResult> {
    // No --repo: the current directory, which must be allowlisted (or inside an allowlisted mount).
    const input = {...given, repo: given.repo ?? process.cwd()}
    try {
      return await this.launchIn(input)
    } catch (error) {
      if (given.repo === undefined && error instanceof AgentMachineError && error.code === 'REPO_NOT_ALLOWLISTED') {
        throw policyRefusal(
          'REPO_NOT_ALLOWLISTED',
          `no --repo given, and the current directory ${process.cwd()} is not an allowlisted mount of the profile (or inside one).`,
          `allow it: \`sourceosctl agent-machine init --repo ${shellQuote(process.cwd())}\`, or pass --repo <an allowlisted folder>`,
          {cwd: process.cwd()},
        )
      }
      throw error
    }
  }

  private async launchIn(input: Omit<LaunchInput, 'json' | 'cwd' | 'stdinIsTTY' | 'stdoutIsTTY' | 'timeoutMs' | 'cliArgv'> & {timeoutSeconds: number}): Promise<LaunchResult> {
    const ctx = getContext()
    const host = await ctx.hostFacts()
    const json = this.jsonEnabled()
    const c = style(process.stderr)
    let worktree: LaunchResult['worktree']
    let result: LaunchResult
    let finished: LaunchResult['worktree']
    try {
      result = await launch(
        {
          ...input,
          json,
          cliArgv: [...this.argv],
          cwd: process.cwd(),
          // a detached session's keeper has no terminal: the launcher's says whether the session gets a TTY
          stdinIsTTY: input.keeper?.tty ?? Boolean(process.stdin.isTTY),
          stdoutIsTTY: input.keeper?.tty ?? Boolean(process.stdout.isTTY),
          timeoutMs: input.timeoutSeconds * 1000,
          onWorktreeCreated: (w) => {
            worktree = w
          },
          onWarning: (w) => this.note(`${c.yellow('warning:')} ${w}`),
        },
        ctx,
        host,
        (prepared: PreparedLaunch) => {
          for (const w of prepared.warnings) this.note(`${c.yellow('warning:')} ${w}`)
          if (!input.dryRun) this.info(c.dim(this.verbose ? describeLaunch(prepared) : describeLaunchShort(prepared)))
        },
      )
      finished = result.worktree
    } finally {
      // Left for review however the session ended (also when it failed after the clone was made).
      const w = finished ?? worktree
      if (w?.created) this.note(describeWorktree(w))
    }
    if (input.dryRun) {
      this.say(renderPlanWrapped(result.plan))
    } else if (result.exitCode !== null) {
      // Ctrl-C leaves the terminal mid-line (the tool was killed): start ours on a fresh one.
      if (result.exitCode === 130 && process.stderr.isTTY) process.stderr.write('\n')
      if (result.evidence) this.info(c.dim(`sourceosctl: evidence ${result.evidence}`))
      this.setExitCode(result.exitCode)
    }
    if (result.integrity) {
      // A security notice: on stderr also under --json (where it is in the result too).
      const lines = describeIntegrity(result.integrity)
      const planted = plantsOf(result.integrity).length
      const out = (text: string): boolean => process.stderr.write(`${text}\n`)
      if (planted > 0) {
        out(c.red('sourceosctl: the session left something the host would run or trust; it was quarantined (exit 6):'))
        this.setExitCode(ExitCode.PLANT_QUARANTINED)
      } else if (lines.length > 0) out(c.yellow('sourceosctl: after the session:'))
      for (const line of lines) out(`  ${line}`)
    }
    // The denied destinations, at the end where they are seen (also under --json: a notice, like the integrity one).
    const network = describeNetwork(result.network)
    if (network.length > 0) process.stderr.write(`${c.yellow(`sourceosctl: ${network[0]}`)}\n${network.slice(1).map((l) => `  ${l}\n`).join('')}`)
    const notBack = result.worktree?.broughtBack?.error
    if (notBack) {
      this.note(`${c.red(`sourceosctl: ${notBack.message}`)}${notBack.fix ? `\n  fix: ${notBack.fix}` : ''}`)
      if (process.exitCode !== ExitCode.PLANT_QUARANTINED) this.setExitCode(notBack.exitCode)
    }
    return result
  }
}

function describeWorktree(w: NonNullable<LaunchResult['worktree']>): string {
  const commit = w.broughtBack?.commit
  if (!commit) {
    return [
      `sourceosctl: the agent's clone ${w.path} (branch ${w.branch}, from ${w.baseCommit.slice(0, 12)}) is left; its branch was not brought back into ${w.repo}.`,
      `  throw it away:  ${w.review.remove}`,
    ].join('\n')
  }
  return [
    `sourceosctl: the branch ${w.branch} (from ${w.baseCommit.slice(0, 12)}, now at ${commit.slice(0, 12)}) is in ${w.repo}; the agent's clone ${w.path} is left for review:`,
    `  see the work:   ${w.review.diff}`,
    `  take it:        ${w.review.merge}`,
    `  throw it away:  ${w.review.remove}`,
  ].join('\n')
}

/** The default header: one short line (--verbose gives describeLaunch). */
export function describeLaunchShort(p: PreparedLaunch): string {
  const what = p.spec.verb === 'run' ? (p.spec.tool ?? 'tool') : 'shell'
  const n = p.spec.mounts.length
  return `sourceosctl: ${what} in ${p.spec.workdir} (run ${p.runId}, ${n} mount${n === 1 ? '' : 's'}; --verbose for details)`
}

function describeLaunch(p: PreparedLaunch): string {
  const what = p.spec.verb === 'run' ? `${p.spec.tool} (${formatArgv(p.spec.command)})` : 'shell'
  const mounts = p.spec.mounts.map((m) => `${m.hostSource} → ${m.target} (${m.mode})`).join(', ')
  return `sourceosctl: run ${p.runId}: ${what} in ${p.image.ref} (${p.image.details.id.slice(0, 12)}); mounts: ${mounts}; policy ${p.policyHash.slice(0, 19)}…`
}
