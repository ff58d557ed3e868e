// Types for scripts/integration-gate.mjs (imported by the unit tests).
export const UNIT_ONLY: string
export function integrationGate(input: {
  uid: number
  env: Record<string, string | undefined>
  podmanWorks: boolean
  userExists: (name: string) => boolean
}): {mode: 'integration' | 'unit-only' | 'refuse'; line: string}
