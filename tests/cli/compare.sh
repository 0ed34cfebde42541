#!/usr/bin/env bash
# compare.sh — the head-to-head end to end at tiny scale: a definition collection, `qa generate`
# (train/test/update splits, unanswerable questions), a tiny model trained here, `compare` with
# every strategy (a few training steps each), the reports, the test split never in training
# data, resuming from the per-strategy cache, a failing strategy, `eval`, malformed QA lines and
# usage errors.
set -u
fail() { echo "FAIL: $*"; exit 1; }
: "${RAGTUNE:?}"
PY=${RT_PYTHON:-python3}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rt-compare-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
defs=(
  "compiler|A program that translates source code into machine code."
  "interpreter|A program that executes source code directly, one statement at a time."
  "linker|A program that combines object files into a single executable file."
  "kernel|The core of an operating system that manages memory, processes and devices."
  "shell|A command interpreter that reads commands typed by the user."
  "debugger|A tool that lets a programmer run a program step by step and inspect its state."
  "assembler|A program that translates assembly language into machine code."
  "editor|A program for creating and changing text files."
  "loader|The part of an operating system that puts programs into memory to run them."
  "daemon|A background process that waits for requests and handles them."
  "cache|A small fast memory that keeps copies of recently used data."
  "socket|An endpoint for sending and receiving data across a network."
  "mutex|A lock that lets only one thread at a time use a shared resource."
  "bytecode|Compact instructions run by a virtual machine rather than by hardware."
  "checksum|A small value computed from data to detect errors in it."
  "firmware|Software stored in read-only memory that controls a hardware device."
)
: > docs.jsonl
: > corpus.txt
for d in "${defs[@]}"; do
  t=${d%%|*}; x=${d#*|}
  printf '{"id":"foldoc:%s","text":"%s\\n\\n<programming> %s\\n\\n(1999-01-01)"}\n' "$t" "$t" "$x" >> docs.jsonl
done
for i in $(seq 1 20); do
  for d in "${defs[@]}"; do printf 'Question: What is %s?\nAnswer: %s\n\n' "${d%%|*}" "${d#*|}"; done
done >> corpus.txt
printf 'zygomorphic\nquixotically\nperambulate\nobfuscation\n' > words.txt

"$RAGTUNE" ingest coll docs.jsonl > /dev/null 2>&1 || fail "ingest"
"$RAGTUNE" qa generate coll -o qa.jsonl --wordlist words.txt --update-docs update.jsonl \
  --test-fraction 0.25 --unanswerable 2 --update-fraction 0.5 --json > gen.json 2> /dev/null ||
  fail "qa generate"
grep -q '"test":6' gen.json || fail "qa generate counts: $(cat gen.json)"
grep -q '"update":2' gen.json || fail "qa generate update split: $(cat gen.json)"
[ "$(wc -l < update.jsonl)" -eq 2 ] || fail "two changed documents expected"
grep -q '"unanswerable":true' qa.jsonl || fail "no unanswerable question"
"$RAGTUNE" qa check qa.jsonl --collection coll | grep -q "0 with evidence missing" || fail "qa check"

"$RAGTUNE" tokenizer train --vocab-size 400 corpus.txt -o tok.json > /dev/null 2>&1 || fail "tokenizer"
"$RAGTUNE" train --data corpus.txt --tokenizer tok.json --layers 2 --embd 32 --heads 2 --kv-heads 2 \
  --ff 64 --seq-len 64 --batch 4 --steps 10 --lr 3e-3 --out m > /dev/null 2>&1 || fail "train"

# a malformed line and a question whose evidence is not in the collection
cp qa.jsonl qa2.jsonl
echo '{"question": "broken' >> qa2.jsonl
echo '{"id":"x1","question":"What is nothing?","answer":"n","doc":"foldoc:nowhere","split":"test"}' >> qa2.jsonl
opts=(--steps 2 --seq-len 64 --batch 2 --max-tokens 8 --ctx 256 --rank 2 --heldout corpus.txt
      --threads 2 --bootstrap 200)
all=base,rag,ft,lora,ft+rag,lora+rag,raft
"$RAGTUNE" compare --collection coll --qa qa2.jsonl --model m/model --strategies $all \
  --update-docs update.jsonl --adapt-retrain --out out "${opts[@]}" > table.txt 2> err.txt ||
  fail "compare: $(tail -5 err.txt)"
for f in report.json report.md report.html; do [ -s "out/$f" ] || fail "out/$f missing"; done
grep -Eq "Recommended:|No strategy answered any test question correctly" table.txt ||
  fail "no recommendation (or reason for none) in the table"
grep -q "1 malformed QA line" table.txt || fail "skipped line not reported"
grep -q "<svg" out/report.html || fail "no chart in the HTML report"
grep -q "## Recommendation" out/report.md || fail "no recommendation in the Markdown report"
"$PY" - "$all" << 'PYEOF' || fail "report.json checks"
import json, math, sys
r = json.load(open("out/report.json"))
names = [s["name"] for s in r["strategies"]]
assert names == sys.argv[1].split(","), names
assert r["qa"]["skipped_lines"] == 1 and r["qa"]["evidence_missing"] == 1, r["qa"]
for s in r["strategies"]:
    assert s["status"] == "ok", (s["name"], s.get("error"))
    m = s["metrics"]
    for k in ("em", "f1", "contains"):
        for f in ("mean", "lo", "hi"):
            assert math.isfinite(m[k][f]), (s["name"], k, f)
        assert m[k]["lo"] <= m[k]["mean"] <= m[k]["hi"]
    assert m["n_questions"] == 7 and len(m["questions"]) == 7
    assert math.isfinite(m["latency"]["total_p50_s"]) and math.isfinite(m["hallucination_rate"])
    assert s["adaptability"]["before"] is not None
    if s["rag"]:
        assert "retrieval" in m and s["adaptability"]["after"] is not None
    if s["training"]:
        assert s["training"]["steps"] == 2 and s["training"]["test_questions_in_training"] == 0
        assert math.isfinite(s["forgetting"]["ppl_after"])
        assert len(s["training"]["loss_curve"]) == 2
# a strategy is recommended exactly when some strategy answered something right
any_right = any(s["metrics"]["contains"]["mean"] > 0 for s in r["strategies"])
assert (r["recommendation"]["strategy"] in names) if any_right else (r["recommendation"]["strategy"] is None)
assert len(r["paired"]) == 2 * 21
assert r["config"]["seed"] == 1
PYEOF
# the test split is never trained on
"$PY" - << 'PYEOF' || fail "a test question is in the training data"
import json, glob
test = [json.loads(l)["question"] for l in open("qa2.jsonl") if '"split":"test"' in l]
files = glob.glob("out/train-*/train.jsonl")
assert len(files) == 5, files
for f in files:
    text = open(f).read()
    for q in test:
        assert "Question: " + q + "\\n" not in text and q + "\n" not in text, (f, q)
PYEOF

# resuming: every strategy comes from the cache
"$RAGTUNE" compare --collection coll --qa qa2.jsonl --model m/model --strategies $all \
  --update-docs update.jsonl --adapt-retrain --out out "${opts[@]}" --json > again.json 2> /dev/null ||
  fail "compare again"
[ "$(grep -o '"cached": true' again.json | wc -l)" -eq 7 ] || fail "cached results not reused"

# a strategy that fails (a missing adapter) is marked failed; the others finish
printf '{"adapter_path": "%s/no-such-adapter", "strategies": ["base", "lora", "rag"], "min_score": null}\n' "$tmp" > spec.json
"$RAGTUNE" compare --spec spec.json --collection coll --qa qa.jsonl --model m/model --out out2 \
  "${opts[@]}" > t2.txt 2> /dev/null || fail "compare with a failing strategy should finish"
grep -q "FAILED" t2.txt || fail "failed strategy not shown"
"$PY" -c '
import json; r = json.load(open("out2/report.json")); s = {x["name"]: x for x in r["strategies"]}
assert s["base"]["status"] == "ok" and s["lora"]["status"] == "failed" and s["lora"]["error"]
' || fail "failed strategy not recorded"

# eval: one strategy
"$RAGTUNE" eval --collection coll --qa qa.jsonl --model m/model --rag --out out3 --max-tokens 8 \
  --ctx 256 --max-questions 4 --json > e.json 2> /dev/null || fail "eval --rag"
"$PY" -c '
import json; r = json.load(open("e.json")); [s] = r["strategies"]
assert s["name"] == "rag" and s["status"] == "ok"
qs = s["metrics"]["questions"]
assert len(qs) == 4 and any(q["unanswerable"] for q in qs), qs  # evenly spaced: both kinds
' || fail "eval --rag --max-questions"

# bad input
"$RAGTUNE" compare --qa qa.jsonl --model m/model --out o > /dev/null 2>&1; [ $? -eq 2 ] || fail "missing --collection should exit 2"
"$RAGTUNE" compare --collection coll --qa qa.jsonl --model m/model --out o --strategies base,bogus > /dev/null 2>&1
[ $? -eq 2 ] || fail "unknown strategy should exit 2"
echo "garbage" > bad.jsonl
"$RAGTUNE" eval --collection coll --qa bad.jsonl --model m/model --out o > /dev/null 2>&1; [ $? -eq 1 ] || fail "a QA file without a good line should exit 1"
"$RAGTUNE" qa generate coll > /dev/null 2>&1; [ $? -eq 2 ] || fail "qa generate without -o should exit 2"
echo ok
