// How inspect finds the tool's own command in a recorded podman argv (src/core/evidence/redact.ts,
// displayPodmanArgv): a command of several words is kept whole only when every word follows the
// image in order, wherever the image stands; the words after it are the tool's arguments, redacted.
import {describe, expect, it} from 'vitest'

import {displayPodmanArgv, redactedValue} from '../../../src/core/evidence/redact.js'

const ID = 'c'.repeat(64)
const rec = (toolCommand: string[] | null) => ({imageId: ID, imageRef: 'localhost/agent:1', toolCommand, envSet: {}})

describe('the tool’s own command in a recorded argv', () => {
  it('a two-word command is kept whole and only what follows it is an argument', () => {
    expect(displayPodmanArgv(['podman', 'create', ID, 'codex', 'exec', '--json', 'fix it'], rec(['codex', 'exec']))).toEqual({
      argv: ['podman', 'create', ID, 'codex', 'exec', '--json', redactedValue('fix it')],
      toolArgs: ['--json', 'fix it'],
    })
  })

  it('a command whose second word differs is all arguments', () => {
    expect(displayPodmanArgv(['podman', 'create', ID, 'codex', 'login', 'x'], rec(['codex', 'exec'])).toolArgs).toEqual(['codex', 'login', 'x'])
  })

  it('the image is found wherever it stands, also right after the executable', () => {
    expect(displayPodmanArgv(['podman', ID, 'codex', 'secret'], rec(['codex']))).toEqual({argv: ['podman', ID, 'codex', redactedValue('secret')], toolArgs: ['secret']})
  })
})
