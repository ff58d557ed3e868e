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
  const ref = 'localhost/sourceosctl-bench/agent:1'
  if (spawnSync('podman', ['image', 'exists', ref], {env}).status === 0) return ref
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p))
  if (!busybox) throw new Error('busybox-static is needed for the run benchmark (apt-get install busybox-static)')
  const rootfs = join(work, 'rootfs')
  for (const d of ['bin', 'usr/local/bin', 'usr/local/lib', 'workspace', 'tmp', 'etc']) mkdirSync(join(rootfs, d), {recursive: true})
  copyFileSync(busybox, join(rootfs, 'bin/busybox'))
  for (const applet of ['sh', 'cat', 'id', 'grep', 'sed', 'ls', 'printf', 'tr', 'head', 'env', 'sleep', 'touch', 'stat', 'wc', 'awk']) symlinkSync('busybox', join(rootfs, 'bin', applet))
  for (const tool of ['codex', 'claude']) copyFileSync(join(root, 'test/images/fake-tools', tool), join(rootfs, 'usr/local/bin', tool))
  copyFileSync(join(root, 'test/images/fake-tools/fake-tool.sh'), join(rootfs, 'usr/local/lib/fake-tool.sh'))
  for (const tool of ['codex', 'claude']) chmodSync(join(rootfs, 'usr/local/bin', tool), 0o755)
  writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n')
  spawnSync('tar', ['-C', rootfs, '-cf', join(work, 'rootfs.tar'), '.'])
  podman(['import', '--quiet', '--change', 'ENV PATH=/usr/local/bin:/usr/bin:/bin', join(work, 'rootfs.tar'), ref])
  return ref
}

const results = []
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
    writeFileSync(profile, readFileSync(profile, 'utf8').replace(/ref: \S+/, `ref: ${image}`))
    const runArgs = [...cli, 'agent-machine', 'run', '--tool', 'codex', '--repo', repo, '--', '--version']
    results.push(row(measure('sourceosctl agent-machine run --dry-run', [...runArgs.slice(0, -2), '--dry-run']), base))
    const rootless = process.getuid?.() !== 0
    const raw = measure('raw podman run (same image, mount, command)', [
      'podman', 'run', '--rm', '--init', '--cap-drop=all', '--security-opt=no-new-privileges', '--read-only', '--http-proxy=false', '--pull=never',
      ...(rootless ? ['--userns=keep-id'] : []), `--mount=type=bind,source=${repo},destination=/workspace/app`, '--workdir=/workspace/app', image, 'codex', '--version',
    ])
    const run = measure('sourceosctl agent-machine run --tool codex -- --version', runArgs)
    results.push(row(raw, base), row(run, base), `| run ÷ raw podman run | ${(run.median / raw.median).toFixed(2)}× (goal ≤ 1.5×) | | | |`)
  } catch (error) {
    console.error(`bench: run cases skipped: ${error.message}`)
    podmanOk = false
  }
}

console.log(`\nsourceosctl benchmark — ${runs} runs per case (after one warm-up), wall time in ms, peak RSS by GNU time\n`)
console.log('| case | median ms | min–max | vs node -e 0 | peak RSS |')
console.log('|---|---|---|---|---|')
for (const line of results) console.log(line)
rmSync(work, {recursive: true, force: true})
