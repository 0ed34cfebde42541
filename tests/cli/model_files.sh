#!/usr/bin/env bash
# `ragtune info` and `ragtune convert` on a tiny PyTorch-made model: HF -> GGUF (q8_0) -> HF,
# JSON output, and the exit codes of bad input (1) and bad usage (2).
set -u
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$RT_PYTHON" "$RT_SOURCE_DIR/tests/python/tiny_hf.py" gpt2 "$tmp/m" || fail "tiny model"
"$RAGTUNE" info "$tmp/m" > "$tmp/info.txt" || fail "info hf"
grep -q "architecture *gpt2" "$tmp/info.txt" || fail "info shows the architecture"
grep -q "n_params" "$tmp/info.txt" || fail "info shows n_params"
"$RAGTUNE" convert "$tmp/m" "$tmp/m.gguf" --dtype q8_0 2>/dev/null || fail "convert to gguf"
"$RAGTUNE" info "$tmp/m.gguf" --json > "$tmp/info.json" || fail "info gguf --json"
"$RT_PYTHON" - "$tmp/info.json" <<'PY' || fail "info --json content"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["format"] == "gguf" and j["architecture"] == "gpt2", j
assert j["n_layer"] == 2 and j["n_embd"] == 64 and j["loadable"] is True
assert "q8_0" in j["dtypes"] and "f32" in j["dtypes"]
assert j["metadata"]["general.file_type"] == 7
PY
"$RAGTUNE" convert "$tmp/m.gguf" "$tmp/back" --dtype f32 2>/dev/null || fail "convert to hf"
[ -f "$tmp/back/config.json" ] && [ -f "$tmp/back/model.safetensors" ] || fail "hf files"
"$RAGTUNE" info "$tmp/back" >/dev/null || fail "info of the converted directory"
"$RAGTUNE" convert "$tmp/m" "$tmp/x" --dtype q4_0 >/dev/null 2>&1; [ $? -eq 2 ] || fail "q4_0 to hf is a usage error"
"$RAGTUNE" convert "$tmp/m" >/dev/null 2>&1; [ $? -eq 2 ] || fail "missing OUT is a usage error"
"$RAGTUNE" info >/dev/null 2>&1; [ $? -eq 2 ] || fail "info without MODEL"
"$RAGTUNE" info "$tmp/nothing" >/dev/null 2>&1; [ $? -eq 1 ] || fail "missing model exits 1"
printf 'GGUF\003\0\0\0' > "$tmp/bad.gguf"
"$RAGTUNE" info "$tmp/bad.gguf" 2> "$tmp/err.txt"; [ $? -eq 1 ] || fail "corrupt gguf exits 1"
grep -q "bad.gguf" "$tmp/err.txt" || fail "error names the file"
"$RAGTUNE" info --help | grep -q "usage" || fail "help"
echo ok
