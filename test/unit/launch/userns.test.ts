// Issue 10, defect 9: rootful launches get a user namespace. Container root maps to an
// unprivileged host uid; the agent's user maps to the owner of the repo (see userns.ts for why the
// mapping is one contiguous host block on podman 4.3.1).
import {mkdir, mkdtemp, rm, stat} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {buildCreateArgv, hardeningArgs, type ContainerSpec} from '../../../src/core/launch/container-spec.js'
import {AGENT_ID, expectedIdMapLines, mappableOwner, ownerOfNearest, rootfulIdMap, rootfulUsernsArgs} from '../../../src/core/launch/userns.js'

/** A native Linux profile: no machine, so no connection. */
const NATIVE = {binary: 'podman', connection: null}

describe('rootful id mapping', () => {
  it('maps the agent (1000) to the owner and container 0…999 just above it', () => {
    expect(AGENT_ID).toBe(1000)
    expect(rootfulIdMap(0)).toEqual([{container: 0, host: 1, size: 1000}, {container: 1000, host: 0, size: 1}])
    expect(rootfulIdMap(1001)).toEqual([{container: 0, host: 1002, size: 1000}, {container: 1000, host: 1001, size: 1}])
  })

  it('container root never maps to host root, for any owner', () => {
    for (const owner of [0, 1, 999, 1000, 65534, 4_294_966_294]) {
      const root = rootfulIdMap(owner).find((m) => m.container === 0)!
      expect(root.host).toBeGreaterThan(0)
      expect(root.host).not.toBe(owner)
    }
  })

  it('is one contiguous block on both sides (what podman 4.3.1 can idmap)', () => {
    for (const owner of [0, 1000, 123_456]) {
      const m = rootfulIdMap(owner)
      const hosts = [...m].sort((a, b) => a.host - b.host)
      const containers = [...m].sort((a, b) => a.container - b.container)
      for (let i = 1; i < m.length; i++) {
        expect(hosts[i]!.host).toBe(hosts[i - 1]!.host + hosts[i - 1]!.size)
        expect(containers[i]!.container).toBe(containers[i - 1]!.container + containers[i - 1]!.size)
      }
      expect(hosts[0]!.host).toBe(owner)
    }
  })

  it('refuses owners whose block would leave the id space', () => {
    expect(mappableOwner(0)).toBe(true)
    expect(mappableOwner(4_294_966_294)).toBe(true)
    expect(mappableOwner(4_294_966_295)).toBe(false)
    expect(mappableOwner(-1)).toBe(false)
    expect(mappableOwner(1.5)).toBe(false)
  })

  it('gives podman uid and gid maps and runs the agent user', () => {
    expect(rootfulUsernsArgs({uid: 0, gid: 0})).toEqual(['--uidmap=0:1:1000', '--uidmap=1000:0:1', '--gidmap=0:1:1000', '--gidmap=1000:0:1', '--user=1000:1000'])
    expect(rootfulUsernsArgs({uid: 1001, gid: 50})).toEqual(['--uidmap=0:1002:1000', '--uidmap=1000:1001:1', '--gidmap=0:51:1000', '--gidmap=1000:50:1', '--user=1000:1000'])
    expect(expectedIdMapLines(0)).toEqual(['0 1 1000', '1000 0 1'])
  })
})

describe('hardening with a user namespace', () => {
  const spec = (over: Partial<ContainerSpec>): ContainerSpec =>
    ({
      runId: '0123456789abcdef', verb: 'shell', tool: null, profileName: 'p', policyHash: 'sha256:x', image: 'f'.repeat(64), mounts: [], workdir: '/workspace/r',
      env: [], network: 'none', resources: {cpus: 1, memory: '1g', pidsLimit: 64}, rootless: false, interactive: true, tty: false, command: ['/bin/sh'],
      verification: 'inspect-paths', ...over,
    }) as ContainerSpec

  it('rootless keeps the invoking user; rootful maps the owner (root by default) and never runs container root', () => {
    expect(hardeningArgs(true)).toContain('--userns=keep-id')
    expect(hardeningArgs(true).some((a) => a.startsWith('--uidmap') || a.startsWith('--user='))).toBe(false)
    expect(hardeningArgs(false)).toEqual(expect.arrayContaining(['--uidmap=0:1:1000', '--uidmap=1000:0:1', '--user=1000:1000']))
    const argv = buildCreateArgv(spec({hostOwner: {uid: 1001, gid: 1001}}), NATIVE)
    expect(argv).toEqual(expect.arrayContaining(['--uidmap=0:1002:1000', '--uidmap=1000:1001:1', '--gidmap=0:1002:1000', '--gidmap=1000:1001:1', '--user=1000:1000']))
    expect(argv.indexOf('--user=1000:1000')).toBeLessThan(argv.indexOf('f'.repeat(64)))
    expect(argv).not.toContain('--userns=keep-id')
  })
})

describe('ownerOfNearest', () => {
  it('stats the path, or its nearest existing ancestor', async () => {
    const base = await mkdtemp(join(tmpdir(), 'userns-'))
    try {
      await mkdir(join(base, 'a'))
      const st = await stat(join(base, 'a'))
      expect(await ownerOfNearest(join(base, 'a'))).toEqual({uid: st.uid, gid: st.gid})
      expect(await ownerOfNearest(join(base, 'a', 'not', 'yet'))).toEqual({uid: st.uid, gid: st.gid})
    } finally {
      await rm(base, {recursive: true, force: true})
    }
  })
})
