/**
 * `agent-machine export --kube`: the active profile and one repo at a pinned commit → the
 * Kubernetes objects of one run (manifest.ts), with the plan that produced them. The commit is
 * resolved on the host through host git only (git/host-git.ts): `rev-parse` in a local checkout,
 * `ls-remote` for a URL. Nothing here talks to a cluster.
 */
import {realpath, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {requireActiveProfile} from '../active-profile.js'
import {policyRefusal, prerequisiteMissing, unexpectedFailure, usageError} from '../errors.js'
import {describeOutcome, succeeded, type Runner} from '../exec.js'
import {hostGit, hostGitArgv} from '../git/host-git.js'
import type {HostFacts} from '../host/facts.js'
import {effectiveAllowlist, ruleAllows} from '../network/allowlist.js'
import {step, WRITE_FILE, type Plan, type Step} from '../plan/plan.js'
import {checkProfileEnv} from '../policy/env-policy.js'
import {buildEffectivePolicy, enabledTools, policyHash, type EffectivePolicy} from '../policy/hash.js'
import {realFsDeps, resolveMountSource} from '../policy/paths.js'
import {networkMode, type AgentMachineProfile, type ToolName} from '../profile/schema.js'
import {planDoor} from '../secrets/door.js'
import {buildKubeObjects, KUBE_SECRET_KEY, kubeSecretName, serviceHostVar, WORKSPACE, type KubeInput, type KubeLayout, type KubeObject, type KubeRepo} from './manifest.js'
import {renderManifest} from './yaml.js'

export interface KubeExportRequest {
  runner: Runner
  host: HostFacts
  repo: string
  tool?: string | undefined
  args: string[]
  layout: KubeLayout
  job: boolean
  profilePath?: string | undefined
  /** The URL the cluster clones from (a local checkout's origin unless given). */
  cloneUrl?: string | undefined
  /** A commit to pin instead of the checkout's HEAD / the URL's HEAD. */
  commit?: string | undefined
  image?: string | undefined
  cloneImage?: string | undefined
  namespace?: string | undefined
  runId: string
  output?: string | undefined
  cwd?: string
}

export interface KubeExport {
  runId: string
  profile: string
  policyHash: string
  layout: KubeLayout
  job: boolean
  tool: string | null
  repo: KubeRepo
  image: string
  /** What a real cluster must hold that the manifest does not carry (the Secrets Door's Secrets). */
  requires: Array<{kind: 'Secret'; name: string; key: string; create: string}>
  warnings: string[]
  objects: KubeObject[]
  manifest: string
  plan: Plan
  /** What the cluster run's evidence record needs (play.ts): the effective policy, the allowlist the proxy enforces, how paths are written. */
  evidence: KubeEvidenceInput
}

export interface KubeEvidenceInput {
  policy: EffectivePolicy
  allowlist: {entries: string[]; origins: Record<string, string[]>; hash: string}
  paths: 'absolute' | 'home-relative'
  /** The agent's image pull policy in the Pod (Never: the image must already be local). */
  pullPolicy: 'Never' | 'IfNotPresent'
  /** The tool's arguments (after --), redacted in the record's argv. */
  toolArgs: string[]
}

const COMMIT = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/
const PROXY_VARS = new Set(['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'ALL_PROXY', 'NODE_USE_ENV_PROXY'])

/** A git URL (scheme://… or scp-like user@host:path) as opposed to a local folder. */
export function isGitUrl(repo: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(repo) || /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:/.test(repo)
}

/** Where the clone connects: host and port by the URL's scheme; null for file://. Throws on what it cannot judge. */
export function cloneEndpoint(url: string): KubeRepo['endpoint'] {
  const scp = /^[A-Za-z0-9._-]+@([A-Za-z0-9.-]+):/.exec(url)
  if (scp && !url.includes('://')) return {host: scp[1]!.toLowerCase(), port: 22, ip: /^[0-9.]+$/.test(scp[1]!)}
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw usageError('KUBE_CLONE_URL_INVALID', `'${url}' is not a git URL`, 'give an https://, ssh://, git:// or file:// URL (or user@host:path)')
  }
  if (u.username || u.password) {
    if (u.password) throw policyRefusal('KUBE_CLONE_URL_CREDENTIAL', 'the clone URL carries a password or token: it would be written into the manifest', 'give the URL without credentials; see docs/cluster.md for private repos')
  }
  const defaults: Record<string, number> = {'https:': 443, 'http:': 80, 'ssh:': 22, 'git:': 9418}
  if (u.protocol === 'file:') return null
  const port = u.port ? Number(u.port) : defaults[u.protocol]
  if (port === undefined) throw usageError('KUBE_CLONE_URL_INVALID', `unsupported clone URL scheme ${u.protocol}`, 'use https://, ssh://, git:// or file://')
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase()
  return {host, port, ip: /^[0-9.]+$/.test(host) || host.includes(':')}
}

/** The folder name under /workspace: the URL's or checkout's last segment, without .git. */
export function repoName(from: string): string {
  const last = from.replace(/[/\\]+$/, '').split(/[/\\:]/).pop() ?? 'repo'
  const name = last.replace(/\.git$/, '').replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[.-]+/, '')
  return name === '' ? 'repo' : name.slice(0, 100)
}

async function git(runner: Runner, dir: string, args: string[], what: string, fix: string): Promise<{stdout: string; step: Step}> {
  const r = await hostGit(runner, dir, args)
  if (!succeeded(r)) throw prerequisiteMissing('KUBE_GIT_FAILED', `cannot ${what}: ${describeOutcome(r)}${r.stderr ? ` (${r.stderr.trim().split('\n')[0]})` : ''}`, fix)
  return {stdout: r.stdout.trim(), step: step(hostGitArgv(dir, args), what, false)}
}

async function resolveRepo(req: KubeExportRequest, profile: AgentMachineProfile, warnings: string[]): Promise<{repo: KubeRepo; steps: Step[]; localSource: string | null}> {
  const steps: Step[] = []
  if (req.commit !== undefined && !COMMIT.test(req.commit)) throw usageError('KUBE_COMMIT_INVALID', `--commit '${req.commit}' is not a full commit id`, 'give the 40-hex commit id (git rev-parse HEAD)')
  if (isGitUrl(req.repo)) {
    if (req.cloneUrl) throw usageError('KUBE_CLONE_URL_TWICE', '--clone-url is for a local --repo; --repo is already a URL', 'drop --clone-url')
    const url = req.repo
    const endpoint = cloneEndpoint(url)
    let commit = req.commit
    if (!commit) {
      const scheme = url.includes('://') ? url.slice(0, url.indexOf(':')).toLowerCase() : 'ssh'
      // host git allows local paths only: this one call lets the URL's own scheme through
      const r = await git(req.runner, tmpdir(), ['-c', `protocol.${scheme}.allow=always`, 'ls-remote', url, 'HEAD'], `read the HEAD commit of ${url}`, 'check the URL and that this host can read it, or pass --commit <sha>')
      steps.push(r.step)
      commit = /^([0-9a-f]{40}(?:[0-9a-f]{24})?)\s/.exec(r.stdout)?.[1]
      if (!commit) throw prerequisiteMissing('KUBE_COMMIT_UNKNOWN', `${url} has no HEAD commit`, 'pass --commit <sha>')
    }
    warnings.push(`--repo is a URL: no host folder is involved, so the profile's mount allowlist does not apply to it`)
    return {repo: {url, commit, name: repoName(url), endpoint}, steps, localSource: null}
  }
  // a local checkout: it must be allowlisted, as for run/shell
  const deps = realFsDeps(req.cwd)
  const resolved = await resolveMountSource(req.repo, req.host, deps)
  const allowed: string[] = []
  for (const m of profile.spec.mounts) {
    try {
      allowed.push((await resolveMountSource(m.source, req.host, deps)).resolved)
    } catch {
      // a mount that does not resolve allowlists nothing
    }
  }
  const inside = allowed.some((a) => resolved.resolved === a || resolved.resolved.startsWith(a.endsWith(path.sep) ? a : `${a}${path.sep}`))
  if (!inside) throw policyRefusal('KUBE_REPO_NOT_ALLOWLISTED', `${req.repo} is not one of the profile's allowlisted repos`, `allowlist it first: sourceosctl agent-machine repo add ${req.repo}`)
  const dir = await realpath(resolved.resolved)
  const top = await git(req.runner, dir, ['rev-parse', '--show-toplevel'], `find the checkout of ${req.repo}`, 'give a git checkout (git init, or clone it)')
  steps.push(top.step)
  let commit = req.commit
  if (!commit) {
    const head = await git(req.runner, dir, ['rev-parse', '--verify', 'HEAD^{commit}'], `read the HEAD commit of ${req.repo}`, 'commit something first, or pass --commit <sha>')
    steps.push(head.step)
    commit = head.stdout
  }
  let url = req.cloneUrl
  if (!url) {
    const origin = await hostGit(req.runner, dir, ['config', '--get', 'remote.origin.url'])
    steps.push(step(hostGitArgv(dir, ['config', '--get', 'remote.origin.url']), 'read the URL the cluster clones from (origin)', false))
    url = origin.stdout.trim()
    if (!succeeded(origin) || url === '') throw usageError('KUBE_NO_CLONE_URL', `${req.repo} has no origin remote: the cluster cannot clone a folder on this host`, 'pass --clone-url <url the cluster can clone from>, or add an origin remote and push')
  }
  if (!isGitUrl(url)) throw usageError('KUBE_CLONE_URL_INVALID', `the clone URL '${url}' is a local path: the cluster cannot read this host's folders`, 'pass --clone-url with an https://, ssh://, git:// or file:// URL')
  const contains = await hostGit(req.runner, dir, ['branch', '--remotes', '--contains', commit])
  steps.push(step(hostGitArgv(dir, ['branch', '--remotes', '--contains', commit]), 'check that a remote already has the pinned commit', false))
  if (succeeded(contains) && contains.stdout.trim() === '') warnings.push(`no remote-tracking branch contains ${commit.slice(0, 12)}: push it, or the clone will not find it`)
  return {repo: {url, commit, name: repoName(top.stdout), endpoint: cloneEndpoint(url)}, steps, localSource: dir}
}

function toolCommand(profile: AgentMachineProfile, tool: string | undefined): string[] {
  if (tool === undefined) return []
  const tools = profile.spec.tools as Record<string, {enabled: boolean; command: string[]} | undefined>
  const enabled = Object.entries(tools).filter(([, t]) => t?.enabled).map(([n]) => n)
  const entry = Object.hasOwn(tools, tool) ? tools[tool] : undefined
  if (!entry?.enabled) throw policyRefusal('TOOL_DISABLED', `tool '${tool}' is not enabled in profile '${profile.metadata.name}'`, `use one of the enabled tools: ${enabled.join(', ') || 'none'}`)
  return entry.command
}

export async function prepareKubeExport(req: KubeExportRequest): Promise<KubeExport> {
  const warnings: string[] = []
  const {profile} = await requireActiveProfile(req.host, req.profilePath, req.cwd)
  const mode = networkMode(profile.spec.network)
  if (mode !== 'allowlist') {
    throw policyRefusal('KUBE_NETWORK_MODE', `spec.network.mode is ${mode}: the cluster export carries the allowlist's egress proxy only`, 'set spec.network.mode: allowlist in the profile (docs/cluster.md)')
  }
  checkProfileEnv(profile)
  const command = toolCommand(profile, req.tool)
  const {repo, steps} = await resolveRepo(req, profile, warnings)
  const tools = enabledTools(profile.spec)
  const allowlist = effectiveAllowlist(profile.spec.network.allow, tools)
  if (req.layout === 'split' && repo.endpoint && !ruleAllows(allowlist.rules, repo.endpoint.host, repo.endpoint.port)) {
    const entry = repo.endpoint.ip ? `ip:${repo.endpoint.host}:${repo.endpoint.port}` : `${repo.endpoint.host}:${repo.endpoint.port}`
    throw policyRefusal('KUBE_CLONE_NOT_ALLOWED', `layout split clones through the proxy, and ${entry} is not on the allowlist`, `add "${entry}" under spec.network.allow (sourceosctl agent-machine init --allow-host ${entry}), or use --layout pod`)
  }
  const door = planDoor(profile.spec, {networkMode: mode, proxyAddress: req.layout === 'pod' ? '127.0.0.1' : `$(${serviceHostVar(req.runId)})`, enabledTools: tools})
  const env: Array<[string, string]> = []
  for (const [name, value] of Object.entries(profile.spec.env.set)) {
    if (PROXY_VARS.has(name.toUpperCase())) warnings.push(`the profile's ${name} is not passed: the proxy variables point at the run's egress proxy`)
    else if (!(door?.env ?? []).some(([n]) => n === name)) env.push([name, value])
  }
  if (profile.spec.env.passthrough.length > 0) warnings.push(`spec.env.passthrough (${profile.spec.env.passthrough.join(', ')}) is not carried: a Pod has no host environment to copy from`)
  if (profile.spec.secrets.toolState === 'volume') warnings.push('spec.secrets.toolState volume is not carried: the tools\' home is an emptyDir (Memory) for the Pod\'s life')
  const target = `${WORKSPACE}/${repo.name}`
  const policy = buildEffectivePolicy(profile, [{source: `${repo.url}#${repo.commit}`, target, mode: 'rw'}], {rootless: null})
  const hash = policyHash(policy)
  const image = req.image ?? profile.spec.image.ref
  const pullPolicy = req.image ? 'IfNotPresent' : profile.spec.image.pull === 'never' ? 'Never' : 'IfNotPresent'
  if (/^localhost\//.test(image)) warnings.push(`image ${image} is a local name: a cluster pulls from a registry; pass --image <registry ref> (podman kube play finds it in the local store)`)
  const tool = (req.tool ?? null) as ToolName | null
  const input: KubeInput = {
    runId: req.runId,
    profileName: profile.metadata.name,
    policyHash: hash,
    tool,
    command: command.length > 0 ? [...command, ...(tool ? door?.toolArgs[tool] ?? [] : []), ...req.args] : [],
    image,
    pullPolicy,
    cloneImage: req.cloneImage ?? image,
    repo,
    allowlist,
    door,
    env,
    resources: profile.spec.resources,
    layout: req.layout,
    job: req.job,
    namespace: req.namespace,
  }
  if (command.length === 0 && req.args.length > 0) throw usageError('KUBE_ARGS_WITHOUT_TOOL', 'arguments after -- need --tool', 'pass --tool <tool>')
  if (command.length === 0 && req.job) throw usageError('KUBE_JOB_WITHOUT_TOOL', '--job runs a tool to its end: it needs --tool', 'pass --tool <tool>, or drop --job for a Pod to exec into')
  const objects = buildKubeObjects(input)
  const requires = (door?.injections ?? []).map((i) => ({
    kind: 'Secret' as const,
    name: kubeSecretName(i.secret),
    key: KUBE_SECRET_KEY,
    create: `kubectl create secret generic ${kubeSecretName(i.secret)}${req.namespace ? ` --namespace ${req.namespace}` : ''} --from-file=${KUBE_SECRET_KEY}=<file holding the ${i.secret} token>`,
  }))
  const header = [
    `sourceosctl agent-machine export --kube: run ${req.runId}, profile ${profile.metadata.name}, policy ${hash}`,
    `repo ${repo.url} at ${repo.commit}, layout ${req.layout}${req.job ? ' (Job)' : ''}; see docs/cluster.md`,
    ...requires.map((r) => `needs Secret ${r.name}: ${r.create}`),
  ].join('\n')
  const manifest = renderManifest(objects, header)
  const planSteps = [...steps]
  if (req.output) planSteps.push(step([WRITE_FILE, req.output], `write the manifest (${objects.length} objects: ${objects.map((o) => o.kind).join(', ')})`, true))
  return {
    runId: req.runId,
    profile: profile.metadata.name,
    policyHash: hash,
    layout: req.layout,
    job: req.job,
    tool,
    repo,
    image,
    requires,
    warnings,
    objects,
    manifest,
    plan: {verb: 'export --kube', steps: planSteps},
    evidence: {
      policy,
      allowlist: {entries: allowlist.entries, origins: allowlist.origins, hash: allowlist.hash},
      paths: profile.spec.evidence?.paths ?? 'home-relative',
      pullPolicy,
      toolArgs: req.args,
    },
  }
}

/** --output: the manifest as a file (it holds no secret value: the Door's Secrets are referenced by name). */
export async function writeManifest(file: string, manifest: string): Promise<void> {
  try {
    await writeFile(file, manifest, {mode: 0o644})
  } catch (error) {
    throw unexpectedFailure('KUBE_OUTPUT_UNWRITABLE', `cannot write ${file}: ${(error as Error).message}`, 'give a writable path for --output')
  }
}
