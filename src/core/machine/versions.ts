/**
 * Podman version comparisons for version-gated machine behaviour (providers, init flags, the
 * Windows drive convention). Only major.minor.patch count: "5.3.1-dev" compares as 5.3.1.
 */

/** <0, 0, >0 like a sort comparator. Missing or non-numeric parts count as 0. */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string) => v.replace(/^v/i, '').split(/[.+~-]/).slice(0, 3).map((n) => Number.parseInt(n, 10) || 0)
  const pa = parts(a)
  const pb = parts(b)
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0)
    if (d !== 0) return d
  }
  return 0
}

export function atLeast(version: string, minimum: string): boolean {
  return compareVersions(version, minimum) >= 0
}

/** The major version, e.g. 5 for "5.3.1". */
export function majorOf(version: string): number {
  return Number.parseInt(version.replace(/^v/i, ''), 10) || 0
}
