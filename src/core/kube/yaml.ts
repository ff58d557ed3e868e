/** The manifest as YAML: one document per object, `---` between them (what `kubectl apply -f` and `podman kube play` read). */
import {stringify} from 'yaml'

import type {KubeObject} from './manifest.js'

export function renderManifest(objects: readonly KubeObject[], header?: string): string {
  const docs = objects.map((o) => stringify(o, {lineWidth: 0, blockQuote: 'literal'}).trimEnd())
  const head = header ? `${header.split('\n').map((l) => `# ${l}`.trimEnd()).join('\n')}\n` : ''
  return `${head}${docs.join('\n---\n')}\n`
}
