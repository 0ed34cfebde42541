#!/usr/bin/env bash
# serve.sh — `ragtune serve` end to end on a tiny model (trained here with its own BPE
# tokenizer, so chat, embeddings and fine-tuning all run in seconds), listening on 127.0.0.1 at a
# free port: /health, /metrics and the web page; the official openai npm client
# (tests/npm/serve_openai.cjs) for the OpenAI routes, RAG and a fine-tuning job; abuse (malformed
# JSON, wrong types, invalid UTF-8, an oversized body, path traversal, missing/wrong key, a
# slow client), each a 4xx with the server still serving; graceful shutdown on SIGTERM and a
# restart that keeps the job and its ft: model.
set -u
fail() { echo "FAIL: $*"; [ -f "$dir/server.log" ] && tail -30 "$dir/server.log"; exit 1; }
dir="$(mktemp -d)"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
npm_dir="$RT_SOURCE_DIR/tests/npm"
[ -d "$npm_dir/node_modules/openai" ] || fail "tests/npm/node_modules/openai missing (run scripts/install-deps.sh)"

"$RAGTUNE" serve --help | grep -q -- "--api-key" || fail "help"
"$RAGTUNE" serve >/dev/null 2>&1; [ $? -eq 2 ] || fail "serve without --model should exit 2"
"$RAGTUNE" serve --model x --port 70000 >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad port should exit 2"
"$RAGTUNE" serve --model "$dir/none" --port 0 --data-dir "$dir/d0" >/dev/null 2>&1
[ $? -eq 1 ] || fail "a missing model should exit 1"

# a tiny llama with its own tokenizer
for i in $(seq 1 200); do
    echo "line $i: the quick brown fox jumps over the lazy dog. Paris is the capital of France."
done > "$dir/corpus.txt"
"$RAGTUNE" tokenizer train --vocab-size 300 --special '<|endoftext|>' "$dir/corpus.txt" \
    -o "$dir/tok.json" >/dev/null 2>&1 || fail "tokenizer train"
"$RAGTUNE" train --data "$dir/corpus.txt" --tokenizer "$dir/tok.json" --out "$dir/base" \
    --layers 2 --embd 32 --heads 4 --kv-heads 2 --ff 64 --ctx 1024 --seq-len 32 --batch 4 --steps 2 \
    --threads 2 >/dev/null 2>&1 || fail "train the tiny model"
model="$dir/base/model"
key="test-key-123"
printf '%s\n' "$key" > "$dir/key"

start_server() {
    rm -f "$dir/port"
    "$RAGTUNE" serve --model "$model" --alias tiny --embed-model "$model" --port 0 \
        --port-file "$dir/port" --api-key-file "$dir/key" --data-dir "$dir/data" --parallel 2 \
        --queue 8 --max-body 1000000 --conn-timeout 2 --threads 2 "$@" >>"$dir/server.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 300); do
        if [ -s "$dir/port" ]; then
            port=$(cat "$dir/port")
            url="http://127.0.0.1:$port"
            [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health")" = 200 ] && return 0
        fi
        kill -0 "$pid" 2>/dev/null || fail "server died at start"
        sleep 0.1
    done
    fail "server did not become healthy"
}
start_server
auth=(-H "Authorization: Bearer $key")
code() { curl -s -o "$dir/body" -w '%{http_code}' "$@"; }

# operations
[ "$(code "$url/health")" = 200 ] || fail "health"
grep -q '"status":"ok"' "$dir/body" || fail "health body"
[ "$(code "$url/metrics")" = 401 ] || fail "metrics needs the key"
[ "$(code "${auth[@]}" "$url/metrics")" = 200 ] || fail "metrics"
grep -q '^ragtune_request_duration_seconds_bucket{le="+Inf"}' "$dir/body" || fail "latency histogram"
grep -q '^ragtune_queue_depth 0' "$dir/body" || fail "queue gauge"
[ "$(code "$url/")" = 200 ] || fail "web page"
grep -q "<title>ragtune</title>" "$dir/body" || fail "web page content"

# the official client
RT_BASE_URL="$url" RT_API_KEY="$key" RT_MODEL=tiny RT_WORK="$dir" \
    node "$npm_dir/serve_openai.cjs" > "$dir/node.log" 2>&1
status=$?
cat "$dir/node.log"
[ $status -eq 0 ] || fail "openai client tests"

# the web page in a real browser (Debian's chromium driven by playwright-core)
if [ -x /usr/bin/chromium ] && [ -d "$npm_dir/node_modules/playwright-core" ]; then
    RT_BASE_URL="$url" RT_API_KEY="$key" RT_WORK="$dir" \
        timeout 300 node "$npm_dir/serve_web.cjs" > "$dir/web.log" 2>&1
    status=$?
    cat "$dir/web.log"
    [ $status -eq 0 ] || fail "web page tests"
else
    echo "skip: web page test (no /usr/bin/chromium or playwright-core)"
fi

# abuse: each a 4xx with an OpenAI-shaped error
chat="$url/v1/chat/completions"
json=(-H "Content-Type: application/json")
expect() { # expect STATUS DESCRIPTION curl-args...
    local want=$1 what=$2
    shift 2
    local got
    got=$(code "$@")
    [ "$got" = "$want" ] || fail "$what: expected $want, got $got: $(head -c 300 "$dir/body")"
    grep -q '"error":{' "$dir/body" || fail "$what: not an OpenAI error: $(head -c 300 "$dir/body")"
}
expect 401 "missing key" "${json[@]}" -d '{}' "$chat"
expect 401 "wrong key" -H "Authorization: Bearer nope" "${json[@]}" -d '{}' "$chat"
expect 400 "malformed JSON" "${auth[@]}" "${json[@]}" -d '{"messages": [' "$chat"
expect 400 "not an object" "${auth[@]}" "${json[@]}" -d '[1,2]' "$chat"
expect 400 "wrong types" "${auth[@]}" "${json[@]}" -d '{"messages":"hi","max_tokens":"8"}' "$chat"
expect 400 "bad role" "${auth[@]}" "${json[@]}" -d '{"messages":[{"role":"x","content":"a"}]}' "$chat"
printf '{"messages":[{"role":"user","content":"\xff\xfe bad"}]}' > "$dir/badutf8.json"
expect 400 "invalid UTF-8" "${auth[@]}" "${json[@]}" --data-binary @"$dir/badutf8.json" "$chat"
head -c 3000000 /dev/zero | tr '\0' 'a' > "$dir/big.json"
expect 413 "oversized body" "${auth[@]}" "${json[@]}" --data-binary @"$dir/big.json" "$chat"
expect 400 "path traversal (collection)" "${auth[@]}" "$url/v1/collections/..%2F..%2Fetc/search" \
    "${json[@]}" -d '{"query":"x"}'
expect 400 "path traversal (name)" "${auth[@]}" "${json[@]}" -d '{"name":"../escape"}' \
    "$url/v1/collections"
expect 400 "path traversal (file)" "${auth[@]}" "$url/v1/files/..%2F..%2Fetc%2Fpasswd"
[ ! -e "$dir/escape" ] || fail "a collection was created outside the data directory"
expect 404 "unknown collection" "${auth[@]}" "${json[@]}" -d '{"query":"x"}' \
    "$url/v1/collections/nope/search"
expect 404 "unknown route" "${auth[@]}" "$url/v1/nothing"
expect 405 "wrong method" "${auth[@]}" -X DELETE "$url/v1/models"
expect 400 "files without multipart" "${auth[@]}" "${json[@]}" -d '{}' "$url/v1/files"
# a slow client that never finishes its headers is dropped (connection timeout 2 s)
exec 3<>"/dev/tcp/127.0.0.1/$port" || fail "connect"
printf 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n' >&3
if timeout 10 cat <&3 >/dev/null; then :; else fail "slow client was not dropped"; fi
exec 3<&-
[ "$(code "$url/health")" = 200 ] || fail "server stopped serving after the abuse"

# a long job is interrupted by the shutdown once it has a checkpoint ...
for i in $(seq 1 64); do echo "{\"prompt\":\"q$i the quick\",\"completion\":\" brown fox $i\"}"; done \
    > "$dir/long.jsonl"
curl -s "${auth[@]}" -F purpose=fine-tune -F file=@"$dir/long.jsonl" "$url/v1/files" > "$dir/body"
file_id=$(sed -n 's/.*"id":"\(file-[0-9a-f]*\)".*/\1/p' "$dir/body")
[ -n "$file_id" ] || fail "upload for the long job: $(cat "$dir/body")"
[ "$(code "${auth[@]}" "${json[@]}" -d "{\"model\":\"tiny\",\"training_file\":\"$file_id\",
    \"suffix\":\"long\",\"ragtune\":{\"max_steps\":1000000,\"save_every\":2,\"seq_len\":16,
    \"batch_size\":2,\"lora_rank\":2}}" "$url/v1/fine_tuning/jobs")" = 200 ] || fail "long job"
long_job=$(sed -n 's/.*"id":"\(ftjob-[0-9a-f]*\)".*/\1/p' "$dir/body")
for _ in $(seq 1 600); do
    code "${auth[@]}" "$url/v1/fine_tuning/jobs/$long_job/checkpoints" >/dev/null
    grep -q '"step_number"' "$dir/body" && break
    sleep 0.1
done
grep -q '"step_number"' "$dir/body" || fail "the long job made no checkpoint"

# graceful shutdown, then a restart keeps the job and its model
kill -TERM "$pid"
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "server did not stop on SIGTERM"
wait "$pid"
[ $? -eq 0 ] || fail "server exit status after SIGTERM"
pid=""
grep -q "stopped" "$dir/server.log" || fail "no shutdown log line"
start_server --parallel 1 --queue 0
[ "$(code "${auth[@]}" "$url/v1/models")" = 200 ] || fail "models after restart"
grep -q '"ft:tiny:t1"' "$dir/body" || fail "the fine-tuned model is gone after a restart"
[ "$(code "${auth[@]}" "$url/v1/fine_tuning/jobs")" = 200 ] || fail "jobs after restart"
grep -q '"status":"succeeded"' "$dir/body" || fail "the job is gone after a restart"
[ "$(code "${auth[@]}" -X POST "${json[@]}" -d '{"model":"ft:tiny:t1","prompt":"the","max_tokens":2}' \
    "$url/v1/completions")" = 200 ] || fail "the ft: model does not serve after a restart"
# ... and resumes from its checkpoint after the restart; then it is cancelled
for _ in $(seq 1 600); do grep -q "resumed from .*$long_job" "$dir/server.log" && break; sleep 0.1; done
grep -q "resumed from .*$long_job" "$dir/server.log" || fail "the long job did not resume"
[ "$(code "${auth[@]}" -X POST "$url/v1/fine_tuning/jobs/$long_job/cancel")" = 200 ] || fail "cancel"
for _ in $(seq 1 600); do
    code "${auth[@]}" "$url/v1/fine_tuning/jobs/$long_job" >/dev/null
    grep -q '"status":"cancelled"' "$dir/body" && break
    sleep 0.1
done
grep -q '"status":"cancelled"' "$dir/body" || fail "the long job was not cancelled"
[ "$(code "${auth[@]}" -X POST "$url/v1/fine_tuning/jobs/$long_job/cancel")" = 409 ] || \
    fail "cancelling a finished job should be 409"
# one slot and no queue: while a long request holds the slot, another gets 429 + Retry-After
got429=0
for _ in 1 2 3 4 5; do
    curl -s -o /dev/null "${auth[@]}" "${json[@]}" -d '{"prompt":"the","max_tokens":900,"n":8,
        "ignore_eos":true}' "$url/v1/completions" &
    long=$!
    for _ in $(seq 1 200); do
        curl -s "$url/health" | grep -q '"slots_processing":1' && break
        sleep 0.01
    done
    curl -s -D "$dir/headers" -o "$dir/body" "${auth[@]}" "${json[@]}" \
        -d '{"prompt":"the","max_tokens":2}' "$url/v1/completions"
    wait "$long"
    if grep -q "^HTTP/1.1 429" "$dir/headers"; then got429=1; break; fi
done
[ $got429 -eq 1 ] || fail "no 429 while the only slot was busy"
grep -qi "^Retry-After: 1" "$dir/headers" || fail "429 without Retry-After"
grep -q '"rate_limit_error"' "$dir/body" || fail "429 body"
grep -q 'POST /v1/chat/completions 200' \
    "$dir/server.log" || fail "access log"
echo ok
