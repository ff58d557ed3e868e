#!/usr/bin/env bash
# The Secrets Door end to end with the real Claude Code (issue 13's e2e): a stand-in Anthropic API on
# the host (scripts/e2e/standin-anthropic.mjs) answers one scripted tool call (Write hello.txt) and a
# final message, and checks that every request carries the stored key in x-api-key — put there by
# the door in the egress proxy sidecar, never seen by the agent's container, which holds only a
# placeholder. Then: hello.txt is in the repo on the host; the evidence records the turn's network
# destinations and the injected secret by name; the key is in no output and no evidence; nothing is
# left behind.
#
# Needs the agent image (SOURCEOSCTL_E2E_IMAGE, default localhost/sourceos/agent:e2e, built by
# `make e2e` / scripts/e2e.sh) and a built CLI. Run as root (rootful) or as a rootless user.
# CONTAINERS_CONF as for the integration tests.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
REF=${SOURCEOSCTL_E2E_IMAGE:-localhost/sourceos/agent:e2e}
die() { echo "e2e-door: FAIL: $*" >&2; exit 1; }
ok() { echo "e2e-door: ok: $*"; }
[ -z "${CONTAINERS_CONF:-}" ] && [ -f /etc/sourceosctl-ci/containers.conf ] && export CONTAINERS_CONF=/etc/sourceosctl-ci/containers.conf
[ -f "$ROOT/dist/.built" ] || make build >/dev/null
podman image exists "$REF" || die "no image $REF: build it first (make e2e, or SOURCEOSCTL_E2E_IMAGE=<ref>)"

TMP=$(mktemp -d /tmp/sourceosctl-e2e-door.XXXXXX)
chmod 0755 "$TMP"
HOME_DIR="$TMP/home"
REPO="$HOME_DIR/dev/door-repo"
CONFIG_DIR="$TMP/config"
STATE_DIR="$TMP/state"
mkdir -p "$REPO" "$CONFIG_DIR" "$STATE_DIR"
git -C "$REPO" init --quiet --initial-branch=main
echo "# door e2e" >"$REPO/README.md"
git -C "$REPO" add README.md
git -C "$REPO" -c user.name=e2e -c user.email=e2e@localhost commit --quiet -m "door e2e fixture"

# a recognisable key, stored once; the name is unique to this run
KEY="sk-ant-e2e-door-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
SECRET="e2e-door-$$"
RUN_ID="e2e-door-$(date +%s)-$$"
STANDIN_PID=''
cleanup() {
  [ -z "$STANDIN_PID" ] || kill "$STANDIN_PID" 2>/dev/null || true
  cli agent-machine secret rm "$SECRET" >/dev/null 2>&1 || true
  for c in $(podman ps --all --filter "label=dev.sourceos.agent-machine.run-id=$RUN_ID" --format '{{.Names}}'); do podman rm --force --time=0 "$c" >/dev/null 2>&1 || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
# Rootless podman keeps its store (images, secrets) under the caller's real home: XDG_* point it
# there while the CLI's HOME is the temp one (as in scripts/e2e.sh).
podman_env=()
[ -z "${CONTAINERS_CONF:-}" ] || podman_env+=("CONTAINERS_CONF=$CONTAINERS_CONF")
if [ "$(id -u)" -ne 0 ]; then
  podman_env+=("XDG_DATA_HOME=${XDG_DATA_HOME:-$HOME/.local/share}" "XDG_CONFIG_HOME=${XDG_CONFIG_HOME:-$HOME/.config}")
  [ -z "${XDG_RUNTIME_DIR:-}" ] || podman_env+=("XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR")
fi
cli() {
  env -i PATH="$PATH" HOME="$HOME_DIR" LANG=C.UTF-8 TERM=dumb NO_COLOR=1 \
    SOURCEOSCTL_CONFIG_DIR="$CONFIG_DIR" SOURCEOSCTL_STATE_DIR="$STATE_DIR" "${podman_env[@]}" \
    node "$ROOT/bin/run.js" "$@"
}

# the host's own address on its outside interface: the sidecar reaches it rootful and rootless
ADDR=$(node -e 'const n=require("os").networkInterfaces(); for (const [k,v] of Object.entries(n)) { if (/^(lo|cni|podman|veth|docker|br-)/.test(k)) continue; const a=(v||[]).find((x)=>x.family==="IPv4"&&!x.internal); if (a) { console.log(a.address); break } }')
[ -n "$ADDR" ] || die "no outside IPv4 address on this host"
LOG="$TMP/standin.jsonl"
: >"$LOG"
node "$ROOT/scripts/e2e/standin-anthropic.mjs" 0 "$KEY" "$LOG" "/workspace/$(basename "$REPO")/hello.txt" >"$TMP/standin.port" 2>"$TMP/standin.err" &
STANDIN_PID=$!
for _ in $(seq 50); do [ -s "$TMP/standin.port" ] && break; sleep 0.1; done
PORT=$(head -1 "$TMP/standin.port")
[ -n "$PORT" ] || die "the stand-in did not start: $(cat "$TMP/standin.err")"
ok "stand-in Anthropic API on $ADDR:$PORT"

cli agent-machine init --profile linux-podman-native --repo "$REPO" >/dev/null
PROFILE="$CONFIG_DIR/agent-machine/profile.yaml"
node --input-type=module -e '
  import {readFileSync, writeFileSync} from "node:fs"
  import {parseDocument} from "yaml"
  const [path, ref, secret, host] = process.argv.slice(1)
  const doc = parseDocument(readFileSync(path, "utf8"))
  doc.setIn(["spec", "image", "ref"], ref)
  doc.setIn(["spec", "image", "digest"], null)
  doc.setIn(["spec", "network", "mode"], "allowlist")
  doc.setIn(["spec", "secrets"], doc.createNode({door: "proxy", inject: [{secret, host, header: "x-api-key", tool: "claude-code"}]}))
  writeFileSync(path, doc.toString())
' "$PROFILE" "$REF" "$SECRET" "ip:$ADDR:$PORT"
printf '%s' "$KEY" | cli agent-machine secret set "$SECRET" >/dev/null
ok "secret $SECRET stored; profile injects it for ip:$ADDR:$PORT (Claude Code pointed at the door)"

set +e
cli agent-machine run --json --tool claude-code --repo "$REPO" --run-id "$RUN_ID" -- -p "Write hello.txt" --permission-mode acceptEdits >"$TMP/run.json" 2>"$TMP/run.err" </dev/null
rc=$?
set -e
[ "$rc" = 0 ] || { tail -n 20 "$TMP/run.err" >&2; head -c 2000 "$TMP/run.json" >&2; die "the run exited $rc"; }

node - "$LOG" <<'JS' || die "the stand-in's log: $(cat "$LOG")"
const lines = require('fs').readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean).map(JSON.parse)
const turn = lines.filter((l) => l.url.startsWith('/v1/messages') && l.stream)
if (turn.length < 2) throw new Error(`expected the tool call and the final message, got ${turn.length} streamed requests`)
if (!lines.every((l) => l.keyOk)) throw new Error('a request reached the stand-in without the stored key')
if (!turn.some((l) => l.hasResult)) throw new Error('the tool result never came back')
JS
ok "the stand-in got $(wc -l <"$LOG") request(s), each with the stored key in x-api-key (added by the door)"

[ "$(cat "$REPO/hello.txt" 2>/dev/null)" = "hello from the door" ] || die "hello.txt is not in the repo on the host"
ok "hello.txt is in the repo on the host"

EVIDENCE=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).evidence || "")' "$TMP/run.json")
[ -f "$EVIDENCE" ] || die "no evidence record named in the run's result"
node - "$EVIDENCE" "$ADDR" "$PORT" "$SECRET" <<'JS' || die "the evidence does not record the turn"
const [file, addr, port, secret] = process.argv.slice(2)
const p = JSON.parse(require('fs').readFileSync(file, 'utf8')).predicate
const d = (p.network.destinations || []).find((x) => x.host === addr && x.port === Number(port) && x.decision === 'allowed')
if (!d || d.count < 2) throw new Error(`destinations: ${JSON.stringify(p.network.destinations)}`)
const inj = (p.policy.secrets.inject || []).find((i) => i.secret === secret)
if (!inj || inj.host !== `ip:${addr}:${port}`) throw new Error(`policy.secrets: ${JSON.stringify(p.policy.secrets)}`)
JS
ok "the evidence records the door's destination ($ADDR:$PORT) and the secret $SECRET by name"

if grep -rqF "$KEY" "$TMP/run.json" "$TMP/run.err" "$STATE_DIR" "$CONFIG_DIR" "$REPO"; then die "the key appears in the run's output, state, config or repo"; fi
ok "the key is in no output, evidence, state or repo file"
left=$(podman ps --all --filter "label=dev.sourceos.agent-machine.run-id=$RUN_ID" --format '{{.Names}}')
[ -z "$left" ] || die "left containers: $left"
ok "no container left"
echo "e2e-door: PASS"
