import {Args, Flags} from '@oclif/core'

import {AgentMachineCommand} from '../../../cli/base-command.js'
import {statusMark, style} from '../../../cli/style.js'
import {ExitCode, usageError} from '../../../core/errors.js'
import type {Finding, InspectResult, RecordReport} from '../../../core/evidence/inspect-result.js'
import {inspectPath} from '../../../core/evidence/verify.js'
import {resolveEvidenceDir} from '../../../core/evidence/location.js'
import {getContext} from '../../../core/context.js'
import {stateDir} from '../../../core/profile/location.js'

export default class EvidenceInspect extends AgentMachineCommand {
  static override summary = 'Verify evidence records, their signatures and their chain, and summarise what ran.'

  static override description = `Reads an evidence record file, or an evidence dir (records/, index.jsonl, checkpoint.dsse, keys/), by default the one run and shell write to (doctor shows it), and checks each record: that it is JSON of the right kind and schema version, that it follows the record schema (schemas/agent-machine-evidence-record.schema.json), that its bytes are RFC 8785 canonical JSON, that its policyHash matches the policy it carries, that its DSSE envelope is signed by a trusted key, and that its digest matches the index. For a dir it also verifies the chain and the signed checkpoint, and names every missing, reordered, altered, planted or rolled-back record.

Trusted key: --trusted-key, else this host's own signing key (in the state dir). Signed only by the key stored beside the records, unsigned, or a loose folder of copied records: UNVERIFIED — nothing is wrong, but nothing anchors it either.

It prints one line per record (seq, status, exit code, tool, start, run id); --long adds what ran, where, the mounts, the image, the git state and the podman argv. Then every problem with the exact file and field. A record that never completed (the session is still running, or the CLI was killed) is reported as incomplete; that alone does not make the evidence invalid. Secret values are never printed: records hold them redacted, and values an older CLI recorded are redacted for display.

Exit 0 when valid; 5 when invalid or UNVERIFIED — also for a path that does not exist, a dir with no records, a file that is not JSON or not an evidence record, and a record from a newer schema version.

${AgentMachineCommand.exitCodesSection}`

  static override examples = [
    {description: 'Verify the evidence dir run and shell write to', command: '<%= config.bin %> agent-machine evidence inspect'},
    {description: 'The same, with what each session ran', command: '<%= config.bin %> agent-machine evidence inspect --long'},
    {description: 'Verify copied evidence against the signer’s public key and a head recorded earlier', command: '<%= config.bin %> agent-machine evidence inspect ./evidence --trusted-key signer.pub --expect-head sha256:<64 hex>'},
    {description: 'Check one record, against the index of its dir', command: '<%= config.bin %> agent-machine evidence inspect ~/.local/state/sourceosctl/evidence/records/000042-<run-id>.json'},
    {description: 'The same as data, for CI', command: '<%= config.bin %> agent-machine evidence inspect ./evidence --json'},
  ]

  static override args = {
    path: Args.string({description: 'An evidence record file, or an evidence dir (records/ + index.jsonl), or a folder of record files. Default: the evidence dir run and shell write to.', required: false}),
  }

  static override flags = {
    long: Flags.boolean({description: 'Show each record in full: what ran, where, mounts, image, git, policy, tool versions, podman argv, digest.', default: false}),
    'trusted-key': Flags.string({description: 'Trust only signatures by this ed25519 public key (PEM, e.g. a copy of <evidence dir>/keys/<keyid>.pub kept where the writer cannot change it). Default: this host’s own signing key.'}),
    'expect-head': Flags.string({description: 'An index head (index.head of an earlier --json) recorded elsewhere: index.jsonl must still contain that line, so nothing up to it was rewritten or rolled back.'}),
    since: Flags.integer({description: 'The first seq of a copied range: records before it are not expected.', min: 1}),
  }

  async run(): Promise<InspectResult> {
    const {args, flags} = await this.parse(EvidenceInspect)
    const ctx = getContext()
    const host = await ctx.hostFacts()
    const target = args.path ?? resolveEvidenceDir(host, process.cwd())
    const result = await inspectPath(target, {
      stateDir: stateDir(host),
      ...(args.path === undefined ? {isDefaultDir: true} : {}),
      ...(flags['trusted-key'] !== undefined ? {trustedKeyFile: flags['trusted-key']} : {}),
      ...(flags['expect-head'] !== undefined ? {expectHead: flags['expect-head']} : {}),
      ...(flags.since !== undefined ? {since: flags.since} : {}),
    })
    this.say(renderInspect(result, flags.long))
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

function renderInspect(result: InspectResult, long: boolean): string {
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
  if (long) {
    for (const record of result.records) {
      lines.push('')
      lines.push(...renderRecord(record))
    }
  } else {
    lines.push('', ...renderTable(result.records))
  }
  const sig = result.signatures
  const trust = {
    'trusted-key': 'the key given with --trusted-key',
    'local-key': 'this host’s signing key',
    'dir-keys': 'only the key stored beside the records',
    none: 'no key',
  }[sig.trust]
  lines.push('', `${c.dim('signed')}   ${sig.signed} of ${result.records.length} records verified with ${trust}${sig.keyids.length > 0 ? ` (${sig.keyids.map((k) => k.slice(0, 16)).join(', ')})` : ''}`)
  if (result.checkpoint) {
    const cp = result.checkpoint
    lines.push(`${c.dim('anchor')}   ${cp.present ? (cp.verified ? `checkpoint signed ${cp.signedAt ?? ''} over ${cp.lines} index lines, head ${cp.head ?? ''}` : 'checkpoint present, not verified') : 'no checkpoint'}`)
  }
  if (result.index?.head) lines.push(`${c.dim('head')}     ${result.index.head} (keep it elsewhere; pass it as --expect-head later)`)
  if (result.findings.length > 0) {
    lines.push('', c.bold(`Problems (${result.findings.length}):`))
    for (const finding of result.findings) lines.push(`  ${statusMark('fail')} ${findingLine(finding)}`)
  }
  lines.push('')
  const incomplete = result.incomplete > 0 ? ` (${result.incomplete} incomplete: never completed)` : ''
  if (result.verdict === 'unverified') {
    lines.push(c.yellow(`Evidence UNVERIFIED (exit 5): nothing is wrong, but nothing anchors it${incomplete}:`))
    for (const why of result.unverified) lines.push(`  ${statusMark('warn')} ${why}`)
  } else {
    lines.push(
      result.valid
        ? c.green(`Evidence valid: ${noun(result.records.length, 'record')}${result.kind === 'dir' ? ', chain intact' : ''}, signed${incomplete}.`)
        : c.red(`Evidence INVALID: ${noun(result.findings.length, 'problem')} (exit 5).`),
    )
  }
  return lines.join('\n')
}

/** One line per record: mark, seq, status, exit, tool, start, run id. */
function renderTable(records: readonly RecordReport[]): string[] {
  const rows = records.map((r) => {
    const mark = !r.valid ? statusMark('fail') : r.incomplete ? statusMark('warn') : statusMark('ok')
    const status = r.status ?? (r.digest === null ? 'missing' : 'unreadable')
    const exit = r.summary?.exitCode == null ? '—' : String(r.summary.exitCode)
    const tool = r.summary ? (r.summary.tool ?? r.summary.verb) : '—'
    return [mark, r.seq === null ? '?' : String(r.seq), status, exit, tool, r.summary?.startedAt ?? '—', r.runId ?? '—']
  })
  const header = ['', 'SEQ', 'STATUS', 'EXIT', 'TOOL', 'STARTED', 'RUN ID']
  const width = (i: number) => Math.max(...[header, ...rows].map((row) => visibleLength(row[i] ?? '')))
  const widths = header.map((_, i) => width(i))
  const line = (row: string[]) => row.map((cell, i) => (i === row.length - 1 ? cell : cell + ' '.repeat(Math.max(0, (widths[i] ?? 0) - visibleLength(cell))))).join('  ').trimEnd()
  return [line(header), ...rows.map(line)]
}

function visibleLength(text: string): number {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;]*m/g, '').length
}

function renderRecord(r: RecordReport): string[] {
  const c = style()
  const mark = !r.valid ? statusMark('fail') : r.incomplete ? statusMark('warn') : statusMark('ok')
  const seq = r.seq === null ? '' : `seq ${r.seq}, `
  const s = r.summary
  let state: string
  if (r.status === null) state = r.digest === null ? 'missing' : 'unreadable'
  else if (r.status === 'started') state = 'incomplete: never completed (still running, or the CLI was killed)'
  else if (r.status === 'incomplete' && s?.outcome?.error) state = `incomplete: the launch ${s.outcome.result === 'interrupted' ? 'was interrupted' : 'failed'} before the tool ran (${s.outcome.error.code}, exit ${s.outcome.error.exitCode})`
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
  for (const [i, w] of (s.workspace ?? []).entries()) {
    const moved = w.before.commit === w.after?.commit ? `commit ${w.before.commit?.slice(0, 12) ?? 'none'}` : `commit ${w.before.commit?.slice(0, 12) ?? 'none'} → ${w.after?.commit?.slice(0, 12) ?? 'none'}`
    const c2 = w.changes
    const what = c2 === null ? 'not checked after the session' : `${c2.added.length} added, ${c2.modified.length} modified, ${c2.removed.length} removed${c2.omitted > 0 ? ` (+${c2.omitted} more)` : ''}`
    row(i === 0 ? 'changed' : '', `${w.target}: ${moved}; ${what}`)
    for (const [mark, list] of [['+', c2?.added ?? []], ['~', c2?.modified ?? []], ['-', c2?.removed ?? []]] as const) {
      for (const p of list.slice(0, 20)) row('', `  ${mark} ${p}`)
      if (list.length > 20) row('', `  ${mark} … ${list.length - 20} more (--json lists them)`)
    }
  }
  if (s.network) {
    const n = s.network
    const rules = n.allowlist ? `, ${n.allowlist.entries.length} allowlisted host:port rule${n.allowlist.entries.length === 1 ? '' : 's'}` : ''
    row('network', `${n.mode}${rules}${n.destinations === null ? (n.mode === 'allowlist' ? ' · destinations unknown (the proxy log was not read)' : '') : ''}`)
    for (const d of (n.destinations ?? []).slice(0, 30)) {
      const failed = d.upstreamFailed > 0 ? `, ${d.upstreamFailed} upstream failed` : ''
      row('', `  ${d.decision === 'denied' ? c.red('denied ') : 'allowed'} ${d.host}:${d.port} × ${d.count}${failed}`)
    }
    if ((n.destinations?.length ?? 0) > 30) row('', `  … ${n.destinations!.length - 30} more (--json lists them)`)
  }
  if (s.outcome?.error) row('failed', `${s.outcome.error.code}: ${s.outcome.error.message}`)
  if (s.kube) {
    const k = s.kube
    row('pod', `${k.pod.name} · uid ${k.pod.uid ?? '(never came up)'} · node ${k.pod.node} · ${k.engine}, layout ${k.layout}${k.resourcesApplied ? '' : ' · played without resource limits'}`)
    row('', `manifest ${k.manifestDigest} · pinned ${k.repo.commit.slice(0, 12)}, the agent started at ${k.repo.clonedCommit?.slice(0, 12) ?? 'unknown'}`)
    for (const ct of k.containers) {
      const weak = [ct.readOnlyRoot ? null : 'writable root', ct.noNewPrivileges ? null : 'no no-new-privileges', ct.privileged ? 'privileged' : null, ...ct.capAdd].filter((w) => w !== null)
      row('', `  ${ct.name}: image ${ct.imageId?.slice(0, 12) ?? 'unknown'} · user ${ct.user} · ${weak.length === 0 ? 'hardened' : c.red(weak.join(', '))} · exit ${ct.exitCode ?? '—'}`)
    }
    row('bundle', k.bundle ? `${k.bundle.file} · ${k.bundle.bytes} bytes · ${k.bundle.digest} · ${k.bundle.heads.join(' ')}` : k.bundleRefused ? c.red(`refused: ${k.bundleRefused}`) : '(none)')
  }
  if (s.userRefs) {
    const u = s.userRefs
    const ch = u.changes
    const what = ch === null ? `not compared${u.error ? ` (${u.error})` : ''}` : ch.added.length + ch.changed.length + ch.removed.length === 0 ? 'unchanged' : `${ch.added.length} added, ${ch.changed.length} changed, ${ch.removed.length} removed${ch.omitted > 0 ? ` (+${ch.omitted} more)` : ''}`
    row('refs', `${u.repo}: ${what}`)
    for (const a of ch?.added ?? []) row('', `  + ${a.name} ${a.commit.slice(0, 12)}`)
    for (const m of ch?.changed ?? []) row('', `  ~ ${m.name} ${m.before.slice(0, 12)} → ${m.after.slice(0, 12)}`)
    for (const d of ch?.removed ?? []) row('', `  - ${d.name} ${d.commit.slice(0, 12)}`)
  }
  row('policy', `${s.policyHash} ${r.policyHashVerified === true ? '(recomputed: matches)' : r.policyHashVerified === false ? c.red('(recomputed: DOES NOT MATCH)') : '(not recomputed)'}`)
  const t = s.toolVersions
  row('tools', `podman ${t.podman.client}${t.podman.server ? ` (server ${t.podman.server})` : ''} · git ${t.git ?? '—'} · nix ${t.nix ?? '—'} · tool ${t.tool ?? '—'}`)
  row('podman', shellJoin(s.podmanArgv))
  for (const [i, run] of (s.podmanRan ?? []).entries()) row(i === 0 ? 'steps' : '', `${shellJoin(run.argv)}  ${c.dim(`→ ${run.exitCode === null ? 'no exit code' : `exit ${run.exitCode}`}`)}`)
  row('signed', r.signed === null ? 'not checked' : r.signed ? 'yes (DSSE envelope verified)' : c.red('NO'))
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
