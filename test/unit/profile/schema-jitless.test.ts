// The built CLI runs zod jitless (scripts/bundle/zod-jitless.mjs: its interpreted parsers instead of
// the ones it compiles with `new Function` per object schema; docs/performance.md). The profile is
// the user's own file and decides the mounts: a profile must be accepted, refused and reported
// exactly alike either way. The same loader is imported twice, its schemas built once with zod's
// compiled parsers and once jitless, and both judge the shipped templates and their broken forms.
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

import {parse, stringify} from 'yaml'
import {z} from 'zod'
import {afterAll, describe, expect, it, vi} from 'vitest'

import {packageRoot} from '../../../src/core/util/package-root.js'

type Loader = typeof import('../../../src/core/profile/loader.js')

const before = z.config().jitless
z.config({jitless: false})
const compiled: Loader = await import('../../../src/core/profile/loader.js')
vi.resetModules()
z.config({jitless: true})
const jitless: Loader = await import('../../../src/core/profile/loader.js')
z.config({jitless: before})
afterAll(() => {
  z.config({jitless: before})
})

const TEMPLATES = join(packageRoot(), 'profiles')
const templates = readdirSync(TEMPLATES).filter((f) => f.endsWith('.yaml')).map((f) => ({name: f, text: readFileSync(join(TEMPLATES, f), 'utf8')}))

type Doc = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

/** Broken (and a few odd but valid) forms of a template: one edit each. */
const EDITS: Array<[string, (d: Doc) => void]> = [
  ['as shipped', () => {}],
  ['unknown key at the root', (d) => (d.extra = 1)],
  ['unknown key in spec', (d) => (d.spec.mountz = [])],
  ['unknown key in a mount', (d) => (d.spec.mounts = [{source: '~/dev/app', target: '/workspace/app', mode: 'rw', other: true}])],
  ['__proto__ key in spec', (d) => Object.defineProperty(d.spec, '__proto__', {value: {polluted: true}, enumerable: true, configurable: true, writable: true})],
  ['constructor key in metadata', (d) => (d.metadata.constructor = 'x')],
  ['missing spec.image', (d) => delete d.spec.image],
  ['missing metadata', (d) => delete d.metadata],
  ['null spec', (d) => (d.spec = null)],
  ['spec an array', (d) => (d.spec = [1, 2])],
  ['wrong apiVersion', (d) => (d.apiVersion = 'v2')],
  ['cpus a string', (d) => (d.spec.resources.cpus = 'two')],
  ['cpus negative', (d) => (d.spec.resources.cpus = -1)],
  ['image ref with a leading dash', (d) => (d.spec.image.ref = '--privileged')],
  ['digest malformed', (d) => (d.spec.image.digest = 'sha256:xyz')],
  ['digest pinned', (d) => (d.spec.image.digest = `sha256:${'a'.repeat(64)}`)],
  ['mount target outside /workspace', (d) => (d.spec.mounts = [{source: '~/dev/app', target: '/etc', mode: 'rw'}])],
  ['mount target with ..', (d) => (d.spec.mounts = [{source: '~/dev/app', target: '/workspace/../etc', mode: 'ro'}])],
  ['mount mode wrong', (d) => (d.spec.mounts = [{source: '~/dev/app', target: '/workspace/app', mode: 'rwx'}])],
  ['no mounts', (d) => (d.spec.mounts = [])],
  ['two mounts, write protection relaxed', (d) => (d.spec.mounts = [{source: '~/a', target: '/workspace/a', mode: 'rw', writeProtect: {relax: ['.vscode/**']}}, {source: '~/b', target: '/workspace/b', mode: 'ro'}])],
  ['relax pattern escaping', (d) => (d.spec.mounts = [{source: '~/a', target: '/workspace/a', mode: 'rw', writeProtect: {relax: ['../x']}}])],
  ['tools empty', (d) => (d.spec.tools = {})],
  ['tool command empty', (d) => (d.spec.tools = {codex: {enabled: true, command: []}})],
  ['env set with a secret-looking value', (d) => (d.spec.env = {passthrough: ['TERM'], set: {FOO: 'bar', TOKEN: 'ghp_' + 'a'.repeat(36)}})],
  ['env passthrough not a list', (d) => (d.spec.env = {passthrough: 'TERM', set: {}})],
  ['network allowlist', (d) => (d.spec.network = {mode: 'allowlist', allow: ['api.openai.com:443', '*.example.com'], proxy: 'shared'})],
  ['network allow entry malformed', (d) => (d.spec.network = {mode: 'allowlist', allow: ['http://x y'], proxy: 'per-run'})],
  ['network mode unknown', (d) => (d.spec.network = {mode: 'wide-open', allow: []})],
  ['machine name invalid', (d) => (d.spec.machine = {name: '-bad', provider: 'qemu', cpus: 2, memoryMiB: 2048, diskGiB: 20, rootful: false})],
  ['machine and connection', (d) => ((d.spec.machine = {name: 'm', provider: 'qemu', cpus: 2, memoryMiB: 2048, diskGiB: 20, rootful: false}), (d.spec.connection = 'remote'))],
  ['secrets door unknown', (d) => (d.spec.secrets = {door: 'vault'})],
  ['a number where the document should be', (d) => Object.keys(d).forEach((k) => delete d[k])],
]

function outcome(loader: Loader, text: string): unknown {
  try {
    return {ok: loader.parseProfile(text, 'profile.yaml')}
  } catch (error) {
    const e = error as {code?: string; message: string; fix?: string; details?: unknown}
    return {code: e.code, message: e.message, fix: e.fix, details: e.details}
  }
}

describe('the profile under zod jitless', () => {
  it('every template and every broken form: the same profile, or the same refusal with the same issues', () => {
    // Two loaders, each with its own schemas (not one module imported twice).
    expect(jitless.parseProfile).not.toBe(compiled.parseProfile)
    let refused = 0
    let accepted = 0
    for (const t of templates) {
      for (const [what, edit] of EDITS) {
        const doc = parse(t.text) as Doc
        edit(doc)
        const text = stringify(doc)
        const a = outcome(compiled, text)
        const b = outcome(jitless, text)
        expect(b, `${t.name}: ${what}`).toStrictEqual(a)
        if ('ok' in (a as object)) accepted++
        else refused++
      }
    }
    // Both kinds were judged (not only refusals of an unreadable text).
    expect(accepted).toBeGreaterThan(templates.length)
    expect(refused).toBeGreaterThan(templates.length * 10)
  })

  it('YAML that is no mapping at all is refused alike', () => {
    for (const text of ['42', '- a\n- b', '"text"', 'apiVersion: [', '{}']) {
      expect(outcome(jitless, text), text).toStrictEqual(outcome(compiled, text))
    }
  })
})
