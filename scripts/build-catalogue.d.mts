// Types for scripts/build-catalogue.mjs (imported by the unit tests).
export const CATALOGUE_SCHEMA: string
export const REPO_ROOT: string
export const YAML_PATH: string
export const JSON_PATH: string
export function titleOf(name: string): string
export function buildCatalogue(yamlText: string): Record<string, unknown> & {entries: Array<Record<string, unknown>>}
export function renderCatalogue(catalogue: Record<string, unknown>): string
export function checkCatalogueDrift(opts?: {yamlPath?: string; jsonPath?: string}): {ok: boolean; message: string}
