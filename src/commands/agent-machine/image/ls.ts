import {Flags} from '@oclif/core'

import {AgentMachineCommand} from '../../../cli/base-command.js'
import {style} from '../../../cli/style.js'
import {readActiveProfile} from '../../../core/active-profile.js'
import {getContext} from '../../../core/context.js'
import {prerequisiteMissing} from '../../../core/errors.js'
import {describeOutcome, succeeded} from '../../../core/exec.js'
import {agentImagesOf, DEFAULT_IMAGE_REF, imageFix, imagesArgv, type ListedImage} from '../../../core/image/agent-image.js'
import {podmanContext} from '../../../core/podman/context.js'

interface ImageLsResult {
  profileRef: string
  connection: string | null
  present: boolean
  images: ListedImage[]
}

export default class ImageLs extends AgentMachineCommand {
  static override summary = "List the agent images in the store the runs use, and whether the profile's image is there (read-only)."

  static override description = `Lists the images of the profile's image repository (default ${DEFAULT_IMAGE_REF}) and any image built from images/agent, in the store and connection the runs use. Exit 0 either way; --json for scripts.

${AgentMachineCommand.exitCodesSection}`

  static override examples = [
    {description: 'Is the image there?', command: '<%= config.bin %> agent-machine image ls'},
    {description: 'For scripts', command: "<%= config.bin %> agent-machine image ls --json | jq .present"},
  ]

  static override flags = {
    'profile-file': Flags.string({description: 'Read the profile from this file instead of the active profile (also: SOURCEOSCTL_PROFILE).'}),
  }

  async run(): Promise<ImageLsResult> {
    const {flags} = await this.parse(ImageLs)
    const ctx = getContext()
    const host = await ctx.hostFacts()
    const active = await readActiveProfile(host, flags['profile-file'], process.cwd())
    if (active.status === 'invalid') throw active.error
    const profile = active.status === 'loaded' ? active.profile : null
    const context = podmanContext({host, machine: profile?.spec.machine ?? null, connection: profile?.spec.connection ?? null})
    const profileRef = profile?.spec.image.ref ?? DEFAULT_IMAGE_REF
    const [command, ...args] = imagesArgv(context)
    const listed = await ctx.runner(command as string, args, {timeoutMs: 30_000})
    if (!succeeded(listed)) throw prerequisiteMissing('PODMAN_UNAVAILABLE', `cannot list the images: ${describeOutcome(listed)}`, 'check `sourceosctl agent-machine doctor`')
    const images = agentImagesOf(listed.stdout, profileRef)
    const present = images.some((i) => i.profileImage)
    const c = style()
    const rows = images.map((i) => [i.names.join(', ') || '<none>', i.id.slice(0, 12), i.created?.slice(0, 19).replace('T', ' ') ?? '', i.sizeBytes === null ? '' : `${Math.round(i.sizeBytes / 1e6)} MB`, i.profileImage ? 'profile' : ''])
    const header = ['IMAGE', 'ID', 'CREATED', 'SIZE', '']
    const widths = header.map((h, k) => Math.max(h.length, ...rows.map((r) => r[k]!.length)))
    const line = (r: string[]) => r.map((cell, k) => cell.padEnd(widths[k]!)).join('  ').trimEnd()
    if (rows.length > 0) this.say([c.bold(line(header)), ...rows.map(line)].join('\n'))
    this.say(present
      ? `The profile's image ${profileRef} is present${context.connection ? ` (connection ${context.connection})` : ''}.`
      : `The profile's image ${profileRef} is missing${context.connection ? ` in connection ${context.connection}` : ''}: ${imageFix(profileRef, {rootless: context.connection ? null : !host.isRoot, connection: context.remote ? null : context.connection})}.`)
    return {profileRef, connection: context.connection, present, images}
  }
}
