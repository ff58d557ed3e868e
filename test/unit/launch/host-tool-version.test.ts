/**
 * The host tools' versions in the evidence (git, nix, the podman client), cached by the identity of
 * the binary PATH resolves to: whatever changes the binary — its size, mtime, inode (replaced) or
 * ctime (rewritten with the times put back) — makes the next launch probe it again; an answer is
 * never taken for another binary, and a tool PATH does not hold is missing without a spawn.
 */
import {appendFileSync, chmodSync, copyFileSync, mkdirSync, readFileSync, renameSync, statSync, utimesSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {hostToolVersion, resolveOnPath} from '../../../src/core/launch/tool-version.js'
import {fakeRunner, type FakeRunner} from '../../helpers/fake-runner.js'
import {tempDir} from '../../helpers/temp-dirs.js'

/** A PATH of one folder holding an executable `git`, a state dir, and a runner whose `git --version` answers `version` (counted). */
function setup(version = '2.39.5') {
  const root = tempDir('host-tool-')
  const bin = join(root, 'bin')
  const state = join(root, 'state')
  mkdirSync(bin)
  mkdirSync(state)
  const git = join(bin, 'git')
  writeFileSync(git, '#!/bin/sh\necho git version 0\n', {mode: 0o755})
  const answer = {version}
  const runner = fakeRunner([{match: (cmd, args) => cmd === git && args.join(' ') === '--version', result: () => ({stdout: `git version ${answer.version}\n`})}])
  const ask = (r: FakeRunner = runner) => hostToolVersion({runner: r, tool: 'git', stateDir: state, pathVar: bin})
  return {root, bin, state, git, runner, answer, ask}
}

describe('host tool versions, cached by the binary', () => {
  it('probes the binary PATH resolves to (by its path) once, then answers from the cache while it is unchanged', async () => {
    const t = setup()
    expect(await t.ask()).toBe('2.39.5')
    expect(t.runner.commandLines()).toEqual([`${t.git} --version`])
    t.answer.version = '9.9.9' // a probe now would say so
    expect(await t.ask()).toBe('2.39.5')
    expect(await t.ask()).toBe('2.39.5')
    expect(t.runner.calls).toHaveLength(1)
  })

  it('a changed size is probed again', async () => {
    const t = setup()
    await t.ask()
    t.answer.version = '2.40.0'
    const {mtime} = statSync(t.git)
    appendFileSync(t.git, '# more\n')
    utimesSync(t.git, mtime, mtime)
    expect(await t.ask()).toBe('2.40.0')
    expect(t.runner.calls).toHaveLength(2)
  })

  it('a changed mtime (same size) is probed again', async () => {
    const t = setup()
    await t.ask()
    t.answer.version = '2.40.0'
    utimesSync(t.git, new Date('2020-01-01T00:00:00Z'), new Date('2020-01-01T00:00:00Z'))
    expect(await t.ask()).toBe('2.40.0')
    expect(t.runner.calls).toHaveLength(2)
  })

  it('a replaced binary (another inode, same size and mtime) is probed again', async () => {
    const t = setup()
    const {mtime} = statSync(t.git)
    await t.ask()
    t.answer.version = '2.40.0'
    const other = join(t.root, 'git.new')
    copyFileSync(t.git, other)
    chmodSync(other, 0o755)
    utimesSync(other, mtime, mtime)
    const before = statSync(t.git).ino
    renameSync(other, t.git)
    expect(statSync(t.git).ino).not.toBe(before)
    expect(await t.ask()).toBe('2.40.0')
    expect(t.runner.calls).toHaveLength(2)
  })

  it('a binary rewritten in place with its size and mtime put back (only the ctime differs) is probed again', async () => {
    const t = setup()
    const mtime = 1_600_000_000 // whole seconds: put back exactly
    utimesSync(t.git, mtime, mtime)
    await t.ask()
    t.answer.version = '2.40.0'
    const st = statSync(t.git, {bigint: true})
    // rewrite until the kernel's clock has moved past the first ctime (its granularity is coarse): a wait on the condition, not a sleep
    for (let n = 1; ; n++) {
      writeFileSync(t.git, `#!/bin/sh\necho git version ${n % 10}\n`)
      utimesSync(t.git, mtime, mtime)
      if (statSync(t.git, {bigint: true}).ctimeNs !== st.ctimeNs) break
      await new Promise((r) => setImmediate(r))
    }
    const now = statSync(t.git, {bigint: true})
    expect([now.ino, now.size, now.mtimeNs]).toEqual([st.ino, st.size, st.mtimeNs])
    expect(await t.ask()).toBe('2.40.0')
    expect(t.runner.calls).toHaveLength(2)
  })

  it('another binary first on PATH is probed, not answered with the first one’s version', async () => {
    const t = setup()
    await t.ask()
    const earlier = join(t.root, 'earlier')
    mkdirSync(earlier)
    const git2 = join(earlier, 'git')
    copyFileSync(t.git, git2)
    chmodSync(git2, 0o755)
    const runner = fakeRunner([{match: (cmd) => cmd === git2, result: {stdout: 'git version 3.0.0\n'}}])
    expect(await hostToolVersion({runner, tool: 'git', stateDir: t.state, pathVar: `${earlier}:${t.bin}`})).toBe('3.0.0')
    expect(runner.commandLines()).toEqual([`${git2} --version`])
  })

  it('a tool PATH does not hold is missing without any spawn; a folder or a non-executable file of that name is skipped, as execvp does', async () => {
    const t = setup()
    const runner = fakeRunner([])
    const decoys = join(t.root, 'decoys')
    mkdirSync(join(decoys, 'nix'), {recursive: true})
    writeFileSync(join(t.bin, 'nix'), '#!/bin/sh\n', {mode: 0o644})
    expect(await hostToolVersion({runner, tool: 'nix', stateDir: t.state, pathVar: `${decoys}:${t.bin}`})).toBeNull()
    expect(runner.calls).toEqual([])
    expect(resolveOnPath('git', `${decoys}:${t.bin}`)).toBe(t.git)
    expect(resolveOnPath('nix', `${decoys}:${t.bin}`)).toBeNull()
  })

  it('a failed or timed-out probe is not cached: the next launch asks again', async () => {
    const t = setup()
    let fail = true
    const runner = fakeRunner([{match: (cmd) => cmd === t.git, result: () => (fail ? {exitCode: 1, stderr: 'broken\n'} : {stdout: 'git version 2.39.5\n'})}])
    expect(await t.ask(runner)).toBeNull()
    fail = false
    expect(await t.ask(runner)).toBe('2.39.5')
    expect(await t.ask(runner)).toBe('2.39.5')
    expect(runner.calls).toHaveLength(2)
    const t2 = setup()
    const hung = fakeRunner([{match: (cmd) => cmd === t2.git, hangs: true}])
    expect(await t2.ask(hung)).toBeNull()
    expect(await t2.ask(hung)).toBeNull()
    expect(hung.calls).toHaveLength(2)
  })

  it('a cache file that is not ours (junk, wrong types, a __proto__ key, another path) is not believed', async () => {
    for (const text of ['not json', '[]', JSON.stringify({git: {path: 'x', identity: 1, version: '1.0'}}), '{"__proto__": {"path": "p", "identity": "i", "version": "6.6.6"}}']) {
      const t = setup()
      writeFileSync(join(t.state, 'host-tool-versions.json'), text)
      expect(await t.ask()).toBe('2.39.5')
      expect(t.runner.calls).toHaveLength(1)
    }
    const t = setup()
    await t.ask()
    const cache = JSON.parse(readFileSync(join(t.state, 'host-tool-versions.json'), 'utf8')) as Record<string, {path: string}>
    cache.git!.path = join(t.root, 'elsewhere', 'git')
    writeFileSync(join(t.state, 'host-tool-versions.json'), JSON.stringify(cache))
    t.answer.version = '2.40.0'
    expect(await t.ask()).toBe('2.40.0')
  })

  it('an answer is not kept when the binary changed while it was probed', async () => {
    const t = setup()
    let version = '2.39.5'
    const runner = fakeRunner([
      {
        match: (cmd) => cmd === t.git,
        result: () => {
          const answer = `git version ${version}\n`
          utimesSync(t.git, new Date('2021-01-01T00:00:00Z'), new Date('2021-01-01T00:00:00Z')) // replaced under the probe
          version = '2.40.0'
          return {stdout: answer}
        },
      },
    ])
    expect(await t.ask(runner)).toBe('2.39.5')
    expect(await t.ask(runner)).toBe('2.40.0')
    expect(runner.calls).toHaveLength(2)
  })
})
