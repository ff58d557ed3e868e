/** Reads recorded outputs from test/fixtures (provenance in each folder's README.md). */
import {readFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

const FIXTURES_DIR = fileURLToPath(new URL('../fixtures/', import.meta.url))

/** The exact bytes of a fixture as text, e.g. readFixture('podman/podman431-info-rootful.json'). */
export function readFixture(relativePath: string): string {
  return readFileSync(FIXTURES_DIR + relativePath, 'utf8')
}

/** A Podman fixture by file name (test/fixtures/podman/<name>). */
export function podmanFixture(name: string): string {
  return readFixture(`podman/${name}`)
}
