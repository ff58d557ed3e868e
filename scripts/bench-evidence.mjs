// The evidence figures of `make bench` (scripts/bench.mjs runs this): `evidence inspect` of an
// evidence dir of 10,000 signed, completed records (built directly, as the store writes them:
// canonical records, DSSE envelopes, index, checkpoint), and the content tree hash
// (src/core/evidence/content-hash.ts) of generated 10k- and 100k-file trees (~1 KiB per file): the first walk in a
// new process (reads every file), and the after-session walk in the same process (the digests of
// unchanged files reused; one file changed); and begin + complete of a record with 1 / 1,000 / 10,000
// records in the chain. Prints markdown tables (and GOAL| lines for bench.mjs's goals table); asserts nothing.
// BENCH_EVIDENCE_RECORDS (default 10000), BENCH_EVIDENCE_SIZES (default 10000,100000), BENCH_RUNS.
import {spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {performance} from 'node:perf_hooks'
import {dirname, join} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const dist = (p) => pathToFileURL(join(root, 'dist', p)).href
const runs = Math.max(1, Math.min(Number(process.env.BENCH_RUNS ?? 10), 5))
const count = Number(process.env.BENCH_EVIDENCE_RECORDS ?? 10_000)
const sizes = (process.env.BENCH_EVIDENCE_SIZES ?? '10000,100000').split(',').map(Number).filter((n) => n > 0)
const work = mkdtempSync(join(tmpdir(), 'sourceosctl-bench-evidence-'))
const treesDir = join(tmpdir(), 'sourceosctl-bench-trees')

const {serializeRecord, recordDigest} = await import(dist('core/evidence/record.js'))
const {indexLine, lineHash, recordFileName} = await import(dist('core/evidence/index-log.js'))
const {loadOrCreateSigningKey, signEnvelope, serializeEnvelope, IN_TOTO_PAYLOAD_TYPE, CHECKPOINT_PAYLOAD_TYPE} = await import(dist('core/evidence/signing.js'))
const {canonicalJson, policyHash} = await import(dist('core/policy/hash.js'))

function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

/** An evidence dir of `n` completed records, chained and signed exactly as the store writes them. */
async function evidenceDir(n, name = `evidence-${n}`) {
  const dir = join(work, name)
  mkdirSync(join(dir, 'records'), {recursive: true})
  mkdirSync(join(dir, 'keys'), {recursive: true})
  const key = await loadOrCreateSigningKey(join(work, 'state', 'evidence-key'))
  writeFileSync(join(dir, 'keys', `${key.keyid}.pub`), key.publicPem)
  const policy = {
    schema: 'sourceos.dev/agent-machine/policy/v1alpha1', profile: 'bench', platform: 'linux',
    mounts: [{source: '~/dev/app', target: '/workspace/app', mode: 'rw'}],
    image: {ref: 'localhost/sourceos/agent:latest', digest: null, pull: 'never'},
    tools: [{name: 'codex', enabled: true, command: ['codex']}],
    env: {passthrough: ['TERM'], set: {}}, network: {mode: 'none'},
    resources: {cpus: 2, memory: '4g', pidsLimit: 1024},
    hardening: {capDrop: 'all', noNewPrivileges: true, readOnlyRoot: true, init: true, userns: 'keep-id', envHost: false, httpProxy: false},
    secrets: {door: 'none'},
  }
  const lines = []
  let last = null
  let prev = null
  for (let seq = 1; seq <= n; seq++) {
    const runId = `bench-${String(seq).padStart(8, '0')}`
    const predicate = {
      schemaVersion: 1, runId, status: 'started', verb: 'run', tool: 'codex', argv: ['agent-machine', 'run', '--tool', 'codex', '--repo', '~/dev/app'],
      startedAt: '2026-01-02T03:04:05.000Z', finishedAt: null, exitCode: null,
      mounts: [{source: '~/dev/app', target: '/workspace/app', mode: 'rw'}],
      image: {ref: 'localhost/sourceos/agent:latest', id: 'a'.repeat(64), digest: null},
      git: [{target: '/workspace/app', ref: 'refs/heads/main', commit: 'c'.repeat(40), dirty: false}],
      policyHash: policyHash(policy), policy,
      toolVersions: {podman: {client: '4.3.1', server: null}, git: '2.39.5', nix: null, tool: 'codex 0.1'},
      host: {platform: 'linux', os: 'Debian', osVersion: '12', arch: 'x64'},
      podmanArgv: ['podman', 'create', '--rm', '--init', '--cap-drop=all', '--security-opt=no-new-privileges', '--read-only', '--network=none', '--cpus=2', '--memory=4g', '--pids-limit=1024',
        '--mount=type=bind,source=~/dev/app,destination=/workspace/app,bind-nonrecursive=true,bind-propagation=private', 'a'.repeat(64), 'codex'],
      chain: {seq, prev, startedDigest: null},
      paths: 'home-relative',
    }
    const started = {_type: 'https://in-toto.io/Statement/v1', subject: [{name: '/workspace/app', digest: {gitCommit: 'c'.repeat(40)}}], predicateType: 'https://sourceos.dev/agent-machine/evidence/v1alpha1', predicate}
    const startedDigest = recordDigest(started)
    const done = {...started, predicate: {...predicate, status: 'completed', finishedAt: '2026-01-02T03:10:00.000Z', exitCode: 0, chain: {seq, prev, startedDigest}}}
    const name = recordFileName(seq, runId)
    writeFileSync(join(dir, 'records', name), serializeRecord(done))
    writeFileSync(join(dir, 'records', `${name}.dsse`), serializeEnvelope(signEnvelope(IN_TOTO_PAYLOAD_TYPE, Buffer.from(canonicalJson(done)), key)))
    for (const [event, digest] of [['begin', startedDigest], ['complete', recordDigest(done)]]) {
      const line = indexLine({v: 1, event, seq, runId, file: name, digest, prevLine: last === null ? null : lineHash(last)})
      lines.push(line)
      last = line
    }
    prev = recordDigest(done)
  }
  writeFileSync(join(dir, 'index.jsonl'), lines.map((l) => `${l}\n`).join(''))
  const checkpoint = {v: 1, lines: lines.length, head: lineHash(last), maxSeq: n, signedAt: '2026-01-02T03:10:00.000Z'}
  writeFileSync(join(dir, 'checkpoint.dsse'), serializeEnvelope(signEnvelope(CHECKPOINT_PAYLOAD_TYPE, Buffer.from(canonicalJson(checkpoint)), key)))
  return {dir, policy, publicKey: join(work, 'state', 'evidence-key', 'ed25519.pub')}
}

const rows = []

// begin + complete of one record (what each launch adds to the chain) with 1 / 1,000 / 10,000
// records already in it: in a fresh process each time, as a launch does, timed around the two store
// calls only. Goal (issue 18): ≤ 80 ms and flat in the chain's length.
const BEGIN_ONE = `
const [storeUrl, signingUrl, dir, keyDir, policyJson] = process.argv.slice(1)
const {beginRecord, newRunId} = await import(storeUrl)
const {loadOrCreateSigningKey} = await import(signingUrl)
const signing = await loadOrCreateSigningKey(keyDir)
const policy = JSON.parse(policyJson)
const t0 = performance.now()
const c0 = process.cpuUsage()
const handle = await beginRecord(dir, {
  runId: newRunId(), verb: 'run', tool: 'codex', argv: ['agent-machine', 'run', '--tool', 'codex'],
  mounts: [{source: '/nonexistent/bench/app', target: '/workspace/app', mode: 'rw'}],
  image: {ref: 'localhost/sourceos/agent:latest', id: 'a'.repeat(64), digest: null},
  git: [{target: '/workspace/app', ref: 'refs/heads/main', commit: 'c'.repeat(40), dirty: false}],
  policy, toolVersions: {podman: {client: '4.3.1', server: null}, git: '2.39.5', nix: null, tool: 'codex 0.1'},
  host: {platform: 'linux', os: 'Debian', osVersion: '12', arch: 'x64'},
  podmanArgv: ['podman', 'create', 'a'.repeat(64), 'codex'],
}, {signing})
await handle.complete({exitCode: 0})
const c1 = process.cpuUsage(c0)
console.log(JSON.stringify({ms: performance.now() - t0, cpuMs: (c1.user + c1.system) / 1000}))
`
const chainSizes = (process.env.BENCH_EVIDENCE_CHAIN ?? `1,1000,${count}`).split(',').map(Number).filter((n) => n > 0)
// Cheap cases: all BENCH_RUNS (default 7), after one warm-up each (the first begin also lists records/).
const chainRuns = Math.max(1, Number(process.env.BENCH_RUNS ?? 7))
const beginMedians = {}
for (const n of chainSizes) {
  try {
    const {dir, policy} = await evidenceDir(n, `chain-${n}`)
    const samples = []
    const cpu = []
    for (let i = 0; i <= chainRuns; i++) {
      const r = spawnSync('node', ['--input-type=module', '-e', BEGIN_ONE, dist('core/evidence/store.js'), dist('core/evidence/signing.js'), dir, join(work, 'state', 'evidence-key'), JSON.stringify(policy)], {encoding: 'utf8'})
      if (r.status !== 0) throw new Error(r.stderr.trim().split('\n').slice(-3).join(' | '))
      const out = JSON.parse(r.stdout.trim().split('\n').pop())
      if (i === 0) continue
      samples.push(out.ms)
      cpu.push(out.cpuMs)
    }
    beginMedians[n] = median(samples)
    rows.push(`| evidence begin + complete, ${n} record${n === 1 ? '' : 's'} in the chain (signed; CPU median ${median(cpu).toFixed(0)} ms) | ${median(samples).toFixed(0)} | ${Math.min(...samples).toFixed(0)}–${Math.max(...samples).toFixed(0)} |`)
    console.log(`GOAL|evidence begin + complete with ${n.toLocaleString('en')} record${n === 1 ? '' : 's'} in the chain|${median(samples).toFixed(0)} ms|≤ 80 ms, flat in the chain length|${median(samples) <= 80}`)
  } catch (error) {
    console.error(`bench: evidence begin + complete with ${n} records not measured: ${error.message}`)
    console.log(`GOAL|evidence begin + complete with ${n.toLocaleString('en')} records in the chain|not measured (the store's API changed?)|≤ 80 ms, flat in the chain length|null`)
  }
}

try {
  const t0 = Date.now()
  const {dir, publicKey} = await evidenceDir(count)
  console.error(`bench: wrote ${count} signed records in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
  const samples = []
  let verdict = '?'
  for (let i = 0; i < runs; i++) {
    const s = performance.now()
    const r = spawnSync('node', [join(root, 'bin/run.js'), 'agent-machine', 'evidence', 'inspect', dir, '--json', '--trusted-key', publicKey], {encoding: 'utf8', maxBuffer: 1 << 30, env: {...process.env, SOURCEOSCTL_STATE_DIR: join(work, 'state'), NO_COLOR: '1'}})
    samples.push(performance.now() - s)
    try {
      verdict = JSON.parse(r.stdout).verdict
    } catch {
      verdict = `exit ${r.status}`
    }
  }
  rows.push(`| evidence inspect, ${count} signed records (${verdict}) | ${median(samples).toFixed(0)} | ${Math.min(...samples).toFixed(0)}–${Math.max(...samples).toFixed(0)} |`)
} catch (error) {
  console.error(`bench: evidence inspect case skipped: ${error.message}`)
}

function generateTree(dest, files) {
  if (existsSync(join(dest, '.complete'))) return
  rmSync(dest, {recursive: true, force: true})
  const queue = [dest]
  let made = 0
  for (let head = 0; made < files; head++) {
    const d = queue[head]
    mkdirSync(d, {recursive: true})
    // ~1 KiB of source per file, unlike the scan's empty trees: the hash reads every byte.
    for (let i = 0; i < 10 && made < files; i++, made++) writeFileSync(join(d, `f${i}.js`), `// file ${made}\n${'export const x = 1\n'.repeat(50)}`)
    for (let i = 0; i < 4; i++) queue.push(join(d, `d${i}`))
  }
  writeFileSync(join(dest, '.complete'), '')
}

const HASH_ONE = `
const [treeRoot, url] = process.argv.slice(1)
const {contentTree} = await import(url)
const {writeFileSync} = await import('node:fs')
let t = performance.now()
const first = await contentTree(treeRoot)
const firstMs = performance.now() - t
writeFileSync(treeRoot + '/f0.js', String(Date.now()))
t = performance.now()
const again = await contentTree(treeRoot)
const againMs = performance.now() - t
writeFileSync(treeRoot + '/f0.js', '')
console.log(JSON.stringify({files: first.files, firstMs, againMs, changed: first.tree !== again.tree}))
`

for (const size of sizes) {
  try {
    const label = `${size / 1e3}k`
    const tree = join(treesDir, `content-${label}`)
    generateTree(tree, size)
    const samples = []
    for (let i = 0; i < runs; i++) {
      const r = spawnSync('node', ['--input-type=module', '-e', HASH_ONE, tree, dist('core/evidence/content-hash.js')], {encoding: 'utf8'})
      if (r.status !== 0) throw new Error(r.stderr)
      samples.push(JSON.parse(r.stdout.trim().split('\n').pop()))
    }
    rows.push(`| content tree hash, ${label} files: first walk (reads every file) | ${median(samples.map((s) => s.firstMs)).toFixed(0)} | ${Math.min(...samples.map((s) => s.firstMs)).toFixed(0)}–${Math.max(...samples.map((s) => s.firstMs)).toFixed(0)} |`)
    rows.push(`| content tree hash, ${label} files: after the session, 1 file changed (digests reused) | ${median(samples.map((s) => s.againMs)).toFixed(0)} | ${Math.min(...samples.map((s) => s.againMs)).toFixed(0)}–${Math.max(...samples.map((s) => s.againMs)).toFixed(0)} |`)
  } catch (error) {
    console.error(`bench: content hash case skipped: ${error.message}`)
  }
}

if (rows.length > 0) {
  console.log(`\nevidence — ${runs} runs per case (begin + complete: ${chainRuns}, after a warm-up), wall time in ms\n`)
  console.log('| case | median ms | min–max |')
  console.log('|---|---|---|')
  for (const line of rows) console.log(line)
}
if (!process.env.BENCH_KEEP) rmSync(work, {recursive: true, force: true}); else console.error(work)
