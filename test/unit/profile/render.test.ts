import {describe, expect, it} from 'vitest'

import {parseProfile} from '../../../src/core/profile/loader.js'
import {addMount, instantiateTemplate, renderProfile, repoMountName} from '../../../src/core/profile/render.js'
import {PROFILE_SCHEMA_ID, type AgentMachineProfile, type ProfileMount} from '../../../src/core/profile/schema.js'
import {loadTemplate} from '../../../src/core/profile/templates.js'

const template = async (name = 'macos-podman') => (await loadTemplate(name)).profile
const withMounts = (p: AgentMachineProfile, mounts: ProfileMount[]): AgentMachineProfile => ({...p, spec: {...p.spec, mounts}})

describe('renderProfile', () => {
  it('starts with the schema modeline (public $id by default) and round-trips', async () => {
    const profile = await template()
    const text = renderProfile(profile)
    expect(text.split('\n')[0]).toBe(`# yaml-language-server: $schema=${PROFILE_SCHEMA_ID}`)
    expect(parseProfile(text, 'rendered.yaml')).toEqual(profile)
  })

  it('takes a schema URL and header comments', async () => {
    const text = renderProfile(await template(), {schemaUrl: '../schemas/x.json', header: ['written by init', '', 'edit freely']})
    expect(text.split('\n').slice(0, 4)).toEqual(['# yaml-language-server: $schema=../schemas/x.json', '# written by init', '#', '# edit freely'])
  })

  it('orders keys as the schema declares them, whatever the input order', async () => {
    const p = await template()
    const shuffled = {
      spec: {secrets: p.spec.secrets, resources: p.spec.resources, network: p.spec.network, env: {set: {B: '2', A: '1'}, passthrough: p.spec.env.passthrough}, tools: p.spec.tools, mounts: [{mode: 'ro' as const, target: '/workspace/a', source: '~/a'}], image: {pull: 'never' as const, digest: null, ref: p.spec.image.ref}, machine: p.spec.machine, platform: p.spec.platform},
      metadata: {description: 'd', name: 'x'},
      kind: p.kind,
      apiVersion: p.apiVersion,
    } as AgentMachineProfile
    const text = renderProfile(shuffled)
    expect(text).toBe(renderProfile({...p, metadata: {name: 'x', description: 'd'}, spec: {...p.spec, mounts: [{source: '~/a', target: '/workspace/a', mode: 'ro'}], env: {passthrough: p.spec.env.passthrough, set: {A: '1', B: '2'}}}}))
    const keys = text.split('\n').filter((l) => /^\S+:/.test(l)).map((l) => l.split(':')[0])
    expect(keys).toEqual(['apiVersion', 'kind', 'metadata', 'spec'])
    expect(text).toContain('    - source: ~/a\n      target: /workspace/a\n      mode: ro\n')
    expect(text).toContain('command: [codex]')
    expect(text).toContain('passthrough: [TERM, LANG, LC_ALL, TZ, COLORTERM]')
    expect(text).toContain('digest: null')
    expect(text.indexOf('A: "1"')).toBeLessThan(text.indexOf('B: "2"'))
  })

  it('quotes values that YAML would otherwise reinterpret', async () => {
    const p = await template('linux-podman-native')
    const tricky = {...p, spec: {...p.spec, env: {passthrough: [], set: {A: 'true', B: '123', C: 'null', D: '~', E: 'a: b', F: '#x', G: ''}}, mounts: [{source: 'C:\\Users\\me\\dev\\x y', target: '/workspace/x', mode: 'rw' as const}]}}
    expect(parseProfile(renderProfile(tricky), 't.yaml')).toEqual(tricky)
  })
})

describe('instantiateTemplate', () => {
  it('replaces the <repo> placeholder with the repo, keeping its mode', async () => {
    const t = await template()
    const p = instantiateTemplate(t, {source: '/home/u/dev/app', name: 'app'})
    expect(p.spec.mounts).toEqual([{source: '/home/u/dev/app', target: '/workspace/app', mode: 'rw'}])
    expect(t.spec.mounts[0]?.source).toBe('~/dev/<repo>') // the template is not mutated
    expect(parseProfile(renderProfile(p), 'x.yaml')).toEqual(p)
  })

  it('collapses several placeholders into one mount at the first placeholder, keeping other mounts', async () => {
    const t = withMounts(await template(), [
      {source: '~/docs', target: '/workspace/docs', mode: 'ro'},
      {source: '~/dev/<repo>', target: '/workspace/<repo>', mode: 'ro'},
      {source: '~/other', target: '/workspace/other', mode: 'rw'},
      {source: '~/dev/<repo>-wt', target: '/workspace/wt', mode: 'rw'},
    ])
    expect(instantiateTemplate(t, {source: '/r/app', name: 'app'}).spec.mounts).toEqual([
      {source: '~/docs', target: '/workspace/docs', mode: 'ro'},
      {source: '/r/app', target: '/workspace/app', mode: 'ro'},
      {source: '~/other', target: '/workspace/other', mode: 'rw'},
    ])
  })

  it('makes the target unique against kept mounts', async () => {
    const t = withMounts(await template(), [
      {source: '~/elsewhere/app', target: '/workspace/app', mode: 'ro'},
      {source: '~/dev/<repo>', target: '/workspace/<repo>', mode: 'rw'},
    ])
    expect(instantiateTemplate(t, {source: '/r/app', name: 'app'}).spec.mounts[1]).toEqual({source: '/r/app', target: '/workspace/app-2', mode: 'rw'})
  })

  it('adds the repo read-write when the template has no placeholder', async () => {
    const t = withMounts(await template(), [{source: '~/x', target: '/workspace/x', mode: 'ro'}])
    expect(instantiateTemplate(t, {source: '/r/app', name: 'app'}).spec.mounts).toEqual([
      {source: '~/x', target: '/workspace/x', mode: 'ro'},
      {source: '/r/app', target: '/workspace/app', mode: 'rw'},
    ])
  })
})

describe('addMount', () => {
  const base = async () => instantiateTemplate(await template(), {source: '/r/app', name: 'app'})

  it('appends a new mount and keeps the existing ones', async () => {
    const {profile, added} = addMount(await base(), {source: '/r/lib', target: '/workspace/lib', mode: 'ro'})
    expect(added).toBe(true)
    expect(profile.spec.mounts.map((m) => m.target)).toEqual(['/workspace/app', '/workspace/lib'])
  })

  it('does nothing for a source already mounted (trailing separators ignored)', async () => {
    const before = await base()
    const {profile, added} = addMount(before, {source: '/r/app/', target: '/workspace/other', mode: 'ro'})
    expect(added).toBe(false)
    expect(profile).toBe(before)
  })

  it('suffixes -2, -3 when the target is taken by another source', async () => {
    let p = await base()
    p = addMount(p, {source: '/s/app', target: '/workspace/app', mode: 'rw'}).profile
    p = addMount(p, {source: '/t/app', target: '/workspace/app', mode: 'rw'}).profile
    expect(p.spec.mounts.map((m) => [m.source, m.target])).toEqual([
      ['/r/app', '/workspace/app'],
      ['/s/app', '/workspace/app-2'],
      ['/t/app', '/workspace/app-3'],
    ])
  })
})

describe('repoMountName', () => {
  it.each([
    ['/home/u/dev/app', 'app'],
    ['/home/u/dev/app/', 'app'],
    ['~/dev/my repo (copy)', 'my-repo-copy'],
    ['C:\\Users\\me\\dev\\Tool.js', 'Tool.js'],
    ['/x/ünïcødé', 'unic-de'],
    ['/x/feature/wt_1', 'wt_1'],
    ['/', 'repo'],
    ['~', 'repo'],
    ['..', 'repo'],
    ['/x/..', 'repo'],
    ['', 'repo'],
    ['/x/@@@', 'repo'],
  ])('%j → %j', (input, expected) => {
    expect(repoMountName(input)).toBe(expected)
  })
})
