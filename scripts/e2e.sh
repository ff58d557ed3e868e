#!/usr/bin/env bash
# make e2e: the real Codex and Claude Code CLIs, end to end, through the built CLI — with no image
# registry. As root on Debian (debootstrap and chroot build the image):
#
#   1. build the CLI (make build);
#   2. build the agent image from Debian packages + npm (images/agent/build-debootstrap.sh) as
#      localhost/sourceos/agent:e2e — never the user's :latest; cached by recipe, so a re-run reuses it;
#   3. in a temp HOME/config/state: a git repo, `agent-machine init`, the profile's image pointed at
#      the e2e image;
#   4. `agent-machine run --tool codex -- --version` and `run --tool claude-code -- --version` must
#      exit 0 and print the versions pinned in images/agent/Containerfile; when `run --json` names an
#      evidence record, it must hold that version (toolVersions.tool);
#   5. each tool's image config is in effect (`codex debug prompt-input`, `claude doctor`);
#   6. both tools send their API traffic through the egress proxy (network allowlist): the proxy's
#      log, in the evidence, shows each API host allowed;
#   7. no container of these runs is left.
#
# Environment: SOURCEOSCTL_E2E_IMAGE (default localhost/sourceos/agent:e2e);
# SOURCEOSCTL_E2E_BUILD=none tests that image as it is instead of building it (no root needed), e.g.
#   SOURCEOSCTL_E2E_IMAGE=localhost/sourceos/agent:latest SOURCEOSCTL_E2E_BUILD=none make e2e
# after `make image` on a machine with registry access;
# SOURCEOSCTL_IMAGE_CACHE (the image build cache, default /var/cache/sourceosctl-agent-image);
# CONTAINERS_CONF as for the integration tests (default: /etc/sourceosctl-ci/containers.conf when
# installed, else .ci/containers.conf; SOURCEOSCTL_TEST_CONTAINERS_CONF=system uses podman's own).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
REF=${SOURCEOSCTL_E2E_IMAGE:-localhost/sourceos/agent:e2e}
RUN_ID_LABEL=dev.sourceos.agent-machine.run-id

# ---- timing (as in .ci/run) ------------------------------------------------------------------------
phase_name=''
phase_start=''
summary=()
now() { date +%s.%N; }
end_phase() {
  [ -n "$phase_name" ] || return 0
  local took
  took=$(awk -v a="$phase_start" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
  echo "<== $phase_name: ${took}s"
  summary+=("$(printf '  %-28s %7ss' "$phase_name" "$took")")
  phase_name=''
}
phase() {
  end_phase
  phase_name=$1
  phase_start=$(now)
  echo "==> $phase_name"
}
run_start=$(now)
TMP=''
RUN_IDS=()
on_exit() {
  local rc=$?
  end_phase
  # Containers of these runs: the CLI removes them; anything left is removed here (and was a failure).
  for id in "${RUN_IDS[@]}"; do
    for name in $(podman ps --all --filter "label=$RUN_ID_LABEL=$id" --format '{{.Names}}' 2>/dev/null); do
      echo "e2e: removing leftover container $name" >&2
      podman rm --force --time=0 "$name" >/dev/null 2>&1 || true
    done
  done
  [ -z "$TMP" ] || rm -rf "$TMP"
  echo "---- make e2e phases"
  printf '%s\n' "${summary[@]}"
  printf '  %-28s %7ss  (exit %s)\n' total "$(awk -v a="$run_start" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')" "$rc"
  [ "$rc" = 0 ] && echo "e2e: PASSED" || echo "e2e: FAILED" >&2
}
trap on_exit EXIT

die() { echo "e2e: error: $*" >&2; exit 1; }
ok() { echo "  ok: $*"; }

# ---- prerequisites ---------------------------------------------------------------------------------
phase prerequisites
BUILD=${SOURCEOSCTL_E2E_BUILD:-debootstrap}
case $BUILD in
  debootstrap)
    [ "$(id -u)" -eq 0 ] || die "make e2e builds its image with debootstrap and chroot: run it as root (CI does), e.g. sudo make e2e; or test an existing image: SOURCEOSCTL_E2E_BUILD=none SOURCEOSCTL_E2E_IMAGE=<ref> make e2e"
    needed=(podman node npm git debootstrap) ;;
  none) needed=(podman node git) ;;
  *) die "SOURCEOSCTL_E2E_BUILD must be debootstrap or none, not '$BUILD'" ;;
esac
for tool in "${needed[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || case $tool in
    debootstrap) die "debootstrap is not installed: apt-get install debootstrap" ;;
    podman) die "podman is not installed: apt-get install podman runc uidmap catatonit (see .ci/run)" ;;
    *) die "$tool is not installed" ;;
  esac
done
if [ "${SOURCEOSCTL_TEST_CONTAINERS_CONF:-}" = system ]; then
  unset CONTAINERS_CONF
elif [ -z "${CONTAINERS_CONF:-}" ]; then
  if [ -f /etc/sourceosctl-ci/containers.conf ]; then export CONTAINERS_CONF=/etc/sourceosctl-ci/containers.conf
  else export CONTAINERS_CONF="$ROOT/.ci/containers.conf"; fi
fi
arg() { sed -n "s/^ARG $1=//p" images/agent/Containerfile | head -n1; }
CODEX_VERSION=$(arg CODEX_VERSION)
CLAUDE_CODE_VERSION=$(arg CLAUDE_CODE_VERSION)
echo "  $(podman --version), node $(node --version), CONTAINERS_CONF=${CONTAINERS_CONF:-<podman default>}"
echo "  pinned: @openai/codex@$CODEX_VERSION, @anthropic-ai/claude-code@$CLAUDE_CODE_VERSION; image $REF"

phase "make build"
make --no-print-directory build

phase "image ($BUILD)"
if [ "$BUILD" = debootstrap ]; then
  images/agent/build-debootstrap.sh --tag "$REF"
else
  podman image exists "$REF" || die "image $REF is not in the local store: build it (make image), or drop SOURCEOSCTL_E2E_BUILD=none"
fi
IMAGE_ID=$(podman image inspect --format '{{.Id}}' "$REF")
echo "  $REF = ${IMAGE_ID:0:12}"

# ---- a user's setup, in a temp HOME ----------------------------------------------------------------
phase "init profile"
TMP=$(mktemp -d /tmp/sourceosctl-e2e.XXXXXX)
chmod 0755 "$TMP"
E2E_HOME="$TMP/home"
REPO="$E2E_HOME/dev/e2e-repo"
CONFIG_DIR="$E2E_HOME/.config/sourceosctl"
STATE_DIR="$E2E_HOME/.local/state/sourceosctl"
mkdir -p "$REPO" "$CONFIG_DIR" "$STATE_DIR"
git -C "$REPO" init --quiet --initial-branch=main
echo "# e2e" >"$REPO/README.md"
git -C "$REPO" add README.md
git -C "$REPO" -c user.name=e2e -c user.email=e2e@localhost commit --quiet -m "e2e fixture"

# The CLI sees only this environment: nothing from the caller's (no tokens, no profile overrides).
# Rootless podman keeps its image store under the caller's real home: XDG_* point it there while
# the CLI's HOME is the temp one.
podman_env=()
[ -z "${CONTAINERS_CONF:-}" ] || podman_env+=("CONTAINERS_CONF=$CONTAINERS_CONF")
if [ "$(id -u)" -ne 0 ]; then
  podman_env+=("XDG_DATA_HOME=${XDG_DATA_HOME:-$HOME/.local/share}" "XDG_CONFIG_HOME=${XDG_CONFIG_HOME:-$HOME/.config}")
  [ -z "${XDG_RUNTIME_DIR:-}" ] || podman_env+=("XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR")
fi
cli() {
  env -i PATH="$PATH" HOME="$E2E_HOME" LANG=C.UTF-8 TERM=dumb NO_COLOR=1 \
    SOURCEOSCTL_CONFIG_DIR="$CONFIG_DIR" SOURCEOSCTL_STATE_DIR="$STATE_DIR" "${podman_env[@]}" \
    node "$ROOT/bin/run.js" "$@"
}
cli agent-machine init --profile linux-podman-native --repo "$REPO" >/dev/null
PROFILE="$CONFIG_DIR/agent-machine/profile.yaml"
[ -f "$PROFILE" ] || die "init wrote no profile at $PROFILE"
node --input-type=module -e '
  import {readFileSync, writeFileSync} from "node:fs"
  import {parseDocument} from "yaml"
  const [path, ref] = process.argv.slice(1)
  const doc = parseDocument(readFileSync(path, "utf8"))
  doc.setIn(["spec", "image", "ref"], ref)
  writeFileSync(path, doc.toString())
' "$PROFILE" "$REF"
grep -q "ref: $REF" "$PROFILE" || die "could not point $PROFILE at $REF"
ok "profile $PROFILE: repo $REPO, image $REF"

# json FILE EXPR: print a value from a JSON file (EXPR sees the parsed document as d).
json() { node -e 'const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); const v = (0, eval)("(d) => " + process.argv[2])(d); console.log(v === undefined || v === null ? "" : typeof v === "string" ? v : JSON.stringify(v))' "$1" "$2"; }

# run_version TOOL EXPECTED: `run --json --tool TOOL -- --version` prints EXPECTED, exits 0; evidence holds it.
run_version() {
  local tool=$1 expected=$2 id out err rc evidence recorded
  id="e2e-$tool-$(date +%s)-$$"
  RUN_IDS+=("$id")
  out="$TMP/$tool.json"
  err="$TMP/$tool.err"
  set +e
  cli agent-machine run --json --tool "$tool" --repo "$REPO" --run-id "$id" -- --version >"$out" 2>"$err" </dev/null
  rc=$?
  set -e
  if [ "$rc" != 0 ]; then cat "$err" "$out" >&2; die "run --tool $tool -- --version exited $rc"; fi
  # Under --json the tool's own output goes to stderr; stdout is the result document.
  grep -qxF "$expected" "$err" || { cat "$err" >&2; die "run --tool $tool -- --version did not print '$expected'"; }
  ok "$tool --version → '$expected' (exit 0)"
  [ "$(json "$out" d.exitCode)" = 0 ] || die "result exitCode is $(json "$out" d.exitCode), not 0"
  [ "$(json "$out" d.image.id)" = "$IMAGE_ID" ] || die "result image.id $(json "$out" d.image.id) is not $REF ($IMAGE_ID)"
  ok "result: exitCode 0, image ${IMAGE_ID:0:12}, runId $id"
  evidence=$(json "$out" d.evidence)
  if [ -z "$evidence" ]; then
    die "run --json named no evidence record"
  else
    [ -f "$evidence" ] || die "result names evidence $evidence, which does not exist"
    recorded=$(json "$evidence" 'd.predicate && d.predicate.toolVersions && d.predicate.toolVersions.tool')
    [ "$recorded" = "$expected" ] || die "evidence $evidence records tool version '$recorded', not '$expected'"
    ok "evidence $evidence: toolVersions.tool = '$recorded'"
    sandbox=$(json "$evidence" 'd.predicate && d.predicate.toolSandbox')
    [ -n "$sandbox" ] || die "evidence $evidence does not record the tool's outer-sandbox setting (toolSandbox)"
    ok "evidence: toolSandbox = '$sandbox'"
  fi
}

phase "run codex --version"
run_version codex "codex-cli $CODEX_VERSION"

phase "run claude-code --version"
run_version claude-code "$CLAUDE_CODE_VERSION (Claude Code)"

# ---- the image's tool config is what the tools load ---------------------------------------------
# Plain `run` (no --json): the tool's stdout is the CLI's stdout, its exit code the CLI's. These
# need no network: a copy of the profile with network none keeps them from waiting on DNS.
OFFLINE="$CONFIG_DIR/offline.yaml"
node --input-type=module -e '
  import {readFileSync, writeFileSync} from "node:fs"
  import {parseDocument} from "yaml"
  const [from, to] = process.argv.slice(1)
  const doc = parseDocument(readFileSync(from, "utf8"))
  doc.setIn(["spec", "network", "mode"], "none")
  writeFileSync(to, doc.toString())
' "$PROFILE" "$OFFLINE"

phase "codex config in effect"
id="e2e-codex-config-$(date +%s)-$$"
RUN_IDS+=("$id")
set +e
# The instructions Codex would send the model state the sandbox mode it runs under.
cli agent-machine run --profile-file "$OFFLINE" --tool codex --repo "$REPO" --run-id "$id" -- debug prompt-input \
  >"$TMP/codex-prompt.json" 2>"$TMP/codex-prompt.err" </dev/null
rc=$?
set -e
[ "$rc" = 0 ] || { cat "$TMP/codex-prompt.err" >&2; die "codex debug prompt-input exited $rc"; }
# shellcheck disable=SC2016 # the backquotes are Codex's own markdown
grep -q 'sandbox_mode` is `danger-full-access`' "$TMP/codex-prompt.json" \
  || die "codex does not run with sandbox_mode = danger-full-access (/etc/codex/config.toml): $(grep -o 'sandbox_mode` is `[a-z-]*`' "$TMP/codex-prompt.json" | head -n1)"
ok "codex: sandbox_mode is danger-full-access (/etc/codex/config.toml; the container is the sandbox)"

phase "claude-code config in effect"
id="e2e-claude-config-$(date +%s)-$$"
RUN_IDS+=("$id")
set +e
cli agent-machine run --profile-file "$OFFLINE" --tool claude-code --repo "$REPO" --run-id "$id" -- doctor \
  >"$TMP/claude-doctor.txt" 2>"$TMP/claude-doctor.err" </dev/null
rc=$?
set -e
[ "$rc" = 0 ] || { cat "$TMP/claude-doctor.txt" "$TMP/claude-doctor.err" >&2; die "claude doctor exited $rc"; }
# claude doctor lists an "Invalid settings" section when a settings file (managed ones included) does not parse.
if grep -q '^Invalid settings' "$TMP/claude-doctor.txt"; then
  cat "$TMP/claude-doctor.txt" >&2
  die "claude reports invalid settings (/etc/claude-code/managed-settings.json)"
fi
grep -q "^Running: .*($CLAUDE_CODE_VERSION)" "$TMP/claude-doctor.txt" || { cat "$TMP/claude-doctor.txt" >&2; die "claude doctor does not report $CLAUDE_CODE_VERSION"; }
ok "claude doctor: settings valid (/etc/claude-code/managed-settings.json), $(grep -m1 '^Auto-updates:' "$TMP/claude-doctor.txt" || echo 'auto-updates: ?')"

# ---- the tools' API traffic goes through the egress proxy (network allowlist, the profile's mode) ---
# This machine cannot reach the model APIs: the proof is the proxy's own log, in the evidence — each
# tool's API host allowed (the upstream then failed). A placeholder key set inside the container
# makes each tool call its API (each keeps retrying: 25 s is plenty; the two run side by side); it
# is no secret and never leaves the session.
phase "tools' API traffic through the proxy"
grep -q 'mode: allowlist' "$PROFILE" || die "the e2e profile's network mode is not allowlist"
id="e2e-egress-$(date +%s)-$$"
RUN_IDS+=("$id")
set +e
cli agent-machine shell --json --repo "$REPO" --run-id "$id" -- -c '
  OPENAI_API_KEY=sk-e2e-placeholder timeout 25 codex exec --skip-git-repo-check "say hi" </dev/null >/dev/null 2>&1 &
  ANTHROPIC_API_KEY=sk-ant-e2e-placeholder timeout 25 claude -p "say hi" </dev/null >/dev/null 2>&1 &
  wait
  exit 0' >"$TMP/egress.json" 2>"$TMP/egress.err" </dev/null
rc=$?
set -e
[ "$rc" = 0 ] || { tail -n 20 "$TMP/egress.err" >&2; die "the egress session exited $rc"; }
evidence=$(json "$TMP/egress.json" d.evidence)
for host in api.openai.com api.anthropic.com; do
  seen=$(json "$evidence" "(d.predicate.network.destinations || []).filter((x) => x.host === '$host' && x.port === 443 && x.decision === 'allowed').map((x) => x.count + ' request(s), ' + x.upstreamFailed + ' upstream failed').join()")
  [ -n "$seen" ] || { json "$evidence" 'd.predicate.network' >&2; die "the proxy's log has no allowed request to $host:443: the tool did not use the proxy"; }
  ok "$host:443 through the proxy: $seen"
done

phase "no containers left"
for id in "${RUN_IDS[@]}"; do
  left=$(podman ps --all --filter "label=$RUN_ID_LABEL=$id" --format '{{.Names}}')
  [ -z "$left" ] || die "run $id left container(s): $left"
done
ok "none of the ${#RUN_IDS[@]} runs left a container"
