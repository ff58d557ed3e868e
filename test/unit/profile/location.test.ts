import {describe, expect, it} from 'vitest'

import type {HostFacts} from '../../../src/core/host/facts.js'
import {activeProfilePath, configDir, stateDir} from '../../../src/core/profile/location.js'

function host(platform: HostFacts['platform'], homeDir: string, env: Record<string, string | undefined> = {}): HostFacts {
  return {platform, osName: platform, osVersion: '1', kernel: '1', arch: 'arm64', homeDir, uid: platform === 'windows' ? null : 501, isRoot: false, env, caseInsensitivePaths: platform !== 'linux'}
}

describe('linux', () => {
  it('defaults to ~/.config and ~/.local/state', () => {
    const h = host('linux', '/home/u')
    expect(configDir(h)).toBe('/home/u/.config/sourceosctl')
    expect(stateDir(h)).toBe('/home/u/.local/state/sourceosctl')
    expect(activeProfilePath(h)).toBe('/home/u/.config/sourceosctl/agent-machine/profile.yaml')
  })

  it('honours absolute XDG dirs and ignores relative or empty ones', () => {
    const h = host('linux', '/home/u', {XDG_CONFIG_HOME: '/cfg', XDG_STATE_HOME: '/st'})
    expect(configDir(h)).toBe('/cfg/sourceosctl')
    expect(stateDir(h)).toBe('/st/sourceosctl')
    expect(activeProfilePath(h)).toBe('/cfg/sourceosctl/agent-machine/profile.yaml')
    const bad = host('linux', '/home/u', {XDG_CONFIG_HOME: 'rel/cfg', XDG_STATE_HOME: ''})
    expect(configDir(bad)).toBe('/home/u/.config/sourceosctl')
    expect(stateDir(bad)).toBe('/home/u/.local/state/sourceosctl')
  })
})

describe('macos', () => {
  it('uses Application Support and ignores XDG', () => {
    const h = host('macos', '/Users/u', {XDG_CONFIG_HOME: '/cfg'})
    expect(configDir(h)).toBe('/Users/u/Library/Application Support/sourceosctl')
    expect(stateDir(h)).toBe('/Users/u/Library/Application Support/sourceosctl/state')
    expect(activeProfilePath(h)).toBe('/Users/u/Library/Application Support/sourceosctl/agent-machine/profile.yaml')
  })
})

describe('windows', () => {
  it('uses %APPDATA% and %LOCALAPPDATA% with backslashes', () => {
    const h = host('windows', 'C:\\Users\\u', {APPDATA: 'C:\\Users\\u\\AppData\\Roaming', LOCALAPPDATA: 'C:\\Users\\u\\AppData\\Local'})
    expect(configDir(h)).toBe('C:\\Users\\u\\AppData\\Roaming\\sourceosctl')
    expect(stateDir(h)).toBe('C:\\Users\\u\\AppData\\Local\\sourceosctl\\State')
    expect(activeProfilePath(h)).toBe('C:\\Users\\u\\AppData\\Roaming\\sourceosctl\\agent-machine\\profile.yaml')
  })

  it('falls back to the home dir when the variables are missing', () => {
    const h = host('windows', 'C:\\Users\\u')
    expect(configDir(h)).toBe('C:\\Users\\u\\AppData\\Roaming\\sourceosctl')
    expect(stateDir(h)).toBe('C:\\Users\\u\\AppData\\Local\\sourceosctl\\State')
  })

  it('reads variable names case-insensitively', () => {
    const h = host('windows', 'C:\\Users\\u', {AppData: 'D:\\Roam', localappdata: 'D:\\Loc'})
    expect(configDir(h)).toBe('D:\\Roam\\sourceosctl')
    expect(stateDir(h)).toBe('D:\\Loc\\sourceosctl\\State')
  })
})

describe('overrides', () => {
  it.each(['linux', 'macos', 'windows'] as const)('SOURCEOSCTL_* win on %s', (platform) => {
    const h = host(platform, platform === 'windows' ? 'C:\\Users\\u' : '/home/u', {SOURCEOSCTL_CONFIG_DIR: '/etc/x', SOURCEOSCTL_STATE_DIR: '/var/x', XDG_CONFIG_HOME: '/cfg', APPDATA: 'C:\\A'})
    expect(configDir(h)).toBe('/etc/x')
    expect(stateDir(h)).toBe('/var/x')
    expect(activeProfilePath(h)).toBe(platform === 'windows' ? '\\etc\\x\\agent-machine\\profile.yaml' : '/etc/x/agent-machine/profile.yaml')
  })

  it('SOURCEOSCTL_PROFILE names the profile file itself', () => {
    const h = host('linux', '/home/u', {SOURCEOSCTL_PROFILE: '/p/my.yaml', SOURCEOSCTL_CONFIG_DIR: '/etc/x'})
    expect(activeProfilePath(h)).toBe('/p/my.yaml')
    expect(configDir(h)).toBe('/etc/x')
  })

  it('treats empty overrides as unset', () => {
    const h = host('linux', '/home/u', {SOURCEOSCTL_PROFILE: '', SOURCEOSCTL_CONFIG_DIR: '', SOURCEOSCTL_STATE_DIR: ''})
    expect(activeProfilePath(h)).toBe('/home/u/.config/sourceosctl/agent-machine/profile.yaml')
    expect(stateDir(h)).toBe('/home/u/.local/state/sourceosctl')
  })
})
