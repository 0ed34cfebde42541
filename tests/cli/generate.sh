#!/usr/bin/env bash
# `ragtune generate` and `ragtune embed` on tiny reference models (tests/reference/model_ref.py):
# exit codes, streamed ids, determinism of seeded sampling, stop ids, the JSON embedding.
set -u
fail() { echo "FAIL: $*"; exit 1; }
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
"$RT_PYTHON" "$RT_SOURCE_DIR/tests/reference/model_ref.py" "$dir" --seq 8 >/dev/null || fail "reference models"
m="$dir/llama_gqa"

"$RAGTUNE" generate --help | grep -q "prompt-ids" || fail "help"
"$RAGTUNE" generate --model "$m" >/dev/null 2>&1; [ $? -eq 2 ] || fail "missing --prompt-ids should exit 2"
"$RAGTUNE" generate --model "$m" --prompt-ids "1,x" >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad ids should exit 2"
"$RAGTUNE" generate --model "$dir/none" --prompt-ids "1" >/dev/null 2>&1; [ $? -eq 1 ] || fail "missing model should exit 1"
"$RAGTUNE" generate --model "$m" --prompt-ids "1,99999" >/dev/null 2>&1; [ $? -eq 1 ] || fail "id out of vocab should exit 1"

out="$("$RAGTUNE" generate --model "$m" --prompt-ids "5,6,7" -n 10 --ignore-eos 2>"$dir/err")" || fail "greedy run"
[ "$(wc -w <<<"$out")" -eq 10 ] || fail "expected 10 ids, got '$out'"
grep -q "tok/s" "$dir/err" || fail "timing line"
again="$("$RAGTUNE" generate --model "$m" --prompt-ids "5,6,7" -n 10 --ignore-eos 2>/dev/null)"
[ "$out" = "$again" ] || fail "greedy is not deterministic"

s1="$("$RAGTUNE" generate --model "$m" --prompt-ids "5,6,7" -n 12 --temp 0.9 --top-k 40 --top-p 0.9 --min-p 0.05 --repeat-penalty 1.1 --seed 7 --ignore-eos 2>/dev/null)" || fail "sampling run"
s2="$("$RAGTUNE" generate --model "$m" --prompt-ids "5,6,7" -n 12 --temp 0.9 --top-k 40 --top-p 0.9 --min-p 0.05 --repeat-penalty 1.1 --seed 7 --ignore-eos 2>/dev/null)"
[ "$s1" = "$s2" ] || fail "seeded sampling is not deterministic"

first="$(awk '{print $3}' <<<"$out")"
stopped="$("$RAGTUNE" generate --model "$m" --prompt-ids "5,6,7" -n 10 --ignore-eos --stop-id "$first" 2>/dev/null)"
[ "$(wc -w <<<"$stopped")" -le 2 ] || fail "stop id did not stop: '$stopped'"

q="$("$RAGTUNE" generate --model "$m" --prompt-ids "5,6,7" -n 4 --quantize q8_0 --ignore-eos 2>/dev/null)" || fail "q8_0 run"
[ "$(wc -w <<<"$q")" -eq 4 ] || fail "q8_0 ids"

# text prompts: the llama with a byte-level tokenizer (256 byte ids) and a ChatML template
t="$dir/llama_text"
cp -r "$m" "$t"
"$RT_PYTHON" - "$t" <<'PY' || fail "tokenizer files"
import json, sys
bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
cs, n = bs[:], 0
for b in range(256):
    if b not in bs:
        bs.append(b); cs.append(256 + n); n += 1
vocab = {chr(c): b for b, c in zip(bs, cs)}
tok = {"model": {"type": "BPE", "vocab": vocab, "merges": []},
       "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True},
       "decoder": {"type": "ByteLevel"}}
json.dump(tok, open(sys.argv[1] + "/tokenizer.json", "w"))
tmpl = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
        "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
json.dump({"chat_template": tmpl}, open(sys.argv[1] + "/tokenizer_config.json", "w"))
PY
"$RAGTUNE" generate --model "$t" --prompt "hello" -n 6 --ignore-eos >/dev/null 2>"$dir/err" || fail "text prompt: $(cat "$dir/err")"
grep -q "prompt: 5 tokens" "$dir/err" || fail "5 byte tokens expected: $(cat "$dir/err")"
ids="$("$RAGTUNE" generate --model "$t" --prompt "hello" -n 6 --ignore-eos --print-ids 2>/dev/null)" || fail "text prompt, ids"
[ "$(wc -w <<<"$ids")" -eq 6 ] || fail "expected 6 ids, got '$ids'"
[ "$ids" = "$("$RAGTUNE" generate --model "$t" --prompt-ids "104,101,108,108,111" -n 6 --ignore-eos 2>/dev/null)" ] || fail "text and ids prompts differ"
"$RAGTUNE" generate --model "$t" --prompt "hi" --chat --system "S" -n 2 --ignore-eos >/dev/null 2>"$dir/err" || fail "chat prompt"
chat="$(printf '<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n')"
n_chat=$(( ${#chat} + 1 )) # $(...) dropped the final newline
grep -q "prompt: $n_chat tokens" "$dir/err" || fail "chat template tokens ($n_chat): $(cat "$dir/err")"
"$RAGTUNE" generate --model "$m" --prompt "hello" >/dev/null 2>"$dir/err"; [ $? -eq 1 ] || fail "text without a tokenizer should exit 1"
grep -q "tokenizer" "$dir/err" || fail "missing tokenizer message: $(cat "$dir/err")"
"$RAGTUNE" generate --model "$t" --prompt "hello" --adapter "$dir/none" >/dev/null 2>&1; [ $? -eq 1 ] || fail "a missing adapter should exit 1"

e="$("$RAGTUNE" embed --model "$dir/bert" --ids "1,2,3,4")" || fail "embed"
"$RT_PYTHON" - "$e" <<'PY' || fail "embedding JSON"
import json, math, sys
d = json.loads(sys.argv[1])
v = d["embedding"]
assert d["model"] == "bert" and d["n_tokens"] == 4 and len(v) == 64
assert abs(math.sqrt(sum(x * x for x in v)) - 1) < 1e-4
PY
"$RAGTUNE" embed --model "$dir/bert" >/dev/null 2>&1; [ $? -eq 2 ] || fail "embed without ids should exit 2"
echo ok
