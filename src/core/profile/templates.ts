/**
 * Shipped profile templates: `profiles/*.yaml` at the package root. This file sits two levels
 * below the root in both layouts (src/core/profile under vitest, dist/core/profile after tsc).
 */
import {readdir, readFile} from 'node:fs/promises'
import {join} from 'node:path'

import {usageError} from '../errors.js'
import {packageRoot} from '../util/package-root.js'
import {parseProfile} from './loader.js'
import type {AgentMachineProfile} from './schema.js'

const TEMPLATE_EXT = '.yaml'

/** Absolute path of the shipped `profiles/` directory. */
export function templatesDir(): string {
  return join(packageRoot(), 'profiles')
}

/** Template names (file names without `.yaml`), sorted. */
export async function listTemplates(dir: string = templatesDir()): Promise<string[]> {
  const entries = await readdir(dir, {withFileTypes: true})
  return entries
    .filter((e) => e.isFile() && e.name.endsWith(TEMPLATE_EXT) && !e.name.startsWith('.'))
    .map((e) => e.name.slice(0, -TEMPLATE_EXT.length))
    .sort()
}

/** Loads and validates one template by name; unknown names list the valid ones. */
export async function loadTemplate(name: string, dir: string = templatesDir()): Promise<{profile: AgentMachineProfile; text: string; path: string}> {
  const names = await listTemplates(dir)
  const fix = `use one of: ${names.join(', ')}`
  // A name, never a path: no separators, no `..`, nothing that could leave profiles/.
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) || name.includes('..')) {
    throw usageError('TEMPLATE_UNKNOWN', `unknown template '${name}': template names are plain names, not paths`, fix, {name, templates: names})
  }
  const bare = name.endsWith(TEMPLATE_EXT) ? name.slice(0, -TEMPLATE_EXT.length) : name
  if (!names.includes(bare)) throw usageError('TEMPLATE_UNKNOWN', `unknown template '${name}'`, fix, {name, templates: names})
  const path = join(dir, `${bare}${TEMPLATE_EXT}`)
  const text = await readFile(path, 'utf8')
  return {profile: parseProfile(text, path), text, path}
}
