/**
 * A test agent image WITH git, for test/integration/worktree.test.ts: the busybox test image's
 * shape (static busybox + applets, a passwd with `agent`) plus the host's own git — /usr/bin/git,
 * the shared libraries `ldd` lists for it, and /usr/lib/git-core/git — imported with `podman
 * import` (no registry, no package manager). Tagged by the hash of its content, so it is built
 * once per content per image store (rootful, and the rootless user's own store). About 9 MB.
 */
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {chmodSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {podman, podmanOk, podmanTarget, type PodmanMode} from './podman-env.js'
import {APPLETS, IMAGE_CHANGES, type TestImage} from './test-image.js'

export const GIT_IMAGE_REPO = 'localhost/sourceosctl-test/agent-git'

type Entry = {path: string; dir: true; mode: number} | {path: string; file: Buffer | string; mode: number} | {path: string; link: string}

/** The host's git and what the dynamic linker needs to run it: `ldd` paths, interpreter included. */
function gitFiles(): Entry[] {
  const git = process.env.SOURCEOSCTL_TEST_GIT ?? '/usr/bin/git'
  const ldd = spawnSync('ldd', [git], {encoding: 'utf8'})
  if (ldd.status !== 0) throw new Error(`ldd ${git} failed (is git installed? apt-get install git): ${ldd.stderr || ldd.error}`)
  const libs = new Set<string>()
  for (const line of ldd.stdout.split('\n')) {
    // "libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x…)" or "/lib64/ld-linux-x86-64.so.2 (0x…)"
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line)
    if (m) libs.add(m[1]!)
  }
  if (![...libs].some((l) => l.includes('ld-linux') || l.includes('ld-musl'))) throw new Error(`ldd ${git}: no dynamic linker found in:\n${ldd.stdout}`)
  const entries: Entry[] = [
    {path: 'usr/bin/git', file: readFileSync(git), mode: 0o755},
    // git runs its helpers (gc --auto, …) from its exec path
    {path: 'usr/lib/git-core/git', link: '../../bin/git'},
  ]
  // Copied at the path ldd names (the content of whatever it resolves to).
  for (const lib of [...libs].sort()) entries.push({path: lib.slice(1), file: readFileSync(realpathSync(lib)), mode: 0o755})
  return entries
}

function busybox(): Buffer {
  const path = process.env.SOURCEOSCTL_TEST_BUSYBOX ?? '/bin/busybox'
  try {
    return readFileSync(path)
  } catch {
    throw new Error(`busybox not found at ${path}: install busybox-static`)
  }
}

function recipe(): Entry[] {
  const dirs = ['bin', 'etc', 'root', 'usr', 'usr/bin', 'usr/lib', 'usr/lib/git-core', 'workspace', 'proc', 'sys', 'dev', 'run', 'home']
  return [
    ...dirs.map((path): Entry => ({path, dir: true, mode: 0o755})),
    {path: 'tmp', dir: true, mode: 0o1777},
    {path: 'home/agent', dir: true, mode: 0o1777},
    {path: 'bin/busybox', file: busybox(), mode: 0o755},
    ...APPLETS.map((applet): Entry => ({path: `bin/${applet}`, link: 'busybox'})),
    {path: 'etc/passwd', file: 'root:x:0:0:root:/root:/bin/sh\nagent:x:1000:1000:agent:/home/agent:/bin/sh\n', mode: 0o644},
    {path: 'etc/group', file: 'root:x:0:\nagent:x:1000:\n', mode: 0o644},
    ...gitFiles(),
  ]
}

function recipeHash(entries: Entry[]): string {
  const hash = createHash('sha256').update(JSON.stringify(IMAGE_CHANGES))
  for (const entry of entries) {
    hash.update(`\0${entry.path}\0`)
    if ('dir' in entry) hash.update(`dir ${entry.mode.toString(8)}`)
    else if ('link' in entry) hash.update(`link ${entry.link}`)
    else hash.update(`file ${entry.mode.toString(8)}\0`).update(entry.file)
  }
  return hash.digest('hex')
}

function buildTarball(entries: Entry[]): {dir: string; tarball: string} {
  const dir = mkdtempSync(join(tmpdir(), 'sourceosctl-git-image-'))
  chmodSync(dir, 0o755) // the rootless user reads the tarball from here
  const rootfs = join(dir, 'rootfs')
  mkdirSync(rootfs, {mode: 0o755})
  chmodSync(rootfs, 0o755)
  for (const entry of entries) {
    const target = join(rootfs, entry.path)
    mkdirSync(dirname(target), {recursive: true, mode: 0o755})
    if ('dir' in entry) mkdirSync(target, {recursive: true})
    else if ('link' in entry) symlinkSync(entry.link, target)
    else writeFileSync(target, entry.file)
    if (!('link' in entry)) chmodSync(target, entry.mode)
  }
  const tarball = join(dir, 'rootfs.tar')
  const tar = spawnSync('tar', ['--create', '--file', tarball, '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '--sort=name', '-C', rootfs, '.'], {encoding: 'utf8'})
  if (tar.status !== 0) throw new Error(`tar failed: ${tar.stderr || tar.error}`)
  chmodSync(tarball, 0o644)
  return {dir, tarball}
}

const images = new Map<PodmanMode, Promise<TestImage>>()

/** The git image in the rootful store or the rootless user's, built unless it is there. Cached per process. */
export function ensureGitImage(mode: PodmanMode): Promise<TestImage> {
  let image = images.get(mode)
  if (!image) {
    image = build(mode)
    images.set(mode, image)
    image.catch(() => images.delete(mode))
  }
  return image
}

async function build(mode: PodmanMode): Promise<TestImage> {
  const target = podmanTarget(mode)
  if (!target.runnable) throw new Error(`cannot build the ${mode} git image: ${target.reason}`)
  const entries = recipe()
  const ref = `${GIT_IMAGE_REPO}:${recipeHash(entries).slice(0, 8)}`
  if ((await podman(target, ['image', 'exists', ref])).exitCode !== 0) {
    const started = performance.now()
    const {dir, tarball} = buildTarball(entries)
    try {
      await podmanOk(target, ['import', '--quiet', ...IMAGE_CHANGES.flatMap((c) => ['--change', c]), '--message', 'sourceosctl integration test image with git', tarball, ref])
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
    console.error(`[git-image] built ${ref} (${mode}${target.user ? ` as ${target.user}` : ''}) in ${Math.round(performance.now() - started)} ms`)
  }
  return {ref, id: await podmanOk(target, ['image', 'inspect', '--format', '{{.Id}}', ref])}
}
