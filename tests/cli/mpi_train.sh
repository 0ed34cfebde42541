#!/usr/bin/env bash
# mpi_train.sh — data-parallel training under mpirun equals single-process training: a tiny
# llama trained from scratch (2 and 3 processes) and LoRA-finetuned with dropout (2 processes)
# with the same global batch and seed log the same loss curve, and a run stopped and resumed
# from its checkpoint under mpirun continues it; the gradient all-reduce overlapping backward in
# buckets gives the same weights as one all-reduce after it (2 processes: bit for bit). Plus the errors: a batch that does not split
# over the processes (exit 1), a command that does not run distributed (exit 2).
#
# Tolerance: 1e-4 relative on every logged loss, grad norm and validation loss. The processes
# compute the same sums in another order (each sums its rows, then MPI sums the processes), so
# gradients may differ from one process's in the last float bits (~1e-7 relative) and that can
# grow over the steps; on this model no difference shows at the log's precision (6 decimals;
# the script prints the largest). 1e-4 leaves room for other BLAS builds while catching real
# mistakes: a gradient not scaled by the process's token share, or scaled by 1/N instead, fails
# at step 1 (grad norm off by 2x and by 5e-3 relative; both checked by hand).
set -euo pipefail
: "${RAGTUNE:?}" "${RT_PYTHON:?}" "${RT_SOURCE_DIR:?}"
source "$RT_SOURCE_DIR/tests/cli/lib/mpi.bash"
dir=$t
for i in $(seq 1 200); do echo "line $i: the quick brown fox $((i * 7 % 13)) jumps over the lazy dog"; done > "$dir/corpus.txt"
for i in $(seq 1 48); do echo "{\"prompt\":\"Q$i?\",\"completion\":\" A$((i * 3)).\"}"; done > "$dir/qa.jsonl"

tiny=(--layers 2 --embd 32 --heads 4 --kv-heads 2 --ff 64 --seq-len 32 --batch 6 --accum 2
      --threads 1 --lr 3e-3 --eval-every 4 --eval-batches 2 --seed 7)

# same_curve A B: the train_log.jsonl of two runs agree step by step within 1e-4 relative
same_curve() {
    "$RT_PYTHON" - "$1/train_log.jsonl" "$2/train_log.jsonl" <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert len(a) == len(b) and a, f"{len(a)} vs {len(b)} steps"
worst = 0.0
for x, y in zip(a, b):
    assert x["step"] == y["step"] and x["tokens"] == y["tokens"], (x, y)
    for key in ("loss", "grad_norm", "val_loss"):
        if key in x or key in y:
            u, v = x[key], y[key]
            assert abs(u - v) <= 1e-4 * max(abs(u), abs(v)), f"step {x['step']} {key}: {u} vs {v}"
            worst = max(worst, abs(u - v) / max(abs(u), abs(v), 1e-30))
print(f"same curve over {len(a)} steps (largest relative difference {worst:.2e})")
PY
}

# full training from scratch: 1, 2 and 3 processes
"$RAGTUNE" train --data "$dir/corpus.txt" --out "$dir/one" "${tiny[@]}" --steps 8 > /dev/null 2>&1
mpi 2 train --data "$dir/corpus.txt" --out "$dir/two" "${tiny[@]}" --steps 8 > "$dir/two.txt" 2>&1 \
    || { cat "$dir/two.txt"; exit 1; }
same_curve "$dir/one" "$dir/two"
test "$(grep -c 'final validation loss' "$dir/two.txt")" -eq 1 # rank 0 alone prints
test -f "$dir/two/model/model.safetensors"
mpi 3 train --data "$dir/corpus.txt" --out "$dir/three" "${tiny[@]}" --steps 8 > /dev/null 2>&1
same_curve "$dir/one" "$dir/three"

# The all-reduce overlapping backward, in small buckets (one per layer here, started as backward
# finishes the layer, with accumulation over 2 micro-batches), against one all-reduce after
# backward (RT_ALLREDUCE_BUCKET_MB=0): with 2 processes every element is a sum of two floats,
# which does not depend on the order, so the trained weights are bit-for-bit the same. With 3,
# MPI's summation order follows the algorithm it picks (Open MPI's blocking all-reduce and its
# non-blocking one differ), so the curves are held to the single-process tolerance only.
RT_ALLREDUCE_BUCKET_MB=0.001 mpi 2 train --data "$dir/corpus.txt" --out "$dir/two_b" "${tiny[@]}" \
    --steps 8 > "$dir/two_b.txt" 2>&1 || { cat "$dir/two_b.txt"; exit 1; }
grep -q "gradients summed in 3 buckets" "$dir/two_b.txt" # the tail with layer 1, layer 0, embeddings
RT_ALLREDUCE_BUCKET_MB=0 mpi 2 train --data "$dir/corpus.txt" --out "$dir/two_0" "${tiny[@]}" \
    --steps 8 > "$dir/two_0.txt" 2>&1 || { cat "$dir/two_0.txt"; exit 1; }
grep -q "gradients summed after the backward pass" "$dir/two_0.txt"
cmp "$dir/two_b/model/model.safetensors" "$dir/two_0/model/model.safetensors"
cmp "$dir/two/model/model.safetensors" "$dir/two_0/model/model.safetensors"
same_curve "$dir/one" "$dir/two_b"
for b in 0.001 0; do
    RT_ALLREDUCE_BUCKET_MB=$b mpi 3 train --data "$dir/corpus.txt" --out "$dir/three_$b" \
        "${tiny[@]}" --steps 8 > /dev/null 2>&1
    same_curve "$dir/one" "$dir/three_$b"
done

# LoRA with dropout: each process draws the masks of its rows of the global batch
lora=(--lora --rank 4 --alpha 8 --dropout 0.1 --seq-len 32 --batch 6 --threads 1 --lr 3e-3
      --steps 6 --eval-every 3 --seed 3)
"$RAGTUNE" finetune --model "$dir/one/model" --data "$dir/qa.jsonl" --out "$dir/l1" "${lora[@]}" \
    > /dev/null 2>&1
mpi 2 finetune --model "$dir/one/model" --data "$dir/qa.jsonl" --out "$dir/l2" "${lora[@]}" \
    > /dev/null 2>&1
same_curve "$dir/l1" "$dir/l2"
test -f "$dir/l2/adapter/adapter_model.safetensors"
# LoRA's gradient (the adapters' alone) in per-layer buckets: the same adapter as one all-reduce
for b in 0.0001 0; do
    RT_ALLREDUCE_BUCKET_MB=$b mpi 2 finetune --model "$dir/one/model" --data "$dir/qa.jsonl" \
        --out "$dir/l2_$b" "${lora[@]}" --accum 2 > /dev/null 2>&1
done
cmp "$dir/l2_0.0001/adapter/adapter_model.safetensors" "$dir/l2_0/adapter/adapter_model.safetensors"

# stopped after 4 steps and resumed under mpirun: the uninterrupted curve
mpi 2 train --data "$dir/corpus.txt" --out "$dir/res" "${tiny[@]}" --steps 8 --save-every 2 \
    --stop-after 4 > /dev/null 2>&1
test "$(wc -l < "$dir/res/train_log.jsonl")" -eq 4
mpi 2 train --data "$dir/corpus.txt" --out "$dir/res" "${tiny[@]}" --steps 8 --resume \
    > /dev/null 2>&1
same_curve "$dir/one" "$dir/res"

set +e
mpi 4 train --data "$dir/corpus.txt" --out "$dir/bad" "${tiny[@]}" --steps 2 > "$dir/bad.txt" 2>&1
rc=$?
set -e
test $rc -eq 1 || { echo "batch 6 over 4 processes: exit $rc"; exit 1; }
grep -q "does not split over 4 processes" "$dir/bad.txt"
set +e
mpi 2 stats --collection "$dir/none" > "$dir/stats.txt" 2>&1
rc=$?
set -e
test $rc -eq 2 || { echo "stats under mpirun: exit $rc"; exit 1; }
grep -q "does not run over several processes" "$dir/stats.txt"
echo "mpi_train: ok"
