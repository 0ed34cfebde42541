#!/usr/bin/env bash
# bench_inference.sh — ragtune vs PyTorch inference on the same random Llama weights (~25M and
# ~125M parameters), same threads: prefill and decode tokens/s, peak RSS, and decode bandwidth
# against the machine's measured memory read bandwidth. Prints one table with the ratios.
#
# usage: bench/bench_inference.sh [BUILD_DIR] [--threads N] [--runs N] [--prompt N] [--gen N]
#        [--models DIR]   (where the benchmark weights are written once; default a temp dir)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-build}"
[ $# -gt 0 ] && shift
threads=2 runs=3 prompt=128 gen=64 models=""
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --prompt) prompt="$2"; shift 2 ;;
    --gen) gen="$2"; shift 2 ;;
    --models) models="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
py="${RT_PYTHON:-/usr/bin/python3}"
bench="$build/bench_inference"
[ -x "$bench" ] || { echo "build $bench first (make build)" >&2; exit 2; }
cleanup=""
if [ -z "$models" ]; then
  models="$(mktemp -d)"
  cleanup="$models"
fi
trap '[ -n "$cleanup" ] && rm -rf "$cleanup"' EXIT
"$py" "$here/bench_inference_torch.py" make "$models"

field() { sed -n "s/^RESULT.* $2=\([0-9.]*\).*/\1/p; s/^RESULT $2=\([0-9.]*\).*/\1/p" <<<"$1" | head -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

bw_out="$(OMP_NUM_THREADS=$threads "$bench" --bandwidth --threads "$threads")"
bw="$(field "$bw_out" bandwidth_gbs)"
echo "memory read bandwidth (${threads} threads): ${bw} GB/s"
echo "prompt ${prompt} tokens, ${gen} decoded tokens, ${threads} threads, median of ${runs} runs"
printf "%-11s %-5s | %10s %10s %6s | %10s %10s %6s | %7s %7s | %8s %6s\n" \
  model dtype "prefill rt" "torch" ratio "decode rt" "torch" ratio "RSS rt" torch "dec GB/s" "of bw"
for m in llama_25m llama_125m; do
  t_out="$(OMP_NUM_THREADS=$threads "$py" "$here/bench_inference_torch.py" run "$models/$m" \
           --prompt "$prompt" --gen "$gen" --runs "$runs" --threads "$threads")"
  tp="$(field "$t_out" prefill_tps)"; td="$(field "$t_out" decode_tps)"; tr="$(field "$t_out" rss_mb)"
  for q in f32 q8_0; do
    r_out="$(OMP_NUM_THREADS=$threads "$bench" --model "$models/$m" --quantize "$q" \
             --prompt "$prompt" --gen "$gen" --runs "$runs" --threads "$threads")"
    rp="$(field "$r_out" prefill_tps)"; rd="$(field "$r_out" decode_tps)"
    rr="$(field "$r_out" rss_mb)"; rg="$(field "$r_out" decode_gbs)"
    printf "%-11s %-5s | %10.1f %10.1f %6s | %10.1f %10.1f %6s | %7.0f %7.0f | %8.2f %5.0f%%\n" \
      "$m" "$q" "$rp" "$tp" "$(ratio "$rp" "$tp")" "$rd" "$td" "$(ratio "$rd" "$td")" \
      "$rr" "$tr" "$rg" "$(awk -v a="$rg" -v b="$bw" 'BEGIN { printf "%.0f", 100 * a / b }')"
  done
done
echo "(torch runs f32 weights in both rows; ratio = ragtune / torch, higher is better)"
