/**
 * The evidence record (ARCHITECTURE §6, contract): one in-toto Statement v1 per `shell`/`run`,
 * with the agent-machine predicate. schemas/agent-machine-evidence-record.schema.json is generated
 * from EvidenceRecordSchema.
 *
 * Bytes on disk: `JCS(record) + "\n"` (RFC 8785 canonical JSON, UTF-8, one trailing newline).
 * Record digest: `sha256:` + hex SHA-256 of `JCS(record)` — the file's bytes without the final
 * newline — so `head -c -1 FILE | sha256sum` recomputes it. Pure.
 */
import {z} from 'zod'
import {NetworkEvidenceSchema} from '../network/evidence.js'

import {canonicalJson, EFFECTIVE_POLICY_SCHEMA, type EffectivePolicy} from '../policy/hash.js'
import {sha256Prefixed} from '../util/digest.js'

/** The predicate schema version this CLI writes and the newest it reads. */
export const EVIDENCE_SCHEMA_VERSION = 1
export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1'
export const EVIDENCE_PREDICATE_TYPE = 'https://sourceos.dev/agent-machine/evidence/v1alpha1'
/** Every predicate type of this family starts with this; another version means another CLI release. */
export const EVIDENCE_PREDICATE_FAMILY = 'https://sourceos.dev/agent-machine/evidence/'
export const EVIDENCE_RECORD_SCHEMA_ID = 'https://sourceos.dev/schemas/agent-machine-evidence-record.schema.json'

/** A run id is part of a file name and a container label: UUIDs fit, nothing path-like does. */
export const RUN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/

export const DigestSchema = z
  .string()
  .regex(/^sha256:[0-9a-f]{64}$/, 'expected sha256:<64 lowercase hex>')
  .describe('A digest: "sha256:" then 64 lowercase hex digits.')

// Stryker disable next-line ObjectLiteral: offset: false is zod's default (an offset is refused either way); written out for the reader
const TimestampSchema = z.iso.datetime({offset: false}).describe('RFC 3339 timestamp in UTC (Z suffix).')

const MountSchema = z
  .object({
    source: z.string().min(1).describe('Host path as mounted: expanded, absolute and realpath-resolved; with predicate.paths "home-relative", the home dir is written as ~.'),
    target: z.string().min(1).describe('Path inside the container.'),
    mode: z.enum(['rw', 'ro']).describe('rw: read-write; ro: read-only.'),
  })
  .strict()

/** The EffectivePolicy of src/core/policy/hash.ts as a schema (kept equal to the interface by a type check below). */
export const EffectivePolicySchema = z
  .object({
    schema: z.literal(EFFECTIVE_POLICY_SCHEMA).describe('Identifies the effective-policy format.'),
    profile: z.string().describe('Profile name (metadata.name).'),
    platform: z.enum(['linux', 'macos', 'windows']).describe('Host platform the policy was built for.'),
    mounts: z.array(MountSchema).describe('The allowlisted mounts, resolved, sorted by target then source.'),
    image: z
      .object({
        ref: z.string().describe('Image reference from the profile.'),
        digest: z.string().nullable().describe('Pinned image digest from the profile, or null.'),
        pull: z.enum(['never', 'missing']).describe('Pull policy from the profile.'),
      })
      .strict()
      .describe('The image the profile asks for.'),
    tools: z
      .array(
        z
          .object({
            name: z.string().describe('Tool name (codex, claude-code, …).'),
            enabled: z.boolean().describe('Whether `run --tool` may start it.'),
            command: z.array(z.string()).describe('Command run inside the container.'),
          })
          .strict(),
      )
      .describe('Agent tools, sorted by name.'),
    env: z
      .object({
        passthrough: z.array(z.string()).describe('Host variables passed through, sorted, unique.'),
        set: z.record(z.string(), z.string()).describe('Fixed variables set in the container.'),
      })
      .strict()
      .describe('Environment policy.'),
    network: z
      .object({
        mode: z.enum(['none', 'allowlist', 'open', 'default']).describe('Network mode (`default`: records before the allowlist, now called open).'),
        allow: z.array(z.string()).optional().describe('allowlist: the effective host:port rules (profile and enabled tools), sorted.'),
        allowHash: z.string().optional().describe('allowlist: sha256 of the rules joined by newlines.'),
      })
      .strict()
      .describe('Network policy.'),
    resources: z
      .object({
        cpus: z.number().describe('CPU limit.'),
        memory: z.string().describe('Memory limit.'),
        pidsLimit: z.number().int().describe('Process limit.'),
      })
      .strict()
      .describe('Resource limits.'),
    hardening: z
      .object({
        capDrop: z.literal('all').describe('Every capability is dropped.'),
        noNewPrivileges: z.literal(true).describe('no-new-privileges is set.'),
        readOnlyRoot: z.literal(true).describe('The root file system is read-only.'),
        init: z.literal(true).describe('An init process reaps children and forwards signals.'),
        userns: z.enum(['keep-id', 'host-root', 'n/a']).describe('User namespace mode.'),
        envHost: z.literal(false).describe('The host environment is never copied in.'),
        httpProxy: z.literal(false).describe('Host proxy variables are never copied in.'),
      })
      .strict()
      .describe('Container hardening that is always applied.'),
    secrets: z
      .object({
        door: z.enum(['none', 'proxy']).describe('Secrets Door mode.'),
        inject: z
          .array(
            z
              .object({
                secret: z.string().describe('The stored secret\'s name (never its value).'),
                host: z.string().describe('The upstream the door added it for.'),
                header: z.string().describe('The header it went in.'),
                upstream: z.enum(['https', 'http']).describe('How the door reached the upstream.'),
              })
              .strict(),
          )
          .optional()
          .describe('door proxy: the secrets the door injected, by name, and for which host.'),
        toolState: z.literal('volume').optional().describe('Present when the tools\' home state lived in named volumes (spec.secrets.toolState).'),
        volumes: z.array(z.string()).optional().describe('Those volumes\' names (never their contents).'),
      })
      .strict()
      .describe('Secrets policy.'),
  })
  .strict()
  .describe('The effective policy object itself: policyHash is sha256 over its RFC 8785 canonical JSON.')

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false
// Compile-time guard: the schema and the EffectivePolicy interface must describe the same object.
// Stryker disable next-line BooleanLiteral: checked by tsc only (false does not compile); the value is never read
const policySchemaMatchesInterface: Equals<z.infer<typeof EffectivePolicySchema>, EffectivePolicy> = true
void policySchemaMatchesInterface

export const SubjectSchema = z.union([
  z
    .object({
      name: z.string().min(1).describe('The mount target of the repo inside the container.'),
      digest: z
        .object({gitCommit: z.string().regex(/^[0-9a-f]{40}(?:[0-9a-f]{24})?$/, 'expected a 40- or 64-hex git commit id').describe('The repo HEAD commit.')})
        .strict(),
    })
    .strict()
    .describe('A mounted git repo and its commit.'),
  z
    .object({
      name: z.string().regex(/^run:/).describe('"run:<runId>" when no mounted repo has a git commit.'),
      digest: z.object({sha256: z.string().regex(/^[0-9a-f]{64}$/).describe('SHA-256 of the run id (UTF-8).')}).strict(),
    })
    .strict()
    .describe('Fallback subject when no mounted repo is a git repo, so subject is never empty.'),
])

export const RecordStatusSchema = z
  .enum(['started', 'completed', 'incomplete'])
  .describe(
    'started: written when the session began and not (yet) completed — still running, or the CLI was killed; completed: the session ended and exitCode is the tool’s; incomplete: the CLI ended the session without a tool exit code (e.g. the container failed to start or the CLI was interrupted).',
  )

export const GitStateSchema = z
  .object({
    target: z.string().min(1).describe('Mount target of the repo inside the container.'),
    ref: z.string().nullable().describe('Checked-out branch (e.g. refs/heads/main), or null when detached or unknown.'),
    commit: z.string().nullable().describe('HEAD commit id, or null when the mount is not a git repo or has no commits.'),
    dirty: z.boolean().nullable().describe('True when the work tree has uncommitted changes; null when unknown.'),
  })
  .strict()

export const ImageInfoSchema = z
  .object({
    ref: z.string().min(1).describe('Image reference used.'),
    id: z.string().min(1).describe('Local image ID (podman image inspect .Id).'),
    digest: z.string().nullable().describe('Registry manifest digest (sha256:…), or null for a locally built image.'),
  })
  .strict()

export const ToolVersionsSchema = z
  .object({
    podman: z
      .object({
        client: z.string().describe('podman client version.'),
        server: z.string().nullable().describe('podman server version when remote (machine/VM), else null.'),
      })
      .strict()
      .describe('Podman versions.'),
    git: z.string().nullable().describe('Host git version, null when missing.'),
    nix: z.string().nullable().describe('Host nix version, null when missing.'),
    tool: z.string().nullable().describe('The tool’s own version as read inside the image (cached per image ID); null for shell or when unknown.'),
  })
  .strict()

export const RecordHostSchema = z
  .object({
    platform: z.enum(['linux', 'macos', 'windows']).describe('Host platform.'),
    os: z.string().describe('OS name.'),
    osVersion: z.string().describe('OS version.'),
    arch: z.string().describe('CPU architecture (Node naming: x64, arm64).'),
  })
  .strict()

export const ChainSchema = z
  .object({
    seq: z.number().int().min(1).describe('Position in the evidence dir, in the order sessions began (1, 2, 3, …); also the file name prefix.'),
    prev: DigestSchema.nullable().describe(
      'Digest of record seq-1 as it stood when this record began: its final digest if it had completed by then, else its started digest. null only for seq 1.',
    ),
    startedDigest: DigestSchema.nullable().describe(
      'null while status is "started" (the file is still its started form); once completed, the digest the record had when it was started, so a later record’s prev can be matched to it.',
    ),
  })
  .strict()

export const WorktreeInfoSchema = z
  .object({
    repo: z.string().min(1).describe('The user’s checkout the branch starts from (its top level, realpath-resolved). It is not mounted: only its objects dir is, read-only.'),
    path: z.string().min(1).describe('The agent’s own clone made for this run (under the state dir), mounted in place of the checkout and left for review.'),
    target: z.string().min(1).describe('Where the clone is mounted in the container.'),
    branch: z.string().min(1).describe('The new branch (short name, e.g. agent/codex-20250131-120000): made in the clone, fetched back into the repo after the session.'),
    baseCommit: z.string().regex(/^[0-9a-f]{40}(?:[0-9a-f]{24})?$/, 'expected a 40- or 64-hex git commit id').describe('The commit the branch starts from: the checkout’s HEAD at launch.'),
    commonDir: z
      .string()
      .min(1)
      .describe('The repo’s common git dir. Only <commonDir>/objects is mounted, read-only at the same path (the clone borrows it through objects/info/alternates); no ref of the repo is.'),
  })
  .strict()

const IntegrityFindingSchema = z
  .object({
    path: z.string().describe('Host path of the item (before it was moved).'),
    change: z.enum(['new', 'changed', 'removed']),
    reason: z.string().describe('What it is and why the host must not trust it.'),
    action: z.enum(['quarantine', 'restore', 'report']).describe('quarantine: moved away; restore: moved away and the original put back; report: named only.'),
    quarantinedAt: z.string().nullable().describe('Where it was moved (under the state dir), or null.'),
    error: z.string().optional().describe('Why it could not be moved (it is still in place).'),
  })
  .strict()

export const IntegrityReportSchema = z
  .object({
    findings: z.array(IntegrityFindingSchema).describe('What the agent left that the host’s git or tools would run or trust, and what was done about it.'),
    newWriteProtected: z.array(z.string()).describe('Files of write-protected kinds (.envrc, .vscode/tasks.json, …) that appeared during the session: named, not moved.'),
    quarantineDir: z.string().nullable().describe('The run’s quarantine folder when anything was moved there.'),
  })
  .strict()

export const VerificationSchema = z
  .object({
    method: z
      .enum(['proc-root-inode', 'inspect-paths'])
      .describe(
        'proc-root-inode: podman runs on this host; before start, each mount target was stat’ed through /proc/<pid>/root of the initialized container and matched the device and inode pinned when the source was judged, and /proc/<pid>/mountinfo held only the planned mounts and podman’s system mounts. inspect-paths: podman runs in a VM (macOS, Windows, remote): only the source paths and the configuration podman inspect reports were compared.',
      ),
    via: z.enum(['direct', 'podman-unshare']).nullable().describe('How /proc/<pid> was read (proc-root-inode); null for inspect-paths.'),
    mounts: z
      .array(
        z
          .object({
            target: z.string().min(1).describe('Path inside the container.'),
            dev: z.string().regex(/^[0-9]+$/).describe('Device number (st_dev, decimal) pinned at judgement and seen in the container.'),
            ino: z.string().regex(/^[0-9]+$/).describe('Inode number (st_ino, decimal) pinned at judgement and seen in the container.'),
          })
          .strict(),
      )
      .describe('proc-root-inode: the identity of every mount as the container saw it before start; empty for inspect-paths.'),
    unverified: z.array(z.string()).describe('What this method could not verify (empty for proc-root-inode).'),
  })
  .strict()

/** An in-toto ResourceDescriptor (https://github.com/in-toto/attestation/blob/main/spec/v1/resource_descriptor.md), as used here. */
export const ResourceDescriptorSchema = z
  .object({
    name: z.string().min(1).describe('What it is: the image reference, or the mount target of a repo, or the byproduct’s name.'),
    uri: z.string().optional().describe('Where it is, when there is a stable address.'),
    digest: z.record(z.string(), z.string()).describe('Digests by algorithm: sha256 (hex, no prefix) for the image ID and files, gitCommit for a commit.'),
    annotations: z.record(z.string(), z.string()).optional().describe('role: image | source | byproduct; more facts by name.'),
  })
  .strict()

const TreeStateSchema = z
  .object({
    commit: z.string().nullable().describe('HEAD commit, or null (not a git repo, or unknown).'),
    ref: z.string().nullable().describe('Checked-out branch, or null when detached or unknown.'),
    tree: DigestSchema.nullable().describe('Content tree hash of the folder (src/core/evidence/content-hash.ts: every file but the top .git dir, independent of git’s index and ignore files); null when a limit stopped the walk.'),
    files: z.number().int().min(0).describe('Entries hashed.'),
    truncated: z.string().nullable().describe('Why tree is null, else null.'),
  })
  .strict()

export const WorkspaceChangeSchema = z
  .object({
    target: z.string().min(1).describe('Mount target of the folder.'),
    before: TreeStateSchema.describe('Just before the agent started.'),
    after: TreeStateSchema.nullable().describe('After the session; null while started, or when it could not be read.'),
    changes: z
      .object({
        added: z.array(z.string()).describe('Paths (relative to the folder) that appeared.'),
        modified: z.array(z.string()).describe('Paths whose content, kind or executable bit changed.'),
        removed: z.array(z.string()).describe('Paths that are gone.'),
        omitted: z.number().int().min(0).describe('Paths left out of the lists (at most 500 each).'),
      })
      .strict()
      .nullable()
      .describe('What differs between before and after; null while started.'),
  })
  .strict()

export const BuilderSchema = z
  .object({
    id: z.string().describe('Who wrote the record: the sourceosctl agent-machine CLI.'),
    version: z.string().describe('Its version (package.json).'),
  })
  .strict()

export const PodmanConnectionSchema = z
  .object({
    name: z.string().min(1).describe('The connection every container-side podman call named (`--connection`): the machine’s `<name>`, or `<name>-root` for a rootful machine.'),
    uri: z.string().nullable().describe('Its URI as `podman system connection list` reported it (ssh://…, unix://…); null when the list did not have it or could not be read.'),
    serverVersion: z.string().nullable().describe('The Podman version of the service behind the connection (`podman version` Server), null when unknown.'),
  })
  .strict()

/** How the launch ended (docs/evidence.md, "A launch that fails"). */
export const OutcomeSchema = z
  .object({
    result: z
      .enum(['ran', 'failed', 'interrupted'])
      .describe('ran: the tool started and exitCode is its exit code; failed: the launch failed after the record was begun and before (or while) the tool started, error says why; interrupted: a signal stopped the launch before the tool started.'),
    error: z
      .object({
        code: z.string().min(1).describe('The CLI error code (PODMAN_CREATE_FAILED, MOUNT_SWAPPED, …), or INTERRUPTED.'),
        message: z.string().describe('What went wrong, as the CLI reported it: secret values redacted, home paths as ~ when home-relative.'),
        exitCode: z.number().int().describe('The CLI\'s exit code.'),
      })
      .strict()
      .nullable()
      .describe('Why the launch failed or was interrupted; null when the tool ran.'),
  })
  .strict()

/** One podman command the launch ran. */
export const PodmanRunSchema = z
  .object({
    argv: z.array(z.string()).describe('The argv, starting with the podman executable; env values and the tool\'s arguments redacted like podmanArgv.'),
    exitCode: z.number().int().nullable().describe('Its exit code; null when it was killed, timed out or could not be started.'),
  })
  .strict()

const RefSchema = z
  .object({
    // eslint-disable-next-line no-control-regex
    name: z.string().regex(/^refs\/[^\u0000-\u001f\u007f]{1,1024}$/, 'expected a ref name under refs/').describe('Full ref name (refs/heads/main, refs/tags/v1).'),
    commit: z.string().regex(/^[0-9a-f]{40}(?:[0-9a-f]{24})?$/, 'expected a 40- or 64-hex object id').describe('The object id it points at.'),
  })
  .strict()

const RefListSchema = z
  .object({
    count: z.number().int().min(0).describe('How many refs the repo had.'),
    digest: DigestSchema.describe('sha256 over the sorted lines "<object id> <ref name>\\n" of every ref, so a list cut short still commits to all of them.'),
    refs: z.array(RefSchema).nullable().describe('Every ref, sorted by name; null when there were more than the record keeps (count and digest still cover them).'),
  })
  .strict()

export const UserRefsSchema = z
  .object({
    repo: z.string().min(1).describe('The user\'s checkout (--worktree\'s repo): its refs live in its common git dir, not in the agent\'s clone.'),
    before: RefListSchema.nullable().describe('The refs when the launch began; null when they could not be read (error says why).'),
    after: RefListSchema.nullable().describe('The refs after the session and the bring-back of the agent\'s branch; null while started, or when they could not be read.'),
    changes: z
      .object({
        added: z.array(RefSchema).describe('Refs that appeared (normally exactly the agent\'s branch, brought back).'),
        changed: z
          .array(
            z
              .object({
                name: RefSchema.shape.name,
                before: RefSchema.shape.commit,
                after: RefSchema.shape.commit,
              })
              .strict(),
          )
          .describe('Refs that point elsewhere now.'),
        removed: z.array(RefSchema).describe('Refs that are gone.'),
        omitted: z.number().int().min(0).describe('Changes left out of the lists (at most 500 each).'),
      })
      .strict()
      .nullable()
      .describe('What differs between before and after; null while started or when either side is unknown.'),
    error: z.string().nullable().describe('Why a side could not be read (git failed, or its output was not a ref list), else null.'),
  })
  .strict()

/** One container of a cluster run's Pod as the engine reported it after the run (`podman container inspect`). */
export const KubeContainerSchema = z
  .object({
    name: z.string().min(1).describe('The container\'s name in the Pod (agent, proxy).'),
    imageId: z.string().nullable().describe('The image ID it ran (64 hex), or null when the engine did not say.'),
    user: z.string().describe('The user it ran as (uid:gid).'),
    readOnlyRoot: z.boolean().describe('Whether its root file system was read-only.'),
    noNewPrivileges: z.boolean().describe('Whether no-new-privileges was set.'),
    capAdd: z.array(z.string()).describe('The capabilities it had (effective), sorted; empty when every one was dropped.'),
    privileged: z.boolean().describe('Whether it ran privileged.'),
    seccomp: z.string().describe('Its seccomp profile as the engine named it ("default" when it named none).'),
    exitCode: z.number().int().nullable().describe('Its exit code; null while it ran (the proxy, taken down after the agent).'),
  })
  .strict()

/** `export --kube --play`: what the CLI saw of the Pod it played and watched (docs/cluster.md, "Evidence of a cluster run"). */
export const KubeRunSchema = z
  .object({
    engine: z.string().min(1).describe('What ran the Pod: "podman kube play" (the route built here).'),
    layout: z.enum(['pod', 'split']).describe('The export layout that was played.'),
    pod: z
      .object({
        name: z.string().min(1).describe('The Pod\'s name (sourceos-agent-<runId>).'),
        uid: z.string().nullable().describe('The Pod\'s UID as the engine gave it; null while started, or when the Pod never came up.'),
        node: z.string().describe('The node it ran on (the podman host\'s name).'),
      })
      .strict(),
    manifestDigest: DigestSchema.describe('sha256 of the exported manifest (the YAML `export --kube` prints).'),
    playedDigest: DigestSchema.describe('sha256 of what the engine was given (for podman 4.3: long annotations left out, see docs/cluster.md).'),
    resourcesApplied: z.boolean().describe('false: rootless podman on cgroups v1 played the Pod without its resource limits.'),
    repo: z
      .object({
        url: z.string().min(1).describe('The URL the clone init container cloned from.'),
        commit: z.string().regex(/^[0-9a-f]{40}(?:[0-9a-f]{24})?$/, 'expected a 40- or 64-hex git commit id').describe('The pinned commit.'),
        clonedCommit: z.string().regex(/^[0-9a-f]{40}(?:[0-9a-f]{24})?$/).nullable().describe('The commit the agent started at, as its wrapper reported it; null while started or when it did not say.'),
      })
      .strict(),
    containers: z.array(KubeContainerSchema).describe('The Pod\'s long-running containers after the run (the init containers are gone by then); empty while started.'),
    bundle: z
      .object({
        file: z.string().min(1).describe('The bundle\'s file name beside the evidence dir\'s records (bundles/<runId>.bundle).'),
        digest: DigestSchema.describe('sha256 of its bytes.'),
        bytes: z.number().int().min(0).describe('Its size.'),
        heads: z.array(z.string()).describe('The refs it carries, as host git listed them (`git bundle list-heads`).'),
      })
      .strict()
      .nullable()
      .describe('The agent\'s result bundle, copied out and checked; null when there was none or it was refused (bundleRefused says why).'),
    bundleRefused: z.string().nullable().describe('Why the agent\'s bundle was not kept (too big, not a regular file, not a git bundle); null otherwise.'),
  })
  .strict()

export const EvidencePredicateSchema = z
  .object({
    schemaVersion: z.literal(EVIDENCE_SCHEMA_VERSION).describe('Predicate schema version; a CLI refuses records newer than it reads.'),
    runId: z.string().regex(RUN_ID_PATTERN).describe('Unique id of the session; also a label on its container.'),
    status: RecordStatusSchema,
    verb: z.enum(['run', 'shell', 'export']).describe('The verb that started the session (export: `export --kube --play`, a cluster run; predicate.kube has its Pod).'),
    tool: z.string().nullable().describe('Agent tool run (codex, claude-code, …); null for shell.'),
    argv: z.array(z.string()).describe('The CLI’s own arguments, without node and the script path (e.g. ["agent-machine","run","--tool","codex"]).'),
    startedAt: TimestampSchema.describe('When the session began (RFC 3339, UTC).'),
    finishedAt: TimestampSchema.nullable().describe('When the session ended; null while started.'),
    exitCode: z.number().int().nullable().describe('The tool’s exit code (the CLI’s exit code); null while started, or when incomplete.'),
    mounts: z.array(MountSchema).describe('What the container got: resolved source, target, mode.'),
    image: ImageInfoSchema.describe('The image run.'),
    git: z.array(GitStateSchema).describe('For each mounted repo: git ref, commit and dirty flag.'),
    policyHash: DigestSchema.describe('sha256 over the RFC 8785 canonical JSON of predicate.policy — the same function `fingerprint` uses.'),
    policy: EffectivePolicySchema,
    toolVersions: ToolVersionsSchema.describe('Versions of podman, git, nix and the tool.'),
    host: RecordHostSchema.describe('The host the CLI ran on.'),
    podmanArgv: z.array(z.string()).describe('The exact podman argv run, starting with the podman executable.'),
    chain: ChainSchema.describe('Position in the evidence chain.'),
    toolSandbox: z
      .string()
      .nullable()
      .optional()
      .describe('How the tool is set to run inside this outer sandbox, as the image declares it (label dev.sourceos.agent-machine.<tool>.sandbox, e.g. Codex danger-full-access); null when the image does not say. Absent for shell.'),
    worktree: WorktreeInfoSchema.optional().describe('Only for `--worktree` runs: the worktree and branch made for the session, and what it started from.'),
    verification: VerificationSchema.optional().describe('How the container’s mounts and configuration were verified before the agent started (docs/threat-model.md, “Mount swaps and the effective configuration”). Absent in records of older CLIs.'),
    podmanConnection: PodmanConnectionSchema.optional().describe('Machine profiles: the Podman connection the container ran through, its URI and the server version. Absent for native podman (no connection named) and in records of older CLIs.'),
    builder: BuilderSchema.optional().describe('The CLI that wrote the record (SLSA builder.id and its version). Absent in records of older CLIs.'),
    resolvedDependencies: z
      .array(ResourceDescriptorSchema)
      .optional()
      .describe('SLSA-style inputs, as ResourceDescriptors: the image (name = reference, digest.sha256 = image ID) and each mounted repo’s commit before the session (name = mount target, digest.gitCommit). Absent in records of older CLIs.'),
    podmanCommands: z
      .object({
        init: z.array(z.string()).describe('podman init: sets the container up without starting anything in it.'),
        start: z.array(z.string()).describe('podman start: starts the agent.'),
      })
      .strict()
      .optional()
      .describe('The podman commands after the create in podmanArgv, exactly as run. Absent in records of older CLIs.'),
    workspace: z
      .array(WorkspaceChangeSchema)
      .optional()
      .describe('What the agent changed in each mounted checkout: commit, branch and content tree hash before and after, and the changed paths. The started form already has `before`. Absent in records of older CLIs and for a remote Podman host.'),
    byproducts: z
      .array(ResourceDescriptorSchema)
      .optional()
      .describe('What the session produced besides the record, by digest: the egress proxy’s access log (network allowlist). Absent while started.'),
    paths: z
      .enum(['absolute', 'home-relative'])
      .optional()
      .describe('How host paths are written (profile spec.evidence.paths): home-relative replaces the home dir by ~ everywhere in the predicate, policy included (policyHash is over the policy as written here). Absent: absolute (records of older CLIs).'),
    integrity: IntegrityReportSchema.optional().describe('The after-session integrity check of every read-write mount (docs/threat-model.md); absent while started.'),
    network: NetworkEvidenceSchema.optional().describe('Network egress: the mode, the allowlist and every destination the agent tried, from the egress proxy’s log (docs/network.md); absent while started and in records of older CLIs.'),
    outcome: OutcomeSchema.optional().describe('How the launch ended: the tool ran, the launch failed (why), or a signal stopped it before the tool started. Absent while started and in records of older CLIs.'),
    podmanRan: z
      .array(PodmanRunSchema)
      .optional()
      .describe('Every podman command the launch ran after the record was begun, in the order they started, with its exit code (networks, the proxy, create, init, inspect, start, clean-up). Absent while started and in records of older CLIs.'),
    userRefs: UserRefsSchema.optional().describe('--worktree runs: the refs of the user\'s repo before the launch and after the session (and the bring-back), and what changed. Absent without --worktree and in records of older CLIs.'),
    kube: KubeRunSchema.optional().describe('Cluster runs (verb export, `export --kube --play`): the Pod\'s UID and node, the manifest\'s digest, the pinned and cloned commits, each container\'s settings and image, the result bundle. Absent for run and shell.'),
  })
  .strict()

export const EvidenceRecordSchema = z
  .object({
    _type: z.literal(STATEMENT_TYPE).describe('in-toto Statement v1.'),
    subject: z.array(SubjectSchema).min(1).describe('The mounted repos’ git commits; when none, the SHA-256 of the run id.'),
    predicateType: z.literal(EVIDENCE_PREDICATE_TYPE).describe('The agent-machine evidence predicate, v1alpha1.'),
    predicate: EvidencePredicateSchema.describe('What ran, where, with what, under which policy.'),
  })
  .strict()
  .describe('An agent-machine evidence record: an in-toto Statement v1 written for every `shell` and `run`.')

export type EvidenceRecord = z.infer<typeof EvidenceRecordSchema>
export type EvidencePredicate = z.infer<typeof EvidencePredicateSchema>
export type KubeRun = z.infer<typeof KubeRunSchema>
export type RecordStatus = z.infer<typeof RecordStatusSchema>
export type GitState = z.infer<typeof GitStateSchema>
export type ImageInfo = z.infer<typeof ImageInfoSchema>
export type ToolVersions = z.infer<typeof ToolVersionsSchema>
export type RecordHost = z.infer<typeof RecordHostSchema>
export type RecordMount = z.infer<typeof MountSchema>
export type WorktreeInfo = z.infer<typeof WorktreeInfoSchema>
export type VerificationInfo = z.infer<typeof VerificationSchema>
export type Subject = z.infer<typeof SubjectSchema>
export type PodmanConnectionInfo = z.infer<typeof PodmanConnectionSchema>
export type IntegrityInfo = z.infer<typeof IntegrityReportSchema>
export type ResourceDescriptor = z.infer<typeof ResourceDescriptorSchema>
export type WorkspaceChange = z.infer<typeof WorkspaceChangeSchema>
export type Outcome = z.infer<typeof OutcomeSchema>
export type PodmanRun = z.infer<typeof PodmanRunSchema>
export type UserRefs = z.infer<typeof UserRefsSchema>
export type RefList = z.infer<typeof RefListSchema>

/** The exact file content of a record: JCS + one newline. */
export function serializeRecord(record: EvidenceRecord): string {
  return `${canonicalJson(record)}\n`
}

/** `sha256:` over the UTF-8 bytes of JCS(record), i.e. the file without its trailing newline. */
export function recordDigest(record: unknown): string {
  return sha256Prefixed(canonicalJson(record))
}

/** The subject for a git state list: each repo with a commit, else `run:<runId>` with sha256(runId). */
export function subjectFor(runId: string, git: ReadonlyArray<GitState>): Subject[] {
  const repos = git.filter((g): g is GitState & {commit: string} => g.commit !== null).map((g) => ({name: g.target, digest: {gitCommit: g.commit}}))
  if (repos.length > 0) return repos
  return [{name: `run:${runId}`, digest: {sha256: sha256Prefixed(runId).slice('sha256:'.length)}}]
}
