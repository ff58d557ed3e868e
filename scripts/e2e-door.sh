#!/usr/bin/env bash
# The Secrets Door end to end with the real agent tools (issue 13's e2e): one real turn of Claude Code
# and one of Codex in the governed container, each against a stand-in model API on the host that
# speaks enough of its vendor's API, streaming included, for one scripted tool call that writes
# hello.txt in the repo and a final message:
#   - Claude Code → scripts/e2e/standin-anthropic.mjs (Messages API; the key in x-api-key);
#   - Codex       → scripts/e2e/standin-openai.mjs (Responses API; the key as Authorization: Bearer).
# Each stand-in answers only requests that carry the stored key — added by the door in the egress
# proxy sidecar; the agent's container holds a placeholder — and fails the turn otherwise.
#
# Per tool it asserts:
#   1. the run exits 0; the stand-in saw the tool call's request and the one carrying the tool's
#      output, every request with the stored key;
#   2. hello.txt is in the repo on the host, written by the tool in the container;
#   3. while the turn is in flight (the stand-in holds its final message until the searches are
#      done), the key is nowhere in the agent container: not in its `podman inspect`, its env, any
#      /proc/<pid>/environ or cmdline, any file its user can read (the whole tree but /proc, /sys,
#      /dev: the tmpfs home, /tmp, /run, the repo, the image); nor in the sidecar's inspect;
#   4. the evidence record's network section lists the turn's destination (the stand-in, allowed,
#      each request counted), and its policy names the injected secret, never the value;
#   5. the key is in no output, evidence, state, config or repo file; no container is left.
#
# Needs the agent image (SOURCEOSCTL_E2E_IMAGE, default localhost/sourceos/agent:e2e, built by
# `make e2e` / scripts/e2e.sh) and a built CLI. Run as root (rootful) or as a rootless user.
# SOURCEOSCTL_E2E_DOOR_TOOLS: the tools to run (default "claude-code codex").
# CONTAINERS_CONF as for the integration tests.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
REF=${SOURCEOSCTL_E2E_IMAGE:-localhost/sourceos/agent:e2e}
TOOLS=${SOURCEOSCTL_E2E_DOOR_TOOLS:-claude-code codex}
RUN_ID_LABEL=dev.sourceos.agent-machine.run-id
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
IN_REPO="/workspace/$(basename "$REPO")"

# Recognisable keys, one per vendor, stored once; the names are unique to this run. The keys are
# only ever written to files (mode 0600) and to `secret set`'s stdin: never an argv.
rand() { od -An -N12 -tx1 /dev/urandom | tr -d ' \n'; }
declare -A KEY SECRET STANDIN PORT LOG HEADER FORMAT
KEY[claude-code]="sk-ant-e2e-door-$(rand)"
KEY[codex]="sk-proj-e2e-door-$(rand)"
SECRET[claude-code]="e2e-door-anthropic-$$"
SECRET[codex]="e2e-door-openai-$$"
STANDIN[claude-code]=standin-anthropic.mjs
STANDIN[codex]=standin-openai.mjs
HEADER[claude-code]=x-api-key
HEADER[codex]=Authorization
FORMAT[claude-code]='{value}'
FORMAT[codex]='Bearer {value}'
KEYS="$TMP/keys"
(umask 077 && printf '%s\n' "${KEY[claude-code]}" "${KEY[codex]}" >"$KEYS" && printf '%s\n' "${KEY[claude-code]}" >"$TMP/key-claude-code" && printf '%s\n' "${KEY[codex]}" >"$TMP/key-codex")
RUN_IDS=()
PIDS=()
cleanup() {
  local rc=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  for t in claude-code codex; do cli agent-machine secret rm "${SECRET[$t]}" >/dev/null 2>&1 || true; done
  for id in "${RUN_IDS[@]}"; do
    for c in $(podman ps --all --filter "label=$RUN_ID_LABEL=$id" --format '{{.Names}}'); do podman rm --force --time=0 "$c" >/dev/null 2>&1 || true; done
  done
  rm -rf "$TMP"
  [ "$rc" = 0 ] && echo "e2e-door: PASS" || echo "e2e-door: FAILED" >&2
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
# has_key: stdin holds one of the keys (grep -f: the keys stay out of every argv)
has_key() { grep -aqFf "$KEYS"; }
# the search finds a key where there is one (and nothing where there is none)
for t in claude-code codex; do has_key <"$TMP/key-$t" || die "has_key misses the $t key"; done
! has_key <<<"sourceos-door-placeholder" || die "has_key matches text without a key"

# the host's own address on its outside interface: the sidecar reaches it rootful and rootless
ADDR=$(node -e 'const n=require("os").networkInterfaces(); for (const [k,v] of Object.entries(n)) { if (/^(lo|cni|podman|veth|docker|br-)/.test(k)) continue; const a=(v||[]).find((x)=>x.family==="IPv4"&&!x.internal); if (a) { console.log(a.address); break } }')
[ -n "$ADDR" ] || die "no outside IPv4 address on this host"

# ---- the stand-ins, one per vendor; each holds its final message until $TMP/gate-<tool> exists -----
for t in claude-code codex; do
  LOG[$t]="$TMP/standin-$t.jsonl"
  : >"${LOG[$t]}"
  case $t in
    claude-code) args=("$IN_REPO/hello.txt" "$TMP/gate-$t") ;;
    codex) args=("$IN_REPO" "$TMP/gate-$t") ;;
  esac
  node "$ROOT/scripts/e2e/${STANDIN[$t]}" 0 "$TMP/key-$t" "${LOG[$t]}" "${args[@]}" \
    >"$TMP/standin-$t.port" 2>"$TMP/standin-$t.err" &
  PIDS+=($!)
done
for t in claude-code codex; do
  for _ in $(seq 50); do [ -s "$TMP/standin-$t.port" ] && break; sleep 0.1; done
  PORT[$t]=$(head -1 "$TMP/standin-$t.port")
  [ -n "${PORT[$t]}" ] || die "the $t stand-in did not start: $(cat "$TMP/standin-$t.err")"
done
ok "stand-in Anthropic API on $ADDR:${PORT[claude-code]}, stand-in OpenAI Responses API on $ADDR:${PORT[codex]}"
# Each stand-in refuses a request without the stored key — the tools' placeholder, or nothing — so a
# turn can only pass with the key the door added. (These probes are not logged as the turn's.)
node --input-type=module - "$ADDR" "${PORT[claude-code]}" "${PORT[codex]}" <<'JS' || die "a stand-in answered a request without the stored key"
const [addr, anthropic, openai] = process.argv.slice(2)
const probes = [
  [anthropic, '/v1/messages', {'x-api-key': 'sourceos-door-placeholder'}],
  [anthropic, '/v1/messages', {}],
  [openai, '/v1/responses', {authorization: 'Bearer sourceos-door-placeholder'}],
  [openai, '/v1/responses', {}],
]
for (const [port, path, headers] of probes) {
  const r = await fetch(`http://${addr}:${port}${path}`, {method: 'POST', headers: {'content-type': 'application/json', ...headers}, body: JSON.stringify({model: 'probe', stream: true, messages: [], input: []})})
  if (r.status !== 401) throw new Error(`${path} on ${port} with ${JSON.stringify(headers)} answered ${r.status}, not 401`)
}
JS
for t in claude-code codex; do : >"${LOG[$t]}"; done
ok "both stand-ins refuse a request without the stored key (401)"

# ---- the profile: allowlist mode, the door with one injection per tool, each pointed at its stand-in --
cli agent-machine init --profile linux-podman-native --repo "$REPO" >/dev/null
PROFILE="$CONFIG_DIR/agent-machine/profile.yaml"
node --input-type=module -e '
  import {readFileSync, writeFileSync} from "node:fs"
  import {parseDocument} from "yaml"
  const [path, ref, ...inj] = process.argv.slice(1)
  const doc = parseDocument(readFileSync(path, "utf8"))
  doc.setIn(["spec", "image", "ref"], ref)
  doc.setIn(["spec", "image", "digest"], null)
  doc.setIn(["spec", "network", "mode"], "allowlist")
  const inject = []
  for (let i = 0; i < inj.length; i += 5) inject.push({secret: inj[i], host: inj[i + 1], header: inj[i + 2], format: inj[i + 3], tool: inj[i + 4]})
  doc.setIn(["spec", "secrets"], doc.createNode({door: "proxy", inject}))
  writeFileSync(path, doc.toString())
' "$PROFILE" "$REF" \
  "${SECRET[claude-code]}" "ip:$ADDR:${PORT[claude-code]}" "${HEADER[claude-code]}" "${FORMAT[claude-code]}" claude-code \
  "${SECRET[codex]}" "ip:$ADDR:${PORT[codex]}" "${HEADER[codex]}" "${FORMAT[codex]}" codex
for t in claude-code codex; do cli agent-machine secret set "${SECRET[$t]}" <"$TMP/key-$t" >/dev/null; done
ok "secrets ${SECRET[claude-code]} and ${SECRET[codex]} stored; the profile injects them for the stand-ins (each tool pointed at its door)"

# search_container RUN_ID TOOL: the agent's container of that run holds no key (the turn is in flight)
search_container() {
  local id=$1 tool=$2 agent c n hits files
  agent=$(podman ps --filter "label=$RUN_ID_LABEL=$id" --filter "label=dev.sourceos.agent-machine.verb=run" --format '{{.Names}}')
  [ -n "$agent" ] && [ "$(wc -l <<<"$agent")" = 1 ] || die "$tool: expected one running agent container for run $id, found '$agent'"
  for c in $(podman ps --all --filter "label=$RUN_ID_LABEL=$id" --format '{{.Names}}'); do
    podman inspect "$c" >"$TMP/inspect.json" || die "podman inspect $c failed"
    ! has_key <"$TMP/inspect.json" || die "$tool: a key is in podman inspect of $c"
  done
  podman exec "$agent" env >"$TMP/env.txt" || die "podman exec $agent env failed"
  grep -q "^HTTPS_PROXY=" "$TMP/env.txt" || die "$tool: the agent's env has no HTTPS_PROXY: not the governed container?"
  ! has_key <"$TMP/env.txt" || die "$tool: a key is in the agent container's env"
  # every process the agent's user can see: environ and cmdline (the tool itself is running)
  n=$(podman exec "$agent" sh -c 'n=0; for p in /proc/[0-9]*; do cat "$p/environ" "$p/cmdline" 2>/dev/null && n=$((n+1)); done >&2; echo "$n"' 2>"$TMP/proc.bin") \
    || die "podman exec $agent (reading /proc) failed"
  [ "${n:-0}" -ge 2 ] || die "$tool: read /proc of only ${n:-0} process(es) in the agent's container"
  ! has_key <"$TMP/proc.bin" || die "$tool: a key is in a /proc/<pid>/environ or cmdline of the agent container"
  # every file the agent's user can read: the whole tree but the kernel's, streamed out as a tar
  # (its list of names on stderr) into a count of the keys' occurrences
  hits=$(podman exec "$agent" tar -C / -cvf - --exclude=./proc --exclude=./sys --exclude=./dev . 2>"$TMP/files.list" | grep -caFf "$KEYS" || true)
  files=$(grep -c '^\./' "$TMP/files.list" || true)
  [ "${files:-0}" -gt 1000 ] || die "$tool: the file search read only ${files:-0} files of the agent container: $(tail -n 3 "$TMP/files.list")"
  grep -qx "\./workspace/$(basename "$REPO")/hello.txt" "$TMP/files.list" || die "$tool: the file search did not see the repo's hello.txt"
  [ "${hits:-0}" = 0 ] || die "$tool: a key is in a file of the agent container"
  ok "$tool: mid-turn, no key in the inspect of the run's $(podman ps --all --filter "label=$RUN_ID_LABEL=$id" --format '{{.Names}}' | wc -l) containers, the agent's env, /proc of its $n processes, or its $files files (the whole tree but /proc, /sys, /dev)"
  rm -f "$TMP/inspect.json" "$TMP/env.txt" "$TMP/proc.bin" "$TMP/files.list"
}

# turn TOOL ARGS...: one real turn of TOOL through the door, searched mid-turn, then checked
turn() {
  local tool=$1 id pid rc evidence started searched=0
  shift
  started=$SECONDS
  id="e2e-door-$tool-$(date +%s)-$$"
  RUN_IDS+=("$id")
  rm -f "$REPO/hello.txt"
  cli agent-machine run --json --tool "$tool" --repo "$REPO" --run-id "$id" -- "$@" >"$TMP/run-$tool.json" 2>"$TMP/run-$tool.err" </dev/null &
  pid=$!
  PIDS+=("$pid")
  # the stand-in holds its final message once the tool's output came back: search the container then
  for _ in $(seq 1800); do
    grep -q '"holding":true' "${LOG[$tool]}" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if grep -q '"holding":true' "${LOG[$tool]}"; then
    [ "$(cat "$REPO/hello.txt" 2>/dev/null)" = "hello from the door" ] || die "$tool: the tool's output came back, but hello.txt is not in the repo on the host"
    searched=$SECONDS
    search_container "$id" "$tool"
    searched=$((SECONDS - searched))
  fi
  touch "$TMP/gate-$tool"
  set +e
  wait "$pid"
  rc=$?
  set -e
  if [ "$rc" != 0 ]; then
    tail -n 30 "$TMP/run-$tool.err" >&2
    head -c 3000 "$TMP/run-$tool.json" >&2
    echo "stand-in log:" >&2
    cat "${LOG[$tool]}" >&2
    die "$tool: the run exited $rc"
  fi
  grep -q '"holding":true' "${LOG[$tool]}" || { cat "${LOG[$tool]}" "$TMP/run-$tool.err" >&2; die "$tool: the run ended without sending the tool's output back to the stand-in"; }

  node - "${LOG[$tool]}" "$tool" <<'JS' || { cat "${LOG[$tool]}" >&2; die "$tool: the stand-in's log does not show the turn"; }
const [file, tool] = process.argv.slice(2)
const lines = require('fs').readFileSync(file, 'utf8').split('\n').filter(Boolean).map(JSON.parse).filter((l) => !l.holding)
const turn = tool === 'codex' ? lines.filter((l) => l.url === '/v1/responses' && l.stream) : lines.filter((l) => l.url.startsWith('/v1/messages') && l.stream)
if (turn.length < 2) throw new Error(`expected the tool call and the final message, got ${turn.length} streamed requests`)
const bad = lines.filter((l) => !l.keyOk)
if (bad.length > 0) throw new Error(`${bad.length} request(s) reached the stand-in without the stored key: ${JSON.stringify(bad)}`)
if (tool === 'codex') {
  const call = turn.find((l) => l.answer === 'tool')
  const back = turn.find((l) => l.answer === 'message')
  if (!call || !back) throw new Error('no tool call answered, or its output never came back')
  // the door does not carry WebSockets: Codex's provider (policy/tool-door.json) must not try one
  // (it would arrive here as a GET /v1/responses, several times, before Codex falls back)
  const ws = lines.filter((l) => l.method === 'GET' && l.url.startsWith('/v1/responses'))
  if (ws.length > 0) throw new Error(`codex tried ${ws.length} Responses WebSocket handshake(s) through the door`)
  console.log(`codex called ${call.call} (of ${call.tools.length} tools offered: ${call.tools.join(' ')}); its output came back: ${back.toolOutput.slice(0, 300)}`)
} else if (!turn.some((l) => l.hasResult)) throw new Error('the tool result never came back')
JS
  ok "$tool: the stand-in got $(grep -vc '"holding":true' "${LOG[$tool]}") request(s), each with the stored key in ${HEADER[$tool]} (added by the door)"

  [ "$(cat "$REPO/hello.txt" 2>/dev/null)" = "hello from the door" ] || die "$tool: hello.txt is not in the repo on the host"
  ok "$tool: hello.txt is in the repo on the host"

  evidence=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).evidence || "")' "$TMP/run-$tool.json")
  [ -f "$evidence" ] || die "$tool: no evidence record named in the run's result"
  node - "$evidence" "$ADDR" "${PORT[$tool]}" "${SECRET[$tool]}" "$(grep -vc '"holding":true' "${LOG[$tool]}")" <<'JS' || die "$tool: the evidence does not record the turn"
const [file, addr, port, secret, requests] = process.argv.slice(2)
const p = JSON.parse(require('fs').readFileSync(file, 'utf8')).predicate
const d = (p.network.destinations || []).find((x) => x.host === addr && x.port === Number(port) && x.decision === 'allowed')
if (!d || d.count < 2) throw new Error(`destinations: ${JSON.stringify(p.network.destinations)}`)
if (d.count < Number(requests)) throw new Error(`the evidence counts ${d.count} request(s) to ${addr}:${port}, the stand-in got ${requests}`)
const inj = (p.policy.secrets.inject || []).find((i) => i.secret === secret)
if (!inj || inj.host !== `ip:${addr}:${port}`) throw new Error(`policy.secrets: ${JSON.stringify(p.policy.secrets)}`)
console.log(`${d.count} request(s) to ${addr}:${port} allowed; destinations: ${p.network.destinations.map((x) => `${x.host}:${x.port} ${x.decision}`).join(', ')}`)
JS
  ok "$tool: the evidence records the turn's destination ($ADDR:${PORT[$tool]}) and the secret ${SECRET[$tool]} by name"

  if cat "$TMP/run-$tool.json" "$TMP/run-$tool.err" | has_key; then die "$tool: a key is in the run's output"; fi
  if grep -rqaFf "$KEYS" "$STATE_DIR" "$CONFIG_DIR" "$REPO"; then die "$tool: a key is in a state, config or repo file"; fi
  ok "$tool: no key in the run's output, the evidence, state, config or repo"
  left=$(podman ps --all --filter "label=$RUN_ID_LABEL=$id" --format '{{.Names}}')
  [ -z "$left" ] || die "$tool: left containers: $left"
  ok "$tool: no container left ($((SECONDS - started)) s for the turn and its checks, $searched s of them searching the container)"
}

for tool in $TOOLS; do
  case $tool in
    claude-code) turn claude-code -p "Write hello.txt" --permission-mode acceptEdits ;;
    codex) turn codex exec "Write hello.txt" ;;
    *) die "SOURCEOSCTL_E2E_DOOR_TOOLS: unknown tool '$tool' (claude-code, codex)" ;;
  esac
done
