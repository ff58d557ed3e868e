// No secret values in evidence (issue 14, item 1), through the built CLI against real podman,
// rootful and rootless: a secret planted in the tool's arguments (after `--` and as a bare
// argument) and in a passthrough env value reaches the tool, but appears nowhere in the evidence
// dir and nowhere in `evidence inspect` output; home paths are written as ~.
import {createHash, randomBytes} from 'node:crypto'
import {readdirSync, readFileSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {findReport, makeLaunchFixture, type LaunchFixture} from './helpers/launch-fixture.js'
import {podmanTarget, requirePodman, type PodmanMode} from './helpers/podman-env.js'

const podmanAvailable = requirePodman()

function allFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name)
    return statSync(p).isDirectory() ? allFiles(p) : [p]
  })
}

const sha = (v: string) => createHash('sha256').update(v, 'utf8').digest('hex')

describe.each(['rootful', 'rootless'] as PodmanMode[])('evidence holds no secrets (%s)', (mode) => {
  const target = podmanTarget(mode)
  describe.skipIf(!podmanAvailable || !target.runnable)(target.reason ? `skipped: ${target.reason}` : 'built CLI', () => {
    let fx: LaunchFixture
    beforeAll(async () => {
      fx = await makeLaunchFixture(mode)
    })
    afterAll(async () => {
      if (fx) expect(await fx.cleanup()).toEqual([])
    })

    it('a planted API key in the tool arguments and a passthrough value appear nowhere in the records or in inspect output', async () => {
      const nonce = randomBytes(8).toString('hex')
      const apiKey = `sk-proj-planted${nonce}`
      const bare = `bare-planted-${nonce}`
      const mirror = `https://mirror.example/simple/planted-${nonce}`
      const profile = fx.profileVariant('passthrough-mirror', (doc) => {
        doc.spec.env.passthrough = [...doc.spec.env.passthrough, 'PIP_INDEX_URL']
      })
      const runId = fx.runId('secrets')
      const run = await fx.cli(['agent-machine', 'run', '--json', '--run-id', runId, '--profile-file', profile, '--tool', 'codex', '--repo', fx.repo, '--', '--api-key', apiKey, bare, '--touch', '/workspace/repo/made-by-agent', '--exit', '0'], {
        env: {PIP_INDEX_URL: mirror},
      })
      expect(run.exitCode, run.stderr).toBe(0)
      // The tool got them: the redaction is of the evidence, not of the launch.
      const report = findReport(run.stderr)
      expect(report.argv).toEqual(['--api-key', apiKey, bare, '--touch', '/workspace/repo/made-by-agent', '--exit', '0'])
      expect(report.env.PIP_INDEX_URL).toBe(mirror)

      const recordFile = (JSON.parse(run.stdout) as {evidence: string}).evidence
      const dir = join(recordFile, '..', '..')
      const files = allFiles(dir)
      expect(files.length).toBeGreaterThan(1)
      for (const file of files) {
        const text = readFileSync(file, 'utf8')
        for (const planted of [apiKey, bare, mirror, `planted${nonce}`]) expect(text, `${file} holds a planted secret`).not.toContain(planted)
        expect(text, `${file} names the home dir`).not.toContain(fx.home)
      }
      const record = JSON.parse(readFileSync(recordFile, 'utf8')) as {
        predicate: {
          argv: string[]; podmanArgv: string[]; paths: string; mounts: Array<{source: string}>
          builder: {id: string; version: string}
          image: {id: string}
          resolvedDependencies: Array<{name: string; digest: Record<string, string>; annotations: Record<string, string>}>
          podmanCommands: {init: string[]; start: string[]}
          workspace: Array<{target: string; before: {commit: string | null; tree: string | null}; after: {commit: string | null; tree: string | null}; changes: {added: string[]; modified: string[]; removed: string[]}}>
        }
      }
      // What changed: the file the agent made, by a content hash taken before and after.
      const repo = record.predicate.workspace.find((w) => w.target === '/workspace/repo')
      expect(repo?.before.commit).toMatch(/^[0-9a-f]{40}$/)
      expect(repo?.before.tree).toMatch(/^sha256:[0-9a-f]{64}$/)
      expect(repo?.after.tree).not.toBe(repo?.before.tree)
      expect(repo?.changes).toEqual({added: ['made-by-agent'], modified: [], removed: [], omitted: 0})
      expect(record.predicate.builder.id).toBe('https://sourceos.dev/agent-machine/sourceosctl')
      // SLSA-style inputs: the image by its ID, the repo by its commit before the session.
      expect(record.predicate.resolvedDependencies).toContainEqual(expect.objectContaining({digest: {sha256: record.predicate.image.id.replace(/^sha256:/, '')}, annotations: expect.objectContaining({role: 'image'})}))
      expect(record.predicate.resolvedDependencies).toContainEqual(expect.objectContaining({name: '/workspace/repo', digest: {gitCommit: repo?.before.commit}}))
      expect(record.predicate.podmanCommands.start).toContain('start')
      expect(record.predicate.podmanCommands.init).toContain('init')
      // Redacted by shape, each value with its sha256.
      expect(record.predicate.argv).toContain(`[redacted sha256:${sha(apiKey)}]`)
      expect(record.predicate.argv).toContain(`[redacted sha256:${sha(bare)}]`)
      expect(record.predicate.argv.slice(0, 2)).toEqual(['agent-machine', 'run'])
      expect(record.predicate.podmanArgv).toContain(`--env=PIP_INDEX_URL=[redacted sha256:${sha(mirror)}]`)
      expect(record.predicate.podmanArgv).toContain('--api-key')
      expect(record.predicate.paths).toBe('home-relative')
      expect(record.predicate.mounts.map((m) => m.source)).toContain('~/dev/repo')

      for (const args of [[dir], [dir, '--json'], [recordFile], [dir, '--long']]) {
        const inspected = await fx.cli(['agent-machine', 'evidence', 'inspect', ...args])
        expect(inspected.exitCode, inspected.stdout + inspected.stderr).toBe(0)
        for (const planted of [apiKey, bare, mirror]) expect(inspected.stdout + inspected.stderr).not.toContain(planted)
      }
    })
  })
})
