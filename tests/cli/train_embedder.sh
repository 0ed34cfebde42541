#!/usr/bin/env bash
# train_embedder.sh — end to end: `ragtune train-embedder` on a few pairs (a tiny llama and a
# BPE tokenizer trained here), deterministic for a seed, the result used by `embed` and by
# `ingest`/`search --embed-model`; malformed pair files named by line (exit 1), usage errors
# (exit 2); `--embed-model default` from $RAGTUNE_MODELS, and a corrupt or missing default
# model named with its recipe; the recipe and the evaluation script at toy size.
set -euo pipefail
: "${RAGTUNE:?}" "${RT_SOURCE_DIR:?}"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

words=(compiler kernel socket buffer pointer thread mutex cache register stack queue router)
for i in $(seq 0 47); do
    w=${words[$((i % 12))]}
    printf '{"query":"What is %s %d?","positive":"%s %d\\n\\nA %s numbered %d in the tiny test glossary."}\n' \
        "$w" "$i" "$w" "$i" "$w" "$i"
done > "$dir/pairs.jsonl"
echo '{"anchor":"What is a queue?","positive":"queue\n\nA first-in first-out list."}' >> "$dir/pairs.jsonl"
sed 's/\\n/ /g' "$dir/pairs.jsonl" > "$dir/corpus.txt"
"$RAGTUNE" tokenizer train --vocab-size 320 "$dir/corpus.txt" -o "$dir/tok.json" 2> /dev/null

tiny=(--tokenizer "$dir/tok.json" --layers 1 --embd 32 --heads 2 --ff 64 --seq-len 24 --batch 8
      --steps 4 --eval-every 2 --val-fraction 0.2 --threads 2 --seed 7)
"$RAGTUNE" train-embedder --data "$dir/pairs.jsonl" --out "$dir/a" "${tiny[@]}" 2> "$dir/err.txt"
test -f "$dir/a/model/config.json"
test -f "$dir/a/model/model.safetensors"
test -f "$dir/a/model/tokenizer.json"
test ! -e "$dir/a/model.tmp"
test "$(wc -l < "$dir/a/train_log.jsonl")" -eq 4
grep -q '"val_loss"' "$dir/a/train_log.jsonl"
# the same seed and threads give the same model, bit for bit
"$RAGTUNE" train-embedder --data "$dir/pairs.jsonl" --out "$dir/b" "${tiny[@]}" 2> /dev/null
cmp "$dir/a/model/model.safetensors" "$dir/b/model/model.safetensors"
# training again into the same directory replaces the model
"$RAGTUNE" train-embedder --data "$dir/pairs.jsonl" --out "$dir/b" "${tiny[@]}" --one-way 2> /dev/null
test -f "$dir/b/model/model.safetensors" && test ! -e "$dir/b/model.old"

# the result is an embedder: unit vectors of n_embd, usable by a collection
"$RAGTUNE" embed --model "$dir/a/model" --text "What is a mutex?" > "$dir/vec.json"
python3 -c "import json,sys; v=json.load(open(sys.argv[1]))['embedding']; assert len(v)==32; assert abs(sum(x*x for x in v)-1)<1e-4" "$dir/vec.json" 2> /dev/null \
    || grep -q '"embedding":\[' "$dir/vec.json"
head -20 "$dir/pairs.jsonl" | sed 's/.*"positive":\("[^"]*"\).*/{"text":\1}/' > "$dir/docs.jsonl"
"$RAGTUNE" ingest "$dir/coll" "$dir/docs.jsonl" --embed-model "$dir/a/model" > /dev/null 2>&1
"$RAGTUNE" search "$dir/coll" "What is a mutex?" --mode dense --embed-model "$dir/a/model" -k 3 --json > "$dir/hits.json"
test "$(wc -l < "$dir/hits.json")" -eq 3

# malformed pair files: exit 1, the file and line named
expect_fail() { # expected-code pattern command...
    local code=$1 pat=$2 rc=0
    shift 2
    "$@" > /dev/null 2> "$dir/err.txt" || rc=$?
    if [ "$rc" -ne "$code" ] || ! grep -q -- "$pat" "$dir/err.txt"; then
        echo "expected exit $code and /$pat/ from: $*" >&2; cat "$dir/err.txt" >&2; exit 1
    fi
}
{ head -2 "$dir/pairs.jsonl"; echo '{"query": "x", "positive": '; } > "$dir/bad1.jsonl"
expect_fail 1 "bad1.jsonl:3: not JSON" "$RAGTUNE" train-embedder --data "$dir/bad1.jsonl" --out "$dir/c" "${tiny[@]}"
{ head -3 "$dir/pairs.jsonl"; echo '{"query": "x", "answer": "y"}'; } > "$dir/bad2.jsonl"
expect_fail 1 "bad2.jsonl:4: expected" "$RAGTUNE" train-embedder --data "$dir/bad2.jsonl" --out "$dir/c" "${tiny[@]}"
echo '{"query": "only one", "positive": "pair"}' > "$dir/one.jsonl"
expect_fail 1 "in-batch negatives" "$RAGTUNE" train-embedder --data "$dir/one.jsonl" --out "$dir/c" --val-fraction 0 "${tiny[@]:0:2}"
expect_fail 1 "missing.jsonl" "$RAGTUNE" train-embedder --data "$dir/missing.jsonl" --out "$dir/c" "${tiny[@]}"
# usage errors: exit 2
expect_fail 2 "required" "$RAGTUNE" train-embedder --out "$dir/c"
expect_fail 2 "tokenizer" "$RAGTUNE" train-embedder --data "$dir/pairs.jsonl" --out "$dir/c"
expect_fail 2 "temp" "$RAGTUNE" train-embedder --data "$dir/pairs.jsonl" --out "$dir/c" --tokenizer "$dir/tok.json" --temp 0
expect_fail 2 "batch" "$RAGTUNE" train-embedder --data "$dir/pairs.jsonl" --out "$dir/c" --tokenizer "$dir/tok.json" --batch 1

# --embed-model default: the shipped model, found through RAGTUNE_MODELS
mkdir -p "$dir/models/embedder"
"$RAGTUNE" convert "$dir/a/model" "$dir/models/embedder/embedder.gguf" --dtype q8_0 > /dev/null 2>&1
RAGTUNE_MODELS="$dir/models" "$RAGTUNE" ingest "$dir/coll2" "$dir/docs.jsonl" --embed-model default > /dev/null 2>&1
RAGTUNE_MODELS="$dir/models" "$RAGTUNE" search "$dir/coll2" "What is a mutex?" --mode hybrid --embed-model default -k 2 --json > "$dir/hits2.json"
test "$(wc -l < "$dir/hits2.json")" -eq 2
RAGTUNE_MODELS="$dir/models" "$RAGTUNE" stats "$dir/coll2" | grep -q default
# corrupt: the file and the recipe named, exit 1
head -c 100 "$dir/models/embedder/embedder.gguf" > "$dir/trunc.gguf"
mv "$dir/trunc.gguf" "$dir/models/embedder/embedder.gguf"
RAGTUNE_MODELS="$dir/models" expect_fail 1 "models/embedder/embedder.gguf.*scripts/train-embedder.sh" \
    "$RAGTUNE" ingest "$dir/coll3" "$dir/docs.jsonl" --embed-model default
# missing (and no shipped model beside a copy of the binary): where it looked, and the recipe
mkdir -p "$dir/x/y/bin"
cp "$RAGTUNE" "$dir/x/y/bin/ragtune"
RAGTUNE_MODELS="$dir/nowhere" expect_fail 1 "default embedder not found.*scripts/train-embedder.sh" \
    "$dir/x/y/bin/ragtune" embed --model default --text hi

# the recipe and the evaluation at toy size (seconds)
RAGTUNE_RECIPE_TOY=1 RAGTUNE_WORK="$dir/recipe" RAGTUNE="$RAGTUNE" \
    bash "$RT_SOURCE_DIR/scripts/train-embedder.sh" "$dir/toy" 2> "$dir/recipe.txt"
test -s "$dir/toy/embedder.gguf"
test -s "$dir/toy/train_log.jsonl"
RAGTUNE_RECIPE_TOY=1 RAGTUNE_WORK="$dir/eval" RAGTUNE="$RAGTUNE" \
    bash "$RT_SOURCE_DIR/scripts/eval-embedder.sh" "$dir/toy/embedder.gguf" > "$dir/eval.txt" 2>&1
grep -q '^term  *5 ' "$dir/eval.txt"
grep -q '"metric":"recall@10"' "$dir/eval/results.json"
echo "train_embedder: ok"
