#!/usr/bin/env bash
# `ragtune embed --adapter PATH[:SCALE]` (repeatable): LoRA adapters applied at run time on a
# small random llama (tests/reference/runtime_adapter_ref.py writes the base and two PEFT
# adapters). The adapter changes the embedding; at scale 0 it is the base's exactly; at scale 1
# it matches the model `ragtune merge` writes (1e-5 per component); two adapters differ from one;
# an adapter for another base and a bad spec are refused with a message and exit 1 / 2.
set -u
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rt-embed-adapter-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$RT_PYTHON" "$RT_SOURCE_DIR/tests/reference/runtime_adapter_ref.py" "$tmp" >/dev/null || fail "reference models"
m="$tmp/llama/base"
ids="5,17,42,8,63,1,90,33"
vec() { "$RAGTUNE" embed --model "$1" --ids "$ids" "${@:2}" | sed 's/.*"embedding"://'; }
base=$(vec "$m") || fail "embed"
one=$(vec "$m" --adapter "$tmp/llama/a1") || fail "embed --adapter"
zero=$(vec "$m" --adapter "$tmp/llama/a1:0") || fail "embed --adapter :0"
two=$(vec "$m" --adapter "$tmp/llama/a1" --adapter "$tmp/llama/a2:1.5") || fail "two adapters"
[ "$one" != "$base" ] || fail "the adapter does not change the embedding"
[ "$zero" = "$base" ] || fail "scale 0 differs from the base"
[ "$two" != "$one" ] || fail "the second adapter changes nothing"
"$RAGTUNE" merge --model "$m" --adapter "$tmp/llama/a1" --out "$tmp/merged" >/dev/null 2>&1 || fail "merge"
merged=$(vec "$tmp/merged") || fail "embed merged"
"$RT_PYTHON" - "$one" "$merged" <<'PY' || fail "run-time adapter vs merged model"
import json, sys
a, b = json.loads(sys.argv[1].rstrip("}")), json.loads(sys.argv[2].rstrip("}"))
d = max(abs(x - y) for x, y in zip(a, b))
print(f"embed --adapter vs merged: max-abs {d:.3g}")
sys.exit(0 if len(a) == len(b) and d <= 1e-5 else 1)
PY
# another base: a gpt2 adapter on the llama
"$RAGTUNE" embed --model "$m" --ids "$ids" --adapter "$tmp/gpt2/a1" 2>"$tmp/err" >/dev/null
[ $? -eq 1 ] || fail "a gpt2 adapter on llama: exit code"
grep -q "does not fit" "$tmp/err" && grep -q "q_proj" "$tmp/err" || fail "message: $(cat "$tmp/err")"
"$RAGTUNE" embed --model "$m" --ids "$ids" --adapter "$tmp/nowhere" 2>"$tmp/err" >/dev/null
[ $? -eq 1 ] || fail "missing adapter: exit code"
"$RAGTUNE" embed --model "$m" --ids "$ids" --adapter "" 2>"$tmp/err" >/dev/null
[ $? -eq 2 ] || fail "empty spec: exit code"
"$RAGTUNE" embed --model "$m" --ids "$ids" --adapter ":2" 2>"$tmp/err" >/dev/null
[ $? -eq 2 ] || fail "spec without a path: exit code"
echo "embed_adapter: ok"
