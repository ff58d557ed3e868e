#!/usr/bin/env bash
# make install-check: install the npm tarball as a user would, into a fresh prefix (no root needed:
# `npm install -g --prefix`), then run the installed `sourceosctl` from outside the clone, so
# profiles, schemas, policy and images/agent can only come from the installed package.
#
#   scripts/install-check.sh [--as USER] dist-pkg/sourceosctl-<version>.tgz
#
#   --as USER   (as root) run the whole check as USER, a normal user with their own npm cache and prefix
set -euo pipefail

if [ "${1:-}" = --as ]; then
  user=${2:?--as needs a user}
  tgz=$(realpath "${3:?usage: scripts/install-check.sh --as USER <tarball>}")
  shared=$(mktemp -d "${TMPDIR:-/tmp}/sourceosctl-install-as.XXXXXX")
  trap 'rm -rf "$shared"' EXIT
  cp "$tgz" "$shared/" && chmod 0755 "$shared" && chmod 0644 "$shared/$(basename "$tgz")"
  home=$(getent passwd "$user" | cut -d: -f6)
  self=$(realpath "$0")
  # A clean environment, but the network settings npm needs here (a proxy, its CA).
  pass=()
  for v in NODE_EXTRA_CA_CERTS HTTPS_PROXY https_proxy HTTP_PROXY http_proxy NO_PROXY no_proxy npm_config_registry npm_config_cafile CONTAINERS_CONF; do
    [ -n "${!v:-}" ] && pass+=("$v=${!v}")
  done
  (cd / && runuser -u "$user" -- env -i HOME="$home" USER="$user" PATH="$(dirname "$(command -v node)"):/usr/local/bin:/usr/bin:/bin" \
    "${pass[@]}" bash "$self" "$shared/$(basename "$tgz")")
  exit
fi

TGZ=$(realpath "${1:?usage: scripts/install-check.sh <tarball>}")
CLONE=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sourceosctl-install.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
PREFIX=$WORK/prefix
HOME_DIR=$WORK/home
mkdir -p "$PREFIX" "$HOME_DIR/dev/app"

say() { echo "install-check: $*" >&2; }
die() { echo "install-check: error: $*" >&2; exit 1; }

t0=$(date +%s.%N)
timeout 900 npm install --global --prefix "$PREFIX" --no-audit --no-fund --no-update-notifier --prefer-offline --fetch-retries=1 --loglevel=error "$TGZ" >/dev/null \
  || die "npm install --global --prefix $PREFIX $TGZ failed"
say "installed into $PREFIX in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s"
PKG=$PREFIX/lib/node_modules/sourceosctl
[ -x "$PREFIX/bin/sourceosctl" ] || die "no $PREFIX/bin/sourceosctl after the install"

# A clean environment: only the prefix's bin and the system's, a fresh HOME, and cwd outside the clone.
run() {
  (cd "$HOME_DIR" && env -i HOME="$HOME_DIR" USER="${USER:-$(id -un)}" PATH="$PREFIX/bin:$(dirname "$(command -v node)"):/usr/local/bin:/usr/bin:/bin" \
    ${CONTAINERS_CONF:+CONTAINERS_CONF="$CONTAINERS_CONF"} NO_COLOR=1 sourceosctl "$@")
}

run --version | grep -q '^sourceosctl/' || die "sourceosctl --version failed"
# The templates come from the package: init renders one (dry run: nothing written).
run agent-machine init --profile linux-podman-native --repo "$HOME_DIR/dev/app" --dry-run | grep -q 'kind: AgentMachineProfile' \
  || die "init --dry-run could not render a template from the installed package"
# The image sources come from the package.
run agent-machine image build --dry-run --json | grep -qF "$PKG/images/agent/Containerfile" \
  || die "image build --dry-run does not build $PKG/images/agent"
# doctor runs (exit 0 ready, 4 not ready: both are answers) and its report is JSON.
set +e
out=$(run agent-machine doctor --json)
rc=$?
set -e
[ "$rc" = 0 ] || [ "$rc" = 4 ] || die "doctor exited $rc: $out"
node -e 'const r = JSON.parse(process.argv[1]); if (!Array.isArray(r.checks) || r.checks.length < 5) process.exit(1)' "$out" \
  || die "doctor --json did not print a report"
case $PKG in "$CLONE"*) die "the package resolved inside the clone ($PKG)" ;; esac
say "ok: sourceosctl from $PREFIX/bin runs (doctor exit $rc; templates, schemas and images/agent from $PKG)"
