#!/usr/bin/env bash
# compare.sh — the head-to-head end to end at tiny scale: a definition collection, `qa generate`
# (train/test/update splits, unanswerable questions), a tiny model trained here, `compare` with
# every strategy (a few training steps each), the reports, the test split never in training
# data, resuming from the per-strategy cache, a failing strategy, `eval`, a spec file with named
# strategies and their own parameters (and bad specs), malformed QA lines and usage errors.
set -u
fail() { echo "FAIL: $*"; exit 1; }
: "${RAGTUNE:?}"
PY=${RT_PYTHON:-python3}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rt-compare-XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
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
    if not s["rag"]:  # closed-book: the generation's timings and counts reach the record
        assert m["latency"]["total_p50_s"] > 0 and m["latency"]["prompt_tokens_mean"] > 0, m["latency"]
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

# a strategy that fails (a missing adapter) is marked failed; the others finish, the report is
# written, and the run exits 1 naming the strategy and why -- unless --keep-going
printf '{"adapter_path": "%s/no-such-adapter", "strategies": ["base", "lora", "rag"], "min_score": null}\n' "$tmp" > spec.json
"$RAGTUNE" compare --spec spec.json --collection coll --qa qa.jsonl --model m/model --out out2 \
  "${opts[@]}" > t2.txt 2> e2.txt
[ $? -eq 1 ] || fail "compare with a failing strategy should exit 1"
grep -q "strategy lora failed: .*no-such-adapter" e2.txt || fail "the error names no strategy: $(tail -3 e2.txt)"
grep -q "1 of 3 strategies failed" e2.txt || fail "the error counts no failures: $(tail -3 e2.txt)"
grep -q "FAILED" t2.txt || fail "failed strategy not shown"
"$PY" -c '
import json; r = json.load(open("out2/report.json")); s = {x["name"]: x for x in r["strategies"]}
assert s["base"]["status"] == "ok" and s["lora"]["status"] == "failed" and s["lora"]["error"]
assert s["rag"]["status"] == "ok" and r["failed_strategies"] == ["lora"]
' || fail "failed strategy not recorded"
grep -q "lora failed" out2/report.md || fail "the Markdown report does not say lora failed"
"$RAGTUNE" compare --spec spec.json --collection coll --qa qa.jsonl --model m/model --out out2 \
  "${opts[@]}" --keep-going > t2.txt 2> /dev/null || fail "--keep-going: a failed strategy should exit 0"
grep -q "FAILED" t2.txt || fail "--keep-going: failed strategy not shown"
printf '{"adapter_path": "%s/no-such-adapter", "strategies": "lora", "keep_going": true}\n' "$tmp" > spec3.json
"$RAGTUNE" compare --spec spec3.json --collection coll --qa qa.jsonl --model m/model --out out2 \
  "${opts[@]}" > /dev/null 2>&1 || fail "keep_going in the spec: a failed strategy should exit 0"

# eval: one strategy, judged by a local model (the tiny one: its verdicts are noise, but every
# answerable question gets one or is counted as without a verdict)
"$RAGTUNE" eval --collection coll --qa qa.jsonl --model m/model --rag --out out3 --max-tokens 8 \
  --ctx 256 --max-questions 4 --judge m/model --json > e.json 2> /dev/null || fail "eval --rag"
"$PY" -c '
import json; r = json.load(open("e.json")); [s] = r["strategies"]
assert s["name"] == "rag" and s["status"] == "ok"
qs = s["metrics"]["questions"]
assert len(qs) == 4 and any(q["unanswerable"] for q in qs), qs  # evenly spaced: both kinds
m = s["metrics"]
assert m["judge"]["n"] + m["judge_no_verdict"] == m["n_answerable"], m
assert all(("judge" in q) != q["unanswerable"] or q["unanswerable"] for q in qs)
assert r["config"]["judge"] == "m/model"
' || fail "eval --rag --max-questions --judge"

# model-written questions from a local model (raw prompt): every chunk asked, kept or dropped
"$RAGTUNE" qa generate coll -o qm.jsonl --model m/model --kinds template,model --max-chunks 3 \
  --ctx 512 --unanswerable 0 --json > qm.json 2> /dev/null || fail "qa generate --model"
"$PY" -c '
import json; c = json.load(open("qm.json"))
assert c["model_asked"] == 3 and c["model"] + c["model_dropped"] == 3 and c["test"] >= 1, c
' || fail "qa generate --model counts: $(cat qm.json)"
"$RAGTUNE" qa generate coll -o qc.jsonl --kinds cloze --unanswerable 0 --json > qc.json 2> /dev/null ||
  fail "qa generate --kinds cloze"
"$PY" -c '
import json; c = json.load(open("qc.json")); assert c["cloze"] == c["questions"] == 16, c
qs = [json.loads(l) for l in open("qc.jsonl")]
q = [x for x in qs if x["doc"] == "foldoc:compiler"][0]
assert q["question"] == "compiler: A program that translates source code into ___." and q["answer"] == "machine code", q
' || fail "qa generate --kinds cloze: $(cat qc.json)"

# a spec file: two rag variants (the second refuses everything: min_score 1000), a LoRA with its own rank and steps, RAFT with its own P and
# distractors, global settings (decoding, price, seed); flags still override the spec
cat > spec2.json << 'EOF'
{"collection": "coll", "qa": "qa.jsonl", "model": "m/model", "seed": 3, "cpu_hour_price": 0.5,
 "decoding": {"max_tokens": 8, "n_ctx": 1024}, "steps": 2, "seq_len": 64, "batch": 2, "rank": 2,
 "strategy": [
  {"name": "rag-k1", "kind": "rag", "search": "bm25", "k": 1, "min_score": null},
  {"name": "rag-k3", "kind": "rag", "k": 3, "min_score": 1000},
  {"name": "lora-r4", "kind": "lora", "rank": 4, "steps": 3},
  {"name": "raft-p1", "kind": "raft", "oracle_p": 1.0, "distractors": 2, "steps": 2}
 ]}
EOF
"$RAGTUNE" compare --spec spec2.json --out out4 --threads 2 --bootstrap 100 --heldout corpus.txt \
  > t4.txt 2> err4.txt || fail "compare --spec: $(tail -5 err4.txt)"
grep -q "rag-k1" t4.txt && grep -q "rag-k3" t4.txt || fail "the table does not name both rag variants"
grep -q "rag-k1" out4/report.md && grep -q "rag-k3" out4/report.html || fail "reports do not name the variants"
"$PY" - << 'PYEOF' || fail "spec report checks"
import json, glob
r = json.load(open("out4/report.json"))
s = {x["name"]: x for x in r["strategies"]}
assert list(s) == ["rag-k1", "rag-k3", "lora-r4", "raft-p1"], list(s)
for x in s.values():
    assert x["status"] == "ok", (x["name"], x.get("error"))
assert s["rag-k1"]["kind"] == "rag" and s["rag-k3"]["kind"] == "rag"
assert s["rag-k1"]["metrics"]["retrieval"]["k"] == 1 and s["rag-k3"]["metrics"]["retrieval"]["k"] == 3
for q in s["rag-k1"]["metrics"]["questions"]:
    assert len(q["retrieved"]) <= 1, q
for q in s["rag-k3"]["metrics"]["questions"]:
    assert len(q["retrieved"]) <= 3 and q["abstained"] and q["prompt_tokens"] == 0, q
assert s["rag-k1"]["metrics"]["abstention_rate"] < 1 == s["rag-k3"]["metrics"]["abstention_rate"]
assert s["lora-r4"]["training"]["steps"] == 3 and s["lora-r4"]["training"]["lora_rank"] == 4
assert s["lora-r4"]["params"] == {"rank": 4, "steps": 3}
c = r["config"]
assert c["seed"] == 3 and c["decoding"]["max_tokens"] == 8 and c["decoding"]["n_ctx"] == 1024
assert c["strategy_params"]["raft-p1"]["distractors"] == 2
assert s["rag-k1"]["cost"]["cpu_hour_price"] == 0.5
# RAFT data (rt_raft_build): P = 1 keeps the oracle in every example, 2 distractors + oracle
[raft] = glob.glob("out4/train-raft*/train.jsonl")
lines = [json.loads(l) for l in open(raft)]
assert lines
for ex in lines:
    assert "[3]" in ex["prompt"] and "[4]" not in ex["prompt"], ex["prompt"]
    assert ex["completion"].rstrip().endswith("]") and "do not contain" not in ex["completion"], ex
# a LoRA whose settings differ from the spec's trains in its own directory
assert glob.glob("out4/train-lora-*/adapter"), glob.glob("out4/train-*")
PYEOF
# --strategies selects spec strategies by name, and kinds
"$RAGTUNE" compare --spec spec2.json --out out4 --strategies rag-k3,base --threads 2 --bootstrap 100 \
  --heldout corpus.txt --json > j5.json 2> /dev/null || fail "compare --spec --strategies"
"$PY" -c '
import json; r = json.load(open("j5.json")); s = [x["name"] for x in r["strategies"]]
assert s == ["rag-k3", "base"], s
assert r["strategies"][0].get("cached") is True  # same settings: from the cache
' || fail "--strategies with a spec"
# bad specs: exit 2 with the file, the strategy and the field named
bad_spec() { # $1 JSON, $2 expected text
  printf '%s\n' "$1" > bad.json
  "$RAGTUNE" compare --spec bad.json --collection coll --qa qa.jsonl --model m/model --out o6 \
    > /dev/null 2> e6.txt
  [ $? -eq 2 ] || fail "bad spec $1 should exit 2"
  grep -qF "$2" e6.txt || fail "bad spec $1: message $(cat e6.txt)"
}
bad_spec '{"strategy": [{"name": "a", "kind": "rag"}, {"name": "b", "kind": "rag", "kk": 3}]}' \
  'bad.json: strategy 2 ("b"): unknown field "kk"'
bad_spec '{"strategy": [{"name": "r", "kind": "rag", "rank": 8}]}' \
  'strategy 1 ("r"): field "rank" does not apply to kind rag'
bad_spec '{"strategy": [{"name": "x", "kind": "raft", "oracle_p": 2}]}' \
  'strategy 1 ("x"): field "oracle_p" must be in [0, 1]'
bad_spec '{"strategy": [{"name": "x", "kind": "lorax"}]}' 'strategy 1 ("x"): field "kind"'
bad_spec '{"strategy": [{"name": "x", "kind": "rag"}, {"name": "x", "kind": "base"}]}' \
  'strategy 2: field "name": "x" is already'
bad_spec '{"decoding": {"max_tokens": "many"}}' '"decoding" must be'
bad_spec '{"strategy": [{"name": "x", "kind": "rag"}], "strategies": "y"}' '"y" is neither'
printf '[[strategy]]\nname = "a"\n' > spec.toml
"$RAGTUNE" compare --spec spec.toml --collection coll --qa qa.jsonl --model m/model --out o6 \
  > /dev/null 2> e6.txt
[ $? -eq 2 ] && grep -q "TOML specs are not supported" e6.txt || fail "a TOML spec: $(cat e6.txt)"

# bad input
"$RAGTUNE" compare --qa qa.jsonl --model m/model --out o > /dev/null 2>&1; [ $? -eq 2 ] || fail "missing --collection should exit 2"
"$RAGTUNE" compare --collection coll --qa qa.jsonl --model m/model --out o --strategies base,bogus > /dev/null 2>&1
[ $? -eq 2 ] || fail "unknown strategy should exit 2"
echo "garbage" > bad.jsonl
"$RAGTUNE" eval --collection coll --qa bad.jsonl --model m/model --out o > /dev/null 2>&1; [ $? -eq 1 ] || fail "a QA file without a good line should exit 1"
"$RAGTUNE" qa generate coll > /dev/null 2>&1; [ $? -eq 2 ] || fail "qa generate without -o should exit 2"
echo ok
