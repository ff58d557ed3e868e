/**
 * Doctor on a remote Podman host (the profile's spec.connection): the mount sources are folders on
 * that server, so this host cannot stat them. Each is judged as a string (policy/remote-source.ts)
 * and then checked THERE, through podman itself: one short, throw-away container per source,
 *
 *   podman --connection <c> run --rm --pull=never --network=none --read-only --cap-drop=all
 *     --security-opt=no-new-privileges -v <source>:/m:ro --entrypoint=test <image> -d /m
 *
 * Podman refuses a bind source that does not exist (`statfs <source>: no such file or directory`,
 * exit 125); `test -d` says whether it is a folder. Nothing is written on either host (--rm, a
 * read-only mount and root filesystem, no network). A launch does not run it: its `podman create`
 * refuses a missing source by itself.
 */
import {AgentMachineError} from '../errors.js'
import type {Runner} from '../exec.js'
import type {HostFacts} from '../host/facts.js'
import {podmanArgs, type PodmanContext} from '../podman/context.js'
import {judgeRemoteSource} from '../policy/remote-source.js'
import type {ProfileMount} from '../profile/schema.js'
import type {Check} from './report.js'

/** What doctor (and a launch) can and cannot verify on a remote host: the detail of its own check. */
export const REMOTE_VERIFIED = 'verified: the connection answers; each mount source path passes the deny catalogue as a string (absolute, normal, no home or credential folder); each exists as a folder on the remote host (a throw-away read-only container through the connection); a launch verifies the container’s configuration with inspect-paths'
export const REMOTE_NOT_VERIFIED = 'NOT verified: symlinks on the remote host (podman follows them there), no hazard scan of the remote trees (sockets, links into secrets, mount points, hard links), no inode pins, git hooks and config are not mounted read-only, and no after-session integrity check of the remote trees (a launch says so in its warnings and its evidence)'

/** The argv (after the program) of the existence check of one remote source. */
export function remoteSourceCheckArgs(ctx: Pick<PodmanContext, 'connection'>, source: string, imageRef: string): string[] {
  return podmanArgs(ctx, [
    'run', '--rm', '--pull=never', '--network=none', '--read-only', '--cap-drop=all', '--security-opt=no-new-privileges',
    '-v', `${source}:/m:ro`, '--entrypoint=test', imageRef, '-d', '/m',
  ])
}

export async function remoteMountChecks(opts: {runner: Runner; host: HostFacts; ctx: PodmanContext; mounts: readonly ProfileMount[]; imageRef: string; timeoutMs: number}): Promise<Check[]> {
  const {ctx} = opts
  const conn = ctx.connection ?? '(none)'
  const mountChecks = await Promise.all(opts.mounts.map(async (m): Promise<Check> => {
    const id = `mount:${m.target}`
    const title = `mount ${m.source} → ${m.target} (on remote host ${conn})`
    const started = performance.now()
    try {
      judgeRemoteSource(m.source, opts.host, 'mount')
    } catch (error) {
      if (!(error instanceof AgentMachineError)) throw error
      return {id, title, status: 'fail', required: true, detail: error.message, fix: error.fix ?? null, durationMs: 0}
    }
    const result = await opts.runner(ctx.binary, remoteSourceCheckArgs(ctx, m.source, opts.imageRef), {timeoutMs: opts.timeoutMs})
    const durationMs = Math.round(performance.now() - started)
    const how = `checked through podman on ${conn} (a throw-away read-only container)`
    if (result.timedOut) return {id, title, status: 'timeout', required: true, detail: `the check of ${m.source} on ${conn} did not finish within the deadline`, fix: 'rerun with a longer --timeout', durationMs}
    if (result.exitCode === 0) return {id, title, status: 'ok', required: true, detail: `${m.source} exists as a folder on ${conn}; ${how}`, fix: null, durationMs}
    if (result.exitCode === 1) return {id, title, status: 'fail', required: true, detail: `${m.source} exists on ${conn} but is not a folder; ${how}`, fix: 'mount a folder on the remote host', durationMs}
    const said = (result.stderr || result.stdout).trim().split('\n').filter(Boolean).pop() ?? `exit ${result.exitCode}`
    const missing = /no such file or directory/i.test(said)
    return {
      id,
      title,
      status: 'fail',
      required: true,
      detail: missing ? `${m.source} does not exist on ${conn}: ${said}` : `could not check ${m.source} on ${conn}: ${said}`,
      fix: missing ? `create it on the remote host, or fix spec.mounts` : `the check needs the profile's image on ${conn} (\`podman --connection ${conn} image exists ${opts.imageRef}\`) and the connection to answer`,
      durationMs,
    }
  }))
  const limits: Check = {
    id: 'remote-host-limits',
    title: `What is verified on remote Podman host ${conn}`,
    status: 'warn',
    required: false,
    detail: `${REMOTE_VERIFIED}. ${REMOTE_NOT_VERIFIED}.`,
    fix: 'nothing to fix: this is what a remote host allows (README, "Remote Podman host"); keep secrets off that server’s mounted folders',
    durationMs: 0,
  }
  return [...mountChecks, limits]
}
