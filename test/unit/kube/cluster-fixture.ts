// A cluster run's record draft (export --kube --play: verb export, predicate.kube), shared by the
// record's tests (kube/cluster-record) and the verifier's (evidence/verify-cluster-contradictions).
import type {KubeRun} from '../../../src/core/evidence/record.js'
import type {RecordDraft} from '../../../src/core/evidence/store.js'
import {EFFECTIVE_POLICY_SCHEMA, type EffectivePolicy} from '../../../src/core/policy/hash.js'
import {sampleDraft} from '../evidence/helpers.js'

export const PIN = 'b'.repeat(40)
export const URL = 'https://git.example/org/app.git'
export const SOURCE = `${URL}#${PIN}`
export const IMAGE_ID = 'd'.repeat(64)
export const PLAY = ['podman', 'kube', 'play', '--quiet', '/tmp/sourceos-kube-x/manifest.yaml']

export const kubePolicy = (): EffectivePolicy => ({
  schema: EFFECTIVE_POLICY_SCHEMA,
  profile: 'team',
  platform: 'linux',
  mounts: [{source: SOURCE, target: '/workspace/app', mode: 'rw'}],
  image: {ref: 'registry.example/agent:1', digest: null, pull: 'missing'},
  tools: [{name: 'codex', enabled: true, command: ['codex']}],
  env: {passthrough: [], set: {}},
  network: {mode: 'allowlist', allow: ['api.openai.com:443'], allowHash: `sha256:${'e'.repeat(64)}`},
  resources: {cpus: 2, memory: '4g', pidsLimit: 1024},
  hardening: {capDrop: 'all', noNewPrivileges: true, readOnlyRoot: true, init: true, userns: 'n/a', envHost: false, httpProxy: false},
  secrets: {door: 'none'},
})

/** The kube section as begun, before the play: no Pod UID, no containers, no bundle yet. */
export const startedKube = (runId: string): KubeRun => ({
  engine: 'podman kube play',
  layout: 'pod',
  pod: {name: `sourceos-agent-${runId}`, uid: null, node: 'node-1'},
  manifestDigest: `sha256:${'1'.repeat(64)}`,
  playedDigest: `sha256:${'2'.repeat(64)}`,
  resourcesApplied: true,
  repo: {url: URL, commit: PIN, clonedCommit: null},
  containers: [],
  bundle: null,
  bundleRefused: null,
})

export function kubeDraft(runId: string): RecordDraft {
  return sampleDraft({
    runId,
    verb: 'export',
    tool: 'codex',
    argv: ['agent-machine', 'export', '--kube', '--repo', URL, '--tool', 'codex', '--play'],
    mounts: [{source: SOURCE, target: '/workspace/app', mode: 'rw'}],
    image: {ref: 'registry.example/agent:1', id: IMAGE_ID, digest: null},
    git: [{target: '/workspace/app', ref: null, commit: PIN, dirty: null}],
    policy: kubePolicy(),
    podmanArgv: PLAY,
    kube: startedKube(runId),
  })
}
