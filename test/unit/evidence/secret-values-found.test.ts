// Which values of a podman argv count as secrets (secretValuesOf) and how free text loses them
// (redactValuesIn), at the edges: env in every spelling, a value the policy sets itself, entries
// without a name or value, the command after the image, option names and --name=value; longest
// values first, short ones left alone, nothing redacted twice.
import {describe, expect, it} from 'vitest'

import {redactedValue as R, redactValuesIn, secretValuesOf} from '../../../src/core/evidence/redact.js'

describe('secretValuesOf', () => {
  it('every env value in each spelling, unless the policy sets exactly that value', () => {
    const argv = ['podman', 'create', '--env=A=1', '--env', 'B=2', '-e', 'C=3', '--env=SET=fixed', '--env=SET2=other', 'img']
    expect(secretValuesOf(argv, {image: 'img', envSet: {SET: 'fixed', SET2: 'policy'}})).toEqual(['1', '2', '3', 'other'])
  })

  it('an env name the policy does not own, even one every object has, is still a secret', () => {
    expect(secretValuesOf(['podman', 'create', '--env=constructor=x', 'img'], {image: 'img'})).toEqual(['x'])
  })

  it('entries without a name or without "=" give no value; an empty value is one', () => {
    expect(secretValuesOf(['podman', 'create', '--env==x', '--env=FOO', '-e', 'BAR', '--env=E=', 'img'], {image: 'img'})).toEqual([''])
  })

  it('a trailing --env or -e reads nothing past the end', () => {
    expect(secretValuesOf(['podman', 'create', '--env'], {})).toEqual([])
    expect(secretValuesOf(['podman', 'create', '-e'], {})).toEqual([])
  })

  it('after the image: the tool’s own command is not secret, option names are not, --name=value gives its value, anything else whole', () => {
    const argv = ['podman', 'create', 'img', 'codex', 'exec', '--yolo', '--model=o3', 'do it', '-k1=v', '=x']
    expect(secretValuesOf(argv, {image: 'img', commandLength: 2})).toEqual(['o3', 'do it', '-k1=v', '=x'])
    expect(secretValuesOf(argv, {image: 'img'})).toEqual(['codex', 'exec', 'o3', 'do it', '-k1=v', '=x'])
  })

  it('without an image, or one not in the argv, nothing after it is taken for the command; env still is', () => {
    const argv = ['podman', 'create', '--env=A=1', 'img', 'secret']
    expect(secretValuesOf(argv, {})).toEqual(['1'])
    expect(secretValuesOf(argv, {image: 'other'})).toEqual(['1'])
  })

  it('env flags after the image are the command’s, read by shape', () => {
    expect(secretValuesOf(['podman', 'create', 'img', 'tool', '--env=X=1', '-e', 'Y=2'], {image: 'img', commandLength: 1})).toEqual(['X=1', 'Y=2'])
  })
})

describe('redactValuesIn', () => {
  it('a longer value is replaced whole before a shorter one inside it', () => {
    expect(redactValuesIn('key=abcdef', ['abcd', 'abcdef'])).toBe(`key=${R('abcdef')}`)
    expect(redactValuesIn('key=abcdef', ['abcdef', 'abcd'])).toBe(`key=${R('abcdef')}`)
    expect(redactValuesIn('abcd then abcdef', ['abcd', 'abcdef'])).toBe(`${R('abcd')} then ${R('abcdef')}`)
  })

  it('every occurrence; values of fewer than 4 characters and already redacted ones are left', () => {
    expect(redactValuesIn('tok1 tok1 abc', ['tok1', 'abc'])).toBe(`${R('tok1')} ${R('tok1')} abc`)
    const r = R('x')
    expect(redactValuesIn(`it was ${r}`, [r])).toBe(`it was ${r}`)
    expect(redactValuesIn('wxyz', ['wxyz', 'wxyz'])).toBe(R('wxyz'))
  })
})
