// The integration tests' halves fail rather than skip when podman is required (issue 15, item 4).
import {afterEach, describe, expect, it, vi} from 'vitest'

import {podmanTarget} from '../../integration/helpers/podman-env.js'

afterEach(() => vi.unstubAllEnvs())

describe('podmanTarget', () => {
  it('a half that cannot run is a skip without SOURCEOSCTL_TEST_REQUIRE_PODMAN', () => {
    vi.stubEnv('SOURCEOSCTL_TEST_REQUIRE_PODMAN', undefined)
    vi.stubEnv('SOURCEOSCTL_TEST_ROOTLESS_USER', undefined)
    expect(podmanTarget('rootless')).toMatchObject({mode: 'rootless', runnable: false, reason: 'set SOURCEOSCTL_TEST_ROOTLESS_USER to run the rootless tests'})
  })

  it('with SOURCEOSCTL_TEST_REQUIRE_PODMAN=1 it throws, naming the half and why', () => {
    vi.stubEnv('SOURCEOSCTL_TEST_REQUIRE_PODMAN', '1')
    vi.stubEnv('SOURCEOSCTL_TEST_ROOTLESS_USER', undefined)
    vi.stubEnv('SOURCEOSCTL_TEST_SKIP_MODES', undefined)
    expect(() => podmanTarget('rootless')).toThrow('the rootless half of this test cannot run (set SOURCEOSCTL_TEST_ROOTLESS_USER to run the rootless tests) and SOURCEOSCTL_TEST_REQUIRE_PODMAN=1: it fails rather than skips')
  })

  it('SOURCEOSCTL_TEST_SKIP_MODES names a half left out on purpose; other halves still throw', () => {
    vi.stubEnv('SOURCEOSCTL_TEST_REQUIRE_PODMAN', '1')
    vi.stubEnv('SOURCEOSCTL_TEST_ROOTLESS_USER', undefined)
    vi.stubEnv('SOURCEOSCTL_TEST_SKIP_MODES', 'rootful, rootless')
    expect(podmanTarget('rootless').runnable).toBe(false)
    vi.stubEnv('SOURCEOSCTL_TEST_SKIP_MODES', 'rootful')
    expect(() => podmanTarget('rootless')).toThrow(/rootless half/)
  })
})
