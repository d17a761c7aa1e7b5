#!/usr/bin/env bash
# Instructions executed per request (valgrind's callgrind), over stdio and Streamable HTTP.
# Counts are deterministic for a given binary and input, whatever else the machine is doing,
# so two builds can be compared exactly on a shared machine where wall-clock figures drift.
# Needs valgrind; the HTTP figure also needs wrk and curl (Debian: valgrind wrk curl).
# Usage: benches/callgrind/run.sh [server-binary]   (default: builds the release binary)
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ $# -ge 1 ]; then
  bin=$(realpath "$1")
else
  cargo build --release --quiet
  bin=$(realpath "${CARGO_TARGET_DIR:-target}/release/benchmark-server")
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# stdio: the same session three ways (handshake only; plus 10,000 tools/call; plus 10 rounds of
# tools/list, resources/list and prompts/list of 10,000 items each); the differences divided
# by the request counts are the per-request costs, start-up and exit cancelling out.
python3 - "$work" <<'EOF'
import json, sys
def script(name, calls, rounds):
    with open(f"{sys.argv[1]}/{name}.jsonl", "w") as f:
        f.write(json.dumps({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "callgrind", "version": "1"}}}) + "\n")
        f.write('{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
        for i in range(calls):
            f.write(json.dumps({"jsonrpc": "2.0", "id": i + 1, "method": "tools/call", "params": {
                "name": f"benchmark_tool_{i % 10000}",
                "arguments": {"param1": "a", "param2": "b"}}}) + "\n")
        for r in range(rounds):
            for m in ("tools/list", "resources/list", "prompts/list"):
                f.write(json.dumps({"jsonrpc": "2.0", "id": f"{m}-{r}", "method": m}) + "\n")
script("base", 0, 0)
script("calls", 10000, 0)
script("lists", 0, 10)
EOF
catalog=(-tools=10000 -resources=10000 -prompts=10000 -log-level=none)
total() { awk '/^summary:/ {print $2}' "$1"; }
for s in base calls lists; do
  valgrind --tool=callgrind --callgrind-out-file="$work/$s.out" -q \
    "$bin" "${catalog[@]}" <"$work/$s.jsonl" >"$work/$s.replies" 2>/dev/null
done
base=$(total "$work/base.out")
replies=$(wc -l <"$work/calls.replies")
[ "$replies" -eq 10001 ] || { echo "expected 10001 replies, got $replies" >&2; exit 1; }
echo "stdio, -tools=10000 -resources=10000 -prompts=10000 (instructions, user space)"
echo "  start-up, handshake, exit:               $base"
echo "  per tools/call (1 KB payload):           $((($(total "$work/calls.out") - base) / 10000))"
echo "  per round of the three full lists:       $((($(total "$work/lists.out") - base) / 10))"

command -v wrk >/dev/null || { echo "wrk not found: HTTP figure skipped" >&2; exit 0; }
port=$((20000 + RANDOM % 20000))
valgrind --tool=callgrind --callgrind-out-file="$work/http.out" -q "$bin" -transport=http \
  -listen=127.0.0.1 -port=$port -session-mode=stateless -threads=1 -tools=1000 -log-level=none &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 200); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
url="http://127.0.0.1:$port/mcp"
wrk -t1 -c8 -d3s -s benches/http/tools_call.lua "$url" >/dev/null
callgrind_control -z $server >/dev/null 2>&1
n=$(wrk -t1 -c8 -d20s -s benches/http/tools_call.lua "$url" | awk '/requests in/ {print $1}')
callgrind_control -d $server >/dev/null 2>&1
kill $server; wait $server 2>/dev/null || true
dump=$(ls "$work"/http.out.* | sort | tail -1)
echo "Streamable HTTP, stateless, -threads=1, wrk -t1 -c8 for 20 s ($n calls)"
echo "  per tools/call (1 KB payload):           $(($(total "$dump") / n))"
