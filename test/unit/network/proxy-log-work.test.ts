// The proxy log's parsers count their lines as work (util/optimise.ts): a long session's log is
// parsed with TurboFan back on; a short one leaves the run's tiers as they are.
import {afterEach, describe, expect, it, vi} from 'vitest'

import {parseProxyLog, sliceProxyLog} from '../../../src/core/network/proxy-log.js'
import {LONG_WORK} from '../../../src/core/util/optimise.js'

const KEY = Symbol.for('sourceosctl.optimiseFully')
const slot = globalThis as Record<symbol, unknown>
const log = (n: number) => Array.from({length: n}, (_, i) => `sourceos-egress-v2 ${1700000000 + i}.000 10.89.0.2 CONNECT example.com 443 200 TCP_TUNNEL`).join('\n')

describe('the proxy log as work', () => {
  afterEach(() => {
    delete slot[KEY]
  })

  it('a short log does not turn TurboFan on; lines past LONG_WORK in all do', () => {
    const turnOn = vi.fn()
    slot[KEY] = turnOn
    expect(parseProxyLog(log(10)).destinations.length).toBe(1)
    sliceProxyLog(log(10), {client: '10.89.0.2', since: 0})
    expect(turnOn).not.toHaveBeenCalled()
    expect(parseProxyLog(log(LONG_WORK + 1)).destinations.length).toBe(1)
    expect(turnOn).toHaveBeenCalled()
  })
})
