import {describe, expect, it} from 'vitest'

import {parseErrorLine} from '../../../src/cli/base-command.js'

describe('parseErrorLine', () => {
  it('keeps the items of oclif’s multi-line parse errors on one line', () => {
    expect(parseErrorLine('The following error occurred:\n  Missing required flag tool\nSee more help with --help')).toBe('Missing required flag tool')
    expect(parseErrorLine('The following errors occurred:\n  Missing required flag tool\n  Missing required flag repo\nSee more help with --help')).toBe(
      'Missing required flag tool; Missing required flag repo',
    )
    expect(parseErrorLine('Nonexistent flag: --bogus')).toBe('Nonexistent flag: --bogus')
  })
})
