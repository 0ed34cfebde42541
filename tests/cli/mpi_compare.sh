#!/usr/bin/env bash
# mpi_compare.sh — `compare` and `eval` under mpirun equal the one-process run: the processes
# share every question set (test and update questions, round-robin) and train the fine-tuned
# strategies data-parallel, and rank 0 gathers one report. Checked on a tiny collection and
# model against the plain run's report.json: every strategy's metrics (answer scores, refusal,
# hallucination, retrieval, judge-free paired tests) and every question's record (answer, raw
# answer, retrieved documents, token counts) equal — decoding is greedy and answering a question
# does not depend on which process does it; LoRA training losses and the trained model's
# held-out perplexity within 1e-4 relative (the order of float sums differs over processes:
# mpi_train.sh; seen: 6e-10). Timings, costs and the
# recommendation (which weighs latency) are not compared. Also: `compare` over 2 processes
# with update documents, its rerun from the cache, `eval --rag` over 3 and `eval` over 2,
# and one error message (not one per process) for a usage error, a missing collection, a file
# only rank 0 reads, and a strategy that fails.
set -euo pipefail
: "${RAGTUNE:?}" "${RT_PYTHON:?}" "${RT_SOURCE_DIR:?}"
source "$RT_SOURCE_DIR/tests/cli/lib/mpi.bash"
cd "$t"

defs=(
    "router|A device that forwards packets between networks by their addresses."
    "scheduler|The part of a kernel that decides which process runs next."
    "heap|A region of memory from which a program allocates blocks at run time."
    "stack|Memory holding the local variables and return addresses of active calls."
    "pipe|A channel through which one process sends a stream of bytes to another."
    "inode|A record of a file system holding a file's size, owner and block addresses."
    "semaphore|A counter that processes use to wait for and signal shared resources."
    "paging|Moving fixed-size blocks of memory between main memory and disk."
    "swap|Disk space that holds memory pages the system moved out of main memory."
    "signal|A notification sent to a process to tell it that an event happened."
)
: > docs.jsonl
: > corpus.txt
for d in "${defs[@]}"; do
    printf '{"id":"doc:%s","text":"%s\\n\\n%s"}\n' "${d%%|*}" "${d%%|*}" "${d#*|}" >> docs.jsonl
done
for i in $(seq 1 12); do
    for d in "${defs[@]}"; do printf 'Question: What is %s?\nAnswer: %s\n\n' "${d%%|*}" "${d#*|}"; done
done >> corpus.txt
printf 'zygomorphic\nperambulate\n' > words.txt
"$RAGTUNE" ingest coll docs.jsonl > /dev/null 2>&1
"$RAGTUNE" qa generate coll -o qa.jsonl --wordlist words.txt --update-docs update.jsonl \
    --test-fraction 0.5 --unanswerable 2 --update-fraction 0.3 > /dev/null 2>&1
"$RAGTUNE" tokenizer train --vocab-size 300 corpus.txt -o tok.json > /dev/null 2>&1
"$RAGTUNE" train --data corpus.txt --tokenizer tok.json --layers 1 --embd 32 --heads 2 \
    --kv-heads 2 --ff 64 --seq-len 64 --batch 4 --steps 8 --lr 3e-3 --out m --threads 1 \
    > /dev/null 2>&1

# --batch 6 splits over 1, 2 and 3 processes (the global batch, as in one process)
opts=(--collection coll --qa qa.jsonl --model m/model --steps 2 --seq-len 64 --batch 6 --rank 2
      --max-tokens 6 --ctx 256 --bootstrap 100 --threads 1 --heldout corpus.txt --min-score none)

same_report() { # same_report ONE.json MANY.json: equal apart from timings
    "$RT_PYTHON" - "$1" "$2" <<'PY'
import json, math, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
TIMES = {"ttft_s", "total_s", "wall_s", "latency", "cost", "peak_rss_bytes", "cached",
         "trainer_memory_bytes", "adapt_s", "data", "dir", "tokens_per_s"}
# what the trained weights give: within summation order's reach (1e-4 relative)
TRAINED = {"final_loss", "loss_curve", "ppl_after", "ppl_ratio"}
def close(x, y, rel):
    return x == y or (x is not None and y is not None and abs(x - y) <= rel * max(1.0, abs(x)))
def same(x, y, path, rel=0.0):
    if isinstance(x, dict):
        assert isinstance(y, dict) and set(x) - TIMES == set(y) - TIMES, (path, set(x) ^ set(y))
        for k in x:
            if k not in TIMES:
                same(x[k], y[k], f"{path}.{k}", 1e-4 if k in TRAINED else rel)
    elif isinstance(x, list):
        assert isinstance(y, list) and len(x) == len(y), (path, len(x), len(y))
        for i, (p, q) in enumerate(zip(x, y)):
            same(p, q, f"{path}[{i}]", rel)
    elif isinstance(x, float) or isinstance(y, float):
        assert close(x, y, rel), (path, x, y)
    else:
        assert x == y, (path, x, y)
sa, sb = a["strategies"], b["strategies"]
assert [s["name"] for s in sa] == [s["name"] for s in sb]
for x, y in zip(sa, sb):
    assert x["status"] == "ok" == y["status"], (x.get("error"), y.get("error"))
    same(x, y, x["name"])
same(a["paired"], b["paired"], "paired")
same(a["qa"], b["qa"], "qa")
n = sum(len(s["metrics"]["questions"]) for s in sa)
print(f"same report: {len(sa)} strategies, {n} answers")
PY
}

# compare: base, rag, lora (trained data-parallel), lora+rag (the same run), with adaptability
strategies=(--strategies base,rag,lora,lora+rag --update-docs update.jsonl)
"$RAGTUNE" compare "${opts[@]}" "${strategies[@]}" --out one > /dev/null 2> err ||
    { cat err; exit 1; }
mpi 2 compare "${opts[@]}" "${strategies[@]}" --out two > two.txt 2> err || { cat err; exit 1; }
for f in report.json report.md report.html; do test -s "two/$f"; done
grep -q "reports: two/report.json" two.txt
same_report one/report.json two/report.json
"$RT_PYTHON" - <<'PY'
import json
r = json.load(open("two/report.json"))
s = {x["name"]: x for x in r["strategies"]}
assert s["lora"]["training"]["steps"] == 2 and len(s["lora"]["training"]["loss_curve"]) == 2
assert s["rag"]["adaptability"]["after"] is not None and s["lora"]["forgetting"]["ppl_after"] > 0
PY
# the rerun finds every strategy in rank 0's cache; nobody answers again
mpi 2 compare "${opts[@]}" "${strategies[@]}" --out two --json > again.json 2> err ||
    { cat err; exit 1; }
test "$(grep -o '"cached": true' again.json | wc -l)" -eq 4
same_report one/report.json again.json

# eval: question batches over 3 processes (RAG) and 2 (closed-book)
"$RAGTUNE" eval "${opts[@]}" --rag --out e1 > /dev/null 2> err || { cat err; exit 1; }
mpi 3 eval "${opts[@]}" --rag --out e3 > /dev/null 2> err || { cat err; exit 1; }
same_report e1/report.json e3/report.json
"$RAGTUNE" eval "${opts[@]}" --out b1 > /dev/null 2> err || { cat err; exit 1; }
mpi 2 eval "${opts[@]}" --out b2 > /dev/null 2> err || { cat err; exit 1; }
same_report b1/report.json b2/report.json

# errors are said once, by rank 0, with the exit code of a single process
set +e
mpi 2 compare "${opts[@]}" --out x --bogus > /dev/null 2> err
rc=$?
test $rc -eq 2 || { echo "a usage error: exit $rc"; cat err; exit 1; }
test "$(grep -c "unknown option '--bogus'" err)" -eq 1 || { echo "said $(cat err)"; exit 1; }
mpi 3 search "coll{rank}" memory -k 0 > /dev/null 2> err
test "$(grep -c "bad value '0' for -k" err)" -eq 1 || { echo "said $(cat err)"; exit 1; }
mpi 2 eval "${opts[@]}" --collection nowhere --out x > /dev/null 2> err
rc=$?
test $rc -eq 1 || { echo "a missing collection: exit $rc"; cat err; exit 1; }
test "$(grep -c "^ragtune eval: .*nowhere" err)" -eq 1 || { echo "said $(cat err)"; exit 1; }
# rank 0 alone reads the held-out text: its failure stops the others too (no process hangs)
mpi 2 eval "${opts[@]}" --heldout nothing.txt --out x > /dev/null 2> err
rc=$?
test $rc -eq 1 || { echo "a missing held-out text: exit $rc"; cat err; exit 1; }
test "$(grep -c "nothing.txt" err)" -eq 1 || { echo "said $(cat err)"; exit 1; }
# a strategy that fails on every process (a missing adapter): reported once, in the report too
mpi 2 eval "${opts[@]}" --adapter no-adapter --out f2 > /dev/null 2> err
rc=$?
test $rc -eq 1 || { echo "a failing strategy: exit $rc"; cat err; exit 1; }
test "$(grep -c "^ragtune eval: .*strategy lora failed: .*no-adapter" err)" -eq 1 ||
    { echo "said $(cat err)"; exit 1; }
grep -q '"status": "failed"' f2/report.json
set -e
echo "mpi_compare: ok"
