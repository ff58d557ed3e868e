import {describe, expect, it} from 'vitest'
import {parseAllDocuments} from 'yaml'
import {Pod, Service} from 'kubernetes-models/v1'
import {Job} from 'kubernetes-models/batch/v1'
import {NetworkPolicy} from 'kubernetes-models/networking.k8s.io/v1'

import {effectiveAllowlist} from '../../../src/core/network/allowlist.js'
import {planEgress} from '../../../src/core/network/sidecar.js'
import {BLOCKED_RANGES} from '../../../src/core/network/squid-config.js'
import {planDoor} from '../../../src/core/secrets/door.js'
import type {AgentMachineProfile} from '../../../src/core/profile/schema.js'
import {
  AGENT_UID,
  buildKubeObjects,
  guardScript,
  kubeCpu,
  kubeMemory,
  kubeSecretName,
  POLICY_HASH_KEY,
  RUN_ID_KEY,
  serviceHostVar,
  squidConfigFor,
  type KubeInput,
  type KubeObject,
} from '../../../src/core/kube/manifest.js'
import {renderManifest} from '../../../src/core/kube/yaml.js'
import {containerFacts, ELIDED_KEY, forPodman43, limitsApply, playedVolumes} from '../../../src/core/kube/play.js'

const RUN = 'a1b2c3d4e5f60718'
const COMMIT = '0123456789abcdef0123456789abcdef01234567'
const HASH = `sha256:${'ab'.repeat(32)}`

type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

function spec(door: boolean): AgentMachineProfile['spec'] {
  return {
    platform: 'linux',
    image: {ref: 'localhost/sourceos/agent:latest', digest: null, pull: 'never'},
    mounts: [],
    tools: {codex: {enabled: true, command: ['codex']}},
    env: {passthrough: [], set: {}},
    network: {mode: 'allowlist', allow: ['registry.npmjs.org', '*.githubusercontent.com', 'ip:203.0.113.7:8080'], proxy: 'per-run'},
    resources: {cpus: 2, memory: '4g', pidsLimit: 512},
    secrets: door ? {door: 'proxy', inject: [{secret: 'openai', host: 'api.openai.com', header: 'Authorization', format: 'Bearer {value}'}]} : {door: 'none'},
  }
}

function input(over: Partial<KubeInput> = {}, door = false): KubeInput {
  const s = spec(door)
  const layout = over.layout ?? 'pod'
  return {
    runId: RUN,
    profileName: 'team',
    policyHash: HASH,
    tool: 'codex',
    command: ['codex', 'exec', 'fix the tests'],
    image: 'registry.example/sourceos/agent:1',
    pullPolicy: 'IfNotPresent',
    cloneImage: 'registry.example/sourceos/agent:1',
    repo: {url: 'https://git.example.com/org/repo.git', commit: COMMIT, name: 'repo', endpoint: {host: 'git.example.com', port: 443, ip: false}},
    allowlist: effectiveAllowlist(s.network.allow, ['codex']),
    door: planDoor(s, {networkMode: 'allowlist', proxyAddress: layout === 'pod' ? '127.0.0.1' : `$(${serviceHostVar(RUN)})`, enabledTools: ['codex']}),
    env: [['LANG', 'C.UTF-8']],
    resources: s.resources,
    layout,
    job: false,
    ...over,
  }
}

/** Every object validated against the Kubernetes API schemas (kubernetes-models). */
function validate(objects: KubeObject[]): void {
  for (const o of objects) {
    const model = {Pod, Service, Job, NetworkPolicy}[o.kind as 'Pod']
    expect(model, o.kind).toBeDefined()
    expect(() => new model(o as never).validate(), `${o.kind} ${o.metadata.name}`).not.toThrow()
  }
}

const byKind = (objects: KubeObject[], kind: string): Json[] => objects.filter((o) => o.kind === kind) as Json[]
const podSpecOf = (objects: KubeObject[]): Json => {
  const job = byKind(objects, 'Job')[0]
  return job ? job.spec.template.spec : byKind(objects, 'Pod').find((p) => p.metadata.name === `sourceos-agent-${RUN}`)!.spec
}
const allContainers = (pod: Json): Json[] => [...(pod.initContainers ?? []), ...pod.containers]

describe('export --kube: the manifest', () => {
  it('layout pod: a Pod and a NetworkPolicy that pass the Kubernetes API schemas; the YAML parses back to the same objects', () => {
    const objects = buildKubeObjects(input())
    expect(objects.map((o) => o.kind)).toEqual(['NetworkPolicy', 'Pod'])
    validate(objects)
    // the validator is live: a wrong type in the same Pod is refused
    const pod = objects[1] as Json
    expect(() => new Pod({...pod, spec: {...pod.spec, hostNetwork: 'no'}} as never).validate()).toThrow()
    const docs = parseAllDocuments(renderManifest(objects, 'a header\nline two')).map((d) => d.toJSON())
    expect(docs).toEqual(JSON.parse(JSON.stringify(objects)))
  })

  it('the agent container carries the local hardening: non-root uid 1000, no escalation, no capability, read-only root, RuntimeDefault, the profile\'s resources', () => {
    const pod = podSpecOf(buildKubeObjects(input()))
    const agent = pod.containers.find((c: Json) => c.name === 'agent')
    expect(agent.securityContext).toEqual({
      runAsUser: AGENT_UID,
      runAsGroup: AGENT_UID,
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: true,
      capabilities: {drop: ['ALL']},
      seccompProfile: {type: 'RuntimeDefault'},
    })
    expect(agent.resources).toEqual({requests: {cpu: '2000m', memory: '4Gi'}, limits: {cpu: '2000m', memory: '4Gi'}})
    expect(agent.workingDir).toBe('/workspace/repo')
    expect(agent.command.slice(-3)).toEqual(['codex', 'exec', 'fix the tests'])
  })

  it('the Pod: no service-account token, no host namespace, no hostPath anywhere, seccomp RuntimeDefault; every container drops ALL and only the guard adds NET_ADMIN', () => {
    for (const layout of ['pod', 'split'] as const) {
      for (const job of [false, true]) {
        const objects = buildKubeObjects(input({layout, job}))
        validate(objects)
        for (const pod of [podSpecOf(objects), ...byKind(objects, 'Pod').map((p) => p.spec)]) {
          expect(pod).toMatchObject({automountServiceAccountToken: false, hostNetwork: false, hostPID: false, hostIPC: false, securityContext: {seccompProfile: {type: 'RuntimeDefault'}}})
          expect(JSON.stringify(pod)).not.toContain('hostPath')
          for (const c of allContainers(pod)) {
            expect(c.securityContext, c.name).toMatchObject({allowPrivilegeEscalation: false, privileged: false, readOnlyRootFilesystem: true, capabilities: {drop: ['ALL']}})
            if (c.name === 'egress-guard') expect(c.securityContext.capabilities.add).toEqual(['NET_ADMIN'])
            else expect(c.securityContext.capabilities.add, c.name).toBeUndefined()
            if (c.name !== 'egress-guard') expect(c.securityContext.runAsNonRoot, c.name).toBe(true)
          }
        }
      }
    }
  })

  it('the repo arrives by an init container into an emptyDir, pinned to the commit (URL and commit in env, never in the script)', () => {
    const pod = podSpecOf(buildKubeObjects(input()))
    const clone = pod.initContainers[0]
    expect(clone.name).toBe('clone')
    expect(pod.volumes.find((v: Json) => v.name === 'work')).toEqual({name: 'work', emptyDir: {}})
    // the checkout folder is the volume itself (no image folder at the mount point to copy up)
    expect(clone.volumeMounts).toContainEqual({name: 'work', mountPath: '/workspace/repo'})
    const env = Object.fromEntries(clone.env.map((e: Json) => [e.name, e.value]))
    expect(env).toMatchObject({SOURCEOS_REPO_URL: 'https://git.example.com/org/repo.git', SOURCEOS_REPO_COMMIT: COMMIT, SOURCEOS_REPO_DIR: '/workspace/repo'})
    expect(clone.command.join(' ')).not.toContain(COMMIT)
    expect(clone.command.join(' ')).toContain('test "$(git -C "$SOURCEOS_REPO_DIR" rev-parse HEAD)" = "$SOURCEOS_REPO_COMMIT"')
  })

  it('the proxy runs the SAME Squid configuration as a local launch for the same allowlist', () => {
    const i = input({door: null})
    const pod = podSpecOf(buildKubeObjects(i))
    const proxy = pod.containers.find((c: Json) => c.name === 'proxy')
    const conf = proxy.env.find((e: Json) => e.name === 'SOURCEOS_PROXY_CONF').value
    const local = planEgress({runId: RUN, image: 'x', allowlist: i.allowlist, profileName: 'team', door: null})
    expect(conf).toBe(local.squidConfig)
    expect(proxy.securityContext).toMatchObject({runAsUser: 65534, runAsNonRoot: true})
    // the agent's proxy variables point at it on loopback
    const agent = pod.containers.find((c: Json) => c.name === 'agent')
    expect(agent.env).toContainEqual({name: 'HTTPS_PROXY', value: 'http://127.0.0.1:3128'})
  })

  it('the Secrets Door: the Secret is referenced by the proxy only; the agent gets the door URL and a placeholder, never the Secret', () => {
    const objects = buildKubeObjects(input({}, true))
    validate(objects)
    const pod = podSpecOf(objects)
    const secretVolumes = pod.volumes.filter((v: Json) => v.secret)
    expect(secretVolumes).toEqual([{name: 'door-0', secret: {secretName: kubeSecretName('openai'), defaultMode: 0o400, items: [{key: 'value', path: 'value'}]}}])
    for (const c of allContainers(pod)) {
      const mountsSecret = (c.volumeMounts ?? []).some((m: Json) => m.name === 'door-0')
      expect(mountsSecret, c.name).toBe(c.name === 'proxy')
      expect(JSON.stringify(c.env ?? [])).not.toContain('secretKeyRef')
    }
    const proxy = pod.containers.find((c: Json) => c.name === 'proxy')
    expect(proxy.volumeMounts).toContainEqual({name: 'door-0', mountPath: '/run/sourceos-door-0', subPath: 'value', readOnly: true})
    // the door listens on loopback only, in the one Pod
    expect(squidConfigFor(input({}, true))).toContain('http_port 127.0.0.1:3200 accel')
    const agentEnv = JSON.stringify(pod.containers.find((c: Json) => c.name === 'agent').env)
    expect(agentEnv).toContain('http://127.0.0.1:3200')
  })

  it('labels and annotations carry the run id, policy hash and profile', () => {
    for (const o of buildKubeObjects(input({layout: 'split'}))) {
      expect(o.metadata.labels, o.kind).toMatchObject({[RUN_ID_KEY]: RUN, 'dev.sourceos.agent-machine/profile': 'team'})
      expect(o.metadata.annotations, o.kind).toMatchObject({[POLICY_HASH_KEY]: HASH, [RUN_ID_KEY]: RUN, 'dev.sourceos.agent-machine/repo-commit': COMMIT})
    }
  })

  it('layout pod: the NetworkPolicy allows DNS, the allowlist\'s ports on public addresses only, ip: entries exactly, and the clone\'s port; no ingress', () => {
    const policy = byKind(buildKubeObjects(input()), 'NetworkPolicy')[0]!
    expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress'])
    expect(policy.spec.ingress).toEqual([])
    const rules = policy.spec.egress as Json[]
    expect(rules[0]!.ports).toEqual([{protocol: 'UDP', port: 53}, {protocol: 'TCP', port: 53}])
    const publicPorts = rules.filter((r) => r.to[0].ipBlock?.cidr === '0.0.0.0/0').map((r) => r.ports[0].port)
    expect(publicPorts).toEqual([443])
    for (const r of rules.filter((x) => x.to[0].ipBlock?.cidr === '0.0.0.0/0')) {
      expect(r.to[0].ipBlock.except).toEqual(BLOCKED_RANGES.filter((b) => !b.includes(':')))
      expect(r.to[1].ipBlock.except).toEqual(BLOCKED_RANGES.filter((b) => b.includes(':')))
    }
    expect(rules).toContainEqual({to: [{ipBlock: {cidr: '203.0.113.7/32'}}], ports: [{protocol: 'TCP', port: 8080}]})
  })

  it('layout split: a proxy Pod behind a Service; the agent Pod may reach only the proxy Pod (no DNS) and holds no NET_ADMIN', () => {
    const objects = buildKubeObjects(input({layout: 'split'}, true))
    validate(objects)
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      `NetworkPolicy/sourceos-proxy-${RUN}`,
      `NetworkPolicy/sourceos-agent-${RUN}`,
      `Service/sourceos-proxy-${RUN}`,
      `Pod/sourceos-proxy-${RUN}`,
      `Pod/sourceos-agent-${RUN}`,
    ])
    const agentPolicy = byKind(objects, 'NetworkPolicy')[1]!
    expect(agentPolicy.spec.egress).toEqual([{to: [{podSelector: {matchLabels: {[RUN_ID_KEY]: RUN, 'dev.sourceos.agent-machine/role': 'egress-proxy'}}}], ports: [{protocol: 'TCP', port: 3128}, {protocol: 'TCP', port: 3200}]}])
    const agentPod = podSpecOf(objects)
    expect(allContainers(agentPod).map((c) => c.name)).toEqual(['clone', 'agent'])
    expect(agentPod.enableServiceLinks).toBe(true)
    const agent = agentPod.containers[0]
    expect(agent.env).toContainEqual({name: 'HTTPS_PROXY', value: `http://$(${serviceHostVar(RUN)}):3128`})
    // the proxy Pod holds the Secret; the agent Pod has no secret volume at all
    expect(JSON.stringify(agentPod)).not.toContain('"secret"')
    const proxyPod = byKind(objects, 'Pod')[0]!
    expect(proxyPod.spec.volumes.some((v: Json) => v.secret?.secretName === kubeSecretName('openai'))).toBe(true)
    expect(squidConfigFor(input({layout: 'split'}, true))).toContain('http_port 0.0.0.0:3200 accel')
  })

  it('--job: a Job whose proxy is a native sidecar (an init container that keeps running), so the Job completes with the agent', () => {
    const objects = buildKubeObjects(input({job: true}))
    validate(objects)
    const job = byKind(objects, 'Job')[0]!
    expect(job.spec.backoffLimit).toBe(0)
    const pod = job.spec.template.spec
    expect(pod.initContainers.map((c: Json) => [c.name, c.restartPolicy])).toEqual([['clone', undefined], ['egress-guard', undefined], ['proxy', 'Always']])
    expect(pod.containers.map((c: Json) => c.name)).toEqual(['agent'])
  })

  it('without a tool the agent container idles for kubectl exec; the guard rule names the agent uid in both address families', () => {
    const pod = podSpecOf(buildKubeObjects(input({tool: null, command: []})))
    expect(pod.containers[0].command.join(' ')).toContain('sleep')
    expect(guardScript()).toContain('"$ip" rule add uidrange 1000-1000 lookup 200 priority 100')
    expect(guardScript()).toContain('"$ip" -6 rule add uidrange 1000-1000')
  })

  it('units: podman memory and cpus become Kubernetes quantities; an unusable run id is refused', () => {
    expect([kubeMemory('4g'), kubeMemory('512m'), kubeMemory('64K'), kubeMemory('1000')]).toEqual(['4Gi', '512Mi', '64Ki', '1000'])
    expect([kubeCpu(2), kubeCpu(0.5), kubeCpu(0.0001)]).toEqual(['2000m', '500m', '1m'])
    expect(() => buildKubeObjects(input({runId: 'Has_Upper'}))).toThrow(/not a Kubernetes name/)
  })

  it('for podman kube play 4.3: annotations over 63 characters leave the played Pod and are named; limits dropped only where podman cannot apply them', () => {
    const objects = buildKubeObjects(input())
    const [policy, pod] = forPodman43(objects) as Json[]
    expect(policy).toBe(objects[0])
    const annotations = pod!.metadata.annotations as Record<string, string>
    expect(Object.values(annotations).every((v) => v.length <= 63)).toBe(true)
    expect(annotations[POLICY_HASH_KEY]).toBeUndefined()
    expect(annotations[ELIDED_KEY]).toBe('policy-hash.allowlist-hash')
    expect(annotations[RUN_ID_KEY]).toBe(RUN)
    // every emptyDir renamed <pod>-<volume> (podman 4.3 makes it a named volume of the host, shared by name), mounts to match; nothing else changed
    const exported = (objects[1] as Json).spec
    const podName = `sourceos-agent-${RUN}`
    const own = new Set((exported.volumes as Json[]).filter((v) => 'emptyDir' in v).map((v) => v.name as string))
    expect([...own].sort()).toEqual(['home', 'proxy-tmp', 'results', 'tmp', 'work'])
    const renamed = (n: string) => (own.has(n) ? `${podName}-${n}` : n)
    expect(pod!.spec).toEqual({
      ...exported,
      initContainers: (exported.initContainers as Json[]).map((c) => ({...c, ...(c.volumeMounts ? {volumeMounts: (c.volumeMounts as Json[]).map((m) => ({...m, name: renamed(m.name)}))} : {})})),
      containers: (exported.containers as Json[]).map((c) => ({...c, ...(c.volumeMounts ? {volumeMounts: (c.volumeMounts as Json[]).map((m) => ({...m, name: renamed(m.name)}))} : {})})),
      volumes: (exported.volumes as Json[]).map((v) => ({...v, name: renamed(v.name)})),
    })
    expect(playedVolumes(forPodman43(objects))).toEqual([...own].map((n) => `${podName}-${n}`))
    expect(playedVolumes(forPodman43(buildKubeObjects(input({runId: 'another-run-0002'}))))).not.toEqual(expect.arrayContaining([expect.stringMatching(new RegExp(RUN))]))
    const stripped = forPodman43(objects, {dropResources: true})[1] as Json
    expect(allContainers(stripped.spec).every((c) => c.resources === undefined)).toBe(true)
    expect(allContainers(stripped.spec).map((c) => c.securityContext)).toEqual(allContainers((objects[1] as Json).spec).map((c) => c.securityContext))
    expect([limitsApply({cgroupVersion: 'v1', rootless: true}), limitsApply({cgroupVersion: 'v2', rootless: true}), limitsApply({cgroupVersion: 'v1', rootless: false})]).toEqual([false, true, true])
  })

  it('the record\'s container facts are read from podman inspect as they are, not assumed', () => {
    const hardenedView = {Image: `sha256:${'d'.repeat(64)}`, Config: {User: '1000:1000'}, HostConfig: {ReadonlyRootfs: true, CapAdd: [], Privileged: false, SecurityOpt: ['no-new-privileges', 'seccomp=/x.json']}, EffectiveCaps: [], State: {ExitCode: 0, Status: 'exited'}}
    expect(containerFacts('agent', hardenedView)).toEqual({name: 'agent', imageId: 'd'.repeat(64), user: '1000:1000', readOnlyRoot: true, noNewPrivileges: true, capAdd: [], privileged: false, seccomp: '/x.json', exitCode: 0})
    const weak = {Image: 'not-an-id', Config: {User: ''}, HostConfig: {ReadonlyRootfs: false, CapAdd: ['CAP_NET_RAW'], Privileged: true, SecurityOpt: ['seccomp=unconfined']}, EffectiveCaps: ['CAP_SYS_ADMIN', 'CAP_NET_RAW'], State: {ExitCode: 0, Status: 'running'}}
    expect(containerFacts('x', weak)).toEqual({name: 'x', imageId: null, user: '', readOnlyRoot: false, noNewPrivileges: false, capAdd: ['CAP_NET_RAW', 'CAP_SYS_ADMIN'], privileged: true, seccomp: 'unconfined', exitCode: null})
  })
})
