/**
 * A deny catalogue that cannot be read, or is not a catalogue, stops the CLI with an error that
 * says so (a partial catalogue would open every hole it leaves out); a valid one is read once.
 */
import {beforeEach, describe, expect, it, vi} from 'vitest'

const fs = vi.hoisted(() => ({text: undefined as string | undefined, reads: 0}))

vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>()
  const readFileSync = ((file: unknown, ...rest: unknown[]) => {
    if (typeof file === 'string' && file.endsWith('deny-catalogue.json')) {
      fs.reads++
      if (fs.text === undefined) throw Object.assign(new Error('ENOENT: no such file'), {code: 'ENOENT'})
      return fs.text
    }
    return (real.readFileSync as (...a: unknown[]) => unknown)(file, ...rest)
  }) as typeof real.readFileSync
  return {...real, readFileSync, default: {...real, readFileSync}}
})

const SCHEMA = 'sourceos.dev/agent-machine/deny-catalogue/v1'
const valid = {schema: SCHEMA, entries: [], broadRoots: {all: []}, workspace: {}, envDenylist: {exact: [], patterns: []}}

async function load(doc: unknown): Promise<unknown> {
  fs.text = typeof doc === 'string' ? doc : JSON.stringify(doc)
  vi.resetModules()
  const {loadCatalogue} = await import('../../../src/core/policy/catalogue.js')
  try {
    return loadCatalogue()
  } catch (error) {
    return error
  }
}

describe('the deny catalogue file is checked before it is used', () => {
  beforeEach(() => {
    fs.reads = 0
  })

  it('a valid catalogue is read once and kept', async () => {
    fs.text = JSON.stringify(valid)
    vi.resetModules()
    const {loadCatalogue} = await import('../../../src/core/policy/catalogue.js')
    expect(loadCatalogue()).toEqual(valid)
    expect(loadCatalogue()).toBe(loadCatalogue())
    expect(fs.reads).toBe(1)
  })

  it('an unreadable or unparsable file: CATALOGUE_UNREADABLE', async () => {
    fs.text = undefined
    vi.resetModules()
    const {loadCatalogue} = await import('../../../src/core/policy/catalogue.js')
    expect(() => loadCatalogue()).toThrow(expect.objectContaining({code: 'CATALOGUE_UNREADABLE', exitCode: 1}))
    expect(await load('{not json')).toMatchObject({code: 'CATALOGUE_UNREADABLE'})
  })

  it.each([
    ['null', null],
    ['another schema', {...valid, schema: `${SCHEMA}x`}],
    ['no entries', {...valid, entries: undefined}],
    ['entries not a list', {...valid, entries: {}}],
    ['no broad roots', {...valid, broadRoots: undefined}],
    ['no workspace', {...valid, workspace: undefined}],
    ['no env deny list', {...valid, envDenylist: undefined}],
  ])('%s: CATALOGUE_INVALID', async (_what, doc) => {
    expect(await load(doc)).toMatchObject({code: 'CATALOGUE_INVALID', exitCode: 1})
  })
})
