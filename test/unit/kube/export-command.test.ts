import {spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {parseAllDocuments} from 'yaml'

import Export from '../../../src/commands/agent-machine/export.js'
import {createRunner, type Runner} from '../../../src/core/exec.js'
import {cloneEndpoint, isGitUrl, repoName} from '../../../src/core/kube/export.js'
import {fakeRunner} from '../../helpers/fake-runner.js'
import {fakeHostFacts} from '../../helpers/host-facts.js'
import {runCommand} from '../../helpers/run-command.js'
import {tempDir} from '../../helpers/temp-dirs.js'

const ORIGIN = 'https://git.example.com/org/app.git'

function git(dir: string, ...args: string[]): string {
  const out = spawnSync('git', ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@example.invalid', '-c', 'commit.gpgsign=false', ...args], {encoding: 'utf8', env: {...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1'}})
  if (out.status !== 0) throw new Error(`git ${args.join(' ')}: ${out.stderr}`)
  return out.stdout.trim()
}

function setup(network = 'allowlist', origin: string | null = ORIGIN) {
  const home = realpathSync(tempDir('kube-export-'))
  const repo = join(home, 'dev', 'app')
  const other = join(home, 'dev', 'other')
  mkdirSync(repo, {recursive: true})
  mkdirSync(other, {recursive: true})
  git(repo, 'init', '--quiet', '--initial-branch=main')
  writeFileSync(join(repo, 'README.md'), '# app\n')
  git(repo, 'add', '.')
  git(repo, 'commit', '--quiet', '-m', 'one')
  if (origin) git(repo, 'remote', 'add', 'origin', origin)
  const commit = git(repo, 'rev-parse', 'HEAD')
  const profile = join(home, 'profile.yaml')
  writeFileSync(profile, `apiVersion: sourceos.dev/v1alpha1
kind: AgentMachineProfile
metadata: {name: team}
spec:
  platform: linux
  image: {ref: localhost/sourceos/agent:latest, digest: null, pull: never}
  mounts:
    - {source: ${repo}, target: /workspace/app, mode: rw}
  tools:
    codex: {enabled: true, command: [codex]}
    claude-code: {enabled: false, command: [claude]}
  env: {passthrough: [TERM], set: {LANG: C.UTF-8}}
  network: {mode: ${network}, allow: [registry.npmjs.org]}
  resources: {cpus: 2, memory: 4g, pidsLimit: 512}
  secrets: {door: none}
`)
  const facts = fakeHostFacts('linux', {homeDir: home, uid: 1000, env: {HOME: home, SOURCEOSCTL_PROFILE: profile}})
  return {home, repo, other, commit, profile, ctx: {runner: createRunner(), hostFacts: async () => facts}}
}

type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

describe('export --kube (command)', () => {
  it('--dry-run --json: the objects, the plan (host git reads only, then the write) and the pinned commit; nothing written', async () => {
    const {repo, commit, home, ctx} = setup()
    const output = join(home, 'run.yaml')
    const out = await runCommand(Export, ['--kube', '--repo', repo, '--tool', 'codex', '--run-id', 'abcdef0123456789', '--output', output, '--dry-run', '--json', '--', 'exec', 'hi'], ctx)
    expect(out.exitCode, out.stderr).toBe(0)
    const json = out.json as Json
    expect(json).toMatchObject({dryRun: true, runId: 'abcdef0123456789', profile: 'team', layout: 'pod', tool: 'codex', repo: {url: ORIGIN, commit, name: 'app', endpoint: {host: 'git.example.com', port: 443, ip: false}}})
    expect(json.policyHash).toMatch(/^sha256:[0-9a-f]{64}$/)
    expect(existsSync(output)).toBe(false)
    const steps = json.plan.steps as Array<{argv: string[]; mutates: boolean}>
    expect(steps.slice(0, -1).every((s) => s.argv[0] === 'git' && !s.mutates && s.argv.includes('core.hooksPath=/dev/null'))).toBe(true)
    expect(steps.at(-1)).toMatchObject({argv: ['sourceosctl:write-file', output], mutates: true})
    const pod = (json.objects as Json[]).find((o) => o.kind === 'Pod')!
    const agent = pod.spec.containers.find((c: Json) => c.name === 'agent')
    expect(agent.command.slice(-3)).toEqual(['codex', 'exec', 'hi'])
    const env = Object.fromEntries(agent.env.map((e: Json) => [e.name, e.value]))
    // the profile's own variables pass; the proxy variables point at the egress proxy
    expect(env).toMatchObject({LANG: 'C.UTF-8', HTTPS_PROXY: 'http://127.0.0.1:3128', NO_PROXY: 'localhost,127.0.0.1,::1'})
    expect(pod.metadata.annotations['dev.sourceos.agent-machine/policy-hash']).toBe(json.policyHash)
    // the YAML is the same objects
    expect(parseAllDocuments(json.manifest as string).map((d) => d.toJSON())).toEqual(json.objects)
  })

  it('writes the manifest with --output; warns about what does not carry (passthrough, a local image name, a commit no remote has)', async () => {
    const {repo, home, ctx} = setup()
    const output = join(home, 'run.yaml')
    const out = await runCommand(Export, ['--kube', '--repo', repo, '--tool', 'codex', '--output', output], ctx)
    expect(out.exitCode, out.stderr).toBe(0)
    const text = readFileSync(output, 'utf8')
    expect(parseAllDocuments(text).map((d) => (d.toJSON() as Json).kind)).toEqual(['NetworkPolicy', 'Pod'])
    expect(out.stderr).toMatch(/spec\.env\.passthrough \(TERM\) is not carried/)
    expect(out.stderr).toMatch(/is a local name: a cluster pulls from a registry/)
    expect(out.stderr).toMatch(/no remote-tracking branch contains/)
  })

  it('refuses: a folder that is not allowlisted, a checkout without origin, network mode none, --job without a tool, a URL with a password', async () => {
    const a = setup()
    const notAllowed = await runCommand(Export, ['--kube', '--repo', a.other, '--tool', 'codex'], a.ctx)
    expect(notAllowed.exitCode).toBe(3)
    expect(notAllowed.stderr).toMatch(/not one of the profile's allowlisted repos[\s\S]*Fix: .*repo add/)
    const b = setup('allowlist', null)
    const noOrigin = await runCommand(Export, ['--kube', '--repo', b.repo], b.ctx)
    expect(noOrigin.exitCode).toBe(2)
    expect(noOrigin.stderr).toMatch(/no origin remote[\s\S]*--clone-url/)
    const c = setup('none')
    const none = await runCommand(Export, ['--kube', '--repo', c.repo], c.ctx)
    expect(none.exitCode).toBe(3)
    expect(none.stderr).toMatch(/spec\.network\.mode is none/)
    const job = await runCommand(Export, ['--kube', '--repo', a.repo, '--job'], a.ctx)
    expect(job.exitCode).toBe(2)
    const secret = await runCommand(Export, ['--kube', '--repo', 'https://u:tok@git.example.com/r.git', '--commit', a.commit], {...a.ctx, runner: fakeRunner([])})
    expect(secret.exitCode).toBe(3)
    expect(secret.stderr).toMatch(/carries a password or token/)
  })

  it('a URL with --commit needs no git at all; layout split refuses a clone host that is not on the allowlist', async () => {
    const {commit, ctx} = setup()
    const quiet = {...ctx, runner: fakeRunner([])}
    const ok = await runCommand(Export, ['--kube', '--repo', 'https://registry.npmjs.org/x.git', '--commit', commit, '--layout', 'split', '--json'], quiet)
    expect(ok.exitCode, ok.stderr).toBe(0)
    expect((ok.json as Json).objects.map((o: Json) => o.kind)).toEqual(['NetworkPolicy', 'NetworkPolicy', 'Service', 'Pod', 'Pod'])
    const refused = await runCommand(Export, ['--kube', '--repo', ORIGIN, '--commit', commit, '--layout', 'split'], quiet)
    expect(refused.exitCode).toBe(3)
    expect(refused.stderr).toMatch(/git\.example\.com:443 is not on the allowlist/)
  })

  it('the Secrets Door: the manifest names the Secrets to create (never a value); --play refuses it before anything runs', async () => {
    const {repo, profile, ctx} = setup()
    writeFileSync(profile, readFileSync(profile, 'utf8').replace('secrets: {door: none}', 'secrets: {door: proxy, inject: [{secret: openai, host: api.openai.com, header: Authorization, format: "Bearer {value}"}]}'))
    const out = await runCommand(Export, ['--kube', '--repo', repo, '--tool', 'codex', '--json'], ctx)
    expect(out.exitCode, out.stderr).toBe(0)
    const json = out.json as Json
    expect(json.requires).toEqual([{kind: 'Secret', name: 'sourceos-secret-openai', key: 'value', create: 'kubectl create secret generic sourceos-secret-openai --from-file=value=<file holding the openai token>'}])
    expect(json.manifest).toContain('# needs Secret sourceos-secret-openai: kubectl create secret generic')
    // git only: the refusal comes before any podman call
    const gitOnly: Runner = (cmd, args, o) => (cmd === 'git' ? ctx.runner(cmd, args, o) : Promise.reject(new Error(`unit test ran ${cmd}`)))
    const play = await runCommand(Export, ['--kube', '--repo', repo, '--tool', 'codex', '--play'], {...ctx, runner: gitOnly})
    expect(play.exitCode).toBe(2)
    expect(play.stderr).toMatch(/--play does not run the Secrets Door/)
  })

  it('URLs: which are URLs, where the clone connects, the folder name', () => {
    expect([isGitUrl('https://h/r.git'), isGitUrl('git@github.com:o/r.git'), isGitUrl('/home/me/r'), isGitUrl('./r')]).toEqual([true, true, false, false])
    expect(cloneEndpoint('git@github.com:o/r.git')).toEqual({host: 'github.com', port: 22, ip: false})
    expect(cloneEndpoint('git://10.0.0.5/r')).toEqual({host: '10.0.0.5', port: 9418, ip: true})
    expect(cloneEndpoint('https://h.example:8443/r')).toEqual({host: 'h.example', port: 8443, ip: false})
    expect(cloneEndpoint('file:///srv/r.git')).toBeNull()
    expect([repoName('https://h/org/my-repo.git'), repoName('/home/me/dev/app/'), repoName('git@h:o/../x.git')]).toEqual(['my-repo', 'app', 'x'])
  })
})
