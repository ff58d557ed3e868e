/** The integrity report as lines for stderr (each names the item, why, and where it went). */
import type {IntegrityReport} from './session.js'

export function describeIntegrity(report: IntegrityReport): string[] {
  const lines: string[] = []
  for (const f of report.findings) {
    if (f.action === 'report') {
      lines.push(`${f.path}: ${f.change === 'removed' ? f.reason : `${f.change}: ${f.reason}`}`)
      continue
    }
    const done = f.quarantinedAt === null ? `NOT moved (${f.error ?? 'unknown error'}): remove it yourself before running git there` : f.action === 'restore' ? `moved to ${f.quarantinedAt}, the original put back` : `moved to ${f.quarantinedAt}`
    lines.push(`${f.path}: ${f.change}: ${f.reason}; ${done}`)
  }
  for (const p of report.newWriteProtected) lines.push(`${p}: new during the session, and your tools run or trust files like it: review it before you use them`)
  return lines
}
