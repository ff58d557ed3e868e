/**
 * A test agent image WITH git, for test/integration/worktree.test.ts: the busybox test image's
 * shape (static busybox + applets, a passwd with `agent`) plus the host's own git — /usr/bin/git,
 * the shared libraries `ldd` lists for it, and /usr/lib/git-core/git — imported with `podman
 * import` (no registry, no package manager). Tagged by the hash of its content, so it is built
 * once per content per image store (rootful, and the rootless user's own store). About 9 MB.
 */
import {spawnSync} from 'node:child_process'
import {readFileSync, realpathSync} from 'node:fs'
import {podmanTarget, type PodmanMode} from './podman-env.js'
import {APPLETS, findStaticBusybox, importRecipe, type Entry, type TestImage} from './test-image.js'

export const GIT_IMAGE_REPO = 'localhost/sourceosctl-test/agent-git'

/** The host's git and what the dynamic linker needs to run it: `ldd` paths, interpreter included. */
export function gitFiles(): Entry[] {
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

function recipe(): Entry[] {
  const dirs = ['bin', 'etc', 'root', 'usr', 'usr/bin', 'usr/lib', 'usr/lib/git-core', 'workspace', 'proc', 'sys', 'dev', 'run', 'home']
  return [
    ...dirs.map((path): Entry => ({path, dir: true, mode: 0o755})),
    {path: 'tmp', dir: true, mode: 0o1777},
    {path: 'home/agent', dir: true, mode: 0o1777},
    {path: 'bin/busybox', file: findStaticBusybox(), mode: 0o755},
    ...APPLETS.map((applet): Entry => ({path: `bin/${applet}`, link: 'busybox'})),
    {path: 'etc/passwd', file: 'root:x:0:0:root:/root:/bin/sh\nagent:x:1000:1000:agent:/home/agent:/bin/sh\n', mode: 0o644},
    {path: 'etc/group', file: 'root:x:0:\nagent:x:1000:\n', mode: 0o644},
    ...gitFiles(),
  ]
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
  return importRecipe(target, GIT_IMAGE_REPO, recipe(), 'sourceosctl integration test image with git')
}
