/**
 * What the agent planted: the trust surface after the session against the one before it
 * (surface.ts). Pure. Anything new or changed in a repo that existed is a plant; a repo created
 * during the session is kept only when it is plainly `git init` (+ remotes, branches, identity):
 * its config holds only harmless keys and its hooks are git's samples. Everything else is refused
 * rather than guessed at.
 */
import path from 'node:path'

import {parseGitConfig} from '../git/config-file.js'
import type {Surface, SurfaceItem} from './surface.js'

export interface Finding {
  /** Absolute host path of the planted (or changed, or removed) item. */
  path: string
  change: 'new' | 'changed' | 'removed'
  /** What it is and why the host must not trust it. */
  reason: string
  /** quarantine: moved away; restore: moved away and the original put back; report: named only. */
  action: 'quarantine' | 'restore' | 'report'
}

/** Keys `git init`, `git clone`, `git remote add` and `git branch -u` write, which run nothing. */
const BENIGN_KEYS = new Set([
  'core.repositoryformatversion',
  'core.filemode',
  'core.bare',
  'core.logallrefupdates',
  'core.ignorecase',
  'core.precomposeunicode',
  'core.symlinks',
  'core.autocrlf',
  'core.eol',
  'core.safecrlf',
  'user.name',
  'user.email',
  'init.defaultbranch',
  'extensions.objectformat',
  'pull.rebase',
  'pull.ff',
])
const BENIGN_SUBSECTION_KEYS: Record<string, Set<string>> = {
  remote: new Set(['url', 'pushurl', 'fetch', 'push', 'tagopt', 'prune']),
  branch: new Set(['remote', 'merge', 'rebase', 'pushremote']),
}

/** A remote URL that makes git run a program: `<helper>::<address>` or an option-like `-…`. */
function unsafeUrl(value: string): boolean {
  return value.startsWith('-') || /^[A-Za-z0-9+.-]*::/.test(value) || /[\0\n]/.test(value)
}

/** Null when the config only holds harmless keys; else why not. */
export function judgeNewConfig(text: string): string | null {
  const parsed = parseGitConfig(text)
  if (!parsed.ok) return `its config cannot be read safely (line ${parsed.line}: ${parsed.reason})`
  for (const e of parsed.entries) {
    const allowed = e.subsection === null ? BENIGN_KEYS.has(e.name) : (BENIGN_SUBSECTION_KEYS[e.section]?.has(e.key) ?? false)
    if (!allowed) return `its config sets ${e.name} (line ${e.line}), which a new repo has no need for`
    if ((e.key === 'url' || e.key === 'pushurl') && e.value !== null && unsafeUrl(e.value)) return `its config has a remote URL that runs a program (${e.name}, line ${e.line})`
    if (e.name === 'core.bare' && e.value !== null && !/^(false|no|off|0)$/i.test(e.value)) return 'its config declares a bare repository'
  }
  return null
}

function under(parent: string, p: string): boolean {
  return p.startsWith(parent.endsWith('/') ? parent : `${parent}/`)
}

function decode(item: SurfaceItem): string | null {
  return item.kind === 'file' && item.content !== undefined ? Buffer.from(item.content, 'base64').toString('utf8') : null
}

/** Null when the git dir made during the session is a plain `git init`; else why not. */
export function judgeNewGitDir(gitDir: string, items: Readonly<Record<string, SurfaceItem>>): string | null {
  const config = items[path.join(gitDir, 'config')]
  if (!config) return 'it has no config (not a repository git init would make)'
  const text = decode(config)
  if (text === null) return 'its config is not a small regular file'
  const why = judgeNewConfig(text)
  if (why) return why
  for (const [p, item] of Object.entries(items)) {
    if (!under(gitDir, p)) continue
    const rel = p.slice(gitDir.length + 1)
    const [top, ...rest] = rel.split('/')
    if (rel === 'config' || rel === 'hooks' || rel === 'worktrees' || rel === 'modules') {
      if (rel !== 'config' && item.kind !== 'dir') return `its ${rel} is not a directory`
      continue
    }
    if (top === 'hooks' && rest.length === 1 && item.kind === 'file' && rest[0]!.endsWith('.sample')) continue
    if (top === 'hooks') return `it has a hook (${rel})`
    return `it has ${rel}, which redirects or extends what git reads`
  }
  return null
}

/** Why an item in a repo that existed before the session matters, for the message. */
function describe(p: string, item: SurfaceItem | undefined): string {
  const name = path.basename(p)
  const parts = p.split('/')
  if (parts.includes('hooks')) return 'a git hook: git runs it on commit, checkout, merge or push'
  if (['rebase-merge', 'rebase-apply', 'sequencer'].some((d) => parts.includes(d))) return 'an interrupted rebase: `git rebase --continue` runs its todo list'
  if (name === 'commondir') return 'a commondir file: it sends git to another directory’s config and hooks'
  if (name === 'gitdir') return 'a gitdir pointer: it sends git to another directory'
  if (name === 'config' || name === 'config.worktree') return 'git config: it can name programs git runs (core.fsmonitor, core.pager, hooks, filters)'
  if (name === '.git') return item?.kind === 'dir' ? 'a git dir' : 'a .git pointer: host git follows it to another directory'
  return 'a file the repo’s config tells git to read or run (core.hooksPath, include.path)'
}

/**
 * The findings of one mount root, sorted by path; a finding inside a directory that is itself
 * quarantined is left out (it moves with it).
 */
export function compareSurfaces(before: Surface, after: Surface): Finding[] {
  const findings: Finding[] = []
  const beforeEntries = new Set(before.gitEntries)
  const afterEntries = new Set(after.gitEntries)
  const newEntries = after.gitEntries.filter((e) => !beforeEntries.has(e))

  for (const entry of newEntries) {
    const item = after.items[entry]
    if (!item) continue
    if (item.kind === 'dir' && path.basename(entry).toLowerCase() !== '.git') {
      // A folder made to look like a git dir: git run inside it would use it. Its HEAD goes (the
      // folder's other files are the agent's work and stay).
      const why = judgeNewGitDir(entry, after.items)
      if (why) findings.push({path: path.join(entry, 'HEAD'), change: 'new', reason: `makes ${entry} a git dir for any git run inside it (a bare repository): ${why}`, action: 'quarantine'})
    } else if (item.kind === 'dir') {
      const why = judgeNewGitDir(entry, after.items)
      if (why) findings.push({path: entry, change: 'new', reason: `a repository made during the session: ${why}`, action: 'quarantine'})
    } else {
      const what = item.kind === 'file' ? `a .git pointer${pointerTarget(item)}` : `a .git ${item.kind}`
      findings.push({path: entry, change: 'new', reason: `${what}: host git would follow it out of the repo it is in`, action: 'quarantine'})
    }
  }
  const removedEntries = before.gitEntries.filter((e) => !afterEntries.has(e))
  for (const entry of removedEntries) findings.push({path: entry, change: 'removed', reason: `${describe(entry, before.items[entry])} is gone`, action: 'report'})

  const inNewEntry = (p: string): boolean => newEntries.some((e) => p === e || under(e, p))
  for (const [p, item] of Object.entries(after.items)) {
    if (inNewEntry(p)) continue
    const was = before.items[p]
    // A git entry that existed before is never new itself (a baseline that could not read it is not
    // a reason to move the user's own .git away).
    if (!was && beforeEntries.has(p)) continue
    if (!was) {
      findings.push({path: p, change: 'new', reason: describe(p, item), action: 'quarantine'})
    } else if (was.kind !== item.kind || was.digest !== item.digest) {
      // A directory whose entries changed shows up through those entries, not itself.
      if (was.kind === 'dir' && item.kind === 'dir') continue
      findings.push({path: p, change: 'changed', reason: describe(p, item), action: was.kind === 'file' && was.content !== undefined ? 'restore' : 'quarantine'})
    }
  }
  for (const p of Object.keys(before.items)) {
    if (after.items[p] || removedEntries.some((e) => p === e || under(e, p))) continue
    findings.push({path: p, change: 'removed', reason: `${describe(p, before.items[p])} was deleted`, action: 'report'})
  }

  findings.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  const moved: string[] = []
  return findings.filter((f) => {
    if (moved.some((m) => under(m, f.path))) return false
    if (f.action !== 'report' && after.items[f.path]?.kind === 'dir') moved.push(f.path)
    return true
  })
}

function pointerTarget(item: SurfaceItem): string {
  const text = decode(item)
  const m = text === null ? null : /^gitdir: ?(.+)$/m.exec(text)
  return m ? ` to ${m[1]!.trim().slice(0, 200)}` : ''
}
