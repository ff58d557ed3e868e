import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {parse} from 'yaml'
import type {HostPlatform} from '../../../src/core/host/facts.js'
import {broadRootsFor, denyPatternsFor, denyRules, expandPattern, loadCatalogue} from '../../../src/core/policy/catalogue.js'
import {buildCatalogue, checkCatalogueDrift, REPO_ROOT, renderCatalogue} from '../../../scripts/build-catalogue.mjs'
import {fakeHostFacts} from '../../helpers/host-facts.js'

describe('deny catalogue data', () => {
  it('policy/deny-catalogue.json is generated from policy/sensitive-paths.yaml (no drift)', () => {
    const result = checkCatalogueDrift()
    expect(result.message).toBe('policy/deny-catalogue.json is up to date')
    expect(result.ok).toBe(true)
  })

  it('keeps the provenance header and the sources of every entry in the YAML', () => {
    const text = readFileSync(join(REPO_ROOT, 'policy', 'sensitive-paths.yaml'), 'utf8')
    expect(text.startsWith('# sensitive-paths.yaml — default deny-list')).toBe(true)
    const doc = parse(text) as {categories: Array<{entries: Array<{name: string; sources?: unknown[]}>}>}
    for (const c of doc.categories) for (const e of c.entries) expect(e.sources?.length, e.name).toBeGreaterThan(0)
  })

  it('rejects prose in paths and duplicate ids', () => {
    const bad = `categories:\n  - id: x\n    title: X\n    severity: high\n    entries:\n      - name: Thing\n        paths: {macos: ['Keychain item "x"']}\n        sources: []\nbroad_roots: {all: []}\n`
    expect(() => buildCatalogue(bad)).toThrow(/not a path pattern/)
    const dup = `categories:\n  - id: x\n    title: X\n    severity: high\n    entries:\n      - {name: Thing, paths: {linux: ['~/.a']}}\n      - {name: Thing, paths: {linux: ['~/.b']}}\nbroad_roots: {all: []}\n`
    expect(() => buildCatalogue(dup)).toThrow(/duplicate entry id/)
    expect(renderCatalogue(buildCatalogue(`categories:\n  - id: x\n    title: X\n    severity: high\n    entries:\n      - {name: Thing, paths: {linux: ['~/.a']}}\nbroad_roots: {all: []}\n`))).toContain('"id":"x/thing"')
  })

  const mustDeny: Array<[HostPlatform, string[]]> = [
    ['linux', ['~/.ssh', '~/.codex', '~/.claude', '~/.claude.json', '~/.config/gh', '${XDG_CONFIG_HOME}/gh', '~/.git-credentials', '~/.netrc', '~/.aws', '~/.kube', '~/.gnupg', '~/.docker/config.json', '~/.config/google-chrome', '~/.mozilla/firefox', '~/.local/share/keyrings', '~/.pgpass', '~/.npmrc']],
    ['macos', ['~/.ssh', '~/.codex', '~/.claude', '~/.claude.json', '~/.config/gh', '~/.git-credentials', '~/.netrc', '~/Library/Keychains', '~/Library/Application Support/Google/Chrome', '~/Library/Application Support/Firefox', '~/Library/Safari', '~/Library/Cookies']],
    ['windows', ['%USERPROFILE%\\.ssh', '%USERPROFILE%\\.codex', '%USERPROFILE%\\.claude', '%USERPROFILE%\\.claude.json', '%APPDATA%\\GitHub CLI', '%USERPROFILE%\\.git-credentials', '%USERPROFILE%\\.netrc', '%APPDATA%\\Microsoft\\Credentials', '%LOCALAPPDATA%\\Google\\Chrome\\User Data', '%APPDATA%\\Mozilla\\Firefox']],
  ]
  it.each(mustDeny)('has the agent-tool, keychain and browser stores for %s', (platform, patterns) => {
    const written = new Set(denyRules().filter((r) => r.platform === platform).map((r) => r.pattern))
    for (const p of patterns) expect(written.has(p), p).toBe(true)
  })

  it('normalises entries into DenyRules with ids, categories and titles', () => {
    const rule = denyRules().find((r) => r.pattern === '~/.ssh' && r.platform === 'linux')
    expect(rule).toEqual({id: 'ssh/openssh-user-directory:linux:0', category: 'ssh', title: 'OpenSSH user directory', severity: 'critical', risk: 'secret', pattern: '~/.ssh', platform: 'linux'})
    expect(loadCatalogue()).toBe(loadCatalogue())
  })
})

describe('expansion per host', () => {
  const linux = fakeHostFacts('linux', {homeDir: '/home/u', env: {HOME: '/home/u'}})
  const paths = (host: Parameters<typeof denyPatternsFor>[0]): string[] => denyPatternsFor(host).map((d) => d.path)

  it('expands ~ and the XDG defaults; drops rules whose variable is unset without default', () => {
    const p = paths(linux)
    expect(p).toContain('/home/u/.ssh')
    expect(p).toContain('/home/u/.config/gh')
    expect(p).toContain('/run/user/1000/gnupg/**')
    expect(p.some((x) => x.includes('$') || x.includes('%'))).toBe(false)
    // $SSH_AUTH_SOCK unset: dropped, never widened to '' or '/'
    expect(p.filter((x) => x === '' || x === '/')).toEqual([])
    expect(denyPatternsFor(linux).some((d) => d.rule.pattern === '$SSH_AUTH_SOCK')).toBe(false)
  })

  it('uses env values when set', () => {
    const host = fakeHostFacts('linux', {homeDir: '/home/u', env: {HOME: '/home/u', XDG_RUNTIME_DIR: '/run/user/42', SSH_AUTH_SOCK: '/tmp/agent.sock', TMPDIR: '/scratch'}})
    const p = paths(host)
    expect(p).toContain('/run/user/42/gnupg/**')
    expect(p).toContain('/tmp/agent.sock')
    expect(broadRootsFor(host).map((b) => b.path)).toEqual(expect.arrayContaining(['/scratch', '/run/user/42']))
  })

  it('has no XDG_RUNTIME_DIR default without a uid or on macOS', () => {
    expect(expandPattern('${XDG_RUNTIME_DIR}/bus', fakeHostFacts('linux', {uid: null, env: {}}))).toEqual([])
    expect(expandPattern('${XDG_RUNTIME_DIR}/bus', fakeHostFacts('macos', {env: {}}))).toEqual([])
  })

  it('adds the env_overrides locations: CODEX_HOME, each KUBECONFIG element, GNUPGHOME, AWS_SHARED_CREDENTIALS_FILE, KRB5CCNAME', () => {
    const host = fakeHostFacts('linux', {
      homeDir: '/home/u',
      env: {HOME: '/home/u', CODEX_HOME: '/opt/codex', KUBECONFIG: '/k/a:~/k/b::', GNUPGHOME: '/g', AWS_SHARED_CREDENTIALS_FILE: '/c/aws', KRB5CCNAME: 'FILE:/tmp/krb5cc_7', COMPOSER_AUTH: '{"github-oauth":{}}'},
    })
    const env = denyPatternsFor(host).filter((d) => d.origin === 'env').map((d) => `${d.rule.pattern}=${d.path}`)
    expect(env).toEqual(expect.arrayContaining(['$CODEX_HOME=/opt/codex', '$KUBECONFIG=/k/a', '$KUBECONFIG=/home/u/k/b', '$GNUPGHOME=/g', '$AWS_SHARED_CREDENTIALS_FILE=/c/aws', '$KRB5CCNAME=/tmp/krb5cc_7']))
    expect(env.some((e) => e.startsWith('$COMPOSER_AUTH'))).toBe(false)
  })

  it('splits KUBECONFIG on ; on Windows', () => {
    const host = fakeHostFacts('windows', {env: {USERPROFILE: 'C:\\Users\\dev', KUBECONFIG: 'C:\\k\\a;D:\\k\\b'}})
    const env = denyPatternsFor(host).filter((d) => d.rule.pattern === '$KUBECONFIG').map((d) => d.path)
    expect(env).toEqual(['C:\\k\\a', 'D:\\k\\b'])
  })

  it('expands %USERPROFILE%, %APPDATA%, %LOCALAPPDATA% (with defaults) on Windows', () => {
    const host = fakeHostFacts('windows', {homeDir: 'C:\\Users\\Me', env: {}})
    const p = paths(host)
    expect(p).toContain('C:\\Users\\Me\\.ssh')
    expect(p).toContain('C:\\Users\\Me\\AppData\\Roaming\\GitHub CLI')
    expect(p).toContain('C:\\Users\\Me\\AppData\\Local\\Google\\Chrome\\User Data')
    expect(broadRootsFor(host).map((b) => b.path)).toEqual(expect.arrayContaining(['C:\\', 'C:\\Users', 'C:\\Users\\Me\\AppData\\Roaming', 'C:\\Users\\Me\\AppData\\Local\\Temp']))
  })

  it('adds the /private twins on macOS', () => {
    const mac = fakeHostFacts('macos', {env: {HOME: '/Users/dev', TMPDIR: '/var/folders/ab/T/'}})
    const roots = broadRootsFor(mac).map((b) => b.path)
    expect(roots).toEqual(expect.arrayContaining(['/var/folders/ab/T/', '/private/var/folders/ab/T/', '/tmp', '/private/tmp']))
  })

  it('caches per HostFacts object', () => {
    expect(denyPatternsFor(linux)).toBe(denyPatternsFor(linux))
  })
})
