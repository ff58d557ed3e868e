/** Shared test data for the machine unit tests: fake file systems and machine specs. */
import type {HostFacts} from '../../../src/core/host/facts.js'
import type {RootsDeps} from '../../../src/core/machine/vm-paths.js'
import type {ProfileMachine, ProfileMount} from '../../../src/core/profile/schema.js'

export const machineSpec = (over: Partial<ProfileMachine> = {}): ProfileMachine => ({
  name: 'sourceos-agent', provider: 'applehv', cpus: 4, memoryMiB: 8192, diskGiB: 64, rootful: false, ...over,
})

export const mount = (source: string, target = '/workspace/app', mode: 'rw' | 'ro' = 'rw'): ProfileMount => ({source, target, mode})

const enoent = (p: string) => Object.assign(new Error(`ENOENT: ${p}`), {code: 'ENOENT'})

/**
 * A fake file system for path resolution: `dirs` exist (realpath = the path itself unless
 * `links` maps it), `files` have contents; everything else is ENOENT.
 */
export function fakeRootsDeps(host: Pick<HostFacts, 'platform'>, opts: {dirs?: string[]; files?: Record<string, string>; links?: Record<string, string>; cwd?: string} = {}): RootsDeps {
  const norm = (p: string) => (host.platform === 'windows' ? p.replace(/\//g, '\\').toLowerCase() : p)
  const dirs = new Set((opts.dirs ?? []).map(norm))
  const files = new Map(Object.entries(opts.files ?? {}).map(([k, v]) => [norm(k), v]))
  const links = new Map(Object.entries(opts.links ?? {}).map(([k, v]) => [norm(k), v]))
  return {
    cwd: opts.cwd ?? (host.platform === 'windows' ? 'C:\\Users\\dev' : '/'),
    realpath: async (p) => {
      const k = norm(p)
      if (links.has(k)) return links.get(k) as string
      if (dirs.has(k) || files.has(k)) return p
      throw enoent(p)
    },
    stat: async (p) => {
      const k = norm(p)
      if (dirs.has(k)) return {isDirectory: () => true}
      if (files.has(k)) return {isDirectory: () => false}
      throw enoent(p)
    },
    readFile: async (p) => {
      const k = norm(p)
      if (files.has(k)) return files.get(k) as string
      throw enoent(p)
    },
  }
}
