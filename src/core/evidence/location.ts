/**
 * Where evidence records go: the verb's --evidence-dir flag, else SOURCEOSCTL_EVIDENCE_DIR, else
 * `<state dir>/evidence` — the rule `doctor` shows (evidenceDirFor). Pure over HostFacts.
 */
import path from 'node:path'

import {evidenceDirFor} from '../doctor/run-doctor.js'
import type {HostFacts} from '../host/facts.js'

export {evidenceDirFor}

/** The evidence dir for a run: `flag` (relative to cwd, `~` expanded) when given, else the default rule. */
export function resolveEvidenceDir(host: HostFacts, cwd: string, flag?: string): string {
  const api = host.platform === 'windows' ? path.win32 : path.posix
  const chosen = flag !== undefined && flag !== '' ? flag : evidenceDirFor(host)
  const expanded = chosen === '~' ? host.homeDir : /^~[\\/]/.test(chosen) ? api.join(host.homeDir, chosen.slice(2)) : chosen
  return api.resolve(cwd, expanded)
}
