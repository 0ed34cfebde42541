#!/usr/bin/env bash
# mpi_errors.sh — runtime errors under mpirun: an error every process meets (a missing data
# file, a corrupt model, a bad RT_ALLREDUCE_BUCKET_MB) is printed once, by rank 0; an error only
# one process other than rank 0 meets (its data file missing, its model corrupt, its shard of a
# collection corrupt) reaches rank 0 and is printed once as "process R of N: ..."; in both cases
# every process exits 1 and none waits forever in a collective (each run is under `timeout`, so
# a hang fails the test). Processes get their own arguments through mpirun's MPMD form
# (`-np 1 A : -np 1 B`), and each records its exit code. Also: processes that load different
# models (the collectives' sizes would differ) stop with one error instead of an MPI abort.
# Only what every process meets alike is found by all at once; the others learn of a failure at
# the run's next agreement (the library's, or the last one, when the command ends: cli/dist.c).
set -euo pipefail
: "${RAGTUNE:?}" "${RT_PYTHON:?}" "${RT_SOURCE_DIR:?}"
source "$RT_SOURCE_DIR/tests/cli/lib/mpi.bash"
export RAGTUNE RC_DIR="$t/rc"
mkdir -p "$RC_DIR"
cat > "$t/rank.sh" <<'EOF'
#!/bin/sh
# one process of the run: ragtune with this process's arguments; its exit code to $RC_DIR (and
# 0 to mpirun, which would otherwise stop the others at the first failed exit, before they tell)
"$RAGTUNE" "$@"
echo "$?" > "$RC_DIR/rc.$OMPI_COMM_WORLD_RANK"
EOF

for i in $(seq 1 60); do echo "line $i: the quick brown fox $((i % 7)) jumps"; done > "$t/corpus.txt"
for i in $(seq 1 12); do echo "{\"prompt\":\"Q$i?\",\"completion\":\" A$i.\"}"; done > "$t/qa.jsonl"
tiny=(--layers 1 --embd 16 --heads 2 --kv-heads 2 --ff 32 --seq-len 16 --batch 6 --threads 1
      --steps 2 --eval-every 0 --seed 1)
"$RAGTUNE" train --data "$t/corpus.txt" --out "$t/base" "${tiny[@]}" > /dev/null 2>&1
cp -r "$t/base/model" "$t/corrupt"
head -c 200 "$t/base/model/model.safetensors" > "$t/corrupt/model.safetensors"
for r in 0 1 2; do
    mkdir -p "$t/docs$r"
    for i in 1 2 3; do echo "note $r $i about memory pages and disks" > "$t/docs$r/d$i.txt"; done
    "$RAGTUNE" ingest "$t/shard$r" "$t/docs$r" > /dev/null 2>&1
done
head -c 4096 /dev/urandom > "$t/shard1/collection.db" # shard 1 alone is corrupt

# expect NAME N PATTERN ARGS-OF-RANK-0 [: ARGS-OF-RANK-1 ...]: the N processes (each with its
# own arguments, or all with rank 0's when no ':' follows) all exit 1 within the timeout, and the
# output holds exactly one error line, which matches PATTERN.
expect() {
    local name=$1 n=$2 pattern=$3
    shift 3
    local -a cmd=()
    local count=0
    if [[ " $* " == *" : "* ]]; then
        local -a args=()
        for a in "$@" ":"; do
            if [ "$a" = ":" ]; then
                [ $count -gt 0 ] && cmd+=(":")
                cmd+=(-np 1 sh "$t/rank.sh" "${args[@]}")
                args=()
                count=$((count + 1))
            else
                args+=("$a")
            fi
        done
    else
        cmd=(-np "$n" sh "$t/rank.sh" "$@")
        count=$n
    fi
    test "$count" -eq "$n" || { echo "$name: $count argument lists for $n processes"; exit 1; }
    rm -f "$RC_DIR"/rc.*
    set +e
    ASAN_OPTIONS="$mpi_asan" timeout 60 mpirun --oversubscribe --bind-to none "${cmd[@]}" \
        > "$t/out" 2>&1
    local rc=$?
    set -e
    test $rc -ne 124 || { echo "$name: hung (killed after 60 s)"; cat "$t/out"; exit 1; }
    for ((r = 0; r < n; r++)); do
        test "$(cat "$RC_DIR/rc.$r" 2> /dev/null)" = 1 \
            || { echo "$name: process $r exit '$(cat "$RC_DIR/rc.$r" 2> /dev/null)'"; cat "$t/out"; exit 1; }
    done
    local lines
    lines=$(grep -c '^ragtune ' "$t/out" || true)
    test "$lines" -eq 1 || { echo "$name: $lines error lines, not 1"; cat "$t/out"; exit 1; }
    grep '^ragtune ' "$t/out" | grep -Eq "$pattern" \
        || { echo "$name: the error does not match '$pattern'"; cat "$t/out"; exit 1; }
}

run=(--out "$t/run" "${tiny[@]}")
# every process meets it: printed once, as rank 0 has it
expect "missing data everywhere" 2 '^ragtune train: .*nope\.txt: cannot open' \
    train --data "$t/nope.txt" "${run[@]}"
expect "corrupt model everywhere" 3 '^ragtune finetune: .*corrupt' \
    finetune --model "$t/corrupt" --data "$t/qa.jsonl" "${run[@]}"
RT_ALLREDUCE_BUCKET_MB=lots expect "bad bucket size" 3 '^ragtune train: RT_ALLREDUCE_BUCKET_MB=lots' \
    train --data "$t/corpus.txt" "${run[@]}"
# one process other than rank 0 meets it: rank 0 prints it, naming that process
expect "missing data on rank 1" 2 '^ragtune train: process 1 of 2: .*nope\.txt: cannot open' \
    train --data "$t/corpus.txt" "${run[@]}" : train --data "$t/nope.txt" "${run[@]}"
expect "corrupt model on rank 2" 3 '^ragtune finetune: process 2 of 3: .*corrupt' \
    finetune --model "$t/base/model" --data "$t/qa.jsonl" "${run[@]}" : \
    finetune --model "$t/base/model" --data "$t/qa.jsonl" "${run[@]}" : \
    finetune --model "$t/corrupt" --data "$t/qa.jsonl" "${run[@]}"
# a different model on one process: the collectives' sizes would not match; every process sees it
"$RAGTUNE" train --data "$t/corpus.txt" --out "$t/other" "${tiny[@]}" --layers 2 > /dev/null 2>&1
expect "another model on rank 1" 2 '^ragtune finetune: the processes do not hold the same model' \
    finetune --model "$t/base/model" --data "$t/qa.jsonl" "${run[@]}" : \
    finetune --model "$t/other/model" --data "$t/qa.jsonl" "${run[@]}"
expect "corrupt shard on rank 1" 3 '^ragtune search: process 1 of 3: .*shard1' \
    search "$t/shard{rank}" "memory"
expect "corrupt shard on rank 1 (ask)" 2 '^ragtune ask: process 1 of 2: .*shard1' \
    ask "$t/shard{rank}" "memory" --model "$t/base/model" --max-tokens 2
echo "mpi_errors: ok"
