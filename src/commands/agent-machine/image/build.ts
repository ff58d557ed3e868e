import {Flags} from '@oclif/core'

import {AgentMachineCommand} from '../../../cli/base-command.js'
import {readActiveProfile} from '../../../core/active-profile.js'
import {getContext} from '../../../core/context.js'
import {agentImageDir, buildArgv, buildFailed, DEFAULT_IMAGE_REF, readBaseImage, runBuild} from '../../../core/image/agent-image.js'
import {createProgress, silentProgress} from '../../../core/machine/progress.js'
import {step, type Plan} from '../../../core/plan/plan.js'
import {renderPlanWrapped} from '../../../cli/plan-render.js'
import {PodmanAdapter} from '../../../core/podman/adapter.js'
import {podmanArgv, podmanContext} from '../../../core/podman/context.js'

interface ImageBuildResult {
  ref: string
  dryRun: boolean
  built: boolean
  id: string | null
  connection: string | null
  plan: Plan
}

export default class ImageBuild extends AgentMachineCommand {
  static override summary = 'Build the agent image from the Containerfile shipped with sourceosctl, into the store the runs use.'

  static override description = `Runs \`podman build\` on images/agent of the installed package (Debian, Node 22, git, Codex and Claude Code at pinned versions), tagged with the profile's image.ref (default ${DEFAULT_IMAGE_REF}), through the profile's podman context: your rootless store (or root's), or the machine's connection on macOS/Windows. \`start\` does the same when the image is missing.

The build pulls the Containerfile's base image (docker.io/library/node:…-bookworm-slim) unless it is already in the store. Without registry access, build the equivalent image from Debian packages instead, as root: \`sudo <package>/images/agent/build-debootstrap.sh --tag <ref>\`; it also loads the image into the rootless store of the user who ran sudo.

--dry-run prints the exact \`podman build\` and runs nothing.

${AgentMachineCommand.exitCodesSection}`

  static override examples = [
    {description: "Build the profile's image", command: '<%= config.bin %> agent-machine image build'},
    {description: 'Show the podman build it would run', command: '<%= config.bin %> agent-machine image build --dry-run'},
    {description: 'Build under another name', command: '<%= config.bin %> agent-machine image build --tag localhost/me/agent:dev'},
  ]

  static override flags = {
    tag: Flags.string({description: `Image name to build (default: the profile's image.ref, else ${DEFAULT_IMAGE_REF}); a localhost/ name.`}),
    'profile-file': Flags.string({description: 'Read the profile from this file instead of the active profile (also: SOURCEOSCTL_PROFILE).'}),
    'dry-run': Flags.boolean({description: 'Print the podman build command; run nothing.', default: false}),
    timeout: Flags.integer({description: 'Give up on the build after this many seconds.', default: 1800, min: 10, max: 14_400}),
  }

  async run(): Promise<ImageBuildResult> {
    const {flags} = await this.parse(ImageBuild)
    const ctx = getContext()
    const host = await ctx.hostFacts()
    const active = await readActiveProfile(host, flags['profile-file'], process.cwd())
    if (active.status === 'invalid') throw active.error
    const profile = active.status === 'loaded' ? active.profile : null
    const context = podmanContext({host, machine: profile?.spec.machine ?? null, connection: profile?.spec.connection ?? null})
    const ref = flags.tag ?? profile?.spec.image.ref ?? DEFAULT_IMAGE_REF
    const dir = agentImageDir()
    const argv = buildArgv(context, ref, dir)
    const where = context.connection ? `the store of connection ${context.connection}` : host.isRoot ? "root's podman store" : 'your rootless podman store'
    const adapter = new PodmanAdapter(ctx.runner, host, {context})
    const before = await adapter.imageInspect(ref)
    const oldId = before.ok ? before.value.id : null
    const plan: Plan = {verb: 'image build', steps: [step(argv, `build ${ref} from ${dir}/Containerfile into ${where} (base image ${readBaseImage(dir) ?? 'unknown'})`, true)]}
    // A rebuild leaves the image that had the name unnamed: it goes, unless a container still uses it.
    if (oldId) plan.steps.push(step(podmanArgv(context, ['rmi', oldId]), `remove the image ${ref} named before (${oldId.slice(0, 12)}) if the build replaced it and no container uses it`, true))
    const result: ImageBuildResult = {ref, dryRun: flags['dry-run'], built: false, id: null, connection: context.connection, plan}
    if (flags['dry-run']) {
      this.say(renderPlanWrapped(plan))
      this.say('\nDry run: nothing was built.')
      return result
    }
    const progress = this.jsonEnabled() || this.quiet ? silentProgress : createProgress(process.stderr)
    const task = progress.task(`Building ${ref} (podman build; the first build downloads Node and the tools, minutes)`)
    const built = await runBuild(ctx.runner, argv, flags.timeout * 1000)
    if (!built.ok) {
      task.fail(`could not build ${ref}`)
      throw buildFailed(ref, argv, built, {host, rootless: context.connection ? null : !host.isRoot, baseImage: readBaseImage(dir)})
    }
    task.succeed(`Built ${ref} in ${Math.round(built.durationMs / 1000)} s`)
    const inspected = await adapter.imageInspect(ref)
    result.built = true
    result.id = inspected.ok ? inspected.value.id : null
    if (oldId && result.id && oldId !== result.id) {
      const [command, ...rmArgs] = plan.steps[1]!.argv
      await ctx.runner(command as string, rmArgs, {timeoutMs: 60_000}) // in use: podman refuses, and it stays
    }
    this.say(`Built ${ref}${result.id ? ` (ID ${result.id.slice(0, 12)})` : ''} in ${where}.`)
    return result
  }
}
