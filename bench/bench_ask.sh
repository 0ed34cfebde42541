#!/usr/bin/env bash
# `ragtune ask` latency on the demo collection (FOLDOC, scripts/build-demo-collection.sh) with
# the shipped reader (or MODEL), split into retrieval, rerank, prefill and decode (from the JSON
# records' timings), and the prefix cache on vs off: the same N questions asked in one process
# (`ask --file`: the reader prompt's fixed instructions stay in the KV cache between questions)
# and each in a fresh process (nothing cached). Prints one table and the prefill-time ratio.
# Questions: "What is TERM?" for N FOLDOC headwords (every 997th entry, deterministic).
# usage: bench/bench_ask.sh [BUILD_DIR] [MODEL] [N]   (MODEL default: the shipped reader)
set -euo pipefail
build=${1:-build}
model=${2:-default}
n=${3:-20}
cd "$(dirname "$0")/.."
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rt-bench-ask-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
scripts/build-demo-collection.sh "$tmp/demo" "$build/ragtune" >/dev/null 2>&1
python3 - "$tmp/demo/foldoc.jsonl" "$n" > "$tmp/q.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
picked = [r for i, r in enumerate(rows) if i % 997 == 0][: int(sys.argv[2])]
for i, r in enumerate(picked):
    term = r["id"][len("foldoc:"):]
    print(json.dumps({"id": str(i), "question": f"What is {term}?"}))
PY
opts=(--model "$model" --min-score 0 --max-tokens 32)
"$build/ragtune" ask "$tmp/demo/collection" --file "$tmp/q.jsonl" "${opts[@]}" > "$tmp/warm.jsonl"
while read -r line; do
    printf '%s\n' "$line" > "$tmp/one.jsonl"
    "$build/ragtune" ask "$tmp/demo/collection" --file "$tmp/one.jsonl" "${opts[@]}" >> "$tmp/cold.jsonl"
done < "$tmp/q.jsonl"
python3 - "$tmp/warm.jsonl" "$tmp/cold.jsonl" "$model" <<'PY'
import json, statistics as st, sys
warm = [json.loads(l) for l in open(sys.argv[1])]
cold = [json.loads(l) for l in open(sys.argv[2])]
def col(rs, k, sub="timings"):
    v = [r[sub][k] for r in rs if r[sub].get(k) is not None]
    return st.mean(v) if v else float("nan")
print(f"bench_ask: {len(warm)} questions, FOLDOC demo collection, model {sys.argv[3]}")
print(f"{'':24}{'cache on':>12}{'cache off':>12}")
for k in ["retrieval_ms", "rerank_ms", "prefill_ms", "ttft_ms", "decode_ms", "total_ms",
          "prefill_tok_s", "decode_tok_s"]:
    print(f"{k:24}{col(warm, k):12.2f}{col(cold, k):12.2f}")
for k in ["prompt", "prompt_cached", "generated"]:
    print(f"{'tokens.' + k:24}{col(warm, k, 'tokens'):12.1f}{col(cold, k, 'tokens'):12.1f}")
print(f"prefill time ratio (cache off / on): {col(cold, 'prefill_ms') / col(warm, 'prefill_ms'):.2f}")
PY
