import {describe, expect, it} from 'vitest'
import {AgentMachineError} from '../../../src/core/errors.js'
import {loadCatalogue} from '../../../src/core/policy/catalogue.js'
import {checkProfileEnv, hostIdentityEnvReason, isSecretLikeEnvName, passthroughEnv, secretValueShape} from '../../../src/core/policy/env-policy.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'

const secret = [
  'GITHUB_TOKEN', 'GH_TOKEN', 'github_token', 'NPM_TOKEN', 'MY_SECRET', 'db_password', 'MYSQL_PWD', 'PGPASSFILE', 'SSHPASS',
  'OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'APIKEY', 'STRIPE_KEY', 'CONTAINER_SSHKEY', 'KEYFILE', 'KRB5_KTNAME', 'SIGNING_KEY_ID',
  'AUTH', 'OAUTH_CLIENT', 'NODE_AUTH_TOKEN', 'HTTP_AUTHORIZATION', 'BASIC_AUTH', 'SESSION_ID', 'AWS_PROFILE', 'AWS_REGION',
  'AZURE_TENANT', 'GOOGLE_APPLICATION_CREDENTIALS', 'GCP_PROJECT', 'HF_HOME', 'NPM_CONFIG_USERCONFIG', 'PRIVATE_REGISTRY',
  'SSH_AUTH_SOCK', 'ssh_auth_sock', 'GPG_AGENT_INFO', 'DOCKER_HOST', 'CONTAINER_HOST', 'DBUS_SESSION_BUS_ADDRESS', 'DISPLAY',
  'WAYLAND_DISPLAY', 'KUBECONFIG', 'CODEX_HOME', 'CLAUDE_CONFIG_DIR', 'HTTPS_PROXY', 'https_proxy', 'SENTRY_DSN', 'DATABASE_URL',
  'BROWSER_COOKIE', 'OP_SESSION_my', 'TF_VAR_db', 'PULUMI_CONFIG_PASSPHRASE', 'AZURE_STORAGE_CONNECTION_STRING',
]
const allowed = [
  'TERM', 'LANG', 'LC_ALL', 'TZ', 'COLORTERM', 'PATH', 'EDITOR', 'PAGER', 'NODE_ENV', 'CI', 'GIT_AUTHOR_NAME', 'GIT_AUTHOR_EMAIL',
  'GIT_COMMITTER_NAME', 'KEYBOARD_LAYOUT', 'XKB_KEYMAP', 'PWD', 'OLDPWD', 'GOPRIVATE', 'RUST_LOG', 'NO_COLOR', 'FORCE_COLOR',
]

describe('isSecretLikeEnvName', () => {
  it.each(secret)('%s is secret-like', (name) => {
    expect(isSecretLikeEnvName(name)).toBe(true)
  })
  it.each(allowed)('%s is allowed', (name) => {
    expect(isSecretLikeEnvName(name)).toBe(false)
  })

  it("covers every exact name of the catalogue's env_denylist, and examples of its patterns", () => {
    const {exact, patterns} = loadCatalogue().envDenylist
    for (const name of exact) expect(isSecretLikeEnvName(name), name).toBe(true)
    for (const p of patterns) {
      const example = p.replace(/^\*/, 'X_').replace(/\*$/, '_X').replace('*', '_')
      expect(isSecretLikeEnvName(example), `${p} → ${example}`).toBe(true)
    }
  })
})

describe('secretValueShape', () => {
  it.each([
    ['ghp_' + 'a'.repeat(36), 'a GitHub token'],
    ['sk-ant-api03-' + 'x'.repeat(30), 'an Anthropic API key'],
    ['AKIAIOSFODNN7EXAMPLE', 'an AWS access key id'],
    ['https://user:pass@example.com/x', 'a URL with embedded credentials'],
    ['-----BEGIN OPENSSH PRIVATE KEY-----', 'a PEM private key'],
  ])('%s → %s', (value, shape) => {
    expect(secretValueShape(value)).toBe(shape)
  })
  it.each(['xterm-256color', 'en_US.UTF-8', 'https://example.com/x', 'production'])('%s is plain', (value) => {
    expect(secretValueShape(value)).toBeNull()
  })
})

describe('checkProfileEnv', () => {
  const profile = (passthrough: string[], set: Record<string, string> = {}) => ({spec: {env: {passthrough, set}}}) as Parameters<typeof checkProfileEnv>[0]

  it('passes the default passthrough list', () => {
    expect(() => checkProfileEnv(profile(['TERM', 'LANG', 'LC_ALL', 'TZ', 'COLORTERM'], {NODE_ENV: 'development'}))).not.toThrow()
  })

  it('refuses listing every offender, in one line, without echoing values', () => {
    let caught: unknown
    try {
      checkProfileEnv(profile(['TERM', 'GITHUB_TOKEN', 'SSH_AUTH_SOCK'], {AWS_REGION: 'eu-west-1', GREETING: 'ghp_' + 'b'.repeat(36)}))
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(AgentMachineError)
    const e = caught as AgentMachineError
    expect(e.code).toBe('POLICY_SECRET_ENV')
    expect(e.exitCode).toBe(3)
    expect(e.message).toBe(
      "env name 'GITHUB_TOKEN' in spec.env.passthrough looks like a secret; env name 'SSH_AUTH_SOCK' in spec.env.passthrough looks like a secret; " +
        "env name 'AWS_REGION' in spec.env.set looks like a secret; env value of 'GREETING' in spec.env.set looks like a secret (its value looks like a GitHub token)",
    )
    expect(e.message).not.toContain('bbbb')
    expect(e.fix).toBe('remove it: secrets will only enter through the Secrets Door (spec.secrets)')
  })
})

// Issue 10, defect 10: passthrough VALUES are shape-checked at launch, and host identity/location
// names are refused as passthrough. A refusal names the variable, never its value.
describe('secretValueShape: credentials whatever the variable is called', () => {
  const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLWJ5dGVz'
  it.each([
    ['mongodb://admin:pw@db:27017/app', 'a URL with embedded credentials'],
    ['postgres://app:s3cret@localhost/db', 'a URL with embedded credentials'],
    ['mongodb+srv://u:p@cluster0.example.net', 'a URL with embedded credentials'],
    ['redis://:s3cretpass@redis:6379/0', 'a URL with embedded credentials'],
    ['Server=db;Database=app;User Id=sa;Password=Hunter2!;', 'a connection string with a password'],
    ['https://x-access-token-abcdefghijklmnop@github.com/o/r.git', 'a URL with embedded credentials'],
    ['https://api.example.com/v1?access_token=abcdef123456', 'a URL with a credential in its query'],
    ['https://bucket.s3.amazonaws.com/k?X-Amz-Signature=abcdef0123', 'a URL with a credential in its query'],
    [jwt, 'a JWT'],
    [`Bearer ${'t'.repeat(32)}`, 'an HTTP Authorization value'],
    ['-----BEGIN CERTIFICATE-----\nMIIB', 'a PEM block (a key or certificate)'],
    ['-----BEGIN RSA PRIVATE KEY-----', 'a PEM private key'],
    ['-----BEGIN PGP PRIVATE KEY BLOCK-----', 'a PEM private key'],
    ['ghp_' + 'a'.repeat(36), 'a GitHub token'],
    ['note: github_pat_' + 'B'.repeat(40), 'a GitHub token'],
    ['glpat-' + 'x'.repeat(20), 'a GitLab token'],
    ['sk-' + 'Q'.repeat(40), 'an OpenAI-style API key'],
    ['xoxb-123456789012-abcdefghij', 'a Slack token'],
    ['AIza' + 'S'.repeat(35), 'a Google API key'],
    ['hf_' + 'h'.repeat(34), 'a Hugging Face token'],
    ['npm_' + 'n'.repeat(36), 'an npm token'],
    ['AKIAIOSFODNN7EXAMPLE', 'an AWS access key id'],
    ['sk_live_' + 'z'.repeat(24), 'a Stripe secret key'],
    ['DefaultEndpointsProtocol=https;AccountName=a;AccountKey=' + 'k'.repeat(44), 'an Azure connection string or SAS'],
  ])('%s → %s', (value, shape) => {
    expect(secretValueShape(value)).toBe(shape)
  })
  it.each(['xterm-256color', 'en_US.UTF-8', 'Europe/Paris', 'https://example.com/x?page=2', 'sk-learn', 'truecolor', 'a'.repeat(40), '0123456789abcdef0123456789abcdef01234567', 'ssh://git@github.com/o/r.git', 'Bearer', 'http://localhost:8080/x', 'Server=db;Database=app;Integrated Security=true'])(
    '%s is plain',
    (value) => {
      expect(secretValueShape(value)).toBeNull()
    },
  )
})

describe('host identity and location names are refused as passthrough', () => {
  it.each(['HOME', 'PATH', 'USER', 'LOGNAME', 'SHELL', 'PWD', 'OLDPWD', 'TMPDIR', 'TMP', 'TEMP', 'USERNAME', 'HOSTNAME', 'MAIL', 'home', 'XDG_CONFIG_HOME', 'XDG_DATA_HOME',
    'XDG_STATE_HOME', 'XDG_CACHE_HOME', 'XDG_DATA_DIRS', 'XDG_DESKTOP_DIR', 'XDG_SESSION_ID', 'USERPROFILE', 'APPDATA', 'LOCALAPPDATA', 'HOMEPATH', 'SUDO_USER',
    'LD_PRELOAD', 'NODE_OPTIONS', 'SOURCEOSCTL_CONFIG_DIR', 'SOURCEOSCTL_ANYTHING'])('%s', (name) => {
    expect(hostIdentityEnvReason(name)).not.toBeNull()
  })
  it.each(['TERM', 'LANG', 'LC_ALL', 'TZ', 'COLORTERM', 'NODE_ENV', 'CI', 'EDITOR', 'NO_COLOR', 'GIT_AUTHOR_NAME'])('%s is allowed', (name) => {
    expect(hostIdentityEnvReason(name)).toBeNull()
  })

  const profile = (passthrough: string[], set: Record<string, string> = {}) => ({spec: {env: {passthrough, set}}}) as Parameters<typeof checkProfileEnv>[0]

  it('refuses HOME in passthrough with POLICY_HOST_IDENTITY_ENV (exit 3); set may still fix it', () => {
    expect(() => checkProfileEnv(profile(['TERM', 'HOME', 'XDG_CONFIG_HOME']))).toThrow(
      expect.objectContaining({
        code: 'POLICY_HOST_IDENTITY_ENV',
        exitCode: 3,
        message:
          "env name 'HOME' in spec.env.passthrough is a host identity or location variable: it would tell the agent who and where you are on the host; " +
          "env name 'XDG_CONFIG_HOME' in spec.env.passthrough is a host location or session variable (XDG): it would tell the agent who and where you are on the host",
      }),
    )
    expect(() => checkProfileEnv(profile(['TERM'], {HOME: '/home/agent', PATH: '/usr/bin:/bin'}))).not.toThrow()
  })

  it('names secrets first when both kinds are there', () => {
    expect(() => checkProfileEnv(profile(['HOME', 'GITHUB_TOKEN']))).toThrow(expect.objectContaining({code: 'POLICY_SECRET_ENV'}))
  })
})

describe('passthroughEnv: host values checked at launch', () => {
  const profile = (passthrough: string[]) => ({spec: {env: {passthrough, set: {}}}}) as Parameters<typeof passthroughEnv>[0]
  const linux = fakeHostFacts('linux', {homeDir: '/home/u', env: {TERM: 'xterm', LANG: 'C.UTF-8', EMPTY: '', MONGODB_URI: 'mongodb://admin:hunter2pw@db', NOTES: 'ghp_' + 'c'.repeat(36), CACHE: '/home/u/.cache/x', ROOTISH: '/home/user2/x'}})

  function refusal(fn: () => unknown): AgentMachineError {
    try {
      fn()
    } catch (error) {
      if (error instanceof AgentMachineError) return error
      throw error
    }
    throw new Error('expected a refusal')
  }

  it('passes clean values in order, keeps empty ones, skips unset ones', () => {
    expect(passthroughEnv(profile(['TERM', 'NOPE', 'LANG', 'EMPTY', 'ROOTISH']), linux)).toEqual([['TERM', 'xterm'], ['LANG', 'C.UTF-8'], ['EMPTY', ''], ['ROOTISH', '/home/user2/x']])
  })

  it('refuses a URL with credentials and a token in an innocent name, naming them but never the values', () => {
    const e = refusal(() => passthroughEnv(profile(['TERM', 'MONGODB_URI', 'NOTES']), linux))
    expect(e.code).toBe('POLICY_SECRET_ENV_VALUE')
    expect(e.exitCode).toBe(3)
    expect(e.message).toBe(
      "the host value of 'MONGODB_URI' (spec.env.passthrough) was not passed: its value looks like a URL with embedded credentials; " +
        "the host value of 'NOTES' (spec.env.passthrough) was not passed: its value looks like a GitHub token",
    )
    const everything = JSON.stringify({message: e.message, fix: e.fix, details: e.details})
    for (const leaked of ['hunter2pw', 'admin', 'cccccccc', 'mongodb://']) expect(everything).not.toContain(leaked)
  })

  it('refuses a value that names a path in the host home', () => {
    expect(refusal(() => passthroughEnv(profile(['CACHE']), linux)).message).toBe("the host value of 'CACHE' (spec.env.passthrough) was not passed: its value names a path in your host home directory")
  })

  it('looks names up case-insensitively on Windows and folds the home', () => {
    const win = fakeHostFacts('windows', {homeDir: 'C:\\Users\\Me', env: {Term: 'xterm', Tools: 'c:/users/me/tools'}})
    expect(passthroughEnv(profile(['TERM']), win)).toEqual([['TERM', 'xterm']])
    expect(() => passthroughEnv(profile(['TOOLS']), win)).toThrow(expect.objectContaining({code: 'POLICY_SECRET_ENV_VALUE'}))
  })
})
