/**
 * The mount judgement asks only the rules that can decide about a path's parent folder, narrowed
 * one segment at a time and kept per prefix (candidatesFor). That must never change a verdict: for every generated path, on Linux as root
 * (other users' homes, `/home/*`, one-segment homes such as /bin), as a user with relocated
 * stores, on case-insensitive macOS and on Windows, every rule of the full list that equals, covers
 * or contains a match at the path is among the candidates, the candidates keep the list's order,
 * and so the first hit of each question the judge asks is the same rule. The paths come from the
 * rules themselves (each rule's path with its globs filled in, its ancestors, a child, other case
 * spellings) and from seeded random combinations of their segments.
 */
import {describe, expect, it} from 'vitest'
import type {HostFacts} from '../../../src/core/host/facts.js'
import {broadRootsFor, denyPatternsFor, OTHER_HOME, type ExpandedDeny} from '../../../src/core/policy/catalogue.js'
import {candidatesFor} from '../../../src/core/policy/mount-policy.js'
import {pathApi, toKey, type PathKey, type PathMatcher} from '../../../src/core/policy/path-key.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'

const HOSTS: Record<string, HostFacts> = {
  'linux, root with other homes': fakeHostFacts('linux', {
    homeDir: '/root',
    uid: 0,
    isRoot: true,
    env: {HOME: '/root', PATH: '/usr/local/bin:/usr/bin:/opt/tool/bin:/root/bin', XDG_CONFIG_HOME: '/srv/xdg'},
    userHomes: ['/home/ann', '/var/lib/postgresql', '/bin', '/nonexistent', '/srv/Bob'],
  }),
  'linux, a user with relocated stores': fakeHostFacts('linux', {
    env: {HOME: '/home/dev', CODEX_HOME: '/data/codex', GNUPGHOME: '/data/gpg', KUBECONFIG: '/data/k1:/data/k2', PATH: '/home/dev/.local/bin:/usr/bin', SOURCEOSCTL_STATE_DIR: '/data/state'},
  }),
  'macos, root, case-insensitive': fakeHostFacts('macos', {homeDir: '/var/root', uid: 0, isRoot: true, env: {HOME: '/var/root', PATH: '/opt/homebrew/bin:/usr/bin'}, userHomes: ['/Users/Ann']}),
  'windows, case-insensitive': fakeHostFacts('windows', {env: {USERPROFILE: 'C:\\Users\\dev', APPDATA: 'D:\\Roaming', PATH: 'C:\\Tools;C:\\Windows\\System32'}}),
}

/** A deterministic generator (mulberry32), so a failure names the same paths every run. */
function random(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A glob segment filled in (`S.*` → `S.gpg-agent`, `*.pem` → `key.pem`, `**` → `deep`). */
const fill = (seg: string): string => (seg === '**' ? 'deep' : seg.replaceAll('*', 'x1').replaceAll('?', 'q'))

function generatedPaths(host: HostFacts): string[] {
  const api = pathApi(host)
  const windows = host.platform === 'windows'
  const sep = windows ? '\\' : '/'
  const rules = [...denyPatternsFor(host).map((d) => d.path), ...broadRootsFor(host).map((b) => b.path), ...(host.userHomes ?? [])]
  const out = new Set<string>()
  const rootOf = (p: string): string => (windows ? (/^[A-Za-z]:\\/.exec(p)?.[0] ?? 'C:\\') : '/')
  const vocabulary = new Set<string>(['x', 'dev', 'repo', 'sub'])
  for (const rule of rules) {
    if (rule.startsWith('**')) {
      out.add(api.join(windows ? 'C:\\' : '/', 'work', ...rule.split(/[\\/]/).map(fill)))
      continue
    }
    const root = rootOf(rule)
    const segs = rule.slice(root.length).split(/[\\/]/).filter(Boolean).map(fill)
    segs.forEach((s) => vocabulary.add(s))
    for (let i = 1; i <= segs.length; i++) out.add(root + segs.slice(0, i).join(sep))
    out.add(root + [...segs, 'sub'].join(sep))
    if (host.caseInsensitivePaths) out.add(root + segs.map((s) => s.toUpperCase()).join(sep))
    // a path in another user's home (the rules for those are written against a placeholder)
    if (rule.startsWith(`${OTHER_HOME}/`)) for (const home of host.userHomes ?? []) out.add(api.join(home, ...segs.slice(1)))
  }
  const words = [...vocabulary]
  const next = random(18)
  for (let i = 0; i < 500; i++) {
    const n = 1 + Math.floor(next() * 4)
    const segs = Array.from({length: n}, () => words[Math.floor(next() * words.length)] as string)
    out.add((windows ? (next() < 0.8 ? 'C:\\' : 'D:\\') : '/') + segs.join(sep))
  }
  return [...out]
}

type Rule = {matcher: PathMatcher; rule?: ExpandedDeny['rule']}
const questions: Array<[string, (m: PathMatcher, key: PathKey) => boolean]> = [
  ['equals', (m, key) => m.equals(key)],
  ['covers', (m, key) => m.covers(key)],
  ['isAncestorOfMatch', (m, key) => m.isAncestorOfMatch(key)],
]

describe.each(Object.entries(HOSTS))('the rules a judgement asks (%s)', (_name, host) => {
  it('every rule that answers yes for a path is a candidate, in list order; the first hits are the same', () => {
    const lists: Array<[string, readonly Rule[]]> = [
      ['deny', denyPatternsFor(host)],
      ['broad roots', broadRootsFor(host)],
    ]
    const problems: string[] = []
    let hits = 0
    const paths = generatedPaths(host)
    for (const p of paths) {
      const key = toKey(p, host)
      if (!key || key.segs.length === 0) continue
      for (const [name, list] of lists) {
        const candidates = candidatesFor(list, key)
        const isCandidate = new Set(candidates)
        const position = new Map(list.map((r, i) => [r, i]))
        const order = candidates.map((r) => position.get(r) as number)
        if (order.some((x, i) => x === undefined || (i > 0 && x <= (order[i - 1] as number)))) problems.push(`${name} ${p}: candidates out of list order`)
        for (const [question, ask] of questions) {
          const full = list.filter((r) => ask(r.matcher, key))
          hits += full.length
          const missing = full.filter((r) => !isCandidate.has(r))
          if (missing.length > 0) problems.push(`${name} ${question} ${p}: ${missing.length} rule(s) left out`)
          // what the judge takes: the first hit, a secret rule before a host-exec one
          const first = (rs: readonly Rule[]) => rs.find((r) => r.rule?.risk !== 'host-exec' && ask(r.matcher, key)) ?? rs.find((r) => ask(r.matcher, key))
          if (full.length > 0 && first(list) !== first(candidates)) problems.push(`${name} ${question} ${p}: another first hit`)
        }
      }
    }
    expect(problems).toEqual([])
    // the paths reach the rules: many yes answers, and fewer candidates than rules
    expect(paths.length).toBeGreaterThan(1000)
    expect(hits).toBeGreaterThan(1000)
    const someKey = toKey(host.platform === 'windows' ? 'C:\\work\\repo' : '/work/repo', host) as PathKey
    expect(candidatesFor(denyPatternsFor(host), someKey).length).toBeLessThan(denyPatternsFor(host).length / 2)
  })
})

describe('the narrowing kept per prefix', () => {
  const host = HOSTS['linux, root with other homes'] as HostFacts
  const deny = denyPatternsFor(host)
  const yes = (key: PathKey) => deny.filter((d) => questions.some(([, ask]) => ask(d.matcher, key)))

  it('a folder deeper down gets no more candidates than its parent, and every rule that answers yes', () => {
    let previous = Infinity
    for (const p of ['/home', '/home/ann', '/home/ann/dev', '/home/ann/dev/repo', '/home/ann/dev/repo/.git/hooks']) {
      const key = toKey(p, host) as PathKey
      const candidates = candidatesFor(deny, key)
      expect(candidates.length).toBeLessThanOrEqual(previous)
      expect(yes(key).filter((d) => !candidates.includes(d))).toEqual([])
      previous = candidates.length
    }
    // by the repo, only what can match below any folder is left
    expect(candidatesFor(deny, toKey('/home/ann/dev/repo/x', host) as PathKey).every((d) => d.matcher.root === null)).toBe(true)
  })

  it('past the prefixes it keeps, the candidates are the same', () => {
    const keys = Array.from({length: 5000}, (_, i) => toKey(`/home/ann/.ssh/k${i}/x/id`, host) as PathKey)
    for (const key of keys) candidatesFor(deny, key)
    for (const key of [keys[0], keys[4999], toKey('/home/ann/.aws/y/z', host)] as PathKey[]) {
      const candidates = candidatesFor(deny, key)
      expect(candidates.length).toBeGreaterThan(0)
      expect(yes(key).filter((d) => !candidates.includes(d))).toEqual([])
    }
  })
})
