import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {EGRESS_PROXY_LABEL, egressCheck} from '../../../src/core/network/doctor.js'
import {parseProfile} from '../../../src/core/profile/loader.js'
import type {ImageDetails} from '../../../src/core/podman/types.js'

const profile = (network: string) =>
  parseProfile(readFileSync(join(import.meta.dirname, '..', '..', '..', 'profiles', 'linux-podman-native.yaml'), 'utf8').replace(/ {2}network:\n(?: {4}.*\n)+/, network), 'p')
const image = (labels: Record<string, string>) => ({id: 'a'.repeat(64), labels}) as unknown as ImageDetails

describe('doctor: network egress', () => {
  it('allowlist: lists every rule with where it comes from (the profile, each enabled tool)', () => {
    const c = egressCheck(profile('  network:\n    mode: allowlist\n    allow: [registry.npmjs.org]\n'), image({[EGRESS_PROXY_LABEL]: 'squid'}), 5)
    expect(c.status).toBe('ok')
    expect(c.required).toBe(true)
    expect(c.detail).toContain('profile: registry.npmjs.org:443')
    expect(c.detail).toMatch(/tool codex: .*api\.openai\.com:443/)
    expect(c.detail).toMatch(/tool claude-code: .*api\.anthropic\.com:443/)
    expect(c.detail).toContain('carries the egress proxy')
    // the default: a proxy of the run's own, nothing left after it
    expect(c.detail).toContain('a proxy and network of its own, removed with it')
    expect(c.detail).not.toContain('stays running between them')
  })

  it('allowlist with proxy: shared: says the proxy stays running between runs, where it is and how to remove it', () => {
    const c = egressCheck(profile('  network:\n    mode: allowlist\n    proxy: shared\n'), image({[EGRESS_PROXY_LABEL]: 'squid'}), 5)
    expect(c.status).toBe('ok')
    expect(c.detail).toContain('stays running between them')
    expect(c.detail).toContain('podman rm --force $(podman ps -aq --filter label=dev.sourceos.agent-machine.role=egress-shared-proxy)')
    // its pool's network holders, and the verb that removes the idle ones
    expect(c.detail).toContain('sourceos-netholder.<hash>.<slot>')
    expect(c.detail).toContain('$(podman ps -aq --filter label=dev.sourceos.agent-machine.role=egress-netholder)')
    expect(c.detail).toContain('sourceosctl agent-machine stop --all --egress')
  })

  it('allowlist with an image that lacks the proxy: a required failure naming the fix', () => {
    const c = egressCheck(profile('  network:\n    mode: allowlist\n'), image({}), 5)
    expect(c.status).toBe('fail')
    expect(c.required).toBe(true)
    expect(c.fix).toMatch(/agent-machine image build/)
  })

  it('open (and its old name) warns what it leaves open; none says the tools cannot reach their APIs', () => {
    const open = egressCheck(profile('  network:\n    mode: default\n'), null, 0)
    expect(open.status).toBe('warn')
    expect(open.detail).toMatch(/deprecated name of open/)
    expect(open.fix).toMatch(/allowlist/)
    expect(egressCheck(profile('  network:\n    mode: none\n'), null, 0).detail).toMatch(/no network/)
  })
})
