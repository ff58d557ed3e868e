/**
 * The real host probe: reads the host once and returns HostFacts. Cheap by design — on Linux it
 * reads /etc/os-release and spawns nothing; only macOS asks `sw_vers` (through the Runner) for the
 * product version, because os.release() there is the Darwin kernel version, not "14.5".
 */
import os from 'node:os'
import {readFile} from 'node:fs/promises'
import {succeeded, type Runner} from '../exec.js'
import {platformFromNode, type HostFacts, type HostPlatform} from './facts.js'

const SW_VERS_TIMEOUT_MS = 3000
const OS_RELEASE_PATHS = ['/etc/os-release', '/usr/lib/os-release']

/** What the probe reads from Node and the file system; tests replace it to play macOS or Windows. */
export interface HostSource {
  nodePlatform: string
  release: string
  /** os.version(): on Windows a product name such as "Windows 11 Pro". */
  version: string
  arch: string
  homeDir: string
  uid: number | null
  env: Readonly<Record<string, string | undefined>>
  readTextFile: (path: string) => Promise<string>
}

export function nodeHostSource(): HostSource {
  return {
    nodePlatform: process.platform,
    release: os.release(),
    version: os.version(),
    arch: os.arch(),
    homeDir: os.homedir(),
    uid: process.getuid?.() ?? null,
    env: process.env,
    readTextFile: (path) => readFile(path, 'utf8'),
  }
}

/** Parses os-release(5): KEY=value lines, values optionally single- or double-quoted. */
export function parseOsRelease(text: string): Record<string, string> {
  const fields: Record<string, string> = {}
  for (const line of text.split(/\r?\n/)) {
    const match = /^\s*([A-Z0-9_]+)\s*=\s*(.*?)\s*$/.exec(line)
    if (!match?.[1]) continue
    fields[match[1]] = unquote(match[2] ?? '')
  }
  return fields
}

function unquote(value: string): string {
  const quoted = /^"(.*)"$/.exec(value) ?? /^'(.*)'$/.exec(value)
  if (!quoted) return value
  // Double-quoted values may escape ", \, $ and ` with a backslash.
  return value.startsWith('"') ? (quoted[1] ?? '').replace(/\\(["\\$`])/g, '$1') : (quoted[1] ?? '')
}

async function readOsRelease(source: HostSource): Promise<Record<string, string> | null> {
  for (const path of OS_RELEASE_PATHS) {
    try {
      return parseOsRelease(await source.readTextFile(path))
    } catch {
      // Missing or unreadable: try the next location, then fall back to the kernel release.
    }
  }
  return null
}

async function linuxOs(source: HostSource): Promise<{osName: string; osVersion: string}> {
  const release = await readOsRelease(source)
  return {
    osName: release?.PRETTY_NAME || release?.NAME || 'Linux',
    osVersion: release?.VERSION_ID || source.release,
  }
}

async function macosOs(source: HostSource, runner?: Runner): Promise<{osName: string; osVersion: string}> {
  if (runner) {
    const result = await runner('sw_vers', ['-productVersion'], {timeoutMs: SW_VERS_TIMEOUT_MS})
    const version = result.stdout.trim()
    if (succeeded(result) && version) return {osName: 'macOS', osVersion: version}
  }
  return {osName: 'macOS', osVersion: source.release}
}

function windowsOs(source: HostSource): {osName: string; osVersion: string} {
  // os.version() is the product name ("Windows 11 Pro"); os.release() is the build ("10.0.22631").
  return {osName: source.version || 'Windows', osVersion: source.release}
}

async function osIdentity(platform: HostPlatform, source: HostSource, runner?: Runner) {
  if (platform === 'macos') return macosOs(source, runner)
  if (platform === 'windows') return windowsOs(source)
  return linuxOs(source)
}

/** The home directories (6th field) of an /etc/passwd text: absolute ones, in order, deduplicated. */
export function parsePasswdHomes(text: string): string[] {
  const homes: string[] = []
  for (const line of text.split(/\r?\n/)) {
    if (line === '' || line.startsWith('#')) continue
    const home = line.split(':')[5]
    if (home?.startsWith('/') && !homes.includes(home)) homes.push(home)
  }
  return homes
}

/** Run as root: every account's home, so the policy can deny them (an unreadable list is empty). */
async function userHomes(platform: HostPlatform, source: HostSource): Promise<string[] | undefined> {
  if (source.uid !== 0 || platform === 'windows') return undefined
  return parsePasswdHomes(await source.readTextFile('/etc/passwd').catch(() => ''))
}

export async function probeHostFacts(runner?: Runner, source: HostSource = nodeHostSource()): Promise<HostFacts> {
  const platform = platformFromNode(source.nodePlatform)
  const [{osName, osVersion}, homes] = await Promise.all([osIdentity(platform, source, runner), userHomes(platform, source)])
  return {
    platform,
    osName,
    osVersion,
    kernel: source.release,
    arch: source.arch,
    homeDir: source.homeDir,
    uid: source.uid,
    isRoot: source.uid === 0,
    env: source.env,
    caseInsensitivePaths: platform === 'macos' || platform === 'windows',
    ...(homes ? {userHomes: homes} : {}),
  }
}
