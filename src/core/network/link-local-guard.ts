/**
 * Network mode `open` still refuses the link-local range, where cloud metadata endpoints live
 * (169.254.169.254, fd00:ec2::254, Alibaba's 100.100.100.200): a small guard container holds the
 * network namespace, adds `unreachable` routes for those ranges with the one capability it has
 * (NET_ADMIN, over its own namespace only), then sleeps. The agent's container joins that
 * namespace (`--network=container:<guard>`) without any capability, so it cannot lift the routes.
 * Pure: names and argv; execute.ts runs them, teardown removes the guard on every way out.
 */
import {step, type Step} from '../plan/plan.js'
import {podmanArgv, type PodmanContext} from '../podman/context.js'

const LABEL_PREFIX = 'dev.sourceos.agent-machine'
type Target = Pick<PodmanContext, 'binary' | 'connection'>

/** Routed nowhere inside the agent's network namespace (docs/network.md). */
export const GUARDED_RANGES_V4 = ['169.254.0.0/16', '100.100.100.200/32']
export const GUARDED_RANGES_V6 = ['fd00:ec2::254/128']
export const GUARD_READY_LINE = 'sourceos-link-local-guard-ready'

export const guardName = (runId: string): string => `sourceos-netguard-${runId}`

export const GUARD_SCRIPT = [
  'set -e',
  ...GUARDED_RANGES_V4.map((r) => `ip route add unreachable ${r}`),
  // IPv6 may be off in the namespace: then there is no v6 route to guard
  ...GUARDED_RANGES_V6.map((r) => `ip -6 route add unreachable ${r} 2>/dev/null || true`),
  `echo ${GUARD_READY_LINE}`,
  'exec sleep 2147483647',
].join('; ')

export interface GuardSteps {
  name: string
  create: Step
  start: Step
  /** Polled until the routes are in place (the ready line), like the egress proxy's readiness. */
  ready: Step
  remove: Step
}

/**
 * rootless: the guard runs in a keep-id user namespace (as the user, with NET_ADMIN as an ambient
 * capability) and the agent joins that namespace too — the network namespace belongs to it, and the
 * agent's /sys mount needs that. rootful: the guard is root in the container, with no user namespace.
 */
export function linkLocalGuardSteps(opts: {runId: string; image: string; rootless: boolean}, ctx: Target): GuardSteps {
  const name = guardName(opts.runId)
  return {
    name,
    create: step(
      podmanArgv(ctx, [
        'create',
        `--name=${name}`,
        '--cap-drop=all',
        // only to add the routes in its own network namespace; the agent that joins it has none
        '--cap-add=NET_ADMIN',
        '--security-opt=no-new-privileges',
        '--read-only',
        '--http-proxy=false',
        '--pull=never',
        '--pids-limit=16',
        '--memory=32m',
        // rootful: root in the container, for `ip route` (the image's user may not be); rootless: the user, keep-id
        ...(opts.rootless ? ['--userns=keep-id'] : ['--user=0:0']),
        `--label=${LABEL_PREFIX}.run-id=${opts.runId}`,
        `--label=${LABEL_PREFIX}.role=link-local-guard`,
        opts.image,
        '/bin/sh',
        '-c',
        GUARD_SCRIPT,
      ]),
      `create the link-local guard (network mode open): it holds the agent's network namespace and routes ${[...GUARDED_RANGES_V4, ...GUARDED_RANGES_V6].join(', ')} nowhere (cloud metadata), with NET_ADMIN over that namespace only; the agent joins it with no capability to undo it`,
      true,
    ),
    start: step(podmanArgv(ctx, ['start', name]), 'start the link-local guard', true),
    ready: step(podmanArgv(ctx, ['logs', name]), `wait until the guard's routes are in place (its log says "${GUARD_READY_LINE}")`, false),
    remove: step(podmanArgv(ctx, ['rm', '--force', '--time=0', name]), 'remove the link-local guard (also on Ctrl-C or a failure)', true),
  }
}

/** The agent's container shares the guard's network namespace. */
export const guardedNetworkArgs = (g: Pick<GuardSteps, 'name'>): string[] => [`--network=container:${g.name}`]
