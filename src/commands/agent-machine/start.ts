import {Flags} from '@oclif/core'

import {AgentMachineCommand} from '../../cli/base-command.js'
import {style} from '../../cli/style.js'
import {requireActiveProfile} from '../../core/active-profile.js'
import {getContext} from '../../core/context.js'
import {AgentMachineError} from '../../core/errors.js'
import type {InitRecommendation} from '../../core/machine/init-command.js'
import {createProgress, silentProgress} from '../../core/machine/progress.js'
import type {StartResult} from '../../core/machine/result.js'
import {DEFAULT_START_TIMEOUT_S, ensureDirectory, startMachine} from '../../core/machine/start.js'
import {renderPlanWrapped} from '../../cli/plan-render.js'

export default class Start extends AgentMachineCommand {
  static override summary = "Start the profile's Podman machine and make sure its image is there; print the exact `podman machine init` when the machine is missing."

  static override description = `On macOS and Windows (and Linux profiles with a machine) start brings up the profile's Podman machine:
  stopped   runs \`podman machine start <name>\`, with progress on stderr, and gives up after --timeout;
  starting  waits for it (polling \`podman machine list\`) until the same deadline;
  running   says so;
  missing   prints the exact \`podman machine init\` command (name, cpus, memory, disk, rootful, the provider
            variable when needed, and --volume for the allowlisted folders only, instead of Podman's default
            share of your whole home folder) and exits 4. start never creates, removes or resets a machine.

Another machine running on a one-machine-at-a-time provider (all but WSL), running as root on Linux, a provider this OS or Podman version does not support, and a start that passes its deadline each exit with a clear fix. On native Linux (no machine in the profile) start only checks that Podman works.

Then the image: if the profile's image is not in local storage, start builds it (a localhost/ image, the default) from the Containerfile shipped with sourceosctl — \`podman build\`, a plan step, into the store and connection the runs use — or pulls it when image.pull is "missing"; otherwise it says how to get it (exit 4). Without registry access the build cannot pull its base image: the error names the offline build (images/agent/build-debootstrap.sh).

--dry-run prints the plan (the exact commands) after the read-only checks, and runs nothing that changes anything. --json prints schemas/agent-machine-start-result.schema.json, or the error document (MACHINE_ABSENT carries details.initCommand).

${AgentMachineCommand.exitCodesSection}`

  static override examples = [
    {description: "Start the active profile's machine", command: '<%= config.bin %> agent-machine start'},
    {description: 'See what it would do', command: '<%= config.bin %> agent-machine start --dry-run'},
    {description: 'Allow a slow first boot', command: '<%= config.bin %> agent-machine start --timeout 900'},
    {description: 'Machine-readable, e.g. the init command when the machine is missing', command: "<%= config.bin %> agent-machine start --json | jq -r '.error.details.initCommand.text // .machine.after'"},
  ]

  static override flags = {
    machine: Flags.string({description: "The machine to start; must be the profile's spec.machine.name (a check, not a choice)."}),
    timeout: Flags.integer({description: 'Seconds to wait for the machine to start.', default: DEFAULT_START_TIMEOUT_S, min: 1, max: 3600}),
    'profile-file': Flags.string({description: 'Read the profile from this file instead of the active profile (also: SOURCEOSCTL_PROFILE).'}),
    'dry-run': Flags.boolean({description: 'Run the read-only checks and print the plan; change nothing.', default: false}),
  }

  async run(): Promise<StartResult> {
    const {flags} = await this.parse(Start)
    const ctx = getContext()
    const host = await ctx.hostFacts()
    const cwd = process.cwd()
    const {path, profile} = await requireActiveProfile(host, flags['profile-file'], cwd)
    const json = this.jsonEnabled()
    const c = style()
    let result: StartResult
    try {
      result = await startMachine({
        runner: ctx.runner,
        host,
        cwd,
        profile,
        profilePath: path,
        machineFlag: flags.machine,
        timeoutMs: flags.timeout * 1000,
        dryRun: flags['dry-run'],
        ensureDir: ensureDirectory,
        io: {
          progress: json || this.quiet ? silentProgress : createProgress(process.stderr),
          note: (text) => this.info(`${c.yellow('note:')} ${text}`),
        },
      })
    } catch (error) {
      const init = error instanceof AgentMachineError ? (error.details?.initCommand as InitRecommendation | undefined) : undefined
      if (init && !json) this.say(renderInit(init, host.platform === 'windows'))
      throw error
    }
    this.say(renderResult(result))
    return result
  }
}

function renderInit(init: InitRecommendation, windows: boolean): string {
  const lines = ['Create the machine with:', '', `  ${windows && init.powershell ? init.powershell : init.text}`, '']
  if (windows && init.powershell) lines.push(`(POSIX shells: ${init.text})`, '')
  lines.push('then run: sourceosctl agent-machine start')
  return lines.join('\n')
}

function renderResult(r: StartResult): string {
  const c = style()
  const lines: string[] = []
  const m = r.machine
  if (m.name === null) lines.push(`${c.bold('Podman:')} native${r.podman.version ? ` ${r.podman.version}` : ''}, ${r.podman.rootless ? 'rootless' : 'rootful'}; no machine to start.`)
  else {
    const what: Record<StartResult['machine']['action'], string> = {
      started: 'started, running',
      waited: 'finished starting, running',
      'already-running': 'already running',
      none: '',
      'would-start': 'stopped; would be started',
      'would-wait': 'starting; start would wait for it',
    }
    lines.push(`${c.bold('Machine:')} ${m.name} (${m.provider}) ${what[m.action]}.`)
  }
  const img: Record<StartResult['image']['status'], string> = {
    present: `present${r.image.id ? ` (ID ${r.image.id.slice(0, 12)})` : ''}`,
    pulled: `pulled${r.image.id ? ` (ID ${r.image.id.slice(0, 12)})` : ''}`,
    'would-pull': 'missing; would be pulled',
    built: `built${r.image.id ? ` (ID ${r.image.id.slice(0, 12)})` : ''}`,
    'would-build': 'missing; would be built from the Containerfile shipped with sourceosctl',
    unknown: 'checked once the machine runs',
  }
  lines.push(`${c.bold('Image:')} ${r.image.ref} ${img[r.image.status]}.`)
  if (r.dryRun) {
    lines.push('', renderPlanWrapped(r.plan), '', 'Dry run: nothing was changed.')
  } else if (m.after === 'running' || m.name === null) {
    lines.push(`Next: ${c.bold('sourceosctl agent-machine run --tool codex')} in an allowlisted repo (or with --repo <path>)`)
  }
  return lines.join('\n')
}
