/**
 * Mount sources on a remote Podman host (the profile's spec.connection). They are paths on that
 * server: this host cannot stat, realpath, scan or pin them. What CAN be judged here is the path
 * string itself, so it is judged strictly:
 *
 * - absolute and already normal (no `~`, `$VARS`, relative paths, `.`/`..` segments, `//`, a
 *   trailing `/`): `~` would mean the REMOTE user's home, which this host does not know;
 * - the local deny catalogue applied to the string (as a Linux path), plus what is a secret on any
 *   Linux server whatever its users are called: a home itself (`/root`, `/home/<user>`), a top-level
 *   system folder or `/`, and any credential folder by name (.ssh, .gnupg, .aws, …) at any depth.
 *
 * Symlinks on the remote host are NOT resolved (nothing here can): podman follows them there. That
 * limit is written down in docs/threat-model.md ("Remote Podman host").
 */
import {posix} from 'node:path'

import {policyRefusal} from '../errors.js'
import type {HostFacts} from '../host/facts.js'
import {judgeMountSource, refusalMessage} from './mount-policy.js'

/** Folder names that hold credentials on any Linux host: refused at any depth of a remote source. */
export const REMOTE_SECRET_SEGMENTS: readonly string[] = [
  '.ssh', '.gnupg', '.aws', '.azure', '.kube', '.docker', '.config', '.local', '.password-store', '.netrc', '.git-credentials',
  '.vault-token', '.terraform.d', '.npmrc', '.pypirc', '.cargo', '.gcloud', '.oci', '.pki', '.mozilla', '.var', 'keyrings',
]

const FIX = 'use an absolute, normal path on the remote host to the project folder itself, e.g. /srv/work/<repo>'

/**
 * Judges a remote mount source (or --repo) as a string; returns it unchanged when allowed, throws
 * a policy refusal (exit 3) otherwise. `what` names it in the message (`mount …`, `--repo …`).
 */
// Stryker disable next-line StringLiteral: `what` is message text only (how the refusal names the source)
export function judgeRemoteSource(source: string, host: HostFacts, what = 'mount source'): string {
  if (!source.startsWith('/')) {
    const why = source.startsWith('~')
      ? '`~` would be the remote user’s home, which this host does not know'
      : source.includes('$')
        ? '$VARS are not expanded for a remote host'
        : 'a relative path has no meaning on the remote host'
    throw policyRefusal('REMOTE_SOURCE_NOT_ABSOLUTE', `${what} ${source} is on the remote Podman host and must be an absolute path: ${why}.`, FIX)
  }
  const normal = posix.normalize(source)
  if (normal !== source || (source.length > 1 && source.endsWith('/'))) {
    throw policyRefusal('REMOTE_SOURCE_NOT_NORMAL', `${what} ${source} is on the remote Podman host and is not a normal path (${normal.replace(/\/$/, '') || '/'}): no . or .. segments, // or trailing /.`, FIX)
  }
  const segs = source.split('/').filter(Boolean)
  const secret = segs.find((s) => REMOTE_SECRET_SEGMENTS.includes(s.toLowerCase()))
  if (secret) throw policyRefusal('REMOTE_SOURCE_DENIED', `refusing to mount ${source} on the remote Podman host: it is or is inside ${secret}, a credential folder.`, FIX)
  const home = segs.length === 1 ? segs[0] === 'root' || segs[0] === 'home' : segs.length === 2 && segs[0] === 'home'
  if (segs.length < 2 || home) {
    throw policyRefusal('REMOTE_SOURCE_DENIED', `refusing to mount ${source} on the remote Podman host: ${home ? 'a whole home folder' : 'the root or a top-level system folder'} holds far more than one project.`, FIX)
  }
  // The local catalogue, applied to the string as a Linux path (this host's homes and system folders).
  const decision = judgeMountSource(source, {...host, platform: 'linux', caseInsensitivePaths: false})
  // Stryker disable next-line ObjectLiteral: equivalent: refusalMessage reads the platform only to strip Win32 prefixes, and a remote path is POSIX
  if (!decision.allowed) throw policyRefusal(decision.code, refusalMessage(source, decision.reason, {platform: 'linux'}, ' on the remote Podman host'), FIX, {path: source, rule: decision.rule})
  return source
}
