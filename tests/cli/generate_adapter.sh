#!/usr/bin/env bash
# `ragtune generate --adapter PATH[:SCALE]` (repeatable) on a small random llama with PEFT
# adapters (tests/reference/runtime_adapter_ref.py):
# scale 0 generates what the base does, scale 1 what the merged model does, a second adapter
# counts, and an adapter for another base or a bad spec is refused (exit 1 / 2).
set -u
fail() { echo "FAIL: $*"; exit 1; }
ref="$RT_SOURCE_DIR/tests/reference/runtime_adapter_ref.py"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rt-generate-adapter-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$RT_PYTHON" "$ref" "$tmp" >/dev/null || fail "reference models"
m="$tmp/llama/base"
gen() { "$RAGTUNE" generate --model "$1" --prompt-ids "5,17,42,8" -n 12 --ignore-eos "${@:2}" 2>/dev/null; }
base=$(gen "$m") || fail "generate"
one=$(gen "$m" --adapter "$tmp/llama/a1") || fail "generate --adapter"
zero=$(gen "$m" --adapter "$tmp/llama/a1:0") || fail "generate --adapter :0"
two=$(gen "$m" --adapter "$tmp/llama/a1" --adapter "$tmp/llama/a2:1.5") || fail "two adapters"
[ "$(wc -w <<<"$one")" -eq 12 ] || fail "12 ids expected: '$one'"
[ "$zero" = "$base" ] || fail "scale 0 differs from the base: '$zero' vs '$base'"
"$RAGTUNE" merge --model "$m" --adapter "$tmp/llama/a1" --out "$tmp/merged" >/dev/null 2>&1 || fail "merge"
merged=$(gen "$tmp/merged") || fail "generate merged"
[ "$one" = "$merged" ] || fail "run-time adapter '$one' vs merged model '$merged'"
[ "$one" != "$base" ] || [ "$two" != "$one" ] || fail "the adapters change nothing"
"$RAGTUNE" generate --model "$m" --prompt-ids 5 --adapter "$tmp/gpt2/a1" >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] || fail "a gpt2 adapter on llama: exit code"
grep -q "q_proj" "$tmp/err" || fail "message: $(cat "$tmp/err")"
"$RAGTUNE" generate --model "$m" --prompt-ids 5 --adapter ":2" >/dev/null 2>&1
[ $? -eq 2 ] || fail "spec without a path: exit code"
"$RAGTUNE" generate --model "$m" --prompt-ids 5 --adapter "" >/dev/null 2>&1
[ $? -eq 2 ] || fail "empty spec: exit code"
echo ok
