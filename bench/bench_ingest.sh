#!/usr/bin/env bash
# Ingest throughput of the demo corpus end to end: FOLDOC (dict-foldoc) converted to JSONL by
# scripts/build-demo-collection.sh, then `ragtune ingest` into a fresh collection (chunking,
# BM25, SQLite with one transaction per document). Prints MB/s of document text by wall clock
# and by the process's CPU time (user + sys; the fairer number on a shared machine).
# usage: bench/bench_ingest.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/.."
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rt-bench-ingest-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
scripts/build-demo-collection.sh "$tmp/demo" "$build/ragtune" >/dev/null 2>&1
rm -rf "$tmp/demo/collection"
start=$(date +%s.%N)
/usr/bin/env time -f "%U %S" -o "$tmp/cpu" "$build/ragtune" ingest "$tmp/demo/collection" \
  "$tmp/demo/foldoc.jsonl" 2> "$tmp/log"
end=$(date +%s.%N)
mb=$(grep -o '[0-9.]* MB in' "$tmp/log" | cut -d' ' -f1)
read -r user sys < "$tmp/cpu"
awk -v mb="$mb" -v wall="$(echo "$end - $start" | bc)" -v cpu="$(echo "$user + $sys" | bc)" \
  'BEGIN { printf "bench_ingest: FOLDOC %.2f MB of text: wall %.2f s (%.2f MB/s), cpu %.2f s (%.2f MB/s)\n", mb, wall, mb / wall, cpu, mb / cpu }'
tail -n 1 "$tmp/log"
