import {mkdtemp, rm, writeFile, mkdir} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {AgentMachineError, ExitCode} from '../../../src/core/errors.js'
import {loadProfileFile, parseProfile} from '../../../src/core/profile/loader.js'

// Line numbers below refer to this text (line 1 = apiVersion).
const VALID = `apiVersion: sourceos.dev/v1alpha1
kind: AgentMachineProfile
metadata:
  name: test
spec:
  platform: linux
  image:
    ref: localhost/sourceos/agent:latest
    digest: null
    pull: never
  mounts:
    - source: ~/dev/app
      target: /workspace/app
      mode: rw
  tools:
    codex: {enabled: true, command: [codex]}
  env: {passthrough: [TERM], set: {}}
  network: {mode: default}
  resources: {cpus: 2, memory: 4g, pidsLimit: 1024}
  secrets: {door: none}
`

function failure(text: string, source = 'p.yaml'): AgentMachineError {
  try {
    parseProfile(text, source)
  } catch (error) {
    expect(error).toBeInstanceOf(AgentMachineError)
    return error as AgentMachineError
  }
  throw new Error('expected parseProfile to throw')
}

function expectInvalid(text: string, line: number, col: number, messagePart: string, fixPart?: string): AgentMachineError {
  const err = failure(text)
  expect(err.code).toBe('PROFILE_INVALID')
  expect(err.exitCode).toBe(ExitCode.USAGE)
  expect(err.message).toMatch(new RegExp(`^p\\.yaml:${line}:${col}: `))
  expect(err.message).toContain(messagePart)
  expect(err.message).not.toContain('\n')
  if (fixPart) expect(err.fix).toContain(fixPart)
  return err
}

describe('parseProfile', () => {
  it('accepts a valid profile', () => {
    const profile = parseProfile(VALID, 'p.yaml')
    expect(profile.spec.mounts).toEqual([{source: '~/dev/app', target: '/workspace/app', mode: 'rw'}])
    expect(profile.spec.image.digest).toBeNull()
    expect(profile.spec.tools.codex?.command).toEqual(['codex'])
  })

  it('reports YAML syntax errors with line:col', () => {
    const err = expectInvalid(VALID.replace('    pull: never', '   pull: never'), 10, 1, 'YAML syntax error: All mapping items must start at the same column', 'indentation')
    expect(err.message).not.toMatch(/at line \d+/)
    expectInvalid(VALID.replace('  platform: linux', '  platform: [linux'), 7, 3, 'YAML syntax error')
    expectInvalid(VALID.replace('  name: test', '  name: test: x'), 4, 9, 'Nested mappings are not allowed')
    expectInvalid(VALID.replace('  platform: linux', '  platform: linux\n\tfoo: 1'), 7, 1, 'Tabs are not allowed', 'spaces, not tabs')
  })

  it('reports an alias to an unknown anchor at the alias', () => {
    expectInvalid(VALID.replace('  name: test', '  name: *nope'), 4, 9, "unknown alias '*nope'", "define the anchor '&nope'")
  })

  it('reports duplicate keys', () => {
    expectInvalid(VALID.replace('kind: AgentMachineProfile', 'kind: AgentMachineProfile\nkind: Other'), 3, 1, 'unique', 'keep only one')
  })

  it('refuses more than one YAML document', () => {
    expectInvalid(`${VALID}---\n${VALID}`, 21, 1, 'YAML syntax error', 'single YAML document')
  })

  it('points an unknown top-level key at the key', () => {
    const err = expectInvalid(`${VALID}extra: 1\n`, 21, 1, "unknown key 'extra' at the top level", 'remove the key; allowed keys here are: apiVersion, kind, metadata, spec')
    expect(err.details?.issues).toEqual([
      {path: 'extra', line: 21, col: 1, message: "unknown key 'extra' at the top level", fix: expect.stringContaining('remove the key')},
    ])
  })

  it('points a nested unknown key (spec.mounts[0].foo) at the key', () => {
    expectInvalid(
      VALID.replace('      mode: rw', '      mode: rw\n      foo: bar'),
      15, 7,
      "unknown key 'foo' in spec.mounts[0]",
      'allowed keys here are: source, target, mode',
    )
  })

  it('finds unknown keys inside flow mappings and suggests a close spelling', () => {
    const err = expectInvalid(VALID.replace('{mode: default}', '{mode: default, mdoe: none}'), 18, 28, "unknown key 'mdoe' in spec.network", "did you mean 'mode'?")
    expect(err.fix).toContain('allowed keys here are: mode')
  })

  it('reports a wrong type at the value', () => {
    expectInvalid(VALID.replace('cpus: 2', "cpus: 'two'"), 19, 21, "spec.resources.cpus: expected a number, got the string 'two'", 'write a number')
    expectInvalid(VALID.replace('  mounts:\n    - source: ~/dev/app\n      target: /workspace/app\n      mode: rw', '  mounts: ~/dev/app'), 11, 11, 'spec.mounts: expected a list', 'write a list here')
  })

  it('reports a bad enum value with the allowed values', () => {
    expectInvalid(VALID.replace('mode: rw', 'mode: rx'), 14, 13, "spec.mounts[0].mode: invalid value 'rx'", 'expected one of: rw, ro')
    expectInvalid(VALID.replace('platform: linux', 'platform: beos'), 6, 13, 'spec.platform', 'expected one of: macos, linux, windows')
    expectInvalid(VALID.replace('kind: AgentMachineProfile', 'kind: Profile'), 2, 7, "kind: invalid value 'Profile'", 'expected: AgentMachineProfile')
  })

  it('reports format violations with the schema message as the fix', () => {
    expectInvalid(VALID.replace('target: /workspace/app', 'target: /workspace/../etc'), 13, 15, 'spec.mounts[0].target', 'under /workspace')
    expectInvalid(VALID.replace('ref: localhost/sourceos/agent:latest', 'ref: --privileged'), 8, 10, 'spec.image.ref', 'must not start with -')
  })

  it('points a missing required key at its mapping', () => {
    expectInvalid(VALID.replace('    pull: never\n', ''), 8, 5, "missing required key 'pull' in spec.image", "add 'pull'")
  })

  it('headlines a misspelt key rather than the missing key it stands for', () => {
    const err = expectInvalid(VALID.replace('  secrets: {door: none}', '  secret: {door: none}'), 20, 3, "unknown key 'secret' in spec", "did you mean 'secrets'?")
    const issues = err.details?.issues as Array<{message: string; line: number; col: number}>
    expect(issues[1]).toMatchObject({message: "missing required key 'secrets' in spec", line: 6, col: 3})
  })

  it('says when an optional section may simply be removed', () => {
    expectInvalid(VALID.replace('  platform: linux', '  platform: linux\n  machine:'), 7, 3, 'spec.machine: expected a mapping', 'or remove the key')
  })

  it('explains numeric bounds and empty lists', () => {
    expectInvalid(VALID.replace('pidsLimit: 1024', 'pidsLimit: 8'), 19, 47, 'spec.resources.pidsLimit: 8 is too small', 'must be >= 16')
    expectInvalid(VALID.replace('command: [codex]', 'command: []'), 16, 37, 'spec.tools.codex.command: the list is empty', 'must have at least 1 item')
  })

  it('points an empty value at its key', () => {
    expectInvalid(VALID.replace('  name: test', '  name:'), 4, 3, 'metadata.name: expected a string, got an empty value (null)')
  })

  it('reports bad env names at the key', () => {
    expectInvalid(VALID.replace('set: {}', "set: {'bad-name': x}"), 17, 36, "invalid key 'bad-name' in spec.env.set", 'letters, digits and _')
  })

  it('headlines the earliest issue and lists all in details', () => {
    const err = failure(VALID.replace('mode: rw', 'mode: rx').replace('platform: linux', 'platform: beos'))
    expect(err.message).toMatch(/^p\.yaml:6:13: /)
    const issues = err.details?.issues as Array<{path: string; line: number; col: number}>
    expect(issues.map((i) => [i.path, i.line, i.col])).toEqual([['spec.platform', 6, 13], ['spec.mounts[0].mode', 14, 13]])
  })

  it('refuses empty and comment-only files', () => {
    expectInvalid('', 1, 1, 'the profile is empty')
    expectInvalid('# nothing here\n', 1, 1, 'the profile is empty')
  })

  it('refuses a non-mapping document', () => {
    expectInvalid('- a\n- b\n', 1, 1, '(root): expected a mapping, got a list')
  })

  it('handles CRLF line endings', () => {
    expect(parseProfile(VALID.replace(/\n/g, '\r\n'), 'p.yaml').metadata.name).toBe('test')
    expectInvalid(VALID.replace('mode: rw', 'mode: rx').replace(/\n/g, '\r\n'), 14, 13, 'spec.mounts[0].mode')
  })
})

describe('loadProfileFile', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sourceos-loader-'))
  })
  afterAll(async () => {
    await rm(dir, {recursive: true, force: true})
  })

  it('returns the profile and its text', async () => {
    const file = join(dir, 'ok.yaml')
    await writeFile(file, VALID)
    const {profile, text} = await loadProfileFile(file)
    expect(text).toBe(VALID)
    expect(profile.metadata.name).toBe('test')
  })

  it('says PROFILE_MISSING (exit 4) with the init command for a missing file', async () => {
    const err = await loadProfileFile(join(dir, 'nope.yaml')).catch((e: unknown) => e)
    expect(err).toMatchObject({code: 'PROFILE_MISSING', exitCode: ExitCode.PREREQUISITE})
    expect((err as AgentMachineError).fix).toContain('sourceosctl agent-machine init --profile <template> --repo <path>')
  })

  it('says PROFILE_UNREADABLE for a directory', async () => {
    const sub = join(dir, 'adir.yaml')
    await mkdir(sub)
    await expect(loadProfileFile(sub)).rejects.toMatchObject({code: 'PROFILE_UNREADABLE', exitCode: ExitCode.PREREQUISITE})
  })

  it('refuses non-regular and oversized files without reading them', async () => {
    if (process.platform !== 'win32') {
      await expect(loadProfileFile('/dev/null')).rejects.toMatchObject({code: 'PROFILE_UNREADABLE', message: 'cannot read the profile /dev/null: it is not a regular file'})
    }
    const big = join(dir, 'big.yaml')
    await writeFile(big, `# ${'x'.repeat(1024 * 1024)}\n`)
    await expect(loadProfileFile(big)).rejects.toMatchObject({code: 'PROFILE_INVALID', exitCode: ExitCode.USAGE, message: expect.stringMatching(/^.*big\.yaml:1:1: the profile is \d+ bytes/)})
  })

  it('accepts a UTF-8 byte-order mark', async () => {
    const file = join(dir, 'bom.yaml')
    await writeFile(file, `\uFEFF${VALID}`)
    expect((await loadProfileFile(file)).profile.metadata.name).toBe('test')
  })

  it('names the file in validation errors; an empty file is PROFILE_INVALID', async () => {
    const file = join(dir, 'empty.yaml')
    await writeFile(file, '')
    await expect(loadProfileFile(file)).rejects.toMatchObject({code: 'PROFILE_INVALID', message: `${file}:1:1: the profile is empty`})
  })
})
