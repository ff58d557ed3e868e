import {Flags} from '@oclif/core'

import {AgentMachineCommand} from '../../cli/base-command.js'
import {style} from '../../cli/style.js'
import {getContext} from '../../core/context.js'
import {applyInit, planInit} from '../../core/init/plan-init.js'
import {applyRemoveRepo, planRemoveRepo} from '../../core/init/repo-remove.js'
import type {InitResult} from '../../core/init/result.js'
import {parseProfile} from '../../core/profile/loader.js'
import {renderPlan} from '../../core/plan/plan.js'

export default class Init extends AgentMachineCommand {
  /** --remove-repo: each repo off the allowlist in turn (core/init/repo-remove.ts: an in-place, atomic edit). */
  private async removeRepos(repos: string[], flags: {output?: string; 'dry-run': boolean}): Promise<InitResult> {
    const host = await getContext().hostFacts()
    const dryRun = flags['dry-run']
    const removed: InitResult['addedMounts'] = []
    let last: Awaited<ReturnType<typeof planRemoveRepo>> | undefined
    for (const repo of repos) {
      last = await planRemoveRepo({host, cwd: process.cwd(), repo, profilePath: flags.output})
      if (!dryRun) await applyRemoveRepo(last)
      removed.push(...last.removed)
    }
    const done = last!
    if (dryRun) {
      this.say(renderPlan(done.plan))
      this.say('')
      this.say(done.yaml.trimEnd())
    } else {
      for (const m of removed) this.say(`Removed ${m.source} → ${m.target} from ${done.destination}`)
    }
    return {
      action: 'remove-mount',
      dryRun,
      written: !dryRun,
      destination: done.destination,
      addedMounts: [],
      addedAllow: [],
      removedMounts: removed,
      profile: parseProfile(done.yaml, done.destination),
      plan: done.plan,
      warnings: [],
    }
  }

  static override summary = 'Create the active AgentMachineProfile from a template, or add a repo to it.'

  static override description = `Renders a template from profiles/ with --repo as an allowlisted mount (under /workspace/<name>) and writes the active profile atomically to the user config dir, or to --output.

Every --repo is expanded, resolved with realpath and judged by the mount policy first: home itself, broad roots (~/.config, /tmp, …) and anything inside or containing a sensitive path (SSH keys, cloud credentials, token stores, browser profiles, keychains) are refused with exit 3.

An existing profile is never overwritten without --force. --remove-repo takes a repo off again: the profile is edited in place (comments kept) and written atomically. Running init again with another --repo (and the same or no --profile) adds a mount and keeps the others. --dry-run prints the rendered profile and its destination and writes nothing.

Templates: macos-podman, linux-podman-native, linux-podman-machine, windows-podman-wsl (see profiles/).

${AgentMachineCommand.exitCodesSection}`

  static override examples = [
    {description: 'macOS: create the profile for one repo', command: '<%= config.bin %> agent-machine init --profile macos-podman --repo ~/dev/my-repo'},
    {description: 'Linux, native rootless podman', command: '<%= config.bin %> agent-machine init --profile linux-podman-native --repo ~/dev/my-repo'},
    {description: 'Allow a second repo in the existing profile', command: '<%= config.bin %> agent-machine init --repo ~/dev/other-repo'},
    {description: 'Let the agent reach the npm registry and GitHub (network allowlist)', command: '<%= config.bin %> agent-machine init --allow-host registry.npmjs.org --allow-host github.com'},
    {description: 'Take a repo off the allowlist (also: repo rm)', command: '<%= config.bin %> agent-machine init --remove-repo ~/dev/old-repo'},
    {description: 'Preview without writing', command: '<%= config.bin %> agent-machine init --profile linux-podman-native --repo . --dry-run'},
  ]

  static override flags = {
    profile: Flags.string({char: 'p', description: 'Template name from profiles/ (macos-podman, linux-podman-native, windows-podman-wsl, …).'}),
    repo: Flags.string({char: 'r', description: 'Repo folder to allowlist as a mount; repeat for several.', multiple: true, default: []}),
    'allow-host': Flags.string({description: 'Add a host the agent may reach (spec.network.allow): host[:port], 443 unless given; *.example.com for the names below it; repeat for several.', multiple: true, default: []}),
    output: Flags.string({char: 'o', description: 'Write the profile here instead of the active profile location.'}),
    force: Flags.boolean({description: 'Replace an existing profile at the destination.', default: false}),
    'dry-run': Flags.boolean({description: 'Print the rendered profile, its destination and the plan; write nothing.', default: false}),
    'remove-repo': Flags.string({description: 'Take this repo off the allowlist instead (the same as `repo rm`; comments in the profile stay); repeat for several.', multiple: true, exclusive: ['repo', 'profile', 'force', 'allow-host']}),
  }

  async run(): Promise<InitResult> {
    const {flags} = await this.parse(Init)
    const ctx = getContext()
    if (flags['remove-repo']?.length) return this.removeRepos(flags['remove-repo'], flags)
    const planned = await planInit({
      host: await ctx.hostFacts(),
      cwd: process.cwd(),
      template: flags.profile,
      repos: flags.repo,
      allowHosts: flags['allow-host'],
      output: flags.output,
      force: flags.force,
    })
    const dryRun = flags['dry-run']
    if (!dryRun) await applyInit(planned)

    const c = style()
    for (const w of planned.warnings) this.note(`${c.yellow('warning:')} ${w}`)
    if (dryRun) {
      this.say(`${c.bold('Destination:')} ${planned.destination} (${planned.action}, dry run: nothing written)`)
      this.say(renderPlan(planned.plan))
      this.say('')
      this.say(planned.yaml.trimEnd())
    } else if (planned.action === 'unchanged') {
      this.say(`${planned.destination} already allowlists ${[...flags.repo, ...flags['allow-host']].join(', ')}; nothing to change.`)
    } else {
      const verb = planned.action === 'add-mount' ? 'Added' : 'Allowlisted'
      for (const m of planned.addedMounts) this.say(`${verb} ${m.source} → ${m.target} (${m.mode})`)
      for (const h of planned.addedAllow) this.say(`Allowed egress to ${h} (spec.network.allow)`)
      this.say(`Wrote profile '${planned.profile.metadata.name}' to ${planned.destination}`)
      this.say(`Next: ${c.bold('sourceosctl agent-machine doctor')}`)
    }
    return {
      action: planned.action,
      dryRun,
      written: !dryRun && planned.action !== 'unchanged',
      destination: planned.destination,
      addedMounts: planned.addedMounts,
      addedAllow: planned.addedAllow,
      profile: planned.profile,
      plan: planned.plan,
      warnings: planned.warnings,
    }
  }
}
