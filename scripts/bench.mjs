#!/usr/bin/env node
// `make bench`: every row of the performance goals (issue 18, docs/performance.md), measured side
// by side in one run: the cases of a row are interleaved (A, B, A, B, …, after one warm-up each) so
// a busy machine slows both alike, and each row prints its figure, its goal and whether it is met.
// Wall-time medians; peak RSS where GNU time exists. A benchmark, not a test: it asserts nothing.
// BENCH_RUNS (default 7) sets the runs per case; BENCH_ONLY=startup,doctor,run,repos,files,scan,evidence
// picks sections (default: all).
import {spawnSync} from 'node:child_process'
import {chmodSync, copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const runs = Math.max(1, Number(process.env.BENCH_RUNS ?? 7))
const only = new Set((process.env.BENCH_ONLY ?? 'startup,doctor,run,exec,repos,files,scan,evidence').split(','))
const cli = ['node', join(root, 'bin/run.js')]
const GNU_TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : null
const work = mkdtempSync(join(tmpdir(), 'sourceosctl-bench-'))
const env = {...process.env, SOURCEOSCTL_CONFIG_DIR: join(work, 'config'), SOURCEOSCTL_STATE_DIR: join(work, 'state'), NO_COLOR: '1'}
if (!env.CONTAINERS_CONF && existsSync('/etc/sourceosctl-ci/containers.conf')) env.CONTAINERS_CONF = '/etc/sourceosctl-ci/containers.conf'
const rootless = process.getuid?.() !== 0

/** The goals table: one line per row of the issue, with the figure measured now and its verdict. */
const goals = []
function goal(row, measured, target, met) {
  const verdict = met === null ? 'not measured' : target === '—' ? 'reported' : met ? 'met' : 'not met'
  goals.push(`| ${row} | ${measured} | ${target} | ${verdict} |`)
}
const ms = (x) => `${x.toFixed(0)} ms`
const ratio = (a, b) => a.median / b.median

function once(argv, extraEnv = {}) {
  const args = GNU_TIME ? [GNU_TIME, '-f', '%M %U %S', ...argv] : argv
  const started = process.hrtime.bigint()
  const r = spawnSync(args[0], args.slice(1), {env: {...env, ...extraEnv}, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 28})
  const wall = Number(process.hrtime.bigint() - started) / 1e6
  // GNU time's last line: peak RSS (KiB), user and system CPU seconds of the process and its children
  const [rssKiB, user, sys] = GNU_TIME ? (r.stderr ?? '').trim().split('\n').pop().split(' ').map(Number) : [NaN, NaN, NaN]
  return {ms: wall, rssKiB, cpuMs: (user + sys) * 1000, status: r.status, stderr: r.stderr ?? '', stdout: r.stdout ?? ''}
}

/**
 * The cases of one row, interleaved: one warm-up each, then `runs` rounds of every case in turn.
 * Returns per case {name, median, min, max, peakRssMiB, cpu} (cpu: median CPU ms, null without GNU time).
 */
function interleaved(cases) {
  for (const c of cases) once(c.argv, c.env)
  const samples = cases.map(() => [])
  for (let i = 0; i < runs; i++) for (const [k, c] of cases.entries()) samples[k].push(once(c.argv, c.env))
  return cases.map((c, k) => {
    const bad = samples[k].find((s) => s.status !== 0 && s.status !== (c.exit ?? 0))
    if (bad) console.error(`bench: ${c.name} exited ${bad.status}: ${bad.stderr.trim().split('\n').slice(-2).join(' | ')}`)
    const t = samples[k].map((s) => s.ms).sort((a, b) => a - b)
    const rss = samples[k].map((s) => s.rssKiB).filter(Number.isFinite)
    const cpu = samples[k].map((s) => s.cpuMs).filter(Number.isFinite).sort((a, b) => a - b)
    const r = {name: c.name, median: t[Math.floor(t.length / 2)], min: t[0], max: t[t.length - 1], peakRssMiB: rss.length ? Math.max(...rss) / 1024 : null, cpu: cpu.length ? cpu[Math.floor(cpu.length / 2)] : null, failed: Boolean(bad)}
    results.push(r)
    return r
  })
}

const results = []
function resultRow(r, base) {
  const vs = base ? `${(r.median / base.median).toFixed(2)}×` : ''
  const rss = r.peakRssMiB === null ? 'n/a' : `${r.peakRssMiB.toFixed(0)} MiB`
  const cpu = r.cpu === null ? 'n/a' : r.cpu.toFixed(0)
  return `| ${r.name} | ${r.median.toFixed(0)} | ${r.min.toFixed(0)}–${r.max.toFixed(0)} | ${vs} | ${cpu} | ${rss} |`
}

function podman(args) {
  const r = spawnSync('podman', args, {env, encoding: 'utf8'})
  if (r.status !== 0) throw new Error(`podman ${args.join(' ')}: ${r.stderr}`)
  return r.stdout.trim()
}

/** A tiny local image (busybox + the fake tools of the integration tests): no registry needed. */
function benchImage() {
  const ref = 'localhost/sourceosctl-bench/agent:5' // :4 carries squid and ip; :5 find
  if (spawnSync('podman', ['image', 'exists', ref], {env}).status === 0) return ref
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p))
  if (!busybox) throw new Error('busybox-static is needed for the run benchmark (apt-get install busybox-static)')
  const rootfs = join(work, 'rootfs')
  for (const d of ['bin', 'usr/local/bin', 'usr/local/lib', 'workspace', 'tmp', 'etc']) mkdirSync(join(rootfs, d), {recursive: true})
  chmodSync(join(rootfs, 'tmp'), 0o1777)
  copyFileSync(busybox, join(rootfs, 'bin/busybox'))
  for (const applet of ['sh', 'cat', 'id', 'grep', 'sed', 'ls', 'printf', 'tr', 'head', 'env', 'sleep', 'touch', 'stat', 'wc', 'awk', 'find']) symlinkSync('busybox', join(rootfs, 'bin', applet))
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

/** A git repo with one commit (what a launch records for each mount). */
function gitRepo(dir) {
  mkdirSync(dir, {recursive: true})
  writeFileSync(join(dir, 'README.md'), '# bench\n')
  const git = (...args) => spawnSync('git', ['-C', dir, '-c', 'user.name=bench', '-c', 'user.email=bench@example.invalid', '-c', 'commit.gpgsign=false', ...args], {stdio: 'ignore'})
  git('init', '-q')
  git('add', '.')
  git('commit', '-q', '-m', 'bench')
  return dir
}

/** A profile (via init and repo add, as a user makes one) for `repos`, on `image`, in its own config dir. */
function profileFor(name, repos, image, network) {
  const configDir = join(work, `config-${name}`)
  const e = {...env, SOURCEOSCTL_CONFIG_DIR: configDir}
  const init = spawnSync(cli[0], [...cli.slice(1), 'agent-machine', 'init', '--profile', 'linux-podman-native', '--repo', repos[0]], {env: e, encoding: 'utf8'})
  if (init.status !== 0) throw new Error(`init: ${init.stderr}`)
  for (const repo of repos.slice(1)) {
    const add = spawnSync(cli[0], [...cli.slice(1), 'agent-machine', 'repo', 'add', repo], {env: e, encoding: 'utf8'})
    if (add.status !== 0) throw new Error(`repo add: ${add.stderr}`)
  }
  const file = join(configDir, 'agent-machine', 'profile.yaml')
  let text = readFileSync(file, 'utf8').replace(/ref: \S+/, `ref: ${image}`)
  if (network === 'allowlist-shared') {
    // mode allowlist with the long-lived shared proxy (spec.network.proxy: shared; init writes per-run)
    text = /^ *proxy: per-run\b/m.test(text) ? text.replace(/^( *)proxy: per-run\b/m, '$1proxy: shared') : text.replace(/^( *)mode: allowlist\b/m, '$1mode: allowlist\n$1proxy: shared')
  } else text = text.replace(/^( *)mode: allowlist\b/m, `$1mode: ${network}`)
  writeFileSync(file, text)
  return file
}

const hardening = ['--rm', '--init', '--cap-drop=all', '--security-opt=no-new-privileges', '--read-only', '--http-proxy=false', '--pull=never', ...(rootless ? ['--userns=keep-id'] : [])]

// --- Start-up: `--version` and `run --dry-run` against `node -e 0`, interleaved.
let image = null
const podmanOk = spawnSync('podman', ['--version'], {env}).status === 0
if (podmanOk) {
  try {
    image = benchImage()
  } catch (error) {
    console.error(`bench: no bench image, the podman rows are not measured: ${error.message}`)
  }
}
const app = gitRepo(join(work, 'dev', 'app'))
let noneProfile = null
try {
  noneProfile = profileFor('none', [app], image ?? 'localhost/sourceosctl-bench/agent:5', 'none')
} catch (error) {
  console.error(`bench: no profile: ${error.message}`)
}
const runArgs = (profile, ...rest) => [...cli, 'agent-machine', 'run', '--profile-file', profile, '--tool', 'codex', '--repo', app, ...rest]

if (only.has('startup')) {
  const cases = [{name: 'node -e 0', argv: ['node', '-e', '0']}, {name: 'sourceosctl --version', argv: [...cli, '--version']}]
  if (noneProfile && image) cases.push({name: 'sourceosctl agent-machine run --dry-run', argv: runArgs(noneProfile, '--dry-run')})
  const [base, version, dry] = interleaved(cases)
  // The verdict is the wall ratio; the CPU ratio beside it is the steadier figure on a busy machine.
  const cpuRatio = (a, b) => (a.cpu !== null && b.cpu ? `; CPU ${(a.cpu / b.cpu).toFixed(2)}×` : '')
  goal('`sourceosctl --version` vs `node -e 0`', `${ratio(version, base).toFixed(2)}× (${ms(version.median)} vs ${ms(base.median)}${cpuRatio(version, base)})`, '≤ 1.3×', ratio(version, base) <= 1.3)
  if (dry) goal('`run --dry-run` vs `node -e 0`', `${ratio(dry, base).toFixed(2)}× (${ms(dry.median)}${cpuRatio(dry, base)})`, '≤ 2.5×', ratio(dry, base) <= 2.5)
  else goal('`run --dry-run` vs `node -e 0`', 'no bench image', '≤ 2.5×', null)
}

// --- doctor against its slowest single probe, `podman info`, interleaved.
if (only.has('doctor') && podmanOk) {
  const [info, doctor] = interleaved([
    {name: 'podman info --format json (doctor’s slowest probe)', argv: ['podman', 'info', '--format', 'json']},
    {name: 'sourceosctl agent-machine doctor --json', argv: [...cli, 'agent-machine', 'doctor', '--json'], env: noneProfile ? {SOURCEOSCTL_PROFILE: noneProfile} : {}, exit: 4},
  ])
  const over = doctor.median - info.median
  const cpu = doctor.cpu !== null && info.cpu !== null ? `; CPU ${doctor.cpu.toFixed(0)} vs ${info.cpu.toFixed(0)} ms` : ''
  goal('`doctor --json` minus its slowest probe (`podman info`)', `+${over.toFixed(0)} ms (${ms(doctor.median)} vs ${ms(info.median)}${cpu})`, '≤ +200 ms', over <= 200)
}

// --- run vs a raw `podman run` with the same image, mount, command and network; peak RSS.
if (only.has('run') && image && noneProfile) {
  const signed = (x) => `${x < 0 ? '−' : '+'}${Math.abs(x).toFixed(0)} ms`
  try {
    const openProfile = profileFor('open', [app], image, 'open')
    const mount = `--mount=type=bind,source=${app},destination=/workspace/app`
    const raw = (network) => ['podman', 'run', ...hardening, ...network, mount, '--workdir=/workspace/app', image, 'codex', '--version']
    const [rawNone, runNone, rawOpen, runOpen] = interleaved([
      {name: 'raw podman run, --network=none', argv: raw(['--network=none'])},
      {name: 'run --tool codex -- --version, network none', argv: runArgs(noneProfile, '--', '--version')},
      {name: 'raw podman run, podman’s default network', argv: raw([])},
      {name: 'run --tool codex -- --version, network open', argv: runArgs(openProfile, '--', '--version')},
    ])
    goal('`run --tool` vs raw `podman run`, same flags and network (open)', `${ratio(runOpen, rawOpen).toFixed(2)}× (${ms(runOpen.median)} vs ${ms(rawOpen.median)})`, '≤ 1.5×', ratio(runOpen, rawOpen) <= 1.5)
    goal('`run --tool` vs raw `podman run`, network none', `${ratio(runNone, rawNone).toFixed(2)}× (${ms(runNone.median)} vs ${ms(rawNone.median)})`, '≤ 2.0×', ratio(runNone, rawNone) <= 2.0)
    // the split launch's own podman processes (create, init, inspect, start: what a run does so it can check the
    // container before anything of the agent runs), same flags, against the one raw run: what a single
    // `podman run` with an OCI hook doing that check would save at most (docs/performance.md)
    const split = (network) => ['sh', '-c', `n=sourceosctl-bench-split-$$ && podman create --name=$n ${raw(network).slice(2).map((a) => `'${a}'`).join(' ')} >/dev/null && podman init $n >/dev/null && podman container inspect --format json $n >/dev/null && podman start --attach $n || { podman rm --force $n >/dev/null 2>&1; exit 1; }`]
    const [splitRaw, splitNone] = interleaved([
      {name: 'raw podman run, --network=none (split pair)', argv: raw(['--network=none'])},
      {name: 'podman create + init + container inspect + start --attach, --network=none', argv: split(['--network=none'])},
    ])
    goal('raw podman floor: create + init + inspect + start − one `podman run`, none (reported, no goal)', `${signed(splitNone.median - splitRaw.median)} (${ms(splitNone.median)} vs ${ms(splitRaw.median)}; CPU ${splitNone.cpu?.toFixed(0) ?? 'n/a'} vs ${splitRaw.cpu?.toFixed(0) ?? 'n/a'} ms)`, '—', splitNone.failed || splitRaw.failed ? null : true)
    // network allowlist: the same run with the egress proxy (network, sidecar, readiness, teardown, log)
    const allowlistProfile = profileFor('allowlist', [app], image, 'allowlist')
    const sharedProfile = profileFor('allowlist-shared', [app], image, 'allowlist-shared')
    // the raw podman floor under the same load: none, and a run in an existing container's network
    // namespace on an internal network (what proxy: shared's agent does: it joins its slot's network holder)
    const floorNet = `sourceosctl-bench-floor-${process.pid}`
    const floorHolder = `sourceosctl-bench-holder-${process.pid}`
    spawnSync('podman', ['network', 'create', '--internal', floorNet], {env})
    spawnSync('podman', ['run', '--detach', `--name=${floorHolder}`, '--cap-drop=all', '--read-only', '--pull=never', '--dns=none', ...(rootless ? ['--userns=keep-id'] : []), `--network=${floorNet}`, image, 'sleep', '2147483647'], {env})
    const joined = ['podman', 'run', ...hardening.filter((f) => f !== '--userns=keep-id'), ...(rootless ? [`--userns=container:${floorHolder}`] : []), `--network=container:${floorHolder}`, mount, '--workdir=/workspace/app', image, 'codex', '--version']
    let none2, allow, shared, floorNone, floorJoined
    try {
      ;[none2, allow, shared, floorNone, floorJoined] = interleaved([
        {name: 'run --tool codex -- --version, network none (again)', argv: runArgs(noneProfile, '--', '--version')},
        {name: 'run --tool codex -- --version, network allowlist (proxy per run, the default)', argv: runArgs(allowlistProfile, '--', '--version')},
        {name: 'run --tool codex -- --version, network allowlist (proxy: shared)', argv: runArgs(sharedProfile, '--', '--version')},
        {name: 'raw podman run, --network=none (again)', argv: raw(['--network=none'])},
        {name: 'raw podman run in an existing container’s network namespace (an internal network)', argv: joined},
      ])
    } finally {
      spawnSync('podman', ['rm', '--force', '--time=0', floorHolder], {env})
      spawnSync('podman', ['network', 'rm', '--force', floorNet], {env})
    }
    goal('allowlist (per-run proxy, default) − none', signed(allow.median - none2.median), '≤ +300 ms', allow.median - none2.median <= 300)
    goal('allowlist (proxy: shared) − none', signed(shared.median - none2.median), '≤ +300 ms', shared.median - none2.median <= 300)
    goal('raw podman floor: a joined network namespace − none (reported, no goal)', `${signed(floorJoined.median - floorNone.median)} (${ms(floorJoined.median)} vs ${ms(floorNone.median)})`, '—', floorJoined.failed || floorNone.failed ? null : true)
    // the shared egress proxy these runs set up (its first run is the warm-up), its pool's network holders (same image label) and networks, removed (docs/network.md)
    const imageId = spawnSync('podman', ['image', 'inspect', '--format={{.Id}}', image], {env, encoding: 'utf8'}).stdout.trim()
    const proxies = spawnSync('podman', ['ps', '--all', '--format={{.ID}} {{index .Labels "dev.sourceos.agent-machine.egress-key"}}', `--filter=label=dev.sourceos.agent-machine.egress-image=${imageId}`], {env, encoding: 'utf8'}).stdout.trim().split('\n').filter(Boolean).map((l) => l.split(' '))
    for (const [id, key] of proxies) {
      spawnSync('podman', ['rm', '--force', '--time=0', id], {env})
      const nets = spawnSync('podman', ['network', 'ls', '--quiet', `--filter=label=dev.sourceos.agent-machine.egress-key=${key}`], {env, encoding: 'utf8'}).stdout.trim().split('\n').filter(Boolean)
      if (nets.length > 0) spawnSync('podman', ['network', 'rm', '--force', ...nets], {env})
    }
  } catch (error) {
    console.error(`bench: run rows not measured: ${error.message}`)
  }
}

// --- exec into a running session (issue 17) vs a raw `podman exec` of the same container with the
// same flags, interleaved: the session is a detached `run` (its keeper waits in the background).
// The command is `sh -c true` (the bench image's busybox has no `true` applet of its own).
if (only.has('exec') && image && noneProfile) {
  const runId = `bench-exec-${process.pid}`
  try {
    const d = spawnSync(cli[0], [...cli.slice(1), 'agent-machine', 'run', '--profile-file', noneProfile, '--tool', 'codex', '--repo', app, '--detach', '--run-id', runId, '--', '--sleep', '900'], {env, encoding: 'utf8'})
    if (d.status !== 0) throw new Error(`run --detach: ${d.stderr.trim().split('\n').slice(-2).join(' | ')}`)
    const [raw, exec] = interleaved([
      {name: 'raw podman exec --interactive <container> sh -c true', argv: ['podman', 'exec', '--interactive', `sourceos-agent-${runId}`, 'sh', '-c', 'true']},
      {name: 'exec <run-id> -- sh -c true', argv: [...cli, 'agent-machine', 'exec', runId, '--', 'sh', '-c', 'true']},
    ])
    goal('`exec <run-id> -- true` vs raw `podman exec` of the same container', `${ratio(exec, raw).toFixed(2)}× (${ms(exec.median)} vs ${ms(raw.median)})`, '≤ 2.0×', ratio(exec, raw) <= 2.0)
  } catch (error) {
    console.error(`bench: exec row not measured: ${error.message}`)
  } finally {
    spawnSync(cli[0], [...cli.slice(1), 'agent-machine', 'stop', runId, '--time', '1'], {env, encoding: 'utf8'})
  }
}

// --- run with 1, 5 and 20 allowlisted repos (each a git repo): wall time and peak RSS. GNU time's
// peak is the largest of the process tree (the CLI and every child it waited for: git, podman);
// the CLI's node process's own peak is read inside it (scripts/bench-node-rss.cjs, preloaded), and
// a raw `podman run` with the 20 repos bind-mounted is the floor of a podman process's own peak.
if (only.has('repos') && image) {
  try {
    const repos = Array.from({length: 20}, (_, i) => (i === 0 ? app : gitRepo(join(work, 'dev', `repo-${String(i).padStart(2, '0')}`))))
    const probe = join(root, 'scripts', 'bench-node-rss.cjs')
    const nodeRss = (n) => join(work, `node-rss-${n}.txt`)
    const cases = [1, 5, 20].map((n) => ({
      name: `run --tool codex -- --version, ${n} repo${n === 1 ? '' : 's'}`,
      argv: ['node', '--require', probe, ...runArgs(profileFor(`repos-${n}`, repos.slice(0, n), image, 'none'), '--', '--version').slice(1)],
      env: {BENCH_NODE_RSS_FILE: nodeRss(n)},
    }))
    const rawMounts = repos.map((r, i) => `--mount=type=bind,source=${r},destination=/workspace/r${i}`)
    cases.push({name: 'raw podman run, network none, the 20 repos bind-mounted', argv: ['podman', 'run', ...hardening, '--network=none', ...rawMounts, '--workdir=/workspace/r0', image, 'codex', '--version']})
    const [one, , twenty, raw] = interleaved(cases)
    // the node process alone: the largest of the measured runs (GNU time's figure is the largest too)
    const nodePeak = (n) => {
      const kib = existsSync(nodeRss(n)) ? readFileSync(nodeRss(n), 'utf8').split('\n').filter(Boolean).map(Number).filter(Number.isFinite) : []
      return kib.length ? `${(Math.max(...kib) / 1024).toFixed(0)} MiB` : 'n/a'
    }
    const cpu = (r) => (r.cpu === null ? 'n/a' : `${r.cpu.toFixed(0)} ms`)
    goal('`run` with 20 repos vs 1 repo', `${ratio(twenty, one).toFixed(2)}× (${ms(twenty.median)} vs ${ms(one.median)}; CPU ${cpu(twenty)} vs ${cpu(one)})`, '≤ 1.2×', ratio(twenty, one) <= 1.2)
    const mib = (r) => (r.peakRssMiB === null ? 'n/a' : `${r.peakRssMiB.toFixed(0)} MiB`)
    goal('peak RSS of `run` at 20 repos', twenty.peakRssMiB === null ? 'no GNU time' : `${mib(twenty)} (the node process alone: ${nodePeak(20)}; 1 repo: ${mib(one)}, node alone ${nodePeak(1)}; a raw \`podman run\` with the 20 mounts: ${mib(raw)})`, '≤ 70 MiB', twenty.peakRssMiB === null ? null : twenty.peakRssMiB <= 70)
  } catch (error) {
    console.error(`bench: repo-scaling rows not measured: ${error.message}`)
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

// --- A file-heavy command on a mounted 100k-file repo, through sourceosctl and in podman directly.
if (only.has('files') && image) {
  try {
    const tree = join(treesDir, 't100k')
    generateTree(tree, 100_000)
    const profile = profileFor('files', [tree], image, 'none')
    const command = ['sh', '-c', 'find /workspace/app -type f | wc -l']
    const [raw, through] = interleaved([
      {name: 'raw podman run: find over a mounted 100k-file repo', argv: ['podman', 'run', ...hardening, '--network=none', `--mount=type=bind,source=${tree},destination=/workspace/app`, '--workdir=/workspace/app', image, ...command]},
      {name: 'shell -- find over the same repo (scan, evidence, launch)', argv: [...cli, 'agent-machine', 'shell', '--profile-file', profile, '--repo', tree, '--', ...command]},
    ])
    goal('file-heavy command on a mounted 100k-file repo vs podman directly (reported, no goal)', `${ratio(through, raw).toFixed(2)}× (${ms(through.median)} vs ${ms(raw.median)})`, '—', raw.failed || through.failed ? null : true)
  } catch (error) {
    console.error(`bench: file-heavy row not measured: ${error.message}`)
  }
}

const SCAN_ONE = `
const [root, cacheFile, mode, treeCacheDir] = process.argv.slice(1)
if (mode === 'floor') {
  // What a warm scan cannot skip: one lstat per folder (its identity, for the cache) and per file
  // (its link count). The paths are listed first, untimed.
  const {lstatSync, readdirSync} = await import('node:fs')
  const paths = []
  const stack = [root]
  while (stack.length > 0) {
    const dir = stack.pop()
    paths.push(dir)
    for (const e of readdirSync(dir, {withFileTypes: true})) (e.isDirectory() ? stack : paths).push(dir + '/' + e.name)
  }
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  for (const p of paths) lstatSync(p)
  const ms = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  console.log(JSON.stringify({ms, cpuMs: (cpu.user + cpu.system) / 1000, entries: paths.length - 1, refused: 0, cache: null}))
  process.exit(0)
}
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
  scanRows.push(`| ${name} | ${samples[0].entries} | ${ms[mid].toFixed(0)} | ${ms[0].toFixed(0)}–${ms[n - 1].toFixed(0)} | ${cpu[mid].toFixed(0)} |`)
  return {median: ms[mid], entries: samples[0].entries}
}

if (only.has('scan')) {
  const scanGoals = {100_000: {cold: 500, warm: 50}, 1_000_000: {cold: 5000}}
  try {
    for (const size of scanSizes) {
      const label = size >= 1e6 ? `${size / 1e6}M` : `${size / 1e3}k`
      const tree = join(treesDir, `t${label}`)
      const t0 = Date.now()
      generateTree(tree, size)
      if (Date.now() - t0 > 1000) console.error(`bench: generated the ${label}-file tree in ${((Date.now() - t0) / 1000).toFixed(0)} s`)
      const cold = scanSamples(`scan ${label} files`, tree, scanRuns)
      const treeCacheDir = join(work, 'state', `tree-cache-${label}`)
      scanSamples(`  first, writing the tree cache, ${label} files`, tree, size >= 1e6 ? 1 : scanRuns, '', 'first', treeCacheDir)
      const warm = scanSamples(`  warm (tree cache from an earlier launch), ${label} files`, tree, scanRuns, '', 'warm', treeCacheDir)
      // For scale: the same walk without host facts (no per-file lstat, so no hard-link check).
      if (size === 100_000) {
        scanSamples(`  walk only, ${label} files (no link counts)`, tree, scanRuns, '', 'walk-only')
        scanSamples(`  floor of a warm scan: an lstat of every folder and file alone, ${label} files`, tree, scanRuns, '', 'floor')
      }
      const g = scanGoals[size]
      const complete = cold.entries >= size
      if (g) goal(`hazard scan of a ${label}-file tree, cold (complete)`, `${ms(cold.median)}, ${cold.entries} entries${complete ? '' : ': INCOMPLETE'}`, `complete, ≤ ${g.cold >= 1000 ? `${g.cold / 1000} s` : `${g.cold} ms`}`, complete && cold.median <= g.cold)
      if (g?.warm) goal(`hazard scan of a ${label}-file tree, warm`, ms(warm.median), `≤ ${g.warm} ms`, warm.median <= g.warm)
    }
    // The hard-link lookup: a tree with one file hard-linked to a file outside it (pnpm-like) makes
    // the scan look the tree's outside-linked inodes up among the deny catalogue's files on this host:
    // first with an empty cache (cold), then with the cache the first run wrote (warm).
    const linked = join(work, 'linked-tree')
    generateTree(linked, 10_000)
    writeFileSync(join(work, 'outside.js'), '')
    linkSync(join(work, 'outside.js'), join(linked, 'linked.js'))
    const cacheFile = join(work, 'state', 'scan-cache', 'deny-inodes.json')
    scanSamples('scan 10k files + 1 outside hard link, deny cache cold', linked, 1, cacheFile)
    scanSamples('scan 10k files + 1 outside hard link, deny cache warm', linked, Math.max(1, scanRuns), cacheFile)
  } catch (error) {
    console.error(`bench: scan cases skipped: ${error.message}`)
  }
}

// --- Evidence (scripts/bench-evidence.mjs): begin + complete with 1 / 1,000 / 10,000 records in the
// chain, `evidence inspect` of 10,000 signed records, and the content tree hash of 10k/100k-file trees.
let evidenceTable = ''
if (only.has('evidence')) {
  const ev = spawnSync('node', [join(root, 'scripts/bench-evidence.mjs')], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: {...process.env, BENCH_RUNS: String(runs)}, maxBuffer: 1 << 26})
  const out = ev.stdout ?? ''
  // bench-evidence prints its goal lines as `GOAL|row|measured|target|met` before its table.
  for (const line of out.split('\n').filter((l) => l.startsWith('GOAL|'))) {
    const [, row, measured, target, met] = line.split('|')
    goal(row, measured, target, met === 'null' ? null : met === 'true')
  }
  evidenceTable = out.split('\n').filter((l) => !l.startsWith('GOAL|')).join('\n')
}

const load = spawnSync('uptime', {encoding: 'utf8'}).stdout?.trim() ?? ''
console.log(`\nsourceosctl benchmark — node ${process.version}, ${runs} interleaved runs per case (after one warm-up each), medians; ${load}\n`)
console.log('| row | measured | goal | verdict |')
console.log('|---|---|---|---|')
for (const line of goals) console.log(line)
if (results.length > 0) {
  const base = results.find((r) => r.name === 'node -e 0')
  console.log(`\nevery case — wall time in ms; CPU (user+sys of the process and its children) and peak RSS by GNU time\n`)
  console.log('| case | median ms | min–max | vs node -e 0 | median CPU ms | peak RSS |')
  console.log('|---|---|---|---|---|---|')
  for (const r of results) console.log(resultRow(r, base))
}
if (scanRows.length > 0) {
  console.log(`\nhazard scan (tree-scan.ts) — ${scanRuns} fresh processes per tree, first scan in each; wall and CPU (user+sys, all threads) ms\n`)
  console.log('| case | entries | median ms | min–max | median CPU ms |')
  console.log('|---|---|---|---|---|')
  for (const line of scanRows) console.log(line)
}
if (evidenceTable.trim()) process.stdout.write(evidenceTable.endsWith('\n') ? evidenceTable : `${evidenceTable}\n`)
rmSync(work, {recursive: true, force: true})
