#!/usr/bin/env bash
# make image: build images/agent/Containerfile as the image the profiles use.
#
#   scripts/build-agent-image.sh [REF]          (default localhost/sourceos/agent:latest)
#
#   NODE_IMAGE=<ref>    base image (default: the Containerfile's ARG NODE_IMAGE), e.g. pinned by digest
#   PODMAN=<path>       podman binary (default: podman on PATH)
#   PODMAN_BUILD_ARGS   extra arguments for `podman build` (e.g. --build-arg CODEX_VERSION=…)
#
# Fails fast, naming the fix, when podman or the base image is missing. The build goes to a
# temporary name that is tagged REF only when the build succeeded, so a failed build leaves REF as
# it was (and no half-tagged image).
set -euo pipefail

cd "$(dirname "$0")/.."
REF=${1:-localhost/sourceos/agent:latest}
PODMAN=${PODMAN:-podman}
CONTEXT=images/agent
NODE_IMAGE=${NODE_IMAGE:-$(sed -n 's/^ARG NODE_IMAGE=//p' "$CONTEXT/Containerfile" | head -n1)}

die() { echo "make image: error: $*" >&2; exit 1; }
say() { echo "make image: $*" >&2; }

command -v "$PODMAN" >/dev/null 2>&1 \
  || die "podman is not installed or not on PATH: install Podman (https://podman.io/docs/installation), then run \`sourceosctl agent-machine doctor\`"
"$PODMAN" version >/dev/null 2>&1 \
  || die "podman does not answer (\`podman version\` failed): on macOS/Windows start the machine (\`sourceosctl agent-machine start\`), then retry"
[ -n "$NODE_IMAGE" ] || die "no ARG NODE_IMAGE in $CONTEXT/Containerfile"

# The base image: present locally, or pulled now (bounded, so no registry means a quick, clear error).
if ! "$PODMAN" image exists "$NODE_IMAGE"; then
  say "base image $NODE_IMAGE is not in the local store; pulling it …"
  if ! timeout 300 "$PODMAN" pull --quiet "$NODE_IMAGE" >/dev/null; then
    die "base image $NODE_IMAGE is not available (pull failed; no registry reachable?). Fix: \`podman pull $NODE_IMAGE\` on a machine with registry access and \`podman save\`/\`podman load\` it here, or build an equivalent image from Debian packages instead: \`sudo images/agent/build-debootstrap.sh --tag $REF\`"
  fi
fi

TMP_REF="localhost/sourceos/agent-build:tmp-$$-$(date +%s)"
cleanup() {
  local rc=$?
  # Drop the temporary name: only the name when the image has others (REF), else the image.
  # (`podman untag IMAGE` without a name would drop every name: always name the temporary one.)
  if "$PODMAN" image exists "$TMP_REF" 2>/dev/null; then
    if "$PODMAN" image inspect --format '{{range .RepoTags}}{{.}} {{end}}' "$TMP_REF" 2>/dev/null | tr ' ' '\n' | grep -vxF "$TMP_REF" | grep -q .; then
      "$PODMAN" untag "$TMP_REF" "$TMP_REF" >/dev/null 2>&1 || true
    else
      "$PODMAN" rmi --force "$TMP_REF" >/dev/null 2>&1 || true
    fi
  fi
  [ "$rc" = 0 ] || say "build failed (exit $rc); $REF was not changed"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

old_id=$("$PODMAN" image inspect --format '{{.Id}}' "$REF" 2>/dev/null || true)
say "podman build -t $REF $CONTEXT (base $NODE_IMAGE)"
# --pull=never: the base was checked above, and the build uses exactly that local image.
# shellcheck disable=SC2086 # PODMAN_BUILD_ARGS is a list of words on purpose
"$PODMAN" build --pull=never --build-arg "NODE_IMAGE=$NODE_IMAGE" ${PODMAN_BUILD_ARGS:-} \
  --file "$CONTEXT/Containerfile" --tag "$TMP_REF" "$CONTEXT"
"$PODMAN" tag "$TMP_REF" "$REF"
new_id=$("$PODMAN" image inspect --format '{{.Id}}' "$REF")
# The image REF named before is now unnamed: drop it unless a container or another name uses it.
if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then "$PODMAN" rmi "$old_id" >/dev/null 2>&1 || true; fi
versions=$("$PODMAN" run --rm --pull=never --network=none "$REF" sh -c 'codex --version && claude --version' 2>/dev/null | paste -sd ';' -) \
  || versions='(could not start it to read the versions)'
say "built $REF (${new_id:0:12}): $versions"
