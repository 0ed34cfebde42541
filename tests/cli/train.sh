#!/usr/bin/env bash
# train.sh — end to end: `ragtune train` from scratch (tiny llama, byte-level tokens),
# `ragtune finetune --lora` on the result with a q8_0 base, resume, `ragtune merge`, and usage
# errors (exit 2).
set -euo pipefail
: "${RAGTUNE:?}"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for i in $(seq 1 300); do echo "line $i: the quick brown fox jumps over the lazy dog"; done > "$dir/corpus.txt"
for i in $(seq 1 40); do echo "{\"prompt\":\"Q$i?\",\"completion\":\" A$i.\"}"; done > "$dir/qa.jsonl"

tiny=(--layers 2 --embd 32 --heads 4 --kv-heads 2 --ff 64 --seq-len 32 --batch 4 --threads 2)
"$RAGTUNE" train --data "$dir/corpus.txt" --out "$dir/base" "${tiny[@]}" --steps 4 --lr 3e-3 \
    --eval-every 2 --eval-batches 2 > "$dir/out.txt"
grep -q "final validation loss" "$dir/out.txt"
test -f "$dir/base/model/config.json"
test -f "$dir/base/model/model.safetensors"
test -f "$dir/base/checkpoint.bin"
test "$(wc -l < "$dir/base/train_log.jsonl")" -eq 4
grep -q '"val_loss"' "$dir/base/train_log.jsonl"

"$RAGTUNE" finetune --model "$dir/base/model" --lora --rank 4 --alpha 8 --targets q,v \
    --base-dtype q8_0 --data "$dir/qa.jsonl" --out "$dir/ft" --seq-len 32 --batch 4 --steps 3 \
    --threads 2 > /dev/null
test -f "$dir/ft/adapter/adapter_config.json"
test -f "$dir/ft/adapter/adapter_model.safetensors"
grep -q '"r": 4' "$dir/ft/adapter/adapter_config.json"

"$RAGTUNE" merge --model "$dir/base/model" --adapter "$dir/ft/adapter" --out "$dir/merged" > /dev/null
test -f "$dir/merged/model.safetensors"
"$RAGTUNE" merge --model "$dir/base/model" --adapter "$dir/ft/adapter" --out "$dir/merged.gguf" > /dev/null
test -s "$dir/merged.gguf"
# the merged model loads again and fine-tunes (a gpt2 from scratch goes through HF Conv1D names)
"$RAGTUNE" finetune --model "$dir/merged.gguf" --data "$dir/qa.jsonl" --out "$dir/ft2" --seq-len 32 \
    --batch 4 --steps 1 --threads 2 > /dev/null
test -f "$dir/ft2/model/model.safetensors"
"$RAGTUNE" train --arch gpt2 --data "$dir/corpus.txt" --out "$dir/g" "${tiny[@]}" --steps 2 > /dev/null
"$RAGTUNE" finetune --model "$dir/g/model" --lora --rank 2 --rslora --data "$dir/qa.jsonl" \
    --out "$dir/g2" --seq-len 32 --batch 4 --steps 1 --threads 2 > /dev/null
test -f "$dir/g2/adapter/adapter_model.safetensors"
# gpt2 adapters use PEFT's Conv1D module names and merge into the base
grep -q '"c_attn"' "$dir/g2/adapter/adapter_config.json"
grep -q '"fan_in_fan_out": true' "$dir/g2/adapter/adapter_config.json"
grep -q '"use_rslora": true' "$dir/g2/adapter/adapter_config.json"
test -s "$dir/g2/adapter/adapter.gguf"
"$RAGTUNE" merge --model "$dir/g/model" --adapter "$dir/g2/adapter" --out "$dir/g_merged" > /dev/null
test -f "$dir/g_merged/model.safetensors"

# continuing from a checkpoint past its last step only re-saves
"$RAGTUNE" train --data "$dir/corpus.txt" --out "$dir/base" "${tiny[@]}" --steps 4 --resume > /dev/null

set +e
"$RAGTUNE" train --help > /dev/null; test $? -eq 0 || exit 1
"$RAGTUNE" train --data x > /dev/null 2>&1; test $? -eq 2 || exit 1
"$RAGTUNE" train --data x --out y --bogus > /dev/null 2>&1; test $? -eq 2 || exit 1
"$RAGTUNE" finetune --data x --out y > /dev/null 2>&1; test $? -eq 2 || exit 1
"$RAGTUNE" train --data "$dir/missing.txt" --out "$dir/z" "${tiny[@]}" > /dev/null 2>&1
test $? -eq 1 || exit 1
"$RAGTUNE" merge --model "$dir/base/model" > /dev/null 2>&1; test $? -eq 2 || exit 1
"$RAGTUNE" merge --model "$dir/base/model" --adapter "$dir/nope" --out "$dir/m2" > /dev/null 2>&1
test $? -eq 1 || exit 1
echo ok
