#!/usr/bin/env bash
# `ragtune serve` under load: C concurrent streaming clients (default 1 4 16 64), each sending R
# chat requests of T generated tokens (ignore_eos), against a server with S slots (--parallel S)
# and against one slot (one request at a time). Prints one table: aggregate generated tokens/s,
# p50/p95 time to first token, p50/p99 request latency, failed requests, the server's peak resident memory, and the ratio of
# S slots over one slot. The S slots' decode steps are batched (continuous batching) unless
# RT_SERVE_FLAGS=--no-batch; bench/bench_serve_batch.sh compares the two.
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

. bench/serve_lib.sh
run() { # run SLOTS -> one line per client count (serve_load's)
    serve_start --model "$model" --parallel "$1" ${RT_SERVE_FLAGS:-}
    for c in "${clients[@]}"; do
        serve_load "$c" "$per_client" "$tokens"
    done
    serve_stop
}
run 1 > "$tmp/one.txt"
run "$slots" > "$tmp/many.txt"
row='%-8s %-6s %10s %10s %10s %10s %10s %7s %9s %10s\n'
printf "$row" clients slots "tok/s" "ttft p50" "ttft p95" "p50 s" "p99 s" failed "peak MB" "vs 1 slot"
paste -d' ' "$tmp/one.txt" "$tmp/many.txt" |
    while read -r c1 t1 f50a f95a p50a _ p99a f1 m1 c t f50 f95 p50 _ p99 f m; do
        printf "$row" "$c1" 1 "$t1" "$f50a" "$f95a" "$p50a" "$p99a" "$f1" "$m1" "1.00"
        printf "$row" "$c" "$slots" "$t" "$f50" "$f95" "$p50" "$p99" "$f" "$m" \
            "$(awk -v a="$t" -v b="$t1" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')"
    done
