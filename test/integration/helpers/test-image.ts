/**
 * The integration tests' agent image, built locally (no registry is reachable): `podman import` of a
 * tiny root filesystem — busybox-static, a passwd with `agent` (uid 1000), /workspace, and the fake
 * tools from test/images/fake-tools. Tagged by the hash of its content, so it is built once per
 * content per image store (rootful and every rootless user each have their own store).
 */
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {REPO_ROOT, podmanOk, podman, podmanTarget, type PodmanTarget} from './podman-env.js'

export const TEST_IMAGE_REPO = 'localhost/sourceosctl-test/agent'

export interface TestImage {
  /** e.g. localhost/sourceosctl-test/agent:1a2b3c4d */
  ref: string
  /** podman's image ID (64 hex). */
  id: string
}

/** busybox applets linked into /bin (the fake tools use sh, id, sed, awk, tr, sort, stat, cat …). */
export const APPLETS = [
  'sh', 'ls', 'cat', 'id', 'grep', 'env', 'echo', 'mkdir', 'touch', 'sleep', 'stat', 'readlink', 'sed',
  'awk', 'wc', 'head', 'tr', 'printf', 'test', '[', 'true', 'false', 'kill', 'ps', 'sort', 'cut', 'tail',
  'rm', 'cp', 'mv', 'ln', 'chmod', 'pwd', 'whoami', 'basename', 'dirname', 'uname', 'hostname', 'mkfifo', 'nc', 'nslookup', 'ip',
]

/** Metadata `podman import --change` applies. */
/** (The egress-proxy label says the image carries squid, as the real image does: doctor checks it.) */
export const IMAGE_CHANGES = ['CMD ["/bin/sh"]', 'WORKDIR /workspace', 'ENV PATH=/usr/local/bin:/usr/bin:/bin', 'LABEL dev.sourceos.agent-machine.egress-proxy=squid']

/** One file system entry of an image recipe. */
export type Entry =
  | {path: string; dir: true; mode: number}
  | {path: string; file: Buffer | string; mode: number}
  | {path: string; link: string}

const FAKE_TOOLS = join(REPO_ROOT, 'test', 'images', 'fake-tools')

/** The image's root filesystem, as data (its hash is the tag). */
function recipe(busybox: Buffer): Entry[] {
  const tool = (name: string): Entry => ({path: `usr/local/bin/${name}`, file: readFileSync(join(FAKE_TOOLS, name)), mode: 0o755})
  return [
    ...['bin', 'etc', 'root', 'usr', 'usr/bin', 'usr/local', 'usr/local/bin', 'usr/local/lib', 'workspace', 'proc', 'sys', 'dev', 'run']
      .map((path): Entry => ({path, dir: true, mode: 0o755})),
    // Writable by whichever uid the container runs as (1000, or the host uid with --userns=keep-id).
    {path: 'tmp', dir: true, mode: 0o1777},
    {path: 'home', dir: true, mode: 0o755},
    {path: 'home/agent', dir: true, mode: 0o1777},
    {path: 'bin/busybox', file: busybox, mode: 0o755},
    ...APPLETS.map((applet): Entry => ({path: `bin/${applet}`, link: 'busybox'})),
    {path: 'usr/bin/env', link: '../../bin/busybox'},
    {path: 'etc/passwd', file: 'root:x:0:0:root:/root:/bin/sh\nagent:x:1000:1000:agent:/home/agent:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n', mode: 0o644},
    {path: 'etc/group', file: 'root:x:0:\nagent:x:1000:\nnogroup:x:65534:\n', mode: 0o644},
    {path: 'usr/local/lib/fake-tool.sh', file: readFileSync(join(FAKE_TOOLS, 'fake-tool.sh')), mode: 0o644},
    tool('codex'),
    tool('claude'),
    ...squidEntries(),
  ]
}

/**
 * Squid, the egress proxy the allowlist's sidecar runs (the real image installs Debian's package):
 * the host's binaries (CI installs the squid package) with the shared libraries ldd names, its
 * icons, MIME table and English error templates. Empty when the host has no squid: then launches
 * with network mode allowlist fail, saying the image lacks it.
 */
export function squidEntries(): Entry[] {
  const binaries = ['/usr/sbin/squid', '/usr/lib/squid/unlinkd']
  if (!binaries.every((b) => existsSync(b))) return []
  const entries = new Map<string, Entry>()
  const addFile = (abs: string, mode: number): void => {
    entries.set(abs.slice(1), {path: abs.slice(1), file: readFileSync(abs), mode})
  }
  for (const bin of binaries) {
    addFile(bin, 0o755)
    const ldd = spawnSync('ldd', [bin], {encoding: 'utf8'})
    for (const lib of ldd.stdout.matchAll(/(\/\S+\.so[.0-9]*)\s/g)) addFile(lib[1]!, 0o755)
  }
  const addTree = (abs: string): void => {
    for (const name of readdirSync(abs).sort()) {
      const child = join(abs, name)
      const st = statSync(child)
      if (st.isDirectory()) addTree(child)
      else if (st.isFile()) addFile(child, 0o644)
    }
  }
  addTree('/usr/share/squid/icons')
  addFile('/usr/share/squid/mime.conf', 0o644)
  addTree('/usr/share/squid-langpack/templates')
  return [...entries.values(), {path: 'usr/share/squid/errors', link: '../squid-langpack'}]
}

export function recipeHash(entries: Entry[]): string {
  const hash = createHash('sha256').update(JSON.stringify(IMAGE_CHANGES))
  for (const entry of entries) {
    hash.update(`\0${entry.path}\0`)
    if ('dir' in entry) hash.update(`dir ${entry.mode.toString(8)}`)
    else if ('link' in entry) hash.update(`link ${entry.link}`)
    else hash.update(`file ${entry.mode.toString(8)}\0`).update(entry.file)
  }
  return hash.digest('hex')
}

/** busybox from busybox-static: the image has no libc, so a dynamically linked one would not start. */
export function findStaticBusybox(): Buffer {
  const candidates = [process.env.SOURCEOSCTL_TEST_BUSYBOX, '/bin/busybox', '/usr/bin/busybox'].filter((p): p is string => Boolean(p))
  for (const path of candidates) {
    let bytes: Buffer
    try {
      bytes = readFileSync(path)
    } catch {
      continue
    }
    if (!isStaticElf(bytes)) throw new Error(`${path} is dynamically linked: install busybox-static (apt-get install busybox-static)`)
    return bytes
  }
  throw new Error(`busybox not found (${candidates.join(', ')}): install busybox-static`)
}

/** An ELF executable with no PT_INTERP program header is statically linked. */
function isStaticElf(bytes: Buffer): boolean {
  if (bytes.length < 64 || bytes.readUInt32BE(0) !== 0x7f454c46) return false
  const is64 = bytes[4] === 2
  const le = bytes[5] === 1
  const u16 = (at: number) => (le ? bytes.readUInt16LE(at) : bytes.readUInt16BE(at))
  const u32 = (at: number) => (le ? bytes.readUInt32LE(at) : bytes.readUInt32BE(at))
  const phoff = is64 ? Number(le ? bytes.readBigUInt64LE(0x20) : bytes.readBigUInt64BE(0x20)) : u32(0x1c)
  const [phentsize, phnum] = is64 ? [u16(0x36), u16(0x38)] : [u16(0x2a), u16(0x2c)]
  for (let i = 0; i < phnum; i++) {
    if (u32(phoff + i * phentsize) === 3 /* PT_INTERP */) return false
  }
  return true
}

/** Write the recipe into a fresh directory and tar it (root-owned, fixed mtime). Returns the tar's path. */
function buildTarball(entries: Entry[]): {dir: string; tarball: string} {
  const dir = mkdtempSync(join(tmpdir(), 'sourceosctl-test-image-'))
  chmodSync(dir, 0o755) // the rootless user reads the tarball from here
  const rootfs = join(dir, 'rootfs')
  mkdirSync(rootfs, {mode: 0o755})
  chmodSync(rootfs, 0o755) // becomes the image's "/"
  for (const entry of entries) {
    const target = join(rootfs, entry.path)
    mkdirSync(dirname(target), {recursive: true})
    if ('dir' in entry) mkdirSync(target, {recursive: true})
    else if ('link' in entry) symlinkSync(entry.link, target)
    else writeFileSync(target, entry.file)
    if (!('link' in entry)) chmodSync(target, entry.mode) // explicit: umask and mkdir drop bits
  }
  const tarball = join(dir, 'rootfs.tar')
  const tar = spawnSync('tar', ['--create', '--file', tarball, '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '--sort=name', '-C', rootfs, '.'], {encoding: 'utf8'})
  if (tar.status !== 0) throw new Error(`tar failed: ${tar.stderr || tar.error}`)
  chmodSync(tarball, 0o644)
  return {dir, tarball}
}

async function importImage(target: PodmanTarget): Promise<TestImage> {
  return importRecipe(target, TEST_IMAGE_REPO, recipe(findStaticBusybox()), 'sourceosctl integration test image')
}

/**
 * Imports a recipe into the target's store as `<repo>:<hash8>` unless that tag is already there:
 * the content hash is the tag, so every store builds each recipe once.
 */
export async function importRecipe(target: PodmanTarget, repo: string, entries: Entry[], message: string): Promise<TestImage> {
  const ref = `${repo}:${recipeHash(entries).slice(0, 8)}`
  const exists = await podman(target, ['image', 'exists', ref])
  if (exists.exitCode !== 0) {
    const started = performance.now()
    const {dir, tarball} = buildTarball(entries)
    try {
      await podmanOk(target, ['import', '--quiet', ...IMAGE_CHANGES.flatMap((change) => ['--change', change]), '--message', message, tarball, ref])
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
    console.error(`[test-image] built ${ref} (${target.mode}${target.user ? ` as ${target.user}` : ''}) in ${Math.round(performance.now() - started)} ms`)
  }
  const id = await podmanOk(target, ['image', 'inspect', '--format', '{{.Id}}', ref])
  return {ref, id}
}

const images = new Map<string, Promise<TestImage>>()

/**
 * Build the test image into the rootful store, or the rootless user's store, unless it is already
 * there. Cached per process; safe to call from every test file.
 */
export function ensureTestImage(opts: {rootless: boolean}): Promise<TestImage> {
  const target = podmanTarget(opts.rootless ? 'rootless' : 'rootful')
  if (!target.runnable) return Promise.reject(new Error(`cannot build the ${target.mode} test image: ${target.reason}`))
  const key = `${target.mode}:${target.user ?? ''}`
  let image = images.get(key)
  if (!image) {
    image = importImage(target)
    images.set(key, image)
    image.catch(() => images.delete(key))
  }
  return image
}
