#!/usr/bin/env bash
# bench_ab.sh — two builds of ragtune (before and after a change) on the same inputs, run
# alternately ROUNDS times so that a noisy machine affects both alike; prints the median of each
# measure per build and the ratio B/A (above 1: B is faster). The measures cover the paths a
# refactor touches most: model load + prefill + decode (`generate` on the shipped reader, its
# own tok/s report), BM25 ingest of the demo's FOLDOC entries, LoRA fine-tuning steps, and a
# compare run's answering.
#
# usage: bench/bench_ab.sh BUILD_A BUILD_B [ROUNDS]     (ROUNDS default 5)
#   needs demo/foldoc/foldoc.jsonl (scripts/build-demo-collection.sh) and models/reader.
set -euo pipefail
cd "$(dirname "$0")/.."
A=${1:?usage: bench_ab.sh BUILD_A BUILD_B [ROUNDS]}
B=${2:?usage: bench_ab.sh BUILD_A BUILD_B [ROUNDS]}
ROUNDS=${3:-5}
DOCS=demo/foldoc/foldoc.jsonl
MODEL=models/reader/reader-q8_0.gguf
[ -s "$DOCS" ] || { echo "bench_ab: $DOCS missing (scripts/build-demo-collection.sh)" >&2; exit 1; }
for b in "$A" "$B"; do
    [ -x "$b/ragtune" ] || { echo "bench_ab: $b/ragtune not built" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
head -n 3000 "$DOCS" > "$work/docs.jsonl"
python3 - "$work/train.jsonl" "$DOCS" <<'EOF'
import json, sys
with open(sys.argv[1], "w") as out:
    for i, line in enumerate(open(sys.argv[2])):
        if i >= 400:
            break
        d = json.loads(line)
        out.write(json.dumps({"text": d["text"][:600]}) + "\n")
EOF
PROMPT="Answer the question using only the numbered sources below.

[1] compiler
A program that converts another program from some source language to machine language.

Question: What is a compiler?
Answer:"

now() { date +%s.%N; }
# one round of every measure for build $1, appended as "measure value" lines to $2
round() {
    local bin=$1/ragtune out=$2 t0 t1 log
    log=$("$bin" generate --model "$MODEL" --prompt "$PROMPT" -n 128 --ignore-eos --threads 2 \
        2>&1 >/dev/null || true)
    echo "$log" | sed -n 's/^prompt:.*, \([0-9.]*\) tok\/s.*/prefill_tok_s \1/p' | head -1 >> "$out"
    echo "$log" | sed -n 's/^generated:.*, \([0-9.]*\) tok\/s.*/decode_tok_s \1/p' | head -1 >> "$out"
    rm -rf "$work/c"
    t0=$(now)
    "$bin" ingest "$work/c" "$work/docs.jsonl" >/dev/null 2>&1
    t1=$(now)
    echo "ingest_docs_s $(echo "3000 / ($t1 - $t0)" | bc -l)" >> "$out"
    rm -rf "$work/ft"
    t0=$(now)
    "$bin" finetune --model "$MODEL" --lora --data "$work/train.jsonl" --out "$work/ft" \
        --steps 20 --batch 4 --seq-len 128 --threads 2 --seed 1 >/dev/null 2>&1
    t1=$(now)
    echo "finetune_steps_s $(echo "20 / ($t1 - $t0)" | bc -l)" >> "$out"
}
for r in $(seq 1 "$ROUNDS"); do
    echo "bench_ab: round $r/$ROUNDS" >&2
    round "$A" "$work/a.txt"
    round "$B" "$work/b.txt"
done
python3 - "$work/a.txt" "$work/b.txt" "$A" "$B" "$ROUNDS" <<'EOF'
import statistics, sys
def load(p):
    d = {}
    for line in open(p):
        k, v = line.split()
        d.setdefault(k, []).append(float(v))
    return d
a, b = load(sys.argv[1]), load(sys.argv[2])
print("medians of %s rounds, run alternately; higher is faster" % sys.argv[5])
print("%-18s %12s %12s %8s" % ("measure", "A", "B", "B/A"))
for k in a:
    ma, mb = statistics.median(a[k]), statistics.median(b.get(k, [float("nan")]))
    print("%-18s %12.2f %12.2f %7.3fx" % (k, ma, mb, mb / ma if ma else float("nan")))
print("A = %s, B = %s" % (sys.argv[3], sys.argv[4]))
EOF
