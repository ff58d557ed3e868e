/**
 * Where sourceosctl keeps its files, per platform convention (XDG on Linux, Application Support on
 * macOS, %APPDATA%/%LOCALAPPDATA% on Windows). Pure over HostFacts, so every platform is testable
 * anywhere; Windows paths are built with path.win32 even when the tests run on Linux.
 */
import path from 'node:path'

import type {HostFacts} from '../host/facts.js'

const APP = 'sourceosctl'

type LocationFacts = Pick<HostFacts, 'platform' | 'homeDir' | 'env'>

/** The user config dir: SOURCEOSCTL_CONFIG_DIR, else the platform's config location + `/sourceosctl`. */
export function configDir(host: LocationFacts): string {
  const override = envValue(host, 'SOURCEOSCTL_CONFIG_DIR')
  if (override) return override
  const p = pathFor(host)
  switch (host.platform) {
    case 'windows':
      return p.join(absoluteEnv(host, 'APPDATA') ?? p.join(host.homeDir, 'AppData', 'Roaming'), APP)
    case 'macos':
      return p.join(host.homeDir, 'Library', 'Application Support', APP)
    default:
      return p.join(absoluteEnv(host, 'XDG_CONFIG_HOME') ?? p.join(host.homeDir, '.config'), APP)
  }
}

/** The state dir (evidence, caches): SOURCEOSCTL_STATE_DIR, else the platform's state location. */
export function stateDir(host: LocationFacts): string {
  const override = envValue(host, 'SOURCEOSCTL_STATE_DIR')
  if (override) return override
  const p = pathFor(host)
  switch (host.platform) {
    case 'windows':
      return p.join(absoluteEnv(host, 'LOCALAPPDATA') ?? p.join(host.homeDir, 'AppData', 'Local'), APP, 'State')
    case 'macos':
      return p.join(host.homeDir, 'Library', 'Application Support', APP, 'state')
    default:
      return p.join(absoluteEnv(host, 'XDG_STATE_HOME') ?? p.join(host.homeDir, '.local', 'state'), APP)
  }
}

/** The active profile: SOURCEOSCTL_PROFILE (a file path), else `<configDir>/agent-machine/profile.yaml`. */
export function activeProfilePath(host: LocationFacts): string {
  const override = envValue(host, 'SOURCEOSCTL_PROFILE')
  if (override) return override
  return pathFor(host).join(configDir(host), 'agent-machine', 'profile.yaml')
}

function pathFor(host: LocationFacts): path.PlatformPath {
  return host.platform === 'windows' ? path.win32 : path.posix
}

/** An env value, empty treated as unset; Windows variable names are case-insensitive. */
function envValue(host: LocationFacts, name: string): string | undefined {
  let value = host.env[name]
  if (value === undefined && host.platform === 'windows') {
    const key = Object.keys(host.env).find((k) => k.toUpperCase() === name)
    value = key === undefined ? undefined : host.env[key]
  }
  return value === undefined || value === '' ? undefined : value
}

/** XDG (and the Windows dirs) must be absolute; relative values are ignored, as the XDG spec says. */
function absoluteEnv(host: LocationFacts, name: string): string | undefined {
  const value = envValue(host, name)
  return value !== undefined && pathFor(host).isAbsolute(value) ? value : undefined
}
