#!/usr/bin/env bash
# Evaluates a reader model on held-out FOLDOC entries (never in its training data; see
# scripts/reader-corpus.py): token F1, exact match, citation accuracy and abstain rates with the
# gold passage among 4, with BM25 top-4 retrieval from a FOLDOC collection, closed-book, and on
# unanswerable questions. Prompts come from `ragtune raft-data` (the shared reader prompt), answers
# from `ragtune generate` (greedy). Prints a table, then one JSON line; OUT_DIR/eval.json keeps
# the record and OUT_DIR/outputs.json every answer.
#
# usage: scripts/eval-reader.sh [MODEL] [BUILD_DIR] [OUT_DIR]
#   MODEL defaults to models/reader/reader-q8_0.gguf, BUILD_DIR to build, OUT_DIR to
#   eval/reader (not committed). RAGTUNE_EVAL_N questions (default 150);
#   RAGTUNE_READER_CORPUS reuses a corpus directory written by reader-corpus.py,
#   RAGTUNE_EVAL_COLLECTION a FOLDOC collection from build-demo-collection.sh;
#   RAGTUNE_EVAL_CONDITIONS picks some of gold,bm25,closed_book,unanswerable.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-models/reader/reader-q8_0.gguf}
BUILD=${2:-build}
OUT=${3:-eval/reader}
RT=${RAGTUNE:-$BUILD/ragtune}
[ -x "$RT" ] || { echo "eval-reader: $RT not built (make build)" >&2; exit 1; }
[ -e "$MODEL" ] || { echo "eval-reader: $MODEL not found (scripts/train-reader.sh rebuilds it)" >&2; exit 1; }
args=(--ragtune "$RT" --model "$MODEL" --out "$OUT" --n "${RAGTUNE_EVAL_N:-150}")
[ -n "${RAGTUNE_READER_CORPUS:-}" ] && args+=(--corpus "$RAGTUNE_READER_CORPUS")
[ -n "${RAGTUNE_EVAL_COLLECTION:-}" ] && args+=(--collection "$RAGTUNE_EVAL_COLLECTION")
[ -n "${RAGTUNE_EVAL_CONDITIONS:-}" ] && args+=(--conditions "$RAGTUNE_EVAL_CONDITIONS")
exec "${RT_PYTHON:-python3}" scripts/eval-reader.py "${args[@]}"
