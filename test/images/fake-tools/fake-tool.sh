# shellcheck shell=sh
# Body shared by the fake agent tools (codex, claude) of the integration test image. It runs under
# busybox sh, is installed as /usr/local/lib/fake-tool.sh, and is sourced by the tool scripts after
# they set FAKE_TOOL_NAME.
#
#   --version     print "<name>-fake 0.0.1" and exit 0 (nothing else happens)
#   --touch PATH  create PATH before reporting (file-ownership tests)
#   --sleep N     after the report, sleep N seconds; SIGTERM / SIGINT print "got SIGTERM" /
#                 "got SIGINT" on stdout and exit 143 / 130 (signal tests)
#   --exit N      exit with N (default: $FAKE_TOOL_EXIT, else 0)
#   anything else is only reported.
#
# The report is one line of JSON on stdout:
#   tool, argv, uid, gid, cwd, tty (stdin is a terminal), pid, pid1 (comm of the container's PID 1),
#   capEff (hex, from /proc/<pid>/status), noNewPrivs (0/1), envNames (sorted), env (the values of
#   the names that do not look secret), mounts (lines of /proc/self/mountinfo that mention
#   /workspace), touched ({path, uid, gid} or null).

json_str() {
  printf '%s' "$1" | tr -d '\000-\010\013\014\016-\037' |
    sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/	/\\t/g' -e 's/\r/\\r/g' |
    awk 'BEGIN { ORS = ""; printf "\"" } { if (NR > 1) printf "\\n"; printf "%s", $0 } END { printf "\"" }'
}

looks_secret() {
  case "$(printf '%s' "$1" | tr '[:lower:]' '[:upper:]')" in
    *TOKEN* | *SECRET* | *KEY* | *PASSWORD* | *PASSWD* | *CREDENTIAL* | *AUTH* | *COOKIE* | *SESSION* | AWS_* | *_PAT) return 0 ;;
  esac
  return 1
}

status_field() { sed -n "s/^$1:[[:space:]]*//p" "/proc/$$/status"; }

for arg in "$@"; do
  if [ "$arg" = --version ]; then
    echo "$FAKE_TOOL_NAME-fake 0.0.1"
    exit 0
  fi
done

exit_code=${FAKE_TOOL_EXIT:-0}
sleep_for=
touch_path=
argv_json=
while [ $# -gt 0 ]; do
  argv_json="$argv_json${argv_json:+,}$(json_str "$1")"
  case "$1" in
    --exit | --sleep | --touch)
      [ $# -ge 2 ] || { echo "$FAKE_TOOL_NAME-fake: $1 needs a value" >&2; exit 2; }
      case "$1" in
        --exit) exit_code=$2 ;;
        --sleep) sleep_for=$2 ;;
        --touch) touch_path=$2 ;;
      esac
      argv_json="$argv_json,$(json_str "$2")"
      shift 2
      ;;
    *) shift ;;
  esac
done

if [ -n "$sleep_for" ]; then
  # Set before the report so a signal sent as soon as the report appears is caught.
  sleeper=
  on_signal() {
    [ -n "$sleeper" ] && kill "$sleeper" 2>/dev/null
    echo "got SIG$1"
    exit "$2"
  }
  trap 'on_signal TERM 143' TERM
  trap 'on_signal INT 130' INT
fi

touched=null
if [ -n "$touch_path" ]; then
  touch "$touch_path" || exit 1
  touched="{\"path\":$(json_str "$touch_path"),\"uid\":$(stat -c %u "$touch_path"),\"gid\":$(stat -c %g "$touch_path")}"
fi

env_names=$(env | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p' | sort -u)
names_json=
values_json=
for name in $env_names; do
  eval "is_set=\${$name+yes}"
  [ "$is_set" = yes ] || continue # a line of a multi-line value, not a variable
  names_json="$names_json${names_json:+,}$(json_str "$name")"
  looks_secret "$name" && continue
  eval "value=\$$name"
  values_json="$values_json${values_json:+,}$(json_str "$name"):$(json_str "$value")"
done

mounts_json=
while IFS= read -r line; do
  case "$line" in
    */workspace*) mounts_json="$mounts_json${mounts_json:+,}$(json_str "$line")" ;;
  esac
done </proc/self/mountinfo

if [ -t 0 ]; then tty=true; else tty=false; fi

printf '{"tool":%s,"argv":[%s],"uid":%s,"gid":%s,"cwd":%s,"tty":%s,"pid":%s,"pid1":%s,"capEff":%s,"noNewPrivs":%s,"envNames":[%s],"env":{%s},"mounts":[%s],"touched":%s}\n' \
  "$(json_str "$FAKE_TOOL_NAME")" "$argv_json" "$(id -u)" "$(id -g)" "$(json_str "$(pwd)")" "$tty" "$$" \
  "$(json_str "$(cat /proc/1/comm 2>/dev/null)")" "$(json_str "$(status_field CapEff)")" \
  "$(status_field NoNewPrivs)" "$names_json" "$values_json" "$mounts_json" "$touched"

if [ -n "$sleep_for" ]; then
  sleep "$sleep_for" &
  sleeper=$!
  wait "$sleeper"
fi

exit "$exit_code"
