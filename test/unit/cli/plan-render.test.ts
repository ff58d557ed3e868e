import {spawnSync} from 'node:child_process'
import {describe, expect, it} from 'vitest'

import {describeLaunchShort} from '../../../src/cli/launch-command.js'
import {argvLines, renderPlanWrapped, wrapArgv} from '../../../src/cli/plan-render.js'
import type {PreparedLaunch} from '../../../src/core/launch/prepare.js'

const CREATE = [
  'podman', '--connection', 'sourceos-agent', 'create', '--name=sourceos-agent-1', '--rm', '--init', '--cap-drop=all',
  '--security-opt=no-new-privileges', '--read-only', '--tmpfs=/home/agent:rw,nosuid,nodev,mode=1777',
  '--mount=type=bind,source=/home/u/dev/my repo,destination=/workspace/app', "--env=GREETING=it's", '--workdir=/workspace/app',
  'f0a68f98e07a52667cd5c1643a0ec7b8913e8f8cce4dfba76aad66d0256bc776', 'codex', '--', '-p', 'explain this',
]

/** What a POSIX shell reads from the rendered text: the words, one per line. */
function shellWords(rendered: string): string[] {
  const r = spawnSync('sh', ['-c', `words() { for w in "$@"; do printf '%s\\0' "$w"; done; }; words ${rendered}`], {encoding: 'utf8'})
  expect(r.status, r.stderr).toBe(0)
  return r.stdout.split('\0').slice(0, -1)
}

describe('dry-run plans: one flag per line, shell-valid', () => {
  it('wraps a long podman command one flag per line, each continued with a backslash', () => {
    const text = wrapArgv(CREATE, '     ')
    const lines = text.split('\n')
    expect(lines[0]).toBe('podman \\')
    expect(lines).toContain('         --connection sourceos-agent \\')
    expect(lines).toContain('         --rm \\')
    for (const line of lines.slice(0, -1)) expect(line.endsWith(' \\')).toBe(true)
    expect(lines.every((l) => l.length < 120)).toBe(true)
  })

  it('the wrapped text is the exact argv for a shell (spaces and quotes included)', () => {
    expect(shellWords(wrapArgv(CREATE, '     '))).toEqual(CREATE)
    expect(argvLines(CREATE).at(-1)).toBe("-- -p 'explain this'")
  })

  it('a short command stays on one line; the plan keeps its numbering and reasons', () => {
    expect(wrapArgv(['podman', 'start', '--attach', 'x'], '  ')).toBe('podman start --attach x')
    const plan = renderPlanWrapped({verb: 'run', steps: [{argv: CREATE, why: 'create it', mutates: true}, {argv: ['podman', 'rm', 'x'], why: 'clean up', mutates: true}]})
    expect(plan).toMatch(/^Plan for run \(2 steps\):\n {2}1\. podman \\\n/)
    expect(plan).toContain('\n     mutates: create it\n  2. podman rm x\n')
  })
})

describe('the launch header', () => {
  it('is one short line by default: what, where, the run id, how many mounts', () => {
    const p = {runId: 'abcd1234', spec: {verb: 'run', tool: 'codex', workdir: '/workspace/app', mounts: [{}, {}], command: ['codex']}} as unknown as PreparedLaunch
    const line = describeLaunchShort(p)
    expect(line).toBe('sourceosctl: codex in /workspace/app (run abcd1234, 2 mounts; --verbose for details)')
    expect(line.length).toBeLessThan(100)
  })
})
