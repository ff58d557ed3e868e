/**
 * The profile YAML the command tests launch with: one shape, so a test states only what it varies
 * (the platform and machine, the mounts, the tools, env and network lines), and the rest (the local
 * test image, no pull, the resources, no Secrets Door) is the same everywhere.
 */
export interface TestProfile {
  /** `linux` unless given. */
  platform?: 'linux' | 'macos' | 'windows'
  /** The `machine:` flow mapping, for a Podman machine profile. */
  machine?: string
  mounts: ReadonlyArray<{source: string; target: string; mode: 'ro' | 'rw'}>
  /** The `tools:` entries, one per line; codex enabled unless given. */
  tools?: readonly string[]
  /** The `env:` flow mapping. */
  env?: string
  /** The `network:` flow mapping. */
  network?: string
}

export function testProfileYaml(p: TestProfile): string {
  const lines = [
    'apiVersion: sourceos.dev/v1alpha1',
    'kind: AgentMachineProfile',
    'metadata: {name: test}',
    'spec:',
    `  platform: ${p.platform ?? 'linux'}`,
    ...(p.machine ? [`  machine: ${p.machine}`] : []),
    '  image: {ref: localhost/test-bb:1, digest: null, pull: never}',
    '  mounts:',
    ...p.mounts.map((m) => `    - {source: ${m.source}, target: ${m.target}, mode: ${m.mode}}`),
    '  tools:',
    ...(p.tools ?? ['codex: {enabled: true, command: [codex]}']).map((t) => `    ${t}`),
    `  env: ${p.env ?? '{passthrough: [], set: {}}'}`,
    `  network: ${p.network ?? '{mode: none}'}`,
    '  resources: {cpus: 2, memory: 4g, pidsLimit: 1024}',
    '  secrets: {door: none}',
  ]
  return `${lines.join('\n')}\n`
}
