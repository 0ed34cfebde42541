#!/usr/bin/env bash
# Embedding at ingest against PyTorch: the first N FOLDOC entries (dict-foldoc, converted by
# scripts/build-demo-collection.sh) ingested with `ragtune ingest --embed-model` (the shipped
# embedder by default: llama bi-encoder, q8_0, 64-token context), then the same chunks' token
# ids embedded by
#   ragtune  rt_model_embed_batch (bench_embed): q8_0 as shipped, and the same model converted
#            to f32 (bit-comparable with the peer)
#   PyTorch  bench_embed_torch.py on the f32 weights (`ragtune convert --dtype f32`: the q8_0
#            weights dequantized), length-sorted batches padded with an attention mask,
#            torch.no_grad, torch's default threads (2 on the reference machine)
# all with BATCH texts per call and THREADS threads (ragtune --threads; default: all cores).
# Prints chunks/s, peak RSS, the ratios, and the largest vector difference to PyTorch (target:
# >= 1.5x PyTorch's chunks/s, vectors within 1e-4 for f32).
# usage: bench/bench_embed.sh [BUILD_DIR] [N (6000)] [BATCH (64)] [MODEL (default)] [THREADS]
set -euo pipefail
build=${1:-build}
n=${2:-6000}
batch=${3:-64}
model=${4:-default}
threads=${5:-0}
cd "$(dirname "$0")/.."
[ "$model" = default ] && model=models/embedder/embedder.gguf
py=/usr/bin/python3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rt-bench-embed-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
scripts/build-demo-collection.sh "$tmp/demo" "$build/ragtune" >/dev/null 2>&1
head -n "$n" "$tmp/demo/foldoc.jsonl" > "$tmp/docs.jsonl"
# ragtune ingest end to end (chunking, embedding, SQLite, BM25, HNSW)
start=$(date +%s.%N)
OMP_NUM_THREADS=$([ "$threads" -gt 0 ] && echo "$threads" || nproc) \
  /usr/bin/env time -f "%U %S %M" -o "$tmp/cpu" "$build/ragtune" ingest "$tmp/coll" \
  "$tmp/docs.jsonl" --embed-model "$model" 2> "$tmp/log"
end=$(date +%s.%N)
chunks=$(grep -o '[0-9]* chunks;' "$tmp/log" | cut -d' ' -f1)
read -r user sys rss_kb < "$tmp/cpu"
# the chunk texts, as stored
"$py" - "$tmp/coll/collection.db" "$tmp/texts.bin" <<'PY'
import sqlite3, struct, sys
db = sqlite3.connect(sys.argv[1])
with open(sys.argv[2], "wb") as f:
    for text, s, e in db.execute("SELECT d.text, c.start, c.end FROM chunks c JOIN documents d "
                                 "USING(doc_id) ORDER BY c.chunk_id"):
        b = text.encode()[s:e]
        f.write(struct.pack("<I", len(b)) + b)
PY
"$build/ragtune" convert "$model" "$tmp/hf32" --dtype f32 2>/dev/null
"$build/ragtune" convert "$model" "$tmp/m32.gguf" --dtype f32 2>/dev/null
read -r _ rq rq_rss _ tokens < <("$build/bench_embed" "$model" "$tmp/texts.bin" "$batch" \
  "$tmp/ids.bin" "$tmp/vq.f32" "$threads")
read -r _ rf rf_rss _ _ < <("$build/bench_embed" "$tmp/m32.gguf" "$tmp/texts.bin" "$batch" \
  "$tmp/ids32.bin" "$tmp/vf.f32" "$threads")
tt=$([ "$threads" -gt 0 ] && echo "--threads $threads" || true)
# shellcheck disable=SC2086
"$py" bench/bench_embed_torch.py "$tmp/hf32" "$tmp/ids.bin" "$batch" $tt \
  --ref q8_0="$tmp/vq.f32" --ref f32="$tmp/vf.f32" > "$tmp/torch"
read -r _ pt pt_rss _ < <(grep '^torch_embed' "$tmp/torch")
dq=$(awk '$2 == "q8_0" { print $3 }' "$tmp/torch")
df=$(awk '$2 == "f32" { print $3 }' "$tmp/torch")
wall=$(echo "$end - $start" | bc)
awk -v n="$n" -v ch="$chunks" -v tok="$tokens" -v b="$batch" -v wall="$wall" -v cpu="$(echo "$user + $sys" | bc)" \
    -v sys="$sys" -v irss="$rss_kb" -v rq="$rq" -v rqr="$rq_rss" -v rf="$rf" -v rfr="$rf_rss" \
    -v pt="$pt" -v ptr="$pt_rss" -v dq="$dq" -v df="$df" 'BEGIN {
  printf "bench_embed: %d FOLDOC entries, %d chunks (%d tokens after truncation), batch %d\n", n, ch, tok, b
  printf "%-40s %10s %10s %12s %10s\n", "", "chunks/s", "vs torch", "peak RSS MB", "max|d|"
  printf "%-40s %10.1f %9.2fx %12.1f %10s\n", "ragtune ingest end to end (q8_0)", ch / wall, ch / wall / pt, irss / 1024, "-"
  printf "%-40s %10.1f %9.2fx %12.1f %10s\n", "ragtune embed batch (q8_0)", rq, rq / pt, rqr, dq
  printf "%-40s %10.1f %9.2fx %12.1f %10s\n", "ragtune embed batch (f32)", rf, rf / pt, rfr, df
  printf "%-40s %10.1f %9.2fx %12.1f %10s\n", "PyTorch (f32, dequantized q8_0)", pt, 1.0, ptr, "0"
  printf "ingest: wall %.2f s, cpu %.2f s (system %.2f s)\n", wall, cpu, sys
}'
