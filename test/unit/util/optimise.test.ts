// optimiseFully() calls what bin/run.js left on globalThis (TurboFan back on) and nothing else:
// without bin/run.js (tests, scripts) there is nothing to call and nothing changes.
import {afterEach, describe, expect, it, vi} from 'vitest'

import {optimiseFully} from '../../../src/core/util/optimise.js'

const KEY = Symbol.for('sourceosctl.optimiseFully')
const slot = globalThis as Record<symbol, unknown>

describe('optimiseFully', () => {
  afterEach(() => {
    delete slot[KEY]
  })

  it('calls the function bin/run.js left', () => {
    const turnOn = vi.fn()
    slot[KEY] = turnOn
    optimiseFully()
    expect(turnOn).toHaveBeenCalledTimes(1)
  })

  it('does nothing without one', () => {
    expect(() => optimiseFully()).not.toThrow()
    slot[KEY] = 'not a function'
    expect(() => optimiseFully()).not.toThrow()
  })
})
