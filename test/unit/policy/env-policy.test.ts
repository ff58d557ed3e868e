import {describe, expect, it} from 'vitest'
import {AgentMachineError} from '../../../src/core/errors.js'
import {loadCatalogue} from '../../../src/core/policy/catalogue.js'
import {checkProfileEnv, isSecretLikeEnvName, secretValueShape} from '../../../src/core/policy/env-policy.js'

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
