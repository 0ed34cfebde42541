#!/usr/bin/env bash
# bench_train_scaling.sh — the 1 -> N process step time of data-parallel training: the same
# model, data, seed and global batch trained by one process and by `mpirun -np N` (each process
# with the same thread count), the median step time of each from train_log.jsonl (steps after
# the first two), the speedup t1/tN and the efficiency speedup/N, and the gradient size each
# step all-reduces (trainable parameters x 4 bytes). The N-process run goes twice: with the
# all-reduce overlapping the backward pass in buckets (RT_ALLREDUCE_BUCKET_MB, --bucket-mb,
# default 4) and with one all-reduce after it (RT_ALLREDUCE_BUCKET_MB=0); both train the same
# model (bit for bit with 2 processes), so the step time difference is the overlap's.
# docs/scaling.md uses these numbers.
#
# Usage: bench/bench_train_scaling.sh [BUILD_DIR] [--np N] [--threads T] [--steps S]
#   [--bucket-mb MB]  (defaults: build, 2, 1, 20, 4). One machine: give N x T <= its cores, or the processes share
#   cores and the efficiency measures the sharing. Over machines: set MPIRUN_ARGS, e.g.
#   MPIRUN_ARGS="--hostfile hosts --map-by node" (data and paths must exist on every machine).
# Model: llama, 4 layers, n_embd 256, 8 heads, n_ff 688, seq 128, global batch 16 (3.2M
# parameters with the byte-level vocabulary, 12.3 MiB of gradient); data: Debian's license texts (/usr/share/common-licenses).
set -euo pipefail
build=build
np=2
threads=1
steps=20
bucket_mb=4
while [ $# -gt 0 ]; do
    case "$1" in
        --np) np=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --steps) steps=$2; shift 2 ;;
        --bucket-mb) bucket_mb=$2; shift 2 ;;
        -*) echo "usage: $0 [BUILD_DIR] [--np N] [--threads T] [--steps S] [--bucket-mb MB]" >&2
            exit 2 ;;
        *) build=$1; shift ;;
    esac
done
ragtune="$build/ragtune"
[ -x "$ragtune" ] || { echo "no $ragtune (build first)" >&2; exit 1; }
command -v mpirun > /dev/null || { echo "mpirun not found (Debian: openmpi-bin)" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat /usr/share/common-licenses/* > "$dir/data.txt"
cfg=(--layers 4 --embd 256 --heads 8 --kv-heads 8 --ff 688 --seq-len 128 --batch 16
     --steps "$steps" --lr 1e-3 --threads "$threads" --val-fraction 0 --seed 1)
[ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads

"$ragtune" train --data "$dir/data.txt" --out "$dir/one" "${cfg[@]}" 2> "$dir/one.err" > /dev/null \
    || { cat "$dir/one.err"; exit 1; }
# many: the all-reduce overlapping backward in buckets; after: one all-reduce after backward
for run in many after; do
    mb=$bucket_mb
    [ "$run" = after ] && mb=0
    # shellcheck disable=SC2086
    RT_ALLREDUCE_BUCKET_MB=$mb mpirun --bind-to none ${MPIRUN_ARGS:-} -np "$np" \
        -x OMP_NUM_THREADS -x OPENBLAS_NUM_THREADS -x RT_ALLREDUCE_BUCKET_MB \
        "$ragtune" train --data "$dir/data.txt" --out "$dir/$run" "${cfg[@]}" \
        2> "$dir/$run.err" > /dev/null || { cat "$dir/$run.err"; exit 1; }
done
params=$(grep -o '[0-9]* trainable parameters' "$dir/one.err" | head -1 | cut -d' ' -f1)
buckets=$(grep -o 'in [0-9]* buckets' "$dir/many.err" | head -1 | cut -d' ' -f2)
python3 - "$dir/one/train_log.jsonl" "$dir/many/train_log.jsonl" "$dir/after/train_log.jsonl" \
    "$np" "$threads" "${params:-0}" "$bucket_mb" "${buckets:-?}" <<'PY'
import json, statistics, sys
def step_times(path):
    e = [json.loads(l)["elapsed"] for l in open(path)]
    return statistics.median(b - a for a, b in zip(e[2:], e[3:]))
t1, tn, ta = (step_times(p) for p in sys.argv[1:4])
n, threads, params = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
mb, buckets = sys.argv[7], sys.argv[8]
print(f"data-parallel training, global batch 16 x 128 tokens, {threads} thread(s) per process")
print(f"{'processes':>10} {'all-reduce':>34} {'step ms':>10} {'speedup':>8} {'efficiency':>10}")
print(f"{1:>10} {'-':>34} {t1 * 1e3:>10.1f} {1.0:>8.2f} {1.0:>10.2f}")
for label, t in ((f"overlapped, {buckets} buckets of >= {mb} MiB", tn), ("after backward", ta)):
    print(f"{n:>10} {label:>34} {t * 1e3:>10.1f} {t1 / t:>8.2f} {t1 / t / n:>10.2f}")
print(f"gradient all-reduced per step: {params} parameters, {params * 4 / 2**20:.1f} MiB; "
      f"overlap saves {(ta - tn) * 1e3:.1f} ms a step ({(ta - tn) / ta * 100:.1f}%)")
PY
