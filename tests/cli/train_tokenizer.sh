#!/usr/bin/env bash
# Training with a real tokenizer: a BPE tokenizer learned by `ragtune tokenizer train` is used by
# `ragtune train --tokenizer`, travels into the trained model directory, and is picked up from
# the model by `ragtune finetune` and `ragtune tokenize` without being named again.
set -u
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rt-traintok-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
for i in $(seq 1 300); do
  echo "A compiler translates source code into machine code. Entry $i of the glossary."
  echo "An interpreter executes source code directly, line $i by line."
done > "$tmp/corpus.txt"
"$RAGTUNE" tokenizer train --vocab-size 320 "$tmp/corpus.txt" -o "$tmp/tok.json" 2>/dev/null || fail "tokenizer train"
"$RAGTUNE" train --data "$tmp/corpus.txt" --tokenizer "$tmp/tok.json" --layers 1 --embd 32 --heads 2 --kv-heads 2 \
  --ff 64 --seq-len 32 --batch 4 --steps 3 --out "$tmp/run" >/dev/null 2>"$tmp/err" || fail "train: $(cat "$tmp/err")"
grep -q '"vocab_size": *320' "$tmp/run/model/config.json" || fail "model vocab should be the tokenizer's 320"
[ -f "$tmp/run/model/tokenizer.json" ] || fail "tokenizer.json not copied next to the model"
cmp -s "$tmp/tok.json" "$tmp/run/model/tokenizer.json" || fail "copied tokenizer differs"
"$RAGTUNE" tokenize --model "$tmp/run/model" "A compiler" >/dev/null || fail "tokenize with the model's tokenizer"
# Text prompts: the same greedy continuation from --prompt as from the ids `tokenize` gives.
ids=$("$RAGTUNE" tokenize --model "$tmp/run/model" "A compiler" | cut -f1 | paste -sd,)
[ -n "$ids" ] || fail "no ids from tokenize"
a=$("$RAGTUNE" generate --model "$tmp/run/model" --prompt "A compiler" -n 6 --print-ids 2>/dev/null) || fail "generate --prompt"
b=$("$RAGTUNE" generate --model "$tmp/run/model" --prompt-ids "$ids" -n 6 2>/dev/null) || fail "generate --prompt-ids"
[ -n "$a" ] && [ "$a" = "$b" ] || fail "text and id prompts differ: '$a' vs '$b'"
"$RAGTUNE" generate --model "$tmp/run/model" --prompt "A compiler" -n 6 >/dev/null 2>&1 || fail "generate text"
"$RAGTUNE" generate --model "$tmp/run/model" --prompt "x" --prompt-ids 1 >/dev/null 2>&1; [ $? -eq 2 ] || fail "both prompts should exit 2"
printf '{"prompt":"What is a compiler?","completion":" It translates code."}\n%.0s' $(seq 1 40) > "$tmp/qa.jsonl"
"$RAGTUNE" finetune --model "$tmp/run/model" --lora --rank 2 --data "$tmp/qa.jsonl" --seq-len 32 \
  --batch 2 --steps 2 --out "$tmp/ft" >/dev/null 2>"$tmp/err" || fail "finetune: $(cat "$tmp/err")"
grep -q "tokenizer: $tmp/run/model" "$tmp/err" || fail "finetune did not use the model's tokenizer: $(cat "$tmp/err")"
[ -f "$tmp/ft/adapter/tokenizer.json" ] || fail "adapter lacks the tokenizer"
# Merged models keep the base's tokenizer: in GGUF metadata, and as files in an HF directory.
"$RAGTUNE" merge --model "$tmp/run/model" --adapter "$tmp/ft/adapter" --out "$tmp/merged.gguf" >/dev/null 2>&1 || fail "merge gguf"
"$RAGTUNE" generate --model "$tmp/merged.gguf" --prompt "A compiler" -n 4 >/dev/null 2>&1 || fail "generate from merged gguf"
"$RAGTUNE" merge --model "$tmp/run/model" --adapter "$tmp/ft/adapter" --out "$tmp/merged" >/dev/null 2>&1 || fail "merge hf"
cmp -s "$tmp/tok.json" "$tmp/merged/tokenizer.json" || fail "merged HF directory lacks the tokenizer"
# A wrong tokenizer path is a runtime error, not a silent fallback.
"$RAGTUNE" train --data "$tmp/corpus.txt" --tokenizer "$tmp/none.json" --out "$tmp/x" >/dev/null 2>&1
[ $? -eq 1 ] || fail "missing tokenizer should exit 1"
echo ok
