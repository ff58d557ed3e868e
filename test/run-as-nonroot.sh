#!/usr/bin/env bash
# The unit and command tests a second time, as a non-root user (issue 15, item 4): CI runs as root,
# where permission checks pass by privilege, so the tests that need a user root is not (a folder
# without permissions is unreadable, a read-only folder unwritable) only run here.
#
#   test/run-as-nonroot.sh <user> [vitest args…]      as root; `make test-unit-nonroot` calls it
#
# The user may not read the clone (CI's sits under /root): the tests run in a copy it owns, made in
# the temp dir and removed afterwards (src, test, the build and node_modules: ~150 MB, a few seconds).
set -euo pipefail
user=${1:?usage: test/run-as-nonroot.sh <user> [vitest args…]}
shift
[ $# -gt 0 ] || set -- test/unit test/commands
[ "$(id -u)" = 0 ] || { echo "test/run-as-nonroot.sh: must run as root (it switches to $user)" >&2; exit 1; }
uid=$(id -u "$user") || { echo "test/run-as-nonroot.sh: no user $user (.ci/run creates agentci)" >&2; exit 1; }
[ "$uid" != 0 ] || { echo "test/run-as-nonroot.sh: $user is root" >&2; exit 1; }
home=$(getent passwd "$user" | cut -d: -f6)

cd "$(dirname "$0")/.."
copy=$(mktemp -d "${TMPDIR:-/tmp}/sourceosctl-nonroot-XXXXXX")
trap 'rm -rf "$copy"' EXIT
# everything the tests read, without git's store, packed tarballs and reports
tar -cf - --exclude=./.git --exclude=./dist-pkg --exclude=./reports . | tar -xf - -C "$copy"
chown -R "$user:" "$copy"
chmod 0755 "$copy"

(cd "$copy" && runuser -u "$user" -- env -i HOME="$home" USER="$user" LOGNAME="$user" \
  PATH="$(dirname "$(command -v node)"):/usr/local/bin:/usr/bin:/bin" LANG="${LANG:-C.UTF-8}" \
  ${CONTAINERS_CONF:+CONTAINERS_CONF="$CONTAINERS_CONF"} \
  SOURCEOSCTL_TEST_NONROOT_PASS=1 \
  node node_modules/vitest/vitest.mjs run "$@")
