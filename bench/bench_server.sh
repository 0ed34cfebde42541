#!/usr/bin/env bash
# `ragtune serve` under load: C concurrent streaming clients (default 1 4 16 64), each sending R
# chat requests of T generated tokens (ignore_eos), against a server with S slots (--parallel S)
# and against one slot (one request at a time). Prints one table: aggregate generated tokens/s,
# p50/p99 request latency, failed requests, the server's peak resident memory, and the ratio of
# S slots over one slot. Slots are parallel threads, one sequence each (no batched decoding).
# usage: bench/bench_server.sh MODEL [BUILD_DIR] [SLOTS] [R] [T] [CLIENTS...]
set -euo pipefail
model=${1:?usage: bench/bench_server.sh MODEL [BUILD_DIR] [SLOTS] [R] [T] [CLIENTS...]}
build=${2:-build}
slots=${3:-4}
per_client=${4:-4}
tokens=${5:-32}
shift $(( $# < 5 ? $# : 5 ))
clients=("$@")
[ ${#clients[@]} -gt 0 ] || clients=(1 4 16 64)
cd "$(dirname "$0")/.."
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rt-bench-server-XXXXXX")
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT

run() { # run SLOTS -> one line per client count: clients tok/s p50 p99 failed peak_mb
    local s=$1
    rm -f "$tmp/port"
    "$build/ragtune" serve --model "$model" --port 0 --port-file "$tmp/port" --parallel "$s" \
        --queue 1024 --max-connections 256 --data-dir "$tmp/data" 2>"$tmp/server.log" &
    pid=$!
    for _ in $(seq 1 600); do
        [ -s "$tmp/port" ] && curl -sf "http://127.0.0.1:$(cat "$tmp/port")/health" >/dev/null && break
        sleep 0.1
    done
    for c in "${clients[@]}"; do
        node bench/bench_server_client.cjs "http://127.0.0.1:$(cat "$tmp/port")" "$c" \
            "$per_client" "$tokens" | tr '\n' ' '
        echo "$(awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$pid/status")"
    done
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=""
}
run 1 > "$tmp/one.txt"
run "$slots" > "$tmp/many.txt"
printf '%-8s %-6s %12s %10s %10s %7s %9s %14s\n' clients slots "tok/s" "p50 s" "p99 s" failed \
    "peak MB" "vs 1 slot"
paste -d' ' "$tmp/one.txt" "$tmp/many.txt" | while read -r c1 t1 p50a p99a f1 m1 c t p50 p99 f m; do
    printf '%-8s %-6s %12s %10s %10s %7s %9s %14s\n' "$c1" 1 "$t1" "$p50a" "$p99a" "$f1" "$m1" "1.00"
    printf '%-8s %-6s %12s %10s %10s %7s %9s %14s\n' "$c" "$slots" "$t" "$p50" "$p99" "$f" "$m" \
        "$(awk -v a="$t" -v b="$t1" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')"
done
