// Adversarial (docs/threat-model.md, "Env values"): host environment VALUES that would hand the
// agent a credential or the host's identity. spec.env.passthrough copies host values into the
// container (and into podman's argv, the plan and the evidence), so each value is shape-checked at
// launch: a URL with user:password, a token in an innocently named variable, and host identity
// variables such as HOME are refused with exit 3, naming the variable and never printing its value
// anywhere (stdout, stderr, --json, the evidence dir). Real podman, rootful and rootless.
import {existsSync, readdirSync, readFileSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {findReport, makeLaunchFixture, type LaunchFixture} from '../helpers/launch-fixture.js'
import {podmanTarget, requirePodman, type PodmanMode} from '../helpers/podman-env.js'

const podmanAvailable = requirePodman()

const MONGO_PASSWORD = 'hunter2-mongo-pw-7f3a'
const MONGO_URI = `mongodb://admin:${MONGO_PASSWORD}@db.internal:27017/app`
const TOKEN = `ghp_${'Zq9'.repeat(12)}`

/** Every file under `dir` (recursively), as text. */
function filesUnder(dir: string): Array<[string, string]> {
  if (!existsSync(dir)) return []
  const out: Array<[string, string]> = []
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    const st = statSync(p)
    if (st.isDirectory()) out.push(...filesUnder(p))
    else if (st.isFile() && st.size < 5_000_000) out.push([p, readFileSync(p, 'latin1')])
  }
  return out
}

describe.each(['rootful', 'rootless'] as PodmanMode[])('adversarial: env values (%s)', (mode) => {
  const target = podmanTarget(mode)

  describe.skipIf(!podmanAvailable || !target.runnable).concurrent(target.reason ? `skipped: ${target.reason}` : 'no credential or host identity passes through', () => {
    let fx: LaunchFixture
    beforeAll(async () => {
      fx = await makeLaunchFixture(mode)
    })
    afterAll(async () => {
      if (!fx) return
      expect(await fx.cleanup(), 'containers left behind (now removed)').toEqual([])
    })

    /** `shell` with `names` added to spec.env.passthrough and `env` in the CLI's environment, as --json (and as --dry-run). */
    async function attempt(tag: string, names: string[], env: Record<string, string>, dryRun = false) {
      const profile = fx.profileVariant(`env-${tag}`, (doc) => {
        doc.spec.env.passthrough.push(...names)
      })
      const runId = fx.runId(tag)
      const result = await fx.cli(['agent-machine', 'shell', '--json', ...(dryRun ? ['--dry-run'] : []), '--run-id', runId, '--profile-file', profile, '--repo', fx.repo, '--', '-c', 'env; exit 0'], {env})
      return {runId, result, error: (JSON.parse(result.stdout || '{}') as {error?: {code: string; message: string}}).error}
    }

    /** The value appears nowhere: output, the evidence and everything else under the state dir, no container. */
    async function leakedNowhere(runId: string, texts: string[], value: string): Promise<void> {
      for (const text of texts) expect(text).not.toContain(value)
      for (const [file, text] of filesUnder(fx.stateDir)) expect(text.includes(value), `${file} holds the value`).toBe(false)
      expect(await fx.containersOf(runId)).toEqual([])
    }

    it('a database URL with a password in MONGODB_URI → 3, the value nowhere (real run and --dry-run)', async () => {
      for (const dryRun of [false, true]) {
        const {runId, result, error} = await attempt(`mongo-${dryRun ? 'dry' : 'real'}`, ['MONGODB_URI'], {MONGODB_URI: MONGO_URI}, dryRun)
        expect(result.exitCode, result.stdout + result.stderr).toBe(3)
        expect(error?.code).toBe('POLICY_SECRET_ENV_VALUE')
        expect(error?.message).toContain("'MONGODB_URI'")
        expect(error?.message).toContain('a URL with embedded credentials')
        await leakedNowhere(runId, [result.stdout, result.stderr], MONGO_PASSWORD)
        expect(result.stdout + result.stderr).not.toContain('mongodb://')
      }
    })

    it('a GitHub token in an innocent name (NOTES) → 3, the token nowhere', async () => {
      const {runId, result, error} = await attempt('notes', ['NOTES'], {NOTES: `remember ${TOKEN} for later`})
      expect(result.exitCode, result.stdout + result.stderr).toBe(3)
      expect(error?.code).toBe('POLICY_SECRET_ENV_VALUE')
      expect(error?.message).toContain("'NOTES'")
      await leakedNowhere(runId, [result.stdout, result.stderr], TOKEN)
    })

    it('HOME (and other host identity variables) as passthrough → 3, naming the variable', async () => {
      for (const name of ['HOME', 'USER', 'XDG_CONFIG_HOME', 'PATH']) {
        const {runId, result, error} = await attempt(`identity-${name.toLowerCase().replace(/_/g, '-')}`, [name], {USER: 'host-user-name-x', XDG_CONFIG_HOME: join(fx.home, '.config')})
        expect(result.exitCode, result.stdout + result.stderr).toBe(3)
        expect(error?.code).toBe('POLICY_HOST_IDENTITY_ENV')
        expect(error?.message).toContain(`'${name}'`)
        // (the home path itself is in other runs' evidence as a mount source: only the refusal is checked for it)
        expect(error?.message).not.toContain(fx.home)
        await leakedNowhere(runId, [result.stdout, result.stderr], 'host-user-name-x')
      }
    })

    it('a plain value still passes through (the check is not a blanket refusal)', async () => {
      const runId = fx.runId('plain')
      const profile = fx.profileVariant('env-plain', (doc) => {
        doc.spec.env.passthrough.push('APP_MODE')
      })
      const result = await fx.cli(['agent-machine', 'run', '--run-id', runId, '--profile-file', profile, '--tool', 'codex', '--repo', fx.repo], {env: {APP_MODE: 'staging-eu'}})
      expect(result.exitCode, result.stderr).toBe(0)
      expect(findReport(result.stdout).env.APP_MODE).toBe('staging-eu')
    })
  })
})
