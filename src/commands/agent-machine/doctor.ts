import {Flags} from '@oclif/core'

import {AgentMachineCommand} from '../../cli/base-command.js'
import {statusMark, style} from '../../cli/style.js'
import {getContext} from '../../core/context.js'
import {ExitCode} from '../../core/errors.js'
import type {DoctorReport} from '../../core/doctor/report.js'
import {runDoctor} from '../../core/doctor/run-doctor.js'

export default class Doctor extends AgentMachineCommand {
  static override summary = 'Check that this host is ready to run governed agent containers (read-only).'

  static override description = `Probes the host OS and architecture, the Podman CLI and service (client/server mode, rootless), the state of the profile's Podman machine, git and nix, and whether each allowlisted mount (and --repo) is readable and allowed by the mount policy.

The probes run concurrently, each with a deadline (--timeout): a hung podman shows up as a "timed out" check instead of hanging doctor. doctor itself never writes anything (podman may touch its own storage lock files).

Exit 0 when ready, 4 when a prerequisite is missing.

${AgentMachineCommand.exitCodesSection}`

  static override examples = [
    {description: 'Check the host and the active profile', command: '<%= config.bin %> agent-machine doctor'},
    {description: 'Also check that a repo is readable and allowed', command: '<%= config.bin %> agent-machine doctor --repo ~/dev/my-repo'},
    {description: 'Machine-readable report for CI', command: '<%= config.bin %> agent-machine doctor --json'},
  ]

  static override flags = {
    repo: Flags.string({description: 'Also check this repo path (readable, allowed by policy).'}),
    'profile-file': Flags.string({description: 'Read the profile from this file instead of the active profile (also: SOURCEOSCTL_PROFILE).'}),
    timeout: Flags.integer({description: 'Deadline for each probe, in seconds.', default: 10, min: 1, max: 600}),
  }

  async run(): Promise<DoctorReport> {
    const {flags} = await this.parse(Doctor)
    const ctx = getContext()
    const report = await runDoctor({
      runner: ctx.runner,
      host: await ctx.hostFacts(),
      cwd: process.cwd(),
      profilePath: flags['profile-file'],
      repo: flags.repo,
      timeoutMs: flags.timeout * 1000,
    })
    this.say(renderReport(report))
    if (!report.ready) this.setExitCode(ExitCode.PREREQUISITE)
    return report
  }
}

function renderReport(report: DoctorReport): string {
  const c = style()
  const lines = report.checks.map((check) => {
    const line = `${statusMark(check.status)} ${c.bold(check.title)}: ${check.detail}`
    return check.fix ? `${line}\n    ${c.dim('fix:')} ${check.fix}` : line
  })
  const failing = report.checks.filter((check) => check.required && (check.status === 'fail' || check.status === 'timeout'))
  lines.push('')
  lines.push(`Evidence records go to ${report.evidenceDir}`)
  lines.push(report.ready ? c.green('Ready.') : c.red(`Not ready: ${failing.length} required check${failing.length === 1 ? '' : 's'} failed.`))
  return lines.join('\n')
}
