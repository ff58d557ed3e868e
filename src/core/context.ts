/**
 * The seam between commands and the outside world. Commands ask the context for the Runner and
 * the host facts; tests replace them (a recording/fake Runner, injected macOS/Windows facts).
 */
import {createAttachedRunner, createRunner, type AttachedRunner, type Runner} from './exec.js'
import type {HostFacts} from './host/facts.js'

export interface CoreContext {
  runner: Runner
  attachedRunner: AttachedRunner
  /** Host facts, probed once per process unless injected. */
  hostFacts: () => Promise<HostFacts>
  now: () => Date
}

let overrides: Partial<CoreContext> = {}
let cachedFacts: Promise<HostFacts> | undefined
let realRunner: Runner | undefined
let realAttached: AttachedRunner | undefined

export function getContext(): CoreContext {
  return {
    runner: overrides.runner ?? (realRunner ??= createRunner()),
    attachedRunner: overrides.attachedRunner ?? (realAttached ??= createAttachedRunner()),
    hostFacts:
      overrides.hostFacts ??
      (() =>
        (cachedFacts ??= import('./host/probe.js').then((m) => m.probeHostFacts()))),
    now: overrides.now ?? (() => new Date()),
  }
}

/** Test seam: replace parts of the context. */
export function setContext(partial: Partial<CoreContext>): void {
  overrides = {...overrides, ...partial}
}

export function resetContext(): void {
  overrides = {}
  cachedFacts = undefined
}
