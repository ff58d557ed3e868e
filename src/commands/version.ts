import {Command} from '@oclif/core'

/** `sourceosctl version` (also `--version`, `-v`): what gh and podman users type. */
export default class Version extends Command {
  static override summary = 'Print the sourceosctl version (also: --version, -v).'

  static override enableJsonFlag = true

  static override examples = [
    {description: 'The version line', command: '<%= config.bin %> version'},
    {description: 'As JSON', command: '<%= config.bin %> version --json'},
  ]

  async run(): Promise<{name: string; version: string; node: string; platform: string; arch: string}> {
    await this.parse(Version)
    const doc = {name: this.config.name, version: this.config.version, node: process.versions.node, platform: process.platform, arch: process.arch}
    this.log(this.config.userAgent)
    return doc
  }
}
