// Proves the integration harness: podman runs here (rootful and rootless), the test image builds,
// and the governed defaults (ARCHITECTURE.md §5) hold inside a container of it.
import {rmSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {makeTempHome} from './helpers/cli.js'
import {podman, podmanTarget, requirePodman, type PodmanMode} from './helpers/podman-env.js'
import {userInfo} from './helpers/proc.js'
import {ensureTestImage, type TestImage} from './helpers/test-image.js'

const podmanAvailable = requirePodman()

interface FakeToolReport {
  tool: string
  argv: string[]
  uid: number
  gid: number
  capEff: string
  noNewPrivs: number
  pid1: string
  mounts: string[]
  touched: {path: string; uid: number; gid: number} | null
}

describe.each(['rootful', 'rootless'] as PodmanMode[])('podman smoke (%s)', (mode) => {
  const target = podmanTarget(mode)

  describe.skipIf(!podmanAvailable || !target.runnable)(target.reason ? `skipped: ${target.reason}` : 'in a container', () => {
    let image: TestImage
    let workspace: string
    // --pull=never: a missing local image fails at once instead of retrying a registry at localhost
    const hardened = ['run', '--rm', '--pull=never', '--init', '--cap-drop=all', '--security-opt=no-new-privileges', '--read-only', '--http-proxy=false',
      ...(mode === 'rootless' ? ['--userns=keep-id'] : [])]

    beforeAll(async () => {
      image = await ensureTestImage({rootless: mode === 'rootless'})
      workspace = makeTempHome(target.user)
    })
    afterAll(() => {
      if (workspace) rmSync(workspace, {recursive: true, force: true})
    })

    it('builds the test image once, tagged by its content hash', async () => {
      expect(image.ref).toMatch(/^localhost\/sourceosctl-test\/agent:[0-9a-f]{8}$/)
      expect(image.id).toMatch(/^[0-9a-f]{64}$/)
      expect(await ensureTestImage({rootless: mode === 'rootless'})).toEqual(image)
    })

    it('runs the fake tool hardened: codex --version', async () => {
      const result = await podman(target, [...hardened, image.ref, 'codex', '--version'])
      expect(result.stderr).not.toMatch(/^Error/m)
      expect(result.exitCode).toBe(0)
      expect(result.stdout.trim()).toBe('codex-fake 0.0.1')
    })

    it('drops every capability, sets no-new-privileges, passes the exit code and owns workspace files as the caller', async () => {
      const result = await podman(target, [...hardened, '--volume', `${workspace}:/workspace`, image.ref,
        'claude', '--touch', '/workspace/written-by-tool', '--exit', '7'])
      expect(result.exitCode, result.stderr).toBe(7)
      const report = JSON.parse(result.stdout) as FakeToolReport
      expect(report.tool).toBe('claude')
      expect(report.argv).toEqual(['--touch', '/workspace/written-by-tool', '--exit', '7'])
      expect(BigInt(`0x${report.capEff}`)).toBe(0n)
      expect(report.noNewPrivs).toBe(1)
      expect(report.pid1).toBe('podman-init') // --init: catatonit, mounted at /run/podman-init
      expect(report.mounts.some((line) => line.includes(' /workspace '))).toBe(true)

      // rootful: the container's root is root; rootless with keep-id: the invoking user, on both sides.
      const host = target.user ? userInfo(target.user)! : {uid: 0, gid: 0}
      expect(report.uid).toBe(host.uid)
      const written = statSync(join(workspace, 'written-by-tool'))
      expect([written.uid, written.gid]).toEqual([host.uid, host.gid])
    })
  })
})
