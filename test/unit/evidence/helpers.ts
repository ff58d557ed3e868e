/** Evidence test helpers: temp evidence dirs, sample drafts, and child processes using the built store. */
import {spawn} from 'node:child_process'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {dirname, join, relative} from 'node:path'
import {pathToFileURL} from 'node:url'

import ts from 'typescript'

import {indexLine, lineHash, type IndexEntry} from '../../../src/core/evidence/index-log.js'
import {beginRecord as realBeginRecord, type RecordDraft, type StoreOptions} from '../../../src/core/evidence/store.js'
import {loadOrCreateSigningKey, signingKeyDir} from '../../../src/core/evidence/signing.js'
import {inspectPath as realInspectPath, type InspectOptions} from '../../../src/core/evidence/verify.js'
import {EFFECTIVE_POLICY_SCHEMA, type EffectivePolicy} from '../../../src/core/policy/hash.js'
import {REPO_ROOT} from '../../helpers/run-command.js'
import {tempDir as trackedTempDir} from '../../helpers/temp-dirs.js'

/** A temp folder under the test file's TMPDIR, removed after the file's last test (test/helpers/temp-dirs.ts). */
export function tempDir(prefix = 'evidence-'): string {
  return trackedTempDir(prefix)
}

/** The tests' state dir, holding the signing key that their records are signed with. */
export const TEST_STATE_DIR = tempDir('evidence-state-')
export const TEST_KEY = await loadOrCreateSigningKey(signingKeyDir(TEST_STATE_DIR))
export const TEST_PUBLIC_KEY_FILE = join(signingKeyDir(TEST_STATE_DIR), 'ed25519.pub')

/** beginRecord signing with the tests' key (as a launch does with the state dir's key). */
export function beginRecord(dir: string, draft: RecordDraft, opts: StoreOptions = {}): ReturnType<typeof realBeginRecord> {
  return realBeginRecord(dir, draft, {signing: TEST_KEY, ...opts})
}

/** inspectPath trusting the tests' key as this host's own (as inspect does with the state dir). */
export function inspectPath(input: string, opts: InspectOptions = {}): ReturnType<typeof realInspectPath> {
  return realInspectPath(input, {stateDir: TEST_STATE_DIR, ...opts})
}

export const samplePolicy = (source = '/home/dev/app'): EffectivePolicy => ({
  schema: EFFECTIVE_POLICY_SCHEMA,
  profile: 'linux-podman-native',
  platform: 'linux',
  mounts: [{source, target: '/workspace/app', mode: 'rw'}],
  image: {ref: 'localhost/sourceos/agent:latest', digest: null, pull: 'never'},
  tools: [{name: 'codex', enabled: true, command: ['codex']}],
  env: {passthrough: ['LANG', 'TERM'], set: {}},
  network: {mode: 'default'},
  resources: {cpus: 2, memory: '4g', pidsLimit: 1024},
  hardening: {capDrop: 'all', noNewPrivileges: true, readOnlyRoot: true, init: true, userns: 'keep-id', envHost: false, httpProxy: false},
  secrets: {door: 'none'},
})

let counter = 0

export function sampleDraft(overrides: Partial<RecordDraft> = {}): RecordDraft {
  counter++
  const runId = overrides.runId ?? `00000000-0000-4000-8000-${String(counter).padStart(12, '0')}`
  return {
    runId,
    verb: 'run',
    tool: 'codex',
    argv: ['agent-machine', 'run', '--tool', 'codex', '--repo', '/home/dev/app'],
    startedAt: '2026-01-02T03:04:05.000Z',
    mounts: [{source: '/home/dev/app', target: '/workspace/app', mode: 'rw'}],
    image: {ref: 'localhost/sourceos/agent:latest', id: 'a'.repeat(64), digest: null},
    git: [{target: '/workspace/app', ref: 'refs/heads/main', commit: 'c'.repeat(40), dirty: false}],
    policy: samplePolicy(),
    toolVersions: {podman: {client: '4.3.1', server: null}, git: '2.39.5', nix: null, tool: 'codex-cli 0.1.0'},
    host: {platform: 'linux', os: 'Debian GNU/Linux 12 (bookworm)', osVersion: '12', arch: 'x64'},
    podmanArgv: samplePodmanArgv(),
    ...overrides,
  }
}

/** A create argv that agrees with sampleDraft's mounts, policy and image (inspect cross-checks them). */
export function samplePodmanArgv(mounts: ReadonlyArray<{source: string; target: string; mode: 'rw' | 'ro'}> = [{source: '/home/dev/app', target: '/workspace/app', mode: 'rw'}]): string[] {
  return [
    'podman', 'create', '--rm', '--init', '--cap-drop=all', '--security-opt=no-new-privileges', '--read-only',
    '--cpus=2', '--memory=4g', '--pids-limit=1024', '--env=HOME=/home/agent',
    ...mounts.map((m) => `--mount=type=bind,source=${m.source},destination=${m.target},bind-nonrecursive=true,bind-propagation=private${m.mode === 'ro' ? ',ro=true' : ''}`),
    '--workdir=/workspace/app', 'a'.repeat(64), 'codex',
  ]
}

let childStore: string | undefined

/**
 * The store and everything it imports from src/, transpiled to plain JS under node_modules/.cache
 * (so zod, canonicalize and proper-lockfile resolve) — child processes then run the real code
 * without depending on dist/ being built (or rebuilt by someone else) at that moment.
 */
function transpiledStore(): string {
  if (childStore) return childStore
  mkdirSync(join(REPO_ROOT, 'node_modules', '.cache'), {recursive: true})
  const out = mkdtempSync(join(REPO_ROOT, 'node_modules', '.cache', 'evidence-test-'))
  const pending = [join(REPO_ROOT, 'src', 'core', 'evidence', 'store.ts')]
  const done = new Set<string>()
  while (pending.length > 0) {
    const file = pending.pop() ?? ''
    if (done.has(file)) continue
    done.add(file)
    const source = readFileSync(file, 'utf8')
    const js = ts.transpileModule(source, {compilerOptions: {module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022}}).outputText
    const target = join(out, relative(REPO_ROOT, file)).replace(/\.ts$/, '.js')
    mkdirSync(dirname(target), {recursive: true})
    writeFileSync(target, js)
    for (const m of js.matchAll(/from '(\.{1,2}\/[^']+)\.js'/g)) pending.push(join(dirname(file), `${m[1]}.ts`))
  }
  childStore = join(out, 'src', 'core', 'evidence', 'store.js')
  childStoreRoot = out
  return childStore
}

let childStoreRoot: string | undefined

/** Removes the transpiled copy (call from afterAll). */
export function removeTranspiledStore(): void {
  if (childStoreRoot) rmSync(childStoreRoot, {recursive: true, force: true})
  childStore = undefined
  childStoreRoot = undefined
}

/**
 * Runs a node child that uses the real store: `count` begin+complete cycles, or with `kill`, one
 * begin and then SIGKILL to itself. Resolves with the exit code and signal.
 */
export function runChild(dir: string, opts: {count?: number; kill?: boolean; tag: string}): Promise<{code: number | null; signal: string | null; stderr: string}> {
  const store = transpiledStore()
  const script = join(tempDir('evidence-child-'), 'child.mjs')
  writeFileSync(
    script,
    `const [storeUrl, dir, draftJson, count, kill, keyDir] = process.argv.slice(2)
const {beginRecord} = await import(storeUrl)
const {loadOrCreateSigningKey} = await import(storeUrl.replace(/store\\.js$/, 'signing.js'))
const signing = await loadOrCreateSigningKey(keyDir)
const base = JSON.parse(draftJson)
for (let i = 0; i < Number(count); i++) {
  const handle = await beginRecord(dir, {...base, runId: base.runId + '-' + i}, {signing})
  if (kill === 'kill') process.kill(process.pid, 'SIGKILL')
  await handle.complete({exitCode: i % 3})
}
`,
  )
  const draft = sampleDraft({runId: `child-${opts.tag}`})
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, pathToFileURL(store).href, dir, JSON.stringify(draft), String(opts.count ?? 1), opts.kill ? 'kill' : '', signingKeyDir(TEST_STATE_DIR)], {
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({code, signal, stderr}))
  })
}

/** An evidence dir of `n` completed records, signed with the tests' key or (`signed: false`) unsigned; their files in order. */
export async function completedDir(n: number, opts: {signed: boolean}): Promise<{dir: string; files: string[]}> {
  const dir = tempDir()
  const files: string[] = []
  for (let i = 0; i < n; i++) {
    const h = opts.signed ? await beginRecord(dir, sampleDraft()) : await realBeginRecord(dir, sampleDraft())
    await h.complete({exitCode: 0})
    files.push(h.file)
  }
  return {dir, files}
}

/** The dir's index lines, parsed. */
export function indexEntries(dir: string): IndexEntry[] {
  return readFileSync(join(dir, 'index.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as IndexEntry)
}

/** Writes entries as a well-formed index (canonical, each prevLine the hash of the line before). */
export function writeIndex(dir: string, entries: readonly IndexEntry[]): void {
  let prev: string | null = null
  const lines = entries.map((e) => {
    const line = indexLine({...e, prevLine: prev === null ? null : lineHash(prev)})
    prev = line
    return line
  })
  writeFileSync(join(dir, 'index.jsonl'), lines.map((l) => `${l}\n`).join(''))
}
