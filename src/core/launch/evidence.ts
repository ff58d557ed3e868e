/**
 * Evidence for a launch: the facts (git state per mount, tool versions) are gathered while the
 * container is created, the record is begun just before it starts, and completed after it ends —
 * also when the launch fails, so an interrupted session leaves an "incomplete" record.
 */
import {createHash} from 'node:crypto'
import {readFileSync} from 'node:fs'
import path from 'node:path'

import type {EvidenceRecord, VerificationInfo} from '../evidence/record.js'
import {packageRoot} from '../util/package-root.js'
import {redactCliArgv, redactPodmanArgv} from '../evidence/redact.js'
import {contentTree, diffTrees, loadDigestCache, saveDigestCache, type ContentTree} from '../evidence/content-hash.js'
import {loadOrCreateSigningKey, signingKeyDir} from '../evidence/signing.js'
import {assertKeyDirOutsideMounts, beginRecord, recordHost, type RecordDraft, type RecordHandle} from '../evidence/store.js'
import type {Runner} from '../exec.js'
import type {HostFacts} from '../host/facts.js'
import {probeTool} from '../host/tools.js'
import {gitFacts} from '../git/state.js'
import {PodmanAdapter} from '../podman/adapter.js'
import {stateDir} from '../profile/location.js'
import type {PreparedLaunch} from './prepare.js'
import {toolVersionInImage} from './tool-version.js'
import {AGENT_HOME} from './container-spec.js'

type Facts = Pick<RecordDraft, 'git' | 'toolVersions' | 'podmanConnection'>

export async function gatherEvidenceFacts(prepared: PreparedLaunch, runner: Runner, host: HostFacts): Promise<Facts> {
  // The launch's own context: `podman version` asks the service behind the launch's connection.
  const podman = new PodmanAdapter(runner, host, {context: prepared.podman})
  const connection = prepared.podman.connection
  const tool = prepared.spec.tool
  const toolEntry = tool ? (prepared.profile.spec.tools as Record<string, {command: string[]} | undefined>)[tool] : undefined
  const [git, client, version, gitTool, nix, toolVersion, connections] = await Promise.all([
    gitStates(prepared, runner),
    // The launch may have asked already; otherwise the same podman the launch uses is asked.
    prepared.podmanVersion ?? probeTool(runner, 'podman', {binary: prepared.podmanBinary}).then((t) => t.version),
    host.platform === 'linux' && !connection ? Promise.resolve(null) : podman.version(),
    probeTool(runner, 'git'),
    probeTool(runner, 'nix'),
    tool && toolEntry
      ? toolVersionInImage({runner, imageId: prepared.image.details.id, tool, stateDir: stateDir(host), probe: prepared.probe?.argv ?? null})
      : Promise.resolve(null),
    // Read once, on the client: the URI behind the connection's name.
    connection ? podman.connectionList() : Promise.resolve(null),
  ])
  const server = version && version.ok ? (version.value.server?.version ?? null) : null
  const listed = connections && connections.ok ? connections.value.find((c) => c.name === connection) : undefined
  return {
    git,
    toolVersions: {
      podman: {client: client ?? 'unknown', server},
      git: gitTool.version,
      nix: nix.version,
      tool: toolVersion,
    },
    ...(connection ? {podmanConnection: {name: connection, uri: listed?.uri ?? null, serverVersion: server}} : {}),
  }
}

/** Git state of each checkout mount (git-internal and write-protect mounts are parts of those, not repos). */
export async function gitStates(prepared: PreparedLaunch, runner: Runner): Promise<Facts['git']> {
  // A remote Podman host's checkouts are on that server: host git would read a local namesake.
  if (prepared.podman.remote) return []
  const checkouts = prepared.spec.mounts.filter((m) => m.role === undefined)
  return Promise.all(checkouts.map(async (m) => ({target: m.target, ...(await gitFacts(runner, m.hostSource))})))
}

export async function beginEvidence(dir: string, prepared: PreparedLaunch, facts: Facts, host: HostFacts, cliArgv: string[], startedAt: Date, verification?: VerificationInfo): Promise<RecordHandle> {
  const create = prepared.containerSteps.create
  const {commandLength, toolArgs} = containerCommand(prepared)
  const verbArgv = cliArgv[0] === 'agent-machine' ? cliArgv : ['agent-machine', prepared.spec.verb, ...cliArgv]
  const pathStyle = prepared.profile.spec.evidence?.paths ?? 'home-relative'
  const mounts = prepared.spec.mounts.map((m) => ({source: m.hostSource, target: m.target, mode: m.mode}))
  // The signing key lives in the state dir, which no mount may reach (signing.ts).
  const keyDir = signingKeyDir(stateDir(host))
  await assertKeyDirOutsideMounts(keyDir, mounts)
  const signing = await loadOrCreateSigningKey(keyDir)
  // What the agent changes: each checkout's content before it starts (content-hash.ts).
  const checkouts = prepared.podman.remote ? [] : prepared.spec.mounts.filter((m) => m.role === undefined)
  // The digests of the last launch (state dir), so only what changed since is read.
  const cacheFile = (folder: string) => path.join(stateDir(host), 'content-hash', `${createHash('sha256').update(folder).digest('hex')}.json`)
  await Promise.all(checkouts.map((m) => loadDigestCache(cacheFile(m.hostSource), m.hostSource)))
  const before = await Promise.all(checkouts.map((m) => treeOrNull(m.hostSource)))
  const stateOf = (tree: ContentTree | null, g: {commit: string | null; ref: string | null} | undefined) => ({
    commit: g?.commit ?? null,
    ref: g?.ref ?? null,
    tree: tree?.tree ?? null,
    files: tree?.files ?? 0,
    truncated: tree === null ? 'could not be read' : tree.truncated,
  })
  const gitOf = (list: ReadonlyArray<{target: string; commit: string | null; ref: string | null}>, target: string) => list.find((g) => g.target === target)
  const handle = await beginRecord(dir, {
    runId: prepared.runId,
    verb: prepared.spec.verb,
    tool: prepared.spec.tool,
    // No secret values (docs/evidence.md, "What a record never holds"): tool arguments and env
    // values are redacted by shape, each with its sha256.
    argv: redactCliArgv(verbArgv, toolArgs),
    startedAt: startedAt.toISOString(),
    mounts,
    image: {ref: prepared.image.ref, id: prepared.image.details.id, digest: prepared.image.details.digest},
    git: facts.git,
    policy: prepared.policy,
    toolVersions: facts.toolVersions,
    host: recordHost(host),
    podmanArgv: redactPodmanArgv(create.argv, {image: prepared.spec.image, commandLength, envSet: {HOME: AGENT_HOME, ...prepared.policy.env.set}}),
    paths: pathStyle === 'absolute' ? {style: 'absolute'} : {style: 'home-relative', homeDir: host.homeDir},
    builder: {id: EVIDENCE_BUILDER_ID, version: cliVersion()},
    resolvedDependencies: [
      {
        name: prepared.image.ref,
        digest: {sha256: prepared.image.details.id.replace(/^sha256:/, '')},
        annotations: {role: 'image', ...(prepared.image.details.digest ? {manifestDigest: prepared.image.details.digest} : {})},
      },
      ...facts.git.filter((g) => g.commit !== null).map((g) => ({name: g.target, digest: {gitCommit: g.commit!}, annotations: {role: 'source', ...(g.ref ? {ref: g.ref} : {})}})),
    ],
    podmanCommands: {init: prepared.containerSteps.init.argv, start: prepared.containerSteps.start.argv},
    workspace: checkouts.map((m, i) => ({target: m.target, before: stateOf(before[i] ?? null, gitOf(facts.git, m.target)), after: null, changes: null})),
    ...(prepared.spec.tool ? {toolSandbox: prepared.image.details.labels[`dev.sourceos.agent-machine.${prepared.spec.tool}.sandbox`] ?? null} : {}),
    ...(prepared.worktree ? {worktree: {...prepared.worktree}} : {}),
    ...(verification ? {verification} : {}),
    ...(facts.podmanConnection ? {podmanConnection: facts.podmanConnection} : {}),
  }, {signing})
  if (checkouts.length === 0) return handle
  const complete = handle.complete.bind(handle)
  const wrapped: RecordHandle = {
    dir: handle.dir,
    runId: handle.runId,
    seq: handle.seq,
    file: handle.file,
    get record() {
      return handle.record
    },
    get digest() {
      return handle.digest
    },
    async complete(update: Parameters<RecordHandle['complete']>[0]) {
      // After the session (the container is gone): the same walk, reading only what changed.
      const after = await Promise.all(checkouts.map((m) => treeOrNull(m.hostSource)))
      await Promise.all(checkouts.map((m) => saveDigestCache(cacheFile(m.hostSource), m.hostSource).catch(() => undefined)))
      const gitAfter = update.git ?? facts.git
      const workspace = checkouts.map((m, i) => {
        const b = before[i] ?? null
        const a = after[i] ?? null
        return {
          target: m.target,
          before: stateOf(b, gitOf(facts.git, m.target)),
          after: stateOf(a, gitOf(gitAfter, m.target)),
          changes: b && a ? diffTrees(b, a) : null,
        }
      })
      return complete({...update, workspace})
    },
  }
  return wrapped
}

async function treeOrNull(folder: string): Promise<ContentTree | null> {
  try {
    return await contentTree(folder)
  } catch {
    return null
  }
}

/** The container command: how much of it is the tool's own command (from the profile), and the arguments after it. */
export function containerCommand(prepared: Pick<PreparedLaunch, 'spec' | 'profile'>): {commandLength: number; toolArgs: string[]} {
  const tool = prepared.spec.tool
  const own = tool ? ((prepared.profile.spec.tools as Record<string, {command: string[]} | undefined>)[tool]?.command ?? []) : ['/bin/sh']
  const prefix = own.every((part, i) => prepared.spec.command[i] === part) ? own.length : 0
  return {commandLength: prefix, toolArgs: prepared.spec.command.slice(prefix)}
}

/** SLSA builder.id of the records this CLI writes. */
export const EVIDENCE_BUILDER_ID = 'https://sourceos.dev/agent-machine/sourceosctl'

let version: string | undefined

/** This CLI's version (package.json). */
export function cliVersion(): string {
  if (version === undefined) {
    try {
      version = String((JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as {version?: unknown}).version ?? 'unknown')
    } catch {
      version = 'unknown'
    }
  }
  return version
}

export type {EvidenceRecord}
