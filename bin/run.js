#!/usr/bin/env node
/* global __dirname, require */
// The entry. Every verb is an oclif command class; before oclif loads, this file does eight things
// to start faster (docs/performance.md):
// 1. `sourceosctl --version` (and -v) prints oclif's own version line (`config.userAgent`) here.
// 2. The top-level help (`sourceosctl`, `--help`, `-h`) comes from dist/root-help.json, which the
//    build renders with oclif itself (scripts/manifest.mjs). It is used only when it is keyed to
//    the files it was rendered from (their sha256 match) and the output would be the same (80
//    columns, no oclif theme, not WSL); otherwise oclif renders it as always.
// 3. Node's compile cache (V8 code cache) in dist/compile-cache, which the build fills
//    (scripts/manifest.mjs): part of the install, as trusted as the code beside it, and never in
//    HOME or the state dir, so doctor and dry runs still write nothing there. Node checks each
//    entry against its source's hash and V8's version; an unusable or unwritable cache is ignored.
// 4. exec's fast path, 5. oclif's own engines check, 6. oclif in one file, 7. a young generation kept
// small and 8. TurboFan only for long runs: see below.
// CommonJS (bin/package.json): Node starts a CommonJS entry faster than an ES module one.
const {existsSync, lstatSync, readFileSync, writeSync} = process.getBuiltinModule('node:fs')
const {homedir, platform, release} = process.getBuiltinModule('node:os')
const {join} = process.getBuiltinModule('node:path')

const root = join(__dirname, '..')
const argv = process.argv.slice(2)

/** oclif's config.platform: os.platform(), or 'wsl' (is-wsl). null: maybe WSL, so ask oclif. */
function oclifPlatform() {
  const p = platform()
  if (p !== 'linux') return p
  if (release().toLowerCase().includes('microsoft')) return null
  try {
    if (readFileSync('/proc/version', 'utf8').toLowerCase().includes('microsoft')) return null
  } catch {
    // no /proc: is-wsl reads on
  }
  if (existsSync('/proc/sys/fs/binfmt_misc/WSLInterop') || existsSync('/run/WSL')) return null
  return p
}

/** oclif's config.userAgent, or null when this process cannot say it exactly. */
function userAgent(pjson) {
  const p = oclifPlatform()
  if (p === null) return null
  const arch = process.arch === 'ia32' ? 'x86' : process.arch
  return `${pjson.name}/${pjson.version || '0.0.0'} ${p}-${arch} node-${process.version}`
}

/** The width oclif's help wraps at (@oclif/core screen.js). */
function helpWidth() {
  const columns = Number.parseInt(process.env.OCLIF_COLUMNS, 10) || globalThis.oclif?.columns
  if (columns) return columns
  if (!process.stdout.isTTY) return 80
  const width = process.stdout.getWindowSize()[0]
  return width < 1 ? 80 : width < 40 ? 40 : width
}

/** A user theme colours oclif's help (configDir/theme.json, configDir as oclif computes it). */
function mayHaveTheme(pjson) {
  const scope = pjson.oclif.bin.toUpperCase().replaceAll('-', '_')
  if (['1', 'true'].includes(process.env[`${scope}_DISABLE_THEME`] ?? '')) return false
  if (pjson.oclif.theme) return true
  const home = process.env.HOME || process.env.USERPROFILE || homedir()
  const dirs = [
    process.env[`${scope}_CONFIG_DIR`],
    process.env.XDG_CONFIG_HOME && join(process.env.XDG_CONFIG_HOME, pjson.oclif.dirname),
    process.env.LOCALAPPDATA && join(process.env.LOCALAPPDATA, pjson.oclif.dirname),
    join(home, '.config', pjson.oclif.dirname),
  ]
  return dirs.some((dir) => dir && existsSync(join(dir, 'theme.json')))
}

/** The pre-rendered top-level help, when it is exactly what oclif would print now. */
function renderedHelp(pjson, agent) {
  if (process.env.DEBUG || helpWidth() !== 80 || mayHaveTheme(pjson)) return null
  let rendered
  try {
    rendered = JSON.parse(readFileSync(join(root, 'dist', 'root-help.json'), 'utf8'))
  } catch {
    return null
  }
  if (rendered.width !== 80 || agent.length > 70) return null
  const {createHash} = process.getBuiltinModule('node:crypto')
  for (const [file, sha256] of Object.entries(rendered.inputs)) {
    let bytes
    try {
      bytes = readFileSync(join(root, file))
    } catch {
      return null
    }
    if (createHash('sha256').update(bytes).digest('hex') !== sha256) return null
  }
  return rendered.parts.join(agent)
}

/** The answer given before oclif loads (the version line, the top-level help), or false. */
function fastPath() {
  if (argv.length > 1) return false
  const pjson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
  const versionFlags = new Set(['--version', ...(pjson.oclif.additionalVersionFlags ?? [])])
  const helpFlags = new Set(['--help', ...(pjson.oclif.additionalHelpFlags ?? [])])
  if (argv.length === 1 && !versionFlags.has(argv[0]) && !helpFlags.has(argv[0])) return false
  const agent = userAgent(pjson)
  if (agent === null) return false
  if (argv.length === 1 && versionFlags.has(argv[0])) return `${agent}\n`
  return renderedHelp(pjson, agent) ?? false
}

/**
 * The fast path's answer, written straight to fd 1: process.stdout would first set up a stream (a
 * pipe's costs ~15% of a start) for one write. The same bytes, all of them (a full non-blocking
 * pipe is waited out); any other error is thrown as process.stdout's would be. Windows consoles
 * keep process.stdout (it converts the text for the console).
 */
function print(text) {
  if (process.platform === 'win32') {
    process.stdout.write(text)
    return
  }
  const bytes = Buffer.from(text, 'utf8')
  let pause = null
  for (let done = 0; done < bytes.length; ) {
    try {
      done += writeSync(1, bytes, done, bytes.length - done)
    } catch (error) {
      if (error?.code !== 'EAGAIN') throw error
      // The reader has not drained the pipe yet: wait a millisecond rather than spin.
      Atomics.wait((pause ??= new Int32Array(new SharedArrayBuffer(4))), 0, 0, 1)
    }
  }
}

function enableCompileCache() {
  const {enableCompileCache: enable} = process.getBuiltinModule('node:module')
  if (typeof enable !== 'function' || process.env.NODE_DISABLE_COMPILE_CACHE) return
  try {
    const dir = join(root, 'dist', 'compile-cache')
    // As trusted as the code beside it: a real folder, with dist's owner, writable by no one else.
    const info = lstatSync(dir)
    if (!info.isDirectory() || (process.getuid && (info.uid !== lstatSync(join(root, 'dist')).uid || (info.mode & 0o022) !== 0))) return
    enable(dir)
  } catch {
    // No cache (none built, or unusable): the CLI runs as without one.
  }
}

/**
 * 7. V8 doubles its young generation while a process allocates (up to 16 MiB per semi-space, two
 *    of them): most of a run's peak memory beyond the code. A CLI run keeps little of what it
 *    allocates, so it stays at its first size: ~12 MiB less peak RSS at 20 repos, a few % more
 *    CPU in scavenges (docs/performance.md). Only the growth is set, never a limit, so no
 *    allocation fails for it; a semi-space flag of the user's (NODE_OPTIONS, node's own argv) wins.
 */
function keepYoungGenerationSmall() {
  if (`${process.env.NODE_OPTIONS ?? ''} ${process.execArgv.join(' ')}`.includes('semi-space')) return
  try {
    process.getBuiltinModule('node:v8').setFlagsFromString('--semi-space-growth-factor=1')
  } catch {
    // not settable here: V8's default growth
  }
}

/**
 * 8. TurboFan, V8's optimising compiler, only for long work. A run of a few hundred milliseconds
 *    spends more on TurboFan's compiles than they give back, and its code and memory are ~9 MiB of
 *    the run's peak RSS; the interpreter and Sparkplug (Node 22 leaves Maglev off) run the rest.
 *    Long work turns it back on for the rest of the process through the function left on
 *    globalThis (src/core/util/optimise.ts): walks past a few thousand entries (a big repo's scan
 *    or content digest), a long chain of records to verify. A TurboFan or tiering flag of the
 *    user's (NODE_OPTIONS, node's own argv) wins: then nothing here changes.
 */
const OPTIMISE_FULLY = Symbol.for('sourceosctl.optimiseFully')

function deferTurbofan() {
  if (/turbofan|maglev|max-opt|jitless|(^|\s)--(no-)?opt\b/.test(`${process.env.NODE_OPTIONS ?? ''} ${process.execArgv.join(' ')}`)) return
  try {
    const v8 = process.getBuiltinModule('node:v8')
    v8.setFlagsFromString('--no-turbofan')
    let deferred = true
    globalThis[OPTIMISE_FULLY] = () => {
      if (!deferred) return
      deferred = false
      v8.setFlagsFromString('--turbofan')
    }
  } catch {
    // not settable here: V8's default tiers
  }
}

async function main() {
  let answer = false
  try {
    answer = fastPath()
  } catch {
    // Anything unexpected (unreadable package.json…): oclif answers, and reports it.
  }
  if (answer !== false) {
    print(answer)
    return
  }
  // before the compile cache: its entries are keyed by V8's flags (scripts/manifest.mjs sets the same)
  keepYoungGenerationSmall()
  deferTurbofan()
  enableCompileCache()
  // 4. `agent-machine exec <run-id> [-- command]` of a live session: one podman call without oclif
  //    (src/core/sessions/exec-fast.ts); it declines (null) before running anything otherwise.
  if (argv[0] === 'agent-machine' && argv[1] === 'exec') {
    let code = null
    try {
      const {pathToFileURL} = process.getBuiltinModule('node:url')
      const {tryFastExec} = await import(pathToFileURL(join(root, 'dist', 'core', 'sessions', 'exec-fast.js')).href)
      code = await tryFastExec(argv.slice(2))
    } catch {
      // not built, or declined: oclif runs exec as always
    }
    if (code !== null) {
      process.exitCode = code
      return
    }
  }
  const {execute} = await importOclif()
  // The package root itself: oclif would take bin/package.json for the root if given this file.
  await execute({dir: root})
}

/**
 * 5. `@oclif/core` on import checks that this Node satisfies its own `engines.node`, with semver
 *    (~15% of loading oclif). The same comparison for a plain `>=X.Y.Z` range is made here, and
 *    only when it holds is oclif's check skipped (OCLIF_DISABLE_ENGINE_WARNING, for the import
 *    only: no child process inherits it). Any other range, an older Node, or the variable already
 *    set by the user: oclif checks and warns as always.
 */
async function importOclif() {
  // 6. @oclif/core as the build bundles it (dist/oclif-core.js, scripts/bundle.mjs): the command
  //    bundles import that same file, so there is one oclif in the process, read from one file;
  //    the package.json of the code bundled is beside it (dist/oclif-core/package.json), and oclif's
  //    own engines check reads that one too. Without a build (or a partial one), the package itself.
  const bundled = join(root, 'dist', 'oclif-core.js')
  const useBundle = existsSync(bundled)
  const name = 'OCLIF_DISABLE_ENGINE_WARNING'
  let skip = false
  try {
    const pjson = useBundle ? join(root, 'dist', 'oclif-core', 'package.json') : join(require.resolve('@oclif/core'), '..', '..', 'package.json')
    skip = process.env[name] === undefined && nodeSatisfies(JSON.parse(readFileSync(pjson, 'utf8')).engines.node)
  } catch {
    // unreadable: oclif checks
  }
  if (skip) process.env[name] = '1'
  try {
    if (!useBundle) return await import('@oclif/core')
    const {pathToFileURL} = process.getBuiltinModule('node:url')
    return await import(pathToFileURL(bundled).href)
  } finally {
    if (skip) delete process.env[name]
  }
}

/** process.versions.node >= X.Y.Z for a range written exactly `>=X.Y.Z`; false for anything else. */
function nodeSatisfies(range) {
  const want = /^>=\s*(\d+)\.(\d+)\.(\d+)$/.exec(String(range).trim())
  const have = /^(\d+)\.(\d+)\.(\d+)$/.exec(process.versions.node)
  if (!want || !have) return false
  for (let i = 1; i <= 3; i++) {
    if (Number(have[i]) !== Number(want[i])) return Number(have[i]) > Number(want[i])
  }
  return true
}

main()
