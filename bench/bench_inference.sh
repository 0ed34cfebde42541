#!/usr/bin/env bash
# bench_inference.sh — ragtune vs PyTorch inference on the same random Llama weights (~25M and
# ~125M parameters), same threads: prefill and decode tokens/s, peak RSS, and decode bandwidth
# against the machine's measured memory read bandwidth. Prints one table with the ratios.
#
# The machine may be shared, so the programs are run alternately (bandwidth probe, torch,
# ragtune f32, ragtune q8_0), --reps times, each with a warm-up run; the table shows medians.
# Both sides use OpenMP (libgomp) with the same environment, ragtune's (rt_runtime_setup): idle
# threads spin briefly (GOMP_SPINCOUNT=3000, ~60 us) and then sleep; spinning without bound was
# 5-10x slower on a machine shared with other work, for ragtune and torch alike, and sleeping at
# once costs decode a thread wake-up per parallel region. It is printed with the table.
#
# usage: bench/bench_inference.sh [BUILD_DIR] [--threads N] [--reps N] [--prompt N] [--gen N]
#        [--models DIR]   (where the benchmark weights are written once; default a temp dir)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-build}"
[ $# -gt 0 ] && shift
threads=2 reps=3 prompt=128 gen=64 models=""
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --reps) reps="$2"; shift 2 ;;
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
export OMP_NUM_THREADS="$threads"
# Both sides run in the environment ragtune's CLI gives itself (rt_runtime_setup: a short
# spin before sleeping unless chosen, OpenBLAS's core type matching the CPU level), as it reports it.
while IFS= read -r kv; do export "$kv"; done < <("$build/ragtune" version --runtime | tail -n +2)

field() { sed -n "s/^RESULT.*[ ]$2=\([0-9.]*\).*/\1/p; s/^RESULT $2=\([0-9.]*\).*/\1/p" <<<"$1" | head -1; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END {
  if (NR == 0) { print 0; exit } if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

declare -A acc
add() { acc[$1]="${acc[$1]:-} $2"; }
for ((r = 0; r < reps; r++)); do
  add bw "$(field "$("$bench" --bandwidth --threads "$threads")" bandwidth_gbs)"
  for m in llama_25m llama_125m; do
    out="$("$py" "$here/bench_inference_torch.py" run "$models/$m" --prompt "$prompt" --gen "$gen" \
           --runs 1 --threads "$threads")"
    for k in prefill_tps decode_tps rss_mb; do add "$m.torch.$k" "$(field "$out" $k)"; done
    for q in f32 q8_0; do
      out="$("$bench" --model "$models/$m" --quantize "$q" --prompt "$prompt" --gen "$gen" \
             --runs 1 --threads "$threads")"
      for k in prefill_tps decode_tps rss_mb decode_gbs decode_kv_gbs; do
        add "$m.$q.$k" "$(field "$out" $k)"
      done
    done
  done
done
get() { median <<<"${acc[$1]}"; }
bw="$(get bw)"
echo "memory read bandwidth (${threads} threads): ${bw} GB/s; OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset}; GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-unset}; OPENBLAS_THREAD_TIMEOUT=${OPENBLAS_THREAD_TIMEOUT:-unset}; OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "prompt ${prompt} tokens, ${gen} decoded tokens, ${threads} threads, median of ${reps} alternating runs"
printf "%-11s %-5s | %10s %10s %6s | %10s %10s %6s | %7s %7s | %8s %6s | %6s\n" \
  model dtype "prefill rt" "torch" ratio "decode rt" "torch" ratio "RSS rt" torch "dec GB/s" "of bw" \
  "w+kv"
for m in llama_25m llama_125m; do
  tp="$(get "$m.torch.prefill_tps")"; td="$(get "$m.torch.decode_tps")"; tr="$(get "$m.torch.rss_mb")"
  for q in f32 q8_0; do
    rp="$(get "$m.$q.prefill_tps")"; rd="$(get "$m.$q.decode_tps")"
    rr="$(get "$m.$q.rss_mb")"; rg="$(get "$m.$q.decode_gbs")"; rk="$(get "$m.$q.decode_kv_gbs")"
    share() { awk -v a="$1" -v b="$bw" 'BEGIN { printf "%.0f", 100 * a / b }'; }
    printf "%-11s %-5s | %10.1f %10.1f %6s | %10.1f %10.1f %6s | %7.0f %7.0f | %8.2f %5.0f%% | %5.0f%%\n" \
      "$m" "$q" "$rp" "$tp" "$(ratio "$rp" "$tp")" "$rd" "$td" "$(ratio "$rd" "$td")" \
      "$rr" "$tr" "$rg" "$(share "$rg")" "$(share "$rk")"
  done
done
echo "(torch runs f32 weights in both rows; ratio = ragtune / torch, higher is better;"
echo " dec GB/s = weight bytes read per token x decode tok/s, its share of the bandwidth in 'of bw';"
echo " w+kv: the share with the f32 KV cache each decode step also reads)"
