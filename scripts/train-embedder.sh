#!/usr/bin/env bash
# train-embedder.sh — rebuilds the default embedding model (models/embedder/embedder.gguf) from
# scratch, deterministically, from dictionaries Debian ships (WordNet, GCIDE, the Jargon File and
# FOLDOC minus its held-out 10%; see scripts/embedder-data.pl for the pairs and the hold-out rule):
#   1. pairs.jsonl ({"query","positive"}: term questions <-> definitions, synonyms <-> glosses)
#   2. a byte-level BPE tokenizer trained on the passages (`ragtune tokenizer train`)
#   3. `ragtune train-embedder` (llama-shaped bi-encoder, InfoNCE, seeded, 1 thread)
#   4. `ragtune convert` to GGUF q8_0 (tokenizer inside) + the training log, into OUT
# Same package versions, seed and thread count: the same model.
#
# usage: scripts/train-embedder.sh [OUT_DIR]      (default models/embedder)
# environment:
#   RAGTUNE             the ragtune binary (default build/ragtune)
#   RAGTUNE_WORK        scratch directory (default build/embedder-recipe)
#   RAGTUNE_RECIPE_TOY  1: a tiny model on a few hundred pairs in seconds (CI); OUT_DIR then
#                       defaults to $RAGTUNE_WORK/toy-model, never the shipped model
#   RAGTUNE_RECIPE_REUSE=1  keep pairs.jsonl and tokenizer.json already in RAGTUNE_WORK (they
#                       are deterministic: the same as a rebuild)
#   EMBED_STEPS, EMBED_THREADS   override the step count (3000) and threads (1)
# Linux man pages are never used: they are a reserved held-out evaluation domain.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${RAGTUNE:-build/ragtune}
work=${RAGTUNE_WORK:-build/embedder-recipe}
toy=${RAGTUNE_RECIPE_TOY:-0}
if [ "$toy" = 1 ]; then out=${1:-$work/toy-model}; else out=${1:-models/embedder}; fi
[ -x "$bin" ] || { echo "train-embedder.sh: $bin not built (make build, or set RAGTUNE)" >&2; exit 1; }
mkdir -p "$work" "$out"

if [ "$toy" = 1 ]; then
    vocab=384 shape=(--layers 1 --embd 32 --heads 2 --ff 64) steps=${EMBED_STEPS:-6}
    batch=8 seq=32 lr=1e-3 warmup=2 eval=3 valf=0.05
else
    vocab=4096 shape=(--layers 4 --embd 256 --heads 4 --ff 688) steps=${EMBED_STEPS:-3000}
    batch=64 seq=64 lr=5e-4 warmup=50 eval=100 valf=0.005
fi
threads=${EMBED_THREADS:-1}

if [ "${RAGTUNE_RECIPE_REUSE:-0}" = 1 ] && [ -s "$work/pairs.jsonl" ] && [ -s "$work/tokenizer.json" ]; then
    echo "train-embedder.sh: 1-2/4 reusing $work/pairs.jsonl and $work/tokenizer.json" >&2
else
    echo "train-embedder.sh: 1/4 pairs" >&2
    perl "$here/embedder-data.pl" pairs "$work"
    echo "train-embedder.sh: 2/4 tokenizer (BPE, $vocab ids)" >&2
    "$bin" tokenizer train --vocab-size "$vocab" "$work/corpus.txt" -o "$work/tokenizer.json"
fi
echo "train-embedder.sh: 3/4 contrastive training ($steps steps x $batch pairs)" >&2
"$bin" train-embedder --data "$work/pairs.jsonl" --tokenizer "$work/tokenizer.json" \
    --out "$work/run" "${shape[@]}" --seq-len "$seq" --batch "$batch" --steps "$steps" \
    --lr "$lr" --warmup "$warmup" --temp 0.05 --wd 0.01 --eval-every "$eval" \
    --val-fraction "$valf" --seed 42 --threads "$threads"
echo "train-embedder.sh: 4/4 GGUF q8_0 -> $out" >&2
"$bin" convert "$work/run/model" "$out/embedder.gguf" --dtype q8_0  # written atomically
cp "$work/run/train_log.jsonl" "$out/train_log.jsonl"
echo "train-embedder.sh: $(wc -l < "$work/pairs.jsonl") pairs, $(du -k "$out/embedder.gguf" | cut -f1) KB -> $out/embedder.gguf" >&2
