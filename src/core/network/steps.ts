/**
 * The egress sidecar's plan steps (network mode allowlist): before the agent's container, the
 * run's internal network and the proxy; just before the agent starts, the wait until the proxy
 * listens; after the session, its log (the evidence's destinations), then both removed. The
 * executor runs exactly these argv (launch/execute.ts), and removes both on every way out.
 */
import {step, type Step} from '../plan/plan.js'
import {podmanArgv, type PodmanContext} from '../podman/context.js'
import {
  networkConnectArgv,
  networkCreateArgv,
  networkRemoveArgv,
  poolCheckArgv,
  poolNetworksArgv,
  holderRemoveArgv,
  holderRunArgv,
  holderStartArgv,
  sharedLogsArgv,
  sharedProxyStateArgv,
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
  /** The shared proxy's extra steps (pool.ts); then networkRemove and sidecarRemove are never run. */
  shared?: SharedSteps
}

export interface SharedSteps {
  /** Attach the proxy to the leased network (when it is not on it yet). */
  connect: Step
  /** Is the proxy there, running, of this key and image? (before setting up, when the pool is not known ready) */
  proxyState: Step
  /** The pool's networks (reattached to a proxy that had to be replaced). */
  networks: Step
  /** Polled while a proxy just started is not listening yet. */
  readyLog: Step
  /** The whole log: when the podman host's clock is behind the lease's time, so --since could miss lines. */
  logAll: Step
  /** The proxy's ID and log file (after its set-up, podman on this host). */
  inspect: Step
  /** The slot's network holder (sidecar.ts holderRunArgv): created when missing, started when stopped, replaced when not of this slot; absent without a holder. */
  holder?: {run: Step; start: Step; remove: Step}
  /** What the check after the agent's init saw (podman's clock): when its container was created; the holder's ID the agent must have joined. */
  observed: {agentCreated?: number; state?: string; logPath?: string; logOffset?: number; holderId?: string}
}

export const READY_TIMEOUT_MS = 15_000

export function egressSteps(e: EgressSetup, ctx: Pick<PodmanContext, 'binary' | 'connection'>): EgressSteps {
  const n = e.allowlist.entries.length
  if (e.shared) return sharedEgressSteps(e, ctx, n)
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

/**
 * The shared proxy (pool.ts): the steps that set it up run only when this host has not seen the
 * leased network ready with the proxy on it; nothing of it is removed after the session (the
 * lease is given back; `docs/network.md` says how to remove the proxy).
 */
function sharedEgressSteps(e: EgressSetup, ctx: Pick<PodmanContext, 'binary' | 'connection'>, n: number): EgressSteps {
  const sh = e.shared!
  const h = sh.holder
  const rules = `it allows only the ${n} allowlisted host:port pair${n === 1 ? '' : 's'}, refuses private, loopback and link-local addresses after resolving names itself, and logs every request`
  return {
    setup: e,
    networkCreate: step(
      networkCreateArgv(e, ctx),
      `only when it does not exist yet: create the internal network ${e.network} (${e.subnet}), slot ${sh.slot} of the pool of the shared egress proxy ${e.sidecar}, leased to this run alone (concurrent runs get other networks): no route out and no DNS to the outside`,
      true,
    ),
    sidecarCreate: step(
      sidecarCreateArgv(e, ctx),
      `only when it is missing, stopped or not of this configuration: create the shared egress proxy ${e.sidecar} (Squid, from the same image; its name and labels carry the hash of its configuration and image, so a changed allowlist or image gets another proxy) on podman's ${OUTSIDE_NETWORK} network and this network at ${e.proxyAddress}, hardened (no capabilities, read-only root, nobody, nothing of the host mounted): ${rules}. A replaced proxy is reattached to the pool's other networks (podman network connect)`,
      true,
    ),
    sidecarStart: step(sidecarStartArgv(e, ctx), 'only with a new proxy: start it and wait until it listens', true),
    ready: step(
      poolCheckArgv(e, ctx),
      h
        ? `after the agent's container is initialised: check that the network holds only the shared proxy (running, of this configuration and image) and this slot's network holder ${h.name} (running, the one the agent joined, by its ID), and that no container but this run's agent is in the holder's network namespace; a crashed or stopped proxy is replaced before the agent starts, anything else refuses the launch`
        : `after the agent's container is initialised: check that the network holds only the shared proxy (running, of this configuration and image) and this run's agent at ${sh.agentAddress}; a crashed or stopped proxy is replaced before the agent starts, anything else on the network refuses the launch`,
      false,
    ),
    log: step(sharedLogsArgv(e, ctx), `after the session: read the shared proxy's access log since this run's lease (with podman on this host, its log file directly, from where it stood before the agent started); this run's lines are those from its agent's address (${sh.agentAddress}) since its container was created, every destination it tried (allowed or denied), for the evidence and the summary`, false),
    networkRemove: step(networkRemoveArgv(e, ctx), 'never run: the pool network stays for the next run', true),
    sidecarRemove: step(sidecarRemoveArgv(e, ctx), 'never run: the shared proxy stays for the next run', true),
    shared: {
      connect: step(networkConnectArgv(e, ctx), `only when it is not on it yet: attach the shared egress proxy to ${e.network} at ${e.proxyAddress}`, true),
      proxyState: step(sharedProxyStateArgv(e, ctx), 'only when this network is not known ready: is the shared proxy there and running, and of this configuration and image?', false),
      networks: step(poolNetworksArgv(e, ctx), 'only when the proxy is replaced: the pool networks to reattach', false),
      readyLog: step(sidecarLogsArgv(e, ctx), `only with a just-started proxy: wait (up to ${READY_TIMEOUT_MS / 1000} s) until it listens: its log says "${PROXY_READY_LINE}"`, false),
      logAll: step(sidecarLogsArgv(e, ctx), 'only when the podman host’s clock is behind this host’s: the whole log instead of --since', false),
      inspect: step(podmanArgv(ctx, ['container', 'inspect', '--format={{.Id}} {{.HostConfig.LogConfig.Type}} {{.HostConfig.LogConfig.Path}}', e.sidecar]), 'only after setting up the proxy, with podman on this host: its ID and log file (then read directly after a session, from where it stood before the agent started)', false),
      ...(h
        ? {
            holder: {
              run: step(
                holderRunArgv(e, ctx),
                `only when it is missing or not of this slot: create and start the network holder ${h.name} on ${e.network} at ${sh.agentAddress}, whose network namespace the agent joins (no namespace set-up or teardown per run): no capability at all, no-new-privileges, read-only root, nobody, nothing mounted, no resolver${h.keepId ? ', a keep-id user namespace the agent joins too' : ''}; it stays for the slot's next runs`,
                true,
              ),
              start: step(holderStartArgv(e, ctx), `only when it is stopped: start the network holder ${h.name} again`, true),
              remove: step(holderRemoveArgv(e, ctx), `only when a container of another slot, image or role holds its name: remove it (then created again)`, true),
            },
          }
        : {}),
      observed: {},
    },
  }
}

/** In plan order: before the agent's container (the proxy's create and start run alongside the agent's create, init and checks). */
export const egressBefore = (s: EgressSteps): Step[] =>
  s.shared ? [s.shared.proxyState, s.networkCreate, s.shared.connect, s.sidecarCreate, s.sidecarStart, ...(s.shared.holder ? [s.shared.holder.start, s.shared.holder.remove, s.shared.holder.run] : [])] : [s.networkCreate, s.sidecarCreate, s.sidecarStart]
/** In plan order: after the session (the by-name removal only runs when the network's removal failed; nothing is removed of a shared proxy). */
export const egressAfter = (s: EgressSteps): Step[] => (s.shared ? [s.log, s.shared.logAll] : [s.log, s.networkRemove, s.sidecarRemove])
