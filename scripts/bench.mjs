#!/usr/bin/env node
// `make bench`: wall-time medians (and peak RSS where GNU time exists) of the CLI against its
// baselines — start-up vs `node -e 0`, doctor vs its slowest single probe, run vs a raw
// `podman run` of the same image, mounts and command. A benchmark, not a test: it asserts nothing,
// it prints figures. BENCH_RUNS (default 10) sets the number of runs per case.
import {spawnSync} from 'node:child_process'
import {chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const runs = Number(process.env.BENCH_RUNS ?? 10)
const cli = ['node', join(root, 'bin/run.js')]
const GNU_TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : null
const work = mkdtempSync(join(tmpdir(), 'sourceosctl-bench-'))
const env = {...process.env, SOURCEOSCTL_CONFIG_DIR: join(work, 'config'), SOURCEOSCTL_STATE_DIR: join(work, 'state'), NO_COLOR: '1'}
if (!env.CONTAINERS_CONF && existsSync('/etc/sourceosctl-ci/containers.conf')) env.CONTAINERS_CONF = '/etc/sourceosctl-ci/containers.conf'

function once(argv) {
  const args = GNU_TIME ? [GNU_TIME, '-f', '%M', ...argv] : argv
  const started = process.hrtime.bigint()
  const r = spawnSync(args[0], args.slice(1), {env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']})
  const ms = Number(process.hrtime.bigint() - started) / 1e6
  const rssKiB = GNU_TIME ? Number((r.stderr ?? '').trim().split('\n').pop()) : NaN
  return {ms, rssKiB, status: r.status, stderr: r.stderr}
}

function measure(name, argv) {
  once(argv) // warm-up: page cache, podman storage
  const samples = Array.from({length: runs}, () => once(argv))
  const bad = samples.find((s) => s.status !== 0 && s.status !== 7)
  if (bad) console.error(`bench: ${name} exited ${bad.status}: ${bad.stderr.trim().split('\n').slice(-2).join(' | ')}`)
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b)
  const rss = samples.map((s) => s.rssKiB).filter(Number.isFinite)
  return {name, median: ms[Math.floor(ms.length / 2)], min: ms[0], max: ms[ms.length - 1], peakRssMiB: rss.length ? Math.max(...rss) / 1024 : null}
}

function row(r, base) {
  const ratio = base ? `${(r.median / base.median).toFixed(2)}×` : ''
  const rss = r.peakRssMiB === null ? 'n/a' : `${r.peakRssMiB.toFixed(0)} MiB`
  return `| ${r.name} | ${r.median.toFixed(0)} | ${r.min.toFixed(0)}–${r.max.toFixed(0)} | ${ratio} | ${rss} |`
}

function podman(args) {
  const r = spawnSync('podman', args, {env, encoding: 'utf8'})
  if (r.status !== 0) throw new Error(`podman ${args.join(' ')}: ${r.stderr}`)
  return r.stdout.trim()
}

/** A tiny local image (busybox + the fake tools of the integration tests): no registry needed. */
function benchImage() {
  const ref = 'localhost/sourceosctl-bench/agent:4' // :4 carries squid and ip
  if (spawnSync('podman', ['image', 'exists', ref], {env}).status === 0) return ref
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p))
  if (!busybox) throw new Error('busybox-static is needed for the run benchmark (apt-get install busybox-static)')
  const rootfs = join(work, 'rootfs')
  for (const d of ['bin', 'usr/local/bin', 'usr/local/lib', 'workspace', 'tmp', 'etc']) mkdirSync(join(rootfs, d), {recursive: true})
  chmodSync(join(rootfs, 'tmp'), 0o1777)
  copyFileSync(busybox, join(rootfs, 'bin/busybox'))
  for (const applet of ['sh', 'cat', 'id', 'grep', 'sed', 'ls', 'printf', 'tr', 'head', 'env', 'sleep', 'touch', 'stat', 'wc', 'awk']) symlinkSync('busybox', join(rootfs, 'bin', applet))
  for (const tool of ['codex', 'claude']) copyFileSync(join(root, 'test/images/fake-tools', tool), join(rootfs, 'usr/local/bin', tool))
  copyFileSync(join(root, 'test/images/fake-tools/fake-tool.sh'), join(rootfs, 'usr/local/lib/fake-tool.sh'))
  for (const tool of ['codex', 'claude']) chmodSync(join(rootfs, 'usr/local/bin', tool), 0o755)
  writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n')
  for (const applet of ['mkdir', 'cp', 'ip']) symlinkSync('busybox', join(rootfs, 'bin', applet))
  addSquid(rootfs)
  spawnSync('tar', ['-C', rootfs, '-cf', join(work, 'rootfs.tar'), '.'])
  podman(['import', '--quiet', '--change', 'ENV PATH=/usr/local/bin:/usr/bin:/bin', '--change', 'LABEL dev.sourceos.agent-machine.egress-proxy=squid', join(work, 'rootfs.tar'), ref])
  return ref
}

/** The egress proxy for the allowlist case: the host's squid (Debian's package) and what ldd says it needs. */
function addSquid(rootfs) {
  const bins = ['/usr/sbin/squid', '/usr/lib/squid/unlinkd']
  if (!bins.every((b) => existsSync(b))) throw new Error('squid is needed for the allowlist case (apt-get install squid)')
  const copy = (abs) => {
    mkdirSync(dirname(join(rootfs, abs)), {recursive: true})
    spawnSync('cp', ['-rL', abs, join(rootfs, abs)])
  }
  for (const bin of bins) {
    copy(bin)
    for (const m of spawnSync('ldd', [bin], {encoding: 'utf8'}).stdout.matchAll(/(\/\S+\.so[.0-9]*)\s/g)) copy(m[1])
  }
  for (const dir of ['/usr/share/squid/icons', '/usr/share/squid/mime.conf', '/usr/share/squid-langpack/templates']) copy(dir)
  symlinkSync('../squid-langpack', join(rootfs, 'usr/share/squid/errors'))
}

const results = []
// BENCH_ONLY=scan: only the hazard-scan figures (below).
if (process.env.BENCH_ONLY !== 'scan') {
const base = measure('node -e 0', ['node', '-e', '0'])
results.push(row(base))
results.push(row(measure('sourceosctl --version', [...cli, '--version']), base))

let podmanOk = spawnSync('podman', ['--version'], {env}).status === 0
const probe = podmanOk ? measure('podman info --format json (slowest doctor probe)', ['podman', 'info', '--format', 'json']) : null
const doctor = measure('sourceosctl agent-machine doctor --json', [...cli, 'agent-machine', 'doctor', '--json'])
results.push(row(doctor, base))
if (probe) results.push(row(probe, base), `| doctor ÷ its slowest probe | ${(doctor.median / probe.median).toFixed(2)}× | | | |`)

if (podmanOk) {
  try {
    const image = benchImage()
    const repo = join(work, 'dev', 'app')
    mkdirSync(repo, {recursive: true})
    const init = spawnSync(cli[0], [...cli.slice(1), 'agent-machine', 'init', '--profile', 'linux-podman-native', '--repo', repo], {env, encoding: 'utf8'})
    if (init.status !== 0) throw new Error(init.stderr)
    const profile = join(env.SOURCEOSCTL_CONFIG_DIR, 'agent-machine', 'profile.yaml')
    const {readFileSync} = await import('node:fs')
    const template = readFileSync(profile, 'utf8').replace(/ref: \S+/, `ref: ${image}`)
    // run vs raw podman run: both without a network (the allowlist's own cost is measured below)
    writeFileSync(profile, template.replace(/mode: allowlist\b/, 'mode: none'))
    const allowlistProfile = join(work, 'allowlist.yaml')
    writeFileSync(allowlistProfile, template)
    const runArgs = [...cli, 'agent-machine', 'run', '--tool', 'codex', '--repo', repo, '--', '--version']
    results.push(row(measure('sourceosctl agent-machine run --dry-run', [...runArgs.slice(0, -2), '--dry-run']), base))
    const rootless = process.getuid?.() !== 0
    const raw = measure('raw podman run (same image, mount, command, --network=none)', [
      'podman', 'run', '--rm', '--init', '--network=none', '--cap-drop=all', '--security-opt=no-new-privileges', '--read-only', '--http-proxy=false', '--pull=never',
      ...(rootless ? ['--userns=keep-id'] : []), `--mount=type=bind,source=${repo},destination=/workspace/app`, '--workdir=/workspace/app', image, 'codex', '--version',
    ])
    const run = measure('sourceosctl agent-machine run --tool codex -- --version', runArgs)
    results.push(row(raw, base), row(run, base), `| run ÷ raw podman run | ${(run.median / raw.median).toFixed(2)}× (goal ≤ 1.5×) | | | |`)
    // network allowlist: the same run with the egress proxy (network, sidecar, readiness, teardown, log)
    const allow = measure('run --tool codex -- --version, network allowlist', [...runArgs.slice(0, 2), 'agent-machine', 'run', '--profile-file', allowlistProfile, ...runArgs.slice(4)])
    results.push(row(allow, base), `| allowlist − none (the egress proxy's cost) | +${(allow.median - run.median).toFixed(0)} ms (goal ≤ +300 ms) | | | |`)
  } catch (error) {
    console.error(`bench: run cases skipped: ${error.message}`)
    podmanOk = false
  }
}

}

// --- The hazard scan (src/core/policy/tree-scan.ts) over generated trees of 10k, 100k and 1M files:
// 10 files and up to 4 sub-folders per folder (~11 entries per folder, 7–10 levels deep). Each
// sample is the first scan in a new process ("cold" process: nothing cached in it; the OS's
// dentry/inode caches are warm, as they are for a repo the user just worked in). The scan runs with
// the real host facts (so every regular file is lstat'ed for its link count) and the real mount
// table. The trees are kept under $TMPDIR/sourceosctl-bench-trees between runs (1M files take
// ~1 min to create); BENCH_SCAN_SIZES (default 10000,100000,1000000) and BENCH_SCAN_RUNS (default 5).
// "warm": the same scan with the tree cache (tree-cache.ts) an earlier launch wrote, as a repeat
// launch on an unchanged tree runs it; "first, writing": with the tree cache given but empty.
const scanRows = []
const scanSizes = (process.env.BENCH_SCAN_SIZES ?? '10000,100000,1000000').split(',').map(Number).filter((n) => n > 0)
const scanRuns = Number(process.env.BENCH_SCAN_RUNS ?? 5)
const treesDir = join(tmpdir(), 'sourceosctl-bench-trees')

function generateTree(dest, files) {
  if (existsSync(join(dest, '.complete'))) return
  rmSync(dest, {recursive: true, force: true})
  const queue = [dest]
  let made = 0
  for (let head = 0; made < files; head++) {
    const dir = queue[head]
    mkdirSync(dir, {recursive: true})
    for (let i = 0; i < 10 && made < files; i++, made++) writeFileSync(join(dir, `f${i}.js`), '')
    for (let i = 0; i < 4; i++) queue.push(join(dir, `d${i}`))
  }
  writeFileSync(join(dest, '.complete'), '')
}

const SCAN_ONE = `
const [root, cacheFile, mode, treeCacheDir] = process.argv.slice(1)
const {scanTree} = await import(${JSON.stringify(join(root, 'dist/core/policy/tree-scan.js'))})
const {probeHostFacts} = await import(${JSON.stringify(join(root, 'dist/core/host/probe.js'))})
const host = await probeHostFacts()
const cpu0 = process.cpuUsage()
const t0 = performance.now()
const scan = await scanTree(root, mode === 'walk-only' ? {} : {host, denyCacheFile: cacheFile || null, treeCacheDir: treeCacheDir || null})
const ms = performance.now() - t0
const cpu = process.cpuUsage(cpu0)
console.log(JSON.stringify({ms, cpuMs: (cpu.user + cpu.system) / 1000, entries: scan.entries, refused: scan.hazards.filter((h) => h.severity === 'refuse').length, cache: scan.cache ?? null}))
`

function scanSamples(name, treeRoot, n, cacheFile = '', mode = '', treeCacheDir = '') {
  const samples = []
  for (let i = 0; i < n; i++) {
    if (mode === 'first') rmSync(treeCacheDir, {recursive: true, force: true})
    const r = spawnSync('node', ['--input-type=module', '-e', SCAN_ONE, treeRoot, cacheFile, mode, treeCacheDir], {encoding: 'utf8'})
    if (r.status !== 0) throw new Error(`scan of ${treeRoot}: ${r.stderr}`)
    samples.push(JSON.parse(r.stdout.trim().split('\n').pop()))
  }
  if (mode === 'warm' && samples.some((s) => !s.cache || s.cache.readDirs > 0)) console.error(`bench: ${name}: not every folder came from the tree cache (${JSON.stringify(samples.map((s) => s.cache))})`)
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b)
  const cpu = samples.map((s) => s.cpuMs).sort((a, b) => a - b)
  const mid = Math.floor(n / 2)
  return `| ${name} | ${samples[0].entries} | ${ms[mid].toFixed(0)} | ${ms[0].toFixed(0)}–${ms[n - 1].toFixed(0)} | ${cpu[mid].toFixed(0)} |`
}

try {
  for (const size of scanSizes) {
    const label = size >= 1e6 ? `${size / 1e6}M` : `${size / 1e3}k`
    const tree = join(treesDir, `t${label}`)
    const t0 = Date.now()
    generateTree(tree, size)
    if (Date.now() - t0 > 1000) console.error(`bench: generated the ${label}-file tree in ${((Date.now() - t0) / 1000).toFixed(0)} s`)
    scanRows.push(scanSamples(`scan ${label} files`, tree, scanRuns))
    const treeCacheDir = join(work, 'state', `tree-cache-${label}`)
    scanRows.push(scanSamples(`  first, writing the tree cache, ${label} files`, tree, size >= 1e6 ? 1 : scanRuns, '', 'first', treeCacheDir))
    scanRows.push(scanSamples(`  warm (tree cache from an earlier launch), ${label} files`, tree, scanRuns, '', 'warm', treeCacheDir))
    // For scale: the same walk without host facts (no per-file lstat, so no hard-link check).
    if (size === 100_000) scanRows.push(scanSamples(`  walk only, ${label} files (no link counts)`, tree, scanRuns, '', 'walk-only'))
  }
  // The hard-link lookup: a tree with one file hard-linked to a file outside it (pnpm-like) makes
  // the scan look the tree's outside-linked inodes up among the deny catalogue's files on this host:
  // first with an empty cache (cold), then with the cache the first run wrote (warm).
  const linked = join(work, 'linked-tree')
  generateTree(linked, 10_000)
  writeFileSync(join(work, 'outside.js'), '')
  const {linkSync} = await import('node:fs')
  linkSync(join(work, 'outside.js'), join(linked, 'linked.js'))
  const cacheFile = join(work, 'state', 'scan-cache', 'deny-inodes.json')
  scanRows.push(scanSamples('scan 10k files + 1 outside hard link, deny cache cold', linked, 1, cacheFile))
  scanRows.push(scanSamples('scan 10k files + 1 outside hard link, deny cache warm', linked, Math.max(1, scanRuns), cacheFile))
} catch (error) {
  console.error(`bench: scan cases skipped: ${error.message}`)
}

// --- Evidence (scripts/bench-evidence.mjs): `evidence inspect` of 10,000 signed records, and the
// content tree hash (what the agent changed) of 10k- and 100k-file trees, first walk and after-session walk.
let evidenceTable = ''
if (process.env.BENCH_ONLY !== 'scan') {
  const ev = spawnSync('node', [join(root, 'scripts/bench-evidence.mjs')], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: {...process.env, BENCH_RUNS: String(runs)}})
  evidenceTable = ev.stdout ?? ''
}

if (results.length > 0) {
  console.log(`\nsourceosctl benchmark — ${runs} runs per case (after one warm-up), wall time in ms, peak RSS by GNU time\n`)
  console.log('| case | median ms | min–max | vs node -e 0 | peak RSS |')
  console.log('|---|---|---|---|---|')
  for (const line of results) console.log(line)
}
if (scanRows.length > 0) {
  console.log(`\nhazard scan (tree-scan.ts) — ${scanRuns} fresh processes per tree, first scan in each; wall and CPU (user+sys, all threads) ms\n`)
  console.log('| case | entries | median ms | min–max | median CPU ms |')
  console.log('|---|---|---|---|---|')
  for (const line of scanRows) console.log(line)
}
if (evidenceTable) process.stdout.write(evidenceTable)
rmSync(work, {recursive: true, force: true})
