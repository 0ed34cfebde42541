#!/usr/bin/env bash
# serve_batch.sh — continuous batching in `ragtune serve` on a tiny model (trained here with its
# own BPE tokenizer, q8_0 weights): six concurrent streaming clients of the official openai npm
# client (tests/npm/serve_batch.cjs) get the same greedy text as each got alone, and /metrics
# shows their decode steps ran batched (--batch). With --no-batch: the same texts and no batched
# step. By default the server guesses at start-up whether batching pays, then goes on choosing
# from the tokens/s it measures (the texts are still each client's own; /metrics has the mode and
# its switches).
. "$RT_SOURCE_DIR/tests/cli/lib/serve_tiny.bash"
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

serve() { start_server --model "$dir/base/model" --alias tiny --data-dir "$dir/data" --parallel 6 \
    --queue 8 --quantize q8_0 "$@"; }
serve --batch
RT_BASE_URL="$url" RT_MODEL=tiny RT_EXPECT_BATCH=1 node "$npm_dir/serve_batch.cjs" ||
    fail "batched clients"
stop_server
serve --no-batch
RT_BASE_URL="$url" RT_MODEL=tiny RT_EXPECT_BATCH=0 node "$npm_dir/serve_batch.cjs" ||
    fail "clients without batching"
stop_server
serve
grep -q "batching: o[nf]*: 6 sequences" "$dir/server.log" || fail "no calibration log line"
RT_BASE_URL="$url" RT_MODEL=tiny RT_EXPECT_BATCH=auto node "$npm_dir/serve_batch.cjs" ||
    fail "clients with batching chosen by the server"
stop_server
echo ok
