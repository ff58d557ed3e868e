/**
 * Evidence for a launch: the facts (git state per mount, tool versions, --worktree's user refs) are
 * gathered while the host steps run; the record is begun before the launch's first podman command
 * that creates anything, and completed when the session ends — also when the launch fails or is
 * interrupted before the tool starts (outcome failed/interrupted, status incomplete), with every
 * podman command that ran (docs/evidence.md, "A launch that fails").
 */
import {createHash} from 'node:crypto'
import {readFileSync} from 'node:fs'
import path from 'node:path'

import type {EvidenceRecord, Outcome, PodmanRun} from '../evidence/record.js'
import {packageRoot} from '../util/package-root.js'
import {redactCliArgv, redactedValue, redactPodmanArgv, redactValuesIn, secretValuesOf} from '../evidence/redact.js'
import {readUserRefs, userRefsAfter, userRefsBefore, type RefReading} from '../evidence/user-refs.js'
import {contentTree, diffTrees, loadDigestCache, saveDigestCache, type ContentTree} from '../evidence/content-hash.js'
import {loadOrCreateSigningKey, signingKeyDir} from '../evidence/signing.js'
import {assertKeyDirOutsideMounts, beginRecord, recordHost, type CompletionUpdate, type RecordDraft, type RecordHandle} from '../evidence/store.js'
import type {AttachedRunner, Runner} from '../exec.js'
import type {HostFacts} from '../host/facts.js'
import {gitFactsOf} from '../git/state.js'
import {PodmanAdapter} from '../podman/adapter.js'
import {stateDir} from '../profile/location.js'
import type {PreparedLaunch} from './prepare.js'
import {hostToolVersion, toolVersionInImage} from './tool-version.js'
import {AGENT_HOME} from './container-spec.js'
import {trace} from '../util/trace.js'

type Facts = Pick<RecordDraft, 'git' | 'toolVersions' | 'podmanConnection'> & {
  /** --worktree: the user's refs as the launch began. */
  userRefs?: RefReading
}

/**
 * Read-only facts, gathered beside the host steps. The tool-version probe (a `podman run`) is not
 * among them: it creates a container, so it runs only once the record is begun (beginEvidence).
 */
export async function gatherEvidenceFacts(prepared: PreparedLaunch, runner: Runner, host: HostFacts): Promise<Facts> {
  // The launch's own context: `podman version` asks the service behind the launch's connection.
  const podman = new PodmanAdapter(runner, host, {context: prepared.podman})
  const connection = prepared.podman.connection
  const tool = prepared.spec.tool
  const toolEntry = tool ? (prepared.profile.spec.tools as Record<string, {command: string[]} | undefined>)[tool] : undefined
  const state = stateDir(host)
  const refsRead = prepared.worktree ? readUserRefs(runner, prepared.worktree.repo) : Promise.resolve(undefined)
  const [git, client, version, gitTool, nix, toolVersion, connections] = await Promise.all([
    gitStates(prepared, runner),
    // The launch may have asked already; otherwise the same podman the launch uses is asked (or its cached answer: tool-version.ts).
    prepared.podmanVersion ?? hostToolVersion({runner, tool: 'podman', binary: prepared.podmanBinary, stateDir: state}),
    host.platform === 'linux' && !connection ? Promise.resolve(null) : podman.version(),
    hostToolVersion({runner, tool: 'git', stateDir: state}),
    hostToolVersion({runner, tool: 'nix', stateDir: state}),
    // the cache only: the probe runs after the record is begun
    tool && toolEntry ? toolVersionInImage({runner, imageId: prepared.image.details.id, tool, stateDir: state, probe: null}) : Promise.resolve(null),
    // Read once, on the client: the URI behind the connection's name.
    connection ? podman.connectionList() : Promise.resolve(null),
  ])
  const userRefs = await refsRead
  const server = version && version.ok ? (version.value.server?.version ?? null) : null
  const listed = connections && connections.ok ? connections.value.find((c) => c.name === connection) : undefined
  return {
    git,
    toolVersions: {
      podman: {client: client ?? 'unknown', server},
      git: gitTool,
      nix,
      tool: toolVersion,
    },
    ...(connection ? {podmanConnection: {name: connection, uri: listed?.uri ?? null, serverVersion: server}} : {}),
    ...(userRefs ? {userRefs} : {}),
  }
}

/** Git state of each checkout mount (git-internal and write-protect mounts are parts of those, not repos). */
export async function gitStates(prepared: PreparedLaunch, runner: Runner): Promise<Facts['git']> {
  // A remote Podman host's checkouts are on that server: host git would read a local namesake.
  if (prepared.podman.remote) return []
  const checkouts = prepared.spec.mounts.filter((m) => m.role === undefined)
  // a few git processes for all of them (git/state.ts gitFactsOf), each repo's facts as gitFacts gives them
  const facts = await gitFactsOf(runner, checkouts.map((m) => m.hostSource))
  return checkouts.map((m, i) => ({target: m.target, ...facts[i]!}))
}

/** What launch.ts hands over when the session ends; the evidence adds the rest (workspace, refs, podman commands). */
export type LaunchCompletion = Pick<CompletionUpdate, 'exitCode' | 'finishedAt' | 'git' | 'integrity' | 'network' | 'verification' | 'outcome' | 'byproducts'>

export interface LaunchEvidence {
  readonly file: string
  readonly handle: RecordHandle
  /**
   * The session is over and its plants are quarantined: the checkouts' content after it may be
   * read now, beside the git reads and the egress teardown (complete() waits for it; without this
   * call complete() reads it itself). Never before the integrity check: what it moves away must
   * not be in the record.
   */
  afterSession(): void
  complete(update: LaunchCompletion): Promise<void>
}

/**
 * Begins the record (status started) before the launch's first podman command that creates
 * anything: everything known then (the plan, the image, the policy, each checkout's content and
 * git state, --worktree's user refs). What is known only later — the verification, the tool's
 * version when it is not cached yet, how it ended and the podman commands that ran — goes into the
 * final form.
 */
export async function beginEvidence(
  dir: string,
  prepared: PreparedLaunch,
  facts: Facts,
  host: HostFacts,
  cliArgv: string[],
  startedAt: Date,
  opts: {runner: Runner; podmanLog?: PodmanLog},
): Promise<LaunchEvidence> {
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
  // --worktree: the clone was made by the host steps, after the facts began: read its git state now.
  const [before, git] = await Promise.all([Promise.all(checkouts.map((m) => treeOrNull(m.hostSource))), prepared.worktree ? gitStates(prepared, opts.runner) : Promise.resolve(facts.git)])
  trace('evidence: signing key and checkouts before read')
  const stateOf = (tree: ContentTree | null, g: {commit: string | null; ref: string | null} | undefined) => ({
    commit: g?.commit ?? null,
    ref: g?.ref ?? null,
    tree: tree?.tree ?? null,
    files: tree?.files ?? 0,
    truncated: tree === null ? 'could not be read' : tree.truncated,
  })
  const gitOf = (list: ReadonlyArray<{target: string; commit: string | null; ref: string | null}>, target: string) => list.find((g) => g.target === target)
  const envSet = {HOME: AGENT_HOME, ...prepared.policy.env.set}
  const startedRefs = facts.userRefs && prepared.worktree ? userRefsBefore(prepared.worktree.repo, facts.userRefs) : undefined
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
    git,
    policy: prepared.policy,
    toolVersions: facts.toolVersions,
    host: recordHost(host),
    podmanArgv: redactPodmanArgv(create.argv, {image: prepared.spec.image, commandLength, envSet}),
    paths: pathStyle === 'absolute' ? {style: 'absolute'} : {style: 'home-relative', homeDir: host.homeDir},
    builder: {id: EVIDENCE_BUILDER_ID, version: cliVersion()},
    resolvedDependencies: [
      {
        name: prepared.image.ref,
        digest: {sha256: prepared.image.details.id.replace(/^sha256:/, '')},
        annotations: {role: 'image', ...(prepared.image.details.digest ? {manifestDigest: prepared.image.details.digest} : {})},
      },
      ...git.filter((g) => g.commit !== null).map((g) => ({name: g.target, digest: {gitCommit: g.commit!}, annotations: {role: 'source', ...(g.ref ? {ref: g.ref} : {})}})),
    ],
    podmanCommands: {init: prepared.containerSteps.init.argv, start: prepared.containerSteps.start.argv},
    workspace: checkouts.map((m, i) => ({target: m.target, before: stateOf(before[i] ?? null, gitOf(git, m.target)), after: null, changes: null})),
    ...(prepared.spec.tool ? {toolSandbox: prepared.image.details.labels[`dev.sourceos.agent-machine.${prepared.spec.tool}.sandbox`] ?? null} : {}),
    ...(prepared.worktree ? {worktree: {...prepared.worktree}} : {}),
    ...(facts.podmanConnection ? {podmanConnection: facts.podmanConnection} : {}),
    ...(startedRefs ? {userRefs: startedRefs} : {}),
  }, {signing})
  trace('evidence: record begun')
  // The tool's version, when the cache did not have it: the planned probe runs now, beside the launch.
  const tool = prepared.spec.tool
  const probe = tool && facts.toolVersions.tool === null && prepared.probe
    ? toolVersionInImage({runner: opts.runner, imageId: prepared.image.details.id, tool, stateDir: stateDir(host), probe: prepared.probe.argv}).catch(() => null)
    : null
  let done = false
  // After the session (the container is gone): the same walk, reading only what changed.
  let afterTrees: Promise<Array<ContentTree | null>> | undefined
  const walkAfter = () => (afterTrees ??= Promise.all(checkouts.map((m) => treeOrNull(m.hostSource))))
  return {
    file: handle.file,
    handle,
    afterSession() {
      void walkAfter()
    },
    async complete(update) {
      if (done) return
      done = true
      const [after, refsAfter, toolVersion] = await Promise.all([
        walkAfter(),
        startedRefs && prepared.worktree ? readUserRefs(opts.runner, prepared.worktree.repo) : Promise.resolve(undefined),
        probe ?? Promise.resolve(null),
      ])
      trace('evidence: checkouts after read')
      // the digests for the next launch (a cache: written beside the record, not before it)
      const cached = Promise.all(checkouts.map((m) => saveDigestCache(cacheFile(m.hostSource), m.hostSource).catch(() => undefined)))
      const gitAfter = update.git ?? git
      const workspace = checkouts.map((m, i) => {
        const b = before[i] ?? null
        const a = after[i] ?? null
        return {
          target: m.target,
          before: stateOf(b, gitOf(git, m.target)),
          after: stateOf(a, gitOf(gitAfter, m.target)),
          changes: b && a ? diffTrees(b, a) : null,
        }
      })
      const ran = opts.podmanLog?.entries()
      try {
        await handle.complete({
          ...update,
          // no tool exit code when the tool never ran (the CLI's own exit code is in outcome.error)
          ...(update.outcome && update.outcome.result !== 'ran' ? {exitCode: null, status: 'incomplete' as const} : {}),
          ...(checkouts.length > 0 ? {workspace} : {}),
          ...(toolVersion ? {toolVersions: {...facts.toolVersions, tool: toolVersion}} : {}),
          ...(startedRefs && refsAfter ? {userRefs: userRefsAfter(startedRefs, refsAfter)} : {}),
          ...(ran ? {podmanRan: ran} : {}),
        })
      } finally {
        await cached
      }
    },
  }
}

/**
 * The podman commands a launch runs, as the evidence records them: the runners handed to
 * executeLaunch note each podman call (argv and exit code) in the order they start. Redacted like
 * podmanArgv: the create is recorded exactly as podmanArgv, every other argv with its env values
 * redacted, and any secret value of the create (env, tool arguments) wherever it appears.
 */
export interface PodmanLog {
  runner: Runner
  attachedRunner: AttachedRunner
  entries(): PodmanRun[]
  /** Whether exactly this argv ran (as run, before redaction). */
  ran(argv: readonly string[]): boolean
  /** Free text (an error message) with the launch's secret values redacted. */
  redact(text: string): string
}

export function podmanLog(prepared: PreparedLaunch, runner: Runner, attachedRunner: AttachedRunner): PodmanLog {
  const binary = prepared.podman.binary
  const isPodman = (command: string) => command === binary || path.basename(command) === 'podman'
  const log: Array<{argv: string[]; exitCode: number | null}> = []
  const create = prepared.containerSteps.create.argv
  const {commandLength} = containerCommand(prepared)
  const envSet = {HOME: AGENT_HOME, ...prepared.policy.env.set}
  const secrets = secretValuesOf(create, {image: prepared.spec.image, commandLength, envSet})
  const redact = (text: string) => redactValuesIn(text, secrets)
  // in an argv, only a whole element that is a secret value: a value like "podman" must not rewrite every command
  const secretSet = new Set(secrets)
  const redactElement = (arg: string) => (secretSet.has(arg) ? redactedValue(arg) : arg)
  const note = (command: string, args: readonly string[]) => {
    const entry = {argv: [command, ...args], exitCode: null as number | null}
    log.push(entry)
    return entry
  }
  return {
    runner: async (command, args, options) => {
      if (!isPodman(command)) return runner(command, args, options)
      const entry = note(command, args)
      const result = await runner(command, args, options)
      entry.exitCode = result.timedOut || result.notFound ? null : result.exitCode
      return result
    },
    attachedRunner: async (command, args, options) => {
      if (!isPodman(command)) return attachedRunner(command, args, options)
      const entry = note(command, args)
      const result = await attachedRunner(command, args, options)
      entry.exitCode = result.exitCode
      return result
    },
    entries: () =>
      log.map((e) => ({
        argv: e.argv.length === create.length && e.argv.every((a, i) => a === create[i])
          ? redactPodmanArgv(e.argv, {image: prepared.spec.image, commandLength, envSet})
          : redactPodmanArgv(e.argv, {envSet}).map((arg, i) => (i === 0 ? arg : redactElement(arg))),
        exitCode: e.exitCode,
      })),
    ran: (argv) => log.some((e) => e.argv.length === argv.length && e.argv.every((a, i) => a === argv[i])),
    redact,
  }
}

/** The outcome of a launch that threw: its code, message (secret values redacted) and exit code. */
export function failedOutcome(error: unknown, log: PodmanLog | undefined): Outcome {
  const e = error as {code?: unknown; message?: unknown; exitCode?: unknown}
  const message = typeof e?.message === 'string' ? e.message : String(error)
  return {
    result: 'failed',
    error: {
      code: typeof e?.code === 'string' && e.code !== '' ? e.code : 'UNEXPECTED',
      message: (log ? log.redact(message) : message).slice(0, 4000),
      exitCode: typeof e?.exitCode === 'number' && Number.isInteger(e.exitCode) ? e.exitCode : 1,
    },
  }
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
