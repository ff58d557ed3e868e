#!/usr/bin/env bash
# Build the agent image WITHOUT an image registry: an equivalent of images/agent/Containerfile made
# from a Debian root filesystem (debootstrap), Node from the npm registry's node-linux-<arch>
# package, and the two tools installed with npm — then `podman import`ed.
#
#   images/agent/build-debootstrap.sh [--tag REF] [--cache-dir DIR] [--force] [--for-user USER]
#
#   --tag REF        image name to produce (default localhost/sourceos/agent:e2e; `make e2e` uses it)
#   --cache-dir DIR  where the Debian root, Node and the tools are cached between builds
#                    (default $SOURCEOSCTL_IMAGE_CACHE, else /var/cache/sourceosctl-agent-image)
#   --force          rebuild even when REF already holds an image of this exact recipe
#   --for-user USER  also load the image into USER's rootless podman store (default: $SUDO_USER,
#                    the user who ran `sudo`), which is the store that user's runs use; `--for-user ''`
#                    keeps it in root's store only
#   DEBIAN_MIRROR    Debian mirror (default http://deb.debian.org/debian)
#
# Needs root (debootstrap and chroot), debootstrap, podman, npm, tar. Versions come from the ARG
# defaults in images/agent/Containerfile, so both builds install the same things.
#
# Idempotent: the image carries a label with the hash of its recipe (this script, the Containerfile,
# the config files); when REF already has it, nothing is rebuilt. A failed build leaves no tagged
# image: it is imported under a temporary name and tagged REF only when complete.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CONTAINERFILE="$HERE/Containerfile"
REF=localhost/sourceos/agent:e2e
CACHE=${SOURCEOSCTL_IMAGE_CACHE:-/var/cache/sourceosctl-agent-image}
FORCE=0
FOR_USER=${SUDO_USER:-}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
DEB_PACKAGES=git,ca-certificates,squid,iproute2  # bash is in minbase; squid: the egress proxy; iproute2: open mode's link-local guard
RECIPE_LABEL=dev.sourceos.agent-machine.recipe

die() { echo "build-debootstrap: error: $*" >&2; exit 1; }
say() { echo "build-debootstrap: $*" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

while [ $# -gt 0 ]; do
  case $1 in
    --tag) REF=${2:?--tag needs a value}; shift 2 ;;
    --cache-dir) CACHE=${2:?--cache-dir needs a value}; shift 2 ;;
    --force) FORCE=1; shift ;;
    --for-user) FOR_USER=${2?--for-user needs a value}; shift 2 ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

# ---- prerequisites: each missing piece names its fix ------------------------------------------
[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap and chroot need it): sudo $0 $*"
for tool in debootstrap podman npm node tar chroot sha256sum; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    case $tool in
      debootstrap) die "debootstrap is not installed: apt-get install debootstrap" ;;
      podman) die "podman is not installed: apt-get install podman (see README, Development)" ;;
      npm|node) die "$tool is not installed: install Node.js >= 20.19 with npm" ;;
      *) die "$tool is not installed" ;;
    esac
  fi
done

[ "$FOR_USER" = root ] && FOR_USER=''
if [ -n "$FOR_USER" ]; then
  id -u "$FOR_USER" >/dev/null 2>&1 || die "--for-user $FOR_USER: no such user"
  command -v runuser >/dev/null 2>&1 || die "runuser is not installed (util-linux); needed to load the image into $FOR_USER's store"
fi

# Root's store is not a rootless user's: copy the image into FOR_USER's own store (podman save | load).
load_for_user() {
  [ -n "$FOR_USER" ] || return 0
  local home id have
  home=$(getent passwd "$FOR_USER" | cut -d: -f6)
  id=$(podman image inspect --format '{{.Id}}' "$REF")
  as_user() { (cd / && runuser -u "$FOR_USER" -- env HOME="$home" USER="$FOR_USER" PATH=/usr/local/bin:/usr/bin:/bin ${CONTAINERS_CONF:+CONTAINERS_CONF="$CONTAINERS_CONF"} "$@"); }
  have=$(as_user podman image inspect --format '{{.Id}}' "$REF" 2>/dev/null || true)
  if [ "$have" = "$id" ]; then
    say "$FOR_USER's rootless store already has $REF (${id:0:12})"
    return 0
  fi
  say "loading $REF into $FOR_USER's rootless store (podman save | podman load) …"
  podman save "$REF" | as_user podman load --quiet >/dev/null \
    || die "loading $REF into $FOR_USER's store failed; by hand: sudo podman save $REF | podman load   (as $FOR_USER)"
  # docker-archive (save's default) keeps the name; make sure REF names it in that store.
  as_user podman image exists "$REF" || die "after the load, $REF is not in $FOR_USER's store"
  say "$REF is in $FOR_USER's rootless store: \`sourceosctl agent-machine doctor\` as $FOR_USER checks it"
}

arg() { sed -n "s/^ARG $1=//p" "$CONTAINERFILE" | head -n1; }
NODE_VERSION=$(arg NODE_VERSION)
CODEX_VERSION=$(arg CODEX_VERSION)
CLAUDE_CODE_VERSION=$(arg CLAUDE_CODE_VERSION)
IMAGE_VERSION=$(arg IMAGE_VERSION)
IMAGE_SOURCE=$(arg IMAGE_SOURCE)
for v in NODE_VERSION CODEX_VERSION CLAUDE_CODE_VERSION IMAGE_VERSION IMAGE_SOURCE; do
  [ -n "${!v}" ] || die "no 'ARG $v=' default in $CONTAINERFILE"
done
case $(uname -m) in
  x86_64) NODE_ARCH=x64 ;;
  aarch64|arm64) NODE_ARCH=arm64 ;;
  *) die "unsupported architecture $(uname -m) (x86_64 and aarch64 are)" ;;
esac

CONFIG_FILES=("$HERE/config/codex/config.toml" "$HERE/config/claude-code/managed-settings.json")
RECIPE=$( { cat "$0" "$CONTAINERFILE" "${CONFIG_FILES[@]}"; echo "$MIRROR $SUITE $DEB_PACKAGES $NODE_ARCH"; } | sha256sum | cut -c1-16)

if [ "$FORCE" = 0 ]; then
  have=$(podman image inspect --format "{{index .Labels \"$RECIPE_LABEL\"}}" "$REF" 2>/dev/null || true)
  if [ "$have" = "$RECIPE" ]; then
    say "$REF is up to date (recipe $RECIPE): $(podman image inspect --format '{{.Id}}' "$REF" | cut -c1-12); --force rebuilds"
    load_for_user
    exit 0
  fi
fi
say "building $REF: Debian $SUITE, Node $NODE_VERSION, @openai/codex@$CODEX_VERSION, @anthropic-ai/claude-code@$CLAUDE_CODE_VERSION (recipe $RECIPE)"

install -d -m 0755 "$CACHE"
# The build tree lives on a tmpfs when one can be mounted: dpkg's fsyncs make debootstrap on disk
# about twice as slow.
WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/sourceos-agent-image.XXXXXX")
TMP_REF="localhost/sourceos/agent-build:$RECIPE-$$"
if mount -t tmpfs -o size=6g,mode=0755 sourceos-agent-image "$WORK" 2>/dev/null; then ON_TMPFS=1; else ON_TMPFS=0; fi
cleanup() {
  local rc=$?
  if [ "$ON_TMPFS" = 1 ]; then umount "$WORK" 2>/dev/null || umount -l "$WORK" 2>/dev/null || true; fi
  rm -rf "$WORK"
  # Never leave the temporary name behind; REF is only ever tagged from a complete import.
  # (`podman untag IMAGE` with no name would drop every name, REF's too: always name it.)
  if podman image exists "$TMP_REF" 2>/dev/null; then
    if podman image inspect --format '{{range .RepoTags}}{{.}} {{end}}' "$TMP_REF" 2>/dev/null | tr ' ' '\n' | grep -vxF "$TMP_REF" | grep -q .; then
      podman untag "$TMP_REF" "$TMP_REF" >/dev/null 2>&1 || true
    else
      podman rmi --force "$TMP_REF" >/dev/null 2>&1 || true
    fi
  fi
  [ "$rc" = 0 ] || say "failed (exit $rc); $REF was not changed"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- 1. the Debian root (cached) ------------------------------------------------------------------
BASE_KEY=$(echo "$SUITE minbase $DEB_PACKAGES $MIRROR $NODE_ARCH v1" | sha256sum | cut -c1-12)
BASE_TAR="$CACHE/debian-$SUITE-minbase-$BASE_KEY.tar"
if [ -f "$BASE_TAR" ]; then
  say "debian root: cached ($BASE_TAR)"
else
  t=$(now)
  say "debian root: debootstrap --variant=minbase --include=$DEB_PACKAGES $SUITE from $MIRROR (tmpfs: $ON_TMPFS) …"
  install -d -m 0755 "$CACHE/debs"
  if ! debootstrap --cache-dir="$CACHE/debs" --variant=minbase --include="$DEB_PACKAGES" "$SUITE" "$WORK/base" "$MIRROR" >"$WORK/debootstrap.log" 2>&1; then
    tail -n 20 "$WORK/debootstrap.log" >&2
    die "debootstrap failed (log above); is $MIRROR reachable? set DEBIAN_MIRROR to another mirror"
  fi
  # What an image must not carry: the build host's resolver and name, apt's downloads and lists.
  rm -f "$WORK/base/etc/resolv.conf" "$WORK/base/etc/hostname"
  rm -rf "$WORK/base/var/cache/apt/archives/"*.deb "$WORK/base/var/cache/apt/"*.bin "$WORK/base/var/lib/apt/lists/"* "$WORK/base/var/log/"*
  tar --create --file "$BASE_TAR.tmp" --numeric-owner -C "$WORK/base" .
  mv "$BASE_TAR.tmp" "$BASE_TAR"
  rm -rf "$WORK/base"
  say "debian root: built in $(since "$t")s"
fi

# ---- 2. Node, from the npm registry's node-linux-<arch> package (cached; npm checks its integrity)
NODE_TGZ="$CACHE/node-linux-$NODE_ARCH-$NODE_VERSION.tgz"
if [ ! -f "$NODE_TGZ" ]; then
  t=$(now)
  (cd "$WORK" && npm pack --silent "node-linux-$NODE_ARCH@$NODE_VERSION" >/dev/null) || die "npm pack node-linux-$NODE_ARCH@$NODE_VERSION failed: is the npm registry reachable?"
  mv "$WORK/node-linux-$NODE_ARCH-$NODE_VERSION.tgz" "$NODE_TGZ"
  say "node: fetched node-linux-$NODE_ARCH@$NODE_VERSION in $(since "$t")s"
else
  say "node: cached ($NODE_TGZ)"
fi

# ---- 3. the tools, npm-installed into a /usr/local tree (cached) -----------------------------------
TOOLS_TAR="$CACHE/tools-$NODE_ARCH-codex-$CODEX_VERSION-claude-code-$CLAUDE_CODE_VERSION.tar"
if [ ! -f "$TOOLS_TAR" ]; then
  t=$(now)
  prefix="$WORK/tools/usr/local"
  # Host npm writes into the image's /usr/local; the bin links it makes are relative, so they
  # resolve inside the image. --loglevel=error: the host Node may be older than claude-code's
  # engines field (>=22), which only matters to its installer (it picks the native binary).
  npm install --global --prefix "$prefix" --no-audit --no-fund --no-update-notifier --loglevel=error \
    "@openai/codex@$CODEX_VERSION" "@anthropic-ai/claude-code@$CLAUDE_CODE_VERSION" >&2 \
    || die "npm install of the tools failed: is the npm registry reachable?"
  claude_pkg="$prefix/lib/node_modules/@anthropic-ai/claude-code"
  # claude-code's postinstall replaces bin/claude.exe with the platform's native binary; if this
  # npm did not run it (install scripts not allowed), run it the same way.
  if [ "$(head -c4 "$claude_pkg/bin/claude.exe" | od -An -tx1 | tr -d ' \n')" != 7f454c46 ]; then
    say "tools: running claude-code's installer (npm did not)"
    (cd "$claude_pkg" && node install.cjs) >&2 || die "claude-code's installer (install.cjs) failed"
  fi
  tar --create --file "$TOOLS_TAR.tmp" --numeric-owner -C "$WORK/tools" .
  mv "$TOOLS_TAR.tmp" "$TOOLS_TAR"
  rm -rf "$WORK/tools"
  say "tools: installed in $(since "$t")s"
else
  say "tools: cached ($TOOLS_TAR)"
fi

# ---- 4. assemble the root filesystem -----------------------------------------------------------------
t=$(now)
ROOT="$WORK/rootfs"
install -d -m 0755 "$ROOT"
tar --extract --file "$BASE_TAR" --numeric-owner -C "$ROOT"
tar --extract --file "$TOOLS_TAR" --numeric-owner -C "$ROOT"
tar --extract --file "$NODE_TGZ" --no-same-owner -C "$WORK" package/bin/node package/LICENSE
install -m 0755 "$WORK/package/bin/node" "$ROOT/usr/local/bin/node"
install -D -m 0644 "$WORK/package/LICENSE" "$ROOT/usr/local/share/doc/node/LICENSE"
install -D -m 0644 "$HERE/config/codex/config.toml" "$ROOT/etc/codex/config.toml"
install -D -m 0644 "$HERE/config/claude-code/managed-settings.json" "$ROOT/etc/claude-code/managed-settings.json"
chroot "$ROOT" useradd --uid 1000 --user-group --create-home --home-dir /home/agent --shell /bin/bash agent
chmod 1777 "$ROOT/home/agent"  # why: see the Containerfile
install -d -m 0755 "$ROOT/workspace"
# Same check as the Containerfile's: the tools start (as the image's user, with an empty HOME).
check_env=(/usr/bin/env -i HOME=/home/agent PATH=/usr/local/bin:/usr/bin:/bin DISABLE_AUTOUPDATER=1)
for tool in codex claude; do
  # (codex warns on stderr when /proc is absent, as in this chroot: shown only on failure)
  out=$(chroot --userspec=1000:1000 "$ROOT" "${check_env[@]}" "$tool" --version 2>&1) || { echo "$out" >&2; die "$tool does not start in the new root filesystem"; }
  say "rootfs: $tool --version: $(echo "$out" | tail -n1)"
done
# What the checks left behind: the image's HOME is hidden by a tmpfs at run time anyway.
rm -rf "$ROOT/tmp/"* "$ROOT/tmp/".[!.]* "$ROOT/home/agent/".codex "$ROOT/home/agent/".claude* 2>/dev/null || true
say "rootfs: assembled in $(since "$t")s ($(du -sh "$ROOT" | cut -f1))"

# ---- 5. import under a temporary name, then tag -----------------------------------------------------
t=$(now)
changes=(
  'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
  'ENV HOME=/home/agent'
  'ENV LANG=C.UTF-8'
  'ENV DISABLE_AUTOUPDATER=1'
  'USER agent'
  'WORKDIR /workspace'
  'CMD ["/bin/bash"]'
  'LABEL org.opencontainers.image.title="sourceos agent"'
  "LABEL org.opencontainers.image.source=\"$IMAGE_SOURCE\""
  "LABEL org.opencontainers.image.version=\"$IMAGE_VERSION\""
  'LABEL org.opencontainers.image.licenses="Apache-2.0"'
  "LABEL dev.sourceos.agent-machine.codex.version=\"$CODEX_VERSION\""
  "LABEL dev.sourceos.agent-machine.claude-code.version=\"$CLAUDE_CODE_VERSION\""
  'LABEL dev.sourceos.agent-machine.codex.sandbox="danger-full-access (/etc/codex/config.toml): the container is the sandbox"'
  'LABEL dev.sourceos.agent-machine.claude-code.sandbox="sandbox.enabled=false (/etc/claude-code/managed-settings.json): the container is the sandbox"'
  'LABEL dev.sourceos.agent-machine.egress-proxy="squid"'
  "LABEL dev.sourceos.agent-machine.build=\"debootstrap $SUITE minbase, node $NODE_VERSION\""
  "LABEL $RECIPE_LABEL=$RECIPE"
)
change_args=()
for c in "${changes[@]}"; do change_args+=(--change "$c"); done
old_id=$(podman image inspect --format '{{.Id}}' "$REF" 2>/dev/null || true)
tar --create --numeric-owner -C "$ROOT" . \
  | podman import --quiet "${change_args[@]}" --message "sourceos agent image (build-debootstrap, recipe $RECIPE)" - "$TMP_REF" >/dev/null \
  || die "podman import failed"
podman tag "$TMP_REF" "$REF"
podman untag "$TMP_REF" "$TMP_REF"
new_id=$(podman image inspect --format '{{.Id}}' "$REF")
# The image REF named before is now unnamed: drop it unless something still uses it.
if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then podman rmi "$old_id" >/dev/null 2>&1 || true; fi
say "imported $REF ($(echo "$new_id" | cut -c1-12), $(podman image inspect --format '{{.Size}}' "$REF" | awk '{ printf "%.0f MB", $1 / 1e6 }')) in $(since "$t")s"
load_for_user
