import {createHash} from 'node:crypto'

/** `sha256:<hex>` over the UTF-8 bytes of a string. */
export function sha256Prefixed(text: string): string {
  return `sha256:${createHash('sha256').update(text, 'utf8').digest('hex')}`
}
