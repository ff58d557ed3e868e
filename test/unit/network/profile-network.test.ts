import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {AgentMachineError} from '../../../src/core/errors.js'
import {parseProfile} from '../../../src/core/profile/loader.js'
import {networkMode} from '../../../src/core/profile/schema.js'

const template = readFileSync(join(import.meta.dirname, '..', '..', '..', 'profiles', 'linux-podman-native.yaml'), 'utf8')
const withNetwork = (yaml: string) => template.replace(/ {2}network:\n(?: {4}.*\n)+/, yaml)

function refusal(text: string): AgentMachineError {
  try {
    parseProfile(text, 'p.yaml')
  } catch (error) {
    return error as AgentMachineError
  }
  throw new Error('the profile was accepted')
}

describe('spec.network in a profile', () => {
  it('every template defaults to the allowlist', () => {
    for (const name of ['linux-podman-native', 'linux-podman-machine', 'macos-podman', 'windows-podman-wsl']) {
      const p = parseProfile(readFileSync(join(import.meta.dirname, '..', '..', '..', 'profiles', `${name}.yaml`), 'utf8'), name)
      expect(p.spec.network.mode).toBe('allowlist')
      expect(p.spec.network.allow).toEqual([])
    }
  })

  it('a bad allow entry is refused at its file:line:col, saying why and how to write it', () => {
    const text = withNetwork('  network:\n    mode: allowlist\n    allow:\n      - registry.npmjs.org\n      - "*"\n')
    const error = refusal(text)
    expect(error.code).toBe('PROFILE_INVALID')
    const line = text.split('\n').findIndex((l) => l.includes('- "*"')) + 1
    expect(error.message).toMatch(new RegExp(`^p\\.yaml:${line}:\\d+: .*allow entry '\\*' is refused: a bare \\* would allow every host`))
  })

  it.each([['10.1.2.3', /ip:10\.1\.2\.3:443/], ['evil.com\u0000', /control character/], ['https://x.example.com', /not a URL/]])('refuses %j', (entry, reason) => {
    expect(refusal(withNetwork(`  network:\n    mode: allowlist\n    allow: [${JSON.stringify(entry)}]\n`)).message).toMatch(reason)
  })

  it('the old name `default` still loads and means open; a missing mode means allowlist', () => {
    expect(networkMode(parseProfile(withNetwork('  network:\n    mode: default\n'), 'p').spec.network)).toBe('open')
    expect(parseProfile(withNetwork('  network: {}\n'), 'p').spec.network).toEqual({mode: 'allowlist', allow: [], proxy: 'per-run'})
  })
})
