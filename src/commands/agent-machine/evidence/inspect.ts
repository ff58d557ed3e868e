import {Args} from '@oclif/core'

import {AgentMachineCommand} from '../../../cli/base-command.js'
import {statusMark, style} from '../../../cli/style.js'
import {ExitCode, usageError} from '../../../core/errors.js'
import type {Finding, InspectResult, RecordReport} from '../../../core/evidence/inspect-result.js'
import {inspectPath} from '../../../core/evidence/verify.js'

export default class EvidenceInspect extends AgentMachineCommand {
  static override summary = 'Verify evidence records and their chain, and summarise what ran.'

  static override description = `Reads an evidence record file, or an evidence dir (records/ and index.jsonl), and checks each record: that it is JSON of the right kind and schema version, that it follows the record schema (schemas/agent-machine-evidence-record.schema.json), that its bytes are RFC 8785 canonical JSON, that its policyHash matches the policy it carries, and that its digest matches the index. For a dir it also verifies the chain and names every missing, reordered or altered record.

It prints what ran (verb, tool, argv), where (host), the mounts, the image, the git state and the exit code of each record, then every problem with the exact record file and field. A record that never completed (the session is still running, or the CLI was killed) is reported as incomplete; that alone does not make the evidence invalid.

Exit 0 when valid, 5 when invalid — also for a path that does not exist, a dir with no records, a file that is not JSON or not an evidence record, and a record from a newer schema version.

${AgentMachineCommand.exitCodesSection}`

  static override examples = [
    {description: 'Verify the default evidence dir (doctor shows where it is)', command: '<%= config.bin %> agent-machine evidence inspect ~/.local/state/sourceosctl/evidence'},
    {description: 'Check one record, against the index of its dir', command: '<%= config.bin %> agent-machine evidence inspect ~/.local/state/sourceosctl/evidence/records/000042-<run-id>.json'},
    {description: 'The same as data, for CI', command: '<%= config.bin %> agent-machine evidence inspect ./evidence --json'},
  ]

  static override args = {
    path: Args.string({description: 'An evidence record file, or an evidence dir (records/ + index.jsonl), or a folder of record files.', required: true}),
  }

  async run(): Promise<InspectResult> {
    const {args} = await this.parse(EvidenceInspect)
    const result = await inspectPath(args.path)
    this.say(renderInspect(result))
    if (!result.valid) this.setExitCode(ExitCode.EVIDENCE)
    return result
  }

  override async catch(err: Error & {oclif?: {exit?: number}}): Promise<void> {
    // oclif's missing-argument message spreads over several lines; say it in one, still exit 2.
    if (/^Missing \d+ required arg/.test(err.message)) {
      return super.catch(usageError('USAGE', 'missing the <path> argument: an evidence record file or an evidence dir', 'e.g. `sourceosctl agent-machine evidence inspect <dir>`; `doctor` shows where records go'))
    }
    return super.catch(err)
  }
}

function renderInspect(result: InspectResult): string {
  const c = style()
  const lines: string[] = []
  const noun = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`
  if (result.kind === 'dir') {
    const index = result.index ? `${result.index.file}: ${noun(result.index.lines, 'line')}${result.index.present ? '' : ', missing'}` : 'no index'
    const head = result.chain.head ? `, head seq ${result.chain.head.seq}` : ''
    lines.push(`${c.bold('Evidence dir')} ${result.path} (${index}) — ${noun(result.chain.length, 'record')}${head}`)
  } else {
    lines.push(`${c.bold('Evidence record')} ${result.path}${result.evidenceDir ? ` (checked against ${result.index?.file ?? result.evidenceDir})` : ''}`)
  }
  for (const record of result.records) {
    lines.push('')
    lines.push(...renderRecord(record))
  }
  if (result.findings.length > 0) {
    lines.push('', c.bold(`Problems (${result.findings.length}):`))
    for (const finding of result.findings) lines.push(`  ${statusMark('fail')} ${findingLine(finding)}`)
  }
  lines.push('')
  const incomplete = result.incomplete > 0 ? ` (${result.incomplete} incomplete: never completed)` : ''
  lines.push(
    result.valid
      ? c.green(`Evidence valid: ${noun(result.records.length, 'record')}${result.kind === 'dir' ? ', chain intact' : ''}${incomplete}.`)
      : c.red(`Evidence INVALID: ${noun(result.findings.length, 'problem')} (exit 5).`),
  )
  return lines.join('\n')
}

function renderRecord(r: RecordReport): string[] {
  const c = style()
  const mark = !r.valid ? statusMark('fail') : r.incomplete ? statusMark('warn') : statusMark('ok')
  const seq = r.seq === null ? '' : `seq ${r.seq}, `
  const s = r.summary
  let state: string
  if (r.status === null) state = r.digest === null ? 'missing' : 'unreadable'
  else if (r.status === 'started') state = 'incomplete: never completed (still running, or the CLI was killed)'
  else if (r.status === 'incomplete') state = `incomplete: ended without a tool exit code${s?.exitCode == null ? '' : ` (exit ${s.exitCode})`}`
  else state = `completed, exit ${s?.exitCode ?? '?'}`
  const out = [`${mark} ${c.bold(r.file)} — ${seq}${state}`]
  if (r.note) out.push(`    ${c.dim('note'.padEnd(8))} ${r.note}`)
  if (!s) return out
  const row = (label: string, value: string) => out.push(`    ${c.dim(label.padEnd(8))} ${value}`)
  row('ran', `${s.verb}${s.tool ? ` ${s.tool}` : ''} · sourceosctl ${shellJoin(s.argv)}`)
  row('when', `${s.startedAt} → ${s.finishedAt ?? '(not finished)'}`)
  row('where', `${s.host.platform} · ${s.host.os} ${s.host.osVersion} · ${s.host.arch}`)
  if (s.mounts.length === 0) row('mounts', '(none)')
  s.mounts.forEach((m, i) => row(i === 0 ? 'mounts' : '', `${m.source} → ${m.target} (${m.mode})`))
  row('image', `${s.image.ref} · id ${s.image.id.replace(/^sha256:/, '').slice(0, 12)} · digest ${s.image.digest ?? 'none'}`)
  if (s.git.length === 0) row('git', '(no repo)')
  s.git.forEach((g, i) =>
    row(i === 0 ? 'git' : '', `${g.target}: ${g.commit === null ? 'not a git repo' : `${g.ref ?? '(detached)'} @ ${g.commit.slice(0, 12)}, ${g.dirty === null ? 'dirty: unknown' : g.dirty ? 'dirty' : 'clean'}`}`),
  )
  row('policy', `${s.policyHash} ${r.policyHashVerified === true ? '(recomputed: matches)' : r.policyHashVerified === false ? c.red('(recomputed: DOES NOT MATCH)') : '(not recomputed)'}`)
  const t = s.toolVersions
  row('tools', `podman ${t.podman.client}${t.podman.server ? ` (server ${t.podman.server})` : ''} · git ${t.git ?? '—'} · nix ${t.nix ?? '—'} · tool ${t.tool ?? '—'}`)
  row('podman', shellJoin(s.podmanArgv))
  row('digest', r.digest ?? '—')
  return out
}

function findingLine(f: Finding): string {
  const kind = f.file.endsWith('index.jsonl') ? 'index' : 'record'
  return `${kind} ${f.file}: ${f.field === null ? '' : `field ${f.field}: `}${f.problem}`
}

/** Quotes for display only: arguments with spaces or shell metacharacters in single quotes. */
function shellJoin(argv: readonly string[]): string {
  return argv.map((a) => (a !== '' && /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ')
}
