/**
 * The active profile as read-only verbs see it: loaded, missing (not an error for doctor and
 * fingerprint) or invalid (with the loader's line:column message).
 */
import {posix, win32} from 'node:path'

import {AgentMachineError} from './errors.js'
import type {HostFacts} from './host/facts.js'
import {loadProfileFile} from './profile/loader.js'
import {activeProfilePath} from './profile/location.js'
import type {AgentMachineProfile} from './profile/schema.js'

export type ActiveProfile =
  | {status: 'loaded'; path: string; profile: AgentMachineProfile}
  | {status: 'missing'; path: string; message: string; fix: string}
  | {status: 'invalid'; path: string; message: string; fix: string; error: AgentMachineError}

/** The machine doctor looks for when there is no profile yet: the one the templates create. */
export const DEFAULT_MACHINE_NAME = 'sourceos-agent'

export async function readActiveProfile(host: HostFacts, explicitPath?: string, cwd: string = process.cwd()): Promise<ActiveProfile> {
  // Absolute, so reports and digests do not depend on how the path was typed.
  const api = host.platform === 'windows' ? win32 : posix
  const path = api.resolve(cwd, explicitPath ?? activeProfilePath(host))
  try {
    const {profile} = await loadProfileFile(path)
    return {status: 'loaded', path, profile}
  } catch (error) {
    if (error instanceof AgentMachineError) {
      if (error.code === 'PROFILE_MISSING') return {status: 'missing', path, message: error.message, fix: error.fix ?? ''}
      return {status: 'invalid', path, message: error.message, fix: error.fix ?? '', error}
    }
    throw error
  }
}

/** Loads the active profile for verbs that cannot work without one; errors carry their fix. */
export async function requireActiveProfile(host: HostFacts, explicitPath?: string, cwd?: string): Promise<{path: string; profile: AgentMachineProfile}> {
  const active = await readActiveProfile(host, explicitPath, cwd)
  if (active.status === 'loaded') return active
  if (active.status === 'invalid') throw active.error
  const {loadProfileFile: load} = await import('./profile/loader.js')
  // Re-raise the loader's own PROFILE_MISSING error so the message and fix stay in one place.
  await load(active.path)
  throw new Error('unreachable: profile reported missing but loaded')
}

/** Which machine to check: the profile's, none on native Linux, the template default otherwise. */
export function machineNameFor(host: HostFacts, active: ActiveProfile): string | undefined {
  if (active.status === 'loaded') return active.profile.spec.machine?.name
  return host.platform === 'linux' ? undefined : DEFAULT_MACHINE_NAME
}
