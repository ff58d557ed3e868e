// Issue 11, defect 3: the evidence of a machine launch names the connection its container ran
// through (the one every container-side call named), its URI and the server's version.
import {describe, expect, it} from 'vitest'

import {EvidenceRecordSchema} from '../../../src/core/evidence/record.js'
import {beginRecord} from '../../../src/core/evidence/store.js'
import {gatherEvidenceFacts} from '../../../src/core/launch/evidence.js'
import type {PreparedLaunch} from '../../../src/core/launch/prepare.js'
import {podmanContext} from '../../../src/core/podman/context.js'
import {fakeRunner} from '../../helpers/fake-runner.js'
import {podmanFixture} from '../../helpers/fixtures.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'
import {sampleDraft} from '../evidence/helpers.js'
import {tempDir} from '../../helpers/temp-dirs.js'

const mac = fakeHostFacts('macos', {homeDir: '/Users/jdoe', env: {HOME: '/Users/jdoe', SOURCEOSCTL_STATE_DIR: tempDir('evidence-conn-')}})

/** Only what gatherEvidenceFacts reads: no mounts (no git), no tool (no probe). */
function prepared(rootful: boolean | null): PreparedLaunch {
  const machine = rootful === null ? null : {name: 'sourceos-agent', provider: 'applehv' as const, rootful}
  const podman = podmanContext({host: mac, machine})
  return {
    podman,
    podmanBinary: podman.binary,
    podmanVersion: '5.8.2',
    spec: {tool: null, mounts: []},
    profile: {spec: {tools: {}}},
    image: {details: {id: 'f'.repeat(64)}},
    probe: null,
  } as unknown as PreparedLaunch
}

function runner(connection: string | null) {
  const through = (verb: string) => (cmd: string, args: readonly string[]) => cmd === 'podman' && (connection ? args[0] === '--connection' && args[1] === connection && args[2] === verb : args[0] === verb)
  return fakeRunner([
    {match: through('version'), result: {stdout: podmanFixture('podman5-version-remote-macos.json')}},
    {match: (cmd, args) => cmd === 'podman' && args.join(' ') === 'system connection list --format json', result: {stdout: podmanFixture('podman58-system-connection-list-desktop-default.json')}},
    {match: 'git --version', result: {stdout: 'git version 2.39.3\n'}},
    {match: 'nix --version', result: {exitCode: null, notFound: true}},
  ])
}

describe('evidence of the connection (issue 11, defect 3)', () => {
  it.each([
    [false, 'sourceos-agent', 'ssh://core@127.0.0.1:61022/run/user/501/podman/podman.sock'],
    [true, 'sourceos-agent-root', 'ssh://root@127.0.0.1:61022/run/podman/podman.sock'],
  ])('rootful %s: records %s, its URI from the connection list (read once) and the server version asked through it', async (rootful, name, uri) => {
    const r = runner(name)
    const facts = await gatherEvidenceFacts(prepared(rootful), r, mac)
    expect(facts.podmanConnection).toEqual({name, uri, serverVersion: '5.8.2'})
    expect(facts.toolVersions.podman).toEqual({client: '5.8.2', server: '5.8.2'})
    expect(r.commandLines().filter((l) => l.includes('system connection list'))).toHaveLength(1)
    // the record accepts it, and the schema keeps it
    const dir = tempDir('evidence-conn-dir-')
    const handle = await beginRecord(dir, sampleDraft({podmanConnection: facts.podmanConnection}))
    const parsed = EvidenceRecordSchema.parse(handle.record)
    expect(parsed.predicate.podmanConnection).toEqual({name, uri, serverVersion: '5.8.2'})
  })

  it('a connection missing from the list: the name is still recorded, the URI is null', async () => {
    const r = fakeRunner([
      {match: (cmd, args) => cmd === 'podman' && args[0] === '--connection' && args[2] === 'version', result: {stdout: podmanFixture('podman5-version-remote-macos.json')}},
      {match: 'podman system connection list', result: {stdout: '[]\n'}},
      {match: 'git --version', result: {stdout: 'git version 2.39.3\n'}},
      {match: 'nix --version', result: {exitCode: null, notFound: true}},
    ])
    const facts = await gatherEvidenceFacts(prepared(false), r, mac)
    expect(facts.podmanConnection).toEqual({name: 'sourceos-agent', uri: null, serverVersion: '5.8.2'})
  })

  it('no machine (native podman): no connection named, none recorded, no connection list read', async () => {
    const linux = fakeHostFacts('linux')
    const r = fakeRunner([
      {match: 'git --version', result: {stdout: 'git version 2.39.5\n'}},
      {match: 'nix --version', result: {exitCode: null, notFound: true}},
    ])
    const p = prepared(null)
    p.podman = podmanContext({host: linux, machine: null})
    const facts = await gatherEvidenceFacts(p, r, linux)
    expect(facts.podmanConnection).toBeUndefined()
    expect(r.commandLines().some((l) => l.includes('connection'))).toBe(false)
  })
})
