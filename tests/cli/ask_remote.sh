#!/usr/bin/env bash
# `ragtune ask --api-base URL --api-model NAME` against a real HTTP server on 127.0.0.1
# (tests/python/fake_openai.py, which echoes the last message): the request carries the reader
# instructions as the system message and the numbered sources; the echoed sources' markers come
# back as citations mapped to their documents; a refused key and an unreachable host exit 1
# with nothing on stdout.
set -u
fail() { echo "FAIL: $*"; exit 1; }
: "${RAGTUNE:?}" "${RT_PYTHON:?}"
dir="$(mktemp -d)"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy RAGTUNE_API_KEY OPENAI_API_KEY
"$RT_PYTHON" "$RT_SOURCE_DIR/tests/python/fake_openai.py" --lifetime 120 --log "$dir/log.jsonl" >"$dir/port" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.1; done
port="$(head -1 "$dir/port")"
[ -n "$port" ] || fail "the fake server did not start"
base="http://127.0.0.1:$port/v1"
printf '# Memory\n\nPaging splits memory into fixed-size pages.\n' > "$dir/b.md"
printf '# Disks\n\nA disk stores blocks.\n' > "$dir/c.md"
"$RAGTUNE" ingest "$dir/coll" "$dir/b.md" "$dir/c.md" >/dev/null 2>&1 || fail "ingest"

out="$("$RAGTUNE" ask "$dir/coll" "How does paging work?" --api-base "$base" --api-model sse \
    --min-score 0 --json 2>"$dir/err")" || fail "remote ask: $(cat "$dir/err")"
"$RT_PYTHON" - "$out" "$dir/log.jsonl" <<'PY' || fail "remote record: $out"
import json, sys
r = json.loads(sys.argv[1])
assert r["prompt_style"] == "chat" and not r["abstained"]
assert r["answer"].startswith("You said: Sources:") and "The answer is 42." in r["answer"]
assert r["sources"][0]["doc_id"].endswith("b.md") and r["sources"][0]["title"] == "Memory"
# the echoed "[1] Memory ..." is a citation of source 1 with its quote
c = [x for x in r["citations"] if x["marker"] == 1]
assert c and c[0]["doc_id"].endswith("b.md"), r["citations"]
assert c[0]["quote"] == "Paging splits memory into fixed-size pages."
req = [json.loads(l) for l in open(sys.argv[2])][-1]
msgs = req["body"]["messages"]
assert msgs[0]["role"] == "system" and "cite the source" in msgs[0]["content"]
assert msgs[1]["role"] == "user" and "[1] Memory\nPaging splits" in msgs[1]["content"]
assert msgs[1]["content"].endswith("Question: How does paging work?")
PY

"$RAGTUNE" ask "$dir/coll" "How does paging work?" --api-base "$base" --api-model auth \
    --min-score 0 >"$dir/o" 2>"$dir/err"
[ $? -eq 1 ] || fail "refused key should exit 1"
[ ! -s "$dir/o" ] || fail "refused key wrote to stdout"
grep -q "refused the API key" "$dir/err" || fail "401 message: $(cat "$dir/err")"
"$RAGTUNE" ask "$dir/coll" "How does paging work?" --api-base "http://127.0.0.1:1/v1" \
    --api-model sse --min-score 0 --json >"$dir/o" 2>"$dir/err"
[ $? -eq 1 ] || fail "unreachable should exit 1"
[ ! -s "$dir/o" ] || fail "unreachable wrote to stdout"
"$RAGTUNE" ask "$dir/coll" "Q?" --api-base "$base" >/dev/null 2>&1
[ $? -eq 2 ] || fail "--api-base without --api-model should exit 2"
echo ok
