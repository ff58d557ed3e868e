/**
 * The egress sidecar's plan steps (network mode allowlist): before the agent's container, the
 * run's internal network and the proxy; just before the agent starts, the wait until the proxy
 * listens; after the session, its log (the evidence's destinations), then both removed. The
 * executor runs exactly these argv (launch/execute.ts), and removes both on every way out.
 */
import {step, type Step} from '../plan/plan.js'
import type {PodmanContext} from '../podman/context.js'
import {
  networkCreateArgv,
  networkRemoveArgv,
  OUTSIDE_NETWORK,
  PROXY_READY_LINE,
  sidecarCreateArgv,
  sidecarLogsArgv,
  sidecarRemoveArgv,
  sidecarStartArgv,
  type EgressSetup,
} from './sidecar.js'

export interface EgressSteps {
  setup: EgressSetup
  networkCreate: Step
  sidecarCreate: Step
  sidecarStart: Step
  /** Polled (podman logs) until Squid listens, up to READY_TIMEOUT_MS. */
  ready: Step
  /** After the session: the access log for the evidence. */
  log: Step
  /** Removes the network and the proxy on it (--force). */
  networkRemove: Step
  /** A fallback, not in the plan's order of things run: only when networkRemove failed. */
  sidecarRemove: Step
}

export const READY_TIMEOUT_MS = 15_000

export function egressSteps(e: EgressSetup, ctx: Pick<PodmanContext, 'binary' | 'connection'>): EgressSteps {
  const n = e.allowlist.entries.length
  return {
    setup: e,
    networkCreate: step(networkCreateArgv(e, ctx), `create the run's own internal network ${e.network} (${e.subnet}): no route out and no DNS to the outside; the agent's container is on it alone with the proxy`, true),
    sidecarCreate: step(
      sidecarCreateArgv(e, ctx),
      `create the egress proxy (Squid, from the same image) on that network at ${e.proxyAddress} and on podman's ${OUTSIDE_NETWORK} network, hardened (no capabilities, read-only root, nobody, nothing of the host mounted): it allows only the ${n} allowlisted host:port pair${n === 1 ? '' : 's'}, refuses private, loopback and link-local addresses after resolving names itself, and logs every request`,
      true,
    ),
    sidecarStart: step(sidecarStartArgv(e, ctx), 'start the egress proxy (its create and start run alongside the agent container’s create, init and checks)', true),
    ready: step(sidecarLogsArgv(e, ctx), `wait (up to ${READY_TIMEOUT_MS / 1000} s) until the proxy listens: its log says "${PROXY_READY_LINE}"`, false),
    log: step(sidecarLogsArgv(e, ctx), 'after the session: read the proxy’s access log, every destination the agent tried (allowed or denied), for the evidence and the summary', false),
    networkRemove: step(networkRemoveArgv(e, ctx), `remove the run's internal network ${e.network} and, with it, the egress proxy (also on Ctrl-C or a failure; a killed CLI’s leftovers are removed by the next launch)`, true),
    sidecarRemove: step(sidecarRemoveArgv(e, ctx), 'only when removing the network failed: remove the egress proxy by name', true),
  }
}

/** In plan order: before the agent's container (the proxy's create and start run alongside the agent's create, init and checks). */
export const egressBefore = (s: EgressSteps): Step[] => [s.networkCreate, s.sidecarCreate, s.sidecarStart]
/** In plan order: after the session (the by-name removal only runs when the network's removal failed). */
export const egressAfter = (s: EgressSteps): Step[] => [s.log, s.networkRemove, s.sidecarRemove]
