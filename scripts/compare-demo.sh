#!/usr/bin/env bash
# compare-demo.sh — the head-to-head on the demo data in one command: the FOLDOC collection
# (built by scripts/build-demo-collection.sh when missing), a QA set generated from it with
# train/test/update splits and unanswerable questions, then `ragtune compare` of every
# strategy with the given reader model. Reports go to OUT_DIR/report.{json,md,html}.
#
# usage: scripts/compare-demo.sh [OUT_DIR] [MODEL] [-- extra compare options]
#   OUT_DIR defaults to demo/compare, MODEL to models/reader (the default reader).
#   MAX_DOCS (default 400) documents give questions; MAX_QUESTIONS (default 100) test
#   questions are asked; STEPS (default 200) optimizer steps per training run.
set -euo pipefail
out=${1:-demo/compare}
model=${2:-models/reader}
shift $(( $# > 2 ? 2 : $# ))
[ "${1:-}" = "--" ] && shift
bin=${RAGTUNE:-build/ragtune}
coll=${DEMO_COLLECTION:-demo/foldoc/collection}
[ -x "$bin" ] || { echo "compare-demo: $bin not built (make build)" >&2; exit 1; }
[ -e "$model" ] || { echo "compare-demo: model $model not found" >&2; exit 1; }
[ -d "$coll" ] || scripts/build-demo-collection.sh "$(dirname "$coll")" "$bin"
mkdir -p "$out"
"$bin" qa generate "$coll" -o "$out/qa.jsonl" --update-docs "$out/update.jsonl" \
    --max-docs "${MAX_DOCS:-400}" --seed 1
"$bin" compare --collection "$coll" --qa "$out/qa.jsonl" --model "$model" \
    --strategies base,rag,ft,lora,ft+rag,lora+rag,raft --update-docs "$out/update.jsonl" \
    --out "$out" --max-questions "${MAX_QUESTIONS:-100}" --steps "${STEPS:-200}" "$@"
