/**
 * Is a directory there and usable (listable and enterable)? Read-only: stat, access and opendir;
 * it never creates, changes or follows anything beyond what stat itself resolves.
 */
import {constants} from 'node:fs'
import {access, opendir, stat} from 'node:fs/promises'

export type DirStatus = 'ok' | 'missing' | 'not-a-directory' | 'unreadable'

export interface DirCheck {
  path: string
  status: DirStatus
  /** What went wrong, one line; null when ok. */
  detail: string | null
}

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String((error as {code: unknown}).code) : undefined
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

export async function checkDirectory(path: string): Promise<DirCheck> {
  try {
    const stats = await stat(path)
    if (!stats.isDirectory()) return {path, status: 'not-a-directory', detail: `${path} exists but is not a directory`}
  } catch (error) {
    const code = errorCode(error)
    // ENOTDIR: a parent component is a file, so the directory cannot exist either.
    if (code === 'ENOENT' || code === 'ENOTDIR') return {path, status: 'missing', detail: `${path} does not exist`}
    return {path, status: 'unreadable', detail: `cannot stat ${path}: ${errorText(error)}`}
  }

  try {
    await access(path, constants.R_OK | constants.X_OK)
  } catch (error) {
    return {path, status: 'unreadable', detail: `${path} is not readable and searchable by this user: ${errorText(error)}`}
  }

  // access() can be optimistic (root, ACLs, network file systems): actually open the listing.
  try {
    const dir = await opendir(path)
    await dir.close()
  } catch (error) {
    return {path, status: 'unreadable', detail: `cannot list ${path}: ${errorText(error)}`}
  }

  return {path, status: 'ok', detail: null}
}
