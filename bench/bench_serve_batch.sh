#!/usr/bin/env bash
# `ragtune serve` continuous batching under load: 1, 4, 16 and 64 concurrent streaming clients
# (CLIENTS) against a server with S slots (default 16), in each mode of MODES: "auto" (the
# default: the server guesses at start-up whether batching pays, then decides from the tokens/s
# it measures in both modes while serving), "batch" (--batch: the slots' decode steps always run
# as one batched forward pass) and "no-batch" (--no-batch: each slot decodes alone on its own
# thread). Each client sends R chat requests of T tokens (ignore_eos;
# the load of bench/bench_server_client.cjs); the server is restarted for every row, so each
# row's peak memory is its own. Prints one table per model: aggregate generated tokens/s, p50/p95
# time to first token, p50/p95/p99 request latency, failed requests, the server's peak resident
# memory, the ratio to 1 client in the same mode and the ratio to --no-batch at the same
# clients; then, for each "auto" row, its start-up guess and the mode it ended in after how many
# switches (it goes on deciding from the tokens/s it measures while serving).
# MODEL: "reader" (the shipped 2.4M-parameter reader, models/reader/reader-q8_0.gguf: its
# weights fit in cache, decoding is compute-bound), "medium" (a 27M-parameter q8_0 llama made
# here: 8 layers, 512 wide, one training step on Debian's WordNet glosses, the reader's
# tokenizer; decoding it is memory-bound, as with real models), "tiny" (a throw-away 2-layer
# model: a smoke run of this script, not a measurement) or a model path. Timing claims need a
# quiet machine.
# usage: bench/bench_serve_batch.sh [MODEL...]   (default: reader medium)
# environment: BUILD (build), SLOTS (16), CLIENTS ("1 4 16 64"), R (4), T (64), THREADS (0 =
# the default), MODES ("auto batch no-batch")
set -euo pipefail
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(reader medium)
build=${BUILD:-build}
slots=${SLOTS:-16}
read -r -a clients <<< "${CLIENTS:-1 4 16 64}"
per_client=${R:-4}
tokens=${T:-64}
threads=${THREADS:-0}
read -r -a modes <<< "${MODES:-auto batch no-batch}"
cd "$(dirname "$0")/.."
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rt-bench-batch-XXXXXX")
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT

make_model() { # make_model NAME -> prints the model path
    case $1 in
    reader) echo models/reader/reader-q8_0.gguf ;;
    tiny)
        for i in $(seq 1 200); do
            echo "line $i: the quick brown fox jumps over the lazy dog. Paris is the capital of France."
        done > "$tmp/tiny.txt"
        "$build/ragtune" tokenizer train --vocab-size 300 --special '<|endoftext|>' "$tmp/tiny.txt" \
            -o "$tmp/tok.json" >/dev/null 2>&1
        "$build/ragtune" train --data "$tmp/tiny.txt" --tokenizer "$tmp/tok.json" --out "$tmp/tiny" \
            --layers 2 --embd 32 --heads 4 --kv-heads 2 --ff 64 --ctx 512 --seq-len 32 --batch 4 \
            --steps 2 >/dev/null 2>&1
        echo "$tmp/tiny/model"
        ;;
    medium)
        head -c 4000000 /usr/share/wordnet/data.noun | cut -d'|' -f2 > "$tmp/medium.txt"
        "$build/ragtune" train --data "$tmp/medium.txt" --tokenizer models/reader/tokenizer.json \
            --out "$tmp/medium" --layers 8 --embd 512 --heads 8 --kv-heads 8 --ff 1376 --ctx 512 \
            --seq-len 64 --batch 2 --steps 1 >/dev/null 2>&1
        "$build/ragtune" convert "$tmp/medium/model" "$tmp/medium-q8_0.gguf" --dtype q8_0 >/dev/null 2>&1
        echo "$tmp/medium-q8_0.gguf"
        ;;
    *) echo "$1" ;;
    esac
}

. bench/serve_lib.sh
thread_opt=()
[ "$threads" -gt 0 ] && thread_opt=(--threads "$threads")
for name in "${models[@]}"; do
    model=$(make_model "$name")
    : > "$tmp/rows.txt"
    chose=""
    for mode in "${modes[@]}"; do
        flag=()
        [ "$mode" = batch ] && flag=(--batch)
        [ "$mode" = no-batch ] && flag=(--no-batch)
        for c in "${clients[@]}"; do
            serve_start --model "$model" --parallel "$slots" "${thread_opt[@]}" "${flag[@]}"
            echo "$mode $(serve_load "$c" "$per_client" "$tokens")" >> "$tmp/rows.txt"
            if [ "$mode" = auto ]; then
                # the start-up guess, then where the measured tokens/s took it during the row
                chose+="  $c clients: started $(grep -o 'batching: [^ :]*' "$tmp/server.log" |
                    head -1 | cut -d' ' -f2), ended $(curl -s "$url/metrics" |
                    awk '$1 == "ragtune_batching" { print ($2 ? "on" : "off") }
                         $1 == "ragtune_batching_switches_total" { print "after " $2 " switches" }' |
                    paste -sd' ')"$'\n'
            fi
            serve_stop
        done
    done
    echo "model: $name ($model), $slots slots, $per_client requests of $tokens tokens per client"
    awk '
        { mode[NR] = $1; c[NR] = $2; tps[NR] = $3; line[NR] = $0; key = $1 " " $2; t[key] = $3
          if (!($1 in first)) first[$1] = $3 }
        END {
            fmt = "%-9s %7s %10s %9s %9s %8s %8s %8s %6s %8s %8s %9s\n"
            printf fmt, "mode", "clients", "tok/s", "ttft p50", "ttft p95", "p50 s", "p95 s",
                "p99 s", "failed", "peak MB", "x 1 cl", "x no-bat"
            for (i = 1; i <= NR; i++) {
                split(line[i], f, " ")
                one = first[mode[i]]; nb = t["no-batch " c[i]]
                printf fmt, f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10],
                    (one > 0 ? sprintf("%.2f", tps[i] / one) : "-"),
                    (nb > 0 ? sprintf("%.2f", tps[i] / nb) : "-")
            }
        }' "$tmp/rows.txt"
    [ -n "$chose" ] && printf 'auto batching (start-up guess, then decided from measured tokens/s):\n%s' "$chose"
    echo
done
