/**
 * The agent image, owned by the CLI: the Containerfile ships in the package (images/agent), and
 * `start` (or `image build`) builds it into the store the runs use — the same podman context
 * (rootless or rootful, the machine's connection) as every other container-side call.
 *
 * Where no registry is reachable, the Containerfile's base image cannot be pulled: the fix names
 * the offline build (images/agent/build-debootstrap.sh, as root), which loads the result into the
 * invoking user's rootless store too (--for-user, default $SUDO_USER).
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {prerequisiteMissing, type AgentMachineError} from '../errors.js'
import {describeOutcome, succeeded, type Runner} from '../exec.js'
import type {HostFacts} from '../host/facts.js'
import {formatArgv} from '../plan/plan.js'
import {podmanArgv, type PodmanContext} from '../podman/context.js'
import {packageRoot} from '../util/package-root.js'

/** The ref every template in profiles/ uses. */
export const DEFAULT_IMAGE_REF = 'localhost/sourceos/agent:latest'
/** A build downloads Node, Codex and Claude Code: generous. */
export const DEFAULT_BUILD_TIMEOUT_MS = 30 * 60_000

/** images/agent in the installed package (a clone, a global npm install, a user prefix). */
export function agentImageDir(root: string = packageRoot()): string {
  return join(root, 'images', 'agent')
}

/** The Containerfile's `ARG NODE_IMAGE=` default: the base image the build needs. */
export function baseImageOf(containerfile: string): string | null {
  const m = /^ARG NODE_IMAGE=(\S+)\s*$/m.exec(containerfile)
  return m ? m[1]! : null
}

export function readBaseImage(dir: string = agentImageDir()): string | null {
  try {
    return baseImageOf(readFileSync(join(dir, 'Containerfile'), 'utf8'))
  } catch {
    return null
  }
}

/** Only a localhost/ ref is ours to build: a registry ref is pulled, never shadowed by a local build. */
export function buildable(ref: string): boolean {
  return /^localhost(?::\d+)?\//i.test(ref)
}

/** `podman [--connection c] build --file <dir>/Containerfile --tag <ref> <dir>` in the context runs use. */
export function buildArgv(ctx: Pick<PodmanContext, 'binary' | 'connection'>, ref: string, dir: string = agentImageDir()): string[] {
  return podmanArgv(ctx, ['build', '--file', join(dir, 'Containerfile'), '--tag', ref, dir])
}

/** The command that builds without a registry, as root, and loads the image into the user's store. */
export function offlineBuildCommand(ref: string, opts: {root?: string; rootless: boolean | null}): string {
  const script = join(opts.root ?? packageRoot(), 'images', 'agent', 'build-debootstrap.sh')
  // Run through sudo by a normal user, it loads the image into that user's rootless store too.
  return opts.rootless === false ? `${script} --tag ${ref}` : `sudo ${script} --tag ${ref}`
}

/**
 * One sentence naming how to get the image: build (start/image build), or offline. With a machine
 * (a connection), the offline image is loaded through that connection: the VM's store is not the host's.
 */
export function imageFix(ref: string, opts: {rootless: boolean | null; root?: string; connection?: string | null}): string {
  if (!buildable(ref)) return `pull it (\`podman pull ${ref}\`), or set image.pull: missing in the profile to let \`sourceosctl agent-machine start\` pull it`
  const offline = opts.connection
    ? `\`podman save -o agent.tar ${ref}\` where it was built, then \`podman --connection ${opts.connection} load -i agent.tar\``
    : `\`${offlineBuildCommand(ref, opts)}\``
  return `run \`sourceosctl agent-machine start\` (it builds ${ref} from the Containerfile shipped with sourceosctl${opts.connection ? `, in connection ${opts.connection}` : ''}); without registry access: ${offline}`
}

export interface BuildOutcome {
  ok: boolean
  durationMs: number
  /** The last lines of podman's output when it failed. */
  tail: string
}

/** Runs the build (argv from buildArgv); never throws: the caller turns a failure into buildFailed(). */
export async function runBuild(runner: Runner, argv: readonly string[], timeoutMs: number = DEFAULT_BUILD_TIMEOUT_MS): Promise<BuildOutcome & {message: string}> {
  const [command, ...args] = argv
  const result = await runner(command as string, args, {timeoutMs})
  const tail = `${result.stdout}\n${result.stderr}`.trim().split('\n').slice(-15).join('\n')
  return {ok: succeeded(result), durationMs: result.durationMs, tail, message: describeOutcome(result)}
}

/** A failed build: why (a base image no registry could give is the usual cause here), and the offline fix. */
export function buildFailed(ref: string, argv: readonly string[], outcome: {tail: string; message: string}, opts: {host: HostFacts; rootless: boolean | null; baseImage: string | null}): AgentMachineError {
  const noRegistry = /pinging container registry|no such host|dial tcp|connection refused|i\/o timeout|TLS handshake|initializing source/i.test(outcome.tail)
  const base = opts.baseImage ?? 'the base image'
  const why = noRegistry
    ? `its base image ${base} could not be pulled (no registry reachable)`
    : (outcome.tail.split('\n').filter(Boolean).pop() ?? outcome.message)
  return prerequisiteMissing(
    'IMAGE_BUILD_FAILED',
    `building ${ref} failed: ${why}.`,
    noRegistry
      ? `build it without a registry, from Debian packages: \`${offlineBuildCommand(ref, {rootless: opts.rootless})}\` (as root; it also loads the image into your rootless store), or \`podman load\` ${base} from a machine with registry access and run start again`
      : `run it yourself to see the whole output: \`${formatArgv(argv)}\``,
    {ref, buildCommand: formatArgv(argv), baseImage: opts.baseImage, output: outcome.tail},
  )
}

// ---------------------------------------------------------------------------------------------
// `image ls`: the agent images in the store the runs use

export interface ListedImage {
  names: string[]
  id: string
  created: string | null
  sizeBytes: number | null
  /** Whether the profile's ref names it. */
  profileImage: boolean
}

interface RawListed {
  Id?: string
  Names?: string[] | null
  Size?: number
  CreatedAt?: string
  Labels?: Record<string, string> | null
}

/** The repository part of a ref (`localhost/sourceos/agent:latest` → `localhost/sourceos/agent`). */
export function repositoryOf(ref: string): string {
  const at = ref.indexOf('@')
  const noDigest = at >= 0 ? ref.slice(0, at) : ref
  const colon = noDigest.lastIndexOf(':')
  return colon > noDigest.lastIndexOf('/') ? noDigest.slice(0, colon) : noDigest
}

/**
 * From `podman images --format json`: the images of the profile ref's repository and any image
 * carrying the agent image's labels (a build of images/agent under another name).
 */
export function agentImagesOf(json: string, profileRef: string): ListedImage[] {
  const raw = JSON.parse(json || '[]') as RawListed[] | null
  const repo = repositoryOf(profileRef)
  const out: ListedImage[] = []
  for (const r of raw ?? []) {
    const names = r.Names ?? []
    const labelled = Boolean(r.Labels && 'dev.sourceos.agent-machine.codex.version' in r.Labels)
    if (!labelled && !names.some((n) => repositoryOf(n) === repo)) continue
    out.push({
      names,
      id: (r.Id ?? '').replace(/^sha256:/, ''),
      created: r.CreatedAt ?? null,
      sizeBytes: typeof r.Size === 'number' ? r.Size : null,
      profileImage: names.includes(profileRef),
    })
  }
  return out
}

export function imagesArgv(ctx: Pick<PodmanContext, 'binary' | 'connection'>): string[] {
  return podmanArgv(ctx, ['images', '--format', 'json'])
}
