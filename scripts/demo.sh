#!/usr/bin/env bash
# The main job (make demo) on the built-in default data and models, end to end on this machine:
#   1. builds the knowledge collection from FOLDOC (Debian's dict-foldoc);
#   2. asks it questions with the shipped reader (models/reader) and prints the cited answers
#      with their sources and groundedness;
#   3. generates a QA set from the collection (train/test split by document, unanswerable
#      questions, and an "update" split whose documents change);
#   4. compares the strategies head to head on it — closed-book, RAG, LoRA, LoRA + RAG, RAFT —
#      prints the table and the recommendation, and writes demo/report.html (.md, .json).
# Everything goes to $RAGTUNE_DEMO_DIR (default: demo/). RAGTUNE_DEMO_QUESTIONS and
# RAGTUNE_DEMO_STEPS scale the comparison (defaults sized for a few minutes on 2 cores).
# The older training tour (tokenizer, pretraining, quantization, merge) is `make demo-train`.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
RT="$BUILD/ragtune"
OUT=${RAGTUNE_DEMO_DIR:-demo}
QUESTIONS=${RAGTUNE_DEMO_QUESTIONS:-40}
STEPS=${RAGTUNE_DEMO_STEPS:-40}
READER=${RAGTUNE_DEMO_READER:-models/reader/reader-q8_0.gguf}
mkdir -p "$OUT"
say() { printf '\n== %s\n' "$*"; }
[ -r "$READER" ] || { echo "demo: $READER is missing (scripts/train-reader.sh rebuilds it)" >&2; exit 1; }

say "1. Knowledge collection from FOLDOC"
rm -rf "$OUT/foldoc"
scripts/build-demo-collection.sh "$OUT/foldoc" "$RT"
C="$OUT/foldoc/collection"

say "2. Asking the collection with the shipped reader ($READER)"
for q in "What is Lisp?" "What is a compiler?" "What is a kumquat?"; do
  printf '\n-- %s\n' "$q"
  "$RT" ask "$C" "$q" --model "$READER"
done

say "3. A QA set generated from the collection"
"$RT" qa generate "$C" -o "$OUT/qa.jsonl" --max-docs 400 --update-docs "$OUT/update.jsonl" --seed 1

say "4. Head to head: closed-book, RAG, LoRA, LoRA + RAG, RAFT ($QUESTIONS test questions, $STEPS training steps)"
rm -rf "$OUT/compare"
"$RT" compare --collection "$C" --qa "$OUT/qa.jsonl" --model "$READER" \
  --strategies base,rag,lora,lora+rag,raft --update-docs "$OUT/update.jsonl" \
  --max-questions "$QUESTIONS" --steps "$STEPS" --out "$OUT/compare"
cp "$OUT/compare/report.html" "$OUT/report.html"

say "done: the report is $OUT/report.html (also $OUT/compare/report.md and report.json)"
