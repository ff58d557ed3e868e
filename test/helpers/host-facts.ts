/** Injected HostFacts for macOS, Windows and Linux, so platform behaviour is testable anywhere. */
import type {HostFacts, HostPlatform} from '../../src/core/host/facts.js'

const PRESETS: Record<HostPlatform, HostFacts> = {
  linux: {
    platform: 'linux',
    osName: 'Debian GNU/Linux 12 (bookworm)',
    osVersion: '12',
    kernel: '6.1.0-28-amd64',
    arch: 'x64',
    homeDir: '/home/dev',
    uid: 1000,
    isRoot: false,
    env: {HOME: '/home/dev'},
    caseInsensitivePaths: false,
  },
  macos: {
    platform: 'macos',
    osName: 'macOS',
    osVersion: '14.5',
    kernel: '23.5.0',
    arch: 'arm64',
    homeDir: '/Users/dev',
    uid: 501,
    isRoot: false,
    env: {HOME: '/Users/dev'},
    caseInsensitivePaths: true,
  },
  windows: {
    platform: 'windows',
    osName: 'Windows 11 Pro',
    osVersion: '10.0.22631',
    kernel: '10.0.22631',
    arch: 'x64',
    homeDir: 'C:\\Users\\dev',
    uid: null,
    isRoot: false,
    env: {USERPROFILE: 'C:\\Users\\dev'},
    caseInsensitivePaths: true,
  },
}

export function fakeHostFacts(platform: HostPlatform = 'linux', overrides: Partial<HostFacts> = {}): HostFacts {
  return {...PRESETS[platform], ...overrides}
}
