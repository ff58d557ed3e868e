import {Flags} from '@oclif/core'

import {AgentMachineCommand} from '../../cli/base-command.js'
import {renderPlanWrapped} from '../../cli/plan-render.js'
import {getContext} from '../../core/context.js'
import {policyRefusal, usageError} from '../../core/errors.js'
import {newRunId} from '../../core/launch/prepare.js'
import {prepareKubeExport, writeManifest, type KubeExport} from '../../core/kube/export.js'
import {DEFAULT_BUNDLE_MAX_MB} from '../../core/kube/bundle.js'
import {playAndRecord, SIGNAL_NUMBERS, type PlayResult} from '../../core/kube/play.js'

/** What users type for a tool (its binary's name) → the profile's tool name. */
const TOOL_ALIASES: Readonly<Record<string, string>> = {claude: 'claude-code'}

type ExportResult = Omit<KubeExport, 'objects' | 'evidence'> & {objects: KubeExport['objects']; dryRun: boolean; output: string | null; play?: PlayResult}

export default class Export extends AgentMachineCommand {
  static override summary = 'Render the governed agent as Kubernetes objects (a Pod or Job, its egress proxy, NetworkPolicy) from the active profile.'

  static override description = `--kube renders, from the active profile, the manifest of one run on a cluster: the agent's Pod (or a Job with --job) with the local launch's hardening (non-root uid 1000, no privilege escalation, every capability dropped, read-only root, seccomp RuntimeDefault, the profile's resources, no service-account token, no host namespace or hostPath); the repo cloned by an init container into an emptyDir at a pinned commit (resolved here with host git); the egress proxy with the same Squid configuration as a local run; a NetworkPolicy; the Secrets Door's Secrets referenced by the proxy only; labels and annotations with the run id, policy hash and profile.

--layout pod (default) keeps agent and proxy in one Pod, where an init container with NET_ADMIN leaves the agent's uid no route but the Pod's own addresses; --layout split puts the proxy in its own Pod and lets two NetworkPolicies separate them (no NET_ADMIN; needs a cluster that enforces NetworkPolicy). docs/cluster.md says what holds where.

--play runs the manifest here with \`podman kube play\`, waits for the agent, collects the proxy's log and the result bundle (capped by --bundle-max-mb, a regular file only, checked with host git), takes the Pod down, and writes the run's evidence record into the evidence dir's chain like a local run's (signed, indexed; verb export, with the Pod's UID and node, the manifest's digest, the image IDs and the pinned commit): \`evidence inspect\` verifies it. --play does not run the Secrets Door (see docs/cluster.md).

${AgentMachineCommand.exitCodesSection}`

  static override examples = [
    {description: 'A Pod for Codex on an allowlisted checkout (cloned from its origin at HEAD)', command: '<%= config.bin %> agent-machine export --kube --repo ~/dev/my-repo --tool codex > run.yaml'},
    {description: 'A Job from CI, a URL, proxy in its own Pod', command: '<%= config.bin %> agent-machine export --kube --repo https://github.com/org/repo.git --tool codex --job --layout split --image registry.example/sourceos/agent@sha256:<digest> --output run.yaml'},
    {description: 'The manifest and the plan, nothing written', command: '<%= config.bin %> agent-machine export --kube --repo ~/dev/my-repo --output run.yaml --dry-run'},
  ]

  static override strict = false

  static override flags = {
    kube: Flags.boolean({description: 'Export as Kubernetes objects (the only format so far).', required: true}),
    repo: Flags.string({char: 'r', description: 'An allowlisted checkout (cloned from its origin at its HEAD) or a git URL.', required: true}),
    tool: Flags.string({char: 't', description: 'The tool the agent container runs (codex, claude-code); without it the container waits for `kubectl exec`.'}),
    job: Flags.boolean({description: 'Wrap the Pod in a Job (one-shot runs from CI; the proxy becomes a native sidecar, Kubernetes >= 1.29).', default: false}),
    layout: Flags.string({description: 'pod: agent and proxy in one Pod, separated by an egress guard; split: two Pods separated by NetworkPolicy.', options: ['pod', 'split'], default: 'pod'}),
    output: Flags.string({char: 'o', description: 'Write the manifest to this file instead of stdout.'}),
    'clone-url': Flags.string({description: 'The URL the cluster clones a local --repo from (default: its origin remote).'}),
    commit: Flags.string({description: 'Pin this commit (40 hex) instead of HEAD.'}),
    image: Flags.string({description: 'The image the cluster runs (default: the profile\'s image ref).'}),
    'clone-image': Flags.string({description: 'The image of the clone init container (needs git; default: the agent image).'}),
    namespace: Flags.string({char: 'n', description: 'The namespace written into the objects.'}),
    'run-id': Flags.string({description: 'Use this run id (8-42 of a-z 0-9 -) instead of a random one, e.g. to match a CI job.'}),
    play: Flags.boolean({description: 'Run it here with `podman kube play`, wait for the agent, and write the cluster-run record (layout pod only).', default: false}),
    'evidence-dir': Flags.string({description: 'With --play: write the record here (also: SOURCEOSCTL_EVIDENCE_DIR; default: the state dir).'}),
    timeout: Flags.integer({description: 'With --play: how long to wait for the agent, in seconds.', default: 3600, min: 1}),
    'bundle-max-mb': Flags.integer({description: 'With --play: the largest result bundle brought back, in MiB (a bigger one is refused, and the record says so).', default: DEFAULT_BUNDLE_MAX_MB, min: 1}),
    'profile-file': Flags.string({description: 'Use this profile file instead of the active profile (also: SOURCEOSCTL_PROFILE).'}),
    'dry-run': Flags.boolean({description: 'Print the manifest and the plan; write nothing, run nothing.', default: false}),
  }

  async run(): Promise<ExportResult> {
    const {flags, argv} = await this.parse(Export)
    const runId = flags['run-id'] ?? newRunId()
    if (!/^[a-z0-9][a-z0-9-]{6,40}[a-z0-9]$/.test(runId)) throw usageError('RUN_ID_INVALID', `run id '${runId}' is not 8-42 of a-z 0-9 - (it names Kubernetes objects and labels)`, 'pass --run-id with lower-case letters, digits and -')
    if (flags.play && flags.layout !== 'pod') throw usageError('KUBE_PLAY_LAYOUT', '--play runs layout pod only (podman kube play has no NetworkPolicy to separate two Pods)', 'drop --layout split, or apply the split layout to a cluster')
    if (flags.play && flags.job) throw usageError('KUBE_PLAY_JOB', 'podman kube play does not run Jobs', 'drop --job with --play')
    if (flags.play && !flags.tool) throw usageError('KUBE_PLAY_TOOL', '--play runs a tool to its end: it needs --tool', 'pass --tool <tool>')
    const ctx = getContext()
    const tool = flags.tool === undefined ? undefined : Object.hasOwn(TOOL_ALIASES, flags.tool) ? TOOL_ALIASES[flags.tool]! : flags.tool
    const args = (argv as string[]).filter((a) => a !== '--')
    const exported = await prepareKubeExport({
      runner: ctx.runner,
      host: await ctx.hostFacts(),
      repo: flags.repo,
      tool,
      args,
      layout: flags.layout as 'pod' | 'split',
      job: flags.job,
      profilePath: flags['profile-file'],
      cloneUrl: flags['clone-url'],
      commit: flags.commit,
      image: flags.image,
      cloneImage: flags['clone-image'],
      namespace: flags.namespace,
      runId,
      output: flags.output,
    })
    if (flags.play && exported.requires.length > 0) {
      throw usageError(
        'KUBE_PLAY_DOOR',
        `--play does not run the Secrets Door: podman kube play reads a Secret volume only from a podman secret of that name (${exported.requires.map((r) => r.name).join(', ')}), so the CLI would have to copy each value out of the store of \`secret set\` into podman's own secret store for the run — on disk there, outside the store's protection, and left behind by a CLI killed before it removes it`,
        'run the door locally with `run --tool …`, or apply the manifest to a cluster with its Secrets created there (docs/cluster.md, "Secrets")',
      )
    }
    for (const w of exported.warnings) this.note(`Warning: ${w}`)
    const {evidence: _evidence, ...shown} = exported
    const result: ExportResult = {...shown, dryRun: flags['dry-run'], output: flags.output ?? null}
    if (flags['dry-run']) {
      if (!this.jsonEnabled()) {
        this.say(exported.manifest)
        this.say(renderPlanWrapped(exported.plan))
        if (flags.play) this.say('Then: begin the run\'s evidence record (signed, in the evidence dir\'s chain), podman kube play <manifest>, wait for the agent container, read the containers\' settings and the proxy log, copy the result bundle (capped, checked with host git), podman kube down, complete the record.')
        this.say('\nDry run: nothing was written.')
      }
      return result
    }
    if (flags.output) {
      await writeManifest(flags.output, exported.manifest)
      this.info(`Wrote ${flags.output} (${exported.objects.map((o) => `${o.kind} ${o.metadata.name}`).join(', ')}).`)
    } else if (!this.jsonEnabled() && !flags.play) {
      process.stdout.write(exported.manifest)
    }
    if (flags.play) {
      result.play = await playAndRecord({
        runner: ctx.runner,
        host: await ctx.hostFacts(),
        exported,
        evidenceDir: flags['evidence-dir'],
        timeoutMs: flags.timeout * 1000,
        profilePath: flags['profile-file'],
        cliArgv: ['agent-machine', 'export', ...this.argv],
        bundleMaxBytes: flags['bundle-max-mb'] * 1024 * 1024,
        now: ctx.now,
        info: (t) => this.info(t),
      })
      if (result.play.interrupted) {
        this.note(`${result.play.interrupted}: the run was stopped and its Pod taken down; record ${result.play.recordPath} (incomplete, interrupted).`)
        this.setExitCode(128 + (SIGNAL_NUMBERS[result.play.interrupted] ?? 1))
        return result
      }
      const refused = result.play.bundleRefused
      if (refused) {
        const fix = refused.code === 'KUBE_BUNDLE_TOO_BIG' ? `the cap is --bundle-max-mb ${flags['bundle-max-mb']}: raise it if the bundle is expected to be that big` : 'the agent wrote something else than a git bundle; nothing of it was kept (see the record)'
        throw policyRefusal(refused.code, `the agent's result bundle was refused: ${refused.reason}. The run's record is ${result.play.recordPath} (evidence inspect ${result.play.evidenceDir})`, fix, {recordPath: result.play.recordPath, agentExitCode: result.play.agentExitCode})
      }
      if (!this.jsonEnabled()) this.say(`Agent exited ${result.play.agentExitCode ?? 'unknown'}; record ${result.play.recordPath} (seq ${result.play.seq}; check it with \`sourceosctl agent-machine evidence inspect ${result.play.evidenceDir}\`)${result.play.bundle ? `; result bundle ${result.play.bundle}` : ''}.`)
      if (result.play.agentExitCode !== 0) this.setExitCode(result.play.agentExitCode ?? 1)
    }
    return result
  }
}
