#!/usr/bin/env bash
# Runs every benchmark once, each printing ragtune's numbers, the peer's and the ratio.
# usage: bench/run_all.sh [BUILD_DIR]     (the OpenMP environment ragtune gives itself, unless
# set: GOMP_SPINCOUNT=3000, a short spin before an idle thread sleeps, and
# OPENBLAS_THREAD_TIMEOUT=4, OpenBLAS's threads sleep at once; peers run under the same)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
[ -n "${OMP_WAIT_POLICY:-}${GOMP_SPINCOUNT:-}" ] || export GOMP_SPINCOUNT=3000
export OPENBLAS_THREAD_TIMEOUT=${OPENBLAS_THREAD_TIMEOUT:-4}
export RT_PYTHON=${RT_PYTHON:-/usr/bin/python3} RT_SOURCE_DIR=${RT_SOURCE_DIR:-$PWD}
data=${RAGTUNE_BENCH_DIR:-$build/bench-data}
mkdir -p "$data"
[ -f "$data/foldoc/foldoc.jsonl" ] || scripts/build-demo-collection.sh "$data/foldoc" "$build/ragtune" >/dev/null
run() { printf '\n===== %s\n' "$*"; "$@"; }
run "$build/bench_matmul" --reps 5
run bench/bench_inference.sh "$build" --reps 3
run "$build/bench_decode" --dtype f32
run "$build/bench_decode" --dtype q8_0
run "$build/bench_train" --bf16
run "$build/bench_gemm_bf16" --reps 5
run "$build/bench_tokenizer"
run "$build/bench_hnsw" 100000 128 --nq 1000
run "$build/bench_bm25" "$data/foldoc/foldoc.jsonl"
run bench/bench_ingest.sh "$build"
