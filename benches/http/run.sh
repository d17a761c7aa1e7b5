#!/usr/bin/env bash
# End-to-end HTTP benchmark: tools/call throughput and latency with wrk (64 keep-alive
# connections, 1 thread), server CPU time per call, and full tools/list latency over
# Streamable HTTP and legacy SSE. Needs wrk and curl (Debian: apt-get install wrk curl).
# Usage: benches/http/run.sh [runs [server flags...]]   (default 5 runs per figure; medians
# are printed), e.g. benches/http/run.sh 5 -threads=1
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
shift $(($# > 0 ? 1 : 0))
extra=("$@")
cargo build --release --quiet
bin=${CARGO_TARGET_DIR:-target}/release/benchmark-server
port=$((20000 + RANDOM % 20000))

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
wait_port() { for _ in $(seq 100); do curl -sf "http://127.0.0.1:$1/health" >/dev/null && return; sleep 0.05; done; exit 1; }

"$bin" -transport=http -listen=127.0.0.1 -port=$port -session-mode=stateless -tools=10000 -log-level=error ${extra[@]+"${extra[@]}"} &
server=$!
trap 'kill $server 2>/dev/null' EXIT
wait_port $port
hz=$(getconf CLK_TCK)
rps=(); p50=(); p99=(); cpu=()
for _ in $(seq "$runs"); do
  before=$(cpu_ticks $server)
  out=$(wrk -t1 -c64 -d5s --latency -s benches/http/tools_call.lua "http://127.0.0.1:$port/mcp")
  after=$(cpu_ticks $server)
  n=$(awk '/requests in/ {print $1}' <<<"$out")
  rps+=("$(awk '/Requests\/sec/ {print $2}' <<<"$out")")
  p50+=("$(awk '$1 == "50%" {print $2}' <<<"$out")")
  p99+=("$(awk '$1 == "99%" {print $2}' <<<"$out")")
  cpu+=("$(awk -v t=$((after - before)) -v n="$n" -v hz="$hz" 'BEGIN {printf "%.2f", t * 1e6 / hz / n}')")
done
echo "tools/call over Streamable HTTP, wrk -t1 -c64, 1 KB payload ($runs runs)${extra[*]+, server flags: ${extra[*]}}"
echo "  calls/s median:        $(printf '%s\n' "${rps[@]}" | median)   (runs: ${rps[*]})"
echo "  p50 latency:           ${p50[*]}"
echo "  p99 latency:           ${p99[*]}"
echo "  server CPU us/call:    $(printf '%s\n' "${cpu[@]}" | median)   (runs: ${cpu[*]})"
echo "  server peak RSS:       $(awk '/VmHWM/ {print $2, $3}' /proc/$server/status)"

list_ms() {
  local url=$1 body=$2
  for _ in $(seq 20); do
    curl -s -o /dev/null -w '%{time_total}\n' "$url" -H 'Content-Type: application/json' -d "$body"
  done | awk '{print $1 * 1000}' | median
}
echo "tools/list of 10,000 tools over Streamable HTTP: $(list_ms "http://127.0.0.1:$port/mcp" '{"jsonrpc":"2.0","id":1,"method":"tools/list"}') ms (median of 20)"
kill $server; wait $server 2>/dev/null || true

"$bin" -transport=http -listen=127.0.0.1 -port=$port -session-mode=stateless -tools=100000 -log-level=error ${extra[@]+"${extra[@]}"} &
server=$!
wait_port $port
echo "tools/list of 100,000 tools over Streamable HTTP: $(list_ms "http://127.0.0.1:$port/mcp" '{"jsonrpc":"2.0","id":1,"method":"tools/list"}') ms (median of 20)"
echo "  server peak RSS:       $(awk '/VmHWM/ {print $2, $3}' /proc/$server/status)"
