#!/usr/bin/env bash
# Footprint of the release binary: size, start-up time to ready, idle memory.
#
#   scripts/measure-startup.sh            # builds the release binary first
#   BIN=path/to/pimbot RUNS=15 scripts/measure-startup.sh
#
# Start-up is the time from exec to the first `GET /readyz` answering 200 (the database is
# open and migrated, the HTTP server accepts), on SQLite, median of RUNS runs; it is measured
# on a fresh database (migrations run) and on an existing one (a restart). Idle RSS is VmRSS
# from /proc/PID/status one second after ready; VmHWM is the peak during start-up.
# Needs bash, curl and Linux /proc.
set -euo pipefail

RUNS="${RUNS:-11}"
PORT="${PORT:-18187}"
root="$(cd "$(dirname "$0")/.." && pwd)"
if [[ -z "${BIN:-}" ]]; then
  (cd "$root" && cargo build --release --locked --bin pimbot >&2)
  BIN="${CARGO_TARGET_DIR:-$root/target}/release/pimbot"
fi
[[ -x "$BIN" ]] || { echo "no binary at $BIN" >&2; exit 1; }

work="$(mktemp -d)"
pid=""
cleanup() {
  if [[ -n "$pid" ]]; then kill -TERM "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/pimbot.toml" <<EOF
[server]
listen = "127.0.0.1:$PORT"
[database]
url = "sqlite://$work/pimbot.db"
[slack]
signing_secret = "measure-only"
bot_token = "xoxb-measure-only"
api_url = "http://127.0.0.1:9/api/"
approver_channel = "C0APPROVERS"
[[person]]
id = "alice"
upn = "alice@contoso.com"
slack = "U0ALICE"
[[person]]
id = "carol"
upn = "carol@contoso.com"
slack = "U0CAROL"
[[role]]
key = "global-admin"
name = "Global Administrator"
kind = "entra-role"
directory_id = "62e90394-69f5-4237-9190-012177145e10"
tier = "critical"
approvers = ["carol"]
eligible = ["alice"]
EOF

now_ns() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }

# One run: prints "startup_us rss_kib hwm_kib".
run_once() {
  local start end status rss hwm
  start=$(now_ns)
  RUST_LOG=warn "$BIN" serve --config "$work/pimbot.toml" 2>>"$work/stderr.log" &
  pid=$!
  until curl -fs -o /dev/null "http://127.0.0.1:$PORT/readyz"; do
    kill -0 "$pid" 2>/dev/null || { cat "$work/stderr.log" >&2; exit 1; }
    sleep 0.002
  done
  end=$(now_ns)
  sleep 1
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
  hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")
  kill -TERM "$pid"
  status=0
  wait "$pid" || status=$?
  pid=""
  [[ $status -eq 0 ]] || { echo "pimbot exited with $status after SIGTERM" >&2; exit 1; }
  echo "$(( (end - start) / 1000 )) $rss $hwm"
}

fresh=() existing=() rss=() hwm=()
for _ in $(seq "$RUNS"); do
  rm -f "$work"/pimbot.db*
  run_once >"$work/run"
  read -r us r h <"$work/run"
  fresh+=("$us")
  run_once >"$work/run"   # same database again: a restart
  read -r us r h <"$work/run"
  existing+=("$us") rss+=("$r") hwm+=("$h")
done

size=$(stat -c %s "$BIN")
printf 'binary            %s (%s MiB, %s)\n' "$BIN" "$(awk -v s="$size" 'BEGIN {printf "%.1f", s/1048576}')" \
  "$(file -b "$BIN" 2>/dev/null | grep -o 'not stripped\|stripped' || echo '?')"
printf 'runs              %s\n' "$RUNS"
printf 'startup fresh db  median %s ms (min %s, max %s)\n' \
  "$(printf '%s\n' "${fresh[@]}" | median | awk '{printf "%.1f", $1/1000}')" \
  "$(printf '%s\n' "${fresh[@]}" | sort -n | head -1 | awk '{printf "%.1f", $1/1000}')" \
  "$(printf '%s\n' "${fresh[@]}" | sort -n | tail -1 | awk '{printf "%.1f", $1/1000}')"
printf 'startup restart   median %s ms (min %s, max %s)\n' \
  "$(printf '%s\n' "${existing[@]}" | median | awk '{printf "%.1f", $1/1000}')" \
  "$(printf '%s\n' "${existing[@]}" | sort -n | head -1 | awk '{printf "%.1f", $1/1000}')" \
  "$(printf '%s\n' "${existing[@]}" | sort -n | tail -1 | awk '{printf "%.1f", $1/1000}')"
printf 'idle RSS          median %s MiB (VmHWM median %s MiB)\n' \
  "$(printf '%s\n' "${rss[@]}" | median | awk '{printf "%.1f", $1/1024}')" \
  "$(printf '%s\n' "${hwm[@]}" | median | awk '{printf "%.1f", $1/1024}')"
