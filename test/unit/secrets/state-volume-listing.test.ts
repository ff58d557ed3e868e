// The tool-state volumes podman lists: only the CLI's, of one profile exactly (not a profile whose
// name starts the same), trimmed and sorted; a failing list is an error, not "none"; and the
// argv of the list and of the logout's removal through the profile's connection.
import {describe, expect, it} from 'vitest'

import {listStateVolumes, stateVolumeName, volumeListArgv, volumeRemoveArgv} from '../../../src/core/secrets/tool-state.js'
import {fakeRunner} from '../../helpers/fake-runner.js'

const ctx = {binary: 'podman', connection: null}

describe('tool-state volumes in podman’s store', () => {
  it('of one profile: exactly its own, not those of a profile whose name begins the same; trimmed and sorted', async () => {
    const runner = fakeRunner([{match: 'podman volume ls', result: {stdout: ' sourceos-state-team-codex \nsourceos-state-team2-codex\nsourceos-state-team-claude-code\nteam-codex\n\n'}}])
    expect(await listStateVolumes(runner, ctx, 'team')).toEqual(['sourceos-state-team-claude-code', 'sourceos-state-team-codex'])
    expect(runner.calls[0]!.options?.timeoutMs).toBe(30_000)
  })

  it('a failing or hung podman is an error, not an empty list', async () => {
    await expect(listStateVolumes(fakeRunner([{match: 'podman volume ls', result: {exitCode: 125, stderr: 'no connection'}}]), ctx)).rejects.toMatchObject({code: 'STATE_VOLUME_LIST_FAILED'})
    await expect(listStateVolumes(fakeRunner([{match: 'podman volume ls', hangs: true}]), ctx)).rejects.toMatchObject({code: 'STATE_VOLUME_LIST_FAILED'})
  })

  it('list and remove go through the profile’s connection; remove names every volume', () => {
    const machine = {binary: 'podman', connection: 'sourceos-agent'}
    expect(volumeListArgv(machine)).toEqual(['podman', '--connection', 'sourceos-agent', 'volume', 'ls', '--format', '{{.Name}}'])
    expect(volumeRemoveArgv(machine, [stateVolumeName('team', 'codex'), stateVolumeName('team', 'claude-code')])).toEqual([
      'podman', '--connection', 'sourceos-agent', 'volume', 'rm', 'sourceos-state-team-codex', 'sourceos-state-team-claude-code',
    ])
  })
})
