/**
 * The user namespace of a rootful launch (issue 10, defect 9: "rootful runs have no user
 * namespace"): container root must not be host root, and the files the agent writes in the repo
 * must still belong to the repo's owner.
 *
 * Rootless podman already runs in the invoking user's namespace (`--userns=keep-id`). Rootful
 * podman gets an explicit mapping, and the agent runs as the image's agent user (AGENT_ID):
 *
 *   container AGENT_ID (1000)  → host OWNER           (the owner of the --repo checkout)
 *   container 0 … 999          → host OWNER+1 … OWNER+1000
 *
 * Why this shape, on podman 4.3.1: `--userns=keep-id` is rootless-only; `--userns=auto` maps
 * container root and the agent into a fresh subordinate range, so the agent's files would belong
 * to an anonymous uid, not the repo's owner (and it needs a `containers` entry in /etc/subuid);
 * a mapping with a hole (agent → OWNER, the rest to a far-away range such as 200000+) fails in
 * podman 4.3.1 at `podman start` ("creating overlay mount … permission denied"): containers/storage
 * shifts the image with an idmapped mount only for a contiguous mapping and, for any other one,
 * makes a chowned copy that it then also tries to idmap. A permutation of ONE contiguous host block
 * [OWNER, OWNER+1000] is contiguous on both sides, so podman idmaps it, and it is the smallest
 * block that holds both container root (uid 0, which podman requires to be mapped) and the image's
 * agent user (uid 1000). Nothing in the container runs as any uid but AGENT_ID (podman-init and
 * the tool run with `--user`; --cap-drop=all and no-new-privileges forbid setuid), so container
 * root is only the owner of the image's files, mapped to an unprivileged host uid.
 */
import {stat} from 'node:fs/promises'
import path from 'node:path'

import {policyRefusal} from '../errors.js'

/** The image's agent user and group (images/agent/Containerfile, test/images): uid = gid = 1000. */
export const AGENT_ID = 1000
/** The largest host id Linux maps (2^32 - 2; 2^32 - 1 is "no id"). */
const MAX_HOST_ID = 4_294_967_294

/** Which host uid/gid the agent's files belong to in a rootful launch. */
export interface HostOwner {
  uid: number
  gid: number
}

export interface IdMapping {
  container: number
  host: number
  size: number
}

/** The uid (or gid) mapping for a host owner id: agent → owner, container 0…999 → owner+1…owner+1000. */
export function rootfulIdMap(owner: number): IdMapping[] {
  return [
    {container: 0, host: owner + 1, size: AGENT_ID},
    {container: AGENT_ID, host: owner, size: 1},
  ]
}

/** True when an id can own the mapping (a whole number whose block stays below 2^32 - 1). */
export function mappableOwner(id: number): boolean {
  return Number.isInteger(id) && id >= 0 && id + AGENT_ID <= MAX_HOST_ID
}

/** The podman flags of a rootful launch's user namespace. */
export function rootfulUsernsArgs(owner: HostOwner): string[] {
  const map = (flag: string, id: number): string[] => rootfulIdMap(id).map((m) => `--${flag}=${m.container}:${m.host}:${m.size}`)
  return [...map('uidmap', owner.uid), ...map('gidmap', owner.gid), `--user=${AGENT_ID}:${AGENT_ID}`]
}

/**
 * How `/proc/<pid>/uid_map` (or gid_map) of the container reads for this owner: one line per
 * range, "container host size", in the order podman writes them (by container id).
 */
export function expectedIdMapLines(owner: number): string[] {
  return [...rootfulIdMap(owner)].sort((a, b) => a.container - b.container).map((m) => `${m.container} ${m.host} ${m.size}`)
}

/**
 * The owner of `p`, or of its nearest existing ancestor (a --worktree checkout a plan step has not
 * created yet is made by the invoking user, in the state dir it owns). lstat: a symlink is never
 * followed (the mount source is already realpath'd).
 */
export async function ownerOfNearest(p: string): Promise<HostOwner> {
  let current = p
  for (;;) {
    try {
      const st = await stat(current)
      return {uid: st.uid, gid: st.gid}
    } catch (error) {
      const parent = path.dirname(current)
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || parent === current) throw error
      current = parent
    }
  }
}

/**
 * The host owner for a rootful launch whose --repo checkout is `checkout`: its owner (or its
 * nearest existing ancestor's). Refused when the id is too large to start a mapping block.
 */
export async function rootfulOwner(checkout: string): Promise<HostOwner> {
  const owner = await ownerOfNearest(checkout)
  if (!mappableOwner(owner.uid) || !mappableOwner(owner.gid)) {
    throw policyRefusal(
      'USERNS_OWNER_UNMAPPABLE',
      `${checkout} belongs to uid ${owner.uid} / gid ${owner.gid}, too large for the rootful user namespace (it maps ${AGENT_ID + 1} ids from there).`,
      'give the repository to an ordinary user, or run podman rootless',
    )
  }
  return owner
}
