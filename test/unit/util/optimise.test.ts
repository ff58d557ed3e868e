// optimiseFully() calls what bin/run.js left on globalThis (TurboFan back on) and nothing else:
// without bin/run.js (tests, scripts) there is nothing to call and nothing changes. Long work turns
// it on: walks past LONG_WORK entries in all (countWork), a long chain of records to verify.
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it, vi} from 'vitest'

import {inspectPath} from '../../../src/core/evidence/verify.js'
import {contentTree} from '../../../src/core/evidence/content-hash.js'
import {LONG_WORK, optimiseFully} from '../../../src/core/util/optimise.js'
import {tempDir} from '../../helpers/temp-dirs.js'

const KEY = Symbol.for('sourceosctl.optimiseFully')
const slot = globalThis as Record<symbol, unknown>

function watch(): ReturnType<typeof vi.fn> {
  const turnOn = vi.fn()
  slot[KEY] = turnOn
  return turnOn
}

function files(dir: string, n: number, name = (i: number) => `f${i}`): string {
  mkdirSync(dir, {recursive: true})
  for (let i = 0; i < n; i++) writeFileSync(join(dir, name(i)), '')
  return dir
}

describe('optimiseFully', () => {
  afterEach(() => {
    delete slot[KEY]
  })

  it('calls the function bin/run.js left', () => {
    const turnOn = watch()
    optimiseFully()
    expect(turnOn).toHaveBeenCalledTimes(1)
  })

  it('does nothing without one', () => {
    expect(() => optimiseFully()).not.toThrow()
    slot[KEY] = 'not a function'
    expect(() => optimiseFully()).not.toThrow()
  })

  it('walks count together: small ones do not turn it on, past LONG_WORK entries in all they do', async () => {
    const turnOn = watch()
    const small = files(join(tempDir('optimise-'), 'small'), 50)
    await contentTree(small)
    expect(turnOn).not.toHaveBeenCalled()
    const half = files(join(tempDir('optimise-'), 'half'), Math.ceil(LONG_WORK / 2) + 10)
    await contentTree(half)
    expect(turnOn).not.toHaveBeenCalled()
    await contentTree(half)
    expect(turnOn).toHaveBeenCalled()
  })

  it('verifying a long chain turns it on before reading the index; a short one does not', async () => {
    const turnOn = watch()
    const short = tempDir('optimise-evidence-')
    files(join(short, 'records'), 3, (i) => `${String(i + 1).padStart(6, '0')}-abcdef0123456789.json`)
    await inspectPath(short).catch(() => null)
    expect(turnOn).not.toHaveBeenCalled()
    const long = tempDir('optimise-evidence-')
    files(join(long, 'records'), 401, (i) => `${String(i + 1).padStart(6, '0')}-abcdef0123456789.json`)
    await inspectPath(long).catch(() => null)
    expect(turnOn).toHaveBeenCalled()
  })
})
