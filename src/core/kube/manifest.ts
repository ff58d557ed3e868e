/**
 * The governed agent as Kubernetes objects (docs/cluster.md): the same hardening, egress proxy,
 * Secrets Door and labels as a local launch, rendered from the profile. Pure: data in, plain
 * objects out (yaml.ts prints them; the unit suite validates them with kubernetes-models).
 *
 * Two layouts:
 *   - pod (default): one Pod. Init containers clone the repo at the pinned commit into an emptyDir,
 *     then the egress guard (NET_ADMIN, root, exits before the agent starts) adds a policy-routing
 *     rule that leaves the agent's uid no route but the Pod's own addresses: the agent reaches the
 *     outside only through the proxy on 127.0.0.1, whatever a NetworkPolicy can say (it is per Pod).
 *   - split: the proxy in its own Pod behind a Service, the agent in another; each Pod's
 *     NetworkPolicy enforces the separation, and no container holds NET_ADMIN. Needs a cluster
 *     that enforces NetworkPolicy (a CNI such as Calico or Cilium).
 * The proxy's Squid configuration is the local one (network/squid-config.ts), for the same
 * effective allowlist; only the address it listens on for the Secrets Door differs.
 */
import type {EffectiveAllowlist} from '../network/allowlist.js'
import {BLOCKED_RANGES, PROXY_PORT, renderDeniedPage, renderSquidConfig} from '../network/squid-config.js'
import {sidecarScript} from '../network/sidecar.js'
import {doorSecretPath, doorSquidConfig, type DoorPlan} from '../secrets/door.js'

/** Label and annotation keys: a DNS prefix, as Kubernetes wants (the local labels use dots only). */
export const KUBE_PREFIX = 'dev.sourceos.agent-machine'
export const RUN_ID_KEY = `${KUBE_PREFIX}/run-id`
export const PROFILE_KEY = `${KUBE_PREFIX}/profile`
export const ROLE_KEY = `${KUBE_PREFIX}/role`
export const POLICY_HASH_KEY = `${KUBE_PREFIX}/policy-hash`
export const ALLOWLIST_HASH_KEY = `${KUBE_PREFIX}/allowlist-hash`
export const REPO_URL_KEY = `${KUBE_PREFIX}/repo-url`
export const REPO_COMMIT_KEY = `${KUBE_PREFIX}/repo-commit`
export const TOOL_KEY = `${KUBE_PREFIX}/tool`

/** The agent's fixed uid/gid (the image's `agent` user); the egress guard's rule names this uid. */
export const AGENT_UID = 1000
/** The proxy runs as nobody, as locally. */
export const PROXY_UID = 65534
/** The policy-routing table the guard fills with one unreachable default route. */
export const GUARD_TABLE = 200
export const WORKSPACE = '/workspace'
/**
 * Volumes are mounted where images have no folder (the checkout at /workspace/<name>, results at
 * /sourceos-results): podman copies an image's folder at a mount point into the volume, owner and all.
 */
export const RESULTS_DIR = '/sourceos-results'
export const AGENT_HOME = '/home/agent'

export type KubeLayout = 'pod' | 'split'

export interface KubeRepo {
  /** What the clone init container fetches (never a host path: a URL the cluster reaches). */
  url: string
  /** The pinned commit (40 or 64 hex), resolved on the host. */
  commit: string
  /** The checkout's folder under /workspace. */
  name: string
  /** host:port the clone connects to, or null for a file:// URL (nothing to allow). */
  endpoint: {host: string; port: number; ip: boolean} | null
}

export interface KubeInput {
  runId: string
  profileName: string
  policyHash: string
  tool: string | null
  /** The tool's command plus its arguments (empty: the agent container waits for `kubectl exec`). */
  command: string[]
  image: string
  pullPolicy: 'Never' | 'IfNotPresent' | 'Always'
  /** The image the clone runs in (needs git); the agent image unless given. */
  cloneImage: string
  repo: KubeRepo
  allowlist: EffectiveAllowlist
  /** The door planned for this layout's proxy address (127.0.0.1, or the Service's variable). */
  door: DoorPlan | null
  /** The agent's env from the profile (spec.env.set), without proxy variables. */
  env: Array<[string, string]>
  resources: {cpus: number; memory: string; pidsLimit: number}
  layout: KubeLayout
  job: boolean
  namespace?: string | undefined
}

/** A Kubernetes object as plain data (apiVersion, kind, metadata, …). */
export type KubeObject = Record<string, unknown> & {apiVersion: string; kind: string; metadata: {name: string; [k: string]: unknown}}

export const agentPodName = (runId: string): string => `sourceos-agent-${runId}`
export const proxyPodName = (runId: string): string => `sourceos-proxy-${runId}`
export const policyName = (runId: string, role: string): string => `sourceos-${role}-${runId}`
/** The Kubernetes Secret holding a stored secret's value (created by the operator, never by the manifest). */
export const kubeSecretName = (secret: string): string => `sourceos-secret-${secret.replace(/[_.]/g, '-')}`
export const KUBE_SECRET_KEY = 'value'
/** The environment variable Kubernetes sets for the proxy Service (service links), as $(…) expands it. */
export const serviceHostVar = (runId: string): string => `${proxyPodName(runId).toUpperCase().replace(/-/g, '_')}_SERVICE_HOST`

/** 4g → 4Gi, 512m → 512Mi (Podman's units are binary). */
export function kubeMemory(memory: string): string {
  const m = /^([0-9]+)([bkmg]?)$/i.exec(memory)
  if (!m) throw new Error(`invalid memory '${memory}' (the profile schema refuses it)`)
  const unit = m[2]!.toLowerCase()
  return unit === '' || unit === 'b' ? m[1]! : `${m[1]}${unit.toUpperCase()}i`
}

export const kubeCpu = (cpus: number): string => `${Math.max(1, Math.round(cpus * 1000))}m`

function labels(input: KubeInput, role: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'sourceos-agent',
    'app.kubernetes.io/managed-by': 'sourceosctl',
    [RUN_ID_KEY]: input.runId,
    [PROFILE_KEY]: input.profileName,
    [ROLE_KEY]: role,
  }
}

function annotations(input: KubeInput): Record<string, string> {
  return {
    [RUN_ID_KEY]: input.runId,
    [PROFILE_KEY]: input.profileName,
    [POLICY_HASH_KEY]: input.policyHash,
    [ALLOWLIST_HASH_KEY]: input.allowlist.hash,
    [REPO_URL_KEY]: input.repo.url,
    [REPO_COMMIT_KEY]: input.repo.commit,
    [TOOL_KEY]: input.tool ?? 'shell',
  }
}

function metadata(input: KubeInput, name: string, role: string): KubeObject['metadata'] {
  return {name, ...(input.namespace ? {namespace: input.namespace} : {}), labels: labels(input, role), annotations: annotations(input)}
}

/** Every container: no privilege escalation, no capability, read-only root, the runtime's seccomp profile. */
function hardened(uid: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    runAsUser: uid,
    runAsGroup: uid,
    runAsNonRoot: uid !== 0,
    allowPrivilegeEscalation: false,
    privileged: false,
    readOnlyRootFilesystem: true,
    capabilities: {drop: ['ALL']},
    seccompProfile: {type: 'RuntimeDefault'},
    ...extra,
  }
}

const memoryDir = (name: string): Record<string, unknown> => ({name, emptyDir: {medium: 'Memory'}})

/**
 * The clone: git at the pinned commit into /workspace/<name>, checked, on a branch named after
 * the run. URL and commit arrive in the environment (never spliced into the script); hooks and
 * every protocol but the URL's own are off.
 */
export function cloneScript(): string {
  return [
    'set -eu',
    'umask 022',
    'n=0',
    // the proxy (split layout) or a slow git host: a few attempts, then fail the Pod
    // into the (empty) volume itself: the checkout folder is the mount point
    'until git -c core.hooksPath=/dev/null -c protocol.ext.allow=never -c advice.detachedHead=false clone --quiet --no-checkout -- "$SOURCEOS_REPO_URL" "$SOURCEOS_REPO_DIR"; do n=$((n+1)); [ "$n" -lt 5 ] || exit 1; (cd "$SOURCEOS_REPO_DIR" && rm -rf ./* ./.[!.]* ./..?*); sleep 3; done',
    'git -C "$SOURCEOS_REPO_DIR" -c core.hooksPath=/dev/null -c advice.detachedHead=false checkout --quiet --detach "$SOURCEOS_REPO_COMMIT"',
    'test "$(git -C "$SOURCEOS_REPO_DIR" rev-parse HEAD)" = "$SOURCEOS_REPO_COMMIT"',
    'git -C "$SOURCEOS_REPO_DIR" -c core.hooksPath=/dev/null checkout --quiet -b "$SOURCEOS_RESULT_BRANCH"',
    'echo "sourceosctl: cloned at $SOURCEOS_REPO_COMMIT"',
  ].join('\n')
}

/**
 * The egress guard (layout pod): the agent's uid gets a routing table whose only route is
 * unreachable; the local table (looked up first) still holds 127.0.0.0/8 and the Pod's own
 * addresses, so the proxy on 127.0.0.1 is all the agent can reach. DNS included: no resolver answers.
 */
export function guardScript(uid: number = AGENT_UID): string {
  return [
    'set -eu',
    // iproute2's ip by path: a shell with built-in applets (busybox) would run its own, which lacks uidrange
    'ip=""; for c in /usr/sbin/ip /sbin/ip /usr/bin/ip /bin/ip; do if [ -x "$c" ]; then ip=$c; break; fi; done',
    '[ -n "$ip" ] || { echo "sourceosctl egress guard: no ip (iproute2) in the image" >&2; exit 1; }',
    `"$ip" rule add uidrange ${uid}-${uid} lookup ${GUARD_TABLE} priority 100`,
    `"$ip" route add unreachable default table ${GUARD_TABLE}`,
    // IPv6, where the Pod has it
    `if [ -e /proc/net/if_inet6 ]; then "$ip" -6 rule add uidrange ${uid}-${uid} lookup ${GUARD_TABLE} priority 100; "$ip" -6 route add unreachable default table ${GUARD_TABLE}; fi`,
    `echo "sourceosctl: uid ${uid} can reach only the Pod's own addresses"`,
  ].join('\n')
}

/**
 * The agent's command: the tool, then its work bundled into the results volume (what the CLI or
 * `kubectl cp` takes out; docs/cluster.md). The tool's exit code is the container's.
 */
export function agentScript(): string {
  return [
    // containers of a Pod start together: wait (up to 60 s) until the proxy listens (bash's /dev/tcp, or nc)
    'listening() { if command -v bash >/dev/null 2>&1; then bash -c \'exec 3<>"/dev/tcp/$SOURCEOS_PROXY_HOST/$SOURCEOS_PROXY_PORT"\' 2>/dev/null; else nc -w 2 "$SOURCEOS_PROXY_HOST" "$SOURCEOS_PROXY_PORT" </dev/null >/dev/null 2>&1; fi; }',
    'i=0; until listening; do i=$((i+1)); if [ "$i" -ge 60 ]; then echo "sourceosctl: the egress proxy did not listen within 60 s" >&2; exit 75; fi; sleep 1; done',
    // before the tool runs: the commit it starts from (the clone checked it against the pin)
    'echo "sourceosctl: starting at $(git -C "$SOURCEOS_REPO_DIR" rev-parse HEAD 2>/dev/null)"',
    '"$@"',
    'rc=$?',
    'git -C "$SOURCEOS_REPO_DIR" -c core.hooksPath=/dev/null bundle create --quiet "$SOURCEOS_RESULTS/$SOURCEOS_RUN_ID.bundle" "$SOURCEOS_RESULT_BRANCH" 2>/dev/null || echo "sourceosctl: no result bundle (nothing committed?)" >&2',
    'exit $rc',
  ].join('\n')
}

/** What the agent container runs when no tool is given: nothing, until deleted (`kubectl exec` in). */
const IDLE = ['/bin/sh', '-c', 'trap "exit 0" TERM; while :; do sleep 3600 & wait $!; done']

export const resultBranch = (runId: string): string => `sourceos/${runId}`

function proxyUrl(input: KubeInput): string {
  return input.layout === 'pod' ? `http://127.0.0.1:${PROXY_PORT}` : `http://$(${serviceHostVar(input.runId)}):${PROXY_PORT}`
}

function proxyEnv(input: KubeInput): Array<[string, string]> {
  const url = proxyUrl(input)
  const doorHost = input.layout === 'pod' ? '127.0.0.1' : `$(${serviceHostVar(input.runId)})`
  const noProxy = `localhost,127.0.0.1,::1${input.door ? `,${doorHost}` : ''}`
  return [
    ['HTTP_PROXY', url],
    ['HTTPS_PROXY', url],
    ['NO_PROXY', noProxy],
    ['http_proxy', url],
    ['https_proxy', url],
    ['no_proxy', noProxy],
    ['NODE_USE_ENV_PROXY', '1'],
  ]
}

const envList = (env: ReadonlyArray<readonly [string, string]>): Array<{name: string; value: string}> => env.map(([name, value]) => ({name, value}))

function repoEnv(input: KubeInput): Array<[string, string]> {
  return [
    ['SOURCEOS_RUN_ID', input.runId],
    ['SOURCEOS_REPO_URL', input.repo.url],
    ['SOURCEOS_REPO_COMMIT', input.repo.commit],
    ['SOURCEOS_REPO_DIR', `${WORKSPACE}/${input.repo.name}`],
    ['SOURCEOS_RESULT_BRANCH', resultBranch(input.runId)],
    ['SOURCEOS_RESULTS', RESULTS_DIR],
  ]
}

function proxyHostEnv(input: KubeInput): Array<[string, string]> {
  return [
    ['SOURCEOS_PROXY_HOST', input.layout === 'pod' ? '127.0.0.1' : `$(${serviceHostVar(input.runId)})`],
    ['SOURCEOS_PROXY_PORT', String(PROXY_PORT)],
  ]
}

/** The proxy's listen address for the door: loopback in one Pod, every address behind the Service. */
export function proxyListenAddress(layout: KubeLayout): string {
  return layout === 'pod' ? '127.0.0.1' : '0.0.0.0'
}

export function squidConfigFor(input: Pick<KubeInput, 'allowlist' | 'door' | 'layout'>): string {
  const door = input.door && input.door.injections.length > 0 ? input.door : null
  return renderSquidConfig(input.allowlist, door ? doorSquidConfig(door, proxyListenAddress(input.layout)) : undefined)
}

function proxyContainer(input: KubeInput): Record<string, unknown> {
  const door = input.door && input.door.injections.length > 0 ? input.door : undefined
  return {
    name: 'proxy',
    image: input.image,
    imagePullPolicy: input.pullPolicy,
    command: ['/bin/sh', '-c', sidecarScript(door)],
    env: envList([
      ['SOURCEOS_PROXY_CONF', squidConfigFor(input)],
      ['SOURCEOS_PROXY_DENIED_PAGE', renderDeniedPage(input.profileName)],
    ]),
    ports: [{name: 'proxy', containerPort: PROXY_PORT, protocol: 'TCP'}, ...(door?.injections ?? []).map((i) => ({name: `door-${i.index}`, containerPort: i.doorPort, protocol: 'TCP'}))],
    securityContext: hardened(PROXY_UID),
    resources: {requests: {cpu: '100m', memory: '64Mi'}, limits: {cpu: '1', memory: '256Mi'}},
    readinessProbe: {tcpSocket: {port: PROXY_PORT}, periodSeconds: 2},
    volumeMounts: [
      {name: 'proxy-tmp', mountPath: '/tmp'},
      ...(door?.injections ?? []).map((i) => ({name: `door-${i.index}`, mountPath: doorSecretPath(i.index), subPath: KUBE_SECRET_KEY, readOnly: true})),
      ...(input.layout === 'pod' ? [{name: 'results', mountPath: RESULTS_DIR, readOnly: true}] : []),
    ],
  }
}

function doorVolumes(input: KubeInput): Array<Record<string, unknown>> {
  return (input.door?.injections ?? []).map((i) => ({
    name: `door-${i.index}`,
    secret: {secretName: kubeSecretName(i.secret), defaultMode: 0o400, items: [{key: KUBE_SECRET_KEY, path: KUBE_SECRET_KEY}]},
  }))
}

function cloneContainer(input: KubeInput): Record<string, unknown> {
  return {
    name: 'clone',
    image: input.cloneImage,
    imagePullPolicy: input.pullPolicy,
    command: ['/bin/sh', '-c', cloneScript()],
    env: envList([
      ...repoEnv(input),
      ['HOME', AGENT_HOME],
      ['GIT_TERMINAL_PROMPT', '0'],
      // split layout: the clone too goes out through the proxy (its host is on the allowlist)
      ...(input.layout === 'split' ? proxyEnv(input).filter(([n]) => !n.startsWith('NODE')) : []),
    ]),
    securityContext: hardened(AGENT_UID),
    resources: {requests: {cpu: '100m', memory: '128Mi'}, limits: {cpu: '1', memory: '1Gi'}},
    volumeMounts: [
      {name: 'work', mountPath: `${WORKSPACE}/${input.repo.name}`},
      {name: 'home', mountPath: AGENT_HOME},
      {name: 'tmp', mountPath: '/tmp'},
      // mounted first by the agent's uid: podman gives an emptyDir to the first user that mounts it
      {name: 'results', mountPath: RESULTS_DIR},
    ],
  }
}

function guardContainer(input: KubeInput): Record<string, unknown> {
  return {
    name: 'egress-guard',
    image: input.image,
    imagePullPolicy: input.pullPolicy,
    command: ['/bin/sh', '-c', guardScript()],
    // root with NET_ADMIN over the Pod's network namespace, nothing else, and only until it exits
    securityContext: hardened(0, {capabilities: {drop: ['ALL'], add: ['NET_ADMIN']}}),
    resources: {requests: {cpu: '10m', memory: '16Mi'}, limits: {cpu: '100m', memory: '64Mi'}},
  }
}

function agentContainer(input: KubeInput): Record<string, unknown> {
  const resources = {cpu: kubeCpu(input.resources.cpus), memory: kubeMemory(input.resources.memory)}
  return {
    name: 'agent',
    image: input.image,
    imagePullPolicy: input.pullPolicy,
    command: input.command.length > 0 ? ['/bin/sh', '-c', agentScript(), 'sourceos-agent', ...input.command] : IDLE,
    workingDir: `${WORKSPACE}/${input.repo.name}`,
    env: envList([...input.env, ['HOME', AGENT_HOME], ...repoEnv(input), ...proxyHostEnv(input), ...proxyEnv(input), ...(input.door?.env ?? [])]),
    securityContext: hardened(AGENT_UID),
    resources: {requests: resources, limits: resources},
    volumeMounts: [
      {name: 'work', mountPath: `${WORKSPACE}/${input.repo.name}`},
      {name: 'home', mountPath: AGENT_HOME},
      {name: 'tmp', mountPath: '/tmp'},
      {name: 'results', mountPath: RESULTS_DIR},
    ],
  }
}

/** What every Pod of a run shares: no token, no host namespace, no service links unless needed. */
function podBase(enableServiceLinks: boolean): Record<string, unknown> {
  return {
    automountServiceAccountToken: false,
    enableServiceLinks,
    hostNetwork: false,
    hostPID: false,
    hostIPC: false,
    shareProcessNamespace: false,
    restartPolicy: 'Never',
    terminationGracePeriodSeconds: 10,
    securityContext: {seccompProfile: {type: 'RuntimeDefault'}, fsGroup: AGENT_UID},
  }
}

function agentPodSpec(input: KubeInput): Record<string, unknown> {
  const proxy = proxyContainer(input)
  const inits: Array<Record<string, unknown>> = [cloneContainer(input)]
  const containers: Array<Record<string, unknown>> = [agentContainer(input)]
  if (input.layout === 'pod') {
    inits.push(guardContainer(input))
    // a Job's Pod completes when the agent does: the proxy is a native sidecar there (Kubernetes ≥ 1.29)
    if (input.job) inits.push({...proxy, restartPolicy: 'Always'})
    else containers.push(proxy)
  }
  return {
    ...podBase(input.layout === 'split'),
    initContainers: inits,
    containers,
    volumes: [
      {name: 'work', emptyDir: {}},
      {name: 'results', emptyDir: {}},
      memoryDir('home'),
      memoryDir('tmp'),
      ...(input.layout === 'pod' ? [memoryDir('proxy-tmp'), ...doorVolumes(input)] : []),
    ],
  }
}

function proxyPod(input: KubeInput): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: metadata(input, proxyPodName(input.runId), 'egress-proxy'),
    spec: {...podBase(false), containers: [proxyContainer(input)], volumes: [memoryDir('proxy-tmp'), ...doorVolumes(input)]},
  }
}

function proxyService(input: KubeInput): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(input, proxyPodName(input.runId), 'egress-proxy'),
    spec: {
      type: 'ClusterIP',
      selector: {[RUN_ID_KEY]: input.runId, [ROLE_KEY]: 'egress-proxy'},
      ports: [{name: 'proxy', port: PROXY_PORT, targetPort: PROXY_PORT, protocol: 'TCP'}, ...(input.door?.injections ?? []).map((i) => ({name: `door-${i.index}`, port: i.doorPort, targetPort: i.doorPort, protocol: 'TCP'}))],
    },
  }
}

const V4_BLOCKED = BLOCKED_RANGES.filter((r) => !r.includes(':'))
const V6_BLOCKED = BLOCKED_RANGES.filter((r) => r.includes(':'))

/** Egress to the public internet on one port: NetworkPolicy has no host names, only addresses. */
function publicOnPort(port: number): Record<string, unknown> {
  return {
    to: [{ipBlock: {cidr: '0.0.0.0/0', except: V4_BLOCKED}}, {ipBlock: {cidr: '::/0', except: V6_BLOCKED}}],
    ports: [{protocol: 'TCP', port}],
  }
}

const DNS_RULE = {
  to: [{namespaceSelector: {matchLabels: {'kubernetes.io/metadata.name': 'kube-system'}}, podSelector: {matchLabels: {'k8s-app': 'kube-dns'}}}],
  ports: [{protocol: 'UDP', port: 53}, {protocol: 'TCP', port: 53}],
}

/** The proxy's way out as a NetworkPolicy can say it: DNS, the allowlist's ports on public addresses, its ip: entries exactly. */
export function upstreamEgressRules(input: Pick<KubeInput, 'allowlist' | 'door' | 'repo' | 'layout'>): Array<Record<string, unknown>> {
  const ports = new Set<number>()
  const exact = new Map<string, Set<number>>()
  const addExact = (address: string, port: number): void => {
    const set = exact.get(address) ?? new Set<number>()
    set.add(port)
    exact.set(address, set)
  }
  for (const r of input.allowlist.rules) {
    if (r.kind === 'ip') addExact(r.address, r.port)
    else ports.add(r.port)
  }
  for (const i of input.door?.injections ?? []) {
    if (/^[0-9.]+$|:/.test(i.upstreamHost)) addExact(i.upstreamHost, i.upstreamPort)
    else ports.add(i.upstreamPort)
  }
  // layout pod: the clone runs in the agent's Pod before the guard, straight to the git host
  if (input.layout === 'pod' && input.repo.endpoint) {
    if (input.repo.endpoint.ip) addExact(input.repo.endpoint.host, input.repo.endpoint.port)
    else ports.add(input.repo.endpoint.port)
  }
  return [
    DNS_RULE,
    ...[...ports].sort((a, b) => a - b).map(publicOnPort),
    ...[...exact.entries()].sort().map(([address, set]) => ({
      to: [{ipBlock: {cidr: address.includes(':') ? `${address}/128` : `${address}/32`}}],
      ports: [...set].sort((a, b) => a - b).map((port) => ({protocol: 'TCP', port})),
    })),
  ]
}

function networkPolicy(input: KubeInput, role: string, spec: Record<string, unknown>): KubeObject {
  return {apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: metadata(input, policyName(input.runId, role), `policy-${role}`), spec}
}

function proxyPorts(input: KubeInput): Array<{protocol: string; port: number}> {
  return [{protocol: 'TCP', port: PROXY_PORT}, ...(input.door?.injections ?? []).map((i) => ({protocol: 'TCP', port: i.doorPort}))]
}

/** All objects of one run, in the order `kubectl apply -f` should create them. */
export function buildKubeObjects(input: KubeInput): KubeObject[] {
  if (!/^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$/.test(input.runId)) throw new Error(`run id '${input.runId}' is not a Kubernetes name part`)
  const agentSelector = {matchLabels: {[RUN_ID_KEY]: input.runId, [ROLE_KEY]: 'agent'}}
  const proxySelector = {matchLabels: {[RUN_ID_KEY]: input.runId, [ROLE_KEY]: 'egress-proxy'}}
  const objects: KubeObject[] = []
  if (input.layout === 'pod') {
    // per Pod: the proxy's upstreams; the guard keeps the agent's uid from using them directly
    objects.push(networkPolicy(input, 'agent', {podSelector: agentSelector, policyTypes: ['Ingress', 'Egress'], ingress: [], egress: upstreamEgressRules(input)}))
  } else {
    objects.push(
      networkPolicy(input, 'proxy', {
        podSelector: proxySelector,
        policyTypes: ['Ingress', 'Egress'],
        ingress: [{from: [{podSelector: agentSelector}], ports: proxyPorts(input)}],
        egress: upstreamEgressRules(input),
      }),
      // the agent's Pod: to the proxy and nowhere else, no DNS
      networkPolicy(input, 'agent', {podSelector: agentSelector, policyTypes: ['Ingress', 'Egress'], ingress: [], egress: [{to: [{podSelector: proxySelector}], ports: proxyPorts(input)}]}),
      proxyService(input),
      proxyPod(input),
    )
  }
  const podMeta = metadata(input, agentPodName(input.runId), 'agent')
  const spec = agentPodSpec(input)
  if (input.job) {
    objects.push({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {...podMeta, labels: {...podMeta.labels as Record<string, string>, [ROLE_KEY]: 'agent-job'}},
      spec: {backoffLimit: 0, ttlSecondsAfterFinished: 86_400, template: {metadata: {labels: podMeta.labels, annotations: podMeta.annotations}, spec}},
    })
  } else {
    objects.push({apiVersion: 'v1', kind: 'Pod', metadata: podMeta, spec})
  }
  return objects
}
