#!/usr/bin/env bash
# `ragtune generate --api-base URL --api-model NAME` against a real HTTP server on 127.0.0.1
# (tests/python/fake_openai.py): streamed text, --chat/--system, --stop, a raw prompt, the
# timing lines, usage errors (exit 2) and a refused key / unreachable host / malformed reply
# (exit 1 with the cause).
set -u
fail() { echo "FAIL: $*"; exit 1; }
dir="$(mktemp -d)"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy RAGTUNE_API_KEY OPENAI_API_KEY
"$RT_PYTHON" "$RT_SOURCE_DIR/tests/python/fake_openai.py" --lifetime 120 >"$dir/port" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.1; done
port="$(head -1 "$dir/port")"
[ -n "$port" ] || fail "the fake server did not start"
base="http://127.0.0.1:$port/v1"

out="$("$RAGTUNE" generate --api-base "$base" --api-model sse --prompt "hi" --chat --system "Be brief." 2>"$dir/err")" || fail "chat run: $(cat "$dir/err")"
[ "$out" = "You said: hi. The answer is 42. END tail" ] || fail "chat text: '$out'"
grep -q "prompt: 17 tokens (12 evaluated)" "$dir/err" || fail "usage tokens: $(cat "$dir/err")"
grep -q "stop: eos" "$dir/err" || fail "stop reason"

out="$("$RAGTUNE" generate --api-base "$base" --api-model sse --prompt "raw" --stop END 2>"$dir/err")" || fail "stop run"
[ "$out" = "You said: raw. The answer is 42. " ] || fail "stop string: '$out'"
grep -q "stop: stop string" "$dir/err" || fail "stop string reason"

out="$("$RAGTUNE" generate --api-base "$base" --api-model sse --prompt-ids "4,5" 2>/dev/null)" || fail "ids run"
[ "$out" = "You said: 4,5. The answer is 42. END tail" ] || fail "ids prompt: '$out'"

"$RAGTUNE" generate --api-base "$base" --prompt x >/dev/null 2>&1; [ $? -eq 2 ] || fail "--api-base without --api-model should exit 2"
"$RAGTUNE" generate --api-base "$base" --api-model sse --model m --prompt x >/dev/null 2>&1; [ $? -eq 2 ] || fail "--model with --api-base should exit 2"
"$RAGTUNE" generate --api-base "$base" --api-model sse --prompt x --print-ids >/dev/null 2>&1; [ $? -eq 2 ] || fail "--print-ids remote should exit 2"

"$RAGTUNE" generate --api-base "$base" --api-model auth --prompt x >/dev/null 2>"$dir/err"; [ $? -eq 1 ] || fail "401 should exit 1"
grep -q "refused the API key" "$dir/err" || fail "401 message: $(cat "$dir/err")"
RAGTUNE_API_KEY=sekrit "$RAGTUNE" generate --api-base "$base" --api-model auth --prompt x >/dev/null 2>&1 || fail "key from RAGTUNE_API_KEY"

"$RAGTUNE" generate --api-base "$base" --api-model badjson --prompt x >/dev/null 2>"$dir/err"; [ $? -eq 1 ] || fail "malformed reply should exit 1"
grep -q "malformed JSON" "$dir/err" || fail "malformed message: $(cat "$dir/err")"

"$RAGTUNE" generate --api-base "http://127.0.0.1:1/v1" --api-model sse --prompt x >/dev/null 2>"$dir/err"; [ $? -eq 1 ] || fail "unreachable should exit 1"
grep -q "cannot reach the server" "$dir/err" || fail "unreachable message: $(cat "$dir/err")"
echo ok
