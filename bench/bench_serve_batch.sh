#!/usr/bin/env bash
# `ragtune serve` continuous batching: aggregate generated tokens/s of 1 and of C concurrent
# streaming clients (default 16) against a server with C slots whose decode steps are batched
# (one forward pass per step for every decoding request), and the same C clients against the
# server with --no-batch (C slots, each decoding alone on its own thread). Each client sends R
# chat requests of T tokens (ignore_eos; the load of bench/bench_server_client.cjs). Prints one
# table: tok/s, p50/p99 request latency, failed requests, the server's peak resident memory,
# and two ratios: C clients over 1 client, and batched over --no-batch at C clients.
# MODEL "tiny" trains a throw-away 2-layer model first (a smoke run of this script, not a
# measurement); "medium" makes a 27M-parameter q8_0 llama (8 layers, 512 wide, one training step
# on Debian's WordNet glosses, the shipped reader's tokenizer): decoding it is memory-bound, as
# with real models, where the shipped 2.4M reader fits in cache. Timing claims need a quiet
# machine.
# usage: bench/bench_serve_batch.sh MODEL|tiny|medium [BUILD_DIR] [C] [R] [T] [THREADS]
set -euo pipefail
model=${1:?usage: bench/bench_serve_batch.sh MODEL|tiny|medium [BUILD_DIR] [C] [R] [T] [THREADS]}
build=${2:-build}
clients=${3:-16}
per_client=${4:-4}
tokens=${5:-64}
threads=${6:-0}
cd "$(dirname "$0")/.."
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rt-bench-batch-XXXXXX")
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT

if [ "$model" = tiny ]; then
    for i in $(seq 1 200); do
        echo "line $i: the quick brown fox jumps over the lazy dog. Paris is the capital of France."
    done > "$tmp/corpus.txt"
    "$build/ragtune" tokenizer train --vocab-size 300 --special '<|endoftext|>' "$tmp/corpus.txt" \
        -o "$tmp/tok.json" >/dev/null 2>&1
    "$build/ragtune" train --data "$tmp/corpus.txt" --tokenizer "$tmp/tok.json" --out "$tmp/base" \
        --layers 2 --embd 32 --heads 4 --kv-heads 2 --ff 64 --ctx 512 --seq-len 32 --batch 4 \
        --steps 2 >/dev/null 2>&1
    model="$tmp/base/model"
elif [ "$model" = medium ]; then
    head -c 4000000 /usr/share/wordnet/data.noun | cut -d'|' -f2 > "$tmp/corpus.txt"
    "$build/ragtune" train --data "$tmp/corpus.txt" --tokenizer models/reader/tokenizer.json \
        --out "$tmp/base" --layers 8 --embd 512 --heads 8 --kv-heads 8 --ff 1376 --ctx 512 \
        --seq-len 64 --batch 2 --steps 1 >/dev/null 2>&1
    "$build/ragtune" convert "$tmp/base/model" "$tmp/medium-q8_0.gguf" --dtype q8_0 >/dev/null 2>&1
    model="$tmp/medium-q8_0.gguf"
fi
thread_opt=()
[ "$threads" -gt 0 ] && thread_opt=(--threads "$threads")

. bench/serve_lib.sh
run() { # run MODE(batch|no-batch) CLIENT_COUNTS... -> clients tok/s p50 p99 failed peak_mb mode
    local mode=$1
    shift
    local extra=()
    [ "$mode" = no-batch ] && extra=(--no-batch)
    serve_start --model "$model" --parallel "$clients" "${thread_opt[@]}" "${extra[@]}"
    for c in "$@"; do
        serve_load "$c" "$per_client" "$tokens" | awk -v m="$mode" '{ $7 = m; print }'
    done
    serve_stop
}
run batch 1 "$clients" > "$tmp/rows.txt"
run no-batch "$clients" >> "$tmp/rows.txt"
printf '%-9s %-8s %12s %10s %10s %7s %9s\n' mode clients "tok/s" "p50 s" "p99 s" failed "peak MB"
while read -r c t p50 p99 f mb mode; do
    printf '%-9s %-8s %12s %10s %10s %7s %9s\n' "$mode" "$c" "$t" "$p50" "$p99" "$f" "$mb"
done < "$tmp/rows.txt"
awk -v c="$clients" '
    $7 == "batch" && $1 == 1 { one = $2 }
    $7 == "batch" && $1 == c { many = $2 }
    $7 == "no-batch" { alone = $2 }
    END {
        printf "batched, %d clients over 1 client: %.2fx aggregate tokens/s\n", c, (one > 0 ? many / one : 0)
        printf "batched over --no-batch at %d clients: %.2fx\n", c, (alone > 0 ? many / alone : 0)
    }' "$tmp/rows.txt"
