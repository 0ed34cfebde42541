#!/usr/bin/env bash
# serve_batch.sh — continuous batching in `ragtune serve` on a tiny model (trained here with its
# own BPE tokenizer, q8_0 weights): six concurrent streaming clients of the official openai npm
# client (tests/npm/serve_batch.cjs) get the same greedy text as each got alone, and /metrics
# shows their decode steps ran batched. With --no-batch: the same texts and no batched step.
set -u
fail() { echo "FAIL: $*"; [ -f "$dir/server.log" ] && tail -30 "$dir/server.log"; exit 1; }
dir="$(mktemp -d)"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
npm_dir="$RT_SOURCE_DIR/tests/npm"
[ -d "$npm_dir/node_modules/openai" ] || fail "tests/npm/node_modules/openai missing (run scripts/install-deps.sh)"

for i in $(seq 1 200); do
    echo "line $i: the quick brown fox jumps over the lazy dog. Paris is the capital of France."
done > "$dir/corpus.txt"
"$RAGTUNE" tokenizer train --vocab-size 300 --special '<|endoftext|>' "$dir/corpus.txt" \
    -o "$dir/tok.json" >/dev/null 2>&1 || fail "tokenizer train"
"$RAGTUNE" train --data "$dir/corpus.txt" --tokenizer "$dir/tok.json" --out "$dir/base" \
    --layers 2 --embd 32 --heads 4 --kv-heads 2 --ff 64 --ctx 256 --seq-len 32 --batch 4 --steps 20 \
    --threads 2 >/dev/null 2>&1 || fail "train the tiny model"

start_server() {
    rm -f "$dir/port"
    "$RAGTUNE" serve --model "$dir/base/model" --alias tiny --port 0 --port-file "$dir/port" \
        --data-dir "$dir/data" --parallel 6 --queue 8 --quantize q8_0 --threads 2 "$@" \
        >>"$dir/server.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 300); do
        if [ -s "$dir/port" ]; then
            url="http://127.0.0.1:$(cat "$dir/port")"
            [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/health")" = 200 ] && return 0
        fi
        kill -0 "$pid" 2>/dev/null || fail "server died at start"
        sleep 0.1
    done
    fail "server did not become healthy"
}
stop_server() {
    kill -TERM "$pid"
    wait "$pid" || fail "server exit status after SIGTERM"
    pid=""
}

start_server
RT_BASE_URL="$url" RT_MODEL=tiny RT_EXPECT_BATCH=1 node "$npm_dir/serve_batch.cjs" ||
    fail "batched clients"
stop_server
start_server --no-batch
RT_BASE_URL="$url" RT_MODEL=tiny RT_EXPECT_BATCH=0 node "$npm_dir/serve_batch.cjs" ||
    fail "clients without batching"
stop_server
echo ok
