/**
 * Environment policy (ARCHITECTURE §3): no env name that looks like a secret, or that hands the
 * container a host socket/agent/session, may appear in spec.env.passthrough or spec.env.set.
 * Secrets will only enter through the Secrets Door (spec.secrets). Pure.
 *
 * Rules (case-insensitive), a superset of the catalogue's env_denylist:
 *  - substrings TOKEN, SECRET, PASSWORD, PASSWD, PASSPHRASE, CREDENTIAL, PRIVATE, COOKIE, SESSION,
 *    APIKEY, CONNECTION_STRING;
 *  - a `_`-separated segment containing KEY (APIKEY, SSHKEY, KEYFILE, KEYTAB, …) except the
 *    keyboard family (KEYBOARD, KEYMAP, KEYBINDING[S]);
 *  - a segment containing AUTH (OAUTH, AUTHTOKEN, AUTHORIZATION, …) except AUTHOR/AUTHORS, so
 *    GIT_AUTHOR_NAME / GIT_AUTHOR_EMAIL stay allowed;
 *  - a segment containing PASS except PASSTHROUGH/PASSTHRU; a PWD segment other than PWD/OLDPWD
 *    themselves (MYSQL_PWD); a DSN segment (SENTRY_DSN);
 *  - exact names: sockets, agents, displays, config relocations (SSH_AUTH_SOCK, DOCKER_HOST,
 *    KUBECONFIG, DISPLAY, CODEX_HOME, proxies, …);
 *  - prefixes of cloud/forge/AI/registry tool families (AWS_, GH_, OPENAI_, NPM_CONFIG_, HF_, …).
 */
import {policyRefusal} from '../errors.js'
import type {AgentMachineProfile} from '../profile/schema.js'

const SUBSTRINGS = ['TOKEN', 'SECRET', 'PASSWORD', 'PASSWD', 'PASSPHRASE', 'CREDENTIAL', 'PRIVATE', 'COOKIE', 'SESSION', 'APIKEY', 'CONNECTION_STRING']

const EXACT = new Set([
  // agents, sockets, sessions, displays
  'SSH_AUTH_SOCK', 'SSH_AGENT_PID', 'GPG_AGENT_INFO', 'GNUPGHOME', 'DBUS_SESSION_BUS_ADDRESS', 'DBUS_SYSTEM_BUS_ADDRESS',
  'XDG_RUNTIME_DIR', 'DISPLAY', 'WAYLAND_DISPLAY', 'XAUTHORITY',
  // container engines
  'DOCKER_HOST', 'DOCKER_CONTEXT', 'DOCKER_CERT_PATH', 'DOCKER_CONFIG', 'CONTAINER_HOST', 'CONTAINER_CONNECTION', 'CONTAINER_SSHKEY', 'REGISTRY_AUTH_FILE',
  // relocated credential stores
  'KUBECONFIG', 'CLOUDSDK_CONFIG', 'AZURE_CONFIG_DIR', 'CODEX_HOME', 'CLAUDE_CONFIG_DIR', 'HISTFILE', 'NETRC', 'PGPASSFILE', 'PGSERVICEFILE',
  'MYSQL_TEST_LOGIN_FILE', 'PASSWORD_STORE_DIR', 'OP_CONFIG_DIR', 'BITWARDENCLI_APPDATA_DIR', 'KRB5CCNAME', 'KRB5_KTNAME', 'KRB5_CLIENT_KTNAME',
  'CARGO_REGISTRY_TOKEN', 'DATABASE_URL', 'CAROOT', 'WGETRC',
  // proxies (may embed credentials; podman runs with --http-proxy=false)
  'HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'NO_PROXY', 'FTP_PROXY',
])

const PREFIXES = [
  'AWS_', 'AZURE_', 'ARM_', 'GOOGLE_', 'GCP_', 'GCLOUD_', 'CLOUDSDK_', 'OCI_CLI_', 'DIGITALOCEAN_', 'DO_API_',
  'GH_', 'GITHUB_', 'GITLAB_', 'GLAB_', 'BITBUCKET_',
  'OPENAI_', 'ANTHROPIC_', 'CLAUDE_', 'CODEX_', 'GEMINI_', 'MISTRAL_', 'GROQ_', 'COHERE_', 'OPENROUTER_', 'HF_', 'HUGGING_FACE_', 'HUGGINGFACE_',
  'NPM_CONFIG_', 'YARN_NPM_', 'PYPI_', 'TWINE_', 'CARGO_REGISTRIES_', 'GEM_HOST_',
  'DOCKER_', 'VAULT_', 'PULUMI_', 'TF_TOKEN_', 'TF_VAR_', 'OP_', 'BW_', 'SOPS_', 'SSH_', 'GPG_', 'KUBE_', 'HELM_',
]

/** Names that trip a rule but are not secrets (Go's private-module pattern lists). */
const BENIGN = new Set(['GOPRIVATE', 'GONOPROXY', 'GONOSUMDB', 'GONOSUMCHECK'])

const KEY_EXCEPTIONS = /^(KEYBOARDS?|KEYMAPS?|KEYBINDINGS?)$/
const AUTH_EXCEPTIONS = /^AUTHORS?$/
const PASS_EXCEPTIONS = /^(PASSTHROUGH|PASSTHRU)$/

/** Why `name` looks like a secret or host-access variable, or null when it does not. */
export function secretEnvReason(name: string): string | null {
  const upper = name.toUpperCase()
  if (BENIGN.has(upper)) return null
  if (EXACT.has(upper)) return 'a host socket, session or credential-store variable'
  const prefix = PREFIXES.find((p) => upper.startsWith(p))
  if (prefix) return `a ${prefix}* variable (credentials of that tool family)`
  const sub = SUBSTRINGS.find((s) => upper.includes(s))
  if (sub) return `its name contains ${sub}`
  for (const seg of upper.split('_')) {
    if (seg.includes('KEY') && !KEY_EXCEPTIONS.test(seg)) return 'its name contains KEY'
    if (seg.includes('AUTH') && !AUTH_EXCEPTIONS.test(seg)) return 'its name contains AUTH'
    if (seg.includes('PASS') && !PASS_EXCEPTIONS.test(seg)) return 'its name contains PASS'
    if (seg === 'DSN') return 'its name contains DSN'
  }
  if (upper !== 'PWD' && upper !== 'OLDPWD' && upper.split('_').includes('PWD')) return 'its name contains PWD'
  return null
}

/** True when `name` looks like a secret or host-access variable (case-insensitive). */
export function isSecretLikeEnvName(name: string): boolean {
  return secretEnvReason(name) !== null
}

const SECRET_VALUE_SHAPES: ReadonlyArray<readonly [RegExp, string]> = [
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, 'a PEM private key'],
  [/\b(ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}/, 'a GitHub token'],
  [/\bgithub_pat_[A-Za-z0-9_]{30,}/, 'a GitHub token'],
  [/\bglpat-[A-Za-z0-9_-]{20,}/, 'a GitLab token'],
  [/\bsk-ant-[A-Za-z0-9_-]{20,}/, 'an Anthropic API key'],
  [/\bsk-(proj-)?[A-Za-z0-9_-]{20,}/, 'an OpenAI-style API key'],
  [/\bxox[abposr]-[A-Za-z0-9-]{10,}/, 'a Slack token'],
  [/\b(AKIA|ASIA)[0-9A-Z]{16}\b/, 'an AWS access key id'],
  [/\bAIza[0-9A-Za-z_-]{35}\b/, 'a Google API key'],
  [/\bhf_[A-Za-z0-9]{30,}/, 'a Hugging Face token'],
  [/\bnpm_[A-Za-z0-9]{36}\b/, 'an npm token'],
  [/[a-z][a-z0-9+.-]*:\/\/[^/\s@:]+:[^/\s@]+@/i, 'a URL with embedded credentials'],
]

/** What kind of secret `value` looks like (never echoes the value), or null. */
export function secretValueShape(value: string): string | null {
  for (const [re, what] of SECRET_VALUE_SHAPES) if (re.test(value)) return what
  return null
}

export interface EnvOffender {
  name: string
  field: 'spec.env.passthrough' | 'spec.env.set'
  why: string
}

/** Every secret-looking name in passthrough/set, and set values shaped like tokens. */
export function findEnvOffenders(profile: Pick<AgentMachineProfile, 'spec'>): EnvOffender[] {
  const out: EnvOffender[] = []
  for (const name of profile.spec.env.passthrough) {
    const why = secretEnvReason(name)
    if (why) out.push({name, field: 'spec.env.passthrough', why})
  }
  for (const [name, value] of Object.entries(profile.spec.env.set)) {
    const why = secretEnvReason(name)
    if (why) {
      out.push({name, field: 'spec.env.set', why})
      continue
    }
    const shape = secretValueShape(value)
    if (shape) out.push({name, field: 'spec.env.set', why: `its value looks like ${shape}`})
  }
  return out
}

/**
 * Throws policyRefusal('POLICY_SECRET_ENV') listing every offender, e.g.
 * "env name 'GITHUB_TOKEN' in spec.env.passthrough looks like a secret".
 */
export function checkProfileEnv(profile: Pick<AgentMachineProfile, 'spec'>): void {
  const offenders = findEnvOffenders(profile)
  if (offenders.length === 0) return
  const message = offenders
    .map((o) => (o.why.startsWith('its value') ? `env value of '${o.name}' in ${o.field} looks like a secret (${o.why})` : `env name '${o.name}' in ${o.field} looks like a secret`))
    .join('; ')
  throw policyRefusal('POLICY_SECRET_ENV', message, 'remove it: secrets will only enter through the Secrets Door (spec.secrets)', {offenders})
}
