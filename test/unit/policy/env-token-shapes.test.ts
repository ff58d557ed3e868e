/**
 * Every credential shape the env policy knows is refused as a passthrough value, at the shortest
 * length it names, and the same text one character short (or with a neighbour glued on where the
 * shape ends at a word boundary) passes: a weakened pattern or a dropped entry fails here.
 */
import {describe, expect, it} from 'vitest'
import {AgentMachineError} from '../../../src/core/errors.js'
import {checkProfileEnv, hostIdentityEnvReason, passthroughEnv, secretEnvReason, secretValueShape} from '../../../src/core/policy/env-policy.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'

const a = (n: number) => 'a'.repeat(n)
const A = (n: number) => 'A'.repeat(n)
const hex = (n: number) => 'f'.repeat(n)

/** [shape, the shortest value of that shape, a near miss that is not a credential]. */
const SHAPES: ReadonlyArray<readonly [string, string, string]> = [
  ['a PEM private key', '-----BEGIN RSA PRIVATE KEY-----', '-----BEGIN RSA PRIVATE KEY----'],
  ['a PEM private key', '-----BEGIN PGP PRIVATE KEY BLOCK-----', '-----BEGIN PGP PRIVATE KEY BLOCK----'],
  ['a PEM private key', '-----BEGIN PRIVATE KEY-----', '-----BEGIN  -----'],
  ['a PEM block (a key or certificate)', '-----BEGIN CERTIFICATE-----', '-----BEGIN certificate-----'],
  ['a GitHub token', `ghp_${a(30)}`, `ghp_${a(29)}`],
  ['a GitHub token', `gho_${a(30)}`, `gho_${a(29)}`],
  ['a GitHub token', `ghu_${a(30)}`, `ghx_${a(30)}`],
  ['a GitHub token', `ghs_${a(30)}`, `xghs_${a(30)}`],
  ['a GitHub token', `ghr_${a(30)}`, `ghr_${a(15)}-${a(15)}`],
  ['a GitHub token', `github_pat_${a(15)}_${a(14)}`, `github_pat_${a(29)}`],
  ['a GitLab token', `glpat-${a(20)}`, `glpat-${a(19)}`],
  ...['gldt', 'glrt', 'glptt', 'glft', 'glsoat', 'glcbt', 'glimt', 'glagent', 'gloas'].map((p) => ['a GitLab token', `${p}-${a(10)}_${a(4)}-${a(4)}`, `${p}-${a(10)}.${a(9)}`] as const),
  ['a GitLab token', `xglpat-${a(20)}`.slice(1), `xglpat-${a(20)}`],
  ['an Anthropic API key', `sk-ant-${a(10)}_${a(4)}-${a(4)}`, `sk-ant-${a(9)}`],
  ['an OpenAI-style API key', `sk-${a(10)}_${a(4)}-${a(4)}`, `sk-${a(19)}`],
  ['an OpenAI-style API key', `sk-proj-${a(20)}`, `sk-proj.${a(19)}`],
  ['an OpenAI-style API key', `sk-svcacct-${a(20)}`, `xsk-svcacct-${a(20)}`],
  ...['a', 'b', 'p', 'o', 's', 'r', 'e'].map((l) => ['a Slack token', `xox${l}-${a(5)}-${a(4)}`, `xox${l}-${a(9)}`] as const),
  ['a Slack token', `xapp-1-${a(5)}-${a(4)}`, `xapp-1-${a(9)}`],
  ['a Slack token', `xapp-9-${a(10)}`, `xapp-x-${a(10)}`],
  ...['AKIA', 'ASIA', 'ABIA', 'ACCA'].map((p) => ['an AWS access key id', `${p}0123456789ABCDEF`, `${p}0123456789ABCDE`] as const),
  ['an AWS access key id', 'key AKIA0123456789ABCDEF.', 'AKIA0123456789ABCDEFG'],
  ['an AWS access key id', 'AKIAZZZZZZZZZZZZZZZZ', 'XAKIA0123456789ABCDEF'],
  ['a Google API key', `AIza${a(20)}_-${a(13)}`, `AIza${a(34)}`],
  ['a Google API key', `AIza${a(35)} x`, `AIza${a(36)}`],
  ['a Google OAuth access token', `ya29.${a(20)}`, `ya29.${a(19)}`],
  ['a Google OAuth access token', `ya29.${a(10)}_-${a(8)}`, `ya29x${a(20)}`],
  ['a Google OAuth client secret', `GOCSPX-${a(10)}_-${a(8)}`, `GOCSPX-${a(19)}`],
  ['a Hugging Face token', `hf_${a(30)}`, `hf_${a(29)}`],
  ['an npm token', `npm_${a(36)}`, `npm_${a(35)}`],
  ['an npm token', `npm_${a(36)} `, `npm_${a(37)}`],
  ['a PyPI token', `pypi-AgE${a(10)}_-${a(8)}`, `pypi-AgE${a(19)}`],
  ['a Stripe secret key', `sk_live_${a(16)}`, `sk_live_${a(15)}`],
  ['a Stripe secret key', `rk_test_${a(16)}`, `rk_demo_${a(16)}`],
  ['a SendGrid API key', `SG.${a(8)}_-${a(6)}.${a(8)}_-${a(6)}`, `SG.${a(15)}.${a(16)}`],
  ['a SendGrid API key', `SG.${a(16)}.${a(16)}`, `SG.${a(16)}.${a(15)}`],
  ...['shpat', 'shpss', 'shpca', 'shppa'].map((p) => ['a Shopify token', `${p}_${hex(16)}${'A'.repeat(16)}`, `${p}_${hex(31)}`] as const),
  ['a Shopify token', `shpat_${'0'.repeat(32)}`, `shpat_${hex(33)}`],
  ['a DigitalOcean token', `dop_v1_${hex(64)}`, `dop_v1_${hex(63)}`],
  ['a DigitalOcean token', `dop_v1_${'0'.repeat(64)}`, `dop_v1_${hex(65)}`],
  ['a Vault token', `hvs.${a(10)}_-${a(8)}`, `hvs.${a(19)}`],
  ['a Pulumi token', `pul-${hex(40)}`, `pul-${hex(39)}`],
  ['a Pulumi token', `pul-${'0'.repeat(40)}`, `pul-${hex(41)}`],
  ['a Databricks token', `dapi${hex(32)}`, `dapi${hex(31)}`],
  ['a Databricks token', `dapi${'0'.repeat(32)}`, `dapi${hex(33)}`],
  ['an AI provider API key', `gsk_${a(30)}`, `gsk_${a(29)}`],
  ['an AI provider API key', `r8_${a(30)}`, `r9_${a(30)}`],
  ['an AI provider API key', `pplx-${a(30)}`, `pplx.${a(30)}`],
  ['an AI provider API key', `xai-${A(30)}`, `xai-${a(15)}.${a(15)}`],
  ['an age secret key', `AGE-SECRET-KEY-1${'Q'.repeat(50)}`, `AGE-SECRET-KEY-1${'Q'.repeat(49)}`],
  ['an age secret key', `AGE-SECRET-KEY-1${'0'.repeat(50)}`, `AGE-SECRET-KEY-1${'q'.repeat(50)}`],
  ['an Atlassian API token', `ATATT3${a(10)}_=-${a(7)}`, `ATATT3${a(19)}`],
  ['a Grafana token', `glsa_${a(10)}_${a(9)}`, `glsa_${a(19)}`],
  ...['sntry', 'sntrs', 'sntru'].map((p) => ['a Sentry token', `${p}_${a(10)}_=+/-${a(6)}`, `${p}_${a(19)}`] as const),
  ['a Sentry token', `sntru_${a(20)}`, `sntrx_${a(20)}`],
  ['a JWT', `eyJ${a(8)}.eyJ${a(8)}.`, `eyJ${a(7)}.eyJ${a(8)}.`],
  ['a JWT', `eyJ${a(4)}_-${a(2)}.eyJ${a(4)}_-${a(2)}.sig`, `eyJ${a(8)}.eyJ${a(7)}.`],
  ['an HTTP Authorization value', `Bearer ${a(10)}._~+/=-${a(3)}`, `Bearer ${a(19)}`],
  ['an HTTP Authorization value', `Basic\t${a(20)}`, `Basic${a(20)}`],
  ['an HTTP Authorization value', `token  ${a(20)}`, `tokens ${a(20)}`],
  ['an Azure connection string or SAS', `AccountKey=${a(17)}+/=`, `AccountKey=${a(19)}`],
  ['an Azure connection string or SAS', 'Endpoint=sb://x/;SharedAccessSignature=', 'Endpoint=sb://x/;SharedAccessSignatur='],
  ['an Azure connection string or SAS', `https://x.blob/c?sv=1&sig=${a(17)}%+/`, `https://x.blob/c?sv=1&sig=${a(19)}`],
  ['an Azure connection string or SAS', `accountkey=${a(20)}`, `accountkey=${a(10)}.${a(10)}`],
  ['a URL with embedded credentials', 'https://user:p@example.com/', 'https://user:@example.com/'],
  ['a URL with embedded credentials', 'git+ssh://:p@example.com/', 'https://user:p/@example.com/'],
  ['a URL with embedded credentials', `https://${a(10)}._~-${a(6)}@example.com`, `https://${a(19)}@example.com`],
  ['a URL with embedded credentials', `HTTPS://${a(20)}@example.com`, `1https//${a(20)}@example.com`],
  ['a connection string with a password', 'password=x', 'password='],
  ['a connection string with a password', 'Server=db; Pwd = x', 'Server=db;MyPwd=x'],
  ...['access_token', 'auth_token', 'token', 'api_key', 'apikey', 'api-key', 'password', 'passwd', 'pwd', 'secret', 'client_secret', 'x-amz-signature', 'x-amz-credential', 'x-goog-signature'].map(
    (k) => ['a URL with a credential in its query', `https://example.com/?${k}=abcdef`, `https://example.com/?${k}=abcde`] as const,
  ),
  ['a URL with a credential in its query', 'https://example.com/?a=1&TOKEN=abc%20f', 'https://example.com/?a=1&token=abc de'],
]

describe('a value shaped like a credential in a passthrough variable is refused', () => {
  const host = fakeHostFacts('linux', {env: {HOME: '/home/dev', TERM: 'xterm'}})
  const profile = {spec: {env: {passthrough: ['TERM', 'EXAMPLE'], set: {}}}} as unknown as Parameters<typeof passthroughEnv>[0]

  it.each(SHAPES)('%s: %s is refused, %s is not', (shape, value, nearMiss) => {
    expect(secretValueShape(value)).toBe(shape)
    let caught: unknown
    try {
      passthroughEnv(profile, {...host, env: {...host.env, EXAMPLE: value}})
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(AgentMachineError)
    expect((caught as AgentMachineError).code).toBe('POLICY_SECRET_ENV_VALUE')
    expect((caught as AgentMachineError).details).toEqual({offenders: [{name: 'EXAMPLE', why: `its value looks like ${shape}`}]})
    expect((caught as AgentMachineError).message).not.toContain(value)

    expect(secretValueShape(nearMiss)).not.toBe(shape)
  })

  it('a value that is no credential passes through unchanged, with the others, in profile order', () => {
    const env = {...host.env, EXAMPLE: 'production', OTHER: 'x'}
    expect(passthroughEnv({spec: {env: {passthrough: ['EXAMPLE', 'UNSET', 'TERM'], set: {}}}} as never, {...host, env})).toEqual([
      ['EXAMPLE', 'production'],
      ['TERM', 'xterm'],
    ])
  })
})

describe('names that are refused, with their reason', () => {
  it.each([
    ['GITHUB_TOKEN', 'a GITHUB_* variable (credentials of that tool family)'],
    ['ssh_auth_sock', 'a host socket, session or credential-store variable'],
    ['MY_CONNECTION_STRING', 'its name contains CONNECTION_STRING'],
    ['SIGNING_KEY_ID', 'its name contains KEY'],
    ['OAUTH_CLIENT', 'its name contains AUTH'],
    ['SSHPASS', 'its name contains PASS'],
    ['SENTRY_DSN', 'its name contains DSN'],
    ['MYSQL_PWD', 'its name contains PWD'],
  ])('%s: %s', (name, why) => {
    expect(secretEnvReason(name)).toBe(why)
  })

  it('only whole _-segments count for DSN and PWD, and PWD/OLDPWD themselves are no secret', () => {
    for (const name of ['DSNX', 'PWD', 'OLDPWD', 'PWDX_Y', 'X_DSNS']) expect(secretEnvReason(name), name).toBeNull()
  })

  it('the keyboard, author and passthrough words are exceptions only as whole segments', () => {
    for (const name of ['KEYBOARD', 'XKB_KEYMAPS', 'KEYBINDINGS', 'GIT_AUTHORS', 'PASSTHRU', 'PASSTHROUGH']) expect(secretEnvReason(name), name).toBeNull()
    expect(secretEnvReason('MY_KEYBOARDX')).toBe('its name contains KEY')
    expect(secretEnvReason('XKEYBOARD')).toBe('its name contains KEY')
    expect(secretEnvReason('AUTHORSHIP')).toBe('its name contains AUTH')
    expect(secretEnvReason('COAUTHOR')).toBe('its name contains AUTH')
    expect(secretEnvReason('PASSTHROUGHS')).toBe('its name contains PASS')
    expect(secretEnvReason('BYPASSTHRU')).toBe('its name contains PASS')
  })

  it('Go module pattern lists are no secret though their names contain PRIVATE', () => {
    for (const name of ['GOPRIVATE', 'gonoproxy', 'GONOSUMDB', 'GONOSUMCHECK']) expect(secretEnvReason(name), name).toBeNull()
    expect(secretEnvReason('GOPRIVATEX')).toBe('its name contains PRIVATE')
  })

  it.each([
    'SSH_AGENT_PID', 'GNUPGHOME', 'DBUS_SYSTEM_BUS_ADDRESS', 'XDG_RUNTIME_DIR', 'XAUTHORITY', 'DOCKER_CONTEXT', 'DOCKER_CERT_PATH', 'DOCKER_CONFIG',
    'CONTAINER_CONNECTION', 'REGISTRY_AUTH_FILE', 'CLOUDSDK_CONFIG', 'AZURE_CONFIG_DIR', 'HISTFILE', 'NETRC', 'PGSERVICEFILE', 'MYSQL_TEST_LOGIN_FILE',
    'PASSWORD_STORE_DIR', 'OP_CONFIG_DIR', 'BITWARDENCLI_APPDATA_DIR', 'KRB5CCNAME', 'KRB5_CLIENT_KTNAME', 'CARGO_REGISTRY_TOKEN', 'CAROOT', 'WGETRC',
    'HTTP_PROXY', 'ALL_PROXY', 'NO_PROXY', 'FTP_PROXY',
  ])('%s hands the container a host socket, session or credential store', (name) => {
    expect(secretEnvReason(name)).toBe('a host socket, session or credential-store variable')
  })

  it.each([
    'ARM_', 'GOOGLE_', 'GCLOUD_', 'OCI_CLI_', 'DIGITALOCEAN_', 'DO_API_', 'GITLAB_', 'GLAB_', 'BITBUCKET_', 'CLAUDE_', 'CODEX_', 'GEMINI_',
    'MISTRAL_', 'GROQ_', 'COHERE_', 'OPENROUTER_', 'HUGGING_FACE_', 'HUGGINGFACE_', 'YARN_NPM_', 'PYPI_', 'TWINE_', 'CARGO_REGISTRIES_',
    'GEM_HOST_', 'VAULT_', 'PULUMI_', 'TF_TOKEN_', 'OP_', 'BW_', 'SOPS_', 'SSH_', 'GPG_', 'KUBE_', 'HELM_',
  ])('a %s* variable belongs to a tool family whose variables carry credentials', (prefix) => {
    expect(secretEnvReason(`${prefix}X`)).toBe(`a ${prefix}* variable (credentials of that tool family)`)
  })
})

describe('host identity variables are refused in passthrough', () => {
  it.each(['XDG_CONFIG_HOME', 'XDG_DATA_DIRS', 'XDG_CONFIG_DIRS', 'XDG_DESKTOP_DIR', 'XDG_SEARCH_PATH', 'xdg_session_type', 'XDG_SEAT', 'XDG_VTNR', 'XDG_MENU_PREFIX', 'XDG_CURRENT_DESKTOP', 'XDG_ACTIVATION_TOKEN', 'XDG_GREETER_DATA_DIR'])(
    '%s is a host location or session variable',
    (name) => {
      expect(hostIdentityEnvReason(name)).toBe('a host location or session variable (XDG)')
    },
  )
  it('an XDG name that is no location or session is not', () => {
    for (const name of ['XDG_HOMEX', 'XDG_THING', 'X_XDG_CONFIG_HOME', 'XDG_CONFIG_HOME_']) expect(hostIdentityEnvReason(name), name).toBeNull()
  })
  it("this CLI's own settings", () => {
    expect(hostIdentityEnvReason('sourceosctl_debug')).toBe("this CLI's own setting")
    expect(hostIdentityEnvReason('MY_SOURCEOSCTL_X')).toBeNull()
  })
  it.each(['USERPROFILE', 'LOGONSERVER', 'PSMODULEPATH', 'LD_PRELOAD', 'NODE_OPTIONS', 'BASH_ENV', 'SOURCEOSCTL_STATE_DIR'])('%s is a host identity or location variable', (name) => {
    expect(hostIdentityEnvReason(name)).toBe('a host identity or location variable')
  })
})

describe('every host identity and location variable is refused in passthrough', () => {
  const IDENTITY = [
    'HOME', 'PATH', 'USER', 'LOGNAME', 'USERNAME', 'SHELL', 'PWD', 'OLDPWD', 'TMPDIR', 'TMP', 'TEMP', 'MAIL', 'MAILPATH', 'HOSTNAME',
    'HOST', 'UID', 'EUID', 'GID', 'GROUPS', 'SUDO_USER', 'SUDO_UID', 'SUDO_GID', 'SUDO_COMMAND', 'DOAS_USER', 'ZDOTDIR', 'ENV', 'BASH_ENV',
    'CDPATH', 'MANPATH', 'INFOPATH', 'LD_LIBRARY_PATH', 'LD_PRELOAD', 'DYLD_LIBRARY_PATH', 'DYLD_INSERT_LIBRARIES', 'PYTHONPATH', 'NODE_PATH',
    'PYTHONSTARTUP', 'PYTHONUSERBASE', 'NODE_OPTIONS', 'GOPATH', 'GOBIN', 'CARGO_HOME', 'RUSTUP_HOME', 'PNPM_HOME', 'NVM_DIR', 'VOLTA_HOME',
    'PYENV_ROOT', 'SDKMAN_DIR', 'HISTFILE', 'INPUTRC',
    'USERPROFILE', 'HOMEDRIVE', 'HOMEPATH', 'HOMESHARE', 'APPDATA', 'LOCALAPPDATA', 'PROGRAMDATA', 'ALLUSERSPROFILE', 'PUBLIC',
    'USERDOMAIN', 'USERDOMAIN_ROAMINGPROFILE', 'LOGONSERVER', 'COMPUTERNAME', 'ONEDRIVE', 'ONEDRIVECONSUMER', 'ONEDRIVECOMMERCIAL', 'PSMODULEPATH',
    'SOURCEOSCTL_CONFIG_DIR', 'SOURCEOSCTL_STATE_DIR', 'SOURCEOSCTL_EVIDENCE_DIR', 'SOURCEOSCTL_PROFILE',
  ]
  it.each(IDENTITY)('%s', (name) => {
    expect(hostIdentityEnvReason(name)).toBe('a host identity or location variable')
    expect(hostIdentityEnvReason(name.toLowerCase())).toBe('a host identity or location variable')
  })
  it('an XDG session name must start the variable', () => {
    expect(hostIdentityEnvReason('MY_XDG_SESSION_ID')).toBeNull()
    expect(hostIdentityEnvReason('XDG_SESSION_ID')).toBe('a host location or session variable (XDG)')
  })
})

describe('every substring that marks a secret name', () => {
  it.each(['TOKEN', 'SECRET', 'PASSWORD', 'PASSWD', 'PASSPHRASE', 'CREDENTIAL', 'PRIVATE', 'COOKIE', 'SESSION', 'APIKEY', 'CONNECTION_STRING'])('%s', (sub) => {
    expect(secretEnvReason(`MY${sub}X`)).toBe(`its name contains ${sub}`)
  })
  it.each(['GONOPROXY', 'GONOSUMDB', 'GONOSUMCHECK'])('%s (a Go module pattern list) is not one', (name) => {
    expect(secretEnvReason(name)).toBeNull()
  })
})

describe('a profile with secret or identity variables is refused with the offenders', () => {
  const refusal = (passthrough: string[], set: Record<string, string> = {}): AgentMachineError => {
    try {
      checkProfileEnv({spec: {env: {passthrough, set}}} as never)
    } catch (error) {
      if (error instanceof AgentMachineError) return error
      throw error
    }
    throw new Error('expected a refusal')
  }

  it('identity names in passthrough: POLICY_HOST_IDENTITY_ENV, listing them', () => {
    const e = refusal(['TERM', 'HOME', 'XDG_CONFIG_HOME'])
    expect(e.code).toBe('POLICY_HOST_IDENTITY_ENV')
    expect(e.details).toEqual({offenders: [
      {name: 'HOME', field: 'spec.env.passthrough', why: 'a host identity or location variable'},
      {name: 'XDG_CONFIG_HOME', field: 'spec.env.passthrough', why: 'a host location or session variable (XDG)'},
    ]})
  })

  it('a name that is both (HISTFILE) is refused as a secret; an identity name set to a token is a secret too', () => {
    const both = refusal(['HISTFILE'])
    expect(both.code).toBe('POLICY_SECRET_ENV')
    expect(both.details).toEqual({offenders: [{name: 'HISTFILE', field: 'spec.env.passthrough', why: 'a host socket, session or credential-store variable'}]})
    const set = refusal([], {HOME: `ghp_${'a'.repeat(36)}`})
    expect(set.code).toBe('POLICY_SECRET_ENV')
    expect(set.details).toEqual({offenders: [{name: 'HOME', field: 'spec.env.set', why: 'its value looks like a GitHub token'}]})
  })

  it('identity names may be set to fixed values', () => {
    expect(() => checkProfileEnv({spec: {env: {passthrough: ['TERM'], set: {HOME: '/home/agent', PATH: '/usr/bin'}}}} as never)).not.toThrow()
  })
})

describe('a passthrough value naming the host home directory is refused', () => {
  const run = (value: string, host = fakeHostFacts('linux', {homeDir: '/home/u', env: {}})) => {
    try {
      return passthroughEnv({spec: {env: {passthrough: ['X'], set: {}}}} as never, {...host, env: {X: value}})
    } catch (error) {
      return (error as AgentMachineError).details
    }
  }
  const refused = {offenders: [{name: 'X', why: 'its value names a path in your host home directory'}]}

  it.each(['/home/u', '/home/u/dev', '/opt:/home/u:/x', '/home/u;x', 'x=/home/u\\y'])('%s', (value) => {
    expect(run(value)).toEqual(refused)
  })
  it.each(['/home/user', '/home/u2/x', '/HOME/U', '/home', 'home/u.x'])('%s is not the home', (value) => {
    expect(run(value)).toEqual([['X', value]])
  })
  it('a home written with a trailing slash is the same home; a root home names nothing', () => {
    expect(run('/home/u/x', fakeHostFacts('linux', {homeDir: '/home/u/', env: {}}))).toEqual(refused)
    expect(run('/x', fakeHostFacts('linux', {homeDir: '/', env: {}}))).toEqual([['X', '/x']])
    expect(run('/x', fakeHostFacts('linux', {homeDir: '//', env: {}}))).toEqual([['X', '/x']])
    expect(run('Cx', fakeHostFacts('linux', {homeDir: 'C', env: {}}))).toEqual([['X', 'Cx']])
  })
  it('Windows: either slash, any case', () => {
    const win = fakeHostFacts('windows', {homeDir: 'C:\\Users\\Dev', env: {}})
    for (const v of ['c:/users/dev/x', 'C:\\USERS\\DEV', 'C:\\Users\\Dev;D:\\x']) expect(run(v, win), v).toEqual(refused)
    expect(run('C:\\Users\\Devx', win)).toEqual([['X', 'C:\\Users\\Devx']])
    const winSlash = fakeHostFacts('windows', {homeDir: 'C:/Users/Dev', env: {}})
    expect(run('C:\\Users\\Dev\\x', winSlash)).toEqual(refused)
  })
  it('Windows looks the variable up in any case; elsewhere the exact name only', () => {
    const win = fakeHostFacts('windows', {homeDir: 'C:\\Users\\Dev', env: {}})
    const profile = {spec: {env: {passthrough: ['Term', 'LANG'], set: {}}}} as never
    expect(passthroughEnv(profile, {...win, env: {TERM: 'xterm', LANG: 'C'}})).toEqual([['Term', 'xterm'], ['LANG', 'C']])
    expect(passthroughEnv(profile, {...fakeHostFacts('linux'), env: {TERM: 'xterm', LANG: 'C'}})).toEqual([['LANG', 'C']])
  })
})

describe('exact names refused for what they are, though another rule would refuse them too', () => {
  it.each(['GPG_AGENT_INFO', 'DBUS_SESSION_BUS_ADDRESS', 'DOCKER_HOST', 'CONTAINER_SSHKEY', 'CODEX_HOME', 'CLAUDE_CONFIG_DIR', 'PGPASSFILE', 'SSH_AUTH_SOCK'])('%s', (name) => {
    expect(secretEnvReason(name)).toBe('a host socket, session or credential-store variable')
  })
  it('KEYBINDING, singular or plural, is no key', () => {
    expect(secretEnvReason('KEYBINDING')).toBeNull()
    expect(secretEnvReason('KEYMAP')).toBeNull()
  })
})

describe('more value shapes', () => {
  it('a URL whose scheme ends in a digit or + still carries credentials', () => {
    expect(secretValueShape('s3://AKID:secret@bucket/x')).toBe('a URL with embedded credentials')
    expect(secretValueShape(`s3://${'a'.repeat(20)}@bucket`)).toBe('a URL with embedded credentials')
    expect(secretValueShape('svn+://u:p@host')).toBe('a URL with embedded credentials')
  })
})

describe('host home and lookup edge cases', () => {
  const run = (value: string, host: ReturnType<typeof fakeHostFacts>, env: Record<string, string> = {X: value}) => {
    try {
      return passthroughEnv({spec: {env: {passthrough: ['X'], set: {}}}} as never, {...host, env})
    } catch (error) {
      return (error as AgentMachineError).code
    }
  }
  it('a home written with several trailing slashes is the same home; a two-character home still counts, a one-character one does not', () => {
    expect(run('/home/u/x', fakeHostFacts('linux', {homeDir: '/home/u//', env: {}}))).toBe('POLICY_SECRET_ENV_VALUE')
    expect(run('/u/x', fakeHostFacts('linux', {homeDir: '/u', env: {}}))).toBe('POLICY_SECRET_ENV_VALUE')
    expect(run('C/x', fakeHostFacts('linux', {homeDir: 'C', env: {}}))).toEqual([['X', 'C/x']])
  })
  it('on Windows the exact spelling wins over another case; a missing variable is missing even beside one named "undefined"', () => {
    const win = fakeHostFacts('windows', {homeDir: 'C:\\Users\\Dev', env: {}})
    expect(run('', win, {x: 'lower', X: 'exact'})).toEqual([['X', 'exact']])
    expect(run('', win, {undefined: 'stray'})).toEqual([])
  })
})
